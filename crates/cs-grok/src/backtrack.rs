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
//! * one scratch space per thread serves every pattern;
//! * an alternative is only taken when the next byte can start it: each state that is an
//!   alternative of a union knows the bytes a path from it can consume first (all of them
//!   when it can reach the match without consuming), so that the many branches of an IP
//!   expression, or the exit of a lazy `.*?` before a literal, are not explored at
//!   positions where they fail at once;
//! * a loop over a byte class (`[^"]*`, `.*?`: a two-way union whose one branch is a
//!   consuming state leading back to it) runs as a scan over the bytes, which stacks the
//!   same exits and marks the same visits as the state-by-state walk would.

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
    /// Per state, the index in `firsts` of the bytes a path from it can consume first
    /// ([`ANY_BYTE`] unless it is an alternative of a union).
    first: Box<[u16]>,
    /// Byte sets, 256 bits each; [`ANY_BYTE`] holds every byte.
    firsts: Vec<[u64; 4]>,
    /// Per state: whether it is a two-way union looping over a byte class, and how.
    loops: Box<[Loop]>,
}

/// A two-way union one of whose branches is a consuming state that can lead back to the
/// union, and which is not recorded itself (reached only from the union).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loop {
    No,
    /// The class comes first: `X*`.
    Greedy,
    /// The way out comes first: `X*?`.
    Lazy,
}

