//! Go `time.Time` as used by events: a date with a fixed UTC offset, zero value year 1.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

/// A point in time with its UTC offset, the counterpart of Go's `time.Time`.
pub type GoTime = DateTime<FixedOffset>;

/// Go's zero `time.Time`: `0001-01-01 00:00:00 +0000 UTC`.
pub fn zero_time() -> GoTime {
    let naive = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    FixedOffset::east_opt(0)
        .map(|utc| utc.from_utc_datetime(&naive))
        .unwrap_or_default()
}

/// Go's RFC3339Nano (`time.Time.MarshalText`, `Format(time.RFC3339Nano)`): fraction digits
/// without trailing zeros, `Z` for UTC, `±hh:mm` otherwise (`2026-02-12T14:10:21.12+02:00`).
pub fn format_rfc3339_nano(t: &GoTime) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.offset().local_minus_utc();
    if off == 0 {
        s.push('Z');
    } else {
        let a = off.unsigned_abs();
        let sign = if off < 0 { '-' } else { '+' };
        s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let t = DateTime::parse_from_rfc3339(input).unwrap();
        assert_eq!(format_rfc3339_nano(&t), expected, "{input}");
    }

    #[test]
    fn rfc3339_nano_like_go() {
        check("2026-02-12T14:10:21Z", "2026-02-12T14:10:21Z");
        check(
            "2026-02-12T14:10:21.120+02:00",
            "2026-02-12T14:10:21.12+02:00",
        );
        check(
            "2026-02-12T14:10:21.000000001-05:30",
            "2026-02-12T14:10:21.000000001-05:30",
        );
        check("2026-02-12T14:10:21+00:00", "2026-02-12T14:10:21Z");
    }

    #[test]
    fn zero_time_is_year_one_utc() {
        assert_eq!(zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
