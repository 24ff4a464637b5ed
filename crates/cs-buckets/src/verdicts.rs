//! Filter answers computed ahead of the pour, on the threads that parse, so that the thread
//! that pours (one for the whole engine, as events must reach the buckets in order) only
//! runs the buckets.
//!
//! Most filters read a few entries of the event (`evt.Meta.http_path`...) and nothing else
//! ([`cs_expr::Program::field_reads`]); their answer is then a function of those texts. Filters
//! reading the same entries form a group, and each thread remembers the answers of a group
//! for recent texts of its entries: a path or a user agent seen again is answered without
//! evaluating anything. A group whose texts rarely come back stops being remembered for a
//! while, so that unique values cost next to nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cs_expr::{FieldRead, Guard, Memo, Object};
use cs_types::Event;

use crate::scenario::Scenario;

/// The filters of an engine's scenarios that can be evaluated ahead of time: those whose
/// answer depends on the event alone ([`cs_expr::Program::is_timeless`]). Built by
/// [`crate::BucketEngine::prefilter`]; shared by any number of threads.
pub struct Prefilter {
    /// Per filter class of the engine: its guard (an index in `guards`) and a scenario
    /// holding the filter, or `None` when the filter must be evaluated at pour time.
    classes: Vec<Option<(Option<usize>, Arc<Scenario>)>>,
    /// The distinct guards of the filters.
    guards: Vec<Guard>,
    /// Per filter class: its group and its place in the group's answers, when its answers
    /// are remembered.
    member: Vec<Option<(usize, usize)>>,
    /// Every entry some group reads.
    entries: Box<[FieldRead]>,
    /// Per group: the entries its filters read (indexes in `entries`), and how many filters
    /// it has.
    groups: Vec<(Box<[usize]>, usize)>,
    /// Tells apart the prefilters a [`Scratch`] served.
    id: u64,
}

/// Slots of remembered answers per group and thread.
const RECALL_SLOTS: usize = 256;
/// Events with a longer entry are evaluated without being remembered.
const RECALL_MAX_LEN: usize = 512;
/// Lookups after which a group's share of answers found is checked...
const RECALL_WINDOW: u32 = 4096;
/// ...and the events it is then left alone for when under one in eight.
const RECALL_PAUSE: u32 = 65536;

/// What a thread evaluating a [`Prefilter`] keeps between events: its allocations and the
/// answers it remembers.
#[derive(Debug, Default)]
pub struct Scratch {
    memo: Memo,
    guards: Vec<Option<bool>>,
    /// The [`Prefilter::id`] `recall` belongs to.
    prefilter: u64,
    recall: Vec<Recall>,
}

/// The remembered answers of one group on one thread.
#[derive(Debug, Default)]
struct Recall {
    slots: Vec<Slot>,
    /// The slot of the current event, once looked up; `Some(None)` when it is not remembered.
    current: Option<Option<usize>>,
    lookups: u32,
    hits: u32,
    /// Events left before the group is remembered again.
    paused: u32,
}

/// The answers of a group's filters for one set of texts of its entries.
#[derive(Debug, Default)]
struct Slot {
    /// Kept inline when short, so that a comparison reads the slot alone.
    texts: Vec<cs_types::Text>,
    /// Per filter of the group: unknown, or what [`crate::expr::Expr::eval_ahead`] answered.
    answers: Vec<Option<Option<bool>>>,
}

/// Hash of a text.
fn text_hash(text: &str) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::default().hash_one(text)
}

/// Whether two texts are equal, without a call to compare empty ones (entries an event does
/// not have, the most common case for the filters of another service).
#[inline(always)]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// Folds the hash of one more text into `h`.
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

/// The texts of one event at the entries the groups read, each read and hashed once, when
/// first needed.
struct Texts<'e> {
    evt: &'e Event,
    /// Per entry of [`Prefilter::entries`]: its text and the text's hash, once read.
    read: Vec<Option<(&'e str, u64)>>,
}

impl<'e> Texts<'e> {
    fn new(evt: &'e Event, entries: usize) -> Self {
        Self {
            evt,
            read: vec![None; entries],
        }
    }

    /// The text of entry `i` (`""` when missing, as the expressions read it) and its hash.
    fn get(&mut self, entries: &[FieldRead], i: usize) -> (&'e str, u64) {
        let evt = self.evt;
        *self.read[i].get_or_insert_with(|| {
            let e = &entries[i];
            let text = evt
                .str_map_field(e.field)
                .and_then(|m| m.get(&*e.key))
                .map_or("", cs_types::Text::as_str);
            (text, text_hash(text))
        })
    }
}

