//! The CrowdSec pipeline event model: [`Event`], [`Line`], [`RuntimeAlert`] and the [`Queue`] /
//! [`Leaky`] views that scenario expressions see.
//!
//! Rust fields are the upstream Go field names in snake case; the expression engine (`cs-expr`)
//! exposes them under their Go names (`evt.Meta.source_ip`, `evt.Line.Labels.type`,
//! `evt.Overflow.Alert.Source.IP`). Serde names follow upstream's JSON tags.
//!
//! ```
//! use cs_types::{Event, EventType};
//!
//! let mut evt = Event::new_log("Feb 12 14:10:21 host sshd[1]: Failed password", "file");
//! evt.set_meta("log_type", "ssh_failed-auth");
//! assert_eq!(evt.get_meta("log_type"), "ssh_failed-auth");
//! assert_eq!(evt.r#type, EventType::Log);
//! assert_eq!(evt.get_type(), "log");
//! ```

mod event;
mod queue;
mod scope;
mod strmap;
mod time;

pub use event::{
    AppsecEvent, Event, EventType, ExpectMode, Line, ParserResult, RuntimeAlert, StrMap, Text,
};
pub use queue::{Leaky, Queue};
pub use scope::{SCOPE_AS, SCOPE_COUNTRY, SCOPE_IP, SCOPE_RANGE, normalize_scope};
pub use strmap::Iter as StrMapIter;
pub use time::{GoTime, format_rfc3339_nano, zero_time};

/// The wire alert model re-exported for convenience (`evt.Overflow.Alert`, profiles' `Alert`).
pub use cs_models::{Alert, Event as AlertEvent, MetaItem, Source};
