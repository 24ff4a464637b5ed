//! `simulation.yaml`: global simulation switch and per-scenario exclusions.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `simulation.yaml`. With `simulation: false`, the listed scenarios are simulated; with
/// `simulation: true`, every scenario except the listed ones is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Global switch.
    #[serde(default)]
    pub simulation: bool,
    /// Scenarios that invert the global switch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<String>,
}

impl SimulationConfig {
    /// Loads the file; a missing file is the default (nothing simulated).
    pub fn load(path: &Path) -> Result<SimulationConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                crate::yaml::from_str(&path.display().to_string(), &text).map_err(Error::Yaml)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SimulationConfig::default()),
            Err(source) => Err(Error::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = crate::yaml::to_string(self).map_err(|message| Error::Serialize {
            path: path.to_path_buf(),
            message,
        })?;
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Are alerts of `scenario` simulated?
    pub fn is_simulated(&self, scenario: &str) -> bool {
        self.simulation != self.exclusions.iter().any(|e| e == scenario)
    }

    /// Makes `scenario` simulated (adds or removes it from the exclusions as needed).
    /// Returns false when it already was.
    pub fn enable(&mut self, scenario: &str) -> bool {
        if self.is_simulated(scenario) {
            return false;
        }
        self.toggle(scenario);
        true
    }

    /// Makes `scenario` not simulated. Returns false when it already was not.
    pub fn disable(&mut self, scenario: &str) -> bool {
        if !self.is_simulated(scenario) {
            return false;
        }
        self.toggle(scenario);
        true
    }

    fn toggle(&mut self, scenario: &str) {
        if let Some(i) = self.exclusions.iter().position(|e| e == scenario) {
            self.exclusions.remove(i);
        } else {
            self.exclusions.push(scenario.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_invert_the_global_switch() {
        let mut s: SimulationConfig =
            crate::yaml::from_str("s", "simulation: off\nexclusions:\n  - a/b\n").unwrap();
        assert!(s.is_simulated("a/b"));
        assert!(!s.is_simulated("c/d"));
        s.simulation = true;
        assert!(!s.is_simulated("a/b"));
        assert!(s.is_simulated("c/d"));
        assert!(s.enable("a/b"));
        assert!(s.exclusions.is_empty());
        assert!(!s.enable("a/b"));
        assert!(s.disable("c/d"));
        assert_eq!(s.exclusions, ["c/d"]);
    }

    #[test]
    fn missing_file_is_default_and_save_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("simulation.yaml");
        assert_eq!(
            SimulationConfig::load(&p).unwrap(),
            SimulationConfig::default()
        );
        let s = SimulationConfig {
            simulation: false,
            exclusions: vec!["crowdsecurity/ssh-bf".into()],
        };
        s.save(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "simulation: false\nexclusions:\n- crowdsecurity/ssh-bf\n"
        );
        assert_eq!(SimulationConfig::load(&p).unwrap(), s);
    }
}