impl Recall {
    /// The slot holding the answers for the event's texts of the group's entries (indexes
    /// in `entries`), emptied first when it held other texts; `None` when the event's
    /// answers are not remembered.
    fn lookup(
        &mut self,
        texts: &mut Texts<'_>,
        entries: &[FieldRead],
        group: &[usize],
        members: usize,
    ) -> Option<usize> {
        if self.paused > 0 {
            self.paused -= 1;
            return None;
        }
        let mut h = 0;
        for &e in group {
            let (text, hash) = texts.get(entries, e);
            if text.len() > RECALL_MAX_LEN {
                return None;
            }
            h = mix(h, hash);
        }
        let i = (h ^ (h >> 32)) as usize % RECALL_SLOTS;
        if self.slots.is_empty() {
            self.slots.resize_with(RECALL_SLOTS, Slot::default);
        }
        let slot = &mut self.slots[i];
        let same = slot.answers.len() == members
            && slot
                .texts
                .iter()
                .zip(group)
                .all(|(t, &e)| same_text(t, texts.get(entries, e).0));
        self.lookups += 1;
        if same {
            self.hits += 1;
        } else {
            slot.texts.resize_with(group.len(), cs_types::Text::default);
            for (t, &e) in slot.texts.iter_mut().zip(group) {
                t.clear();
                t.push_str(texts.get(entries, e).0);
            }
            slot.answers.clear();
            slot.answers.resize(members, None);
        }
        if self.lookups == RECALL_WINDOW {
            if self.hits < RECALL_WINDOW / 8 {
                self.paused = RECALL_PAUSE;
            }
            self.lookups = 0;
            self.hits = 0;
        }
        Some(i)
    }
}

impl Scratch {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("classes", &self.classes.len())
            .field("ahead", &self.ahead())
            .finish()
    }
}

/// A [`Prefilter`]'s answers for one event, per filter class: `None` where the pour must
/// evaluate the filter itself (not timeless, a runtime error, a side effect).
pub type Verdicts = Box<[Option<bool>]>;

