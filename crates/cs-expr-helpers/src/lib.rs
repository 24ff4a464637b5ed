//! CrowdSec helper functions for the expression language (upstream `pkg/exprhelpers`).
//!
//! [`Helpers`] holds the state helpers read (data files, stash caches, GeoIP databases, a
//! resolver, an optional decision counter) and [`Helpers::register`] adds every helper to a
//! `cs_expr::Environment` with upstream's typed signatures:
//!
//! ```
//! use cs_expr::{Environment, Type, Value};
//! use cs_expr_helpers::Helpers;
//!
//! let helpers = Helpers::new();
//! helpers.data_files().insert("bad_ua.txt", "string", "curl\nnikto\n").unwrap();
//! let mut env = Environment::new();
//! let ua = env.add_variable("ua", Type::String);
//! helpers.register(&mut env);
//! let program = cs_expr::compile("Lower(ua) in File('bad_ua.txt')", &env).unwrap();
//! let mut vars = vec![Value::Nil; 1];
//! vars[ua] = Value::str("CURL");
//! assert!(program.eval_bool(&vars).unwrap());
//! ```
//!
//! The modules also expose the helpers as plain functions (Go semantics, no expression
//! values), for other crates: the parser's GeoIP enrichers use [`geoip::GeoIp`], its `stash:`
//! entries [`stash::Stash`], its `data:` entries [`datafile::DataFiles`].
//!
//! Helpers left out, because no hub parser, scenario or postoverflow calls them and they need
//! components this crate must not reach (network, AppSec request objects, ML models):
//! `CrowdsecCTI` (CTI HTTP API), `HTTPGet`/`HTTPHead`/`HTTPPost`/`HTTPRequest` (outbound HTTP),
//! `LibInjectionIsSQLI`/`LibInjectionIsXSS`, `IsAnomalous` (ML model) and `MatchKnownBot` (bot
//! data files with forward-confirmed reverse DNS). `JA4H` is registered (the AppSec console
//! context references it) but needs an AppSec HTTP request, so calling it is a runtime error.
//!
//! Representation choices: `GeoIPRangeEnrich` returns the network as CIDR text,
//! `GeoIPEnrich`/`GeoIPASNEnrich` return maps with the Go record field names, `SetInStash`
//! takes `nil` or a duration for its `*time.Duration`, and strings decoded from bytes
//! (`B64Decode`, URL unescaping) replace invalid UTF-8. Time comes from the environment's clock
//! (`TimeNow`, stash expiry), never from the system directly; the daemon plugs in the
//! [`resolver::Resolver`] used by `LookupHost` and the [`resolver::DecisionCounter`] used by
//! `GetDecisionsCount` and friends (without one they return 0, as upstream does without a
//! database).

pub mod datafile;
pub mod error;
pub mod geoip;
pub mod gofmt;
pub mod json;
pub mod kv;
pub mod net;
mod register;
pub mod resolver;
pub mod stash;
pub mod strings;
pub mod time;
pub mod url;
pub mod xml;

pub use error::{Error, Result};
pub use register::{Helpers, go_json_numbers, json_to_value, parse_duration_with_days, register};

/// The shared test material (`../shared` beside the workspace, or `$CROWDSEC_SHARED`).
#[cfg(test)]
pub(crate) fn shared_dir() -> std::path::PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
}
