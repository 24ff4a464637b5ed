//! Following files by path through rotation, truncation, symlink swaps and deletion, with
//! positions saved across restarts. Synchronous and driven by the caller: [`Tailer::discover`]
//! expands the globs, [`Tailer::poll`] reads what was appended since the last call.
//!
//! Per file, a poll:
//! 1. checks the open handle: smaller than what was read, or its first bytes changed
//!    (fingerprint), means it was truncated (copytruncate) and is read again from 0;
//! 2. reads the handle to its end;
//! 3. checks the path: gone means the file was deleted (the partial last line is delivered
//!    and the file forgotten; it is picked up again if it reappears); another device/inode
//!    means it was rotated by rename or its symlink now points elsewhere (the old file was
//!    just read to its end; the new one is read from 0).
//!
//! A file seen for the first time at start is followed from its end, as upstream does; a file
//! that appears later is read from its start. With a saved position for the same
//! device, inode and fingerprint, reading resumes at the saved offset; if the path now names
//! another file (rotated while the agent was down), the old file is looked for next to it by
//! inode and read to its end first, then the new one from 0.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use super::positions::{FINGERPRINT_LEN, Position, PositionStore, created_ns, fingerprint};
use crate::lines::{LineSplitter, Piece};

/// Read size per system call.
const READ_CHUNK: usize = 64 * 1024;
/// Most bytes read from one file in one poll, so one busy file cannot starve the others.
const POLL_BUDGET: u64 = 16 * 1024 * 1024;

/// The sink of a tailer: the file's path (`Line.Src`) and what was found. `Break` means the
/// line was not taken; the tailer stops and must be dropped (after
/// [`Tailer::record_positions`]), and the line is read again after a restart.
pub(crate) type Emit<'a> = dyn FnMut(&Arc<str>, Piece<'_>) -> ControlFlow<()> + 'a;

/// What to watch.
#[derive(Debug, Clone)]
pub(crate) struct TailerOptions {
    /// Paths or glob patterns.
    pub(crate) patterns: Vec<String>,
    /// Files whose path matches one of these are ignored.
    pub(crate) exclude: Vec<Regex>,
    /// Longest line kept.
    pub(crate) max_line: usize,
}

struct Tracked {
    src: Arc<str>,
    file: File,
    dev: u64,
    ino: u64,
    created_ns: Option<u64>,
    read_pos: u64,
    splitter: LineSplitter,
    /// The first bytes of the file (up to [`FINGERPRINT_LEN`]).
    fp: Vec<u8>,
}

impl Tracked {
    fn open(src: Arc<str>, path: &Path, max_line: usize) -> std::io::Result<(Tracked, u64)> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut t = Tracked {
            src,
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            created_ns: created_ns(&meta),
            read_pos: 0,
            splitter: LineSplitter::new(max_line),
            fp: Vec::new(),
        };
        t.refresh_fingerprint(meta.len());
        Ok((t, meta.len()))
    }

    fn refresh_fingerprint(&mut self, len: u64) {
        let want = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(FINGERPRINT_LEN);
        if want > self.fp.len() {
            let mut buf = vec![0; want];
            if self.file.read_exact_at(&mut buf, 0).is_ok() {
                self.fp = buf;
            }
        }
    }

    /// Is the start of the file still what it was?
    fn fingerprint_holds(&self) -> bool {
        if self.fp.is_empty() {
            return true;
        }
        let mut buf = vec![0; self.fp.len()];
        match self.file.read_exact_at(&mut buf, 0) {
            Ok(()) => buf == self.fp,
            Err(_) => false,
        }
    }

    fn position(&self) -> Position {
        Position {
            dev: self.dev,
            ino: self.ino,
            offset: self.read_pos - self.splitter.pending(),
            fingerprint_len: self.fp.len() as u64,
            fingerprint: fingerprint(&self.fp),
            created_ns: self.created_ns,
        }
    }

    /// Reads from the current position to the end of the file.
    fn drain(&mut self, buf: &mut [u8], emit: &mut Emit<'_>) -> ControlFlow<()> {
        let mut budget = POLL_BUDGET;
        while budget > 0 {
            let n = match self.file.read_at(buf, self.read_pos) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(file = %self.src, error = %e, "read failed");
                    break;
                }
            };
            let src = &self.src;
            let (used, flow) = self.splitter.feed(&buf[..n], &mut |p| emit(src, p));
            self.read_pos += used as u64;
            budget = budget.saturating_sub(used as u64);
            flow?;
        }
        if self.fp.len() < FINGERPRINT_LEN {
            self.refresh_fingerprint(self.read_pos);
        }
        ControlFlow::Continue(())
    }

    fn flush(&mut self, emit: &mut Emit<'_>) -> ControlFlow<()> {
        let src = &self.src;
        self.splitter.flush(&mut |p| emit(src, p))
    }
}

