//! Compilation environments: typed variables, native functions and the clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cs_types::GoTime;

use crate::error::RuntimeError;
use crate::eval::CallContext;
use crate::types::Type;
use crate::value::Value;

/// Source of "now" for `now()` and time helpers; injectable so that tests and replays are
/// deterministic.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> GoTime;
}

/// The system clock (UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> GoTime {
        chrono::Utc::now().fixed_offset()
    }
}

/// A clock that always returns the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub GoTime);

impl Clock for FixedClock {
    fn now(&self) -> GoTime {
        self.0
    }
}

/// A clock moved by hand (tests, replays driven by log time).
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<GoTime>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: GoTime) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    /// Sets the time.
    pub fn set(&self, t: GoTime) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    /// Moves the time forward (or backward for a negative delta).
    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> GoTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A native function body: receives the evaluated arguments (already checked against the
/// chosen [`Signature`]) and may return values borrowed from them.
pub type NativeFn = dyn for<'a> Fn(&[Value<'a>], &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError>
    + Send
    + Sync;

/// A typed signature of a native function.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Fixed parameters.
    pub params: Vec<Type>,
    /// Type of the trailing variadic parameters, if any.
    pub variadic: Option<Type>,
    /// Return type.
    pub ret: Type,
}

impl Signature {
    /// A signature with fixed parameters.
    pub fn new(params: impl Into<Vec<Type>>, ret: Type) -> Self {
        Self {
            params: params.into(),
            variadic: None,
            ret,
        }
    }

    /// A signature with fixed parameters followed by any number of `rest` arguments.
    pub fn variadic(params: impl Into<Vec<Type>>, rest: Type, ret: Type) -> Self {
        Self {
            params: params.into(),
            variadic: Some(rest),
            ret,
        }
    }

    /// Parameter type of argument `i`, if the signature accepts that many arguments.
    pub(crate) fn param(&self, i: usize) -> Option<Type> {
        self.params.get(i).copied().or(if i >= self.params.len() {
            self.variadic
        } else {
            None
        })
    }

    pub(crate) fn accepts_count(&self, n: usize) -> bool {
        n == self.params.len() || (self.variadic.is_some() && n >= self.params.len())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        if let Some(v) = self.variadic {
            if !self.params.is_empty() {
                f.write_str(", ")?;
            }
            write!(f, "...{v}")?;
        }
        write!(f, ") {}", self.ret)
    }
}

/// The ASCII case mapping a function of one string applies to ASCII text, declared with
/// [`Function::ascii_case`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsciiCase {
    /// `a`-`z` become `A`-`Z` (Go's `strings.ToUpper` on ASCII text).
    Upper,
    /// `A`-`Z` become `a`-`z` (Go's `strings.ToLower` on ASCII text).
    Lower,
}

impl AsciiCase {
    /// The mapping of one byte.
    pub(crate) fn map(self, b: u8) -> u8 {
        match self {
            AsciiCase::Upper => b.to_ascii_uppercase(),
            AsciiCase::Lower => b.to_ascii_lowercase(),
        }
    }
}

/// A named native function with one or more typed signatures (overloads).
#[derive(Clone)]
pub struct Function {
    pub(crate) name: String,
    pub(crate) signatures: Vec<Signature>,
    pub(crate) func: Arc<NativeFn>,
    pub(crate) pure: bool,
    pub(crate) timeless: bool,
    pub(crate) ascii_case: Option<AsciiCase>,
}

impl Function {
    /// A function `name` with `signature` implemented by `f`.
    pub fn new<F>(name: impl Into<String>, signature: Signature, f: F) -> Self
    where
        F: for<'a> Fn(&[Value<'a>], &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError>
            + Send
            + Sync
            + 'static,
    {
        Self {
            name: name.into(),
            signatures: vec![signature],
            func: Arc::new(f),
            pure: false,
            timeless: false,
            ascii_case: None,
        }
    }

    /// Declares the function pure: its result depends only on its arguments (no state, no
    /// clock) and it has no side effect. Calls with constant arguments are then evaluated
    /// when compiling, and calls inside closures may be evaluated once per element of a
    /// long-lived list (see [`crate::Value::data_list`]) instead of once per evaluation.
    pub fn pure(mut self) -> Self {
        self.pure = true;
        self
    }

    /// Declares a pure function of one string (`Upper`, `Lower`) that returns `case` applied to
    /// its argument when the argument is ASCII. Comparisons of such a call with a constant
    /// string (`Upper(x) contains 'ADMIN'`, `Lower(x) == 'post'`...) are then decided on the
    /// argument without calling the function (nor allocating its result) when it is ASCII; other
    /// arguments go through the function.
    pub fn ascii_case(mut self, case: AsciiCase) -> Self {
        self.pure = true;
        self.ascii_case = Some(case);
        self
    }

    /// Whether the function was declared [pure](Function::pure).
    pub fn is_pure(&self) -> bool {
        self.pure
    }

    /// Adds another accepted signature (the first one matching the arguments is used).
    pub fn with_overload(mut self, signature: Signature) -> Self {
        self.signatures.push(signature);
        self
    }

    /// The function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its signatures.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("signatures", &self.signatures)
            .field("pure", &self.pure)
            .field("ascii_case", &self.ascii_case)
            .finish_non_exhaustive()
    }
}

/// What an expression may reference: typed variables (in slot order), native functions and
/// the clock. The expr-lang builtins (`len`, `any`, `lower`...) are always available.
#[derive(Clone)]
pub struct Environment {
    pub(crate) vars: Vec<(String, Type)>,
    pub(crate) functions: HashMap<String, Function>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for Environment {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("vars", &self.vars)
            .field("functions", &names)
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// An environment with no variables, no native functions and the system clock.
    pub fn new() -> Self {
        Self {
            vars: Vec::new(),
            functions: HashMap::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Declares a variable and returns its slot: values are passed to [`crate::Program::eval`]
    /// in slot order.
    pub fn add_variable(&mut self, name: impl Into<String>, ty: Type) -> usize {
        let name = name.into();
        if let Some(i) = self.vars.iter().position(|(n, _)| *n == name) {
            self.vars[i].1 = ty;
            return i;
        }
        self.vars.push((name, ty));
        self.vars.len() - 1
    }

    /// Registers (or replaces) a native function.
    pub fn add_function(&mut self, f: Function) {
        self.functions.insert(f.name.clone(), f);
    }

    /// Declares that the function `name` (when registered) gives a result that depends only on
    /// its arguments and on data loaded before any evaluation (data files, GeoIP databases),
    /// not on the clock, the network or state that evaluations change: a call may then be
    /// evaluated ahead of time, on another thread (see [`crate::Program::is_timeless`]). Pure
    /// functions are timeless already.
    pub fn set_timeless(&mut self, name: &str) {
        if let Some(f) = self.functions.get_mut(name) {
            f.timeless = true;
        }
    }

    /// A registered native function.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// Declared variables in slot order.
    pub fn variables(&self) -> impl Iterator<Item = (&str, Type)> {
        self.vars.iter().map(|(n, t)| (n.as_str(), *t))
    }

    /// Replaces the clock used by `now()` and passed to native functions.
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21Z").unwrap();
        let c = ManualClock::new(t0);
        c.advance(chrono::TimeDelta::seconds(90));
        assert_eq!(c.now().to_rfc3339(), "2026-02-12T14:11:51+00:00");
        c.set(t0);
        assert_eq!(c.now(), t0);
    }
}
