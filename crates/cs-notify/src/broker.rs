//! The broker: loads the notifications, starts one plugin process per notification type the
//! profiles use, and runs one queue per notification that groups alerts (`group_wait`,
//! `group_threshold`), renders `format` and delivers with retries (`max_retry`, `timeout`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use cs_models::Alert;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{BrokerOptions, NotificationConfig, load_notification_dir};
use crate::plugin::{PluginProcess, credentials, find_plugin_binaries};
use crate::template::Format;
use crate::{Error, Result};

/// How often a notification grouped by count (or by count and time) is looked at, as upstream.
const TICK: Duration = Duration::from_secs(1);
/// First pause between two attempts; it doubles after each failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// A notification ready to deliver: its settings, its compiled format and its plugin.
#[derive(Debug)]
struct Registered {
    cfg: NotificationConfig,
    /// A format that does not compile fails each delivery (as upstream, which parses the
    /// template when sending) instead of preventing the start.
    format: Result<Format, String>,
    plugin: Arc<PluginProcess>,
}

/// Queues alerts for notifications; cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    queues: Arc<HashMap<String, mpsc::UnboundedSender<Alert>>>,
}

impl Dispatcher {
    /// Queues `alert` for each notification of `notifications` (a profile's `notifications:`).
    pub fn dispatch(&self, notifications: &[String], alert: &Alert) {
        for name in notifications {
            match self.queues.get(name) {
                Some(tx) => {
                    if tx.send(alert.clone()).is_err() {
                        tracing::error!(plugin = %name, "notification queue is closed, alert dropped");
                    }
                }
                None => {
                    tracing::error!(plugin = %name, "plugin {name} is not configured properly.")
                }
            }
        }
    }

    /// The notification names alerts can be dispatched to, sorted.
    #[must_use]
    pub fn notifications(&self) -> Vec<String> {
        let mut names: Vec<String> = self.queues.keys().cloned().collect();
        names.sort();
        names
    }
}

/// The running plugins and notification queues.
#[derive(Debug)]
pub struct Broker {
    dispatcher: Dispatcher,
    registered: HashMap<String, Arc<Registered>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    plugins: Vec<Arc<PluginProcess>>,
}

impl Broker {
    /// Loads `notification_dir`, checks that every name in `opts.used` is defined, checks the
    /// binaries of `plugin_dir`, starts the plugins of the types in use (as `plugin_config`'s
    /// user and group when running as root), configures every notification of those types and
    /// starts the queues.
    pub async fn start(opts: BrokerOptions) -> Result<Self> {
        let configs = load_notification_dir(&opts.notification_dir)?;
        let mut kinds = BTreeSet::new();
        for name in &opts.used {
            match configs.iter().find(|c| &c.name == name) {
                Some(c) => kinds.insert(c.kind.clone()),
                None => {
                    return Err(Error::Setup(format!(
                        "config file for plugin {name} not found"
                    )));
                }
            };
        }
        let creds = credentials(&opts.user, &opts.group)?;
        let binaries = find_plugin_binaries(&opts.plugin_dir)?;
        let mut plugins: Vec<Arc<PluginProcess>> = Vec::new();
        let mut registered: Vec<Registered> = Vec::new();
        let mut started = BTreeSet::new();
        for bin in binaries {
            if !kinds.contains(&bin.kind) || !started.insert(bin.kind.clone()) {
                continue;
            }
            tracing::debug!(binary = %bin.path.display(), "executing plugin");
            let plugin = match PluginProcess::start(&bin.path, creds).await {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    stop_all(plugins).await;
                    return Err(e);
                }
            };
            plugins.push(plugin.clone());
            for cfg in configs.iter().filter(|c| c.kind == bin.kind) {
                if let Err(e) = plugin
                    .configure(&cfg.name, cfg.plugin_yaml.clone().into_bytes())
                    .await
                {
                    registered.clear();
                    stop_all(plugins).await;
                    return Err(e);
                }
                let format = Format::parse(&cfg.name, &cfg.format).map_err(|e| {
                    tracing::error!(plugin = %cfg.name, error = %e, "invalid format");
                    e.to_string()
                });
                tracing::info!(plugin = %cfg.name, "registered plugin {}", cfg.name);
                registered.push(Registered {
                    cfg: cfg.clone(),
                    format,
                    plugin: plugin.clone(),
                });
            }
        }
        if let Some(missing) = opts
            .used
            .iter()
            .find(|n| !registered.iter().any(|r| &r.cfg.name == *n))
        {
            registered.clear();
            stop_all(plugins).await;
            return Err(Error::Setup(format!(
                "binary for plugin {missing} not found"
            )));
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut queues = HashMap::new();
        let mut by_name = HashMap::new();
        let mut tasks = Vec::new();
        for r in registered {
            let r = Arc::new(r);
            let (tx, rx) = mpsc::unbounded_channel();
            queues.insert(r.cfg.name.clone(), tx);
            by_name.insert(r.cfg.name.clone(), r.clone());
            tasks.push(tokio::spawn(run_queue(r, rx, stop_rx.clone())));
        }
        Ok(Self {
            dispatcher: Dispatcher {
                queues: Arc::new(queues),
            },
            registered: by_name,
            stop,
            tasks,
            plugins,
        })
    }