/// Follows the files matching a set of patterns.
pub(crate) struct Tailer {
    opts: TailerOptions,
    store: Option<Arc<PositionStore>>,
    files: BTreeMap<String, Tracked>,
    /// Files rotated away while the agent was down, read to their end at the next poll.
    orphans: Vec<Tracked>,
    /// Paths that could not be opened (reported once).
    failed: BTreeSet<String>,
    first_scan: bool,
    buf: Vec<u8>,
    /// Bumped whenever a path starts or stops naming a followed file.
    generation: u64,
}

impl Tailer {
    pub(crate) fn new(opts: TailerOptions, store: Option<Arc<PositionStore>>) -> Tailer {
        Tailer {
            opts,
            store,
            files: BTreeMap::new(),
            orphans: Vec::new(),
            failed: BTreeSet::new(),
            first_scan: true,
            buf: vec![0; READ_CHUNK],
            generation: 0,
        }
    }

    /// Changes whenever the set of followed files (or a file behind a path) changes.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The directories where a change concerns the followed files: each file's directory and
    /// that of its symlink's target, and the directory part of each pattern up to its first
    /// glob character.
    pub(crate) fn watch_dirs(&self) -> BTreeSet<std::path::PathBuf> {
        let mut dirs = BTreeSet::new();
        for pattern in &self.opts.patterns {
            let path = Path::new(pattern);
            let mut fixed = std::path::PathBuf::new();
            let mut parts = path.components().peekable();
            while let Some(c) = parts.next() {
                let globby = c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
                if parts.peek().is_none() || globby {
                    break;
                }
                fixed.push(c);
            }
            if !fixed.as_os_str().is_empty() {
                dirs.insert(fixed);
            }
        }
        for key in self.files.keys() {
            let path = Path::new(key);
            dirs.extend(path.parent().map(Path::to_path_buf));
            if let Ok(real) = std::fs::canonicalize(path) {
                dirs.extend(real.parent().map(Path::to_path_buf));
            }
        }
        dirs.retain(|d| !d.as_os_str().is_empty());
        dirs
    }

