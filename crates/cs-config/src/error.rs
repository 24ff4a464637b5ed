//! The crate's error type.

use std::path::PathBuf;

use crate::yaml::Diagnostics;

/// Everything that can go wrong while loading or writing configuration files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML for its schema; every problem found is listed.
    #[error("{0}")]
    Yaml(Diagnostics),
    /// The file decodes but a value is not acceptable.
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Key path of the offending value, e.g. `api.server.listen_uri`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A value could not be written as YAML.
    #[error("{}: cannot serialize: {message}", path.display())]
    Serialize {
        /// The file being written.
        path: PathBuf,
        /// The serializer's message.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
