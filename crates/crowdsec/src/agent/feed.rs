//! Parallel parsing for the replay: lines are grouped in batches, made into events, parsed by a
//! pool of threads sharing the compiled parsers, and handed back in file order, so that the
//! buckets see the events exactly as a single thread would pour them. The parsing threads also
//! answer the scenario filters that do not depend on when they run (a [`Prefilter`]), which
//! leaves the pouring thread only the buckets. The reading thread, which also pours, copies
//! each line into its batch, and parses a queued batch itself rather than wait for one.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cs_acquisition::{Labels, LiveLine};
use cs_buckets::{Prefilter, Scratch};
use cs_parser::{CounterCache, Parsers};
use cs_types::{Event, ExpectMode};

use super::pipeline::Parsed;

/// Lines per batch handed to a parsing thread.
pub(super) const BATCH: usize = 256;
/// Batches queued or being parsed per thread before the reader waits.
const IN_FLIGHT_PER_THREAD: usize = 2;
/// More batches in flight for the pouring thread, which parses queued ones while it waits.
const IN_FLIGHT_HELPER: usize = 8;

/// What every event of a replay shares: the datasource's module and labels.
pub(super) struct Template {
    pub(super) module: &'static str,
    pub(super) labels: Arc<Labels>,
}

impl Template {
    /// The time-machine event of one line read at `now` (the clock is read once per batch).
    pub(super) fn event(&self, raw: &str, src: &str, now: cs_types::GoTime) -> Event {
        let mut evt = Event::new_log(raw, self.module);
        src.clone_into(&mut evt.line.src);
        evt.line.labels.clone_from(&self.labels);
        evt.line.time = now;
        evt.expect_mode = ExpectMode::TimeMachine;
        evt
    }

    /// The line as a datasource hands it over, for `-transform`.
    pub(super) fn live_line(&self, raw: &str, src: &str) -> LiveLine {
        LiveLine {
            raw: raw.to_owned(),
            src: Arc::from(src),
            module: self.module,
            labels: Arc::clone(&self.labels),
            time: Some(chrono::Utc::now().fixed_offset()),
            use_time_machine: true,
            source_index: 0,
            counts_as_read: true,
        }
    }
}

/// Lines read and not yet made into events: their text back to back, with where each one ends
/// and the index of its source in `srcs`.
#[derive(Default)]
pub(super) struct Lines {
    text: String,
    ends: Vec<(usize, usize)>,
    srcs: Vec<String>,
}

impl Lines {
    /// Room for a whole batch.
    pub(super) fn new() -> Self {
        Self {
            text: String::with_capacity(BATCH * 128),
            ends: Vec::with_capacity(BATCH),
            srcs: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, raw: &str, src: &str) {
        if self.srcs.last().is_none_or(|s| s != src) {
            self.srcs.push(src.to_owned());
        }
        self.text.push_str(raw);
        self.ends.push((self.text.len(), self.srcs.len() - 1));
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each line with its source.
    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(end, src)| {
            let raw = &self.text[start..end];
            start = end;
            (raw, self.srcs[src].as_str())
        })
    }
}

/// How often a wait for parsed events checks whether a parsing thread died.
const DEATH_CHECK: Duration = Duration::from_millis(200);

/// Raised when a parsing thread unwinds from a panic: the batch it held will never come back,
/// so the pouring side must stop waiting for it.
struct DeathNotice(Arc<AtomicBool>);

