//! The crate's error type.

use std::path::PathBuf;

/// Errors of LAPI calls and of the alert spool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request did not get an HTTP answer (connection refused, timeout, TLS...).
    #[error("{method} {url}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The LAPI answered with a non-success status.
    #[error("{method} {url}: API error {status}: {message}")]
    Status {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// `message` of the JSON error body, or the raw body.
        message: String,
    },
    /// The answer body is not the expected JSON.
    #[error("{method} {url}: cannot decode answer")]
    Decode {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The base URL is not usable.
    #[error("invalid API URL {url:?}: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A certificate or key file could not be used.
    #[error("{}: {message}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Spool file system error.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client")]
    Client(#[source] reqwest::Error),
}

impl Error {
    /// Would the same request possibly succeed later? True for transport failures, `5xx`,
    /// `429` and `401`/`403` (a LAPI that lost its JWT secret or a machine not validated yet).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Status { status, .. } => {
                *status >= 500 || matches!(*status, 401 | 403 | 408 | 429)
            }
            _ => false,
        }
    }

    /// The HTTP status, when the LAPI answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
