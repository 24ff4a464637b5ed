//! Compilation of Go `regexp` (RE2) patterns with the Rust `regex` crate.
//!
//! The two dialects differ in details that matter for hub data files: Go's Perl classes
//! (`\d \w \s \b`) are ASCII-only while Rust's are Unicode, Go reads a `{` that does not
//! start a valid repetition as a literal, and `[`, `&&` and `~~` inside a Go class are plain
//! characters where Rust sees nested classes and set operations. Patterns are rewritten before
//! compilation.

use regex::Regex;

/// Compile a Go regular expression.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&translate(pattern))
}

/// True when `s[i..]` (just after a `{`) holds `n}`, `n,}` or `n,m}`.
fn valid_repetition(s: &[u8], mut i: usize) -> bool {
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if s.get(i) == Some(&b',') {
        i += 1;
        digits(&mut i);
    }
    s.get(i) == Some(&b'}')
}

/// Rewrite a Go pattern into the Rust dialect (see the module docs).
pub fn translate(pattern: &str) -> String {
    let s = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'\\' && i + 1 < s.len() {
            let e = s[i + 1];
            let replacement = match (in_class, e) {
                (false, b'd') => Some("[0-9]"),
                (false, b'D') => Some("[^0-9]"),
                (false, b'w') => Some("[0-9A-Za-z_]"),
                (false, b'W') => Some("[^0-9A-Za-z_]"),
                (false, b's') => Some(r"[\t\n\f\r ]"),
                (false, b'S') => Some(r"[^\t\n\f\r ]"),
                (false, b'b') => Some(r"(?-u:\b)"),
                (false, b'B') => Some(r"(?-u:\B)"),
                (true, b'd') => Some("0-9"),
                (true, b'w') => Some("0-9A-Za-z_"),
                (true, b's') => Some(r"\t\n\f\r "),
                _ => None,
            };
            if let Some(r) = replacement {
                out.push_str(r);
                i += 2;
                continue;
            }
            if e == b'Q' && !in_class {
                // \Q...\E quotes everything up to \E (or the end).
                let rest = &pattern[i + 2..];
                let (lit, consumed) = match rest.find(r"\E") {
                    Some(end) => (&rest[..end], end + 2),
                    None => (rest, rest.len()),
                };
                out.push_str(&regex::escape(lit));
                i += 2 + consumed;
                continue;
            }
            // Copy the escape with its (possibly multi-byte) escaped character.
            let ch_len = pattern[i + 1..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&pattern[i..i + 1 + ch_len]);
            i += 1 + ch_len;
            continue;
        }
        if in_class {
            if c == b'[' && s.get(i + 1) == Some(&b':') {
                // POSIX class like [:alpha:] inside a bracket expression.
                if let Some(end) = pattern[i..].find(":]") {
                    out.push_str(&pattern[i..i + end + 2]);
                    i += end + 2;
                    continue;
                }
            }
            match c {
                b']' => in_class = false,
                // Literal in Go classes, but nested classes and set operators (`&&`, `~~`) in
                // Rust ones.
                b'[' | b'&' | b'~' => {
                    out.push('\\');
                    out.push(c as char);
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if c == b'[' {
            in_class = true;
            out.push('[');
            i += 1;
            // A leading `^` and a `]` right after it are part of the class.
            if s.get(i) == Some(&b'^') {
                out.push('^');
                i += 1;
            }
            if s.get(i) == Some(&b']') {
                out.push_str(r"\]");
                i += 1;
            }
            continue;
        } else if c == b'{' && !valid_repetition(s, i + 1) {
            out.push_str(r"\{");
            i += 1;
            continue;
        }
        let ch_len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, haystack: &str, expected: bool) {
        let re = compile(pattern).expect("pattern compiles");
        assert_eq!(re.is_match(haystack), expected, "{pattern} on {haystack:?}");
    }

    #[test]
    fn ascii_classes() {
        check(r"^\d+$", "123", true);
        check(r"^\d+$", "١٢٣", false);
        check(r"^\w+$", "héllo", false);
        check(r"^[\w.]+$", "a.b_c", true);
        check(r"\bfoo\b", "a foo b", true);
        check(r"^\s$", "\u{a0}", false);
        check(r"^\S+$", "abc", true);
    }

    #[test]
    fn literal_braces_and_quotes() {
        check(r"a{", "xa{", true);
        check(r"a{,3}", "a{,3}", true);
        check(r"a{2}", "aa", true);
        check(r"\Qa.b\E", "a.b", true);
        check(r"\Qa.b\E", "axb", false);
        check(r"[]a]", "]", true);
        check(r"[^]a]", "b", true);
        check(r"[[:digit:]]+", "42", true);
        check(r"^[a&&b]$", "&", true);
        check(r"^[[a]$", "[", true);
        check(r"^[~]+$", "~~", true);
    }
}
