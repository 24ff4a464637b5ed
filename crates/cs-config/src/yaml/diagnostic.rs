//! Located, renderable YAML errors: `file:line:col`, key path, source line with a caret, hint.

use std::fmt;

/// One problem found in a YAML file, with everything needed to show it to a person.
///
/// Rendered (`Display`) in the style of compiler diagnostics:
///
/// ```text
/// error: unknown field `filtre`
///   --> parsers/s01-parse/sshd.yaml:3:1
///    |
///  3 | filtre: "evt.Line.Labels.type == 'syslog'"
///    | ^^^^^^
///    = at: filtre
///    = hint: did you mean `filter`?
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given by the loader (usually the path of the file).
    pub file: String,
    /// 1-based line, 0 when the error has no position (e.g. an empty file).
    pub line: usize,
    /// 1-based column (in characters), 0 when unknown.
    pub col: usize,
    /// Key path from the document root, e.g. `nodes[2].grok.apply_on`; empty at the root.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// A suggestion, e.g. "did you mean `filter`?".
    pub hint: Option<String>,
    /// The source line the error points at (without its newline).
    pub source_line: String,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// A diagnostic without a position in any file (I/O problems, empty input).
    pub fn unlocated(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            col: 0,
            path: String::new(),
            message: message.into(),
            hint: None,
            source_line: String::new(),
            width: 1,
        }
    }

    /// Adds or replaces the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The one-line form `file:line:col: path: message`, for logs.
    pub fn short(&self) -> String {
        let mut s = format!("{}:{}:{}: ", self.file, self.line, self.col);
        if !self.path.is_empty() {
            s.push_str(&self.path);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if self.line == 0 {
            write!(f, "  --> {}", self.file)?;
        } else {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.col)?;
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {}", self.source_line)?;
            let lead: String = self
                .source_line
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "{pad} | {lead}{}", "^".repeat(self.width.max(1)))?;
        }
        if !self.path.is_empty() {
            write!(f, "\n   = at: {}", self.path)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n   = hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// All the diagnostics of one load, rendered one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            d.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word` when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&word.to_lowercase(), &c.to_lowercase());
        // A third of the length (at least 1, at most 3 edits) catches transpositions and
        // missing letters without suggesting unrelated words for short keys.
        let limit = (word.chars().count().max(c.chars().count()) / 3).clamp(1, 3);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(word: &str, candidates: &[&str], expected: Option<&str>) {
        assert_eq!(
            closest(word, candidates.iter().copied()),
            expected,
            "{word}"
        );
    }

    #[test]
    fn hints_pick_the_nearest_close_candidate() {
        check("filtre", &["filter", "name", "grok"], Some("filter"));
        check("onsucess", &["onsuccess", "on_success"], Some("onsuccess"));
        check("nme", &["name", "nodes"], Some("name"));
        check("statics", &["filter", "grok"], None);
        check("x", &["y"], Some("y"));
        check(
            "listen_uri",
            &["listen_url", "listen_uri"],
            Some("listen_uri"),
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
