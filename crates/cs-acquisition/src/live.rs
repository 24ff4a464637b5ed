//! Running the datasources of `acquis.yaml` live: [`start`] spawns them, each sends
//! [`LiveLine`]s into one channel, [`Acquisition`] reports their counters and stops them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{DataSourceConfig, SourceKind};
use crate::error::{Error, Result};
use crate::sources::positions::PositionStore;
use crate::{Labels, sources};

/// One line from a live datasource, ready to become an event's `Line`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveLine {
    /// The line (`Line.Raw`).
    pub raw: String,
    /// Where it comes from (`Line.Src`): file path, syslog client address,
    /// `journalctl-<filters>`.
    pub src: Arc<str>,
    /// The datasource module (`Line.Module`).
    pub module: &'static str,
    /// The datasource labels (`Line.Labels`).
    pub labels: Arc<Labels>,
    /// Acquisition time (`Line.Time`): when the line was read; `None` for syslog, whose
    /// upstream datasource leaves it unset.
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The datasource has `use_time_machine: true` (or runs in `cat` mode): the event is
    /// processed in time-machine mode.
    pub use_time_machine: bool,
    /// Index of the datasource in the configurations given to [`start`].
    pub source_index: usize,
    /// The line is what the datasource read, or the first line its `transform` made of it;
    /// `false` for the others, so that read counters count each line read once.
    pub counts_as_read: bool,
}

/// Rewrites the lines of one datasource before they are sent (the datasource's `transform`).
///
/// Implemented by the agent, which compiles the expression; the datasources call it on each
/// line they read, so a line is replaced or split where it is read, as upstream's per-datasource
/// transform routine does.
pub trait LineTransform: Send + Sync {
    /// What replaces `line`: `None` keeps it as it is; `Some(raws)` sends one line per
    /// element (same source, labels and time, `raw` replaced), none for an empty list.
    fn apply(&self, line: &LiveLine) -> Option<Vec<String>>;
}

/// A datasource to start: its configuration and, when it has a `transform`, the compiled
/// rewrite.
#[derive(Clone)]
pub struct Source {
    /// The datasource.
    pub config: DataSourceConfig,
    /// Applied to each line before it is sent.
    pub transform: Option<Arc<dyn LineTransform>>,
}

