//! `-dump-data DIR`: the state files upstream writes at the end of a replay, read back by
//! `cscli hubtest` and `cscli explain`-style tools.
//!
//! - `parser-dump.yaml`: stage → node name → the results of that top-level node, one per
//!   event it ran on (`idx`, the event as the node left it, `success`), parsers and
//!   postoverflows alike;
//! - `bucket-dump.yaml`: every overflow that carried an alert, as the buckets emitted it
//!   (before the postoverflows);
//! - `bucketpour-dump.yaml`: `OK` → every event offered to the buckets, scenario name → the
//!   events poured into its buckets.
//!
//! Events are written with the YAML names of upstream's `types.Event` (`Overflow`,
//! `WhitelistReason`, where the JSON encoding says `Alert` and `whitelist_reason`), and the
//! alerts inside with the names Go's YAML encoder gives the untagged fields of
//! `models.Alert` (the lower-cased Go name: `events_count` is `eventscount`).
//!
//! Nothing here runs unless the flag is given: the pipeline then parses without a trace and
//! the engine records no pours.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use cs_parser::ParserDump;
use cs_types::Event;
use serde::Serialize;
use serde_json::{Map, Value};

/// What a replay collects for `-dump-data`.
#[derive(Debug, Default)]
pub struct Dump {
    /// Top-level node results of the parsers and postoverflows.
    pub parsers: ParserDump,
    /// Overflows with an alert, before the postoverflows.
    pub overflows: Vec<Event>,
    /// `OK` / scenario name → events.
    pub pours: BTreeMap<String, Vec<Event>>,
}

/// One `parser-dump.yaml` entry (upstream's `ParserResult`).
#[derive(Serialize)]
struct NodeResult {
    idx: usize,
    evt: Value,
    success: bool,
}

/// `evt` as upstream's YAML encoder writes a `types.Event`.
fn yaml_event(evt: &Event) -> Result<Value> {
    let mut v = serde_json::to_value(evt).context("encoding an event")?;
    if let Value::Object(fields) = &mut v {
        // `omitempty` drops an empty struct in Go's YAML; the JSON encoding keeps it.
        if fields
            .get("Appsec")
            .is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
        {
            fields.remove("Appsec");
        }
        rename(fields, "whitelist_reason", "WhitelistReason");
        rename(fields, "Alert", "Overflow");
        if let Some(Value::Object(overflow)) = fields.get_mut("Overflow") {
            if let Some(alert) = overflow.get_mut("Alert") {
                go_field_names(alert);
            }
            if let Some(Value::Array(alerts)) = overflow.get_mut("APIAlerts") {
                alerts.iter_mut().for_each(go_field_names);
            }
            if let Some(Value::Object(sources)) = overflow.get_mut("Sources") {
                sources.values_mut().for_each(go_field_names);
            }
        }
    }
    Ok(v)
}

fn rename(fields: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = fields.remove(from) {
        fields.insert(to.to_owned(), v);
    }
}

/// Object keys of a `models` value as Go's YAML encoder names untagged fields: the Go name in
/// lower case, which is the JSON name without its underscores.
fn go_field_names(v: &mut Value) {
    match v {
        Value::Object(fields) => {
            let old = std::mem::take(fields);
            for (k, mut value) in old {
                go_field_names(&mut value);
                fields.insert(k.replace('_', ""), value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_field_names),
        _ => {}
    }
}

fn yaml_events(events: &[Event]) -> Result<Vec<Value>> {
    events.iter().map(yaml_event).collect()
}

impl Dump {
    /// Adds pours recorded by the engine since the last call.
    pub fn add_pours(&mut self, pours: BTreeMap<String, Vec<Event>>) {
        for (key, events) in pours {
            self.pours.entry(key).or_default().extend(events);
        }
    }

    /// Writes the three files into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut parsers: BTreeMap<&str, BTreeMap<&str, Vec<NodeResult>>> = BTreeMap::new();
        for stage in self.parsers.stages() {
            let nodes = parsers.entry(stage).or_default();
            for (node, results) in self.parsers.nodes(stage) {
                let results = results
                    .iter()
                    .map(|r| {
                        Ok(NodeResult {
                            idx: r.idx,
                            evt: yaml_event(&r.evt)?,
                            success: r.success,
                        })
                    })
                    .collect::<Result<_>>()?;
                nodes.insert(node, results);
            }
        }
        write_yaml(&dir.join("parser-dump.yaml"), &parsers)?;
        write_yaml(
            &dir.join("bucket-dump.yaml"),
            &yaml_events(&self.overflows)?,
        )?;
        let pours = self
            .pours
            .iter()
            .map(|(k, events)| Ok((k, yaml_events(events)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        write_yaml(&dir.join("bucketpour-dump.yaml"), &pours)
    }
}

fn write_yaml<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = cs_config::yaml::to_string(value)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("encoding {}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_events_use_the_yaml_names_of_upstream() {
        let mut evt = Event {
            whitelist_reason: "trusted".into(),
            ..Event::default()
        };
        evt.overflow.mapkey = "k".into();
        evt.overflow.alert = Some(Box::new(cs_models::Alert {
            events_count: Some(3),
            scenario_hash: Some("h".into()),
            source: Some(cs_models::Source {
                as_name: "net".into(),
                ..cs_models::Source::default()
            }),
            ..cs_models::Alert::default()
        }));
        let v = yaml_event(&evt).unwrap();
        assert_eq!(v["WhitelistReason"], "trusted");
        assert_eq!(v["Overflow"]["MapKey"], "k");
        let alert = &v["Overflow"]["Alert"];
        assert_eq!(alert["eventscount"], 3);
        assert_eq!(alert["scenariohash"], "h");
        assert_eq!(alert["source"]["asname"], "net");
        assert!(v.get("Alert").is_none() && alert.get("events_count").is_none());
    }
}
