//! A bounded backtracker over a Thompson NFA that resolves capture groups.
//!
//! It explores the NFA in priority order and remembers every (state, position) pair it has
//! visited, so no pair is explored twice: the work is bounded by states × positions, and
//! the first match found is the leftmost-first one. This is the algorithm of
//! `regex_automata::nfa::thompson::backtrack`, with three differences that matter for grok
//! patterns, whose NFAs run to thousands of states (every `%{IPORHOST}` carries the IPv6
//! expression):
//!
//! * only the states where paths join (two or more transitions lead to them, or the search
//!   starts there) are recorded: a state with a single way in is reached at a position at
//!   most as often as its predecessor, so recording the join points is enough to explore
//!   each pair once. In grok NFAs that is about a third of the states, and the visited set
//!   shrinks by as much (it stays in the first-level cache on a typical log line);
//! * the visited set is cleared word by word before each search, only where the last one
//!   wrote, instead of being zeroed over its whole size;
//! * one scratch space per thread serves every pattern.

use std::cell::RefCell;

use regex_automata::nfa::thompson::{NFA, State};
use regex_automata::util::primitives::{NonMaxUsize, StateID};

/// Largest visited set a search may use, in bits (256 KiB, regex-automata's default): spans
/// longer than `VISITED_BITS / recorded states - 1` bytes are left to another engine.
const VISITED_BITS: usize = 2 << 20;

/// The outcome of [`Backtracker::search`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Match,
    NoMatch,
    /// The span is too long for the visited budget, or the match is an empty one that splits
    /// a code point (which the regex engines skip with a new search): ask another engine.
    Undecided,
}

/// A backtracker for one NFA. Cheap to share across threads.
#[derive(Debug)]
pub(crate) struct Backtracker {
    nfa: NFA,
    /// Per state, its index among the recorded states ([`UNRECORDED`] if it is not one).
    marks: Box<[u32]>,
    /// Number of recorded states.
    recorded: usize,
    /// Longest span a search takes on.
    max_len: usize,
    /// An empty match may land inside a code point (see [`Outcome::Undecided`]).
    utf8_empty: bool,
}

/// What the explorer will do next.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// Explore from this state at this position.
    Step { sid: StateID, at: usize },
    /// Put back a capture slot when the branch that set it fails.
    Restore {
        slot: u32,
        offset: Option<NonMaxUsize>,
    },
}

/// Scratch space of a search: the explorer's stack and the visited set.
#[derive(Debug, Default)]
struct Cache {
    stack: Vec<Frame>,
    /// One bit per (recorded state, position): bit `(at - start) * stride + mark`, so that
    /// the states explored at one position, often neighbours in the NFA, share cache lines.
    bits: Vec<u64>,
    /// Indexes of the words of `bits` that are not zero.
    dirty: Vec<usize>,
    stride: usize,
}

impl Cache {
    /// Makes room for `states` × `positions` bits, all clear. The bits of the last search are
    /// cleared here rather than after it, so that a search that never finished cannot leave
    /// any behind.
    fn setup(&mut self, states: usize, positions: usize) {
        self.stack.clear();
        self.clear();
        self.stride = states;
        let words = (states * positions).div_ceil(64);
        if self.bits.len() < words {
            // A fresh zeroed allocation: its pages are only touched where bits get set.
            self.bits = vec![0; words];
        }
    }

    /// Marks (recorded state `mark`, `offset`) visited; false if it already was.
    #[inline(always)]
    fn insert(&mut self, mark: u32, offset: usize) -> bool {
        let k = offset * self.stride + mark as usize;
        let bit = 1u64 << (k % 64);
        let word = &mut self.bits[k / 64];
        if *word & bit != 0 {
            return false;
        }
        if *word == 0 {
            self.dirty.push(k / 64);
        }
        *word |= bit;
        true
    }

    /// Clears the bits set since the last call.
    fn clear(&mut self) {
        for &w in &self.dirty {
            self.bits[w] = 0;
        }
        self.dirty.clear();
    }
}

/// [`Backtracker::marks`] of a state that is never recorded.
const UNRECORDED: u32 = u32::MAX;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

