//! The `file` datasource: read once (`-dsn file:///path/or/glob*.log`, or `mode: cat`),
//! every matching file in name order with gzip-compressed ones (`.gz`) decompressed on the
//! fly; or followed live (`mode: tail`, the default; see the module `tailer`).
//!
//! Keys (`acquis.yaml`): `filename`, `filenames` (paths or globs), `exclude_regexps`,
//! `max_buffer_size` (longest line in bytes; default [`DEFAULT_MAX_LINE_LENGTH`]),
//! `discovery_poll_interval` (how often the globs are expanded again to find new files;
//! default 1s), `poll_without_inotify` and, accepted for compatibility, `force_inotify` and
//! `discovery_poll_enable`.
//!
//! Followed files are read as soon as inotify reports a change in their directory (or in the
//! directory of a symlink's target), and the globs are expanded again as soon as a file is
//! created, renamed or made readable in the directory of a pattern; a check of every file every
//! second covers what inotify cannot see (network file systems). With
//! `poll_without_inotify: true`, or where inotify cannot be used (no more watches), files are
//! checked every 250 ms instead.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cs_config::yaml::{Diagnostic, Node};
use serde::Deserialize;

use super::positions::PositionStore;
use super::tailer::{Tailer, TailerOptions};
use super::watch::DirWatch;
use crate::config::{Mode, key_error, parse_go_duration};
use crate::dsn::Dsn;
use crate::error::{Error, Result};
use crate::lines::{DEFAULT_MAX_LINE_LENGTH, Piece, for_each_line};
use crate::live::{Counters, SourceCtx, Started};
use crate::{Labels, OneShotSource, RawLine, ReadStats};

/// How often followed files are checked for new data without inotify.
const TAIL_POLL: Duration = Duration::from_millis(250);
/// How often followed files are checked anyway with inotify (for what it cannot see).
const WATCHED_POLL: Duration = Duration::from_secs(1);
/// How often the globs are expanded again by default.
const DEFAULT_DISCOVERY: Duration = Duration::from_secs(1);
/// How often positions are written while running.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// The `file` keys of an acquisition document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileConfig {
    /// `filenames` plus `filename`: paths or glob patterns.
    pub filenames: Vec<String>,
    /// `exclude_regexps`: files whose path matches one are ignored.
    pub exclude_regexps: Vec<String>,
    /// `max_buffer_size`: longest line in bytes (0: [`DEFAULT_MAX_LINE_LENGTH`]).
    pub max_buffer_size: usize,
    /// `discovery_poll_interval`.
    pub discovery_poll_interval: Option<Duration>,
    /// `poll_without_inotify`: check the files periodically instead of waiting for inotify.
    pub poll_without_inotify: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileDoc {
    filename: String,
    filenames: Vec<String>,
    exclude_regexps: Vec<String>,
    force_inotify: bool,
    max_buffer_size: i64,
    poll_without_inotify: Option<bool>,
    discovery_poll_enable: bool,
    discovery_poll_interval: String,
}

impl FileConfig {
    /// Decodes the module keys of a document (`doc` is the whole document, for positions).
    pub(crate) fn from_node(node: &Node, doc: &Node) -> Result<FileConfig, Vec<Diagnostic>> {
        let raw: FileDoc = node.decode("").map_err(|d| d.0)?;
        let mut filenames = raw.filenames;
        if !raw.filename.is_empty() {
            filenames.push(raw.filename);
        }
        if filenames.is_empty() {
            return Err(key_error(
                doc,
                "filenames",
                "no filename or filenames configuration provided",
            ));
        }
        for (i, re) in raw.exclude_regexps.iter().enumerate() {
            if let Err(e) = regex::Regex::new(re) {
                let at = doc.lookup(&format!("exclude_regexps[{i}]")).unwrap_or(doc);
                return Err(vec![at.diagnostic(
                    &format!("exclude_regexps[{i}]"),
                    format!("could not compile regexp {re}: {e}"),
                )]);
            }
        }
        let max_buffer_size = usize::try_from(raw.max_buffer_size).map_err(|_| {
            key_error(
                doc,
                "max_buffer_size",
                "max_buffer_size must not be negative",
            )
        })?;
        let discovery_poll_interval = if raw.discovery_poll_interval.is_empty() {
            None
        } else {
            Some(
                parse_go_duration(&raw.discovery_poll_interval)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        key_error(
                            doc,
                            "discovery_poll_interval",
                            format!("invalid duration {:?}", raw.discovery_poll_interval),
                        )
                    })?,
            )
        };
        Ok(FileConfig {
            filenames,
            exclude_regexps: raw.exclude_regexps,
            max_buffer_size,
            discovery_poll_interval,
            poll_without_inotify: raw.poll_without_inotify.unwrap_or(false),
        })
    }

    fn max_line(&self) -> usize {
        if self.max_buffer_size == 0 {
            DEFAULT_MAX_LINE_LENGTH
        } else {
            self.max_buffer_size
        }
    }
}

