//! URL helpers with Go `net/url` semantics (`QueryUnescape`, `PathEscape`, `ParseUri`, ...) and
//! CrowdSec's lenient `ParseQuery` / `ExtractQueryParam`.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Query parameters: name → values in order of appearance (Go `url.Values`).
pub type QueryValues = BTreeMap<String, Vec<String>>;

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go `url.unescape`: `%XX` must be two hex digits (else an error), `+` becomes a space only in
/// query mode. Text without escapes is returned as is.
fn strict_unescape(s: &str, query: bool) -> Option<Cow<'_, str>> {
    if !(s.contains('%') || (query && s.contains('+'))) {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val)?;
                let lo = bytes.get(i + 2).copied().and_then(hex_val)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Go `url.QueryUnescape`; CrowdSec returns the input unchanged when it is malformed. The input
/// is borrowed when it comes back unchanged.
pub fn query_unescape(s: &str) -> Cow<'_, str> {
    strict_unescape(s, true).unwrap_or(Cow::Borrowed(s))
}

/// Go `url.PathUnescape`; CrowdSec returns the input unchanged when it is malformed. The input
/// is borrowed when it comes back unchanged.
pub fn path_unescape(s: &str) -> Cow<'_, str> {
    strict_unescape(s, false).unwrap_or(Cow::Borrowed(s))
}

fn escape(s: &str, keep: impl Fn(u8) -> bool, space_plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || keep(b) {
            out.push(b as char);
        } else if b == b' ' && space_plus {
            out.push('+');
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// Go `url.QueryEscape`: only unreserved characters stay, space becomes `+`.
pub fn query_escape(s: &str) -> String {
    escape(s, |_| false, true)
}

/// Go `url.PathEscape`: escapes for a path segment (`/ ; , ?` and non-unreserved bytes).
pub fn path_escape(s: &str) -> String {
    escape(
        s,
        |b| matches!(b, b'$' | b'&' | b'+' | b':' | b'=' | b'@'),
        false,
    )
}

/// Go `url.ParseQuery`: `&`-separated pairs, strict unescaping; a pair with a bad escape or a
/// `;` in its key is skipped and makes the result an error (the good pairs are still returned).
pub fn go_parse_query(query: &str) -> (QueryValues, bool) {
    let mut values = QueryValues::new();
    let mut ok = true;
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        if pair.contains(';') {
            ok = false;
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (strict_unescape(k, true), strict_unescape(v, true)) {
            (Some(k), Some(v)) => values
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned()),
            _ => ok = false,
        }
    }
    (values, ok)
}

/// CrowdSec `ParseUri(uri)`: Go `url.Parse` then `url.ParseQuery` of the raw query; any error
/// yields an empty map.
pub fn parse_uri(uri: &str) -> QueryValues {
    // Go's url.Parse rejects ASCII control characters and a leading ':' (missing scheme).
    if uri.bytes().any(|b| b < 0x20 || b == 0x7f) || uri.starts_with(':') {
        return QueryValues::new();
    }
    let without_fragment = uri.split_once('#').map_or(uri, |(u, _)| u);
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    // The path must unescape cleanly too, or url.Parse fails.
    if strict_unescape(path, false).is_none() {
        return QueryValues::new();
    }
    match go_parse_query(query) {
        (values, true) => values,
        (_, false) => QueryValues::new(),
    }
}

/// CrowdSec's lenient percent-decoding: `+` is a space, a malformed `%` escape is kept literally.
fn lenient_unescape(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 2;
            } else {
                out.push(b);
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CrowdSec `ParseQuery(q)`: like Go's but `;` is allowed anywhere and unescaping never fails.
pub fn parse_query(query: &str) -> QueryValues {
    let mut values = QueryValues::new();
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        values
            .entry(lenient_unescape(k))
            .or_default()
            .push(lenient_unescape(v));
    }
    values
}

/// CrowdSec `ExtractQueryParam(uri, name)`: values of `name` in the part after the first `?`.
pub fn extract_query_param(uri: &str, name: &str) -> Vec<String> {
    uri.split_once('?')
        .and_then(|(_, q)| parse_query(q).remove(name))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaping() {
        assert_eq!(query_unescape("a+b%20c"), "a b c");
        assert_eq!(path_unescape("a+b%20c"), "a+b c");
        assert_eq!(query_unescape("100%"), "100%");
        assert_eq!(query_unescape("%zz"), "%zz");
        assert_eq!(path_unescape("%2e%2E/etc"), "../etc");
    }

    #[test]
    fn escaping() {
        assert_eq!(query_escape("a b/c?d=e&f"), "a+b%2Fc%3Fd%3De%26f");
        assert_eq!(path_escape("a b/c;d@e:f"), "a%20b%2Fc%3Bd@e:f");
    }

    #[test]
    fn queries() {
        let q = parse_uri("/index.php?a=1&b=2&a=3#frag");
        assert_eq!(q["a"], vec!["1", "3"]);
        assert_eq!(q["b"], vec!["2"]);
        assert!(parse_uri("/x?a=1;b=2").is_empty());
        assert!(parse_uri("/x?a=%zz").is_empty());
        let lax = parse_query("a=1;b=2&c=%zz&d=%41+");
        assert_eq!(lax["a"], vec!["1;b=2"]);
        assert_eq!(lax["c"], vec!["%zz"]);
        assert_eq!(lax["d"], vec!["A "]);
        assert_eq!(extract_query_param("/p?x=1&x=2", "x"), vec!["1", "2"]);
        assert!(extract_query_param("/p", "x").is_empty());
    }
}
