//! The error type of the hub test runner.

use std::path::PathBuf;

/// What can stop a hub test (or the hub) from being run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The hub index is not valid JSON.
    #[error("{}: invalid hub index: {source}", path.display())]
    Index {
        /// The index path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A test's `config.yaml` could not be decoded.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The rendered diagnostics.
        message: String,
    },
    /// No test folder of that name.
    #[error("test `{0}` not found")]
    NoSuchTest(String),
    /// An item listed by a test is neither in the hub index nor a file beside the hub or test.
    #[error("{kind} item `{item}` not found in the hub index, the hub or the test folder")]
    ItemNotFound {
        /// `parsers`, `scenarios` or `postoverflows`.
        kind: &'static str,
        /// The name or path as written in `config.yaml`.
        item: String,
    },
    /// A parser file sits too shallow to have a stage directory.
    #[error("{}: no stage directory in the path", path.display())]
    NoStage {
        /// The file.
        path: PathBuf,
    },
    /// The grok patterns could not be loaded.
    #[error("grok patterns: {0}")]
    Patterns(#[source] cs_grok::Error),
    /// Parsers or postoverflows failed to load.
    #[error("loading {kind}: {source}")]
    Parsers {
        /// `parsers` or `postoverflows`.
        kind: &'static str,
        /// The cause.
        #[source]
        source: cs_parser::Error,
    },
    /// Scenarios failed to load.
    #[error("loading scenario {}: {message}", path.display())]
    Scenarios {
        /// The scenario file.
        path: PathBuf,
        /// The rendered diagnostics.
        message: String,
    },
    /// A GeoIP database could not be opened.
    #[error("GeoIP databases: {0}")]
    GeoIp(#[source] cs_expr_helpers::Error),
    /// `now` is not an RFC 3339 time.
    #[error("invalid time `{0}` (expected RFC 3339, e.g. 2026-08-22T12:00:00Z)")]
    Now(String),
}

/// The result type of the hub test runner.
pub type Result<T, E = Error> = std::result::Result<T, E>;
