//! grokky's textual rules: what a `%{NAME}` reference is and how many groups a literal holds.
//!
//! Both rules are deliberately reproduced as upstream implements them, including the parts
//! that are surprising, because the semantic map of every compiled pattern depends on them.

/// A pattern reference found in a grok expression: `%{NAME}` or `%{NAME:field}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reference<'a> {
    /// Byte offset of the `%` in the expression.
    pub start: usize,
    /// Byte offset just past the closing `}`.
    pub end: usize,
    /// The referenced pattern name.
    pub name: &'a str,
    /// The semantic (field) name, if any.
    pub field: Option<&'a str>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Length of the run of ASCII word characters starting at `from`.
fn word_len(bytes: &[u8], from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .take_while(|&&b| is_word(b))
        .count()
}

/// Finds every reference, left to right and without overlap.
///
/// Only `%{` + word characters + optionally `:` + word characters + `}` counts (grokky's
/// `%\{(\w+)(:(\w+))?}`); anything else, such as `%{IP:src-ip}` or `%{INT:n:int}`, is not a
/// reference and stays in the expression as literal regex text.
pub(crate) fn references(expr: &str) -> Vec<Reference<'_>> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'%' || bytes[i + 1] != b'{' {
            i += 1;
            continue;
        }
        let name_start = i + 2;
        let name_len = word_len(bytes, name_start);
        let mut j = name_start + name_len;
        if name_len == 0 {
            i += 1;
            continue;
        }
        let mut field = None;
        if bytes.get(j) == Some(&b':') {
            let field_len = word_len(bytes, j + 1);
            if field_len > 0 && bytes.get(j + 1 + field_len) == Some(&b'}') {
                field = Some(&expr[j + 1..j + 1 + field_len]);
                j += 1 + field_len;
            }
        }
        if bytes.get(j) == Some(&b'}') {
            found.push(Reference {
                start: i,
                end: j + 1,
                name: &expr[name_start..name_start + name_len],
                field,
            });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    found
}

fn is_flag(b: u8) -> bool {
    matches!(b, b'i' | b'm' | b's' | b'U' | b'-')
}

/// grokky's estimate of the number of capture groups opened by a piece of literal text.
///
/// It counts `(`, minus matches of `\(\?[imsU\-]*:`, minus matches of `\(?[imsU\-]+\)`, minus
/// occurrences of `\(`. The estimate is wrong for some texts (a literal `(errors)` counts as
/// zero because `s)` looks like a flag group, `[(]` counts as one) and may even be negative;
/// upstream's field indices are shifted accordingly, so the same estimate is used here.
pub(crate) fn estimated_groups(literal: &str) -> isize {
    let b = literal.as_bytes();
    let open = b.iter().filter(|&&c| c == b'(').count();
    let escaped = literal.matches("\\(").count();

    let mut non_capturing = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' && b.get(i + 1) == Some(&b'?') {
            let mut j = i + 2;
            while j < b.len() && is_flag(b[j]) {
                j += 1;
            }
            if b.get(j) == Some(&b':') {
                non_capturing += 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }

    let mut flag_groups = 0;
    let mut i = 0;
    while i < b.len() {
        let run_start = if b[i] == b'(' { i + 1 } else { i };
        let mut j = run_start;
        while j < b.len() && is_flag(b[j]) {
            j += 1;
        }
        if j > run_start && b.get(j) == Some(&b')') {
            flag_groups += 1;
            i = j + 1;
        } else {
            i += 1;
        }
    }

    // Texts are pattern lines, far below isize::MAX bytes.
    open as isize - non_capturing - flag_groups - escaped as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_refs(expr: &str, expected: &[(&str, Option<&str>)]) {
        let got: Vec<_> = references(expr).iter().map(|r| (r.name, r.field)).collect();
        assert_eq!(got, expected, "references of {expr:?}");
    }

    #[test]
    fn reference_forms() {
        check_refs("%{IP}", &[("IP", None)]);
        check_refs(
            "a %{IP:src_ip} b %{WORD}",
            &[("IP", Some("src_ip")), ("WORD", None)],
        );
        check_refs("%{IP:src-ip}", &[]);
        check_refs("%{INT:n:int}", &[]);
        check_refs("%{IP:}", &[]);
        check_refs("%{}%{ IP}", &[]);
        check_refs("%%{A}%{B:c}}", &[("A", None), ("B", Some("c"))]);
        check_refs("%{A%{B}", &[("B", None)]);
    }

    #[test]
    fn reference_offsets() {
        let refs = references("xx%{A:b}y");
        assert_eq!((refs[0].start, refs[0].end), (2, 8));
    }

    fn check_groups(literal: &str, expected: isize) {
        assert_eq!(estimated_groups(literal), expected, "groups of {literal:?}");
    }

    #[test]
    fn group_estimate_follows_upstream() {
        check_groups("", 0);
        check_groups("(a)(b)", 2);
        check_groups("(?:a)", 0);
        check_groups("(?i:a)", 0);
        check_groups("(?i)a", 0);
        check_groups("(?P<x>a)", 1);
        check_groups(r"\(a\)", 0);
        // The upstream quirks: `s)` looks like a flag group, `[(]` looks like a group.
        check_groups("(errors)", 0);
        check_groups(" is)", -1);
        check_groups("[(]", 1);
    }
}
