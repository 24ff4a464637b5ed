//! Tokenizer for expr-lang source text.

use crate::error::{CompileError, Span};

/// Kind of a token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// `#`, `#index`, `#acc`: closure pointers (name without the `#`).
    Pointer(String),
    Int(i64),
    Float(f64),
    Str(String),
    /// Operators and punctuation, e.g. `==`, `(`, `?.`, `..`.
    Op(&'static str),
    Eof,
}

/// A token with its byte span in the source.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Operators, longest first so that maximal munch works by trying them in order.
const OPERATORS: &[&str] = &[
    "...", "==", "!=", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "(", ")", "[", "]", "{",
    "}", ",", ":", ";", ".", "+", "-", "*", "/", "%", "^", "<", ">", "!", "?", "|", "=",
];

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, CompileError> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::new(),
    };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn err(&self, start: usize, msg: impl Into<String>) -> CompileError {
        CompileError::new(self.src, Span::new(start, self.pos.max(start + 1)), msg)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn peek(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    fn run(&mut self) -> Result<(), CompileError> {
        while self.pos < self.bytes.len() {
            let c = self.bytes[self.pos];
            let start = self.pos;
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' if self.peek(1) == b'/' => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'/' if self.peek(1) == b'*' => match self.src[self.pos + 2..].find("*/") {
                    Some(end) => self.pos += 2 + end + 2,
                    None => {
                        self.pos = self.bytes.len();
                        return Err(self.err(start, "unterminated comment"));
                    }
                },
                b'0'..=b'9' => self.number()?,
                b'.' if self.peek(1).is_ascii_digit() && !self.prev_is_value() => self.number()?,
                b'"' | b'\'' => {
                    self.pos += 1;
                    let s = self.quoted(c, start)?;
                    self.push(Tok::Str(s), start);
                }
                b'b' if matches!(self.peek(1), b'"' | b'\'') => {
                    let q = self.peek(1);
                    self.pos += 2;
                    let s = self.quoted(q, start)?;
                    self.push(Tok::Str(s), start);
                }
                b'`' => {
                    self.pos += 1;
                    match self.src[self.pos..].find('`') {
                        Some(end) => {
                            let s = self.src[self.pos..self.pos + end].to_string();
                            self.pos += end + 1;
                            self.push(Tok::Str(s), start);
                        }
                        None => {
                            self.pos = self.bytes.len();
                            return Err(self.err(start, "unterminated raw string"));
                        }
                    }
                }
                b'#' => {
                    self.pos += 1;
                    let name = self.ident_text();
                    self.push(Tok::Pointer(name), start);
                }
                b'$' | b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                    self.pos += 1;
                    let rest = self.ident_text();
                    let mut name = String::with_capacity(rest.len() + 1);
                    name.push(c as char);
                    name.push_str(&rest);
                    self.push(Tok::Ident(name), start);
                }
                _ if c >= 0x80 => {
                    // Unicode letters are valid identifier starts in expr-lang.
                    let ch = self.src[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    if ch.is_alphabetic() {
                        let name = self.ident_text();
                        self.push(Tok::Ident(name), start);
                    } else {
                        self.pos += ch.len_utf8();
                        return Err(self.err(start, format!("unexpected character {ch:?}")));
                    }
                }
                _ => {
                    let rest = &self.src[self.pos..];
                    match OPERATORS.iter().find(|op| rest.starts_with(**op)) {
                        Some(op) => {
                            self.pos += op.len();
                            self.push(Tok::Op(op), start);
                        }
                        None => {
                            let ch = rest.chars().next().unwrap_or('\u{fffd}');
                            self.pos += ch.len_utf8();
                            return Err(self.err(start, format!("unexpected character {ch:?}")));
                        }
                    }
                }
            }
        }
        let end = self.bytes.len();
        self.out.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
        Ok(())
    }

    /// Whether the previous token ends a value, in which case `.5` is a member access, not a
    /// number (`a.5` does not occur, but `[1].0` style must not be mis-lexed as a float).
    fn prev_is_value(&self) -> bool {
        matches!(
            self.out.last().map(|t| &t.tok),
            Some(Tok::Ident(_) | Tok::Pointer(_) | Tok::Op(")" | "]" | "}"))
        )
    }

    fn ident_text(&mut self) -> String {
        let start = self.pos;
        for ch in self.src[self.pos..].chars() {
            if ch == '_' || ch == '$' || ch.is_alphanumeric() {
                self.pos += ch.len_utf8();
            } else {
                break;
            }
        }
        self.src[start..self.pos].to_string()
    }

    fn number(&mut self) -> Result<(), CompileError> {
        let start = self.pos;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
            let radix = match self.peek(1) {
                b'x' | b'X' => 16,
                b'o' | b'O' => 8,
                _ => 2,
            };
            self.pos += 2;
            while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                self.pos += 1;
            }
            let digits: String = self.src[start + 2..self.pos].replace('_', "");
            return match i64::from_str_radix(&digits, radix) {
                Ok(v) => {
                    self.push(Tok::Int(v), start);
                    Ok(())
                }
                Err(_) => Err(self.err(start, "invalid integer literal")),
            };
        }
        let mut is_float = false;
        while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
            self.pos += 1;
        }
        // A `.` starts a fraction unless it begins the `..` range operator.
        if self.peek(0) == b'.' && self.peek(1) != b'.' {
            is_float = true;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(0), b'+' | b'-') {
                self.pos += 1;
            }
            if self.peek(0).is_ascii_digit() {
                is_float = true;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        if self.peek(0).is_ascii_alphabetic() || self.peek(0) == b'_' {
            self.pos += 1;
            return Err(self.err(start, "invalid number literal"));
        }
        let text = self.src[start..self.pos].replace('_', "");
        if is_float {
            let v: f64 = text
                .parse()
                .map_err(|_| self.err(start, "invalid float literal"))?;
            self.push(Tok::Float(v), start);
        } else {
            match text.parse::<i64>() {
                Ok(v) => self.push(Tok::Int(v), start),
                Err(_) => return Err(self.err(start, "integer literal out of range")),
            }
        }
        Ok(())
    }

    /// Reads a quoted string after its opening quote, decoding Go escapes.
    fn quoted(&mut self, quote: u8, start: usize) -> Result<String, CompileError> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.bytes.get(self.pos) else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.pos += 1;
            if c == quote {
                break;
            }
            if c != b'\\' {
                buf.push(c);
                continue;
            }
            let Some(&e) = self.bytes.get(self.pos) else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.pos += 1;
            match e {
                b'n' => buf.push(b'\n'),
                b't' => buf.push(b'\t'),
                b'r' => buf.push(b'\r'),
                b'a' => buf.push(7),
                b'b' => buf.push(8),
                b'f' => buf.push(12),
                b'v' => buf.push(11),
                b'\\' | b'\'' | b'"' | b'`' => buf.push(e),
                b'x' => {
                    let v = self.hex_digits(2, start)?;
                    buf.push(v as u8);
                }
                b'u' | b'U' => {
                    let v = self.hex_digits(if e == b'u' { 4 } else { 8 }, start)?;
                    let ch = char::from_u32(v)
                        .ok_or_else(|| self.err(start, "invalid unicode escape"))?;
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                b'0'..=b'7' => {
                    let digits = self.src.get(self.pos - 1..self.pos + 2).unwrap_or("");
                    let v = u32::from_str_radix(digits, 8)
                        .ok()
                        .filter(|v| *v <= 255 && digits.len() == 3)
                        .ok_or_else(|| self.err(start, "invalid octal escape"))?;
                    self.pos += 2;
                    buf.push(v as u8);
                }
                _ => return Err(self.err(self.pos - 2, "invalid escape sequence in string")),
            }
        }
        Ok(String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
    }

    fn hex_digits(&mut self, n: usize, start: usize) -> Result<u32, CompileError> {
        let digits = self.src.get(self.pos..self.pos + n).unwrap_or("");
        let v = u32::from_str_radix(digits, 16)
            .ok()
            .filter(|_| digits.len() == n)
            .ok_or_else(|| self.err(start, "invalid hexadecimal escape"))?;
        self.pos += n;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[Tok]) {
        let toks: Vec<Tok> = tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        let mut want = expected.to_vec();
        want.push(Tok::Eof);
        assert_eq!(toks, want, "{input}");
    }

    fn id(s: &str) -> Tok {
        Tok::Ident(s.into())
    }

    #[test]
    fn numbers() {
        check(
            "42 0x2A 0o52 0b101 1_000",
            &[
                Tok::Int(42),
                Tok::Int(42),
                Tok::Int(42),
                Tok::Int(5),
                Tok::Int(1000),
            ],
        );
        check(
            "0.5 .5 1e3 2E-2",
            &[
                Tok::Float(0.5),
                Tok::Float(0.5),
                Tok::Float(1000.0),
                Tok::Float(0.02),
            ],
        );
        check("1..3", &[Tok::Int(1), Tok::Op(".."), Tok::Int(3)]);
    }

    #[test]
    fn strings_and_escapes() {
        check(
            r#""a\n\t\\\"" 'it\'s' `raw\n`"#,
            &[
                Tok::Str("a\n\t\\\"".into()),
                Tok::Str("it's".into()),
                Tok::Str("raw\\n".into()),
            ],
        );
        check(r#""\u00e9\x41\101""#, &[Tok::Str("éAA".into())]);
    }

    #[test]
    fn operators_identifiers_comments() {
        check(
            "evt.Meta?.x ?? 'y' // c",
            &[
                id("evt"),
                Tok::Op("."),
                id("Meta"),
                Tok::Op("?."),
                id("x"),
                Tok::Op("??"),
                Tok::Str("y".into()),
            ],
        );
        check(
            "# #index /* c */ $env",
            &[
                Tok::Pointer(String::new()),
                Tok::Pointer("index".into()),
                id("$env"),
            ],
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = tokenize("a == 'abc").unwrap_err();
        assert_eq!(e.span().start, 5);
        assert!(tokenize("1 @ 2").is_err());
        assert!(tokenize("\"\\q\"").is_err());
        assert!(tokenize("/* x").is_err());
    }
}
