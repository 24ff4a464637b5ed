//! Delivery of the agent's alerts to the Local API as a watcher (machine) logged in with
//! `local_api_credentials.yaml`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cs_apiclient::{AlertPusher, ClientOptions, PushStats, PusherConfig, WatcherClient};
use cs_config::Config;
use cs_models::Alert;
use tokio::task::JoinHandle;

/// How long queued alerts are retried for once the input is consumed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

/// The background alert pusher.
pub struct Output {
    pusher: AlertPusher,
    task: JoinHandle<PushStats>,
}

fn optional_path(p: &str) -> Option<PathBuf> {
    (!p.is_empty()).then(|| PathBuf::from(p))
}

impl Output {
    /// Logs in to the LAPI (retrying transient failures for up to `wait`, since a LAPI
    /// started alongside may not be listening yet) and starts a pusher tuned by `pusher`.
    pub async fn connect(
        cfg: &Config,
        scenarios: Vec<String>,
        wait: Duration,
        pusher: PusherConfig,
    ) -> Result<Output> {
        let path = cfg.client_credentials_path()?.to_path_buf();
        let creds = cfg
            .client_credentials()
            .with_context(|| format!("loading LAPI credentials from {}", path.display()))?;
        let mut opts = ClientOptions::new(creds.url.clone());
        opts.ca_cert_path = optional_path(&creds.ca_cert_path);
        opts.cert_path = optional_path(&creds.cert_path);
        opts.key_path = optional_path(&creds.key_path);
        opts.insecure_skip_verify = cfg
            .api
            .as_ref()
            .and_then(|a| a.client.as_ref())
            .and_then(|c| c.insecure_skip_verify)
            .unwrap_or(false);
        let client = WatcherClient::new(&opts, &creds.login, &creds.password)
            .with_context(|| format!("creating the LAPI client for {}", creds.url))?
            .with_scenarios(scenarios);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match client.login().await {
                Ok(()) => break,
                Err(e) if e.is_retryable() && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, "LAPI not ready, retrying login");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("logging in to the LAPI at {} as {}", creds.url, creds.login)
                    });
                }
            }
        }
        tracing::info!(url = %creds.url, machine_id = %creds.login, "logged in to the LAPI");
        // A replay can produce its alerts much faster than the LAPI stores them: leave it
        // time to take the backlog before giving up at exit.
        let config = PusherConfig {
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            ..pusher
        };
        let (pusher, task) =
            AlertPusher::spawn(Arc::new(client), config).context("starting the alert pusher")?;
        Ok(Output { pusher, task })
    }

    /// Queues an alert for delivery.
    pub async fn send(&self, alert: Alert) -> Result<()> {
        if !self.pusher.send(alert).await {
            bail!("the alert pusher stopped");
        }
        Ok(())
    }

    /// Queues an alert for delivery, from outside the runtime `rt`: waits on it only when
    /// the pusher's channel is full.
    pub fn send_blocking(&self, rt: &tokio::runtime::Runtime, alert: Alert) -> Result<()> {
        let Some(alert) = self.pusher.try_send(alert) else {
            return Ok(());
        };
        rt.block_on(self.send(alert))
    }

    /// Flushes what is queued and stops; errors when alerts could not be delivered.
    pub async fn finish(self) -> Result<PushStats> {
        self.pusher.shutdown();
        let stats = self.task.await.context("alert pusher task")?;
        if stats.queued > 0 || stats.dropped > 0 {
            bail!(
                "{} alert(s) could not be delivered to the LAPI ({} dropped)",
                stats.queued,
                stats.dropped
            );
        }
        Ok(stats)
    }
}