impl Drop for DeathNotice {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Makes the events of a batch of lines, parses them and evaluates the filters of `prefilter`
/// on those to be poured. An event not poured is dropped here rather than on the pouring
/// thread.
fn parse_batch(
    lines: Lines,
    template: &Template,
    parsers: &Parsers,
    prefilter: Option<&Prefilter>,
    scratch: &mut Scratch,
    counters: &mut CounterCache,
) -> Vec<Parsed> {
    let now = chrono::Utc::now().fixed_offset();
    let parsed = lines
        .iter()
        .map(|(raw, src)| {
            let mut evt = template.event(raw, src, now);
            if let Err(e) = parsers.parse_cached(&mut evt, counters) {
                tracing::debug!(error = %e, "event dropped by the parsers");
                evt.process = false;
            }
            Parsed::of(evt, |evt| prefilter.map(|p| p.verdicts(evt, scratch)))
        })
        .collect();
    // The node counters of a batch are up to date once it is handed back.
    counters.flush();
    parsed
}

/// A numbered batch of lines.
type Job = (u64, Lines);
/// A numbered batch of parsed events.
type Batch = (u64, Vec<Parsed>);

/// Parsing threads fed with batches, whose results come back in submission order.
pub(super) struct ParsePool {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Batch>,
    threads: Vec<JoinHandle<()>>,
    /// Number of the next batch submitted.
    next_in: u64,
    /// Number of the next batch handed back.
    next_out: u64,
    /// Parsed batches that came back before an earlier one.
    early: BTreeMap<u64, Vec<Parsed>>,
    limit: usize,
    /// A parsing thread died of a panic.
    died: Arc<AtomicBool>,
    /// The queue the parsing threads take batches from: the pouring thread takes one too
    /// rather than wait idle for the batch it needs next.
    queue: Arc<Mutex<Receiver<Job>>>,
    /// Batches in `queue`.
    queued: Arc<AtomicUsize>,
    parsers: Arc<Parsers>,
    template: Arc<Template>,
    prefilter: Option<Arc<Prefilter>>,
    /// This thread's scratch space for `prefilter`.
    scratch: Scratch,
    /// This thread's node counters.
    counters: CounterCache,
}

impl ParsePool {
    /// Starts `threads` parsing threads (at least one) making the events of `template`, and
    /// evaluating the filters of `prefilter` for them.
    pub(super) fn start(
        parsers: &Arc<Parsers>,
        prefilter: Option<&Arc<Prefilter>>,
        threads: usize,
        template: &Arc<Template>,
    ) -> Result<Self> {
        let threads = threads.max(1);
        let limit = threads * IN_FLIGHT_PER_THREAD + IN_FLIGHT_HELPER;
        let (jobs, queue) = sync_channel::<Job>(limit);
        let (results, done) = sync_channel::<Batch>(limit);
        let queue = Arc::new(Mutex::new(queue));
        let queued = Arc::new(AtomicUsize::new(0));
        let died = Arc::new(AtomicBool::new(false));
        let handles = (0..threads)
            .map(|i| {
                let (queue, queued, results, parsers, template, prefilter) = (
                    Arc::clone(&queue),
                    Arc::clone(&queued),
                    results.clone(),
                    Arc::clone(parsers),
                    Arc::clone(template),
                    prefilter.cloned(),
                );
                let notice = DeathNotice(Arc::clone(&died));
                std::thread::Builder::new()
                    .name(format!("crowdsec-parser-{i}"))
                    .spawn(move || {
                        let _notice = notice;
                        let mut scratch = Scratch::new();
                        let mut counters = CounterCache::default();
                        loop {
                            let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            let Ok((seq, lines)) = job else { break };
                            queued.fetch_sub(1, Ordering::Relaxed);
                            let events = parse_batch(
                                lines,
                                &template,
                                &parsers,
                                prefilter.as_deref(),
                                &mut scratch,
                                &mut counters,
                            );
                            if results.send((seq, events)).is_err() {
                                break;
                            }
                        }
                    })
                    .context("starting a parser thread")
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            threads: handles,
            next_in: 0,
            next_out: 0,
            early: BTreeMap::new(),
            limit,
            died,
            queue,
            queued,
            parsers: Arc::clone(parsers),
            template: Arc::clone(template),
            prefilter: prefilter.cloned(),
            scratch: Scratch::new(),
            counters: CounterCache::default(),
        })
    }

    /// Queues a batch for parsing, then hands the next parsed batch, in order, to `pour`.
    /// Waits for results when too many batches are pending (bounded memory).
    pub(super) fn submit(&mut self, lines: Lines, pour: &mut dyn FnMut(Vec<Parsed>)) -> Result<()> {
        // Room for this batch: never more than `limit` pending, so neither channel fills up
        // while this thread is the one that empties them.
        while self.pending() >= self.limit {
            self.collect(true, pour)?;
        }
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| anyhow!("parse pool closed"))?;
        self.queued.fetch_add(1, Ordering::Relaxed);
        jobs.send((self.next_in, lines))
            .map_err(|_| anyhow!("parser threads stopped"))?;
        self.next_in += 1;
        self.collect(false, pour)
    }

