//! The processing of the live agent: parser threads turn the datasources' lines into parsed
//! events, one loop pours them into the buckets and runs the postoverflows; alerts go to the LAPI through the durable
//! alert pusher. Wall-clock bucket timers fire every second even when no line arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context as _, Result};
use cs_acquisition::LiveLine;
use cs_apiclient::PushStats;
use cs_metrics::Counter;
use cs_parser::Parsers;
use cs_types::{Event, ExpectMode};
use tokio::sync::{mpsc, oneshot};

use crate::agent::{Output, Pipeline};

/// How often wall-clock timers fire and statistics are published.
const TICK: Duration = Duration::from_secs(1);

/// Orders for the processing loop besides lines.
pub enum Control {
    /// Replace the pipeline (SIGHUP); the old one's live buckets of unchanged scenarios move
    /// to the new one. Answered once the swap is done.
    Reload(Box<Pipeline>, oneshot::Sender<()>),
}

/// Per source and type: `cs_parser_hits*` handles, looked up without allocating.
#[derive(Default)]
struct ParserCounters {
    by_source: HashMap<String, HashMap<String, [Counter; 3]>>,
    /// `cs_<module>source_hits_total{source}` per source.
    reads: HashMap<String, Option<Counter>>,
}

impl ParserCounters {
    /// Counts a line delivered by a datasource (upstream counts at read time; counting here,
    /// per line handed over, keeps the count exact across datasource restarts).
    fn read(&mut self, module: &str, source: &str) {
        let c = match self.reads.get(source) {
            Some(c) => c,
            None => {
                let m = cs_metrics::global();
                let family = match module {
                    "file" => Some(&m.file_hits),
                    "journalctl" => Some(&m.journalctl_hits),
                    "syslog" => Some(&m.syslog_hits),
                    "docker" => Some(&m.docker_hits),
                    _ => None,
                };
                self.reads
                    .entry(source.to_owned())
                    .or_insert_with(|| family.map(|f| f.with([source])))
            }
        };
        if let Some(c) = c {
            c.inc();
        }
    }

    fn count(&mut self, source: &str, kind: &str, parsed: bool) {
        let kinds = match self.by_source.get_mut(source) {
            Some(k) => k,
            None => self.by_source.entry(source.to_owned()).or_default(),
        };
        let handles = match kinds.get(kind) {
            Some(h) => h,
            None => {
                let m = cs_metrics::global();
                kinds.entry(kind.to_owned()).or_insert_with(|| {
                    [
                        m.parser_hits.with([source, kind]),
                        m.parser_hits_ok.with([source, kind]),
                        m.parser_hits_ko.with([source, kind]),
                    ]
                })
            }
        };
        handles[0].inc();
        handles[if parsed { 1 } else { 2 }].inc();
    }
}

/// Turns a datasource line into an event (upstream's acquisition → parser hand-over).
pub fn event_of(line: LiveLine) -> Event {
    let mut evt = Event::new_log(line.raw, line.module);
    evt.line.src = line.src.to_string();
    evt.line.labels.clone_from(&line.labels);
    evt.line.time = line
        .time
        .unwrap_or_else(|| chrono::Utc::now().fixed_offset());
    evt.expect_mode = if line.use_time_machine {
        ExpectMode::TimeMachine
    } else {
        ExpectMode::Live
    };
    evt
}

/// The parsers the workers use, swapped as a whole on reload.
pub type ParserSlot = Arc<RwLock<Arc<Parsers>>>;

/// Starts `n` parsing threads: each takes lines from `lines`, parses them with the parsers of
/// `slot`, counts them (`cs_parser_hits*`) and hands the events to `events`. They end when
/// `lines` is closed and drained.
pub fn spawn_workers(
    n: usize,
    lines: mpsc::Receiver<LiveLine>,
    slot: &ParserSlot,
    events: &mpsc::Sender<Event>,
) -> Result<()> {
    let lines = Arc::new(Mutex::new(lines));
    for i in 0..n.max(1) {
        let (lines, slot, events) = (lines.clone(), slot.clone(), events.clone());
        std::thread::Builder::new()
            .name(format!("crowdsec-parser-{i}"))
            .spawn(move || {
                let mut counters = ParserCounters::default();
                loop {
                    let line = lines
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .blocking_recv();
                    let Some(line) = line else { break };
                    if line.counts_as_read {
                        counters.read(line.module, &line.src);
                    }
                    let mut evt = event_of(line);
                    let parsers = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
                    if let Err(e) = parsers.parse(&mut evt) {
                        tracing::debug!(error = %e, "event dropped by the parsers");
                        evt.process = false;
                    }
                    let kind = evt
                        .line
                        .labels
                        .get("type")
                        .map_or("", cs_types::Text::as_str);
                    counters.count(&evt.line.src, kind, evt.process);
                    if events.blocking_send(evt).is_err() {
                        break;
                    }
                }
            })
            .context("starting a parser thread")?;
    }
    Ok(())
}

/// Runs until `events` is closed (every datasource and parser stopped), then flushes the
/// alerts.
pub async fn run(
    mut pipeline: Pipeline,
    output: Output,
    mut events: mpsc::Receiver<Event>,
    mut control: mpsc::Receiver<Control>,
) -> Result<PushStats> {
    let mut alerts = Vec::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("Starting processing data");
    loop {
        tokio::select! {
            evt = events.recv() => {
                let Some(evt) = evt else { break };
                pipeline.pour_parsed(evt, &mut alerts);
            }
            Some(Control::Reload(new, done)) = control.recv() => {
                let old = std::mem::replace(&mut pipeline, *new);
                let adopted = pipeline.adopt_buckets(old);
                let _ = done.send(());
                tracing::info!(buckets_kept = adopted, "pipeline reloaded");
            }
            _ = ticker.tick() => {
                pipeline.tick(&mut alerts);
            }
        }
        for alert in alerts.drain(..) {
            output.send(alert).await?;
        }
    }
    pipeline.tick(&mut alerts);
    for alert in alerts.drain(..) {
        output.send(alert).await?;
    }
    output.finish().await
}