impl Backtracker {
    pub(crate) fn new(nfa: NFA) -> Self {
        // Ways into each state, counted per transition (a state reached by two transitions
        // of one state is recorded though it need not be: harmless).
        let mut ways = vec![0u32; nfa.states().len()];
        let mut add = |sid: StateID| ways[sid.as_usize()] = ways[sid.as_usize()].saturating_add(1);
        for state in nfa.states() {
            match state {
                State::ByteRange { trans } => add(trans.next),
                State::Sparse(sparse) => sparse.transitions.iter().for_each(|t| add(t.next)),
                State::Dense(dense) => dense.transitions.iter().for_each(|&next| add(next)),
                State::Look { next, .. } | State::Capture { next, .. } => add(*next),
                State::Union { alternates } => alternates.iter().for_each(|&a| add(a)),
                State::BinaryUnion { alt1, alt2 } => {
                    add(*alt1);
                    add(*alt2);
                }
                State::Fail | State::Match { .. } => {}
            }
        }
        // The search starts at the anchored start state, once per position.
        ways[nfa.start_anchored().as_usize()] = u32::MAX;
        let mut recorded = 0;
        let marks = ways
            .iter()
            .map(|&w| match w {
                0 | 1 => UNRECORDED,
                _ => {
                    recorded += 1;
                    recorded as u32 - 1
                }
            })
            .collect();
        let max_len = (VISITED_BITS / recorded.max(1)).saturating_sub(1);
        let utf8_empty = nfa.has_empty() && nfa.is_utf8();
        Self {
            nfa,
            marks,
            recorded,
            max_len,
            utf8_empty,
        }
    }

    /// Searches `haystack[start..end]` (look-arounds see the whole haystack) for the
    /// leftmost-first match, beginning exactly at `start` when `anchored`, and writes the
    /// groups it reaches into `slots` (every slot is reset first; slots past the NFA's are
    /// left `None`).
    pub(crate) fn search(
        &self,
        haystack: &[u8],
        start: usize,
        end: usize,
        anchored: bool,
        slots: &mut [Option<NonMaxUsize>],
    ) -> Outcome {
        slots.fill(None);
        if end - start > self.max_len {
            return Outcome::Undecided;
        }
        let found = CACHE.with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => self.search_with(&mut cache, haystack, start, end, anchored, slots),
            // Not reached (a search calls nothing that searches), but never a panic.
            Err(_) => {
                self.search_with(&mut Cache::default(), haystack, start, end, anchored, slots)
            }
        });
        match found {
            None => Outcome::NoMatch,
            Some(at)
                if self.utf8_empty
                    && slots[0].map(NonMaxUsize::get) == Some(at)
                    && !is_char_boundary(haystack, at) =>
            {
                Outcome::Undecided
            }
            Some(_) => Outcome::Match,
        }
    }

    /// The search proper; the end of the match, if any.
    fn search_with(
        &self,
        cache: &mut Cache,
        haystack: &[u8],
        start: usize,
        end: usize,
        anchored: bool,
        slots: &mut [Option<NonMaxUsize>],
    ) -> Option<usize> {
        cache.setup(self.recorded, end - start + 1);
        let anchored = anchored || self.nfa.is_always_start_anchored();
        let start_id = self.nfa.start_anchored();
        let mut found = None;
        let mut at = start;
        while at <= end {
            found = self.explore(cache, haystack, start, end, at, start_id, slots);
            if found.is_some() || anchored {
                break;
            }
            at += 1;
        }
        found
    }

    /// Explores every path from `start_id` at `at`, in priority order, until one matches.
    #[allow(clippy::too_many_arguments)]
    fn explore(
        &self,
        cache: &mut Cache,
        haystack: &[u8],
        start: usize,
        end: usize,
        at: usize,
        start_id: StateID,
        slots: &mut [Option<NonMaxUsize>],
    ) -> Option<usize> {
        cache.stack.push(Frame::Step { sid: start_id, at });
        while let Some(frame) = cache.stack.pop() {
            match frame {
                Frame::Step { sid, at } => {
                    if let Some(m) = self.step(cache, haystack, start, end, sid, at, slots) {
                        return Some(m);
                    }
                }
                Frame::Restore { slot, offset } => slots[slot as usize] = offset,
            }
        }
        None
    }

    /// Follows the first choice of every state from (`sid`, `at`), stacking the others,
    /// until a match (its end) or a dead end.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn step(
        &self,
        cache: &mut Cache,
        haystack: &[u8],
        start: usize,
        end: usize,
        mut sid: StateID,
        mut at: usize,
        slots: &mut [Option<NonMaxUsize>],
    ) -> Option<usize> {
        loop {
            let mark = self.marks[sid.as_usize()];
            if mark != UNRECORDED && !cache.insert(mark, at - start) {
                return None;
            }
            match self.nfa.state(sid) {
                State::ByteRange { trans } => {
                    if at >= end || !trans.matches_byte(haystack[at]) {
                        return None;
                    }
                    sid = trans.next;
                    at += 1;
                }
                State::Sparse(sparse) => {
                    if at >= end {
                        return None;
                    }
                    sid = sparse.matches_byte(haystack[at])?;
                    at += 1;
                }
                State::Dense(dense) => {
                    if at >= end {
                        return None;
                    }
                    sid = dense.matches_byte(haystack[at])?;
                    at += 1;
                }
                State::Look { look, next } => {
                    if !self.nfa.look_matcher().matches(*look, haystack, at) {
                        return None;
                    }
                    sid = *next;
                }
                State::Union { alternates } => {
                    let (&first, rest) = alternates.split_first()?;
                    cache
                        .stack
                        .extend(rest.iter().rev().map(|&sid| Frame::Step { sid, at }));
                    sid = first;
                }
                State::BinaryUnion { alt1, alt2 } => {
                    cache.stack.push(Frame::Step { sid: *alt2, at });
                    sid = *alt1;
                }
                State::Capture { next, slot, .. } => {
                    if let Some(s) = slots.get_mut(slot.as_usize()) {
                        cache.stack.push(Frame::Restore {
                            slot: slot.as_u32(),
                            offset: *s,
                        });
                        *s = NonMaxUsize::new(at);
                    }
                    sid = *next;
                }
                State::Fail => return None,
                State::Match { .. } => return Some(at),
            }
        }
    }
}