    /// Waits for every pending batch and hands it to `pour`, then stops the threads.
    pub(super) fn finish(mut self, pour: &mut dyn FnMut(Vec<Parsed>)) -> Result<()> {
        self.jobs = None;
        while self.pending() > 0 {
            self.collect(true, pour)?;
        }
        for t in self.threads.drain(..) {
            t.join().map_err(|_| anyhow!("a parser thread panicked"))?;
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        usize::try_from(self.next_in - self.next_out).unwrap_or(usize::MAX)
    }

    /// Parses a queued batch on this thread, when the parsing threads have more queued work
    /// than that one. False when it did not.
    fn help(&mut self) -> Result<bool> {
        if self.queued.load(Ordering::Relaxed) < 2 {
            return Ok(false);
        }
        let job = match self.queue.try_lock() {
            Ok(queue) => queue.try_recv().ok(),
            Err(_) => None,
        };
        let Some((seq, lines)) = job else {
            return Ok(false);
        };
        self.queued.fetch_sub(1, Ordering::Relaxed);
        let (template, parsers) = (&self.template, &self.parsers);
        let (scratch, counters) = (&mut self.scratch, &mut self.counters);
        let prefilter = self.prefilter.as_deref();
        let events = std::panic::catch_unwind(AssertUnwindSafe(|| {
            parse_batch(lines, template, parsers, prefilter, scratch, counters)
        }))
        .map_err(|_| anyhow!("a parser thread panicked"))?;
        self.early.insert(seq, events);
        Ok(true)
    }

    /// Receives results (waiting for one when `block`) and pours the next batch in order when
    /// it is parsed. While it is not, a blocking call parses a queued batch itself, if the
    /// parsing threads have more, before it waits.
    fn collect(&mut self, block: bool, pour: &mut dyn FnMut(Vec<Parsed>)) -> Result<()> {
        while let Ok((seq, events)) = self.done.try_recv() {
            self.early.insert(seq, events);
        }
        if block && !self.early.contains_key(&self.next_out) && !self.help()? {
            let (seq, events) = loop {
                match self.done.recv_timeout(DEATH_CHECK) {
                    Ok(batch) => break batch,
                    Err(RecvTimeoutError::Timeout) if self.died.load(Ordering::Relaxed) => {
                        return Err(anyhow!("a parser thread panicked"));
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(anyhow!("parser threads stopped"));
                    }
                }
            };
            self.early.insert(seq, events);
        }
        while let Ok((seq, events)) = self.done.try_recv() {
            self.early.insert(seq, events);
        }
        // One batch at a time, so that the reading side keeps the parsing threads fed.
        if let Some(events) = self.early.remove(&self.next_out) {
            self.next_out += 1;
            pour(events);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parser_thread_that_dies_fails_the_replay_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let parsers = Arc::new(
            cs_parser::LoaderBuilder::new(dir.path())
                .build()
                .load_files(&[])
                .unwrap(),
        );
        let template = Arc::new(Template {
            module: "file",
            labels: Arc::new(Labels::new()),
        });
        let mut pool = ParsePool::start(&parsers, None, 2, &template).unwrap();
        let mut poured = 0;
        // A line ending past the batch's text: making its event panics in a parser thread,
        // while the other one waits for work.
        let broken = Lines {
            text: String::new(),
            ends: vec![(10, 0)],
            srcs: vec!["broken".into()],
        };
        pool.submit(broken, &mut |events| poured += events.len())
            .unwrap();
        let mut failure = None;
        for _ in 0..100 {
            let mut lines = Lines::new();
            lines.push("a line", "file");
            if let Err(e) = pool.submit(lines, &mut |events| poured += events.len()) {
                failure = Some(e);
                break;
            }
        }
        let failure = failure.expect("the pool kept accepting batches");
        assert!(
            failure.to_string().contains("a parser thread panicked"),
            "{failure}"
        );
        assert_eq!(poured, 0, "nothing after the lost batch may be poured");
    }

    #[test]
    fn batches_parsed_by_either_thread_come_out_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("s00-raw");
        std::fs::create_dir(&stage).unwrap();
        std::fs::write(
            stage.join("all.yaml"),
            "name: test/all\nfilter: \"evt.Line.Raw != 'skip'\"\nonsuccess: next_stage\n\
             statics:\n  - meta: line\n    expression: evt.Line.Raw\n",
        )
        .unwrap();
        let parsers = Arc::new(
            cs_parser::LoaderBuilder::new(dir.path())
                .build()
                .load_dir(dir.path())
                .unwrap(),
        );
        let template = Arc::new(Template {
            module: "file",
            labels: Arc::new(Labels::new()),
        });
        let mut pool = ParsePool::start(&parsers, None, 1, &template).unwrap();
        let mut seen = Vec::new();
        let mut take = |events: Vec<Parsed>| {
            for p in events {
                seen.push(match p {
                    Parsed::Pour(evt, _) => evt.meta["line"].to_string(),
                    Parsed::Unparsed => "unparsed".to_owned(),
                    Parsed::Whitelisted | Parsed::Unwanted => "not poured".to_owned(),
                });
            }
        };
        let mut expected = Vec::new();
        for b in 0..300 {
            let mut lines = Lines::new();
            for l in 0..(1 + b % 7) {
                let text = if l == 3 {
                    "skip".to_owned()
                } else {
                    format!("{b}.{l}")
                };
                expected.push(if l == 3 {
                    "unparsed".into()
                } else {
                    text.clone()
                });
                lines.push(&text, "file");
            }
            pool.submit(lines, &mut take).unwrap();
        }
        pool.finish(&mut take).unwrap();
        assert_eq!(seen, expected);
    }
}
