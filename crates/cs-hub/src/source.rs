//! Where the index, item files and data files come from.
//!
//! The [`HubSource`] trait is the seam for remote hubs: [`LocalHub`] reads a hub directory
//! (a checkout of the hub repository, or a mirror), and an HTTP source implementing the same
//! trait can fetch `<url template>/<branch>/<path>` and the data files' `source_url`s.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io};
use crate::index::Index;

/// Provider of hub content.
pub trait HubSource {
    /// The index JSON.
    fn fetch_index(&self) -> Result<Vec<u8>>;
    /// The file at an index `path`.
    fn fetch_item(&self, path: &str) -> Result<Vec<u8>>;
    /// A data file, by its `source_url` and `dest_file`.
    fn fetch_data(&self, source_url: &str, dest_file: &str) -> Result<Vec<u8>>;
}

/// A hub directory on disk, laid out like the hub repository, with data files in `data/`
/// under their `dest_file` name.
#[derive(Debug, Clone)]
pub struct LocalHub {
    root: PathBuf,
}

impl LocalHub {
    /// A source reading `root`.
    pub fn new(root: impl Into<PathBuf>) -> LocalHub {
        LocalHub { root: root.into() }
    }

    /// The hub directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl HubSource for LocalHub {
    /// `.index.json` of the directory, or, when it has none, an index built from its tree
    /// (see [`Index::build_from_dir`]).
    fn fetch_index(&self) -> Result<Vec<u8>> {
        let path = self.root.join(".index.json");
        match std::fs::read(&path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Index::build_from_dir(&self.root)?.to_json().into_bytes())
            }
            Err(e) => Err(io(path)(e)),
        }
    }

    fn fetch_item(&self, path: &str) -> Result<Vec<u8>> {
        let p = safe_join(&self.root, path)
            .ok_or_else(|| Error::Unavailable(format!("invalid item path {path}")))?;
        std::fs::read(&p).map_err(io(p))
    }

    fn fetch_data(&self, _source_url: &str, dest_file: &str) -> Result<Vec<u8>> {
        let p = safe_join(&self.root.join("data"), dest_file)
            .ok_or_else(|| Error::Unavailable(format!("invalid data file name {dest_file}")))?;
        std::fs::read(&p).map_err(io(p))
    }
}

/// A source that has nothing: installs work only from content embedded in the index.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSource;

impl HubSource for NoSource {
    fn fetch_index(&self) -> Result<Vec<u8>> {
        Err(Error::Unavailable(
            "no hub source configured to fetch the index from".into(),
        ))
    }

    fn fetch_item(&self, path: &str) -> Result<Vec<u8>> {
        Err(Error::Unavailable(format!(
            "no hub source configured to fetch {path} (the index has no embedded content)"
        )))
    }

    fn fetch_data(&self, source_url: &str, _dest_file: &str) -> Result<Vec<u8>> {
        Err(Error::Unavailable(format!(
            "while getting data: no hub source configured to fetch {source_url}"
        )))
    }
}

/// `base/rel` if `rel` is relative and has no `..` component (keeps writes inside `base`).
pub(crate) fn safe_join(base: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let ok = !rel.as_os_str().is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    ok.then(|| base.join(rel))
}
