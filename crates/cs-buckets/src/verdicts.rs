//! Filter answers computed ahead of the pour, on the threads that parse, so that the thread
//! that pours (one for the whole engine, as events must reach the buckets in order) only
//! runs the buckets.

use std::sync::Arc;

use cs_expr::{Guard, Memo};
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
}

/// What a thread evaluating a [`Prefilter`] keeps between events, for its allocations.
#[derive(Debug, Default)]
pub struct Scratch {
    memo: Memo,
    guards: Vec<Option<bool>>,
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
        Self { classes, guards }
    }

    /// How many filter classes are evaluated ahead of time.
    pub fn ahead(&self) -> usize {
        self.classes.iter().filter(|c| c.is_some()).count()
    }

    /// The answers for `evt`.
    pub fn verdicts(&self, evt: &Event, scratch: &mut Scratch) -> Verdicts {
        let Scratch { memo, guards } = scratch;
        memo.clear();
        guards.clear();
        guards.resize(self.guards.len(), None);
        self.classes
            .iter()
            .map(|class| {
                let (guard, scenario) = class.as_ref()?;
                if let Some(g) = *guard {
                    let passes = *guards[g].get_or_insert_with(|| self.guards[g].admits_event(evt));
                    if !passes {
                        return Some(false);
                    }
                }
                scenario.filter.eval_ahead(evt, memo)
            })
            .collect()
    }

    /// Whether no scenario takes an event with these answers.
    pub fn rejects_all(verdicts: &[Option<bool>]) -> bool {
        verdicts.iter().all(|v| *v == Some(false))
    }
}
