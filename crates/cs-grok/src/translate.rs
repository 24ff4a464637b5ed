//! Rewrites Go RE2 regex syntax into the syntax of the `regex` crates.
//!
//! Upstream compiles grok expressions with RE2 (Go's `regexp/syntax` rules). The two dialects
//! mostly agree; where they differ this module makes the Rust side behave like RE2:
//!
//! * `\d \w \s \b \B` and their negations are ASCII-only in RE2 (`\s` is `[\t\n\f\r ]`,
//!   without `\v`), Unicode-aware in Rust unless spelled out.
//! * Named groups `(?P<n>…)` / `(?<n>…)` are plain capture groups for grok; their names are
//!   dropped so that duplicated names cannot collide.
//! * `\Q…\E`, octal escapes and a `{` that does not start a repetition are literals in RE2.
//! * Escaped punctuation is always a literal in RE2 (`\<` is `<`, not a word boundary).
//! * Inside classes Rust gives `&&`, `--` and `~~` a meaning; every literal is escaped.
//! * Stacked repetition operators (`a**`, possessive `a++`) and lookaround are syntax errors in
//!   RE2; Rust would accept some of them, so they are rejected here.
//!
//! Capture groups keep their numbering, except that groups the caller does not need can be
//! turned into non-capturing groups, which makes matching cheaper.

/// A syntax error found while translating, at a byte offset of the translated input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// The translated expression.
#[derive(Debug)]
pub(crate) struct Translation {
    /// Expression in `regex-syntax` syntax.
    pub text: String,
    /// Number of capture groups of the input (RE2's `NumSubexp`).
    pub groups: usize,
    /// For each kept group, in order: its RE2 group number (index in this list + 1 is its
    /// number in `text`).
    pub kept: Vec<usize>,
    /// Pairs (offset in `text`, offset in the input), increasing, one per token.
    map: Vec<(usize, usize)>,
}

impl Translation {
    /// Maps a byte offset of `text` back to the input.
    pub fn input_offset(&self, out: usize) -> usize {
        let idx = self.map.partition_point(|&(o, _)| o <= out);
        if idx == 0 { 0 } else { self.map[idx - 1].1 }
    }
}

const WORD: &str = "0-9A-Za-z_";
const DIGIT: &str = "0-9";
// RE2's \s: no vertical tab.
const SPACE: &str = r"\t\n\x0C\r ";

/// Translates `src`. `keep(n)` tells whether RE2 group `n` (1-based) stays capturing.
pub(crate) fn translate(
    src: &str,
    keep: &dyn Fn(usize) -> bool,
) -> Result<Translation, SyntaxError> {
    let mut t = Translator {
        src,
        pos: 0,
        out: String::with_capacity(src.len() + src.len() / 4),
        groups: 0,
        kept: Vec::new(),
        map: Vec::new(),
        keep,
    };
    t.run()?;
    Ok(Translation {
        text: t.out,
        groups: t.groups,
        kept: t.kept,
        map: t.map,
    })
}

struct Translator<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    groups: usize,
    kept: Vec<usize>,
    map: Vec<(usize, usize)>,
    keep: &'a dyn Fn(usize) -> bool,
}

/// A single class member parsed by `class_char`.
enum ClassAtom {
    Char(char),
    /// Already translated text to splice into the class.
    Text(String),
}

