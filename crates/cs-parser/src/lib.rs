//! CrowdSec parsers: node YAML, stages (`s00-raw`, `s01-parse`, `s02-enrich`), statics,
//! whitelists, stash and enrichers, with upstream's evaluation rules.
//!
//! A [`Loader`] (built with [`LoaderBuilder`]) compiles parser files — a config directory
//! (`parsers/<stage>/*.yaml`) or an explicit list of [`config::StageFile`]s — into
//! [`Parsers`], which parse events in place:
//!
//! * every stage needs one successful node, and a node with `onsuccess: next_stage`
//!   moves the event to the next stage;
//! * a node without a grok of its own is as successful as its last evaluated child
//!   (unless it has `next_stage`, then the first successful child wins);
//! * a grok that does not match fails its node but children still run;
//! * statics run on success (on whitelist nodes: only when whitelisted).
//!
//! After [`Parsers::parse`], `evt.Process` says whether the event was parsed;
//! `evt.Whitelisted` whether a whitelist matched. [`Parsers::parse_traced`] also reports
//! each top-level node's outcome to a [`Trace`] — [`ParserDump`] collects them the way
//! `-dump-data` and hubtest need. Load errors are collected for all files and point into
//! the YAML (`file:line:col`, key path, caret).
//!
//! Postoverflows use the same engine: load `postoverflows/` with a second [`Loader`] (each
//! set has its own grok pattern host) and parse overflow events with it.

pub mod config;
mod dump;
pub mod enrich;
mod error;
mod expr;
mod load;
mod metrics;
mod node;
mod pipeline;
mod stash;
mod statics;
pub mod target;
pub mod whitelist;

pub use dump::{ParserDump, ParserResult};
pub use error::{Diagnostic, Diagnostics, Error, Result};
pub use load::{Loader, LoaderBuilder};
pub use node::Node;
pub use pipeline::{CounterCache, Parsers, Trace};
