//! The scenario YAML as written on disk (`ScenarioConfig`), decoded as strictly as upstream.
//!
//! Upstream decodes scenario files with `yaml.v2` in strict mode: an unknown key is a load error,
//! while any scalar is accepted where a string is expected (`format: 1.0` is the string `1.0`).
//! Decoding goes through `cs_config::yaml`, which follows those rules and locates errors;
//! [`crate::Scenario::compile`] turns one of these into a runtime holder.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scenario: one YAML document of a scenario file (upstream's `BucketFactory` fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioConfig {
    /// Scenario format version; must satisfy `>= 1.0, <= 3.0` (`1.0` when absent).
    pub format: String,
    /// Informational.
    pub author: String,
    /// Required.
    pub description: String,
    /// Informational links.
    pub references: Vec<String>,
    /// `leaky`, `trigger`, `counter`, `conditional` or `bayesian`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scenario name, e.g. `crowdsecurity/ssh-bf`.
    pub name: String,
    /// Burst size (leaky > 0, trigger 0, counter/conditional/bayesian −1).
    pub capacity: i64,
    /// Go duration: time to leak one event.
    pub leakspeed: String,
    /// Go duration: lifetime of a counter (or of any "timed" bucket).
    pub duration: String,
    /// Expression selecting the events poured into this scenario.
    pub filter: String,
    /// Expression partitioning events into bucket instances.
    pub groupby: String,
    /// Expression: only the first event per distinct value is poured.
    pub distinct: String,
    /// Per-scenario debug logging.
    pub debug: bool,
    /// Free-form labels; `remediation: true` sets `Alert.remediation`.
    pub labels: BTreeMap<String, serde_json::Value>,
    /// Go duration during which a bucket key cannot overflow again.
    pub blackhole: String,
    /// Re-inject overflows into the buckets.
    pub reprocess: bool,
    /// Limit of events kept in the queue.
    pub cache_size: i64,
    /// Accepted for compatibility; upstream ignores it too.
    pub profiling: bool,
    /// Expression over `queue`, `signal`, `leaky`: false discards the overflow.
    pub overflow_filter: String,
    /// Expression over `evt`, `queue`, `leaky`: true makes the bucket overflow.
    pub condition: String,
    /// Bayesian prior probability.
    pub bayesian_prior: f32,
    /// Bayesian posterior threshold.
    pub bayesian_threshold: f32,
    /// Bayesian conditions, evaluated in order.
    pub bayesian_conditions: Vec<BayesianConditionConfig>,
    /// Scope of the alerts (`Ip` when absent).
    pub scope: ScopeConfig,
    /// Data files the expressions use.
    pub data: Vec<DataSourceConfig>,
    /// Expression: a matching event kills the bucket without overflow.
    pub cancel_on: String,
    /// Scenario version (replaced by the installed hub version when known).
    pub version: String,
    /// Accepted for compatibility; simulation comes from `simulation.yaml`.
    pub simulated: bool,
}

/// One `bayesian_conditions` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BayesianConditionConfig {
    /// Expression over `evt`, `queue`, `leaky`.
    pub condition: String,
    /// P(condition | evil).
    pub prob_given_evil: f32,
    /// P(condition | benign).
    pub prob_given_benign: f32,
    /// Once true in a bucket, the condition counts as true without being evaluated again.
    pub guillotine: bool,
}

/// The `scope` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScopeConfig {
    /// `Ip`, `Range` or a custom scope (written exactly, not normalised).
    #[serde(rename = "type")]
    pub kind: String,
    /// Expression giving the alert's source value (mandatory for custom scopes).
    pub expression: String,
}

/// One `data` entry (a data file used by `File()`, `RegexpInFile()`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSourceConfig {
    /// Where the hub downloads the file from.
    pub source_url: String,
    /// File name, relative to the data directory.
    pub dest_file: String,
    /// `string`, `regexp` or `map`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Regexp cache switch.
    pub cache: Option<bool>,
    /// Regexp cache strategy.
    pub strategy: Option<String>,
    /// Regexp cache size.
    pub size: Option<i64>,
    /// Regexp cache TTL (Go duration).
    pub ttl: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_accepted_as_strings() {
        let cfg: ScenarioConfig = cs_config::yaml::from_str(
            "s.yaml",
            "name: x\nformat: 1.0\nversion: 2\nleakspeed: 10s\ndescription: true",
        )
        .unwrap();
        assert_eq!((cfg.format.as_str(), cfg.version.as_str()), ("1.0", "2"));
        assert_eq!(cfg.description, "true");
    }
}
