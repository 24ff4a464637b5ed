//! Wake-ups for the `file` datasource from inotify: the directories of the followed files (and
//! of their symlinks' targets) and the fixed directories of the patterns are watched, and any
//! change there wakes the tailer at once. A file created or renamed there also asks for the
//! patterns to be expanded again. Only the wake-up comes from inotify: what changed is always
//! found by looking at the files, so a missed or merged event costs latency, never data.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;

/// Directory watches and the signals they raise.
pub(crate) struct DirWatch {
    watcher: notify::RecommendedWatcher,
    /// Watched directories with the device and inode they had (a directory deleted and made
    /// again needs a new watch).
    watched: BTreeMap<PathBuf, (u64, u64)>,
    wake: Arc<Notify>,
    rescan: Arc<AtomicBool>,
    /// A directory could not be watched (inotify limits): the caller polls at its fast pace.
    incomplete: bool,
}

impl DirWatch {
    /// A watcher with nothing watched yet; fails when inotify is not available.
    pub(crate) fn new() -> notify::Result<DirWatch> {
        let wake = Arc::new(Notify::new());
        let rescan = Arc::new(AtomicBool::new(false));
        let (w, r) = (wake.clone(), rescan.clone());
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let new_names = match &res {
                // Opening or reading a file (ours included) changes nothing.
                Ok(e) if matches!(e.kind, EventKind::Access(_)) => return,
                Ok(e) => matches!(
                    e.kind,
                    EventKind::Create(_)
                        | EventKind::Modify(
                            ModifyKind::Name(_) | ModifyKind::Metadata(_) | ModifyKind::Any
                        )
                        | EventKind::Any
                        | EventKind::Other
                ),
                // Lost events (queue overflow): look at everything again.
                Err(_) => true,
            };
            if new_names {
                r.store(true, Ordering::Relaxed);
            }
            w.notify_one();
        })?;
        Ok(DirWatch {
            watcher,
            watched: BTreeMap::new(),
            wake,
            rescan,
            incomplete: false,
        })
    }

    /// Watches those of `dirs` not watched yet (or replaced since).
    pub(crate) fn watch(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        for dir in dirs {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            let id = (meta.dev(), meta.ino());
            if self.watched.get(&dir) == Some(&id) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!(dir = %dir.display(), "watching directory");
                    self.watched.insert(dir, id);
                }
                Err(e) => {
                    if !self.incomplete {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory, checking files every 250ms");
                    }
                    self.incomplete = true;
                }
            }
        }
    }

    /// Resolves at the next change (at once if one happened since the last call).
    pub(crate) fn changed(&self) -> impl std::future::Future<Output = ()> + '_ {
        self.wake.notified()
    }

    /// Whether a file was created or renamed since the last call.
    pub(crate) fn take_rescan(&self) -> bool {
        self.rescan.swap(false, Ordering::Relaxed)
    }

    /// Some directory could not be watched.
    pub(crate) fn incomplete(&self) -> bool {
        self.incomplete
    }
}
