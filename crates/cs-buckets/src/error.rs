//! The error type of this crate.

use cs_config::yaml::Diagnostics;

/// Errors of scenario loading and pouring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario file (or several) failed to load.
    #[error("{0}")]
    Load(Diagnostics),
    /// A context expression does not compile.
    #[error("alert context {key}: {source}")]
    Context {
        /// Context key.
        key: String,
        /// The compile error.
        #[source]
        source: Box<cs_expr::CompileError>,
    },
    /// A context file (`console/context.yaml`, a `contexts/*.yaml` hub item) cannot be read.
    #[error("alert context file {path}: {message}")]
    ContextFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A scenario filter failed at run time; the event is not poured into the remaining scenarios.
    #[error("scenario {scenario}: filter failed: {source}")]
    Filter {
        /// Scenario name.
        scenario: String,
        /// The run-time error.
        #[source]
        source: cs_expr::RuntimeError,
    },
    /// A scenario filter returned something else than a bool (fatal upstream).
    #[error("scenario {scenario}: filter returned a non-bool value")]
    FilterNotBool {
        /// Scenario name.
        scenario: String,
    },
    /// A scenario groupby failed at run time.
    #[error("scenario {scenario}: groupby failed: {source}")]
    GroupBy {
        /// Scenario name.
        scenario: String,
        /// The run-time error.
        #[source]
        source: cs_expr::RuntimeError,
    },
    /// A scenario groupby returned something else than a string (fatal upstream).
    #[error("scenario {scenario}: groupby returned a non-string value")]
    GroupByNotString {
        /// Scenario name.
        scenario: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
