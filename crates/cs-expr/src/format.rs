//! Go value formatting (`%v`, `strconv.FormatFloat`, `time.Duration.String`, `time.Time.String`)
//! and Go duration parsing, shared with the helper functions (`Sprintf`, statics).

use std::fmt::Write;

use cs_types::GoTime;

use crate::value::{Obj, Value};

/// Decimal digits and exponent of the shortest representation that round-trips `f` (finite,
/// non-zero, positive): `f = 0.d1d2d3... × 10^(exp+1)`, i.e. `exp` is the exponent of the first
/// significant digit.
fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{f:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn exponent_form(out: &mut String, digits: &str, exp: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let _ = write!(
        out,
        "e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `%v` uses: shortest round-trip digits,
/// exponent form when the decimal exponent is < -4 or >= 6 (`1e+06`, `1e-05`).
pub fn format_float(f: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, f);
    out
}

/// Appends [`format_float`] of `f` to `out`.
pub fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    let (digits, exp) = shortest_digits(f.abs());
    if !(-4..6).contains(&exp) {
        exponent_form(out, &digits, exp);
        return;
    }
    let n = digits.len() as i32;
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if exp + 1 >= n {
        out.push_str(&digits);
        for _ in 0..(exp + 1 - n) {
            out.push('0');
        }
    } else {
        let point = (exp + 1) as usize;
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    }
}

/// Go's `%f` (six decimals, never an exponent); used by statics and GeoIP coordinates.
pub fn format_float_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f:.6}")
    }
}

/// Go's `%e` with the given precision (default Go precision is 6).
pub fn format_float_e(f: f64, prec: usize) -> String {
    if !f.is_finite() {
        return format_float_f(f);
    }
    let s = format!("{f:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mant}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// Go's `time.Duration.String()`: `1h2m3s`, `1m0s`, `1.5s`, `500ms`, `0s`, `-2s`.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    fn frac(out: &mut String, v: u64, prec: u32) -> u64 {
        let div = 10u64.pow(prec);
        let f = v % div;
        if f != 0 {
            let digits = format!("{f:0width$}", width = prec as usize);
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        v / div
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let mut f = String::new();
        let int = frac(&mut f, u, prec);
        let _ = write!(out, "{int}{f}{unit}");
    } else {
        let mut f = String::new();
        u = frac(&mut f, u, 9);
        let secs = u % 60;
        u /= 60;
        if u > 0 {
            let mins = u % 60;
            u /= 60;
            if u > 0 {
                let _ = write!(out, "{u}h");
            }
            let _ = write!(out, "{mins}m");
        }
        let _ = write!(out, "{secs}{f}s");
    }
    if neg { format!("-{out}") } else { out }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units ns, us, µs, ms, s,
/// m, h; `"0"` alone is allowed. Returns nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    let mut total_int: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(err());
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration \"{s}\"")),
            _ => return Err(format!("time: unknown unit \"{unit}\" in duration \"{s}\"")),
        };
        match num.split_once('.') {
            None => {
                let v: i128 = num.parse().map_err(|_| err())?;
                total_int = total_int.saturating_add(v.saturating_mul(scale));
            }
            Some((int, frac)) => {
                let v: i128 = if int.is_empty() {
                    0
                } else {
                    int.parse().map_err(|_| err())?
                };
                total_int = total_int.saturating_add(v.saturating_mul(scale));
                if !frac.is_empty() {
                    let f: f64 = format!("0.{frac}").parse().map_err(|_| err())?;
                    total += f * scale as f64;
                }
            }
        }
        if total_int > i64::MAX as i128 {
            return Err(err());
        }
    }
    let v = total_int + total as i128;
    if v > i64::MAX as i128 {
        return Err(err());
    }
    Ok(if neg { -(v as i64) } else { v as i64 })
}

fn zone_suffix(t: &GoTime) -> String {
    let secs = t.offset().local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let num = format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60);
    if secs == 0 {
        format!("{num} UTC")
    } else {
        format!("{num} {num}")
    }
}

