//! Key/value parsing behind `ParseKV` and `ParseKVLax`.

use std::sync::LazyLock;

use regex::Regex;

/// Upstream's pattern: `key=value`, `key="quoted value"` (escapes kept), or `key=` (empty).
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    // Compiled as Go compiles it: `\s` is ASCII white space only.
    Regex::new(&cs_expr::translate_go_regex(
        r#"(?P<key>[^=\s]+)=(?:"(?P<quoted_value>[^"\\]*(?:\\.[^"\\]*)*)"|(?P<value>[^=\s]+)|\s*)"#,
    ))
    .expect("static key/value pattern is valid")
});

/// Start of a key for the lax parser.
static KEY_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([a-zA-Z_][a-zA-Z0-9_.-]*)=").expect("static key pattern is valid")
});

/// `ParseKV`: every `key=value` pair of `blob` in order (a later key overwrites an earlier one
/// when inserted into a map); `None` when there is no pair at all.
pub fn parse_kv(blob: &str) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = KEY_VALUE
        .captures_iter(blob)
        .map(|c| {
            let key = c.name("key").map_or("", |m| m.as_str()).to_owned();
            let value = c
                .name("quoted_value")
                .filter(|m| !m.as_str().is_empty())
                .or_else(|| c.name("value").filter(|m| !m.as_str().is_empty()))
                .map_or("", |m| m.as_str())
                .to_owned();
            (key, value)
        })
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// True when byte `pos` of `s` lies inside a double-quoted run (unescaped quotes toggle).
fn inside_quotes(s: &[u8], pos: usize) -> bool {
    let mut inside = false;
    for i in 0..=pos.min(s.len().saturating_sub(1)) {
        if s[i] != b'"' {
            continue;
        }
        let backslashes = s[..i].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            inside = !inside;
        }
    }
    inside
}

fn lax_value(raw: &str) -> String {
    match raw.strip_prefix('"') {
        None => raw.to_owned(),
        Some(rest) => match rest.strip_suffix('"') {
            Some(body) => body.replace(r"\\", r"\").replace(r#"\""#, "\""),
            None => rest.to_owned(),
        },
    }
}

/// `ParseKVLax`: values run until the next `key=` that is not inside quotes, trimmed; quoted
/// values lose their quotes and get `\\` and `\"` unescaped. `None` when no key is found.
pub fn parse_kv_lax(blob: &str) -> Option<Vec<(String, String)>> {
    let bytes = blob.as_bytes();
    let keys: Vec<(usize, usize, &str)> = KEY_START
        .captures_iter(blob)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let key = c.get(1)?;
            (!inside_quotes(bytes, whole.start())).then_some((
                whole.start(),
                whole.end(),
                key.as_str(),
            ))
        })
        .collect();
    if keys.is_empty() {
        return None;
    }
    let pairs = keys
        .iter()
        .enumerate()
        .map(|(i, &(_, value_start, key))| {
            let value_end = keys.get(i + 1).map_or(blob.len(), |k| k.0);
            (
                key.to_owned(),
                lax_value(blob[value_start..value_end].trim()),
            )
        })
        .collect();
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(blob: &str, expected: &[(&str, &str)]) {
        let got = parse_kv(blob).unwrap_or_default();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want, "ParseKV({blob:?})");
    }

    #[test]
    fn strict() {
        check(
            r#"a=1 b="x y" c= d=e"#,
            &[("a", "1"), ("b", "x y"), ("c", ""), ("d", "e")],
        );
        check(r#"msg="say \"hi\"""#, &[("msg", r#"say \"hi\""#)]);
        // A no-break space is not white space for Go's `\s`: it stays in the value.
        check("a=x\u{a0}y b=2", &[("a", "x\u{a0}y"), ("b", "2")]);
        assert!(parse_kv("no pairs here").is_none());
    }

    #[test]
    fn lax() {
        let got = parse_kv_lax(r#"user=john doe action="log in" note="a \"b\" key=v" x=1"#)
            .unwrap_or_default();
        assert_eq!(
            got,
            vec![
                ("user".to_owned(), "john doe".to_owned()),
                ("action".to_owned(), "log in".to_owned()),
                ("note".to_owned(), r#"a "b" key=v"#.to_owned()),
                ("x".to_owned(), "1".to_owned()),
            ]
        );
        assert!(parse_kv_lax("nothing").is_none());
    }
}
