//! `console.yaml`: what the LAPI shares with the console.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `console.yaml`; absent keys take upstream's defaults.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Share decisions added by cscli (default false).
    #[serde(default)]
    pub share_manual_decisions: bool,
    /// Share alerts of custom scenarios (default true).
    #[serde(default = "yes")]
    pub share_custom: bool,
    /// Share alerts of tainted scenarios (default true).
    #[serde(default = "yes")]
    pub share_tainted: bool,
    /// Share alert context (default false).
    #[serde(default)]
    pub share_context: bool,
    /// Accept decisions from the console (default false).
    #[serde(default)]
    pub console_management: bool,
}

fn yes() -> bool {
    true
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            share_manual_decisions: false,
            share_custom: true,
            share_tainted: true,
            share_context: false,
            console_management: false,
        }
    }
}

impl ConsoleConfig {
    /// Loads the file; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<ConsoleConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                crate::yaml::from_str(&path.display().to_string(), &text).map_err(Error::Yaml)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConsoleConfig::default()),
            Err(source) => Err(Error::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_keys_take_upstream_defaults() {
        let c: ConsoleConfig = crate::yaml::from_str("c", "share_custom: false\n").unwrap();
        assert!(!c.share_custom);
        assert!(c.share_tainted);
        assert!(!c.share_manual_decisions);
    }
}