/// Go's `time.Time.String()`: `2026-02-12 14:10:21.123 +0000 UTC`.
pub fn format_time(t: &GoTime) -> String {
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos != 0 {
        let f = format!("{nanos:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push(' ');
    s.push_str(&zone_suffix(t));
    s
}

/// Go's RFC3339Nano (`time.Time.MarshalText`): `2026-02-12T14:10:21.123+02:00`, `Z` for UTC.
pub fn format_time_rfc3339(t: &GoTime) -> String {
    cs_types::format_rfc3339_nano(t)
}

const MAX_FORMAT_DEPTH: usize = 32;

/// Go's `%v` of a value.
pub fn format_v(v: &Value<'_>) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

/// Appends Go's `%v` of `v` to `out`.
pub fn write_v(out: &mut String, v: &Value<'_>) {
    write_v_depth(out, v, 0);
}

fn write_v_depth(out: &mut String, v: &Value<'_>, depth: usize) {
    if depth > MAX_FORMAT_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => out.push_str(s.as_str()),
        Value::Time(t) => out.push_str(&format_time(t)),
        Value::Duration(d) => out.push_str(&format_duration(*d)),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v_depth(out, &item, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, k) in m.keys().into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v_depth(out, &m.get(k).unwrap_or_default(), depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => write_object(out, o, depth),
    }
}

fn write_object(out: &mut String, o: &Obj<'_>, depth: usize) {
    let st = o.get().struct_type();
    out.push('{');
    for i in 0..st.fields.len() {
        if i > 0 {
            out.push(' ');
        }
        write_v_depth(out, &o.field(i), depth + 1);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: f64, expected: &str) {
        assert_eq!(format_float(input), expected, "{input:e}");
    }

    #[test]
    fn floats_like_go_v() {
        check(200.0, "200");
        check(1e6, "1e+06");
        check(123456.0, "123456");
        check(1234567.8, "1.2345678e+06");
        check(0.00001, "1e-05");
        check(0.0001, "0.0001");
        check(1658731234.5, "1.6587312345e+09");
        check(-2.5, "-2.5");
        check(0.1 + 0.2, "0.30000000000000004");
        check(1e21, "1e+21");
        check(f64::INFINITY, "+Inf");
        check(f64::NAN, "NaN");
        check(100000.0, "100000");
        assert_eq!(format_float_f(1e21), "1000000000000000000000.000000");
        assert_eq!(format_float_f(3.0), "3.000000");
        assert_eq!(format_float_e(1234.5678, 6), "1.234568e+03");
    }

    fn check_duration(nanos: i64, expected: &str) {
        assert_eq!(format_duration(nanos), expected);
        assert_eq!(parse_duration(expected), Ok(nanos), "{expected}");
    }

    #[test]
    fn durations_like_go() {
        check_duration(0, "0s");
        check_duration(3_723_000_000_000, "1h2m3s");
        check_duration(4 * 3_600_000_000_000, "4h0m0s");
        check_duration(60_000_000_000, "1m0s");
        check_duration(1_500_000_000, "1.5s");
        check_duration(500_000_000, "500ms");
        check_duration(1_500, "1.5µs");
        check_duration(7, "7ns");
        check_duration(-2_000_000_000, "-2s");
        assert_eq!(parse_duration("20m"), Ok(1_200_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("9999999999h").is_err());
    }

    #[test]
    fn values_like_go_v() {
        let v = Value::list(vec![
            Value::Int(1),
            Value::str("a"),
            Value::Nil,
            Value::Float(2.5),
        ]);
        assert_eq!(format_v(&v), "[1 a <nil> 2.5]");
        let mut m = std::collections::BTreeMap::new();
        m.insert("b".to_string(), Value::Bool(true));
        m.insert("a".to_string(), Value::Duration(1_000_000_000));
        assert_eq!(format_v(&Value::map(m)), "map[a:1s b:true]");
        let t = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21.5Z").unwrap();
        assert_eq!(format_time(&t), "2026-02-12 14:10:21.5 +0000 UTC");
        let t = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21+02:00").unwrap();
        assert_eq!(format_time(&t), "2026-02-12 14:10:21 +0200 +0200");
        assert_eq!(format_time_rfc3339(&t), "2026-02-12T14:10:21+02:00");
        let t = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21.120Z").unwrap();
        assert_eq!(format_time_rfc3339(&t), "2026-02-12T14:10:21.12Z");
    }
}
