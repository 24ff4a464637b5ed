//! Hub items in a CrowdSec configuration: the hub index, the installed state of a config
//! directory (symlinks into `hub_dir`, local items), and install/remove/upgrade plans with
//! collection dependencies and data files, laid out as upstream `cscli` does.

mod error;
mod hub;
mod index;
mod plan;
mod source;

pub use error::{Error, Result};
pub use hub::{Hub, HubPaths, Item, ItemState};
pub use index::{
    Dependencies, Index, IndexItem, ItemType, VersionInfo, compare_versions, sha256_hex,
};
pub use plan::{Action, DataEntry, Plan, Step, singular};
pub use source::{HubSource, LocalHub, NoSource};