/// Whether `at` is at the start of a UTF-8 sequence (or the end) of `haystack`.
fn is_char_boundary(haystack: &[u8], at: usize) -> bool {
    haystack.get(at).is_none_or(|&b| (b as i8) >= -0x40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::Input;
    use regex_automata::nfa::thompson::backtrack::BoundedBacktracker;

    /// Every slot, as this engine and regex-automata's backtracker give them.
    fn both(pattern: &str, haystack: &str, span: (usize, usize), anchored: bool) {
        let nfa = NFA::new(pattern).unwrap();
        let ours = Backtracker::new(nfa.clone());
        let theirs = BoundedBacktracker::new_from_nfa(nfa.clone()).unwrap();
        let n = 2 * nfa.group_info().all_group_len();
        let mut a = vec![None; n];
        let mut b = vec![None; n];
        let outcome = ours.search(haystack.as_bytes(), span.0, span.1, anchored, &mut a);
        let input = Input::new(haystack)
            .range(span.0..span.1)
            .anchored(match anchored {
                true => regex_automata::Anchored::Yes,
                false => regex_automata::Anchored::No,
            });
        let found = theirs
            .try_search_slots(&mut theirs.create_cache(), &input, &mut b)
            .unwrap();
        let ctx = format!("{pattern:?} on {haystack:?} {span:?} anchored={anchored}");
        match outcome {
            Outcome::Undecided => return,
            Outcome::Match => assert!(found.is_some(), "{ctx}"),
            Outcome::NoMatch => assert!(found.is_none(), "{ctx}"),
        }
        if found.is_some() {
            assert_eq!(a, b, "{ctx}");
        }
    }

    #[test]
    fn groups_are_those_of_the_reference_backtracker() {
        let patterns = [
            r"(a+)(b)?",
            r"(\w+)@(\w+)\.com",
            r"^(\d+) (\S+)",
            r"(?:(x)|(xy))z",
            r"\b(\w{2,3})\b",
            r"(a|ab)(c|bcd)(d*)",
            r"(.*?)(,|$)",
            r"()",
            r"(?-u:\B)",
            r"(\d+)?(.*)",
            r"[^\x22]*\x22(.*)\x22",
            r"(?i)(HTTP)/(\d\.\d)",
            r"(é+)(.)",
        ];
        let haystacks = [
            "",
            "aab",
            "abcd",
            "xyz xz",
            "me@example.com and you@host.com",
            "12 GET /index.html",
            "a,b,c",
            "is it a word?",
            "\"quoted value\" tail",
            "get http/1.1 ok",
            "ééé!",
            "\u{e9}",
        ];
        for p in patterns {
            for h in haystacks {
                for anchored in [false, true] {
                    both(p, h, (0, h.len()), anchored);
                    if h.len() > 2 && h.is_char_boundary(1) && h.is_char_boundary(h.len() - 1) {
                        both(p, h, (1, h.len() - 1), anchored);
                    }
                }
            }
        }
    }

    #[test]
    fn a_search_over_budget_is_left_to_another_engine() {
        let nfa = NFA::new(r"(a{0,500})+b").unwrap();
        let bt = Backtracker::new(nfa);
        let long = "a".repeat(bt.max_len + 1);
        let mut slots = [None; 2];
        assert_eq!(
            bt.search(long.as_bytes(), 0, long.len(), false, &mut slots),
            Outcome::Undecided
        );
        assert_eq!(bt.search(b"aab", 0, 3, false, &mut slots), Outcome::Match);
    }

    #[test]
    fn an_empty_match_inside_a_code_point_is_left_to_another_engine() {
        // An ASCII `\B` first holds between the two bytes of "é".
        let bt = Backtracker::new(NFA::new(r"(?-u:\B)").unwrap());
        let mut slots = [None; 2];
        assert_eq!(
            bt.search("aé".as_bytes(), 0, 3, false, &mut slots),
            Outcome::Undecided
        );
    }
}