impl From<DataSourceConfig> for Source {
    fn from(config: DataSourceConfig) -> Source {
        Source {
            config,
            transform: None,
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("config", &self.config)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

/// Counters of one datasource input (a file, a syslog client, a journalctl command).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Module (`datasource_type` label).
    pub module: &'static str,
    /// Input (`source` label): file path, client address, `journalctl-…`.
    pub source: String,
    /// `labels.type` of the datasource (`acquis_type` label).
    pub acquis_type: String,
    /// Lines read (`cs_filesource_hits_total`, `cs_journalctlsource_hits_total`) or syslog
    /// messages received (`cs_syslogsource_hits_total`).
    pub hits: u64,
    /// Syslog messages parsed as RFC 3164 (`cs_syslogsource_parsed_total{type="rfc3164"}`).
    pub parsed_rfc3164: u64,
    /// Syslog messages parsed as RFC 5424 (`cs_syslogsource_parsed_total{type="rfc5424"}`).
    pub parsed_rfc5424: u64,
    /// Lines skipped because longer than the limit.
    pub too_long: u64,
    /// Lines delivered with bytes that were not UTF-8 replaced.
    pub invalid_utf8: u64,
    /// Syslog messages that are neither RFC 3164 nor RFC 5424, skipped.
    pub invalid: u64,
}

/// Live counters of one input.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) parsed_rfc3164: AtomicU64,
    pub(crate) parsed_rfc5424: AtomicU64,
    pub(crate) too_long: AtomicU64,
    pub(crate) invalid_utf8: AtomicU64,
    pub(crate) invalid: AtomicU64,
}

impl Counters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

type StatsKey = (&'static str, String, String);

/// Every input's counters.
#[derive(Debug, Default)]
pub(crate) struct StatsRegistry {
    map: Mutex<BTreeMap<StatsKey, Arc<Counters>>>,
}

impl StatsRegistry {
    /// The counters of an input, created at first use.
    pub(crate) fn counters(
        &self,
        module: &'static str,
        source: &str,
        acquis_type: &str,
    ) -> Arc<Counters> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((module, source.to_owned(), acquis_type.to_owned()))
            .or_default()
            .clone()
    }

    fn snapshot(&self) -> Vec<SourceStats> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(|((module, source, acquis_type), c)| SourceStats {
                module,
                source: source.clone(),
                acquis_type: acquis_type.clone(),
                hits: c.hits.load(Ordering::Relaxed),
                parsed_rfc3164: c.parsed_rfc3164.load(Ordering::Relaxed),
                parsed_rfc5424: c.parsed_rfc5424.load(Ordering::Relaxed),
                too_long: c.too_long.load(Ordering::Relaxed),
                invalid_utf8: c.invalid_utf8.load(Ordering::Relaxed),
                invalid: c.invalid.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// A datasource that could not start (or part of it: a file that cannot be opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// Index of the datasource in the configurations given to [`start`].
    pub index: usize,
    /// Its name for people (`name:` or module and `file:line`).
    pub name: String,
    /// What went wrong.
    pub error: String,
}

/// What a running datasource needs: where to send lines, when to stop, where to count.
#[derive(Clone)]
pub(crate) struct SourceCtx {
    pub(crate) index: usize,
    pub(crate) module: &'static str,
    pub(crate) labels: Arc<Labels>,
    pub(crate) acquis_type: String,
    pub(crate) use_time_machine: bool,
    pub(crate) transform: Option<Arc<dyn LineTransform>>,
    pub(crate) tx: mpsc::Sender<LiveLine>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) stats: Arc<StatsRegistry>,
}

impl SourceCtx {
    pub(crate) fn line(
        &self,
        raw: String,
        src: &Arc<str>,
        time: Option<chrono::DateTime<chrono::FixedOffset>>,
    ) -> LiveLine {
        LiveLine {
            raw,
            src: src.clone(),
            module: self.module,
            labels: self.labels.clone(),
            time,
            use_time_machine: self.use_time_machine,
            source_index: self.index,
            counts_as_read: true,
        }
    }

    /// Sends a line (or the lines its transform makes of it) unless stopping; `false` when
    /// it was not sent (stop asked or the receiver is gone).
    pub(crate) async fn send(&self, line: LiveLine) -> bool {
        let Some(raws) = self.transform.as_ref().and_then(|t| t.apply(&line)) else {
            return self.send_one(line).await;
        };
        let mut raws = raws;
        let Some(last) = raws.pop() else {
            return true;
        };
        let counted = raws.is_empty();
        for (i, raw) in raws.into_iter().enumerate() {
            let out = LiveLine {
                raw,
                counts_as_read: i == 0,
                ..line.clone()
            };
            if !self.send_one(out).await {
                return false;
            }
        }
        self.send_one(LiveLine {
            raw: last,
            counts_as_read: counted,
            ..line
        })
        .await
    }

    async fn send_one(&self, line: LiveLine) -> bool {
        let mut stop = self.stop.clone();
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            r = self.tx.send(line) => r.is_ok(),
            () = stopped(&mut stop) => false,
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Resolves once stop is asked (or the [`Acquisition`] is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which is a stop too.
    let _ = stop.wait_for(|s| *s).await;
}

/// The running datasources.
pub struct Acquisition {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<StatsRegistry>,
    failures: Vec<SourceFailure>,
    store: Arc<PositionStore>,
}

impl std::fmt::Debug for Acquisition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquisition")
            .field("tasks", &self.tasks.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Starts every datasource, sending their lines to `tx` (see [`start_sources`]).
pub async fn start(
    configs: Vec<DataSourceConfig>,
    tx: mpsc::Sender<LiveLine>,
    state_dir: &Path,
) -> Result<Acquisition> {
    start_sources(
        configs.into_iter().map(Source::from).collect(),
        tx,
        state_dir,
    )
    .await
}

/// Starts every datasource, sending their lines (rewritten by their transform, if any) to
/// `tx`. File positions are kept in `state_dir` (created if needed). A datasource that cannot start (a file it cannot open,
/// a port in use, no journalctl) is logged and listed in [`Acquisition::failures`]; the
/// others run. Fails only when `state_dir` is unusable.
pub async fn start_sources(
    sources: Vec<Source>,
    tx: mpsc::Sender<LiveLine>,
    state_dir: &Path,
) -> Result<Acquisition> {
    let store = Arc::new(PositionStore::open(state_dir).map_err(|source| Error::Io {
        path: state_dir.to_path_buf(),
        source,
    })?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stats = Arc::new(StatsRegistry::default());
    let mut acq = Acquisition {
        stop: stop_tx,
        tasks: Vec::new(),
        stats: stats.clone(),
        failures: Vec::new(),
        store: store.clone(),
    };
    for (index, source) in sources.into_iter().enumerate() {
        let Source {
            config: cfg,
            transform,
        } = source;
        let ctx = SourceCtx {
            index,
            module: cfg.module(),
            acquis_type: cfg
                .common
                .labels
                .get("type")
                .map(ToString::to_string)
                .unwrap_or_default(),
            labels: Arc::new(cfg.common.labels.clone()),
            use_time_machine: cfg.common.use_time_machine
                || cfg.common.mode == crate::config::Mode::Cat,
            transform,
            tx: tx.clone(),
            stop: stop_rx.clone(),
            stats: stats.clone(),
        };
        let name = cfg.display_name();
        let started = match &cfg.kind {
            SourceKind::File(f) => {
                sources::file::start_live(f, cfg.common.mode, ctx, store.clone()).await
            }
            SourceKind::Journalctl(j) => {
                sources::journalctl::start_live(j, cfg.common.mode, ctx).await
            }
            SourceKind::Syslog(s) => sources::syslog::start_live(s, ctx).await,
        };
        match started {
            Ok(started) => {
                for error in started.problems {
                    tracing::error!(datasource = %name, error = %error, "datasource problem");
                    acq.failures.push(SourceFailure {
                        index,
                        name: name.clone(),
                        error,
                    });
                }
                acq.tasks.extend(started.tasks);
            }
            Err(e) => {
                let error = crate::error::chain(&e);
                tracing::error!(datasource = %name, error = %error, "datasource failed to start");
                acq.failures.push(SourceFailure { index, name, error });
            }
        }
    }
    Ok(acq)
}

/// What a datasource's start produced: its tasks, and problems that did not stop it.
#[derive(Default)]
pub(crate) struct Started {
    pub(crate) tasks: Vec<JoinHandle<()>>,
    pub(crate) problems: Vec<String>,
}

impl Acquisition {
    /// The counters of every input seen so far.
    pub fn stats(&self) -> Vec<SourceStats> {
        self.stats.snapshot()
    }

    /// The datasources (or parts of them) that could not start.
    pub fn failures(&self) -> &[SourceFailure] {
        &self.failures
    }

    /// Waits until every datasource has ended by itself (all in `cat` mode, or all failed).
    pub async fn wait(&mut self) {
        for task in &mut self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "datasource task failed");
            }
        }
        self.tasks.clear();
        self.save_positions();
    }

    /// Stops every datasource, waits for them (a line being sent is either delivered or
    /// left for the next start), saves the file positions and returns the final counters.
    pub async fn stop(mut self) -> Vec<SourceStats> {
        // Receivers may all be gone already (every source ended): nothing to tell then.
        let _ = self.stop.send(true);
        self.wait().await;
        self.stats()
    }

    fn save_positions(&self) {
        if let Err(e) = self.store.save() {
            tracing::error!(error = %e, "cannot save file positions");
        }
    }
}
