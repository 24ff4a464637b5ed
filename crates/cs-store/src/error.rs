//! The error type of the store.

/// Errors returned by [`crate::Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database driver failed (connection, SQL, constraint...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite library failed while the store read a large answer directly (the decision
    /// stream on the embedded store).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A unique row already exists (machine id, bouncer name, allowlist name).
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// `machine`, `bouncer`, `allowlist`.
        kind: &'static str,
        /// The duplicated name.
        name: String,
    },
    /// The requested row does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// `machine`, `bouncer`, `alert`, `decision`, `allowlist`.
        kind: &'static str,
        /// The name or id looked up.
        name: String,
    },
    /// A query filter parameter is invalid.
    #[error("invalid filter {param}={value:?}: {reason}")]
    InvalidFilter {
        /// Query parameter name.
        param: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A query parameter that the endpoint does not know.
    #[error("Filter parameter '{param}' is unknown (={value}): invalid filter")]
    UnknownFilter {
        /// Query parameter name.
        param: String,
        /// Its value.
        value: String,
    },
    /// An alert that cannot be stored (for example a decision duration that does not parse).
    #[error("invalid alert: {reason}")]
    InvalidAlert {
        /// What is wrong.
        reason: String,
    },
    /// An IP address or range that does not parse.
    #[error("invalid ip or range {value:?}")]
    InvalidIp {
        /// The text.
        value: String,
    },
    /// The database URL or settings cannot be used.
    #[error("invalid database configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(#[from] bcrypt::BcryptError),
    /// A migration failed.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// Migration version.
        version: i64,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// Data read back from the database is not what the store wrote.
    #[error("corrupt data: {what}")]
    Corrupt {
        /// Description.
        what: String,
    },
    /// A blocking task (password hashing) was cancelled.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// True for [`Error::NotFound`] (LAPI maps it to 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True for [`Error::AlreadyExists`] (LAPI maps it to 403).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
