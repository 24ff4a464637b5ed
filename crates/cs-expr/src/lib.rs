//! The CrowdSec expression language: an [expr-lang](https://expr-lang.org) v1.17 compatible
//! engine with Go semantics (nil, missing map keys, int/float equality, `/` on floats, Go `%v`
//! formatting) and typed bindings of the CrowdSec event model.
//!
//! Expressions are compiled once against an [`Environment`] (typed variables and native
//! functions; unknown fields such as `evt.Foo`, wrong argument counts and invalid constant
//! regexes are compile errors) and evaluated many times. Field accesses on typed structs are
//! resolved to indexes at compile time and strings are borrowed from the evaluated data.
//!
//! ```
//! use cs_expr::{compile, Environment, Function, Signature, Type, Value};
//! use cs_types::Event;
//!
//! // The parser environment (`evt`) plus a native function.
//! let mut env = Environment::event();
//! env.add_function(Function::new(
//!     "Upper",
//!     Signature::new([Type::String], Type::String),
//!     |args, _cx| Ok(Value::string(args[0].as_str().unwrap_or_default().to_uppercase())),
//! ));
//!
//! let program = compile(
//!     "evt.Meta.log_type == 'ssh_failed-auth' && Upper(evt.Meta.service) == 'SSH'",
//!     &env,
//! )
//! .unwrap();
//!
//! let mut evt = Event::new_log("Failed password for root", "file");
//! evt.set_meta("log_type", "ssh_failed-auth");
//! evt.set_meta("service", "ssh");
//! assert!(program.eval_bool(&[Value::object(&evt)]).unwrap());
//!
//! // Unknown fields are rejected when compiling; errors show the position with a caret.
//! let err = compile("evt.Foo == 1", &env).unwrap_err();
//! assert_eq!(err.message(), "type types.Event has no field Foo");
//!
//! // Side effects (`SetMeta`, `UnmarshalJSON` into `evt.Unmarshaled`) are applied afterwards.
//! let set = compile("evt.SetMeta('seen', 'yes')", &env).unwrap();
//! assert!(set.run_event_bool(&mut evt).unwrap());
//! assert_eq!(evt.get_meta("seen"), "yes");
//! ```

//! # Environments
//!
//! | constructor | variables (slot order) | used by |
//! |---|---|---|
//! | [`Environment::event`] | `evt` | parser filters/statics/whitelists/stash, scenario `filter`, `groupby`, `distinct`, `cancel_on`, `scope.expression`, `transform` |
//! | [`Environment::scenario_condition`] | `evt`, `queue`, `leaky` | scenario `condition`, bayesian conditions |
//! | [`Environment::overflow_filter`] | `queue`, `signal`, `leaky` | scenario `overflow_filter` |
//! | [`Environment::alert`] | `Alert` | LAPI profiles `filters`, `duration_expr` |
//! | [`Environment::hubtest`] | `results` (any), plus `basename()` | hubtest asserts |
//!
//! The CrowdSec helpers (`Upper`, `JsonExtract`, `File`...) are registered on top of these with
//! [`Environment::add_function`] by the `cs-expr-helpers` crate.
//!
//! # Values and side effects
//!
//! [`Value`] borrows from the evaluated data (`Value::object(&evt)`); typed lists and maps are
//! views, not copies. Mutations requested by an expression (`evt.SetMeta`, helpers writing into
//! `evt.Unmarshaled` through [`CallContext::insert_into`]) are collected as [`Effects`]: later
//! reads in the same expression see them (as Go sees its map writes at once), and they are
//! applied to the event after evaluation ([`Program::run_event`], or [`Program::run`] +
//! [`Effects::apply`]).
//!
//! Go formatting of values (`%v`, floats, durations, times) lives in [`mod@format`].
//!
//! # Fast paths
//!
//! Comparisons of `Upper`/`Lower` calls with constants are decided on ASCII arguments without
//! calling them ([`Function::ascii_case`]); `x in [constant strings]` compares strings; patterns
//! of `matches` folded to constants are compiled once; `any` over data files uses indexes. The
//! filters of many scenarios evaluated on one event share the answers of their common
//! predicates (`evt.Meta.log_type in [...]`) and the fields they read through a [`Memo`]
//! ([`Program::run_memo`]).

mod bindings;
mod builtins;
mod compile;
mod datalist;
mod env;
mod error;
mod eval;
pub mod format;
mod goregex;
mod guard;
mod lexer;
mod ops;
mod parser;
mod reads;
mod types;
mod value;

pub use bindings::{
    ALERT, ALERT_EVENT, APPSEC, DECISION, EVENT, LEAKY, LINE, META_ITEM, PARSER_RESULT, QUEUE,
    RUNTIME_ALERT, SOURCE, basename,
};
pub use builtins::go_split;
pub use compile::compile;
pub use datalist::DataList;
pub use env::{
    AsciiCase, Clock, Environment, FixedClock, Function, ManualClock, NativeFn, Signature,
    SystemClock,
};
pub use error::{CompileError, Error, Result, RuntimeError, Span, line_col};
pub use eval::{CallContext, Effect, Effects, Memo, Program};
pub use goregex::{compile as compile_go_regex, translate as translate_go_regex};
pub use guard::{Guard, GuardMap};
pub use ops::{arith, compare, contains_elem, equal};
pub use reads::FieldRead;
pub use types::{FieldDef, MethodDef, StructType, Type};
pub use value::{List, ListView, Map, MapView, Obj, Object, Str, Value};
