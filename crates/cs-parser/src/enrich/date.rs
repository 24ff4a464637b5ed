//! The `ParseDate` enricher: turns the date text a parser extracted into RFC3339.

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};

use super::gotime;

/// The Go layouts `ParseDate` tries, in upstream's order.
pub const LAYOUTS: [&str; 16] = [
    "2006-01-02T15:04:05Z07:00",
    "02/Jan/2006:15:04:05 -0700",
    "Mon Jan 2 15:04:05 2006",
    "02-Jan-2006 15:04:05 europe/paris",
    "01/02/2006 15:04:05",
    "2006-01-02 15:04:05.999999999 -0700 MST",
    "Jan  2 15:04:05",
    "Mon Jan 02 15:04:05.000000 2006",
    "2006-01-02T15:04:05Z07:00",
    "2006/01/02",
    "2006/01/02 15:04",
    "2006-01-02",
    "2006-01-02 15:04",
    "2006/01/02 15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05",
];

/// What `ParseDate` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDate {
    /// The value written to `Enriched.MarshaledTime`.
    pub marshaled: String,
    /// The parsed instant; `None` when nothing matched and `now` was used instead
    /// (then the event time must not be replaced).
    pub time: Option<DateTime<FixedOffset>>,
}

/// Parses with one layout; year-less results get `now`'s year.
fn with_layout(layout: &str, input: &str, now: DateTime<Utc>) -> Option<ParsedDate> {
    let mut t = gotime::parse(layout, input).ok()?;
    if gotime::is_zero(&t) {
        return None;
    }
    if t.year() == 0 {
        t = gotime::add_years(&t, now.year())?;
    }
    let marshaled = gotime::marshal_text(&t)?;
    Some(ParsedDate {
        marshaled,
        time: Some(t),
    })
}

/// Upstream's `ParseDate(in)`: the event's `StrTimeFormat` first, then [`LAYOUTS`],
/// then Unix seconds, else `now`.
pub fn parse_date(input: &str, str_time_format: &str, now: DateTime<Utc>) -> ParsedDate {
    if !input.is_empty() {
        if !str_time_format.is_empty()
            && let Some(p) = with_layout(str_time_format, input, now)
        {
            return p;
        }
        if let Some(p) = LAYOUTS.iter().find_map(|l| with_layout(l, input, now)) {
            return p;
        }
        if let Some(p) = parse_unix(input) {
            return p;
        }
    }
    let now = now.fixed_offset();
    ParsedDate {
        marshaled: gotime::marshal_text(&now).unwrap_or_default(),
        time: None,
    }
}

/// Unix seconds (the part before the first `.`), shown in the local zone, which is UTC
/// for the agent. Whole seconds: Go's RFC3339 and RFC3339Nano write them alike.
fn parse_unix(input: &str) -> Option<ParsedDate> {
    let secs: i64 = input.split('.').next()?.parse().ok()?;
    if secs <= 0 {
        return None;
    }
    let t = Utc.timestamp_opt(secs, 0).single()?.fixed_offset();
    Some(ParsedDate {
        marshaled: cs_types::format_rfc3339_nano(&t),
        time: Some(t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, format: &str, expected: &str) {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            parse_date(input, format, now).marshaled,
            expected,
            "{input:?}"
        );
    }

    #[test]
    fn dates() {
        check("2012/11/01", "", "2012-11-01T00:00:00Z");
        check("11/02/2012 13:37:05", "", "2012-11-02T13:37:05Z");
        check("Feb 12 14:10:21", "", "2026-02-12T14:10:21Z");
        check("Feb  2 14:10:21", "", "2026-02-02T14:10:21Z");
        check(
            "2021-01-01T10:00:00.5+01:00",
            "",
            "2021-01-01T10:00:00.5+01:00",
        );
        check("2021-01-01T10:00:00", "", "2021-01-01T10:00:00Z");
        check(
            "12/Mar/2021:10:00:00 +0100",
            "",
            "2021-03-12T10:00:00+01:00",
        );
        check("1600000000.123", "", "2020-09-13T12:26:40Z");
        check("garbage", "", "2026-11-22T10:00:00Z");
        check("", "", "2026-11-22T10:00:00Z");
        check("21-03-12 10:00", "06-01-02 15:04", "2021-03-12T10:00:00Z");
        check("2021-03-12", "06-01-02 15:04", "2021-03-12T00:00:00Z");
    }

    #[test]
    fn fallback_has_no_time() {
        let now = Utc::now();
        assert!(parse_date("nope", "", now).time.is_none());
        assert!(parse_date("2012/11/01", "", now).time.is_some());
    }
}
