//! The acquisition error type.

use std::path::PathBuf;

/// Result of acquisition operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a datasource could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The DSN is malformed.
    #[error("invalid DSN {dsn:?}: {reason}")]
    InvalidDsn {
        /// The DSN as given.
        dsn: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No datasource handles this scheme.
    #[error("no datasource for DSN {dsn:?}: unknown scheme {scheme:?}")]
    UnsupportedScheme {
        /// The DSN as given.
        dsn: String,
        /// Its scheme.
        scheme: String,
    },
    /// A DSN parameter is unknown or has a bad value.
    #[error("DSN {dsn:?}: parameter {key:?}: {reason}")]
    Parameter {
        /// The DSN as given.
        dsn: String,
        /// The parameter name.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A file pattern is not a valid glob.
    #[error("invalid file pattern {pattern:?}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The glob error.
        #[source]
        source: glob::PatternError,
    },
    /// A file pattern matches nothing.
    #[error("no file matches {pattern:?}")]
    NoMatchingFiles {
        /// The pattern.
        pattern: String,
    },
    /// An acquisition file is invalid (every problem, located in the YAML).
    #[error("{0}")]
    Config(cs_config::yaml::Diagnostics),
    /// A server datasource cannot listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A program a datasource runs cannot be started.
    #[error("cannot run {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A program a datasource runs failed.
    #[error("{program} failed: {reason}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status and error output.
        reason: String,
    },
    /// Reading an input failed.
    #[error("reading {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// An error and its causes on one line (`outer: inner: root`), for logs and reports.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
