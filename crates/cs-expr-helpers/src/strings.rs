//! String helpers with Go `strings` package semantics (`Upper`, `Split`, `Trim`, `Match`, `B64Decode`, ...).

use base64::Engine as _;

/// Go `strings.ToUpper`: per-rune simple case mapping; a rune whose uppercase form is several
/// characters (such as `ß`) is kept unchanged, as Go does.
pub fn upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Go `strings.ToLower`: per-rune simple case mapping (`İ` becomes `i`, as in Go).
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| {
            let mut low = c.to_lowercase();
            match (low.next(), low.next()) {
                (Some(l), None) => l,
                // Only U+0130 has a multi-character full lowercase; Go's simple mapping is `i`.
                (Some(l), Some(_)) if c == '\u{130}' => l,
                _ => c,
            }
        })
        .collect()
}

/// Go `strings.SplitN`/`SplitAfterN` core: `n < 0` means no limit, `n == 0` gives an empty list,
/// an empty separator splits into UTF-8 characters.
fn split_generic(s: &str, sep: &str, keep_sep: bool, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        // Go's explode: one element per rune, the last one holding the remainder.
        let mut out = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if out.len() + 1 == limit {
                out.push(rest.to_owned());
                return out;
            }
            let ch_len = rest.chars().next().map_or(1, char::len_utf8);
            out.push(rest[..ch_len].to_owned());
            rest = &rest[ch_len..];
        }
        return out;
    }
    let mut out = Vec::new();
    let mut rest = s;
    while out.len() + 1 < limit {
        match rest.find(sep) {
            Some(i) => {
                let end = if keep_sep { i + sep.len() } else { i };
                out.push(rest[..end].to_owned());
                rest = &rest[i + sep.len()..];
            }
            None => break,
        }
    }
    out.push(rest.to_owned());
    out
}

/// Go `strings.Split` (`Split("", ",")` is `[""]`).
pub fn split(s: &str, sep: &str) -> Vec<String> {
    split_generic(s, sep, false, -1)
}

/// Go `strings.SplitN`.
pub fn split_n(s: &str, sep: &str, n: i64) -> Vec<String> {
    split_generic(s, sep, false, n)
}

/// Go `strings.SplitAfter`.
pub fn split_after(s: &str, sep: &str) -> Vec<String> {
    split_generic(s, sep, true, -1)
}

/// Go `strings.SplitAfterN`.
pub fn split_after_n(s: &str, sep: &str, n: i64) -> Vec<String> {
    split_generic(s, sep, true, n)
}

/// Go `strings.Fields`: split around runs of Unicode white space.
pub fn fields(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Go `strings.Index`: byte offset of the first `sub`, or -1.
pub fn index(s: &str, sub: &str) -> i64 {
    s.find(sub).map_or(-1, |i| i as i64)
}

/// Go `strings.IndexAny`: byte offset of the first rune of `s` that appears in `chars`, or -1.
pub fn index_any(s: &str, chars: &str) -> i64 {
    if chars.is_empty() {
        return -1;
    }
    s.char_indices()
        .find(|(_, c)| chars.contains(*c))
        .map_or(-1, |(i, _)| i as i64)
}

/// Go `strings.Replace`: `n < 0` replaces every occurrence.
pub fn replace(s: &str, old: &str, new: &str, n: i64) -> String {
    if n < 0 {
        s.replace(old, new)
    } else {
        s.replacen(old, new, n as usize)
    }
}

/// Go `strings.Trim`: remove leading and trailing runes contained in `cutset`.
pub fn trim<'a>(s: &'a str, cutset: &str) -> &'a str {
    s.trim_matches(|c| cutset.contains(c))
}

/// Go `strings.TrimLeft`.
pub fn trim_left<'a>(s: &'a str, cutset: &str) -> &'a str {
    s.trim_start_matches(|c| cutset.contains(c))
}

/// Go `strings.TrimRight`.
pub fn trim_right<'a>(s: &'a str, cutset: &str) -> &'a str {
    s.trim_end_matches(|c| cutset.contains(c))
}

/// Go `strings.TrimSpace`.
pub fn trim_space(s: &str) -> &str {
    s.trim()
}

/// Go `strings.TrimPrefix` (removes one occurrence at most).
pub fn trim_prefix<'a>(s: &'a str, prefix: &str) -> &'a str {
    s.strip_prefix(prefix).unwrap_or(s)
}

/// Go `strings.TrimSuffix` (removes one occurrence at most).
pub fn trim_suffix<'a>(s: &'a str, suffix: &str) -> &'a str {
    s.strip_suffix(suffix).unwrap_or(s)
}

