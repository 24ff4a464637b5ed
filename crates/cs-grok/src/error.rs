//! The crate's error type.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a pattern could not be added, loaded or compiled.
///
/// Offsets are byte offsets into the pattern text carried by the same variant, so callers
/// can point at the position inside the YAML value the pattern came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pattern definition with an empty name.
    #[error("grok pattern definition with an empty name")]
    EmptyName,
    /// A name that is not made of word characters (`[0-9A-Za-z_]+`), so `%{…}` cannot refer to it.
    #[error("invalid grok pattern name `{name}`: expected word characters only")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A pattern (named or inline) with an empty expression.
    #[error("empty grok pattern{}", name.as_deref().map(|n| format!(" `{n}`")).unwrap_or_default())]
    EmptyPattern {
        /// The pattern name, for a named definition.
        name: Option<String>,
    },
    /// A second definition of a name; the first definition is kept.
    #[error("grok pattern `{name}` is already defined")]
    Duplicate {
        /// The name defined twice.
        name: String,
    },
    /// `%{NAME}` refers to a pattern that is not defined.
    #[error("unknown grok pattern `{name}` referenced at byte {offset} of `{pattern}`")]
    UnknownPattern {
        /// The missing pattern.
        name: String,
        /// The expression containing the reference.
        pattern: String,
        /// Byte offset of the `%{` in `pattern`.
        offset: usize,
    },
    /// A pattern name looked up directly (a parser's `grok.name`) is not defined.
    #[error("grok pattern `{name}` is not defined")]
    Undefined {
        /// The missing name.
        name: String,
    },
    /// Named patterns referring to each other in a loop.
    #[error("grok patterns reference each other in a cycle: {}", chain.join(" -> "))]
    Cycle {
        /// The names along the cycle, the first one repeated at the end.
        chain: Vec<String>,
    },
    /// The regular expression is malformed or uses syntax RE2 does not have.
    #[error("invalid grok pattern `{pattern}` at byte {offset}: {message}")]
    Syntax {
        /// The expression as written (before expanding references).
        pattern: String,
        /// Byte offset in `pattern` (the start of the `%{…}` when the error is inside an
        /// expanded reference).
        offset: usize,
        /// What is wrong or what was expected.
        message: String,
    },
    /// The regular expression is valid but could not be built (for example it is too large).
    #[error("cannot build grok pattern `{pattern}`: {message}")]
    Build {
        /// The expression as written.
        pattern: String,
        /// The reason given by the regex engine.
        message: String,
    },
    /// A named pattern whose own definition is broken.
    #[error("in grok pattern `{name}`: {source}")]
    Definition {
        /// The pattern name.
        name: String,
        /// The problem with its definition.
        #[source]
        source: Box<Error>,
    },
    /// A pattern file could not be read.
    #[error("cannot read grok pattern file {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A definition in a pattern file is broken.
    #[error("{}:{line}: {source}", path.display())]
    File {
        /// The pattern file.
        path: PathBuf,
        /// 1-based line number of the definition.
        line: usize,
        /// The problem with that definition.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The innermost error, skipping the `Definition` and `File` wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::Definition { source, .. } | Error::File { source, .. } => source.root(),
            other => other,
        }
    }
}
