//! Go `fmt.Sprintf` (for `Sprintf` and `LogInfo`) and Go `encoding/json` marshalling (for
//! `ToJsonString`) of expression values.
//!
//! `%v` formatting itself lives in `cs_expr::format`; this module adds verbs, flags, width and
//! precision, and Go's error notation for mismatched arguments (`%!d(string=x)`,
//! `%!s(MISSING)`, `%!(EXTRA int=1)`).

use std::fmt::Write as _;

use cs_expr::Value;
use cs_expr::format::{format_duration, format_float, format_time, format_time_rfc3339, format_v};

#[derive(Debug, Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Pad `s` to the spec's width (spaces, or zeros after the sign for numbers).
fn pad(out: &mut String, s: &str, spec: &Spec, numeric: bool) {
    let len = s.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(s);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('+' | '-' | ' ')) => (Some(c), &s[1..]),
            _ => (None, s),
        };
        if let Some(c) = sign {
            out.push(c);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

/// Go `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') || c == '\u{FEFF}' => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bad_verb(out: &mut String, verb: char, v: &Value<'_>) {
    match v {
        Value::Nil => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        v => {
            let _ = write!(out, "%!{verb}({}={})", v.type_name(), format_v(v));
        }
    }
}

fn fmt_int(out: &mut String, i: i64, verb: char, spec: &Spec) {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => u.to_string(),
        'b' => format!("{u:b}"),
        'o' | 'O' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        _ => unreachable!("integer verbs are filtered by the caller"),
    };
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let prefix = match verb {
        'x' if spec.sharp => "0x",
        'X' if spec.sharp => "0X",
        'o' if spec.sharp && !digits.starts_with('0') => "0",
        'O' => "0o",
        'b' if spec.sharp => "0b",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    // Go ignores the 0 flag when a precision is given for integers.
    let zero_ok = spec.prec.is_none();
    pad(
        out,
        &s,
        &Spec {
            zero: spec.zero && zero_ok,
            ..*spec
        },
        true,
    );
}

/// Go `strconv.FormatFloat(f, 'g', prec, 64)` for an explicit precision.
fn format_g_prec(f: f64, prec: usize, upper: bool) -> String {
    if !f.is_finite() {
        return format_float(f);
    }
    let p = prec.max(1);
    let s = format!("{:.*e}", p - 1, f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let mut eprec = p as i32;
    if eprec > nd && nd > exp {
        eprec = nd;
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_owned();
        if nd > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = if upper { 'E' } else { 'e' };
        format!(
            "{sign}{m}{e}{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    } else {
        let decimals = (nd - 1 - exp).max(0) as usize;
        format!("{sign}{:.*}", decimals, f.abs())
    }
}

fn fmt_float(out: &mut String, f: f64, verb: char, spec: &Spec) {
    if !f.is_finite() {
        // Go prints `+Inf`, `-Inf` and `NaN` for every float verb, never zero-padded; a space
        // flag replaces the `+` of `+Inf`.
        let s = match format_float(f) {
            s if spec.space && !spec.plus && s.starts_with('+') => s.replacen('+', " ", 1),
            s => s,
        };
        pad(out, &s, spec, false);
        return;
    }
    let upper = matches!(verb, 'G' | 'E');
    let mut s = match verb {
        'v' | 'g' | 'G' => match spec.prec {
            Some(p) => format_g_prec(f, p, upper),
            None if upper => format_float(f).to_uppercase(),
            None => format_float(f),
        },
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f),
        'e' | 'E' => {
            let s = cs_expr::format::format_float_e(f, spec.prec.unwrap_or(6));
            if upper { s.to_uppercase() } else { s }
        }
        _ => unreachable!("float verbs are filtered by the caller"),
    };
    if !s.starts_with('-') {
        if spec.plus {
            s.insert(0, '+');
        } else if spec.space {
            s.insert(0, ' ');
        }
    }
    pad(out, &s, spec, true);
}

fn fmt_str(out: &mut String, s: &str, verb: char, spec: &Spec) {
    let truncated: String;
    let s = match spec.prec {
        Some(p) if verb == 's' || verb == 'v' => {
            truncated = s.chars().take(p).collect();
            truncated.as_str()
        }
        _ => s,
    };
    match verb {
        's' | 'v' => pad(out, s, spec, false),
        'q' => pad(out, &go_quote(s), spec, false),
        'x' | 'X' => {
            let mut h = String::with_capacity(s.len() * 2);
            for b in s.bytes() {
                if verb == 'x' {
                    let _ = write!(h, "{b:02x}");
                } else {
                    let _ = write!(h, "{b:02X}");
                }
            }
            pad(out, &h, spec, false);
        }
        _ => unreachable!("string verbs are filtered by the caller"),
    }
}

/// Format one argument with one verb.
fn fmt_arg(out: &mut String, v: &Value<'_>, verb: char, spec: &Spec) {
    match (v, verb) {
        (Value::List(l), _) if verb != 'T' => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, &item, verb, spec);
            }
            out.push(']');
        }
        (Value::Map(m), _) if verb != 'T' => {
            out.push_str("map[");
            for (i, k) in m.keys().into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, &Value::str(k), verb, spec);
                out.push(':');
                fmt_arg(out, &m.get(k).unwrap_or_default(), verb, spec);
            }
            out.push(']');
        }
        (_, 'T') => pad(out, v.type_name(), spec, false),
        (Value::Nil, 'v') => pad(out, "<nil>", spec, false),
        (Value::Bool(b), 'v' | 't') => pad(out, if *b { "true" } else { "false" }, spec, false),
        (Value::Int(i), 'v' | 'd' | 'b' | 'o' | 'O' | 'x' | 'X') => fmt_int(out, *i, verb, spec),
        (Value::Int(i), 'c') => {
            let c = u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &c.to_string(), spec, false);
        }
        (Value::Int(i), 'q') => {
            let c = u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let q = go_quote(&c.to_string());
            pad(
                out,
                &format!("'{}'", &q[1..q.len() - 1].replace("\\\"", "\"")),
                spec,
                false,
            );
        }
        (Value::Int(i), 'U') => pad(out, &format!("U+{i:04X}"), spec, false),
        (Value::Float(f), 'v' | 'g' | 'G' | 'f' | 'F' | 'e' | 'E') => {
            fmt_float(out, *f, verb, spec)
        }
        (Value::Str(s), 'v' | 's' | 'q' | 'x' | 'X') => fmt_str(out, s.as_str(), verb, spec),
        // time.Duration is an int64 with a String method: %v and %s use String, %d the number.
        (Value::Duration(d), 'v' | 's') => pad(out, &format_duration(*d), spec, false),
        (Value::Duration(d), 'q') => pad(out, &go_quote(&format_duration(*d)), spec, false),
        (Value::Duration(d), 'd' | 'b' | 'o' | 'O' | 'x' | 'X') => fmt_int(out, *d, verb, spec),
        (Value::Time(t), 'v' | 's') => pad(out, &format_time(t), spec, false),
        (Value::Time(t), 'q') => pad(out, &go_quote(&format_time(t)), spec, false),
        (Value::Object(_), 'v') => pad(out, &format_v(v), spec, false),
        _ => bad_verb(out, verb, v),
    }
}

