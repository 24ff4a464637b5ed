//! Per-node Prometheus counters (`cs_node_hits_total`, `cs_node_hits_ok_total`,
//! `cs_node_hits_ko_total`, labelled `source`, `type`, `name` as upstream): an event counts as a
//! hit on every node (top-level or child) whose filter lets it in, then as ok or ko when the node
//! is done with it. Nodes sharing a name share their counters.
//!
//! The label handles of one (source, type) pair are resolved once and kept, so counting an
//! event costs one map lookup under a read lock plus a relaxed atomic add per node entered.
//! Parsing threads that keep a [`Tally`] count in it instead and add it to the shared
//! counters from time to time, so that two threads do not fight over the counters' cache
//! lines on every node.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use cs_metrics::{Counter, Metrics};

use crate::node::Node;

/// Gives `node` and its descendants the index of their name in `names`.
fn number(node: &mut Node, names: &mut Vec<Arc<str>>, index: &mut HashMap<Arc<str>, usize>) {
    node.metric = *index.entry(node.name.clone()).or_insert_with(|| {
        names.push(node.name.clone());
        names.len() - 1
    });
    for child in &mut node.children {
        number(child, names, index);
    }
}

/// The three counters of one node name for one (source, type) pair.
#[derive(Debug)]
pub(crate) struct NodeCounters {
    pub(crate) hits: Counter,
    pub(crate) ok: Counter,
    pub(crate) ko: Counter,
}

/// The node counters of one (source, type) pair, created on a node's first hit (as upstream,
/// a node never entered has no series).
#[derive(Debug)]
pub(crate) struct SourceCounters {
    metrics: &'static Metrics,
    source: String,
    module: String,
    /// Node names, indexed by `Node::metric`.
    names: Arc<[Arc<str>]>,
    /// Indexed by `Node::metric`.
    slots: Box<[OnceLock<NodeCounters>]>,
}

impl SourceCounters {
    /// The counters of node number `metric`, named `name`.
    pub(crate) fn node(&self, metric: usize, name: &str) -> Option<&NodeCounters> {
        let slot = self.slots.get(metric)?;
        Some(slot.get_or_init(|| {
            let labels = [self.source.as_str(), self.module.as_str(), name];
            NodeCounters {
                hits: self.metrics.node_hits.with(labels),
                ok: self.metrics.node_hits_ok.with(labels),
                ko: self.metrics.node_hits_ko.with(labels),
            }
        }))
    }
}

/// Where a parse counts the nodes it enters.
#[derive(Clone, Copy)]
pub(crate) enum Counting<'a> {
    /// Straight into the shared counters.
    Shared(&'a SourceCounters),
    /// Into a thread's tally, added to the shared counters later.
    Tally(&'a Tally),
}

impl<'a> Counting<'a> {
    /// The counts of node number `metric`, named `name`.
    pub(crate) fn node(self, metric: usize, name: &str) -> Option<NodeCount<'a>> {
        match self {
            Self::Shared(c) => c.node(metric, name).map(NodeCount::Shared),
            Self::Tally(t) => t.counts.get(metric).map(NodeCount::Tally),
        }
    }
}

/// The counts of one node.
pub(crate) enum NodeCount<'a> {
    Shared(&'a NodeCounters),
    /// Hits, ok, ko.
    Tally(&'a [Cell<u64>; 3]),
}

impl NodeCount<'_> {
    fn add(&self, which: usize) {
        match self {
            Self::Shared(c) => [&c.hits, &c.ok, &c.ko][which].inc(),
            Self::Tally(t) => t[which].set(t[which].get() + 1),
        }
    }

    /// The node let the event in.
    pub(crate) fn hit(&self) {
        self.add(0);
    }

    /// The node succeeded.
    pub(crate) fn ok(&self) {
        self.add(1);
    }

    /// The node failed.
    pub(crate) fn ko(&self) {
        self.add(2);
    }
}

/// One thread's counts for one (source, type) pair, added to the shared counters by
/// [`Tally::flush`] and when the tally is dropped.
pub(crate) struct Tally {
    shared: Arc<SourceCounters>,
    counts: Box<[[Cell<u64>; 3]]>,
}

impl Tally {
    pub(crate) fn new(shared: Arc<SourceCounters>) -> Self {
        let counts = (0..shared.slots.len())
            .map(|_| Default::default())
            .collect();
        Self { shared, counts }
    }

    /// Whether the tally counts events of `source` read by `module`.
    pub(crate) fn is_for(&self, source: &str, module: &str) -> bool {
        self.shared.source == source && self.shared.module == module
    }

    /// Adds the counts to the shared counters and starts again from zero. A node never
    /// entered still gets no series.
    pub(crate) fn flush(&self) {
        for (metric, counts) in self.counts.iter().enumerate() {
            let [hits, ok, ko] = counts.each_ref().map(Cell::take);
            if hits == 0 && ok == 0 && ko == 0 {
                continue;
            }
            if let Some(c) = self.shared.node(metric, &self.shared.names[metric]) {
                c.hits.inc_by(hits);
                c.ok.inc_by(ok);
                c.ko.inc_by(ko);
            }
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Source path → event module → its counters.
type BySource = HashMap<String, HashMap<String, Arc<SourceCounters>>>;

/// The node counters of a parser set.
pub(crate) struct NodeMetrics {
    metrics: &'static Metrics,
    /// The distinct node names; `Node::metric` indexes them.
    names: Arc<[Arc<str>]>,
    handles: RwLock<BySource>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics")
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl NodeMetrics {
    /// Numbers every node of the trees (`Node::metric`) by name, counting into `metrics`.
    pub(crate) fn new<'a>(
        metrics: &'static Metrics,
        roots: impl Iterator<Item = &'a mut Node>,
    ) -> Self {
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut index: HashMap<Arc<str>, usize> = HashMap::new();
        for root in roots {
            number(root, &mut names, &mut index);
        }
        Self {
            metrics,
            names: names.into(),
            handles: RwLock::new(HashMap::new()),
        }
    }

    /// The counters of events read from `source` by the datasource `module`.
    pub(crate) fn counters(&self, source: &str, module: &str) -> Arc<SourceCounters> {
        if let Some(c) = self
            .handles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(source)
            .and_then(|m| m.get(module))
        {
            return c.clone();
        }
        let mut handles = self.handles.write().unwrap_or_else(|e| e.into_inner());
        handles
            .entry(source.to_owned())
            .or_default()
            .entry(module.to_owned())
            .or_insert_with(|| {
                Arc::new(SourceCounters {
                    metrics: self.metrics,
                    source: source.to_owned(),
                    module: module.to_owned(),
                    names: Arc::clone(&self.names),
                    slots: (0..self.names.len()).map(|_| OnceLock::new()).collect(),
                })
            })
            .clone()
    }
}