/// [`Backtracker::firsts`] index of the set of every byte.
const ANY_BYTE: u16 = 0;

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
        let marks: Box<[u32]> = ways
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
        let (first, firsts) = first_bytes(&nfa);
        let loops = (0..nfa.states().len())
            .map(|u| {
                let State::BinaryUnion { alt1, alt2 } = nfa.state(StateID::new_unchecked(u)) else {
                    return Loop::No;
                };
                let back = |class: StateID| {
                    marks[class.as_usize()] == UNRECORDED
                        && match nfa.state(class) {
                            State::ByteRange { trans } => trans.next.as_usize() == u,
                            State::Sparse(sparse) => {
                                sparse.transitions.iter().any(|t| t.next.as_usize() == u)
                            }
                            _ => false,
                        }
                };
                if back(*alt1) {
                    Loop::Greedy
                } else if back(*alt2) {
                    Loop::Lazy
                } else {
                    Loop::No
                }
            })
            .collect();
        Self {
            nfa,
            marks,
            recorded,
            max_len,
            utf8_empty,
            first,
            firsts,
            loops,
        }
    }

    /// Whether a path from `sid` can go on at `at`: it can consume the byte there, or the
    /// span ends (left to the states themselves).
    #[inline(always)]
    fn may_start(&self, sid: StateID, haystack: &[u8], at: usize, end: usize) -> bool {
        if at >= end {
            return true;
        }
        let b = haystack[at];
        let set = &self.firsts[self.first[sid.as_usize()] as usize];
        set[usize::from(b >> 6)] >> (b & 63) & 1 != 0
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
                state @ (State::ByteRange { .. } | State::Sparse(_) | State::Dense(_)) => {
                    sid = consume(state, *haystack[..end].get(at)?)?;
                    at += 1;
                }
                State::Look { look, next } => {
                    if !self.nfa.look_matcher().matches(*look, haystack, at) {
                        return None;
                    }
                    sid = *next;
                }
                State::Union { alternates } => {
                    let i = alternates
                        .iter()
                        .position(|&a| self.may_start(a, haystack, at, end))?;
                    cache.stack.extend(
                        alternates[i + 1..]
                            .iter()
                            .rev()
                            .filter(|&&a| self.may_start(a, haystack, at, end))
                            .map(|&sid| Frame::Step { sid, at }),
                    );
                    sid = alternates[i];
                }
                State::BinaryUnion { alt1, alt2 } if self.loops[sid.as_usize()] != Loop::No => {
                    // (sid, at) is marked. Walk the loop byte by byte: each turn is what
                    // the union then the class state would do, without the dispatch.
                    let greedy = self.loops[sid.as_usize()] == Loop::Greedy;
                    let (class, exit) = if greedy {
                        (*alt1, *alt2)
                    } else {
                        (*alt2, *alt1)
                    };
                    let union = sid;
                    let mut j = at;
                    loop {
                        let out = self.may_start(exit, haystack, j, end);
                        let next = haystack[..end]
                            .get(j)
                            .and_then(|&b| consume(self.nfa.state(class), b));
                        match next {
                            Some(n) if n == union => {
                                if out {
                                    if greedy {
                                        cache.stack.push(Frame::Step { sid: exit, at: j });
                                    } else {
                                        cache.stack.push(Frame::Step { sid: class, at: j });
                                        (sid, at) = (exit, j);
                                        break;
                                    }
                                }
                                j += 1;
                                if mark != UNRECORDED && !cache.insert(mark, j - start) {
                                    return None;
                                }
                            }
                            Some(n) => {
                                // Into a longer sequence (a multi-byte code point).
                                if out && !greedy {
                                    cache.stack.push(Frame::Step { sid: class, at: j });
                                    (sid, at) = (exit, j);
                                } else {
                                    if out {
                                        cache.stack.push(Frame::Step { sid: exit, at: j });
                                    }
                                    (sid, at) = (n, j + 1);
                                }
                                break;
                            }
                            None if out => {
                                (sid, at) = (exit, j);
                                break;
                            }
                            None => return None,
                        }
                    }
                }
                State::BinaryUnion { alt1, alt2 } => {
                    match (
                        self.may_start(*alt1, haystack, at, end),
                        self.may_start(*alt2, haystack, at, end),
                    ) {
                        (true, true) => {
                            cache.stack.push(Frame::Step { sid: *alt2, at });
                            sid = *alt1;
                        }
                        (true, false) => sid = *alt1,
                        (false, true) => sid = *alt2,
                        (false, false) => return None,
                    }
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

/// The state a consuming state moves to on byte `b`, if it takes it (`None` for the other
/// kinds of state).
#[inline(always)]
fn consume(state: &State, b: u8) -> Option<StateID> {
    match state {
        State::ByteRange { trans } => trans.matches_byte(b).then_some(trans.next),
        State::Sparse(sparse) => sparse.matches_byte(b),
        State::Dense(dense) => dense.matches_byte(b),
        _ => None,
    }
}

/// For every state that is an alternative of a union, the bytes a path from it can consume
/// first: those of the consuming states its epsilon closure reaches (look-arounds taken as
/// holding, so the set may be larger than needed but never smaller), or every byte when
/// the closure holds the match. Returns the index of each state's set and the distinct sets.
fn first_bytes(nfa: &NFA) -> (Box<[u16]>, Vec<[u64; 4]>) {
    let n = nfa.states().len();
    let mut alternative = vec![false; n];
    for state in nfa.states() {
        match state {
            State::Union { alternates } => {
                alternates
                    .iter()
                    .for_each(|a| alternative[a.as_usize()] = true);
            }
            State::BinaryUnion { alt1, alt2 } => {
                alternative[alt1.as_usize()] = true;
                alternative[alt2.as_usize()] = true;
            }
            _ => {}
        }
    }
    let mut firsts = vec![[u64::MAX; 4]];
    let mut index = std::collections::HashMap::from([([u64::MAX; 4], ANY_BYTE)]);
    let mut first = vec![ANY_BYTE; n].into_boxed_slice();
    // Generation of the closure walk that last saw each state.
    let mut seen = vec![0u32; n];
    let mut stack = Vec::new();
    let add = |set: &mut [u64; 4], lo: u8, hi: u8| {
        for b in lo..=hi {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    };
    for (walk, sid) in (1u32..).zip((0..n).filter(|&s| alternative[s])) {
        let mut set = [0u64; 4];
        let mut any = false;
        stack.clear();
        stack.push(StateID::new_unchecked(sid));
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut seen[s.as_usize()], walk) == walk {
                continue;
            }
            match nfa.state(s) {
                State::ByteRange { trans } => add(&mut set, trans.start, trans.end),
                State::Sparse(sparse) => {
                    for t in &sparse.transitions {
                        add(&mut set, t.start, t.end);
                    }
                }
                State::Dense(dense) => {
                    for b in 0..=255u8 {
                        if dense.matches_byte(b).is_some() {
                            add(&mut set, b, b);
                        }
                    }
                }
                State::Look { next, .. } | State::Capture { next, .. } => stack.push(*next),
                State::Union { alternates } => stack.extend_from_slice(alternates),
                State::BinaryUnion { alt1, alt2 } => stack.extend([*alt1, *alt2]),
                State::Fail => {}
                State::Match { .. } => {
                    any = true;
                    break;
                }
            }
        }
        if any {
            continue;
        }
        first[sid] = match index.get(&set) {
            Some(&i) => i,
            // Past the index range, the state keeps the set of every byte.
            None => u16::try_from(firsts.len()).map_or(ANY_BYTE, |i| {
                firsts.push(set);
                index.insert(set, i);
                i
            }),
        };
    }
    (first, firsts)
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
            // Alternatives that the next byte rules out, lazy loops before a literal, and
            // alternatives that start with a look-around or may match empty.
            r"(\d+\.\d+|[a-z]+)+( |$)",
            r"(?:(\d{1,3})\.){3}(\d{1,3})|(\w+)",
            r"(.*?) (and|is) (\S+)",
            r"\b(?:[0-9A-Fa-f]{1,4}:){2}|(\w+)\b",
            r"(x*)(?:y|\b)(z?)",
            r"(?:|a)(b|é|\x22)",
            // Loops over a class, greedy and lazy, crossing multi-byte code points.
            r"\x22([^\x22]*)\x22",
            r"(.*?)é(.*)",
            r"(a.*?)(b.*)",
            r"(\S*)\s+(.*?)$",
            r"(?:(\w*?)\d)+",
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
            "10.0.0.1 from 1.2.3.4 x",
            "ab:cd:ef is hex",
            "x\"é€ q\"y é b2 end",
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