/// CrowdSec `Match(pattern, name)`: a glob where `*` matches any run of bytes (possibly empty)
/// and `?` exactly one byte; everything else is literal and the whole name must match.
///
/// Upstream is a recursive matcher with one quirk kept here: once the name is exhausted, only
/// the remaining pattern `""` or `"*"` succeeds (so `Match("a**", "a")` is false). This is the
/// same recursion evaluated bottom-up, so it runs in `O(len(pattern) * len(name))`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (plen, nlen) = (p.len(), n.len());
    // next[j] = M(p[pi+1..], n[j..]); cur[j] = M(p[pi..], n[j..]).
    let mut next: Vec<bool> = (0..=nlen).map(|j| j == nlen).collect();
    let mut cur = vec![false; nlen + 1];
    for pi in (0..plen).rev() {
        cur[nlen] = pi + 1 == plen && p[pi] == b'*';
        if p[pi] == b'*' {
            // M("*rest", n[j..]) = any M(rest, n[i..]) for i in j..=nlen.
            let mut any = next[nlen];
            for j in (0..nlen).rev() {
                any |= next[j];
                cur[j] = any;
            }
        } else {
            for j in 0..nlen {
                cur[j] = (p[pi] == b'?' || p[pi] == n[j]) && next[j + 1];
            }
        }
        std::mem::swap(&mut cur, &mut next);
    }
    next[0]
}

/// Go `base64.StdEncoding.DecodeString` (padding required; CR and LF are ignored as in Go).
/// Bytes that are not UTF-8 are replaced, since expression strings are UTF-8.
pub fn b64_decode(s: &str) -> Result<String, base64::DecodeError> {
    let decoded = if s.contains(['\r', '\n']) {
        let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        base64::engine::general_purpose::STANDARD.decode(cleaned)?
    } else {
        base64::engine::general_purpose::STANDARD.decode(s)?
    };
    Ok(String::from_utf8_lossy(&decoded).into_owned())
}

/// Go `strconv.ParseFloat(s, 64)`; CrowdSec's `Atof` returns 0 when parsing fails.
pub fn atof(s: &str) -> f64 {
    parse_go_float(s).unwrap_or(0.0)
}

/// Go `strconv.ParseFloat` for decimal input (underscores are only accepted by Go with a base
/// prefix, so they are rejected here as well).
pub fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.to_ascii_lowercase().parse::<f64>().ok();
    }
    // Rust accepts a few spellings Go does not ("1." is accepted by both; "e5" by neither).
    if !body
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_glob(pattern: &str, name: &str, expected: bool) {
        assert_eq!(
            glob_match(pattern, name),
            expected,
            "Match({pattern:?}, {name:?})"
        );
    }

    #[test]
    fn glob() {
        check_glob("", "", true);
        check_glob("", "a", false);
        check_glob("*", "", true);
        check_glob("**", "", false);
        check_glob("a*", "a", true);
        check_glob("a**", "a", false);
        check_glob("*foo*", "xxfooyy", true);
        check_glob("*foo*", "xxfoyy", false);
        check_glob("?", "é", false);
        check_glob("??", "é", true);
        check_glob("a?c", "abc", true);
        check_glob("a?c", "ac", false);
        check_glob("*.exe", "cmd.exe", true);
        check_glob("*.exe", "cmd.exe ", false);
        check_glob("*?", "a", true);
        check_glob("*a*b*c*", "zzazzbzzczz", true);
    }

    /// Upstream's recursive matcher, transcribed step by step, as the reference.
    fn reference_match(p: &[u8], n: &[u8]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        if n.is_empty() {
            return p == b"*";
        }
        if p[0] == b'*' {
            return (0..=n.len()).any(|i| reference_match(&p[1..], &n[i..]));
        }
        (p[0] == b'?' || p[0] == n[0]) && reference_match(&p[1..], &n[1..])
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_upstream_recursion(p in "[ab*?]{0,7}", n in "[ab]{0,7}") {
            proptest::prop_assert_eq!(glob_match(&p, &n), reference_match(p.as_bytes(), n.as_bytes()));
        }
    }

    #[test]
    fn splitting() {
        assert_eq!(split("", ","), vec![""]);
        assert_eq!(split("a,b,,c", ","), vec!["a", "b", "", "c"]);
        assert_eq!(split("héllo", ""), vec!["h", "é", "l", "l", "o"]);
        assert_eq!(split_n("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert!(split_n("a,b,c", ",", 0).is_empty());
        assert_eq!(split_n("abc", "", 2), vec!["a", "bc"]);
        assert_eq!(split_after("a,b,c", ","), vec!["a,", "b,", "c"]);
        assert_eq!(split_after_n("a,b,c", ",", 2), vec!["a,", "b,c"]);
        assert_eq!(fields("  a \t b\n"), vec!["a", "b"]);
    }

    #[test]
    fn case_mapping() {
        assert_eq!(upper("straße"), "STRAßE");
        assert_eq!(lower("İI"), "ii");
        assert_eq!(upper("abc"), "ABC");
    }

    #[test]
    fn misc() {
        assert_eq!(index_any("golang", "ny"), 4);
        assert_eq!(index_any("golang", ""), -1);
        assert_eq!(replace("oink oink oink", "k", "ky", 2), "oinky oinky oink");
        assert_eq!(replace("oink oink oink", "oink", "moo", -1), "moo moo moo");
        assert_eq!(trim("xxhixx", "x"), "hi");
        assert_eq!(trim_left("xxhixx", "x"), "hixx");
        assert_eq!(trim_prefix("aab", "a"), "ab");
        assert_eq!(b64_decode("aGVsbG8=").as_deref().ok(), Some("hello"));
        assert!(b64_decode("aGVsbG8").is_err());
        assert_eq!(atof("1.5e3"), 1500.0);
        assert_eq!(atof("abc"), 0.0);
        assert_eq!(atof("e5"), 0.0);
    }
}
