//! Where each tailed file was read up to, kept across restarts in
//! `<state_dir>/acquisition-positions.json`.
//!
//! An entry is keyed by the file's path and records its device and inode, the offset just
//! after the last line delivered, and a fingerprint (SHA-256 of the first bytes, up to
//! [`FINGERPRINT_LEN`]) so that a file replaced or truncated while the agent was down is
//! recognised and read from its start instead of from a stale offset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How many leading bytes of a file its fingerprint covers.
pub(crate) const FINGERPRINT_LEN: usize = 256;

/// The saved state of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// Offset just after the last delivered line.
    pub(crate) offset: u64,
    /// How many leading bytes the fingerprint covers.
    pub(crate) fingerprint_len: u64,
    /// Hex SHA-256 of those bytes.
    pub(crate) fingerprint: String,
    /// Birth time of the file in nanoseconds since the epoch, where the file system keeps
    /// it: tells a reused inode from the file it used to be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created_ns: Option<u64>,
}

/// Birth time of a file in nanoseconds since the epoch, if known.
pub(crate) fn created_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let d = meta
        .created()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    u64::try_from(d.as_nanos()).ok()
}

/// Fingerprint of leading bytes.
pub(crate) fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    files: BTreeMap<String, Position>,
}

/// The positions of every tailed file, shared by the file datasources.
#[derive(Debug)]
pub(crate) struct PositionStore {
    path: PathBuf,
    state: Mutex<(BTreeMap<String, Position>, bool)>,
}

impl PositionStore {
    /// Opens (or starts) the store in `state_dir`, creating the directory. An unreadable or
    /// corrupt file is reported and replaced: every file then starts afresh.
    pub(crate) fn open(state_dir: &Path) -> std::io::Result<PositionStore> {
        std::fs::create_dir_all(state_dir)?;
        let path = state_dir.join("acquisition-positions.json");
        let files = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<FileFormat>(&bytes) {
                Ok(f) => f.files,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "positions file is corrupt, starting afresh");
                    BTreeMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(PositionStore {
            path,
            state: Mutex::new((files, false)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (BTreeMap<String, Position>, bool)> {
        // A panic elsewhere cannot leave the map half-updated: every update is one insert.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, key: &str) -> Option<Position> {
        self.lock().0.get(key).cloned()
    }

    pub(crate) fn set(&self, key: &str, pos: Position) {
        let mut st = self.lock();
        if st.0.get(key) != Some(&pos) {
            st.0.insert(key.to_owned(), pos);
            st.1 = true;
        }
    }

    /// Writes the file if something changed (write to a temporary file, then rename).
    pub(crate) fn save(&self) -> std::io::Result<()> {
        let (text, dirty) = {
            let st = self.lock();
            let body = FileFormat {
                version: 1,
                files: st.0.clone(),
            };
            (
                serde_json::to_vec_pretty(&body).map_err(std::io::Error::other)?,
                st.1,
            )
        };
        if !dirty {
            return Ok(());
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)?;
        self.lock().1 = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_a_reopen_and_corruption_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = PositionStore::open(&dir.path().join("state")).unwrap();
        let pos = Position {
            dev: 1,
            ino: 2,
            offset: 3,
            fingerprint_len: 4,
            fingerprint: fingerprint(b"abcd"),
            created_ns: Some(5),
        };
        store.set("/var/log/x.log", pos.clone());
        store.save().unwrap();
        let again = PositionStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(again.get("/var/log/x.log"), Some(pos));
        std::fs::write(dir.path().join("state/acquisition-positions.json"), "{").unwrap();
        let fresh = PositionStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(fresh.get("/var/log/x.log"), None);
    }
}
