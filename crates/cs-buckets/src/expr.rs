//! The scenario expressions: one compiler per variable set (`evt`; `evt`, `queue`, `leaky`;
//! `queue`, `signal`, `leaky`; alert context), and Go's reading of their results.

use std::path::Path;
use std::sync::Arc;

use cs_expr::{
    Clock, CompileError, Effect, Effects, Environment, Memo, Program, RuntimeError, Type, Value,
};
use cs_expr_helpers::Helpers;
use cs_types::{Event, Leaky, Queue, RuntimeAlert};

/// Which variables an expression sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Env {
    /// `evt`: `filter`, `groupby`, `distinct`, `cancel_on`, `scope.expression`.
    Event,
    /// `evt`, `queue`, `leaky`: `condition`, bayesian conditions.
    Condition,
    /// `queue`, `signal`, `leaky`: `overflow_filter`.
    OverflowFilter,
    /// `evt`, `match`, `req`: alert context.
    Context,
}

/// What an expression returned, as the engine cares about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Bool(bool),
    Str(String),
    /// Any other type (nil, numbers, lists...).
    Other,
}

impl Outcome {
    fn of(v: &Value<'_>) -> Self {
        if let Some(b) = v.as_bool() {
            Self::Bool(b)
        } else if let Some(s) = v.as_str() {
            Self::Str(s.to_owned())
        } else {
            Self::Other
        }
    }
}

/// Compiles scenario expressions against the CrowdSec helpers and data files.
#[derive(Debug)]
pub struct Compiler {
    event: Environment,
    condition: Environment,
    overflow_filter: Environment,
    context: Environment,
    helpers: Helpers,
}

impl Compiler {
    /// A compiler giving expressions every CrowdSec helper of `helpers` (whose data files receive
    /// the scenarios' `data:` entries) and `clock` as `now()`.
    pub fn new(helpers: Helpers, clock: Arc<dyn Clock>) -> Self {
        let mut event = Environment::event();
        let mut condition = Environment::scenario_condition();
        let mut overflow_filter = Environment::overflow_filter();
        let mut context = Environment::event();
        context.add_variable("match", Type::Any);
        context.add_variable("req", Type::Any);
        for env in [
            &mut event,
            &mut condition,
            &mut overflow_filter,
            &mut context,
        ] {
            helpers.register(env);
            env.set_clock(Arc::clone(&clock));
        }
        Self {
            event,
            condition,
            overflow_filter,
            context,
            helpers,
        }
    }

    pub(crate) fn compile(&self, source: &str, env: Env) -> Result<Expr, CompileError> {
        let environment = match env {
            Env::Event => &self.event,
            Env::Condition => &self.condition,
            Env::OverflowFilter => &self.overflow_filter,
            Env::Context => &self.context,
        };
        Ok(Expr {
            program: cs_expr::compile(source, environment)?,
        })
    }

    /// Upstream's `FileInit` for a scenario's `data:` entry.
    pub(crate) fn load_data_file(
        &self,
        dir: &Path,
        name: &str,
        kind: &str,
    ) -> Result<(), cs_expr_helpers::Error> {
        self.helpers.data_files().load(dir, name, kind)
    }
}

/// A compiled expression.
#[derive(Debug)]
pub(crate) struct Expr {
    program: Program,
}

impl Expr {
    /// A scenario `filter`, which may change the event (`evt.SetMeta`, `UnmarshalJSON` into
    /// `evt.Unmarshaled`...): the changes are made on a copy when the event is shared (the
    /// buckets it was already poured into keep it as it was). Also tells whether the event
    /// was changed.
    ///
    /// `memo` holds what the filters evaluated before on the same event, unchanged, found out
    /// (see [`cs_expr::Memo`]); the caller clears it for every new or changed event.
    pub(crate) fn eval_filter(
        &self,
        evt: &mut Arc<Event>,
        memo: &mut Memo,
    ) -> Result<(Outcome, bool), RuntimeError> {
        let mut effects = Effects::new();
        let outcome = Outcome::of(&self.program.run_memo(
            &[Value::object(&**evt)],
            &mut effects,
            memo,
        )?);
        let changed = !effects.is_empty();
        if changed {
            let evaluated: &Event = evt;
            let targets = Targets::of(evaluated);
            let owned = Arc::make_mut(evt);
            targets.retarget(&mut effects, owned);
            effects.apply(owned);
        }
        Ok((outcome, changed))
    }

