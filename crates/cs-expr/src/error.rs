//! Compile-time and run-time errors, with source positions rendered with a caret.

use std::fmt;

/// A byte range in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Renders `src` around `span` with a caret line, e.g.
/// ```text
///  | evt.Meta.x == )
///  |               ^
/// ```
fn render_caret(src: &str, span: Span, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (line, col) = line_col(src, span.start);
    let text = src.lines().nth(line - 1).unwrap_or("");
    let width = src
        .get(span.start..span.end.min(span.start + text.len()))
        .map_or(1, |s| s.lines().next().unwrap_or("").chars().count().max(1));
    writeln!(f)?;
    writeln!(f, " | {text}")?;
    write!(f, " | {}{}", " ".repeat(col - 1), "^".repeat(width))
}

/// An expression that cannot be compiled: syntax error, unknown name, type mismatch, bad
/// constant regex...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    source_text: String,
    span: Span,
    message: String,
}

impl CompileError {
    pub(crate) fn new(src: &str, span: Span, message: impl Into<String>) -> Self {
        Self {
            source_text: src.to_string(),
            span,
            message: message.into(),
        }
    }

    /// What went wrong, without position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where it went wrong (bytes in the source).
    pub fn span(&self) -> Span {
        self.span
    }

    /// The expression text.
    pub fn source_text(&self) -> &str {
        &self.source_text
    }

    /// 1-based line and column of the error.
    pub fn line_col(&self) -> (usize, usize) {
        line_col(&self.source_text, self.span.start)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        write!(f, "{} (line {line}, column {col})", self.message)?;
        render_caret(&self.source_text, self.span, f)
    }
}

impl std::error::Error for CompileError {}

/// An evaluation failure (`cannot fetch X from <nil>`, index out of range, bad operand type...).
///
/// As upstream, a run-time error makes the surrounding construct fail; it is never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeError {
    inner: Box<RuntimeErrorInner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RuntimeErrorInner {
    message: String,
    span: Option<Span>,
    source_text: Option<String>,
}

impl RuntimeError {
    /// A run-time error with a message (used by native functions).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(RuntimeErrorInner {
                message: message.into(),
                span: None,
                source_text: None,
            }),
        }
    }

    /// The message, without position.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Span of the failing sub-expression, when known.
    pub fn span(&self) -> Option<Span> {
        self.inner.span
    }

    pub(crate) fn with_span(mut self, span: Span) -> Self {
        if self.inner.span.is_none() {
            self.inner.span = Some(span);
        }
        self
    }

    pub(crate) fn with_source(mut self, src: &str) -> Self {
        if self.inner.span.is_some() && self.inner.source_text.is_none() {
            self.inner.source_text = Some(src.to_string());
        }
        self
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let (Some(span), Some(src)) = (self.inner.span, &self.inner.source_text) {
            let (line, col) = line_col(src, span.start);
            write!(f, " (line {line}, column {col})")?;
            render_caret(src, span, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for RuntimeError {}

/// Error of this crate: compile or run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The expression does not compile.
    #[error("compile error: {0}")]
    Compile(#[from] CompileError),
    /// The expression failed while evaluating.
    #[error("runtime error: {0}")]
    Runtime(#[from] RuntimeError),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, span: Span, expected: &str) {
        let e = CompileError::new(src, span, "unexpected token ')'");
        assert_eq!(e.to_string(), expected);
    }

    #[test]
    fn caret_points_at_the_span() {
        check(
            "evt.Meta.x == )",
            Span::new(14, 15),
            "unexpected token ')' (line 1, column 15)\n | evt.Meta.x == )\n |               ^",
        );
        check(
            "a &&\n  é)",
            Span::new(9, 10),
            "unexpected token ')' (line 2, column 4)\n |   é)\n |    ^",
        );
    }

    #[test]
    fn runtime_error_keeps_first_span() {
        let e = RuntimeError::new("boom")
            .with_span(Span::new(0, 1))
            .with_span(Span::new(3, 4));
        assert_eq!(e.span(), Some(Span::new(0, 1)));
        assert_eq!(
            e.with_source("x.y").to_string(),
            "boom (line 1, column 1)\n | x.y\n | ^"
        );
    }
}
