//! Duration and timestamp helpers shared by the commands.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

/// `--since`/`--until` values: a trailing `d` (days) becomes hours, as upstream rewrites them
/// before sending (Go durations have no day unit).
pub fn days_to_hours(s: &str) -> Result<String> {
    match s.strip_suffix('d') {
        Some(days) => match days.parse::<i64>() {
            Ok(n) => Ok(format!("{}h", n * 24)),
            Err(_) => bail!("can't parse duration {s}, valid durations format: 1d, 4h, 4h15m"),
        },
        None => Ok(s.to_string()),
    }
}

/// Parses a Go duration with an optional day unit into a chrono duration.
pub fn parse(s: &str) -> Result<chrono::Duration> {
    match cs_models::parse_duration(s) {
        Ok(ns) => Ok(chrono::Duration::nanoseconds(ns)),
        Err(e) => bail!("{e}"),
    }
}

/// RFC 3339 with seconds, as upstream formats `created_at`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_hours() {
        assert_eq!(days_to_hours("2d").unwrap(), "48h");
        assert_eq!(days_to_hours("4h").unwrap(), "4h");
        assert!(days_to_hours("xd").is_err());
        assert_eq!(parse("1d").unwrap(), chrono::Duration::hours(24));
        assert!(parse("soon").is_err());
    }
}
