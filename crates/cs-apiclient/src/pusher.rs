//! The agent's alert output: batching, retry with exponential backoff, durable spool.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cs_models::{AddAlertsResponse, Alert};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::Result;
use crate::spool::Spool;
use crate::watcher::WatcherClient;

/// Tuning of an [`AlertPusher`].
#[derive(Debug, Clone)]
pub struct PusherConfig {
    /// Alerts are collected for this long before being sent together (upstream: 1 s).
    pub batch_interval: Duration,
    /// A batch is closed early when it reaches this many alerts.
    pub max_batch: usize,
    /// Directory of the durable spool; `None` keeps undelivered alerts in memory only.
    pub spool_dir: Option<PathBuf>,
    /// Bound of the spool, in alerts.
    pub max_queued_alerts: usize,
    /// First retry delay after a failed push.
    pub backoff_initial: Duration,
    /// Largest retry delay.
    pub backoff_max: Duration,
    /// On shutdown, how long to keep trying to deliver what is queued.
    pub shutdown_timeout: Duration,
    /// When set, no alert is taken from the channel while this many are queued undelivered:
    /// [`AlertPusher::send`] then waits, so a producer faster than the LAPI (a replay) is
    /// slowed down instead of queueing without end. `None`: the spool bound alone applies.
    pub max_undelivered: Option<usize>,
}

impl Default for PusherConfig {
    fn default() -> Self {
        PusherConfig {
            batch_interval: Duration::from_secs(1),
            max_batch: 100,
            spool_dir: None,
            max_queued_alerts: 100_000,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(5),
            max_undelivered: None,
        }
    }
}

/// What a pusher did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Alerts accepted by the LAPI.
    pub pushed: u64,
    /// Alerts the LAPI refused for good (4xx other than auth/rate-limit), dropped.
    pub rejected: u64,
    /// Alerts dropped because the spool bound was reached.
    pub dropped: u64,
    /// Alerts still queued (on disk when a spool directory is set) at shutdown.
    pub queued: u64,
    /// Failed push attempts.
    pub failed_attempts: u64,
}

/// Handle to the background task that delivers alerts. Dropping every clone of the handle (or
/// calling [`AlertPusher::shutdown`]) makes the task flush, try to deliver for
/// `shutdown_timeout`, and stop.
#[derive(Debug, Clone)]
pub struct AlertPusher {
    tx: mpsc::Sender<Alert>,
}

impl AlertPusher {
    /// Starts the delivery task on the current tokio runtime.
    pub fn spawn(
        client: Arc<WatcherClient>,
        config: PusherConfig,
    ) -> Result<(AlertPusher, JoinHandle<PushStats>)> {
        let spool = Spool::open(config.spool_dir.as_deref(), config.max_queued_alerts)?;
        let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 4);
        let task = Worker {
            client,
            config,
            spool,
            stats: PushStats::default(),
        };
        Ok((AlertPusher { tx }, tokio::spawn(task.run(rx))))
    }

    /// Queues an alert; waits only when the in-memory channel is full. Returns false when the
    /// task has stopped.
    pub async fn send(&self, alert: Alert) -> bool {
        self.tx.send(alert).await.is_ok()
    }

    /// Stops accepting alerts; the task drains and exits (await its `JoinHandle`).
    pub fn shutdown(self) {
        drop(self);
    }
}

struct Worker {
    client: Arc<WatcherClient>,
    config: PusherConfig,
    spool: Spool,
    stats: PushStats,
}

