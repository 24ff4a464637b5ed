//! The parser dump (`-dump-data`'s `parser-dump.yaml`, hubtest's parser results): for each
//! stage and top-level node, the event as the node left it and the node's success.

use std::collections::BTreeMap;

use cs_types::Event;

use crate::pipeline::Trace;

/// One evaluation of a top-level node (upstream's `ParserResult`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParserResult {
    /// 1-based order in which the node first appeared in its stage.
    pub idx: usize,
    /// A copy of the event after the node ran.
    pub evt: Event,
    /// The node's result.
    pub success: bool,
}

/// Collects [`ParserResult`]s (upstream's `StageParseCollector`), for parsers and
/// postoverflows alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParserDump {
    /// stage → node name → results, nodes kept in order of first appearance.
    stages: BTreeMap<String, Vec<(String, Vec<ParserResult>)>>,
}

impl ParserDump {
    /// An empty dump.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages with at least one record, in name order.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.stages.keys().map(String::as_str)
    }

    /// The nodes of `stage` with their results, in order of first appearance.
    pub fn nodes(&self, stage: &str) -> impl Iterator<Item = (&str, &[ParserResult])> {
        self.stages
            .get(stage)
            .into_iter()
            .flatten()
            .map(|(n, r)| (n.as_str(), r.as_slice()))
    }

    /// The results of `node` in `stage`.
    pub fn results(&self, stage: &str, node: &str) -> &[ParserResult] {
        self.nodes(stage)
            .find(|(n, _)| *n == node)
            .map_or(&[], |(_, r)| r)
    }
}

impl Trace for ParserDump {
    fn node(&mut self, stage: &str, node: &str, evt: &Event, success: bool) {
        let nodes = self.stages.entry(stage.to_owned()).or_default();
        let pos = match nodes.iter().position(|(n, _)| n == node) {
            Some(p) => p,
            None => {
                nodes.push((node.to_owned(), Vec::new()));
                nodes.len() - 1
            }
        };
        nodes[pos].1.push(ParserResult {
            idx: pos + 1,
            evt: evt.clone(),
            success,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_of_first_appearance() {
        let mut dump = ParserDump::new();
        let evt = Event::new_log("x", "file");
        dump.node("s01-parse", "b", &evt, false);
        dump.node("s01-parse", "a", &evt, true);
        dump.node("s01-parse", "b", &evt, true);
        dump.node("s00-raw", "syslog", &evt, true);
        let got: Vec<(String, Vec<(usize, bool)>)> = dump
            .nodes("s01-parse")
            .map(|(n, r)| (n.to_owned(), r.iter().map(|r| (r.idx, r.success)).collect()))
            .collect();
        assert_eq!(
            got,
            [
                ("b".to_owned(), vec![(1, false), (1, true)]),
                ("a".to_owned(), vec![(2, true)])
            ]
        );
        assert_eq!(dump.stages().collect::<Vec<_>>(), ["s00-raw", "s01-parse"]);
        assert_eq!(dump.results("s00-raw", "syslog").len(), 1);
        assert!(dump.results("s00-raw", "nope").is_empty());
    }
}
