//! Timestamps are stored as signed 64-bit nanoseconds since the Unix epoch (UTC) on every
//! backend, which keeps comparisons index-friendly and identical across dialects.

use chrono::{DateTime, TimeZone, Utc};

/// Converts a time to stored nanoseconds, saturating outside 1677..2262.
pub(crate) fn to_ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Converts stored nanoseconds back to a time.
pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

/// Adds a signed nanosecond duration to a stored time, saturating.
pub(crate) fn add_ns(t: i64, d: i64) -> i64 {
    t.saturating_add(d)
}

/// Parses an RFC3339 timestamp (fraction allowed) as upstream does for alert dates.
pub(crate) fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
