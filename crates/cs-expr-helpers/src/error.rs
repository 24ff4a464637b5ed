//! Error type of the helpers crate.

use std::path::PathBuf;

/// Errors raised while loading helper resources (data files, GeoIP databases).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data file or database could not be read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of a `regexp` data file is not a valid regular expression.
    #[error("{file}:{line}: invalid regular expression {pattern:?}")]
    Regex {
        /// Data file name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The offending pattern.
        pattern: String,
        /// The cause.
        #[source]
        source: regex::Error,
    },
    /// A line of a `map` data file is not a valid entry.
    #[error("{file}:{line}: {reason}")]
    MapEntry {
        /// Data file name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The `type` of a data file is not one upstream knows.
    #[error("unknown data type '{kind}' for '{file}'")]
    UnknownDataType {
        /// Data file name.
        file: String,
        /// The type given.
        kind: String,
    },
    /// A stash cache configuration is invalid.
    #[error("stash cache '{name}': {reason}")]
    Stash {
        /// Cache name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A GeoIP database could not be opened.
    #[error("opening GeoIP database {path}")]
    GeoIp {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