/// Go `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut argi = 0usize;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        // Flags.
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        // Width (digits or `*`).
        let num = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, argi: &mut usize| {
            if chars.peek().map(|&(_, c)| c) == Some('*') {
                chars.next();
                let n = args.get(*argi).and_then(Value::as_int);
                *argi += 1;
                return n.map(|n| n.unsigned_abs() as usize);
            }
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(v) = d.to_digit(10) else { break };
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize));
                chars.next();
            }
            n
        };
        spec.width = num(&mut chars, &mut argi);
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            spec.prec = Some(num(&mut chars, &mut argi).unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if verb == 'v' {
            // For %v, Go reads `+` as "field names" and `#` as "Go syntax", not as number
            // flags: `%+v` of 5 is "5". Field names only matter for structs.
            spec.plus = false;
            spec.sharp = false;
        }
        match args.get(argi) {
            Some(arg) => {
                argi += 1;
                fmt_arg(&mut out, arg, verb, &spec);
            }
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
        }
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Nil => out.push_str("<nil>"),
                a => {
                    let _ = write!(out, "{}={}", a.type_name(), format_v(a));
                }
            }
        }
        out.push(')');
    }
    out
}

/// Go `encoding/json` float text: shortest digits, exponent form below 1e-6 and from 1e21.
fn json_float(out: &mut String, f: f64) {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // Shortest digits in exponent form, with Go's cleanup of `e-07` into `e-7`.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let _ = write!(
            out,
            "{mant}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
        if let Some(pos) = out.rfind("e-0") {
            out.remove(pos + 2);
        } else if let Some(pos) = out.rfind("e+0") {
            out.remove(pos + 2);
        }
    } else {
        // Shortest round-trip digits in plain notation.
        let _ = write!(out, "{f}");
    }
}

/// Go `encoding/json` string escaping (HTML-safe: `<`, `>` and `&` become `\u003c`...).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

const MAX_JSON_DEPTH: usize = 64;