    /// The paths followed now.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Expands the patterns and starts following new files. Returns the files that match
    /// but could not be opened, each reported once.
    pub(crate) fn discover(&mut self) -> Vec<(String, std::io::Error)> {
        let mut errors = Vec::new();
        let first = std::mem::take(&mut self.first_scan);
        let patterns = self.opts.patterns.clone();
        for pattern in &patterns {
            let paths = match glob::glob(pattern) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(pattern = %pattern, error = %e, "invalid file pattern");
                    continue;
                }
            };
            for path in paths.filter_map(std::result::Result::ok) {
                let key = path.to_string_lossy().into_owned();
                // A dangling symlink names nothing yet: it is picked up once its target exists.
                if self.files.contains_key(&key)
                    || !path.exists()
                    || path.is_dir()
                    || self.opts.exclude.iter().any(|re| re.is_match(&key))
                {
                    continue;
                }
                match Tracked::open(Arc::from(key.as_str()), &path, self.opts.max_line) {
                    Ok((mut t, len)) => {
                        self.failed.remove(&key);
                        t.read_pos = self.start_offset(&key, &path, &t, len, first);
                        tracing::info!(file = %key, offset = t.read_pos, "following file");
                        self.files.insert(key, t);
                        self.generation += 1;
                    }
                    Err(e) => {
                        if self.failed.insert(key.clone()) {
                            errors.push((key, e));
                        }
                    }
                }
            }
        }
        errors
    }

    /// Where to start reading a newly found file.
    fn start_offset(&mut self, key: &str, path: &Path, t: &Tracked, len: u64, first: bool) -> u64 {
        let saved = self.store.as_ref().and_then(|s| s.get(key));
        let same_file =
            |p: &Position| p.dev == t.dev && p.ino == t.ino && same_birth(p, t.created_ns);
        match saved {
            // The same file, unless it was truncated or rewritten meanwhile.
            Some(p) if same_file(&p) => {
                let intact = len >= p.offset && matches_fingerprint(&t.file, &p);
                if intact { p.offset } else { 0 }
            }
            Some(p) => {
                let patterns: Vec<glob::Pattern> = self
                    .opts
                    .patterns
                    .iter()
                    .filter_map(|p| glob::Pattern::new(p).ok())
                    .collect();
                if let Some(old) = find_rotated(key, path, &p, &patterns, self.opts.max_line) {
                    tracing::info!(file = %key, "reading the end of the file rotated while stopped");
                    self.orphans.push(old);
                }
                0
            }
            None if first => len,
            None => 0,
        }
    }

    /// Reads what was appended to every followed file.
    pub(crate) fn poll(&mut self, emit: &mut Emit<'_>) -> ControlFlow<()> {
        let buf = &mut self.buf;
        while let Some(mut old) = self.orphans.pop() {
            if old.drain(buf, emit).is_break() || old.flush(emit).is_break() {
                self.orphans.push(old);
                return ControlFlow::Break(());
            }
        }
        let keys: Vec<String> = self.files.keys().cloned().collect();
        for key in keys {
            let Some(t) = self.files.get_mut(&key) else {
                continue;
            };
            // 1. Truncated in place?
            if let Ok(meta) = t.file.metadata()
                && (meta.len() < t.read_pos || !t.fingerprint_holds())
            {
                tracing::info!(file = %key, "file truncated, reading it from the start");
                t.flush(emit)?;
                t.splitter.reset();
                t.read_pos = 0;
                t.fp.clear();
                t.refresh_fingerprint(meta.len());
            }
            // 2. Read to the end.
            t.drain(buf, emit)?;
            // 3. Does the path still name this file?
            match std::fs::metadata(&key) {
                Ok(meta) if meta.dev() == t.dev && meta.ino() == t.ino => {}
                Ok(_) => {
                    tracing::info!(file = %key, "file rotated, following the new one");
                    self.generation += 1;
                    t.flush(emit)?;
                    match Tracked::open(t.src.clone(), Path::new(&key), self.opts.max_line) {
                        Ok((mut new, _)) => {
                            let flow = new.drain(buf, emit);
                            self.files.insert(key, new);
                            flow?;
                        }
                        Err(e) => {
                            tracing::warn!(file = %key, error = %e, "cannot open the rotated file");
                            self.files.remove(&key);
                        }
                    }
                }
                Err(_) => {
                    tracing::info!(file = %key, "file gone, forgetting it");
                    self.generation += 1;
                    t.flush(emit)?;
                    self.files.remove(&key);
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Records where each followed file was read up to in the position store.
    pub(crate) fn record_positions(&self) {
        if let Some(store) = &self.store {
            for (key, t) in &self.files {
                // While the file rotated during a stop is not read yet, its saved position is
                // what finds it again after another restart.
                if self.orphans.iter().any(|o| *o.src == **key) {
                    continue;
                }
                store.set(key, t.position());
            }
        }
    }
}

/// Same birth time, when both are known.
fn same_birth(p: &Position, created: Option<u64>) -> bool {
    match (p.created_ns, created) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn matches_fingerprint(file: &File, p: &Position) -> bool {
    let Ok(len) = usize::try_from(p.fingerprint_len) else {
        return false;
    };
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, 0).is_ok() && fingerprint(&buf) == p.fingerprint
}

/// Looks next to `path` for the file a saved position describes (same device and inode,
/// same first bytes), opened at the saved offset. A file the patterns match is followed on
/// its own and never taken. Inodes are reused: the birth time tells them apart where the file
/// system keeps it; without it, a file that was empty when last seen (no fingerprint) is not
/// looked for.
fn find_rotated(
    key: &str,
    path: &Path,
    p: &Position,
    patterns: &[glob::Pattern],
    max_line: usize,
) -> Option<Tracked> {
    if p.fingerprint_len == 0 && p.created_ns.is_none() {
        return None;
    }
    let dir = path.parent()?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if patterns.iter().any(|pat| pat.matches_path(&entry.path())) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.dev() != p.dev
            || meta.ino() != p.ino
            || meta.len() < p.offset
            || !same_birth(p, created_ns(&meta))
        {
            continue;
        }
        let (mut t, _) = Tracked::open(Arc::from(key), &entry.path(), max_line).ok()?;
        if !matches_fingerprint(&t.file, p) {
            return None;
        }
        t.read_pos = p.offset;
        return Some(t);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;

    /// Names of the followed files (all match `*.log`); rotated copies and symlink targets
    /// do not.
    const FILES: [&str; 2] = ["app.log", "link.log"];

    /// One step of a scenario.
    #[derive(Debug, Clone)]
    enum Op {
        /// Append `n` whole lines to file `f`.
        Write(usize, usize),
        /// Append the first half of a line to file `f` (finished by its next write).
        Partial(usize),
        /// The tailer polls.
        Poll,
        /// Rename `f` to `f.1` and start a new `f` (logrotate's default).
        Rename(usize),
        /// Copy `f` to `f.1` and truncate it (logrotate's `copytruncate`).
        CopyTruncate(usize),
        /// Delete `f` (its next write creates it again).
        Delete(usize),
        /// Point `link.log` at a new target.
        SwapLink,
        /// Save positions and start a new tailer from them.
        Restart,
        /// Stop; rename-rotate and write while stopped; start again.
        DownWithRotation(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let f = 0..FILES.len();
        prop_oneof![
            4 => (f.clone(), 1..4usize).prop_map(|(f, n)| Op::Write(f, n)),
            1 => f.clone().prop_map(Op::Partial),
            3 => Just(Op::Poll),
            1 => f.clone().prop_map(Op::Rename),
            1 => f.clone().prop_map(Op::CopyTruncate),
            1 => f.clone().prop_map(Op::Delete),
            1 => Just(Op::SwapLink),
            1 => Just(Op::Restart),
            1 => (f, 1..3usize).prop_map(|(f, n)| Op::DownWithRotation(f, n)),
        ]
    }

    /// A directory of log files, their writers, and what was written to each path.
    struct World {
        dir: tempfile::TempDir,
        written: BTreeMap<String, Vec<String>>,
        got: BTreeMap<String, Vec<String>>,
        /// Half-written line per file.
        partial: [Option<String>; 2],
        seq: usize,
        link_target: usize,
        store: Arc<PositionStore>,
        tailer: Option<Tailer>,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().unwrap();
            // Content present before the first start is not read (tailing from the end).
            std::fs::write(dir.path().join("app.log"), "old line 1\nold line 2\n").unwrap();
            std::fs::write(dir.path().join("target0"), "old target line\n").unwrap();
            std::os::unix::fs::symlink("target0", dir.path().join("link.log")).unwrap();
            let store = Arc::new(PositionStore::open(&dir.path().join("state")).unwrap());
            let mut w = World {
                dir,
                written: BTreeMap::new(),
                got: BTreeMap::new(),
                partial: [None, None],
                seq: 0,
                link_target: 0,
                store,
                tailer: None,
            };
            w.start();
            w
        }

        fn path(&self, f: usize) -> PathBuf {
            self.dir.path().join(FILES[f])
        }

        fn key(&self, f: usize) -> String {
            self.path(f).to_string_lossy().into_owned()
        }

        fn start(&mut self) {
            let mut t = Tailer::new(
                TailerOptions {
                    patterns: vec![format!("{}/*.log", self.dir.path().display())],
                    exclude: Vec::new(),
                    max_line: 1000,
                },
                Some(self.store.clone()),
            );
            assert!(t.discover().is_empty());
            self.tailer = Some(t);
        }

        fn stop(&mut self) {
            if let Some(t) = self.tailer.take() {
                t.record_positions();
                self.store.save().unwrap();
            }
            // A new process reads the store from disk.
            self.store = Arc::new(PositionStore::open(&self.dir.path().join("state")).unwrap());
        }

        fn poll(&mut self) {
            let Some(t) = self.tailer.as_mut() else {
                return;
            };
            let got = &mut self.got;
            let _ = t.discover();
            let flow = t.poll(&mut |src, piece| {
                match piece {
                    Piece::Line { text, .. } => got
                        .entry(src.to_string())
                        .or_default()
                        .push(text.into_owned()),
                    Piece::TooLong => panic!("no line is too long here"),
                }
                ControlFlow::Continue(())
            });
            assert!(flow.is_continue());
            t.record_positions();
        }

        fn append(&mut self, f: usize, text: &str) {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(f))
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        fn write(&mut self, f: usize, n: usize) {
            for _ in 0..n {
                self.seq += 1;
                let line = match self.partial[f].take() {
                    Some(head) => format!("{head}-tail{}", self.seq),
                    None => format!("{}-line{}", FILES[f], self.seq),
                };
                let head_len = line.find("-tail").unwrap_or(0);
                self.append(f, &format!("{}\n", &line[head_len..]));
                let key = self.key(f);
                self.written.entry(key).or_default().push(line);
            }
        }

        /// A writer finishes its line before its file is rotated.
        fn finish_partial(&mut self, f: usize) {
            if self.partial[f].is_some() {
                self.write(f, 1);
            }
        }

        fn apply(&mut self, op: &Op) {
            match *op {
                Op::Write(f, n) => self.write(f, n),
                Op::Partial(f) => {
                    if self.partial[f].is_none() {
                        self.seq += 1;
                        let head = format!("{}-head{}", FILES[f], self.seq);
                        self.append(f, &head);
                        self.partial[f] = Some(head);
                    }
                }
                Op::Poll => self.poll(),
                Op::Rename(f) => {
                    self.finish_partial(f);
                    // The tailer keeps up with rotations.
                    self.poll();
                    let p = self.real_path(f);
                    if p.exists() {
                        std::fs::rename(&p, p.with_extension("log.1")).unwrap();
                        std::fs::write(&p, "").unwrap();
                    }
                }
                Op::CopyTruncate(f) => {
                    self.finish_partial(f);
                    self.poll();
                    let p = self.real_path(f);
                    if p.exists() {
                        std::fs::copy(&p, p.with_extension("log.1")).unwrap();
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&p)
                            .unwrap()
                            .set_len(0)
                            .unwrap();
                    }
                }
                Op::Delete(f) => {
                    self.finish_partial(f);
                    self.poll();
                    let _ = std::fs::remove_file(self.real_path(f));
                }
                Op::SwapLink => {
                    self.finish_partial(1);
                    self.poll();
                    self.link_target += 1;
                    let target = format!("target{}", self.link_target);
                    std::fs::write(self.dir.path().join(&target), "").unwrap();
                    let tmp = self.dir.path().join("link.tmp");
                    std::os::unix::fs::symlink(&target, &tmp).unwrap();
                    std::fs::rename(&tmp, self.path(1)).unwrap();
                }
                Op::Restart => {
                    self.stop();
                    self.start();
                }
                Op::DownWithRotation(f, n) => {
                    self.finish_partial(f);
                    // Only a file the tailer knew can be found again after its rotation; one
                    // created and rotated away while stopped is out of sight.
                    self.poll();
                    let known = self.real_path(f).exists();
                    self.stop();
                    self.write(f, n);
                    let p = self.real_path(f);
                    if known {
                        std::fs::rename(&p, p.with_extension("log.1")).unwrap();
                        std::fs::write(&p, "").unwrap();
                    }
                    self.write(f, n);
                    self.start();
                }
            }
        }

        /// The file a name refers to (the symlink's target for `link.log`).
        fn real_path(&self, f: usize) -> PathBuf {
            if f == 1 {
                self.dir.path().join(format!("target{}", self.link_target))
            } else {
                self.path(f)
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Every line written after the first start is delivered exactly once, in order per
        /// file, whatever rotations, truncations, deletions, symlink swaps and restarts happen.
        #[test]
        fn every_line_is_delivered_once_in_order(ops in proptest::collection::vec(op(), 1..25)) {
            let mut w = World::new();
            for op in &ops {
                w.apply(op);
            }
            for f in 0..FILES.len() {
                w.finish_partial(f);
            }
            w.poll();
            w.poll();
            prop_assert_eq!(&w.got, &w.written);
        }
    }

    #[test]
    fn deleted_link_target_and_recreated_file_are_followed() {
        let mut w = World::new();
        for op in [
            Op::Write(1, 2),
            Op::Delete(1),
            Op::Write(1, 1),
            Op::Poll,
            Op::Write(0, 1),
            Op::CopyTruncate(0),
            Op::Write(0, 1),
        ] {
            w.apply(&op);
        }
        w.poll();
        assert_eq!(w.got, w.written);
        assert_eq!(w.got[&w.key(0)].len(), 2);
    }
}
