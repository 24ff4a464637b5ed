//! Go `regexp` (RE2) patterns on the `regex` crate. The dialects differ: Perl classes
//! `\d \w \s \b` are ASCII in Go but Unicode in Rust, Go reads a `{` that does not start a valid
//! repetition as a literal, and Go supports `\Q...\E` quoting. Patterns are rewritten before
//! compiling.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

/// True when `rest` (just after a `{`) starts with `n}`, `n,}` or `n,m}`.
fn valid_repetition(rest: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    let mut tail = &rest[n..];
    if let Some(t) = tail.strip_prefix(',') {
        tail = &t[digits(t)..];
    }
    tail.starts_with('}')
}

/// Rewrites a Go pattern into an equivalent `regex` crate pattern.
pub fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                if e == 'Q' && !in_class {
                    // `\Q...\E` quotes everything up to `\E` or the end of the pattern.
                    let rest: String = chars.clone().collect();
                    let (lit, consumed) = match rest.find("\\E") {
                        Some(end) => (&rest[..end], end + 2),
                        None => (rest.as_str(), rest.len()),
                    };
                    out.push_str(&regex::escape(lit));
                    for _ in 0..rest[..consumed].chars().count() {
                        chars.next();
                    }
                    continue;
                }
                let (outside, inside) = match e {
                    'd' => ("[0-9]", "0-9"),
                    'D' => ("[^0-9]", "[:^digit:]"),
                    'w' => ("[0-9A-Za-z_]", "0-9A-Za-z_"),
                    'W' => ("[^0-9A-Za-z_]", "[:^word:]"),
                    's' => ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "),
                    'S' => ("[^\\t\\n\\f\\r ]", "[:^space:]"),
                    'b' if !in_class => ("(?-u:\\b)", ""),
                    'B' if !in_class => ("(?-u:\\B)", ""),
                    _ => {
                        out.push('\\');
                        out.push(e);
                        continue;
                    }
                };
                out.push_str(if in_class { inside } else { outside });
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class
                && chars.peek() == Some(&':')
                && chars.clone().collect::<String>().contains(":]") =>
            {
                // POSIX class `[:alpha:]` inside a bracket expression. Without a closing `:]`
                // Go reads the `[` as a literal (next arm).
                out.push('[');
                let mut prev = '[';
                for c2 in chars.by_ref() {
                    out.push(c2);
                    if prev == ':' && c2 == ']' {
                        break;
                    }
                    prev = c2;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str("\\["),
            // Go has no class set operations: `&&` and `~~` are literal characters there.
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class && !valid_repetition(&chars.clone().collect::<String>()) => {
                out.push_str("\\{");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles a Go pattern.
pub fn compile(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Arc<Regex>>> = RefCell::new(HashMap::new());
    }
    if let Some(re) = CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Arc::new(Regex::new(&translate(pattern))?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        // Patterns built at run time can be unbounded; keep the cache small.
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    });
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, input: &str, expected: bool) {
        let re = compile(pattern).unwrap();
        assert_eq!(
            re.is_match(input),
            expected,
            "{pattern} on {input:?} ({})",
            translate(pattern)
        );
    }

    #[test]
    fn perl_classes_are_ascii() {
        check(r"^\d+$", "123", true);
        check(r"^\d+$", "١٢٣", false);
        check(r"^\w+$", "héllo", false);
        check(r"^[\w.-]+$", "a.b-c_d", true);
        check(r"^[^\d]+$", "abc", true);
        check(r"\bfoo\b", "a foo b", true);
        check(r"^[\D]+$", "ab", true);
        check(r"^[[:alpha:]]+$", "abc", true);
        check(r"^[]a]+$", "]a", true);
        check(r"(?i)^ABC\s", "abc def", true);
        check(r"\/admin", "/admin", true);
        check(r"^[\w.]+$", "a.b_c", true);
        check(r"^\s$", "\u{a0}", false);
        check(r"^\S+$", "abc", true);
    }

    #[test]
    fn class_brackets() {
        check(r"[]a]", "]", true);
        check(r"[^]a]", "b", true);
        check(r"[^]a]", "]", false);
        check(r"[[:digit:]]+", "42", true);
        check(r"^[[a]$", "[", true);
        check(r"^[~]+$", "~~", true);
        // `[:` without a closing `:]` is a literal `[` then `:`.
        check(r"^[[:a]+$", "[:a", true);
    }

    #[test]
    fn literal_braces_and_quotes() {
        check(r"a{", "xa{", true);
        check(r"a{,3}", "a{,3}", true);
        check(r"{foo}", "{foo}", true);
        check(r"a{2}", "aa", true);
        check(r"a{2,}", "aaa", true);
        check(r"\Qa.b\E", "a.b", true);
        check(r"\Qa.b\E", "axb", false);
        check(r"\Q(x", "(x", true);
        check(r"^[a&&b]$", "&", true);
        check(r"^[a~~b]+$", "~a", true);
    }

    #[test]
    fn invalid_patterns_fail() {
        assert!(compile("(").is_err());
        assert!(compile("a{2,1}").is_err());
    }
}
