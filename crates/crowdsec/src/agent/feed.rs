//! Parallel parsing for the replay: lines are grouped in batches, made into events and parsed
//! by a pool of threads sharing the compiled parsers, and handed back in file order, so that the
//! buckets see the events exactly as a single thread would pour them. The reading thread, which
//! also pours, only copies each line into its batch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cs_acquisition::{Labels, LiveLine};
use cs_parser::Parsers;
use cs_types::{Event, ExpectMode};

/// Lines per batch handed to a parsing thread.
pub(super) const BATCH: usize = 512;
/// Batches queued or being parsed per thread before the reader waits.
const IN_FLIGHT_PER_THREAD: usize = 2;

/// What every event of a replay shares: the datasource's module and labels.
pub(super) struct Template {
    pub(super) module: &'static str,
    pub(super) labels: Arc<Labels>,
}

impl Template {
    /// The time-machine event of one line read now.
    pub(super) fn event(&self, raw: &str, src: &str) -> Event {
        let mut evt = Event::new_log(raw, self.module);
        src.clone_into(&mut evt.line.src);
        evt.line.labels.clone_from(&self.labels);
        evt.line.time = chrono::Utc::now().fixed_offset();
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

    fn into_events(self, template: &Template) -> Vec<Event> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&(end, src)| {
                let evt = template.event(&self.text[start..end], &self.srcs[src]);
                start = end;
                evt
            })
            .collect()
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

/// A numbered batch of lines.
type Job = (u64, Lines);
/// A numbered batch of parsed events.
type Batch = (u64, Vec<Event>);

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
    early: BTreeMap<u64, Vec<Event>>,
    limit: usize,
    /// A parsing thread died of a panic.
    died: Arc<AtomicBool>,
}

impl ParsePool {
    /// Starts `threads` parsing threads (at least one) making the events of `template`.
    pub(super) fn start(
        parsers: &Arc<Parsers>,
        threads: usize,
        template: &Arc<Template>,
    ) -> Result<Self> {
        let threads = threads.max(1);
        let limit = threads * IN_FLIGHT_PER_THREAD;
        let (jobs, queue) = sync_channel::<Job>(limit);
        let (results, done) = sync_channel::<Batch>(limit);
        let queue = Arc::new(Mutex::new(queue));
        let died = Arc::new(AtomicBool::new(false));
        let handles = (0..threads)
            .map(|i| {
                let (queue, results, parsers, template) = (
                    Arc::clone(&queue),
                    results.clone(),
                    Arc::clone(parsers),
                    Arc::clone(template),
                );
                let notice = DeathNotice(Arc::clone(&died));
                std::thread::Builder::new()
                    .name(format!("crowdsec-parser-{i}"))
                    .spawn(move || {
                        let _notice = notice;
                        loop {
                            let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            let Ok((seq, lines)) = job else { break };
                            let mut events = lines.into_events(&template);
                            for evt in &mut events {
                                if let Err(e) = parsers.parse(evt) {
                                    tracing::debug!(error = %e, "event dropped by the parsers");
                                    evt.process = false;
                                }
                                if !evt.process || evt.whitelisted {
                                    // Only these flags are read past this point: free the
                                    // event here rather than on the pouring thread.
                                    *evt = Event {
                                        process: evt.process,
                                        whitelisted: evt.whitelisted,
                                        ..Event::default()
                                    };
                                }
                            }
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
        })
    }

    /// Queues a batch for parsing, then hands every batch parsed so far, in order, to `pour`.
    /// Waits for results when too many batches are pending (bounded memory).
    pub(super) fn submit(&mut self, lines: Lines, pour: &mut dyn FnMut(Vec<Event>)) -> Result<()> {
        // Room for this batch: never more than `limit` pending, so neither channel fills up
        // while this thread is the one that empties them.
        while self.pending() >= self.limit {
            self.collect(true, pour)?;
        }
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| anyhow!("parse pool closed"))?;
        jobs.send((self.next_in, lines))
            .map_err(|_| anyhow!("parser threads stopped"))?;
        self.next_in += 1;
        self.collect(false, pour)
    }

    /// Waits for every pending batch and hands it to `pour`, then stops the threads.
    pub(super) fn finish(mut self, pour: &mut dyn FnMut(Vec<Event>)) -> Result<()> {
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

    /// Receives results (waiting for one when `block`) and pours the batches now in order.
    fn collect(&mut self, block: bool, pour: &mut dyn FnMut(Vec<Event>)) -> Result<()> {
        if block {
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
        while let Some(events) = self.early.remove(&self.next_out) {
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
        let mut pool = ParsePool::start(&parsers, 2, &template).unwrap();
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
        for _ in 0..10 {
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
}