impl Translator<'_> {
    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            offset,
            message: message.into(),
        })
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn mark(&mut self) {
        self.map.push((self.out.len(), self.pos));
    }

    fn literal(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.out
            .push_str(&regex_syntax::escape(c.encode_utf8(&mut buf)));
    }

    fn run(&mut self) -> Result<(), SyntaxError> {
        // Offset of the last repetition operator when it ends right before the current token.
        let mut last_repeat: Option<usize> = None;
        while let Some(c) = self.peek() {
            self.mark();
            let start = self.pos;
            let mut repeat = None;
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '(' => self.group_open()?,
                '*' | '+' | '?' => {
                    if let Some(prev) = last_repeat {
                        return self.err(prev, nested_repeat(&self.src[prev..=start]));
                    }
                    self.bump();
                    self.out.push(c);
                    if self.peek() == Some('?') {
                        self.bump();
                        self.out.push('?');
                    }
                    repeat = Some(start);
                }
                '{' => match self.repeat_braces()? {
                    Some(text) => {
                        if let Some(prev) = last_repeat {
                            return self.err(prev, nested_repeat(&self.src[prev..=start]));
                        }
                        self.out.push_str(&text);
                        if self.peek() == Some('?') {
                            self.bump();
                            self.out.push('?');
                        }
                        repeat = Some(start);
                    }
                    None => {
                        self.bump();
                        self.out.push_str(r"\{");
                    }
                },
                ')' | '|' | '^' | '$' | '.' => {
                    self.bump();
                    self.out.push(c);
                }
                _ => {
                    self.bump();
                    self.literal(c);
                }
            }
            last_repeat = repeat;
        }
        self.mark();
        Ok(())
    }

    /// Parses `{n}`, `{n,}` or `{n,m}` at the current position the way RE2 does. Returns
    /// `None` (consuming nothing) when the brace is a literal.
    fn repeat_braces(&mut self) -> Result<Option<String>, SyntaxError> {
        let start = self.pos;
        let rest = self.rest();
        let Some(close) = rest.find('}') else {
            return Ok(None);
        };
        let body = &rest[1..close];
        let (min, max) = match body.split_once(',') {
            Some((a, b)) => (a, Some(b)),
            None => (body, None),
        };
        let parse = |s: &str| -> Option<u32> {
            // RE2 refuses leading zeros, which makes the brace a literal.
            if s.is_empty()
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return None;
            }
            Some(s.parse().unwrap_or(u32::MAX))
        };
        let Some(lo) = parse(min) else {
            return Ok(None);
        };
        let hi = match max {
            None => Some(lo),
            Some("") => None,
            Some(m) => match parse(m) {
                Some(v) => Some(v),
                None => return Ok(None),
            },
        };
        if lo > 1000 || hi.is_some_and(|h| h > 1000 || h < lo) {
            return self.err(start, format!("invalid repeat count `{}`", &rest[..=close]));
        }
        let text = rest[..=close].to_string();
        self.pos += close + 1;
        Ok(Some(text))
    }

    fn group_open(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.bump();
        if self.peek() != Some('?') {
            self.capture_group();
            return Ok(());
        }
        let rest = self.rest();
        let named = if let Some(r) = rest.strip_prefix("?P<") {
            Some((3, r))
        } else if let Some(r) = rest.strip_prefix("?<") {
            if r.starts_with('=') || r.starts_with('!') {
                return self.err(
                    start,
                    "lookbehind `(?<=` / `(?<!` is not supported by RE2 syntax",
                );
            }
            Some((2, r))
        } else {
            None
        };
        if let Some((prefix, r)) = named {
            let name_len = r
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if name_len == 0 || r.as_bytes().get(name_len) != Some(&b'>') {
                return self.err(
                    start,
                    "invalid named capture: expected a name of word characters and `>`",
                );
            }
            self.pos += prefix + name_len + 1;
            self.capture_group();
            return Ok(());
        }
        let unsupported = [
            ("?=", "lookahead `(?=` is not supported by RE2 syntax"),
            (
                "?!",
                "negative lookahead `(?!` is not supported by RE2 syntax",
            ),
            ("?>", "atomic group `(?>` is not supported by RE2 syntax"),
            ("?P=", "backreference `(?P=` is not supported by RE2 syntax"),
            ("?#", "comment group `(?#` is not supported by RE2 syntax"),
        ];
        for (prefix, message) in unsupported {
            if rest.starts_with(prefix) {
                return self.err(start, message);
            }
        }
        // Flags: `(?flags)` or `(?flags:`, flags from `imsU`, at most one `-` followed by a flag.
        self.bump();
        let mut seen_minus = false;
        let mut flags_after_minus = 0;
        let mut any = false;
        loop {
            match self.bump() {
                Some('i' | 'm' | 's' | 'U') => {
                    any = true;
                    if seen_minus {
                        flags_after_minus += 1;
                    }
                }
                Some('-') if !seen_minus => seen_minus = true,
                Some(end @ (')' | ':')) => {
                    // `(?:` is a plain group; `(?)`, `(?-)` and `(?i-:` lack flags.
                    if (end == ')' && !any) || (seen_minus && flags_after_minus == 0) {
                        return self.err(
                            start,
                            "missing flags in group: expected one of `i`, `m`, `s`, `U`",
                        );
                    }
                    self.out.push_str(&self.src[start..self.pos]);
                    return Ok(());
                }
                Some(_) => {
                    return self.err(
                        start,
                        "invalid group: expected `:`, `)`, a flag (`i`, `m`, `s`, `U`, `-`) or a name (`P<name>`)",
                    );
                }
                None => return self.err(start, "unclosed group: expected `)`"),
            }
        }
    }

    fn capture_group(&mut self) {
        self.groups += 1;
        if (self.keep)(self.groups) {
            self.kept.push(self.groups);
            self.out.push('(');
        } else {
            self.out.push_str("(?:");
        }
    }

    fn escape(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.bump();
        let Some(c) = self.peek() else {
            return self.err(start, "trailing backslash: expected an escaped character");
        };
        match c {
            'Q' => {
                self.bump();
                let rest = self.rest();
                let (lit, skip) = match rest.find(r"\E") {
                    Some(i) => (&rest[..i], i + 2),
                    None => (rest, rest.len()),
                };
                let lit = lit.to_string();
                self.pos += skip;
                // Emitted character by character, so that a following repetition applies to
                // the last character only, as in RE2.
                for ch in lit.chars() {
                    self.literal(ch);
                }
                Ok(())
            }
            'A' | 'z' => {
                self.bump();
                self.out.push('\\');
                self.out.push(c);
                Ok(())
            }
            'b' => {
                self.bump();
                self.out.push_str(r"(?-u:\b)");
                Ok(())
            }
            'B' => {
                self.bump();
                self.out.push_str(r"(?-u:\B)");
                Ok(())
            }
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                self.bump();
                let (set, negated) = perl_class(c);
                self.out.push('[');
                if negated {
                    self.out.push('^');
                }
                self.out.push_str(set);
                self.out.push(']');
                Ok(())
            }
            'p' | 'P' => {
                let text = self.unicode_class(start)?;
                self.out.push_str(&text);
                Ok(())
            }
            'C' => self.err(start, r"`\C` (any byte) is not supported"),
            _ => {
                let ch = self.escaped_char(start)?;
                self.literal(ch);
                Ok(())
            }
        }
    }

    /// Parses `\pX`, `\p{Name}`, `\PX`, `\P{Name}` (the backslash is at `start`).
    fn unicode_class(&mut self, start: usize) -> Result<String, SyntaxError> {
        self.bump();
        match self.peek() {
            Some('{') => match self.rest().find('}') {
                Some(close) => {
                    self.pos += close + 1;
                    Ok(self.src[start..self.pos].to_string())
                }
                None => self.err(start, "invalid Unicode class: expected `}`"),
            },
            Some(c) if c.is_ascii_alphabetic() => {
                self.bump();
                Ok(self.src[start..self.pos].to_string())
            }
            _ => self.err(start, "invalid Unicode class: expected a class name"),
        }
    }

    /// Parses an escape denoting one character (the backslash at `start` is consumed).
    fn escaped_char(&mut self, start: usize) -> Result<char, SyntaxError> {
        let Some(c) = self.bump() else {
            return self.err(start, "trailing backslash: expected an escaped character");
        };
        match c {
            'a' => Ok('\x07'),
            'f' => Ok('\x0C'),
            't' => Ok('\t'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            'v' => Ok('\x0B'),
            '1'..='7' if !matches!(self.peek(), Some('0'..='7')) => {
                self.err(start, "backreferences are not supported by RE2 syntax")
            }
            '0'..='7' => {
                let mut value = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            self.bump();
                            value = value * 8 + (d as u32 - '0' as u32);
                        }
                        _ => break,
                    }
                }
                // At most three octal digits: always a valid scalar value.
                Ok(char::from_u32(value).unwrap_or('\0'))
            }
            'x' => self.hex_escape(start),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            _ => self.err(start, format!("invalid escape sequence `\\{c}`")),
        }
    }

    fn hex_escape(&mut self, start: usize) -> Result<char, SyntaxError> {
        let digits = if self.peek() == Some('{') {
            let Some(close) = self.rest().find('}') else {
                return self.err(start, r"invalid hex escape: expected `}`");
            };
            let d = self.src[self.pos + 1..self.pos + close].to_string();
            self.pos += close + 1;
            d
        } else {
            let d: String = self.rest().chars().take(2).collect();
            if d.chars().count() < 2 {
                return self.err(start, "invalid hex escape: expected two hex digits");
            }
            self.pos += d.len();
            d
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return self.err(start, "invalid hex escape: expected hex digits");
        }
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(ch) => Ok(ch),
            None => self.err(start, "invalid hex escape: not a Unicode scalar value"),
        }
    }

    fn class(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.bump();
        let mut text = String::from("[");
        if self.peek() == Some('^') {
            self.bump();
            text.push('^');
        }
        let mut first = true;
        loop {
            match self.peek() {
                None => return self.err(start, "missing closing `]` of character class"),
                Some(']') if !first => {
                    self.bump();
                    break;
                }
                _ => {}
            }
            first = false;
            if self.rest().starts_with("[:")
                && let Some(named) = self.named_class(start)?
            {
                text.push_str(&named);
                continue;
            }
            let atom_start = self.pos;
            let lo = self.class_atom()?;
            let ClassAtom::Char(lo) = lo else {
                if let ClassAtom::Text(t) = lo {
                    text.push_str(&t);
                }
                continue;
            };
            let rest = self.rest();
            if rest.starts_with('-') && rest.len() >= 2 && !rest[1..].starts_with(']') {
                self.bump();
                let hi = match self.class_atom()? {
                    ClassAtom::Char(c) => c,
                    ClassAtom::Text(_) => {
                        return self.err(
                            atom_start,
                            "invalid character class range: a class cannot end a range",
                        );
                    }
                };
                if hi < lo {
                    return self.err(
                        atom_start,
                        format!(
                            "invalid character class range `{}`",
                            &self.src[atom_start..self.pos]
                        ),
                    );
                }
                push_class_char(&mut text, lo);
                text.push('-');
                push_class_char(&mut text, hi);
            } else {
                push_class_char(&mut text, lo);
            }
        }
        text.push(']');
        self.out.push_str(&text);
        Ok(())
    }

    /// `[:name:]` inside a class; `None` when the text is not a POSIX class (it is then read
    /// as ordinary characters, as RE2 does).
    fn named_class(&mut self, class_start: usize) -> Result<Option<String>, SyntaxError> {
        let rest = self.rest();
        let Some(end) = rest[2..].find(":]") else {
            return Ok(None);
        };
        let whole = &rest[..end + 4];
        let name = whole[2..whole.len() - 2].trim_start_matches('^');
        const NAMES: [&str; 14] = [
            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print",
            "punct", "space", "upper", "word", "xdigit",
        ];
        if !NAMES.contains(&name) {
            return self.err(
                class_start,
                format!("invalid character class range `{whole}`"),
            );
        }
        let whole = whole.to_string();
        self.pos += whole.len();
        Ok(Some(whole))
    }

    fn class_atom(&mut self) -> Result<ClassAtom, SyntaxError> {
        let start = self.pos;
        match self.peek() {
            None => self.err(start, "missing closing `]` of character class"),
            Some('\\') => match self.peek_at(1) {
                Some(c @ ('d' | 'D' | 'w' | 'W' | 's' | 'S')) => {
                    self.pos += 2;
                    let (set, negated) = perl_class(c);
                    Ok(ClassAtom::Text(if negated {
                        format!("[^{set}]")
                    } else {
                        set.to_string()
                    }))
                }
                Some('p' | 'P') => {
                    self.bump();
                    Ok(ClassAtom::Text(self.unicode_class(start)?))
                }
                _ => {
                    self.bump();
                    Ok(ClassAtom::Char(self.escaped_char(start)?))
                }
            },
            Some(c) => {
                self.bump();
                Ok(ClassAtom::Char(c))
            }
        }
    }
}