fn json_value(out: &mut String, v: &Value<'_>, depth: usize) -> Option<()> {
    if depth > MAX_JSON_DEPTH {
        return None;
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_finite() => json_float(out, *f),
        // Go refuses NaN and infinities.
        Value::Float(_) => return None,
        Value::Str(s) => json_string(out, s.as_str()),
        Value::Time(t) => json_string(out, &format_time_rfc3339(t)),
        Value::Duration(d) => {
            let _ = write!(out, "{d}");
        }
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(out, &item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, k) in m.keys().into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                json_value(out, &m.get(k).unwrap_or_default(), depth + 1)?;
            }
            out.push('}');
        }
        Value::Object(o) => {
            let st = o.get().struct_type();
            out.push('{');
            for (i, field) in st.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, field.name);
                out.push(':');
                json_value(out, &o.field(i), depth + 1)?;
            }
            out.push('}');
        }
    }
    Some(())
}

/// Go `json.Marshal(v)`; `None` when Go would fail (NaN, infinities).
pub fn to_json(v: &Value<'_>) -> Option<String> {
    let mut out = String::new();
    json_value(&mut out, v, 0)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(format: &str, args: &[Value<'_>], expected: &str) {
        assert_eq!(sprintf(format, args), expected, "Sprintf({format:?})");
    }

    #[test]
    fn verbs() {
        check("%v", &[Value::Float(1e6)], "1e+06");
        check(
            "%v|%d|%s",
            &[Value::Int(5), Value::Int(-3), Value::str("x")],
            "5|-3|x",
        );
        check(
            "%05d|%-4d|%+d|%x|%#x|%X|%o|%b",
            &[
                7.into(),
                7.into(),
                7.into(),
                255.into(),
                255.into(),
                255.into(),
                8.into(),
                5.into(),
            ],
            "00007|7   |+7|ff|0xff|FF|10|101",
        );
        check(
            "%.2f|%f|%e|%g|%.3g",
            &[
                Value::Float(3.14259),
                Value::Float(1.0),
                Value::Float(1234.5678),
                Value::Float(0.000012),
                Value::Float(1234.5678),
            ],
            "3.14|1.000000|1.234568e+03|1.2e-05|1.23e+03",
        );
        check(
            "%q|%5s|%-5s|%.2s",
            &[
                Value::str("a\"b\n"),
                Value::str("ab"),
                Value::str("ab"),
                Value::str("abcdef"),
            ],
            "\"a\\\"b\\n\"|   ab|ab   |ab",
        );
        check("%t|%v", &[Value::Bool(true), Value::Nil], "true|<nil>");
        check("%d", &[Value::str("x")], "%!d(string=x)");
        check("%s", &[Value::Int(5)], "%!s(int=5)");
        check("%d", &[Value::Float(1.5)], "%!d(float64=1.5)");
        check("%s %s", &[Value::str("a")], "a %!s(MISSING)");
        check("%s", &[Value::str("a"), Value::Int(1)], "a%!(EXTRA int=1)");
        check("100%%", &[], "100%");
        check("%v", &[Value::string_list(["a", "b"])], "[a b]");
        check("%q", &[Value::string_list(["a", "b"])], "[\"a\" \"b\"]");
        check("%T|%T", &[Value::Int(1), Value::str("s")], "int|string");
        check(
            "%v|%s|%d",
            &[
                Value::Duration(90_000_000_000),
                Value::Duration(1_500_000_000),
                Value::Duration(2),
            ],
            "1m30s|1.5s|2",
        );
        check("%x", &[Value::str("hi")], "6869");
        check("%c|%U", &[Value::Int(65), Value::Int(0x1F600)], "A|U+1F600");
        check("%s", &[Value::Nil], "%!s(<nil>)");
        check(
            "%6.2f|%-8.3f|",
            &[Value::Float(3.14259), Value::Float(2.0)],
            "  3.14|2.000   |",
        );
        check("%", &[], "%!(NOVERB)");
        check(
            "%+v|%+v",
            &[
                Value::Int(5),
                Value::list(vec![Value::Int(1), Value::Int(2)]),
            ],
            "5|[1 2]",
        );
    }

    #[test]
    fn json() {
        let v = Value::list(vec![
            Value::Int(1),
            Value::Float(2.5),
            Value::str("<a&b>"),
            Value::Nil,
            Value::Bool(false),
            Value::Float(1e21),
            Value::Float(1e-7),
            Value::Float(100.0),
        ]);
        assert_eq!(
            to_json(&v).as_deref(),
            Some(r#"[1,2.5,"\u003ca\u0026b\u003e",null,false,1e+21,1e-7,100]"#)
        );
        assert_eq!(to_json(&Value::Float(f64::NAN)), None);
    }
}
