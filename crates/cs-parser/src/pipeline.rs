//! Parser sets: stages of top-level nodes and the per-event stage loop (`parser.Parse`).

use std::sync::Arc;

use cs_types::Event;

use crate::enrich::Enrichers;
use crate::error::{Error, Result};
use crate::metrics::{Counting, NodeMetrics, SourceCounters, Tally};
use crate::node::{Node, RunContext};

/// A top-level node and the index of its stage.
#[derive(Debug)]
pub(crate) struct StagedNode {
    pub(crate) stage: usize,
    pub(crate) node: Node,
}

/// Receives what happens while an event is parsed (`cscli explain`, `-dump-data`,
/// parser metrics).
///
/// [`Trace::node`] is called after every top-level node that was evaluated, with the
/// event as that node left it, and [`Trace::stage`] at the end of every stage reached.
pub trait Trace {
    /// Top-level node `node` of `stage` ran; `success` is its result.
    fn node(&mut self, stage: &str, node: &str, evt: &Event, success: bool);
    /// A node (top-level or child) whose filter passed finished with `ok` (upstream's
    /// per-node hits / ok / ko counters, labelled with the node name and stage).
    fn node_hit(&mut self, stage: &str, node: &str, evt: &Event, ok: bool) {
        let _ = (stage, node, evt, ok);
    }
    /// `stage` finished; `success` tells whether some node of it succeeded.
    fn stage(&mut self, stage: &str, success: bool) {
        let _ = (stage, success);
    }
}

/// A thread's node counts for the last source it parsed events of, for
/// [`Parsers::parse_cached`]. Keep one per thread and per [`Parsers`]; the counts reach the
/// shared counters on [`CounterCache::flush`], when the source changes and when the cache is
/// dropped.
#[derive(Default)]
pub struct CounterCache(Option<Tally>);

impl CounterCache {
    /// Adds the counts kept so far to the shared counters.
    pub fn flush(&self) {
        if let Some(t) = &self.0 {
            t.flush();
        }
    }
}

/// A loaded set of parsers (or postoverflows): immutable, shared between parsing threads
/// through an `Arc`, swapped as a whole on reload.
pub struct Parsers {
    pub(crate) stages: Vec<Arc<str>>,
    pub(crate) nodes: Vec<StagedNode>,
    pub(crate) enrichers: Enrichers,
    pub(crate) clock: Arc<dyn cs_expr::Clock>,
    pub(crate) metrics: Option<NodeMetrics>,
}

impl std::fmt::Debug for Parsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsers")
            .field("stages", &self.stages)
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

impl Parsers {
    /// The stages, in evaluation order (those owning at least one node).
    pub fn stages(&self) -> impl ExactSizeIterator<Item = &str> {
        self.stages.iter().map(|s| &**s)
    }

    /// The top-level nodes with their stage, in evaluation order.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|n| (&*self.stages[n.stage], &n.node))
    }

    /// Parses `evt` through every stage. Afterwards `evt.Process` tells whether it was
    /// parsed (a line no parser accepts is simply left with `Process == false`).
    ///
    /// An error means a static produced a value of a type it cannot store; upstream then
    /// drops the event.
    pub fn parse(&self, evt: &mut Event) -> Result<()> {
        let counters = self.counters(evt);
        self.run(evt, counters.as_deref().map(Counting::Shared), None)
    }

    /// [`Parsers::parse`] for one of many events parsed in a row by one thread: the node
    /// counters of the events' source are looked up once and kept in `cache` while the
    /// source stays the same.
    pub fn parse_cached(&self, evt: &mut Event, cache: &mut CounterCache) -> Result<()> {
        let hit = cache
            .0
            .as_ref()
            .is_some_and(|t| t.is_for(&evt.line.src, &evt.line.module));
        if !hit {
            // The tally of the previous source is flushed as it is dropped.
            cache.0 = self.counters(evt).map(Tally::new);
        }
        self.run(evt, cache.0.as_ref().map(Counting::Tally), None)
    }

    /// [`Parsers::parse`], reporting every node's outcome to `trace`.
    pub fn parse_traced(&self, evt: &mut Event, trace: &mut dyn Trace) -> Result<()> {
        let counters = self.counters(evt);
        self.run(evt, counters.as_deref().map(Counting::Shared), Some(trace))
    }

    /// The node counters of the event's (source, module).
    fn counters(&self, evt: &Event) -> Option<Arc<SourceCounters>> {
        self.metrics
            .as_ref()
            .map(|m| m.counters(&evt.line.src, &evt.line.module))
    }

    fn run(
        &self,
        evt: &mut Event,
        counters: Option<Counting<'_>>,
        mut trace: Option<&mut dyn Trace>,
    ) -> Result<()> {
        let now = self.clock.now();
        if evt.stage.is_empty()
            && let Some(first) = self.stages.first()
        {
            first.as_ref().clone_into(&mut evt.stage);
        }
        evt.process = false;
        if evt.time == cs_types::zero_time() {
            evt.time = now;
        }
        for (idx, stage) in self.stages.iter().enumerate() {
            let current = self.stages.iter().position(|s| **s == *evt.stage);
            // An event injected at a later stage skips the earlier ones.
            if current.is_some_and(|c| c > idx) {
                continue;
            }
            if *evt.stage != **stage {
                return Ok(());
            }
            let cx = RunContext {
                stages: &self.stages,
                stage,
                enrichers: &self.enrichers,
                now: now.to_utc(),
                counters,
            };
            let mut stage_ok = false;
            for staged in self.nodes.iter().filter(|n| n.stage == idx) {
                let ok = staged
                    .node
                    .process(evt, &cx, trace.as_deref_mut())
                    .map_err(|a| Error::StaticType {
                        node: a.node.to_string(),
                        target: a.cause.target,
                        kind: a.cause.kind,
                    })?;
                if let Some(t) = trace.as_deref_mut() {
                    t.node(stage, &staged.node.name, evt, ok);
                }
                stage_ok |= ok;
                if ok && staged.node.next_stage {
                    break;
                }
                if *evt.stage != **stage {
                    break;
                }
            }
            if let Some(t) = trace.as_deref_mut() {
                t.stage(stage, stage_ok);
            }
            if !stage_ok {
                return Ok(());
            }
        }
        evt.process = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_are_shared_between_threads() {
        fn is<T: Send + Sync>() {}
        is::<Parsers>();
        is::<crate::Loader>();
    }
}
