//! The agent's alert output: batching, retry with exponential backoff, durable spool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cs_models::{AddAlertsResponse, Alert};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinHandle, JoinSet};
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
    /// Batches sent at once, oldest first (over HTTP/1.1, each on a connection of its own).
    /// With more than one, the LAPI may store a batch before an older one, and the time it
    /// takes to answer a push no longer bounds the rate of delivery.
    pub max_in_flight: usize,
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
            max_in_flight: 1,
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
            inflight: JoinSet::new(),
            sending: Vec::new(),
        };
        Ok((AlertPusher { tx }, tokio::spawn(task.run(rx))))
    }

    /// Queues an alert; waits only when the in-memory channel is full. Returns false when the
    /// task has stopped.
    pub async fn send(&self, alert: Alert) -> bool {
        self.tx.send(alert).await.is_ok()
    }

    /// Queues an alert without waiting. The alert comes back when it was not queued: the
    /// channel is full, or the task has stopped (which a following [`AlertPusher::send`]
    /// reports).
    #[must_use]
    pub fn try_send(&self, alert: Alert) -> Option<Alert> {
        self.tx.try_send(alert).err().map(|e| match e {
            mpsc::error::TrySendError::Full(a) | mpsc::error::TrySendError::Closed(a) => a,
        })
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
    /// Pushes in progress; each owns its batch, so alerts keep being received and spooled
    /// while the LAPI answers. A push resolves to the batch's spool sequence number, its size
    /// and the LAPI's answer.
    inflight: JoinSet<PushOutcome>,
    /// The push task and spool sequence number of each batch in `inflight`.
    sending: Vec<(Id, u64)>,
}

type PushOutcome = (u64, u64, Result<AddAlertsResponse>);

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Alert>) -> PushStats {
        let mut pending: Vec<Alert> = Vec::new();
        let mut tick = tokio::time::interval(self.config.batch_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut backoff = self.config.backoff_initial;
        let mut retry_at = Instant::now();
        // Set when every sender is gone: what is queued then has until this instant.
        let mut deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if now >= retry_at {
                self.start_pushes();
            }
            if let Some(deadline) = deadline {
                if self.inflight.is_empty() && self.spool.is_empty() {
                    break;
                }
                if now >= deadline {
                    // Pushes cut short by the deadline count as failed attempts; their
                    // batches stay queued.
                    self.stats.failed_attempts += self.inflight.len() as u64;
                    self.inflight.abort_all();
                    break;
                }
            }
            let full = self
                .config
                .max_undelivered
                .is_some_and(|max| self.spool.len() + pending.len() >= max);
            tokio::select! {
                msg = rx.recv(), if deadline.is_none() && !full => match msg {
                    Some(a) => {
                        pending.push(a);
                        if pending.len() >= self.config.max_batch {
                            self.enqueue(&mut pending);
                        }
                    }
                    None => {
                        self.enqueue(&mut pending);
                        deadline = Some(Instant::now() + self.config.shutdown_timeout);
                    }
                },
                _ = tick.tick(), if deadline.is_none() => self.enqueue(&mut pending),
                Some(done) = self.inflight.join_next_with_id(), if !self.inflight.is_empty() => {
                    // After a failure no push starts before the backoff is over, even when
                    // another push in flight succeeds meanwhile.
                    if self.finish_push(done) {
                        backoff = self.config.backoff_initial;
                    } else {
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(self.config.backoff_max);
                    }
                }
                () = tokio::time::sleep_until(retry_at), if Instant::now() < retry_at => {}
                () = tokio::time::sleep_until(deadline.unwrap_or(retry_at)), if deadline.is_some() => {}
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

    /// Starts delivering the oldest spooled batches not yet being sent, up to
    /// `max_in_flight` pushes at once.
    fn start_pushes(&mut self) {
        while self.inflight.len() < self.config.max_in_flight.max(1) {
            let sending = &self.sending;
            let Some((seq, batch)) = self
                .spool
                .oldest_where(|seq| sending.iter().all(|&(_, s)| s != seq))
            else {
                return;
            };
            let client = self.client.clone();
            let task = self.inflight.spawn(async move {
                let res = client.push_alerts(&batch).await;
                (seq, batch.len() as u64, res)
            });
            self.sending.push((task.id(), seq));
        }
    }

    /// Accounts for the answer to a batch; true unless it is to be retried.
    fn finish_push(&mut self, done: std::result::Result<(Id, PushOutcome), JoinError>) -> bool {
        let id = done.as_ref().map_or_else(JoinError::id, |(id, _)| *id);
        self.sending.retain(|&(task, _)| task != id);
        let (seq, n, res) = match done {
            Ok((_, outcome)) => outcome,
            Err(e) => {
                // The push task panicked: its batch stays queued and is sent again.
                tracing::error!(error = %e, "alert push task failed");
                self.stats.failed_attempts += 1;
                return false;
            }
        };
        match res {
            Ok(ids) => {
                tracing::debug!(alerts = n, ids = ids.len(), "alerts pushed to LAPI");
                self.stats.pushed += n;
                self.remove(seq);
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
                self.remove(seq);
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

    /// Removes a batch once answered (the spool may already have dropped it to stay within
    /// its bound while it was being sent).
    fn remove(&mut self, seq: u64) {
        if let Err(e) = self.spool.remove(seq) {
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
