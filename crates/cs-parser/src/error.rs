//! The crate's error type.

use std::path::PathBuf;

pub use cs_config::yaml::{Diagnostic, Diagnostics};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why parsers could not be loaded, or why an event's parsing was aborted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Parser files with errors (YAML, unknown keys, expressions, grok patterns,
    /// whitelists...): every problem found, located in its file.
    #[error("invalid parser configuration:\n{0}")]
    Config(Diagnostics),
    /// The pattern directory could not be loaded.
    #[error("cannot load grok patterns")]
    Patterns(#[source] cs_grok::Error),
    /// A static's expression returned a type a static cannot store (bool, int64, time...):
    /// upstream aborts the event's parsing.
    #[error("node `{node}`: static `{target}` got a value of unsupported type {kind}")]
    StaticType {
        /// Name of the node.
        node: String,
        /// Where the static writes.
        target: String,
        /// The type returned.
        kind: &'static str,
    },
}
