//! The parser's view of the expression engine: expressions over `evt`, compiled once,
//! evaluated against the event with their side effects (`evt.SetMeta`...) applied.

use cs_expr::{Effects, Environment, Program, Value};
use cs_types::Event;

/// A compiled expression whose only variable is `evt`.
#[derive(Debug)]
pub(crate) struct Expr {
    program: Program,
}

/// What a parser does with an expression's result (only strings are copied).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    Bool(bool),
    Str(String),
    Int(i64),
    Float(f64),
    Nil,
    Map,
    List,
    /// Any other type (time, duration, struct), by Go type name.
    Other(&'static str),
}

/// A compile error with its position in the expression text (in characters).
#[derive(Debug, Clone)]
pub(crate) struct ExprError {
    pub(crate) message: String,
    pub(crate) offset: usize,
    pub(crate) width: usize,
}

impl Expr {
    /// Compiles `source` in `env`, which declares `evt` as its only variable.
    pub(crate) fn compile(source: &str, env: &Environment) -> Result<Self, ExprError> {
        cs_expr::compile(source, env)
            .map(|program| Self { program })
            .map_err(|e| {
                let span = e.span();
                let chars = |byte: usize| {
                    source
                        .get(..byte.min(source.len()))
                        .map_or(0, |s| s.chars().count())
                };
                let offset = chars(span.start);
                ExprError {
                    message: e.message().to_owned(),
                    offset,
                    width: chars(span.end).saturating_sub(offset),
                }
            })
    }

    /// Evaluates against `evt`, then applies the effects the expression requested.
    pub(crate) fn eval(&self, evt: &mut Event) -> Result<Output, String> {
        let mut effects = Effects::new();
        let out = {
            let vars = [Value::object(&*evt)];
            let value = self
                .program
                .run(&vars, &mut effects)
                .map_err(|e| e.to_string())?;
            Output::of(&value)
        };
        if !effects.is_empty() {
            effects.apply(evt);
        }
        Ok(out)
    }
}

impl Output {
    fn of(v: &Value<'_>) -> Self {
        match v {
            Value::Nil => Self::Nil,
            Value::Bool(b) => Self::Bool(*b),
            Value::Int(i) => Self::Int(*i),
            Value::Float(f) => Self::Float(*f),
            Value::Str(s) => Self::Str(s.as_str().to_owned()),
            Value::Map(_) => Self::Map,
            Value::List(_) => Self::List,
            other => Self::Other(other.type_name()),
        }
    }
}
