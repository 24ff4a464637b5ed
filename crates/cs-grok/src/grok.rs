//! A compiled grok pattern and its captures.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use regex_automata::nfa::thompson::{self, backtrack};
use regex_automata::util::pool::Pool;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Input, meta};

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
}

/// Creates the backtracker's per-thread scratch space.
type CacheFn = Box<dyn Fn() -> backtrack::Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The capture engine run on the whole line when the line is expected to match.
///
/// `meta::Regex` first finds the match with a lazy DFA, then resolves the groups with a
/// backtracker over the match: the right order for lines that fail, but for a line that
/// matches the DFA pass is pure overhead. Both are leftmost-first searches of the same
/// expression, so they yield the same groups; only the cost differs.
struct Direct {
    engine: backtrack::BoundedBacktracker,
    caches: Pool<backtrack::Cache, CacheFn>,
    /// Whether the last line that reached the regex matched. Patterns tend to keep
    /// matching (one parser per log format) or keep failing (the other parsers), so
    /// this picks the cheaper strategy for the next line.
    hot: AtomicBool,
}

impl Direct {
    fn new(hir: &regex_syntax::hir::Hir) -> Result<Self, String> {
        let nfa = thompson::Compiler::new()
            .build_from_hir(hir)
            .map_err(|e| e.to_string())?;
        let engine = backtrack::BoundedBacktracker::builder()
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        let for_cache = engine.clone();
        let create: CacheFn = Box::new(move || for_cache.create_cache());
        Ok(Self {
            engine,
            caches: Pool::new(create),
            hot: AtomicBool::new(false),
        })
    }

    /// Searches `input` if it is expected to match and short enough for the backtracker;
    /// `None` means "not tried".
    fn search(&self, input: &Input<'_>, slots: &mut [Option<NonMaxUsize>]) -> Option<bool> {
        if !self.hot.load(Ordering::Relaxed)
            || input.haystack().len() > self.engine.max_haystack_len()
        {
            return None;
        }
        let found = self
            .engine
            .try_search_slots(&mut self.caches.get(), input, slots)
            .ok()?
            .is_some();
        if !found {
            self.hot.store(false, Ordering::Relaxed);
        }
        Some(found)
    }

    /// Records a match found through the lazy DFA: the next line goes straight to the
    /// backtracker.
    fn matched(&self) {
        if !self.hot.load(Ordering::Relaxed) {
            self.hot.store(true, Ordering::Relaxed);
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
        let regex = meta::Builder::new()
            .build_from_hir(&hir)
            .map_err(|e| build_error(e.to_string()))?;
        let direct = Direct::new(&hir).map_err(build_error)?;
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
        if self.slots <= INLINE_SLOTS {
            let slots = &mut slots.inline[..self.slots];
            match self.direct.search(&input, slots) {
                Some(true) => {}
                Some(false) => return None,
                None => {
                    self.regex.search_slots(&input, slots)?;
                    self.direct.matched();
                }
            }
        } else {
            // Find the match before allocating room for all groups.
            self.regex.search_slots(&input, &mut slots.inline[..2])?;
            slots.heap = vec![None; self.slots];
            self.regex.search_slots(&input, &mut slots.heap)?;
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
