//! A compiled grok pattern and its captures.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use regex_automata::nfa::thompson;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Input, meta};
use regex_syntax::hir::{Dot, Hir, HirKind};

use crate::backtrack::{Backtracker, Outcome};
use crate::error::{Error, Result};
use crate::patterns::{Expansion, syntax_error_parts};
use crate::prefilter::Prefilter;
use crate::translate::{SyntaxError, translate};

/// Slot buffers up to this size live on the stack (and inside [`Captures`]), so matching
/// allocates nothing for patterns with up to `INLINE_SLOTS / 2 - 1` fields.
const INLINE_SLOTS: usize = 48;

/// Where the value of a field comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Capture group of the compiled regex (index into its groups, 0 = whole match).
    Group(usize),
    /// A group number beyond the expression's groups (possible with upstream's group
    /// estimate, where Go would index out of range): always the empty string.
    Empty,
}

/// A compiled grok pattern. Cheap to share: it is `Send + Sync`; wrap it in an `Arc`.
///
/// The fields it yields follow grokky's rules: every `%{NAME:field}` of the expression, plus
/// the fields of referenced patterns whose names are not used directly; a repeated name
/// takes the last occurrence; a group that did not participate yields `""`.
pub struct Grok {
    pattern: Arc<str>,
    /// The translated, expanded expression the regex engine runs.
    regex_text: Box<str>,
    regex: meta::Regex,
    fields: Box<[Arc<str>]>,
    sources: Box<[Source]>,
    slots: usize,
    prefilter: Option<Prefilter>,
    direct: Direct,
    /// A trailing `.*` left out of `regex` and `direct`, resolved after their match.
    tail: Option<Tail>,
}

/// A greedy `.*` ending the expression (`%{GREEDYDATA:message}` closing a pattern).
///
/// It matches whatever follows, so it cannot change which path the rest of the expression
/// takes: under leftmost-first rules the match of `head.*` is the match of `head` followed
/// by the longest run the dot allows. The engines then run `head` alone and the tail is
/// found with a scan for the first line feed instead of a byte-by-byte walk.
#[derive(Debug, Clone, Copy)]
struct Tail {
    /// Capture group of the `.*` (its index in the full expression), when it has one: the
    /// highest group, so the head's groups keep their numbers.
    group: Option<usize>,
    /// The dot stops at `\n` (the default; `(?s)` lifts it).
    stops_at_newline: bool,
}

impl Tail {
    /// Splits `hir` into its head and a trailing `.*`, when it ends with one.
    fn split(hir: &Hir) -> Option<(Hir, Tail)> {
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let (last, head) = parts.split_last()?;
        let (group, rep) = match last.kind() {
            HirKind::Capture(cap) => (Some(cap.index as usize), &*cap.sub),
            _ => (None, last),
        };
        let HirKind::Repetition(rep) = rep.kind() else {
            return None;
        };
        if rep.min != 0 || rep.max.is_some() || !rep.greedy {
            return None;
        }
        let stops_at_newline = if *rep.sub == Hir::dot(Dot::AnyCharExceptLF) {
            true
        } else if *rep.sub == Hir::dot(Dot::AnyChar) {
            false
        } else {
            return None;
        };
        // The tail's group must be the last one for the head's slots to line up.
        if group.is_some_and(|g| g != hir.properties().explicit_captures_len()) {
            return None;
        }
        Some((
            Hir::concat(head.to_vec()),
            Tail {
                group,
                stops_at_newline,
            },
        ))
    }

    /// Extends the head's match in `slots` over the tail of `line`.
    fn resolve(&self, line: &str, slots: &mut [Option<NonMaxUsize>]) {
        let Some(start) = slots[1].map(NonMaxUsize::get) else {
            return;
        };
        let rest = &line.as_bytes()[start..];
        let end = match self.stops_at_newline {
            true => memchr::memchr(b'\n', rest).map_or(line.len(), |i| start + i),
            false => line.len(),
        };
        slots[1] = NonMaxUsize::new(end);
        if let Some(g) = self.group {
            slots[2 * g] = NonMaxUsize::new(start);
            slots[2 * g + 1] = NonMaxUsize::new(end);
        }
    }
}