/// A push in progress: it owns its batch, so alerts keep being received and spooled while
/// the LAPI answers.
/// It resolves to the batch's spool sequence number, its size and the LAPI's answer.
type InFlight = Pin<Box<dyn Future<Output = PushOutcome> + Send>>;
type PushOutcome = (u64, u64, Result<AddAlertsResponse>);

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Alert>) -> PushStats {
        let mut pending: Vec<Alert> = Vec::new();
        let mut tick = tokio::time::interval(self.config.batch_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut backoff = self.config.backoff_initial;
        let mut retry_at = Instant::now();
        let mut inflight: Option<InFlight> = None;
        loop {
            if inflight.is_none() && Instant::now() >= retry_at {
                inflight = self.start_push();
            }
            let full = self
                .config
                .max_undelivered
                .is_some_and(|max| self.spool.len() + pending.len() >= max);
            tokio::select! {
                msg = rx.recv(), if !full => match msg {
                    Some(a) => {
                        pending.push(a);
                        if pending.len() >= self.config.max_batch {
                            self.enqueue(&mut pending);
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.enqueue(&mut pending),
                res = async { inflight.as_mut().expect("guarded by the select condition").await },
                    if inflight.is_some() =>
                {
                    inflight = None;
                    if self.finish_push(res) {
                        backoff = self.config.backoff_initial;
                        retry_at = Instant::now();
                    } else {
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(self.config.backoff_max);
                    }
                }
                () = tokio::time::sleep_until(retry_at),
                    if inflight.is_none() && !self.spool.is_empty() => {}
            }
        }
        self.enqueue(&mut pending);
        let deadline = Instant::now() + self.config.shutdown_timeout;
        if let Some(push) = inflight.take() {
            match tokio::time::timeout_at(deadline, push).await {
                Ok(res) => {
                    self.finish_push(res);
                }
                Err(_) => self.stats.failed_attempts += 1,
            }
        }
        while !self.spool.is_empty() && Instant::now() < deadline {
            let Some(push) = self.start_push() else { break };
            let delivered = match tokio::time::timeout_at(deadline, push).await {
                Ok(res) => self.finish_push(res),
                Err(_) => {
                    self.stats.failed_attempts += 1;
                    false
                }
            };
            if !delivered {
                let wait = backoff.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(self.config.backoff_max);
            }
        }
        self.stats.dropped = self.spool.dropped();
        self.stats.queued = self.spool.len() as u64;
        if self.stats.queued > 0 {
            tracing::warn!(
                alerts = self.stats.queued,
                "alerts not delivered to the LAPI before shutdown"
            );
        }
        self.stats
    }

    /// Starts delivering the oldest spooled batch, if any.
    fn start_push(&self) -> Option<InFlight> {
        let seq = self.spool.front_seq()?;
        let batch = self.spool.front_shared()?;
        let client = self.client.clone();
        Some(Box::pin(async move {
            let res = client.push_alerts(&batch).await;
            (seq, batch.len() as u64, res)
        }))
    }

    /// Accounts for the answer to the oldest batch; true when the spool moved forward.
    fn finish_push(&mut self, (seq, n, res): PushOutcome) -> bool {
        // The spool may have dropped the batch (bound reached) while it was being sent.
        let still_queued = self.spool.front_seq() == Some(seq);
        match res {
            Ok(ids) => {
                tracing::debug!(alerts = n, ids = ids.len(), "alerts pushed to LAPI");
                self.stats.pushed += n;
                if still_queued {
                    self.pop();
                }
                true
            }
            Err(e) if e.is_retryable() => {
                self.stats.failed_attempts += 1;
                tracing::warn!(error = %chain(&e), alerts = n, "pushing alerts failed, will retry");
                false
            }
            Err(e) => {
                self.stats.failed_attempts += 1;
                self.stats.rejected += n;
                tracing::error!(error = %chain(&e), alerts = n, "LAPI rejected alerts, dropping them");
                if still_queued {
                    self.pop();
                }
                true
            }
        }
    }

    fn enqueue(&mut self, pending: &mut Vec<Alert>) {
        if pending.is_empty() {
            return;
        }
        let batch = std::mem::take(pending);
        let n = batch.len();
        if let Err(e) = self.spool.push(batch) {
            // The batch stays queued in memory; only its durability is lost.
            tracing::error!(error = %chain(&e), alerts = n, "cannot write alert spool");
        }
    }

    fn pop(&mut self) {
        if let Err(e) = self.spool.pop_front() {
            tracing::error!(error = %e, "cannot remove delivered batch from the spool");
        }
    }
}

/// An error and its causes on one line, for logs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
