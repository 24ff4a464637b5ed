//! Wire JSON types of the CrowdSec Local API (LAPI) and Central API (CAPI).
//!
//! Every type mirrors the upstream go-swagger model of the same name: the JSON keys are
//! upstream's, Rust fields are the Go field names in snake case, and fields are declared in
//! the order in which the Go encoder writes them (alphabetical for the generated models), so
//! that `serde_json::to_string` produces byte-compatible bodies.
//!
//! Optionality follows Go's encoding rules, which the real clients depend on:
//!
//! * a *required* Go pointer (`*string`, `*int32`, `*bool`, `*Source`) is an `Option` that is
//!   always serialized, as `null` when absent;
//! * an *optional* scalar (`omitempty`) is a plain value skipped when it is the zero value;
//! * a list without `omitempty` is an `Option<Vec<_>>`: `None` is written as `null` (for example
//!   an empty `GET /v1/decisions` answer), `Some(vec![])` as `[]`.
//!
//! On input every field also accepts `null` (Go leaves the zero value in that case), and
//! unknown keys are ignored, as Go's decoder does.
//!
//! Durations use Go's `time.Duration` text form; see [`duration`].
//!
//! ```
//! use cs_models::{Decision, DecisionsStreamResponse};
//!
//! let d = Decision {
//!     duration: Some("3h59m58s".into()),
//!     id: 3,
//!     origin: Some("cscli".into()),
//!     scenario: Some("manual ban".into()),
//!     scope: Some("Ip".into()),
//!     r#type: Some("ban".into()),
//!     value: Some("192.0.2.1".into()),
//!     ..Decision::default()
//! };
//! let body = DecisionsStreamResponse::from_lists(vec![d], vec![]);
//! assert_eq!(
//!     serde_json::to_string(&body).unwrap(),
//!     r#"{"deleted":null,"new":[{"duration":"3h59m58s","id":3,"origin":"cscli","scenario":"manual ban","scope":"Ip","type":"ban","value":"192.0.2.1"}]}"#
//! );
//! ```

pub mod alert;
pub mod allowlist;
pub mod capi;
pub mod decision;
pub mod duration;
pub mod metrics;
pub mod scope;
pub mod watcher;

mod nullable;

pub use alert::{Alert, Event, Meta, MetaItem, Source};
pub use allowlist::{
    AllowlistItem, BulkCheckAllowlistRequest, BulkCheckAllowlistResponse, BulkCheckAllowlistResult,
    CheckAllowlistResponse, GetAllowlistResponse,
};
pub use decision::{
    AddAlertsResponse, Decision, DecisionsStreamResponse, DeleteAlertsResponse,
    DeleteDecisionResponse,
};
pub use duration::{format_duration, parse_duration};
pub use metrics::{
    AllMetrics, BaseMetrics, DetailedMetrics, HubItem, HubItems, LapiMetrics, LogProcessorsMetrics,
    MetricsAgentInfo, MetricsBouncerInfo, MetricsDetailItem, MetricsMeta, OsVersion,
    RemediationComponentsMetrics,
};
pub use watcher::{
    ErrorResponse, JwtErrorResponse, SuccessResponse, WatcherAuthRequest, WatcherAuthResponse,
    WatcherRegistrationRequest,
};

/// Errors raised while interpreting wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration string that is neither a Go `time.Duration` nor a number of days (`7d`).
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text that was parsed.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
