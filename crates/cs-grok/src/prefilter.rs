//! Literal prefilter: substrings every match must contain, checked before the regex runs.

use memchr::memmem::Finder;
use regex_syntax::hir::{Hir, HirKind};

/// Literals shorter than this reject too few lines to pay for the scan.
const MIN_LEN: usize = 3;
/// How many literals are checked at most (longest first).
const MAX_LITERALS: usize = 2;

/// Required literals of a pattern.
#[derive(Debug)]
pub(crate) struct Prefilter {
    finders: Vec<Finder<'static>>,
}

impl Prefilter {
    /// Builds the prefilter of a parsed expression, if it has useful required literals.
    pub fn new(hir: &Hir) -> Option<Self> {
        let mut literals = Vec::new();
        required(hir, &mut literals);
        literals.retain(|l| l.len() >= MIN_LEN);
        literals.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        literals.dedup();
        // A literal contained in a longer one adds nothing.
        let mut chosen: Vec<Vec<u8>> = Vec::new();
        for lit in literals {
            if chosen.len() == MAX_LITERALS {
                break;
            }
            if !chosen
                .iter()
                .any(|c| memchr::memmem::find(c, &lit).is_some())
            {
                chosen.push(lit);
            }
        }
        if chosen.is_empty() {
            return None;
        }
        Some(Self {
            finders: chosen.iter().map(|l| Finder::new(l).into_owned()).collect(),
        })
    }

    /// Whether `line` contains every required literal.
    pub fn accepts(&self, line: &str) -> bool {
        self.finders
            .iter()
            .all(|f| f.find(line.as_bytes()).is_some())
    }

    /// The literals checked.
    #[cfg(test)]
    pub fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.finders.iter().map(|f| f.needle())
    }
}

/// Collects literals that appear in every match of `hir`. Alternations and optional parts
/// contribute nothing; adjacent literals of a concatenation are joined.
fn required(hir: &Hir, out: &mut Vec<Vec<u8>>) {
    match hir.kind() {
        HirKind::Literal(lit) => out.push(lit.0.to_vec()),
        HirKind::Capture(cap) => required(&cap.sub, out),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub, out),
        HirKind::Concat(subs) => {
            let mut run = Vec::new();
            for sub in subs {
                if let HirKind::Literal(lit) = sub.kind() {
                    run.extend_from_slice(&lit.0);
                } else {
                    if !run.is_empty() {
                        out.push(std::mem::take(&mut run));
                    }
                    required(sub, out);
                }
            }
            if !run.is_empty() {
                out.push(run);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(re: &str, expected: &[&str]) {
        let hir = regex_syntax::Parser::new().parse(re).unwrap();
        let got: Vec<String> = Prefilter::new(&hir)
            .map(|p| {
                p.literals()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, expected, "prefilter of {re:?}");
    }

    #[test]
    fn required_literals() {
        check(
            r"Failed (\w+) for (\w+) from ([0-9.]+) port",
            &["Failed ", " from "],
        );
        check(r"^abc(def)+x?", &["abc", "def"]);
        check(r"(?:abc|abd)", &[]);
        check(r"(?i)failed", &[]);
        check(r"(abc)?zz", &[]);
        check(r"abcdef.*bcd", &["abcdef"]);
    }
}
