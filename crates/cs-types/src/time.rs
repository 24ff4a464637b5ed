//! Go `time.Time` as used by events: a date with a fixed UTC offset, zero value year 1.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike};

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
    let date = t.date_naive();
    let Ok(year @ 0..=9999) = u32::try_from(date.year()) else {
        // Years Go writes with more digits or a sign: left to chrono.
        let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        push_fraction_and_offset(&mut s, t);
        return s;
    };
    let mut s = String::with_capacity(35);
    push_digits(&mut s, year, 4);
    s.push('-');
    push_digits(&mut s, date.month(), 2);
    s.push('-');
    push_digits(&mut s, date.day(), 2);
    s.push('T');
    push_digits(&mut s, t.hour(), 2);
    s.push(':');
    push_digits(&mut s, t.minute(), 2);
    s.push(':');
    push_digits(&mut s, t.second(), 2);
    push_fraction_and_offset(&mut s, t);
    s
}

/// The fraction (nine digits without the trailing zeros, none when zero) and the offset.
fn push_fraction_and_offset(s: &mut String, t: &GoTime) {
    let mut nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
    if nanos != 0 {
        let mut width = 9;
        while nanos.is_multiple_of(10) {
            nanos /= 10;
            width -= 1;
        }
        s.push('.');
        push_digits(s, nanos, width);
    }
    let off = t.offset().local_minus_utc();
    if off == 0 {
        s.push('Z');
    } else {
        let a = off.unsigned_abs();
        s.push(if off < 0 { '-' } else { '+' });
        push_digits(s, a / 3600, 2);
        s.push(':');
        push_digits(s, (a % 3600) / 60, 2);
    }
}

/// Appends the last `width` decimal digits of `v`, zero-padded.
fn push_digits(s: &mut String, v: u32, width: u32) {
    for i in (0..width).rev() {
        let digit = (v / 10u32.pow(i)) % 10;
        s.push(char::from(b'0' + digit as u8));
    }
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
        check("0042-03-04T05:06:07.5-00:30", "0042-03-04T05:06:07.5-00:30");
        check(
            "9999-12-31T23:59:59.999999999+14:00",
            "9999-12-31T23:59:59.999999999+14:00",
        );
    }

    #[test]
    fn years_past_four_digits_are_written_in_full() {
        let t = DateTime::parse_from_rfc3339("9999-12-31T23:59:59.25Z").unwrap()
            + chrono::Duration::days(1);
        assert_eq!(format_rfc3339_nano(&t), "+10000-01-01T23:59:59.25Z");
    }

    #[test]
    fn zero_time_is_year_one_utc() {
        assert_eq!(zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