/// Per-input counters, looked up once per path.
struct CounterCache<'a> {
    ctx: &'a SourceCtx,
    map: std::collections::HashMap<Arc<str>, Arc<Counters>>,
}

impl CounterCache<'_> {
    fn get(&mut self, src: &Arc<str>) -> &Counters {
        self.map.entry(src.clone()).or_insert_with(|| {
            self.ctx
                .stats
                .counters(self.ctx.module, src, &self.ctx.acquis_type)
        })
    }
}

/// Starts a `file` datasource from its configuration.
pub(crate) async fn start_live(
    cfg: &FileConfig,
    mode: Mode,
    ctx: SourceCtx,
    store: Arc<PositionStore>,
) -> Result<Started> {
    let mut started = Started::default();
    let handle = tokio::runtime::Handle::current();
    if mode == Mode::Cat {
        let patterns: Vec<&str> = cfg.filenames.iter().map(String::as_str).collect();
        let mut source =
            FileSource::new(&patterns, Labels::new())?.with_max_line_length(cfg.max_line());
        started.tasks.push(tokio::task::spawn_blocking(move || {
            let mut counters = CounterCache {
                ctx: &ctx,
                map: std::collections::HashMap::new(),
            };
            let result = source.read_all(&mut |line| {
                let src: Arc<str> = Arc::from(line.src);
                Counters::inc(&counters.get(&src).hits);
                let live = ctx.line(
                    line.raw.to_owned(),
                    &src,
                    Some(chrono::Utc::now().fixed_offset()),
                );
                if handle.block_on(ctx.send(live)) {
                    std::ops::ControlFlow::Continue(())
                } else {
                    std::ops::ControlFlow::Break(())
                }
            });
            if let Err(e) = result {
                tracing::error!(error = %crate::error::chain(&e), "file datasource failed");
            }
        }));
        return Ok(started);
    }
    let mut exclude = Vec::new();
    for re in &cfg.exclude_regexps {
        exclude.push(regex::Regex::new(re).map_err(|e| Error::Parameter {
            dsn: String::new(),
            key: "exclude_regexps".to_owned(),
            reason: e.to_string(),
        })?);
    }
    let mut tailer = Tailer::new(
        TailerOptions {
            patterns: cfg.filenames.clone(),
            exclude,
            max_line: cfg.max_line(),
        },
        Some(store.clone()),
    );
    // The directories of the patterns are watched before they are first listed, so a file
    // created after that is either listed or reported.
    let mut watch = if cfg.poll_without_inotify {
        None
    } else {
        match DirWatch::new() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "inotify unavailable, checking files every 250ms");
                None
            }
        }
    };
    if let Some(w) = watch.as_mut() {
        w.watch(tailer.watch_dirs());
    }
    for (path, e) in tailer.discover() {
        started.problems.push(format!("cannot open {path}: {e}"));
    }
    if tailer.paths().next().is_none() {
        tracing::warn!(patterns = ?cfg.filenames, "no file matches yet; new files will be picked up");
    }
    tailer.record_positions();
    let discovery = cfg.discovery_poll_interval.unwrap_or(DEFAULT_DISCOVERY);
    started.tasks.push(tokio::task::spawn_blocking(move || {
        follow(tailer, watch, &ctx, &store, &handle, discovery);
    }));
    Ok(started)
}