impl Prefilter {
    pub(crate) fn new(
        classes: Vec<Option<(Option<usize>, Arc<Scenario>)>>,
        guards: Vec<Guard>,
    ) -> Self {
        let mut groups: Vec<(Vec<FieldRead>, usize)> = Vec::new();
        let member = classes
            .iter()
            .map(|class| {
                let (_, scenario) = class.as_ref()?;
                let reads = scenario.filter.field_reads()?;
                // Filters are evaluated with the event as their only variable.
                if reads.iter().any(|r| r.var != 0) {
                    return None;
                }
                let g = match groups.iter().position(|(r, _)| *r == reads) {
                    Some(g) => g,
                    None => {
                        groups.push((reads, 0));
                        groups.len() - 1
                    }
                };
                groups[g].1 += 1;
                Some((g, groups[g].1 - 1))
            })
            .collect();
        let mut entries: Vec<FieldRead> = groups.iter().flat_map(|(r, _)| r.clone()).collect();
        entries.sort();
        entries.dedup();
        let groups = groups
            .into_iter()
            .map(|(reads, members)| {
                let at = |r: &FieldRead| entries.binary_search(r).unwrap_or_default();
                (reads.iter().map(at).collect(), members)
            })
            .collect();
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            classes,
            guards,
            member,
            entries: entries.into(),
            groups,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// How many filter classes are evaluated ahead of time.
    pub fn ahead(&self) -> usize {
        self.classes.iter().filter(|c| c.is_some()).count()
    }

    /// The answers for `evt`.
    pub fn verdicts(&self, evt: &Event, scratch: &mut Scratch) -> Verdicts {
        if scratch.prefilter != self.id {
            scratch.prefilter = self.id;
            scratch.recall.clear();
            scratch
                .recall
                .resize_with(self.groups.len(), Recall::default);
        }
        let Scratch {
            memo,
            guards,
            recall,
            ..
        } = scratch;
        memo.clear();
        guards.clear();
        guards.resize(self.guards.len(), None);
        for r in recall.iter_mut() {
            r.current = None;
        }
        let mut texts = Texts::new(evt, self.entries.len());
        self.classes
            .iter()
            .zip(&self.member)
            .map(|(class, member)| {
                let (guard, scenario) = class.as_ref()?;
                if let Some(g) = *guard {
                    let passes = *guards[g].get_or_insert_with(|| self.guards[g].admits_event(evt));
                    if !passes {
                        return Some(false);
                    }
                }
                let Some((g, m)) = *member else {
                    return scenario.filter.eval_ahead(evt, memo);
                };
                let recall = &mut recall[g];
                let slot = match recall.current {
                    Some(slot) => slot,
                    None => {
                        let (group, members) = &self.groups[g];
                        let slot = recall.lookup(&mut texts, &self.entries, group, *members);
                        recall.current = Some(slot);
                        slot
                    }
                };
                let Some(slot) = slot else {
                    return scenario.filter.eval_ahead(evt, memo);
                };
                let answer = &mut recall.slots[slot].answers[m];
                *answer.get_or_insert_with(|| scenario.filter.eval_ahead(evt, memo))
            })
            .collect()
    }

    /// Whether no scenario takes an event with these answers.
    pub fn rejects_all(verdicts: &[Option<bool>]) -> bool {
        verdicts.iter().all(|v| *v == Some(false))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;
    use cs_expr::ManualClock;
    use cs_expr_helpers::Helpers;
    use cs_types::Event;

    use super::*;
    use crate::{BucketEngine, Compiler, LoadOptions};

    /// t/path and t/admin read the same entries (one group, with t/admin guarded); t/num
    /// fails on entries that are not numbers; t/line reads the raw line (never remembered);
    /// t/mark changes the event (left to the pour).
    const SCENARIOS: &str = "type: trigger\nname: t/path\ndescription: d\n\
        filter: evt.Meta.path contains 'admin' && evt.Meta.kind != 'skip'\n\
        groupby: evt.Meta.source_ip\n---\n\
        type: trigger\nname: t/admin\ndescription: d\n\
        filter: evt.Meta.kind == 'web' && evt.Meta.path startsWith '/a'\n\
        groupby: evt.Meta.source_ip\n---\n\
        type: trigger\nname: t/num\ndescription: d\nfilter: int(evt.Meta.n) > 5\n\
        groupby: evt.Meta.source_ip\n---\n\
        type: trigger\nname: t/line\ndescription: d\nfilter: evt.Line.Raw contains 'x'\n\
        groupby: evt.Meta.source_ip\n---\n\
        type: trigger\nname: t/mark\ndescription: d\n\
        filter: evt.Meta.n == '1' && evt.SetMeta('marked', 'yes')\n\
        groupby: evt.Meta.source_ip\n";

    fn prefilter() -> Prefilter {
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_767_225_600, 0)
                .unwrap()
                .fixed_offset(),
        ));
        let compiler = Compiler::new(Helpers::new(), clock.clone());
        let scenarios = crate::load_str("test.yaml", SCENARIOS, &compiler, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}", e[0]));
        BucketEngine::new(scenarios, clock).prefilter()
    }

    fn event(i: usize, path: &str) -> Event {
        let mut evt = Event::new_log(if i.is_multiple_of(3) { "x" } else { "y" }, "file");
        evt.set_meta("source_ip", format!("10.0.{}.{}", i / 250, i % 250));
        evt.set_meta("kind", ["web", "skip", "other"][i % 3]);
        evt.set_meta("path", path);
        if !i.is_multiple_of(4) {
            evt.set_meta("n", ["1", "7", "x"][i % 3]);
        }
        evt
    }

    #[test]
    fn remembered_answers_are_those_of_the_filters() {
        let prefilter = prefilter();
        assert_eq!(prefilter.groups.len(), 2, "{:?}", prefilter.groups);
        let mut scratch = Scratch::new();
        let paths = ["/admin/login", "/about", "/index", "/a/admin", ""];
        let check = |evt: &Event, scratch: &mut Scratch| {
            let fresh = prefilter.verdicts(evt, &mut Scratch::new());
            assert_eq!(prefilter.verdicts(evt, scratch), fresh, "{:?}", evt.meta);
            fresh
        };
        // Texts that come back: most answers are remembered, and stay right.
        let mut seen = Vec::new();
        for i in 0..3000 {
            seen.push(check(&event(i, paths[i % paths.len()]), &mut scratch));
        }
        assert!(seen.iter().any(|v| v[0] == Some(true)) && seen.iter().any(|v| v[2].is_none()));
        let group = prefilter.member[0].unwrap().0;
        let recall = &scratch.recall[group];
        assert!(recall.hits > 2500 && recall.paused == 0, "{recall:?}");
        // Texts that never come back: the group is left alone after a while, answers still right.
        for i in 0..2 * RECALL_WINDOW as usize {
            check(&event(i, &format!("/admin/{i}")), &mut scratch);
        }
        assert!(scratch.recall[group].paused > 0);
        // A scratch that served another prefilter forgets what it remembered there.
        let other = self::prefilter();
        assert_ne!(other.id, prefilter.id);
        let evt = event(0, "/admin/login");
        assert_eq!(
            other.verdicts(&evt, &mut scratch),
            other.verdicts(&evt, &mut Scratch::new())
        );
        assert_eq!(scratch.prefilter, other.id);
    }
}
