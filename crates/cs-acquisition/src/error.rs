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
