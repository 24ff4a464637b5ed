//! JSON helpers: path extraction with `buger/jsonparser` semantics (`JsonExtract`,
//! `JsonExtractLib`, `JsonExtractUnescape`, `JsonExtractSlice`, `JsonExtractObject`).
//!
//! Extraction scans the text without building a tree and returns the raw bytes of the value, as
//! jsonparser does: strings come back without their quotes but still escaped, numbers and
//! containers as written.

/// Kind of a JSON value found by [`extract`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// A string (the returned text is the raw content between the quotes).
    String,
    /// A number (not validated beyond its first character, like jsonparser).
    Number,
    /// An object (`{...}`).
    Object,
    /// An array (`[...]`).
    Array,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

fn skip_ws(d: &[u8], mut i: usize) -> usize {
    while i < d.len() && matches!(d[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Index just after the closing quote of the string starting at `d[i] == '"'`.
fn string_end(d: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < d.len() {
        match d[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Index just after the bracket closing the block that starts at `d[i]`.
fn block_end(d: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < d.len() {
        match d[j] {
            b'"' => {
                j = string_end(d, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// The value starting at `d[i]`: its end index and kind.
fn value_end(d: &[u8], i: usize) -> Option<(usize, JsonKind)> {
    match *d.get(i)? {
        b'"' => Some((string_end(d, i)?, JsonKind::String)),
        b'{' => Some((block_end(d, i)?, JsonKind::Object)),
        b'[' => Some((block_end(d, i)?, JsonKind::Array)),
        first => {
            let mut end = i;
            while end < d.len()
                && !matches!(d[end], b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']')
            {
                end += 1;
            }
            let token = &d[i..end];
            let kind = match first {
                b'-' | b'0'..=b'9' => JsonKind::Number,
                _ if token == b"true" || token == b"false" => JsonKind::Bool,
                _ if token == b"null" => JsonKind::Null,
                _ => return None,
            };
            Some((end, kind))
        }
    }
}

/// Outcome of an extraction that did not find a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// The key path does not exist.
    NotFound,
    /// The text is not JSON where the path leads.
    Malformed,
}

fn key_matches(raw_key: &[u8], key: &str) -> bool {
    if raw_key.contains(&b'\\') {
        unescape(raw_key).is_some_and(|k| k == key)
    } else {
        raw_key == key.as_bytes()
    }
}

fn navigate(d: &[u8], i: usize, keys: &[&str]) -> Result<(usize, usize, JsonKind), ExtractError> {
    let i = skip_ws(d, i);
    let Some((&key, rest)) = keys.split_first() else {
        let (end, kind) = value_end(d, i).ok_or(ExtractError::Malformed)?;
        return Ok((i, end, kind));
    };
    match d.get(i) {
        Some(b'{') => {
            let mut j = skip_ws(d, i + 1);
            loop {
                match d.get(j) {
                    Some(b'"') => {}
                    _ => return Err(ExtractError::NotFound),
                }
                let key_end = string_end(d, j).ok_or(ExtractError::Malformed)?;
                let raw_key = &d[j + 1..key_end - 1];
                j = skip_ws(d, key_end);
                if d.get(j) != Some(&b':') {
                    return Err(ExtractError::Malformed);
                }
                j = skip_ws(d, j + 1);
                if key_matches(raw_key, key) {
                    return navigate(d, j, rest);
                }
                let (end, _) = value_end(d, j).ok_or(ExtractError::Malformed)?;
                j = skip_ws(d, end);
                match d.get(j) {
                    Some(b',') => j = skip_ws(d, j + 1),
                    _ => return Err(ExtractError::NotFound),
                }
            }
        }
        Some(b'[') if key.starts_with('[') => {
            // jsonparser reads the index with Atoi and ignores the error (so `[x]` means 0).
            let inner = key.get(1..key.len().saturating_sub(1)).unwrap_or("");
            let wanted: i64 = inner.parse().unwrap_or(0);
            let mut j = skip_ws(d, i + 1);
            let mut idx = 0i64;
            while j < d.len() && d[j] != b']' {
                if idx == wanted {
                    return navigate(d, j, rest);
                }
                let (end, _) = value_end(d, j).ok_or(ExtractError::Malformed)?;
                j = skip_ws(d, end);
                if d.get(j) == Some(&b',') {
                    j = skip_ws(d, j + 1);
                }
                idx += 1;
            }
            Err(ExtractError::NotFound)
        }
        Some(_) => Err(ExtractError::NotFound),
        None => Err(ExtractError::Malformed),
    }
}

/// jsonparser `Get(data, keys...)`: raw text and kind of the value at `keys` (`[n]` indexes an
/// array). Strings are returned without quotes and still escaped.
pub fn extract<'a>(data: &'a str, keys: &[&str]) -> Result<(&'a str, JsonKind), ExtractError> {
    let d = data.as_bytes();
    let (start, end, kind) = navigate(d, 0, keys)?;
    let (start, end) = if kind == JsonKind::String {
        (start + 1, end - 1)
    } else {
        (start, end)
    };
    // Boundaries are ASCII delimiters, so they are always char boundaries.
    Ok((data.get(start..end).ok_or(ExtractError::Malformed)?, kind))
}

/// Turn a CrowdSec dotted path (`a.b[0].c`) into jsonparser keys (`a`, `b`, `[0]`, `c`) without
/// copying: upstream puts a `.` before every `[` (unless the path starts with `[`) and splits
/// on `.`, so a segment is cut before each of its `[` (`a.[0]` gives `a`, ``, `[0]`).
pub fn split_path(path: &str) -> Vec<&str> {
    let mut keys = Vec::with_capacity(4);
    if path.starts_with('[') {
        keys.extend(path.split('.'));
        return keys;
    }
    for segment in path.split('.') {
        let mut start = 0;
        for (i, _) in segment.match_indices('[') {
            keys.push(&segment[start..i]);
            start = i;
        }
        keys.push(&segment[start..]);
    }
    keys
}

/// CrowdSec `JsonExtractLib(json, keys...)`: the raw value text or `""`.
pub fn json_extract_lib(data: &str, keys: &[&str]) -> String {
    extract(data, keys).map_or_else(|_| String::new(), |(v, _)| v.to_owned())
}

/// CrowdSec `JsonExtract(json, path)`.
pub fn json_extract(data: &str, path: &str) -> String {
    json_extract_lib(data, &split_path(path))
}

/// CrowdSec `JsonExtractUnescape(json, keys...)`: a string value, unescaped; `""` otherwise.
pub fn json_extract_unescape(data: &str, keys: &[&str]) -> String {
    match extract(data, keys) {
        Ok((raw, JsonKind::String)) => unescape(raw.as_bytes()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Decode the value at `path` with Go `encoding/json` rules if it has the wanted kind.
pub fn json_extract_decoded(data: &str, path: &str, want: JsonKind) -> Option<serde_json::Value> {
    match extract(data, &split_path(path)) {
        Ok((raw, kind)) if kind == want => serde_json::from_str(raw).ok(),
        _ => None,
    }
}

fn hex4(d: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(d.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Decode JSON string escapes (jsonparser `Unescape`); a malformed escape yields `None`.
pub fn unescape(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return Some(String::from_utf8_lossy(raw).into_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let esc = *raw.get(i + 1)?;
        i += 2;
        let simple = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(&raw[i..])?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if raw.get(i..i + 2) != Some(b"\\u") {
                        return None;
                    }
                    let lo = hex4(&raw[i + 2..])?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(simple);
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, path: &str, expected: &str) {
        assert_eq!(
            json_extract(json, path),
            expected,
            "JsonExtract({json}, {path})"
        );
    }

    #[test]
    fn extract_paths() {
        let doc =
            r#"{"a": {"b": [1, {"c": "x\"y"}, true]}, "n": null, "num": 1.50, "s": "h\u00e9"}"#;
        check(doc, "a.b[1].c", r#"x\"y"#);
        check(doc, "a.b[0]", "1");
        check(doc, "a.b[2]", "true");
        check(doc, "a.b[3]", "");
        check(doc, "a.b", r#"[1, {"c": "x\"y"}, true]"#);
        check(doc, "n", "null");
        check(doc, "num", "1.50");
        check(doc, "s", r"h\u00e9");
        check(doc, "missing", "");
        check(doc, "a.zz", "");
        check("[{\"a\":1},{\"a\":2}]", "[1].a", "2");
        check("not json", "a", "");
        check(r#"{"t":{"$date":"2024"}}"#, "t.$date", "2024");
    }

    #[test]
    fn path_splitting_like_upstream() {
        assert_eq!(split_path("a.b[0].c"), ["a", "b", "[0]", "c"]);
        assert_eq!(split_path("a[0][1]"), ["a", "[0]", "[1]"]);
        assert_eq!(split_path("a.[0]"), ["a", "", "[0]"]);
        assert_eq!(split_path("[0].a"), ["[0]", "a"]);
        assert_eq!(split_path("[0][1]"), ["[0][1]"]);
        assert_eq!(split_path(""), [""]);
    }

    #[test]
    fn unescaping() {
        let doc = r#"{"log": "a\tb\u00e9\ud83d\ude00\/"}"#;
        assert_eq!(json_extract_unescape(doc, &["log"]), "a\tbé😀/");
        assert_eq!(json_extract_unescape(r#"{"n": 5}"#, &["n"]), "");
        assert_eq!(json_extract_lib(r#"{"a":{"b":"c"}}"#, &["a", "b"]), "c");
    }

    #[test]
    fn decoded() {
        let doc = r#"{"Records": [{"x": 1}, 2]}"#;
        let v = json_extract_decoded(doc, "Records", JsonKind::Array);
        assert_eq!(v, Some(serde_json::json!([{"x": 1}, 2])));
        assert_eq!(json_extract_decoded(doc, "Records", JsonKind::Object), None);
    }
}