    /// A [timeless](Expr::is_timeless) filter evaluated ahead of the pour: its answer, or
    /// `None` when it must be evaluated at pour time (a runtime error, not a boolean, or a
    /// side effect on the event, which only the pour may make).
    pub(crate) fn eval_ahead(&self, evt: &Event, memo: &mut Memo) -> Option<bool> {
        let mut effects = Effects::new();
        let value = self
            .program
            .run_memo(&[Value::object(evt)], &mut effects, memo)
            .ok()?;
        if !effects.is_empty() {
            return None;
        }
        value.as_bool()
    }

    /// Whether [`Expr::eval_ahead`] can answer.
    pub(crate) fn is_timeless(&self) -> bool {
        self.program.is_timeless()
    }

    /// The event entries the answer of [`Expr::eval_ahead`] is a function of (see
    /// [`Program::field_reads`]), when it reads the event through nothing else.
    pub(crate) fn field_reads(&self) -> Option<Vec<cs_expr::FieldRead>> {
        self.program.field_reads()
    }

    /// An expression over `evt` whose side effects are lost, as they were on upstream's copies.
    pub(crate) fn eval_event(&self, evt: &Event) -> Result<Outcome, RuntimeError> {
        self.program.eval_event(evt).map(|v| Outcome::of(&v))
    }

    /// `condition` and bayesian conditions.
    pub(crate) fn eval_condition(
        &self,
        evt: &Event,
        queue: &Queue,
        leaky: &Leaky,
    ) -> Result<Outcome, RuntimeError> {
        let vars = [
            Value::object(evt),
            Value::object(queue),
            Value::object(leaky),
        ];
        self.program.eval(&vars).map(|v| Outcome::of(&v))
    }

    /// `overflow_filter`.
    pub(crate) fn eval_overflow_filter(
        &self,
        queue: &Queue,
        signal: &RuntimeAlert,
        leaky: &Leaky,
    ) -> Result<Outcome, RuntimeError> {
        let vars = [
            Value::object(queue),
            Value::object(signal),
            Value::object(leaky),
        ];
        self.program.eval(&vars).map(|v| Outcome::of(&v))
    }

    /// An alert context expression: strings and lists are taken element by element, anything
    /// else is printed with Go's `%v`.
    pub(crate) fn eval_context(&self, evt: &Event) -> Result<Vec<String>, RuntimeError> {
        let v = self
            .program
            .eval(&[Value::object(evt), Value::Nil, Value::Nil])?;
        Ok(match v.as_list() {
            Some(list) => list.iter().map(|item| text(&item)).collect(),
            None => vec![text(&v)],
        })
    }
}

/// Addresses of an event and of its maps, which effects use to name what they change.
struct Targets([usize; 5]);

impl Targets {
    fn of(evt: &Event) -> Self {
        Self([
            std::ptr::from_ref(evt) as usize,
            std::ptr::from_ref(&evt.meta) as usize,
            std::ptr::from_ref(&evt.parsed) as usize,
            std::ptr::from_ref(&evt.enriched) as usize,
            std::ptr::from_ref(&evt.unmarshaled) as usize,
        ])
    }

    /// Points effects aimed at the evaluated event (whose addresses are `self`) at `to`, its copy.
    fn retarget(&self, effects: &mut Effects, to: &Event) {
        let new = Targets::of(to);
        for effect in &mut effects.0 {
            let target = match effect {
                Effect::SetMeta { target, .. }
                | Effect::SetParsed { target, .. }
                | Effect::MapInsert { target, .. } => target,
            };
            if let Some(i) = self.0.iter().position(|a| *a == *target) {
                *target = new.0[i];
            }
        }
    }
}

/// Go's `%v` of a value, strings as they are.
fn text(v: &Value<'_>) -> String {
    match v.as_str() {
        Some(s) => s.to_owned(),
        None => cs_expr::format::format_v(v),
    }
}