/// The loop of a followed `file` datasource, on a blocking thread: read what changed, then
/// wait for inotify (or the poll interval), a stop, or the next discovery.
fn follow(
    mut tailer: Tailer,
    mut watch: Option<DirWatch>,
    ctx: &SourceCtx,
    store: &PositionStore,
    handle: &tokio::runtime::Handle,
    discovery: Duration,
) {
    let mut counters = CounterCache {
        ctx,
        map: std::collections::HashMap::new(),
    };
    let mut last_discovery = Instant::now();
    let mut last_save = Instant::now();
    let mut stop = ctx.stop.clone();
    // The files found at start are watched before they are first read, so no change after
    // that read goes unnoticed.
    if let Some(w) = watch.as_mut() {
        w.watch(tailer.watch_dirs());
    }
    let mut watched_generation = Some(tailer.generation());
    loop {
        let flow = tailer.poll(&mut |src, piece| match piece {
            Piece::Line { text, invalid_utf8 } => {
                let c = counters.get(src);
                if invalid_utf8 {
                    Counters::inc(&c.invalid_utf8);
                }
                let line = ctx.line(
                    text.into_owned(),
                    src,
                    Some(chrono::Utc::now().fixed_offset()),
                );
                if handle.block_on(ctx.send(line)) {
                    Counters::inc(&counters.get(src).hits);
                    std::ops::ControlFlow::Continue(())
                } else {
                    std::ops::ControlFlow::Break(())
                }
            }
            Piece::TooLong => {
                Counters::inc(&counters.get(src).too_long);
                std::ops::ControlFlow::Continue(())
            }
        });
        tailer.record_positions();
        if flow.is_break() || ctx.stopping() {
            break;
        }
        if last_save.elapsed() >= SAVE_EVERY {
            if let Err(e) = store.save() {
                tracing::warn!(error = %e, "cannot save file positions");
            }
            last_save = Instant::now();
        }
        if let Some(w) = watch.as_mut()
            && watched_generation != Some(tailer.generation())
        {
            w.watch(tailer.watch_dirs());
            watched_generation = Some(tailer.generation());
        }
        let pause = match &watch {
            Some(w) if !w.incomplete() => WATCHED_POLL.min(discovery),
            _ => TAIL_POLL,
        };
        let stopped = handle.block_on(async {
            let changed = async {
                match &watch {
                    Some(w) => w.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = crate::live::stopped(&mut stop) => true,
                () = changed => false,
                () = tokio::time::sleep(pause) => false,
            }
        });
        if stopped {
            break;
        }
        let rescan = watch.as_ref().is_some_and(DirWatch::take_rescan);
        if rescan || last_discovery.elapsed() >= discovery {
            for (path, e) in tailer.discover() {
                tracing::error!(file = %path, error = %e, "cannot open file");
            }
            last_discovery = Instant::now();
        }
    }
    tailer.record_positions();
    if let Err(e) = store.save() {
        tracing::warn!(error = %e, "cannot save file positions");
    }
}

/// Read buffer size; large reads keep system calls off the profile.
const READ_BUFFER: usize = 256 * 1024;

/// Files read to their end, in order.
#[derive(Debug, Clone)]
pub struct FileSource {
    files: Vec<PathBuf>,
    labels: Labels,
    max_line_length: usize,
}

impl FileSource {
    /// Expands each pattern (a path or a glob); a pattern matching no file is an error, as
    /// upstream refuses a `-dsn` that names nothing.
    pub fn new(patterns: &[&str], labels: Labels) -> Result<FileSource> {
        let mut files = Vec::new();
        for pattern in patterns {
            let before = files.len();
            let paths = glob::glob(pattern).map_err(|source| Error::Pattern {
                pattern: (*pattern).to_owned(),
                source,
            })?;
            for entry in paths {
                let path = entry.map_err(|e| Error::Io {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })?;
                // Directories matched by a glob are not logs.
                if !path.is_dir() {
                    files.push(path);
                }
            }
            if files.len() == before {
                return Err(Error::NoMatchingFiles {
                    pattern: (*pattern).to_owned(),
                });
            }
        }
        Ok(FileSource {
            files,
            labels,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
        })
    }

    /// From `file://PATTERN[?max_buffer_size=N&log_level=L]`.
    pub fn from_dsn(dsn: &Dsn, labels: Labels) -> Result<FileSource> {
        if dsn.target().is_empty() {
            return Err(Error::InvalidDsn {
                dsn: dsn.as_str().to_owned(),
                reason: "empty file name".to_owned(),
            });
        }
        let mut max_line_length = DEFAULT_MAX_LINE_LENGTH;
        for (key, value) in dsn.params() {
            match key.as_str() {
                "max_buffer_size" => {
                    max_line_length = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| dsn.parameter_error(key, "expected a positive integer"))?;
                }
                // The agent's log level is global here; the parameter is accepted for
                // compatibility with upstream's DSNs.
                "log_level" => {}
                _ => return Err(dsn.parameter_error(key, "unknown parameter")),
            }
        }
        let mut source = FileSource::new(&[dsn.target()], labels)?;
        source.max_line_length = max_line_length;
        Ok(source)
    }

    /// Lines longer than this many bytes are skipped.
    pub fn with_max_line_length(mut self, max: usize) -> Self {
        self.max_line_length = max.max(1);
        self
    }

    /// The files that will be read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

impl OneShotSource for FileSource {
    fn module(&self) -> &'static str {
        "file"
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn read_all(
        &mut self,
        sink: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<ReadStats> {
        let mut stats = ReadStats::default();
        for path in &self.files {
            let src = path.to_string_lossy();
            let reader = BufReader::with_capacity(READ_BUFFER, open(path)?);
            stats.inputs += 1;
            let before = stats;
            let flow = for_each_line(reader, self.max_line_length, &mut stats, &mut |raw| {
                sink(RawLine { raw, src: &src })
            })
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            tracing::debug!(
                file = %src,
                lines = stats.lines - before.lines,
                skipped = stats.skipped() - before.skipped(),
                "file read"
            );
            if flow.is_break() {
                break;
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn collect(source: &mut dyn OneShotSource) -> (Vec<(String, String)>, ReadStats) {
        let mut lines = Vec::new();
        let stats = source
            .read_all(&mut |l| {
                let name = Path::new(l.src).file_name().unwrap().to_string_lossy();
                lines.push((name.into_owned(), l.raw.to_owned()));
                ControlFlow::Continue(())
            })
            .unwrap();
        (lines, stats)
    }

    #[test]
    fn globs_read_every_file_in_order_including_gzip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.log"), "b1\nb2\n").unwrap();
        std::fs::write(dir.path().join("a.log"), b"a1\n\xff\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            File::create(dir.path().join("c.log.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"c1\nc2").unwrap();
        gz.finish().unwrap();
        std::fs::create_dir(dir.path().join("d.log")).unwrap();

        let dsn = format!("file://{}/*.log*", dir.path().display());
        let mut source = crate::from_dsn(&dsn, Labels::new()).unwrap();
        let (lines, stats) = collect(source.as_mut());
        let want = [
            ("a.log", "a1"),
            ("a.log", "\u{fffd}"),
            ("b.log", "b1"),
            ("b.log", "b2"),
            ("c.log.gz", "c1"),
            ("c.log.gz", "c2"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(lines, want);
        assert_eq!(stats.lines, 6);
        assert_eq!(stats.invalid_utf8, 1);
        assert_eq!(stats.inputs, 3);
    }

    #[test]
    fn max_buffer_size_bounds_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, format!("short\n{}\n", "z".repeat(100))).unwrap();
        let dsn = format!(
            "file://{}?max_buffer_size=10&log_level=info",
            path.display()
        );
        let mut source = crate::from_dsn(&dsn, Labels::new()).unwrap();
        let (lines, stats) = collect(source.as_mut());
        assert_eq!(lines.len(), 1);
        assert_eq!(stats.too_long, 1);
    }

    #[test]
    fn bad_dsns_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("file://{}/nothing*.log", dir.path().display());
        assert!(matches!(
            crate::from_dsn(&missing, Labels::new()),
            Err(Error::NoMatchingFiles { .. })
        ));
        let path = dir.path().join("x.log");
        std::fs::write(&path, "x\n").unwrap();
        for query in ["?nope=1", "?max_buffer_size=0", "?max_buffer_size=big"] {
            let dsn = format!("file://{}{query}", path.display());
            assert!(
                matches!(
                    crate::from_dsn(&dsn, Labels::new()),
                    Err(Error::Parameter { .. })
                ),
                "{query}"
            );
        }
        assert!(matches!(
            crate::from_dsn("file://", Labels::new()),
            Err(Error::InvalidDsn { .. })
        ));
    }
}
