//! Grok patterns and matching, with the semantics of crowdsecurity/grokky (CrowdSec's grok).
//!
//! # Usage
//!
//! ```
//! use cs_grok::Patterns;
//!
//! // One collection per parser context: base patterns, then the `patterns/` directory
//! // (`load_dir`), then each node's `pattern_syntax`.
//! let mut patterns = Patterns::base();
//! patterns.add("MYCAP", ".*").unwrap();
//! let grok = patterns.compile("^xxheader %{MYCAP:extracted} trailing$").unwrap();
//!
//! let caps = grok.captures("xxheader VALUE1 trailing").unwrap();
//! assert_eq!(caps.get("extracted"), Some("VALUE1"));
//! assert!(grok.captures("something else").is_none());
//! ```
//!
//! # Semantics (grokky's)
//!
//! * A reference is exactly `%{NAME}` or `%{NAME:field}` with word characters; anything else
//!   (`%{IP:src-ip}`, `%{INT:n:int}`) is literal regex text.
//! * Each reference becomes a capture group around the referenced expression. `:field`
//!   names that group; the fields of the referenced pattern are inherited unless the same
//!   name is used directly somewhere in the expression; a repeated name keeps the last one.
//! * Group numbers are computed with grokky's estimate of the groups in the literal text
//!   between references, bugs included, so field values agree with upstream's.
//! * Hand-written groups, named or not, never create fields. A pattern without fields never
//!   succeeds: [`Grok::fields`] is empty and [`Grok::captures`] always returns `None`.
//! * Matching is an unanchored leftmost-first search; every field is returned, with `""` for
//!   groups that did not take part in the match.
//! * The regex dialect is RE2's: `\w \d \s \b` are ASCII-only, `.` matches one code point,
//!   `\Q…\E` and `(?P<name>…)` work, lookaround, backreferences and possessive quantifiers
//!   are syntax errors.
//!
//! # API in one screen
//!
//! * [`Patterns`] — one per parser context (parsers, postoverflows). [`Patterns::base`],
//!   then [`Patterns::load_dir`] for `<config_dir>/patterns`, then [`Patterns::add`] for each
//!   `pattern_syntax` entry (treat [`Error::Duplicate`] as a warning, as upstream does).
//!   [`Patterns::builtin`] adds this crate's own syslog/sshd/nginx/netfilter library.
//! * [`Patterns::compile`] (`grok.pattern`) / [`Patterns::compile_named`] (`grok.name`) →
//!   [`Grok`], `Send + Sync`, meant to be shared in an `Arc`.
//! * [`Grok::captures`] → `Option<`[`Captures`]`>`; `None` is the node's "grok failed".
//!   [`Captures::iter`] yields `(&Arc<str>, &str)` pairs in [`Grok::fields`] order (sorted by
//!   name); values borrow from the line, field names are interned per [`Patterns`].
//!   A pattern with no fields can be detected at load time with `grok.fields().is_empty()`.
//! * Errors ([`Error`]) carry the pattern text and the byte offset of the problem (to map
//!   into YAML); unknown references name the missing pattern; [`Error::root`] skips the
//!   file/definition context.

mod backtrack;
mod error;
mod grok;
mod patterns;
mod prefilter;
mod reference;
mod translate;

pub use error::{Error, Result};
pub use grok::{Captures, Grok};
pub use patterns::Patterns;
