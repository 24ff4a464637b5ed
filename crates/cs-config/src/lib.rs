//! CrowdSec configuration files: `config.yaml` (+ `.local`), credentials, simulation and
//! console options, and the YAML diagnostics every loader of the project uses.
//!
//! Loaders elsewhere decode their YAML through [`yaml`]: [`yaml::from_str`] /
//! [`yaml::from_str_multi`] for serde types, [`yaml::parse`] + [`yaml::Node::decode`] when they
//! need positions for later checks ([`yaml::Node::diagnostic_at_offset`] maps an expression
//! error back into the file).

pub mod config;
pub mod console;
pub mod credentials;
pub mod env;
mod error;
pub mod simulation;
pub mod yaml;

pub use config::Config;
pub use console::ConsoleConfig;
pub use credentials::ApiCredentials;
pub use error::{Error, Result};
pub use simulation::SimulationConfig;
