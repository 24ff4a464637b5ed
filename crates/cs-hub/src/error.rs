//! The crate's error type.

use std::path::PathBuf;

/// Errors of hub operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The index is not valid JSON.
    #[error("invalid hub index {path}: {source}")]
    IndexJson {
        /// Where the index was read from.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The index is structurally invalid (missing path, stage, bad version...).
    #[error("invalid hub index: {0}")]
    InvalidIndex(String),
    /// Collections depend on each other in a loop.
    #[error("circular dependency detected: {0}")]
    Cycle(String),
    /// An item name was not found in the index nor among local items.
    #[error("can't find '{name}' in {item_type}{hint}")]
    NotFound {
        /// The type searched.
        item_type: String,
        /// The name asked for.
        name: String,
        /// `, did you mean '<x>'?` or empty.
        hint: String,
    },
    /// An item is modified locally and the operation would lose the changes.
    #[error("{0} is tainted, use '--force' to remove")]
    Tainted(String),
    /// Embedded content does not match the digest of its version.
    #[error(
        "{item}: hash mismatch: expected {expected}, got {got}. The index file is invalid, please run 'cscli hub update' and try again"
    )]
    HashMismatch {
        /// Fully qualified item name.
        item: String,
        /// Digest of the index.
        expected: String,
        /// Digest of the content.
        got: String,
    },
    /// An item could not be enabled because its file was not downloaded.
    #[error("can't enable {0}: not downloaded")]
    NotDownloaded(String),
    /// A link in the config dir is not one cscli made.
    #[error("{0} isn't managed by hub")]
    NotManaged(PathBuf),
    /// The item file or data entry is unusable.
    #[error("{item}: {message}")]
    Item {
        /// Fully qualified item name.
        item: String,
        /// What is wrong.
        message: String,
    },
    /// The configured source cannot provide what was asked.
    #[error("{0}")]
    Unavailable(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an [`Error::Io`] builder usable in `map_err`.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
