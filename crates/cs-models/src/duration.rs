//! Go `time.Duration` text: formatting (`3h59m58.5s`, `-546.52ms`, `0s`) and parsing, with
//! CrowdSec's `d` (days) extension (`7d`, `1d12h`).
//!
//! Durations are signed nanosecond counts in an `i64`, the representation Go uses, so the
//! range is about ±292 years.

use crate::{Error, Result};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Formats a duration (in nanoseconds) exactly like Go's `time.Duration.String()`.
///
/// ```
/// use cs_models::format_duration;
/// assert_eq!(format_duration(4 * 3600 * 1_000_000_000), "4h0m0s");
/// assert_eq!(format_duration(-546_521_579), "-546.521579ms");
/// assert_eq!(format_duration(0), "0s");
/// ```
pub fn format_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::with_capacity(24);
    if u < NANOS_PER_SEC {
        // Sub-second durations use the largest unit that keeps a non-zero integer part.
        let (prec, unit) = match u {
            0 => return "0s".to_owned(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (int, frac) = split_frac(u, prec);
        push_signed(&mut out, neg);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
        return out;
    }
    let (secs, frac) = split_frac(u, 9);
    u = secs;
    let s = u % 60;
    u /= 60;
    push_signed(&mut out, neg);
    if u > 0 {
        let m = u % 60;
        let h = u / 60;
        if h > 0 {
            out.push_str(&h.to_string());
            out.push('h');
        }
        out.push_str(&m.to_string());
        out.push('m');
    }
    out.push_str(&s.to_string());
    out.push_str(&frac);
    out.push('s');
    out
}

fn push_signed(out: &mut String, neg: bool) {
    if neg {
        out.push('-');
    }
}

/// Splits `v` into `v / 10^prec` and the decimal fraction text (`.5`, or empty when zero),
/// trailing zeros removed.
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let div = 10u64.pow(prec);
    let frac = v % div;
    if frac == 0 {
        return (v / div, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / div, format!(".{}", digits.trim_end_matches('0')))
}

/// Parses a Go duration string (`300ms`, `-1.5h`, `2h45m`, `0`), additionally accepting the
/// unit `d` (24 hours) anywhere, which covers CrowdSec's `7d` form; returns nanoseconds.
///
/// ```
/// use cs_models::parse_duration;
/// assert_eq!(parse_duration("4h").unwrap(), 4 * 3600 * 1_000_000_000);
/// assert_eq!(parse_duration("1d12h").unwrap(), 36 * 3600 * 1_000_000_000);
/// assert!(parse_duration("4").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<i64> {
    let err = |reason| Error::InvalidDuration {
        input: input.to_owned(),
        reason,
    };
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    let limit: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(err("expected a number"));
        }
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..int_len] {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .filter(|v| *v <= limit)
                .ok_or_else(|| err("overflow"))?;
        }
        s = &s[int_len..];
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            frac_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..frac_len] {
                // Like Go, digits beyond what fits are consumed but ignored.
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(c - b'0')))
                {
                    Some(f) if f <= limit => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(err("expected a number"));
        }
        let unit_len = s
            .iter()
            .take_while(|c| !(**c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(err("missing unit"));
        }
        let unit: u64 = match &s[..unit_len] {
            b"ns" => 1,
            // `µs` (micro sign U+00B5) and `μs` (Greek mu U+03BC), as Go accepts both.
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => NANOS_PER_SEC,
            b"m" => 60 * NANOS_PER_SEC,
            b"h" => 3_600 * NANOS_PER_SEC,
            b"d" => 86_400 * NANOS_PER_SEC,
            _ => return Err(err("unknown unit")),
        };
        s = &s[unit_len..];
        let mut part = v
            .checked_mul(unit)
            .filter(|p| *p <= limit)
            .ok_or_else(|| err("overflow"))?;
        if frac > 0 {
            // Float maths as in Go, so that `1.1s` rounds the same way.
            let extra = (frac as f64 * (unit as f64 / scale)) as u64;
            part = part
                .checked_add(extra)
                .filter(|p| *p <= limit)
                .ok_or_else(|| err("overflow"))?;
        }
        total = total
            .checked_add(part)
            .filter(|t| *t <= limit)
            .ok_or_else(|| err("overflow"))?;
    }
    if neg {
        // `total <= 2^63`, so the negation always fits.
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| err("overflow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn check(nanos: i64, text: &str) {
        assert_eq!(format_duration(nanos), text);
        assert_eq!(parse_duration(text).unwrap(), nanos, "parsing {text}");
    }

    #[test]
    fn formats_like_go() {
        check(0, "0s");
        check(1, "1ns");
        check(1_500, "1.5µs");
        check(-546_521_579, "-546.521579ms");
        check(S, "1s");
        check(60 * S, "1m0s");
        check(4 * 3600 * S, "4h0m0s");
        check(
            3 * 3600 * S + 59 * 60 * S + 58 * S + 530_112_464,
            "3h59m58.530112464s",
        );
        check(
            -(6783 * 3600 * S + 40 * 60 * S + 24 * S + 157_944_053),
            "-6783h40m24.157944053s",
        );
        check(i64::MIN, "-2562047h47m16.854775808s");
        check(i64::MAX, "2562047h47m16.854775807s");
    }

    #[test]
    fn parses_go_and_day_forms() {
        let p = |s: &str| parse_duration(s).unwrap();
        assert_eq!(p("7d"), 7 * 86_400 * S);
        assert_eq!(p("1d12h"), 36 * 3600 * S);
        assert_eq!(p("+10s"), 10 * S);
        assert_eq!(p("1.5h"), 5400 * S);
        assert_eq!(p(".5s"), S / 2);
        assert_eq!(p("1h30m"), 5400 * S);
        assert_eq!(p("100us"), 100_000);
        assert_eq!(p("100μs"), 100_000);
        assert_eq!(p("-0"), 0);
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "4",
            "h",
            "-",
            ".s",
            "4x",
            "1.h2",
            "9999999999999999999h",
            "3000000h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }
}
