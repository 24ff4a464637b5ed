//! Bounded queue of alert batches waiting for the LAPI, optionally persisted on disk.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cs_models::Alert;

use crate::error::{Error, Result};

/// One batch as queued.
#[derive(Debug)]
struct Batch {
    seq: u64,
    /// Shared with the push in flight, which sends it without a copy.
    alerts: Arc<[Alert]>,
}

/// Alert batches in the order they were queued; each leaves when it is delivered, which
/// need not be in that order. With a directory, each batch is also a file `<seq>.json` written
/// atomically (temporary file + rename) and removed once delivered, so batches survive a
/// crash or restart and are re-sent in order by the next [`Spool::open`]. At most
/// `max_alerts` alerts are kept: when a new batch would exceed the bound, the oldest batches
/// are dropped (and counted), since the newest alerts carry the most current threats.
#[derive(Debug)]
pub struct Spool {
    dir: Option<PathBuf>,
    max_alerts: usize,
    batches: VecDeque<Batch>,
    queued: usize,
    next_seq: u64,
    dropped: u64,
}

impl Spool {
    /// Opens the spool, reloading the batches left in `dir` (unreadable files are renamed
    /// `*.bad` and skipped). `None` keeps the queue in memory only.
    pub fn open(dir: Option<&Path>, max_alerts: usize) -> Result<Spool> {
        let mut spool = Spool {
            dir: dir.map(Path::to_path_buf),
            max_alerts: max_alerts.max(1),
            batches: VecDeque::new(),
            queued: 0,
            next_seq: 0,
            dropped: 0,
        };
        let Some(dir) = dir else {
            return Ok(spool);
        };
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                found.push((seq, path));
            }
        }
        found.sort();
        for (seq, path) in found {
            let alerts = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<Alert>>(&b).ok());
            match alerts {
                Some(alerts) => {
                    spool.queued += alerts.len();
                    spool.batches.push_back(Batch {
                        seq,
                        alerts: alerts.into(),
                    });
                }
                None => {
                    tracing::warn!(file = %path.display(), "unreadable spooled alert batch, set aside");
                    let _ = std::fs::rename(&path, path.with_extension("bad"));
                }
            }
            spool.next_seq = spool.next_seq.max(seq + 1);
        }
        if !spool.batches.is_empty() {
            tracing::info!(
                batches = spool.batches.len(),
                alerts = spool.queued,
                "reloaded undelivered alerts"
            );
        }
        spool.enforce_bound()?;
        Ok(spool)
    }

    fn file(&self, seq: u64) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{seq:020}.json")))
    }

    /// Appends a batch (written to disk first when the spool has a directory). When the file
    /// cannot be written the batch is still queued in memory and the error is returned so the
    /// caller can report that it is not durable.
    pub fn push(&mut self, alerts: Vec<Alert>) -> Result<()> {
        if alerts.is_empty() {
            return Ok(());
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let written = match self.file(seq) {
            Some(path) => write_atomic(&path, &alerts),
            None => Ok(()),
        };
        self.queued += alerts.len();
        self.batches.push_back(Batch {
            seq,
            alerts: alerts.into(),
        });
        self.enforce_bound()?;
        written
    }

    fn enforce_bound(&mut self) -> Result<()> {
        // The newest batch is always kept, even when it alone exceeds the bound.
        while self.queued > self.max_alerts && self.batches.len() > 1 {
            let n = self.front().map_or(0, <[Alert]>::len);
            tracing::warn!(
                alerts = n,
                max = self.max_alerts,
                "alert spool full, dropping oldest batch"
            );
            self.dropped += n as u64;
            self.pop_front()?;
        }
        Ok(())
    }

    /// The oldest batch.
    fn front(&self) -> Option<&[Alert]> {
        self.batches.front().map(|b| &*b.alerts)
    }

    /// The oldest batch whose sequence number `wanted` accepts, with that number, shared (for
    /// sending it while it stays queued; the number is stable while it does).
    pub fn oldest_where(&self, mut wanted: impl FnMut(u64) -> bool) -> Option<(u64, Arc<[Alert]>)> {
        self.batches
            .iter()
            .find(|b| wanted(b.seq))
            .map(|b| (b.seq, Arc::clone(&b.alerts)))
    }

    /// Removes the batch numbered `seq` (after delivery); false when it is no longer queued
    /// (dropped to stay within the bound).
    pub fn remove(&mut self, seq: u64) -> Result<bool> {
        let Some(at) = self.batches.iter().position(|b| b.seq == seq) else {
            return Ok(false);
        };
        if let Some(b) = self.batches.remove(at) {
            self.queued -= b.alerts.len();
        }
        self.remove_file(seq)?;
        Ok(true)
    }

    /// Removes the oldest batch.
    pub fn pop_front(&mut self) -> Result<()> {
        let Some(b) = self.batches.pop_front() else {
            return Ok(());
        };
        self.queued -= b.alerts.len();
        self.remove_file(b.seq)
    }

    fn remove_file(&self, seq: u64) -> Result<()> {
        let Some(path) = self.file(seq) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Alerts waiting.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Nothing waiting?
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Alerts dropped because the bound was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Writes `alerts` to `path` through a temporary file, so a crash never leaves half a batch.
fn write_atomic(path: &Path, alerts: &[Alert]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let body = serde_json::to_vec(alerts).map_err(|e| io(std::io::Error::other(e)))?;
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(scenario: &str) -> Alert {
        Alert {
            scenario: Some(scenario.to_string()),
            ..Alert::default()
        }
    }

    fn scenarios(s: &Spool) -> Vec<String> {
        s.front()
            .unwrap_or_default()
            .iter()
            .map(|a| a.get_scenario().to_string())
            .collect()
    }

    #[test]
    fn batches_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(Some(dir.path()), 100).unwrap();
        s.push(vec![alert("a"), alert("b")]).unwrap();
        s.push(vec![alert("c")]).unwrap();
        drop(s);
        let mut s = Spool::open(Some(dir.path()), 100).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(scenarios(&s), ["a", "b"]);
        s.pop_front().unwrap();
        // A batch pushed after reopening goes after the reloaded ones.
        s.push(vec![alert("d")]).unwrap();
        drop(s);
        let mut s = Spool::open(Some(dir.path()), 100).unwrap();
        assert_eq!(scenarios(&s), ["c"]);
        s.pop_front().unwrap();
        assert_eq!(scenarios(&s), ["d"]);
        s.pop_front().unwrap();
        assert!(s.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn batches_answered_out_of_order_leave_the_others_queued() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(Some(dir.path()), 100).unwrap();
        for name in ["a", "b", "c"] {
            s.push(vec![alert(name)]).unwrap();
        }
        let (first, batch) = s.oldest_where(|_| true).unwrap();
        assert_eq!(batch[0].get_scenario(), "a");
        // The next batch not being sent is the second one.
        let (second, batch) = s.oldest_where(|seq| seq != first).unwrap();
        assert_eq!(batch[0].get_scenario(), "b");
        // The second is answered first: the first stays at the front, on disk too.
        assert!(s.remove(second).unwrap());
        assert!(!s.remove(second).unwrap(), "a batch is removed once");
        assert_eq!((s.len(), scenarios(&s)), (2, vec!["a".to_string()]));
        drop(s);
        let mut s = Spool::open(Some(dir.path()), 100).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.remove(first).unwrap());
        assert_eq!(scenarios(&s), ["c"]);
        assert!(s.oldest_where(|seq| seq == first).is_none());
    }

    #[test]
    fn bound_drops_oldest_batches() {
        let mut s = Spool::open(None, 3).unwrap();
        s.push(vec![alert("a"), alert("b")]).unwrap();
        s.push(vec![alert("c")]).unwrap();
        s.push(vec![alert("d")]).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.dropped(), 2);
        assert_eq!(scenarios(&s), ["c"]);
    }

    #[test]
    fn corrupt_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("00000000000000000007.json"), b"{not json").unwrap();
        let mut s = Spool::open(Some(dir.path()), 10).unwrap();
        assert!(s.is_empty());
        assert!(dir.path().join("00000000000000000007.bad").exists());
        s.push(vec![alert("x")]).unwrap();
        assert!(dir.path().join("00000000000000000008.json").exists());
    }
}
