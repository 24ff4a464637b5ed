//! A test's `config.yaml`, decoded leniently as upstream does (unknown keys are ignored).

use std::path::Path;

use cs_parser::config::StaticConfig;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The keys of `.tests/<name>/config.yaml` the runner uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TestConfig {
    /// Hub names (`crowdsecurity/syslog-logs`) or paths (`./parsers/s01-parse/x/y.yaml`).
    pub parsers: Vec<String>,
    /// Scenarios; `[""]` means none.
    pub scenarios: Vec<String>,
    /// Postoverflows; `[""]` means none.
    pub postoverflows: Vec<String>,
    /// The log file, relative to the test folder.
    pub log_file: String,
    /// Becomes the `type` acquisition label.
    pub log_type: String,
    /// Extra acquisition labels.
    pub labels: cs_types::StrMap,
    /// Statics of the `overrides` node put first in `s00-raw`.
    pub override_statics: Vec<StaticConfig>,
    /// When true, `parser.assert` is not evaluated.
    pub ignore_parsers: bool,
}

impl TestConfig {
    /// Reads `<test>/config.yaml`.
    pub fn load(test_dir: &Path) -> Result<Self> {
        let path = test_dir.join("config.yaml");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        cs_config::yaml::from_str(&path.to_string_lossy(), &text).map_err(|d| Error::Config {
            path,
            message: d.to_string(),
        })
    }

    /// The scenarios actually listed (empty entries skipped).
    pub fn scenario_items(&self) -> impl Iterator<Item = &str> {
        non_empty(&self.scenarios)
    }

    /// The postoverflows actually listed (empty entries skipped).
    pub fn postoverflow_items(&self) -> impl Iterator<Item = &str> {
        non_empty(&self.postoverflows)
    }

    /// The parsers actually listed (empty entries skipped).
    pub fn parser_items(&self) -> impl Iterator<Item = &str> {
        non_empty(&self.parsers)
    }
}

fn non_empty(items: &[String]) -> impl Iterator<Item = &str> {
    items.iter().map(String::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_empty_items_are_ignored() {
        let text = "parsers:\n- a/b\n- ''\nscenarios:\n- ''\ncollections: [x]\nlog_file: t.log\nlog_type: syslog\nlabels: {program: envoy}\noverride_statics:\n - target: evt.Line.Module\n   value: wineventlog\n";
        let cfg: TestConfig = cs_config::yaml::from_str("config.yaml", text).unwrap();
        assert_eq!(cfg.parser_items().collect::<Vec<_>>(), ["a/b"]);
        assert_eq!(cfg.scenario_items().count(), 0);
        assert_eq!(cfg.labels["program"], "envoy");
        assert_eq!(cfg.override_statics[0].target, "evt.Line.Module");
        assert!(!cfg.ignore_parsers);
    }
}