fn nested_repeat(ops: &str) -> String {
    format!("invalid nested repetition operator `{ops}`: RE2 has no possessive quantifiers")
}

fn perl_class(c: char) -> (&'static str, bool) {
    match c {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        'w' => (WORD, false),
        'W' => (WORD, true),
        's' => (SPACE, false),
        _ => (SPACE, true),
    }
}

fn push_class_char(text: &mut String, c: char) {
    let mut buf = [0u8; 4];
    text.push_str(&regex_syntax::escape(c.encode_utf8(&mut buf)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &str) {
        let t = translate(src, &|_| true).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
        assert_eq!(t.text, expected, "translation of {src:?}");
    }

    fn check_err(src: &str, offset: usize, needle: &str) {
        let e = translate(src, &|_| true).expect_err(src);
        assert_eq!(e.offset, offset, "{src:?}: {e:?}");
        assert!(e.message.contains(needle), "{src:?}: {e:?}");
    }

    #[test]
    fn perl_classes_are_ascii() {
        check(
            r"\w+\d\s\S",
            r"[0-9A-Za-z_]+[0-9][\t\n\x0C\r ][^\t\n\x0C\r ]",
        );
        check(r"[\w.-]", r"[0-9A-Za-z_\.\-]");
        check(r"[^\S]", r"[^[^\t\n\x0C\r ]]");
        check(r"\bfoo\B", r"(?-u:\b)foo(?-u:\B)");
    }

    #[test]
    fn groups_and_names() {
        check("(?P<a>x)(?<b>y)(?:z)(?i)(?s:.)", "(x)(y)(?:z)(?i)(?s:.)");
        let t = translate("(a)(b)(c)", &|n| n == 2).unwrap();
        assert_eq!(t.text, "(?:a)(b)(?:c)");
        assert_eq!((t.groups, t.kept.clone()), (3, vec![2]));
    }

    #[test]
    fn literals_like_re2() {
        check(r"\Qa.b\E+", r"a\.b+");
        check(r"%{IP:src-ip}", r"%\{IP:src\-ip\}");
        check(r"a{2}b{1,}c{01}", r"a{2}b{1,}c\{01\}");
        check(r"\<\>\_\%", r"<>_%");
        check(r"\101\x41\x{41}", "AAA");
        check(r"[a&&c~~]", r"[a\&\&c\~\~]");
        // RE2 has no nested classes: the first `]` closes the class.
        check(r"[a[b]]", r"[a\[b]\]");
        check(r"[]a][a-][-a]", r"[\]a][a\-][\-a]");
        check(r"[[:alpha:]\pL]\p{Greek}", r"[[:alpha:]\pL]\p{Greek}");
        check("é.", "é.");
    }

    #[test]
    fn rejects_what_re2_rejects() {
        check_err("a++", 1, "nested repetition");
        check_err("a*?+", 1, "nested repetition");
        check_err("a{2}*", 1, "nested repetition");
        check_err("(?=a)", 0, "lookahead");
        check_err("x(?<!a)", 1, "lookbehind");
        check_err("(?>a)", 0, "atomic");
        check_err(r"(a)\1", 3, "backreferences");
        check_err(r"\k", 0, "invalid escape");
        check_err(r"\C", 0, r"\C");
        check_err("[a", 0, "missing closing `]`");
        check_err("[z-a]", 1, "invalid character class range");
        check_err("a{1001}", 1, "invalid repeat count");
        check_err("(?x)a", 0, "invalid group");
        check_err("(?)a", 0, "missing flags");
        check_err("(?i-:a)", 0, "missing flags");
        check_err("a\\", 1, "trailing backslash");
    }

    #[test]
    fn offsets_map_back() {
        let t = translate(r"\w(x", &|_| true).unwrap();
        // `(` is at input offset 2; in the output it follows `[0-9A-Za-z_]`.
        let out = t.text.find('(').unwrap();
        assert_eq!(t.input_offset(out), 2);
    }
}