/// The capture engine run on the whole line when the line is expected to match.
///
/// `meta::Regex` first finds the match with a lazy DFA, then resolves the groups with a
/// backtracker over the match: the right order for lines that fail, but for a line that
/// matches the DFA pass is pure overhead. Both are leftmost-first searches of the same
/// expression, so they yield the same groups; only the cost differs.
struct Direct {
    engine: Backtracker,
    /// Whether the last line that reached the regex matched over most of its length.
    /// Patterns tend to keep matching (one parser per log format) or keep failing (the
    /// other parsers), so this picks the cheaper strategy for the next line.
    hot: AtomicBool,
}

impl Direct {
    fn new(hir: &regex_syntax::hir::Hir) -> Result<Self, String> {
        let nfa = thompson::Compiler::new()
            .build_from_hir(hir)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            engine: Backtracker::new(nfa),
            hot: AtomicBool::new(false),
        })
    }

    /// Searches `line` if it is expected to match; `None` means "not tried" (or not decided).
    fn search(&self, line: &str, slots: &mut [Option<NonMaxUsize>]) -> Option<bool> {
        if !self.hot.load(Ordering::Relaxed) {
            return None;
        }
        let found = match self
            .engine
            .search(line.as_bytes(), 0, line.len(), false, slots)
        {
            Outcome::Match => true,
            Outcome::NoMatch => false,
            Outcome::Undecided => return None,
        };
        if !found {
            self.hot.store(false, Ordering::Relaxed);
        }
        Some(found)
    }

    /// The groups of the match the lazy DFA found over `span`, resolved by the backtracker
    /// anchored on it (what `meta::Regex` does, with the cheaper backtracker); `None` when
    /// it cannot decide.
    fn resolve(
        &self,
        line: &str,
        span: regex_automata::Span,
        slots: &mut [Option<NonMaxUsize>],
    ) -> Option<()> {
        match self
            .engine
            .search(line.as_bytes(), span.start, span.end, true, slots)
        {
            Outcome::Match => Some(()),
            Outcome::NoMatch | Outcome::Undecided => None,
        }
    }

    /// Records a match over `span` bytes of a line of `len` bytes. When it covers most of
    /// the line, the next line goes straight to the backtracker; a short match is found
    /// cheaper by the lazy DFA, which leaves the backtracker only its span to search.
    fn matched(&self, span: usize, len: usize) {
        let hot = span.saturating_mul(4) >= len.saturating_mul(3);
        if self.hot.load(Ordering::Relaxed) != hot {
            self.hot.store(hot, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Grok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grok")
            .field("pattern", &self.pattern)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Grok {
    /// Builds the matcher of an expanded expression. `error` maps an offset of the expanded
    /// text and a message to an error about the expression as written.
    pub(crate) fn build(
        pattern: &str,
        expansion: &Expansion,
        error: impl Fn(usize, String) -> Error,
    ) -> Result<Self> {
        // Fields sorted by name: a stable order for callers and binary search for `get`.
        let mut fields: Vec<(Arc<str>, isize)> = expansion.fields.clone();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let wanted = |n: usize| fields.iter().any(|&(_, g)| g == n as isize);
        let translation = translate(&expansion.text, &wanted)
            .map_err(|SyntaxError { offset, message }| error(offset, message))?;
        let hir = regex_syntax::Parser::new()
            .parse(&translation.text)
            .map_err(|e| {
                let (offset, message) = syntax_error_parts(&e);
                error(translation.input_offset(offset), message)
            })?;
        let prefilter = Prefilter::new(&hir);
        let build_error = |message: String| Error::Build {
            pattern: pattern.to_string(),
            message,
        };
        let (head, tail) = match Tail::split(&hir) {
            Some((head, tail)) => (head, Some(tail)),
            None => (hir, None),
        };
        let regex = meta::Builder::new()
            .build_from_hir(&head)
            .map_err(|e| build_error(e.to_string()))?;
        let direct = Direct::new(&head).map_err(build_error)?;
        let sources = fields
            .iter()
            .map(|&(_, group)| match group {
                0 => Source::Group(0),
                g if g > 0 => match translation.kept.iter().position(|&k| k as isize == g) {
                    Some(i) => Source::Group(i + 1),
                    None => Source::Empty,
                },
                _ => Source::Empty,
            })
            .collect();
        Ok(Self {
            pattern: Arc::from(pattern),
            regex_text: translation.text.into_boxed_str(),
            regex,
            fields: fields.into_iter().map(|(n, _)| n).collect(),
            sources,
            slots: 2 * (translation.kept.len() + 1),
            prefilter,
            direct,
            tail,
        })
    }

    /// The expression this pattern was compiled from, as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The regular expression actually run (every reference expanded, in the syntax of the
    /// `regex` crates, groups that yield no field made non-capturing), for diagnostics.
    pub fn regex(&self) -> &str {
        &self.regex_text
    }

    /// The fields a successful match yields, sorted by name. Empty means the pattern can
    /// never succeed (grokky returns no data for a pattern without named captures, so a
    /// parser node using it always fails its grok).
    pub fn fields(&self) -> &[Arc<str>] {
        &self.fields
    }

    /// Matches `line` (unanchored, leftmost-first) and returns the captured fields, or `None`
    /// when the line does not match or the pattern has no fields (see [`Grok::fields`]).
    ///
    /// Lines rejected by the literal prefilter or by the regex allocate nothing.
    pub fn captures<'g, 'h>(&'g self, line: &'h str) -> Option<Captures<'g, 'h>> {
        if self.fields.is_empty() {
            return None;
        }
        if let Some(p) = &self.prefilter
            && !p.accepts(line)
        {
            return None;
        }
        let input = Input::new(line);
        let mut slots = Slots {
            inline: [None; INLINE_SLOTS],
            heap: Vec::new(),
        };
        // The engines fill the groups of the head; a captured tail is the last group.
        let head_slots = match self.tail {
            Some(Tail { group: Some(_), .. }) => self.slots - 2,
            _ => self.slots,
        };
        if self.slots <= INLINE_SLOTS {
            let head = &mut slots.inline[..head_slots];
            match self.direct.search(line, head) {
                Some(true) => {}
                Some(false) => return None,
                None => {
                    let span = self.regex.find(input.clone())?.span();
                    if self.direct.resolve(line, span, head).is_none() {
                        self.regex.search_slots(&input, head)?;
                    }
                }
            }
        } else {
            // Find the match before allocating room for all groups.
            self.regex.search_slots(&input, &mut slots.inline[..2])?;
            slots.heap = vec![None; self.slots];
            self.regex
                .search_slots(&input, &mut slots.heap[..head_slots])?;
        }
        if let Some(tail) = &self.tail {
            tail.resolve(line, slots.as_mut_slice());
        }
        if self.slots <= INLINE_SLOTS
            && let (Some(start), Some(end)) = (slots.inline[0], slots.inline[1])
        {
            // The tail included: a head followed by `.*` matches to the end of the line.
            self.direct.matched(end.get() - start.get(), line.len());
        }
        Some(Captures {
            grok: self,
            line,
            slots,
        })
    }

    /// Whether `line` matches (and the pattern has fields), without extracting anything.
    pub fn is_match(&self, line: &str) -> bool {
        !self.fields.is_empty()
            && self.prefilter.as_ref().is_none_or(|p| p.accepts(line))
            && self.regex.is_match(line)
    }
}

/// Capture slots of one match: inline for patterns with few fields, on the heap otherwise.
struct Slots {
    inline: [Option<NonMaxUsize>; INLINE_SLOTS],
    /// Used instead of `inline` when not empty.
    heap: Vec<Option<NonMaxUsize>>,
}

impl Slots {
    fn as_slice(&self) -> &[Option<NonMaxUsize>] {
        if self.heap.is_empty() {
            &self.inline
        } else {
            &self.heap
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Option<NonMaxUsize>] {
        if self.heap.is_empty() {
            &mut self.inline
        } else {
            &mut self.heap
        }
    }
}

/// The fields captured by one successful match, borrowing from the line.
pub struct Captures<'g, 'h> {
    grok: &'g Grok,
    line: &'h str,
    slots: Slots,
}

impl fmt::Debug for Captures<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'g, 'h> Captures<'g, 'h> {
    /// Number of fields (the same as `grok.fields().len()`, never 0).
    pub fn len(&self) -> usize {
        self.grok.fields.len()
    }

    /// Always false: a match yields at least one field.
    pub fn is_empty(&self) -> bool {
        self.grok.fields.is_empty()
    }

    fn value(&self, i: usize) -> &'h str {
        let Source::Group(g) = self.grok.sources[i] else {
            return "";
        };
        let slots = self.slots.as_slice();
        match (slots[2 * g], slots[2 * g + 1]) {
            (Some(s), Some(e)) => self.line.get(s.get()..e.get()).unwrap_or(""),
            _ => "",
        }
    }

    /// The value of `field`, `None` if the pattern has no such field.
    pub fn get(&self, field: &str) -> Option<&'h str> {
        let i = self
            .grok
            .fields
            .binary_search_by(|f| (**f).cmp(field))
            .ok()?;
        Some(self.value(i))
    }

    /// `(field, value)` pairs, in the order of [`Grok::fields`].
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'g Arc<str>, &'h str)> + '_ {
        self.grok
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f, self.value(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Patterns;

    /// Each field of `grok` on `line`, as the whole expression (tail included) run by the
    /// regex engine yields it.
    fn reference(grok: &Grok, line: &str) -> Option<Vec<String>> {
        let re = meta::Regex::new(grok.regex()).unwrap();
        let mut caps = re.create_captures();
        re.captures(line, &mut caps);
        if !caps.is_match() {
            return None;
        }
        let values = grok
            .sources
            .iter()
            .map(|s| match *s {
                Source::Group(g) => caps.get_group(g).map_or("", |sp| &line[sp.range()]),
                Source::Empty => "",
            })
            .map(str::to_owned)
            .collect();
        Some(values)
    }

    fn fields(grok: &Grok, line: &str) -> Option<Vec<String>> {
        grok.captures(line)
            .map(|c| c.iter().map(|(_, v)| v.to_owned()).collect())
    }

    #[test]
    fn a_trailing_greedy_dot_is_resolved_after_the_head() {
        let mut p = Patterns::builtin();
        p.add("TAILED", r"%{WORD:verb} (?:%{INT:n}|x+) %{GREEDYDATA:rest}")
            .unwrap();
        let cases = [
            ("^%{SYSLOGLINE}", true),
            ("%{TAILED}", true),
            (r"%{WORD:a}.*", true),
            (r"(?s)%{WORD:a} (.*)", true),
            (r"(?s)%{WORD:a} %{GREEDYDATA:m}", true),
            (r"%{GREEDYDATA:only}", false),
            (r"%{WORD:a}(.*)(b)?", false),
            (r"%{WORD:a} (.*?)", false),
            (r"%{WORD:a} (.+)", false),
            (r"%{WORD:a} %{GREEDYDATA:m}$", false),
        ];
        let lines = [
            "Nov 22 10:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
            "Nov 22 10:00:00 host sshd[1]: two\nlines",
            "Nov 22 10:00:00 host sshd[1]: ",
            "GET 12 tail of the line",
            "GET xx \n",
            "GET 12 ",
            "  leading spaces then words and more",
            "",
            "\n",
            "caf\u{e9} \u{1F600} na\u{ef}ve\nsecond",
            "no-match-here",
        ];
        for (pattern, split) in cases {
            let grok = p.compile(pattern).unwrap();
            assert_eq!(grok.tail.is_some(), split, "{pattern}");
            for line in lines {
                // Twice: the second run takes the direct path after a match.
                for _ in 0..2 {
                    assert_eq!(
                        fields(&grok, line),
                        reference(&grok, line),
                        "{pattern} on {line:?}"
                    );
                }
            }
        }
    }
}