    /// A handle to queue alerts.
    #[must_use]
    pub fn dispatcher(&self) -> Dispatcher {
        self.dispatcher.clone()
    }

    /// Renders `alerts` with the format of notification `name` and delivers them now, without
    /// grouping, retrying up to its `max_retry`; the last error when no attempt succeeded.
    pub async fn send(&self, name: &str, alerts: &[Alert]) -> Result<()> {
        let Some(r) = self.registered.get(name) else {
            return Err(Error::Setup(format!(
                "plugin {name} is not configured properly."
            )));
        };
        deliver(r, alerts.to_vec()).await
    }

    /// Delivers what every queue holds, then stops the plugins.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "notification queue failed");
            }
        }
        // The queues have ended: the plugins are only shared with this map now.
        drop(self.registered);
        stop_all(self.plugins).await;
    }
}

async fn stop_all(plugins: Vec<Arc<PluginProcess>>) {
    for p in plugins {
        match Arc::try_unwrap(p) {
            Ok(p) => p.stop().await,
            // Still shared by a queue that failed: dropping the last handle kills the process.
            Err(shared) => drop(shared),
        }
    }
}

/// When a queue sends: the tick period and the pending count that triggers a send (0: none).
fn schedule(cfg: &NotificationConfig) -> (Duration, usize) {
    match (cfg.group_wait.is_zero(), cfg.group_threshold) {
        // Neither set: every alert is sent as it comes.
        (true, 0) => (TICK, 1),
        (true, n) => (TICK, n),
        (false, 0) => (cfg.group_wait, 0),
        (false, n) => (TICK, n),
    }
}

async fn run_queue(
    n: Arc<Registered>,
    mut rx: mpsc::UnboundedReceiver<Alert>,
    mut stop: watch::Receiver<bool>,
) {
    let (tick, threshold) = schedule(&n.cfg);
    let mut ticker = tokio::time::interval_at(Instant::now() + tick, tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Vec<Alert> = Vec::new();
    let mut last_send = Instant::now();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(alert) = msg else { break };
                pending.push(alert);
                if threshold > 0 && pending.len() >= threshold {
                    deliver_logged(&n, std::mem::take(&mut pending)).await;
                    last_send = Instant::now();
                }
            }
            _ = ticker.tick() => {
                let wait = n.cfg.group_wait;
                let due = !wait.is_zero()
                    && (threshold == 0 || last_send + wait <= Instant::now());
                if due {
                    last_send = Instant::now();
                    if !pending.is_empty() {
                        deliver_logged(&n, std::mem::take(&mut pending)).await;
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    while let Ok(alert) = rx.try_recv() {
        pending.push(alert);
    }
    if !pending.is_empty() {
        deliver_logged(&n, pending).await;
    }
}

/// [`deliver`] for the queues: failed attempts are logged as they happen, a format that does
/// not render is logged here.
async fn deliver_logged(n: &Registered, alerts: Vec<Alert>) {
    if let Err(e @ Error::Template { .. }) = deliver(n, alerts).await {
        tracing::error!(plugin = %n.cfg.name, error = %e, "cannot format alerts");
    }
}

/// Renders and sends one message, retrying with a doubling pause up to `max_retry` attempts;
/// the error of the last attempt when none succeeded.
async fn deliver(n: &Registered, alerts: Vec<Alert>) -> Result<()> {
    let name = &n.cfg.name;
    tracing::debug!(plugin = %name, "pushing {} alerts to plugin", alerts.len());
    let text = match &n.format {
        Ok(f) => f.render(name, &alerts)?,
        Err(e) => {
            return Err(Error::Template {
                name: name.clone(),
                message: e.clone(),
            });
        }
    };
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match n.plugin.notify(name, &text, n.cfg.timeout).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::error!(plugin = %name, error = %e, "{e}, retry num {attempt}");
                if attempt >= n.cfg.max_retry {
                    return Err(e);
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(wait: u64, threshold: usize) -> NotificationConfig {
        NotificationConfig {
            kind: "http".into(),
            name: "n".into(),
            group_wait: Duration::from_secs(wait),
            group_threshold: threshold,
            max_retry: 1,
            timeout: Duration::from_secs(5),
            format: String::new(),
            settings: serde_json::Map::new(),
            plugin_yaml: String::new(),
        }
    }

    #[test]
    fn schedules_follow_upstream_watcher() {
        assert_eq!(schedule(&cfg(0, 0)), (TICK, 1));
        assert_eq!(schedule(&cfg(0, 5)), (TICK, 5));
        assert_eq!(schedule(&cfg(30, 0)), (Duration::from_secs(30), 0));
        assert_eq!(schedule(&cfg(30, 5)), (TICK, 5));
    }
}
