//! The Prometheus endpoint (`prometheus:` in `config.yaml`: `enabled`, `listen_addr`,
//! `listen_port`, `level`) serving `/metrics`, and the publication of the agent's counters
//! (pipeline and bucket statistics) into `cs_metrics::global()`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context as _, Result};
use cs_config::Config;
use cs_metrics::Level;

/// Where and what to serve, from `config.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Listen address.
    pub addr: SocketAddr,
    /// Families served.
    pub level: Level,
}

/// The endpoint of `config.yaml`, `None` when `prometheus.enabled` is false or absent.
pub fn endpoint(cfg: &Config) -> Result<Option<Endpoint>> {
    let Some(p) = cfg.prometheus.as_ref().filter(|p| p.enabled) else {
        return Ok(None);
    };
    let level = Level::parse(&p.level).context("prometheus.level")?;
    let host = if p.listen_addr.is_empty() {
        "127.0.0.1"
    } else {
        p.listen_addr.as_str()
    };
    let port = if p.listen_port == 0 {
        6060
    } else {
        p.listen_port
    };
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("prometheus.listen_addr: invalid IP address {host:?}"))?;
    Ok(Some(Endpoint {
        addr: SocketAddr::new(ip, port),
        level,
    }))
}

/// Binds the endpoint and serves `/metrics` until `shutdown` resolves. Binding happens before
/// this returns, so a port conflict is reported at start. With `lapi_store` (the Local API
/// runs in this process), the decision and alert gauges are recomputed from the database at
/// each scrape, as upstream.
pub async fn serve(
    ep: Endpoint,
    lapi_store: Option<cs_store::Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(ep.addr)
        .await
        .with_context(|| format!("prometheus: listening on {}", ep.addr))?;
    let level = ep.level;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let store = lapi_store.clone();
            async move {
                if let Some(store) = &store
                    && let Err(e) = cs_lapi::refresh_gauges(store, cs_metrics::global()).await
                {
                    tracing::warn!(error = %e, "cannot compute the decision and alert gauges");
                }
                let scrape = SCRAPES.fetch_add(1, Ordering::AcqRel);
                let body = tokio::task::spawn_blocking(move || cs_metrics::global().render(level))
                    .await
                    .unwrap_or_default();
                if scrape >= SCRAPES_AT_END.load(Ordering::Acquire) {
                    FINAL_SCRAPED.store(true, Ordering::Release);
                }
                (
                    [(axum::http::header::CONTENT_TYPE, cs_metrics::CONTENT_TYPE)],
                    body,
                )
            }
        }),
    );
    tracing::info!(addr = %ep.addr, "serving Prometheus metrics on /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "prometheus endpoint stopped");
        }
    }))
}

/// A second handle on the Local API's database, for the gauges computed at scrape time.
pub async fn gauges_store(cfg: &Config) -> Option<cs_store::Store> {
    let db = cfg.db().ok()?;
    let store_cfg = crate::lapi::store_config(db).ok()?;
    match cs_store::Store::open(&store_cfg).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no decision and alert gauges: cannot open the database");
            None
        }
    }
}

/// How long a replay keeps its endpoint up after the end of its acquisition, at most: it stops
/// sooner once a scrape has read the final counters (see [`scrapes`]).
pub const REPLAY_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Scrapes of `/metrics` started so far by this process.
static SCRAPES: AtomicU64 = AtomicU64::new(0);
/// [`SCRAPES`] when the replay's counters became final (`u64::MAX` before).
static SCRAPES_AT_END: AtomicU64 = AtomicU64::new(u64::MAX);
/// Whether a scrape that started after the counters became final has been answered.
static FINAL_SCRAPED: AtomicBool = AtomicBool::new(false);

/// Whether `/metrics` has been scraped since [`replay_finished`] made the counters final.
pub fn final_counters_scraped() -> bool {
    FINAL_SCRAPED.load(Ordering::Acquire)
}

/// `(source, type)` labels of the `-dsn` datasource.
static REPLAY_SOURCE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// Records the labels the counters of a `-dsn` replay are published under: the path of a
/// `file://` DSN (the DSN itself otherwise) and `labels.type`.
pub fn set_replay_source(dsn: &str, labels: &cs_acquisition::Labels) {
    let path = dsn.strip_prefix("file://").unwrap_or(dsn);
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let kind = labels.get("type").cloned().unwrap_or_default();
    let _ = REPLAY_SOURCE.set((path.to_owned(), kind.to_string()));
}

/// Publishes the counters of a finished replay: lines read, parsed, unparsed, and the bucket
/// counters per scenario.
pub fn replay_finished(read: &cs_acquisition::ReadStats, pipeline: &crate::agent::Pipeline) {
    let (source, kind) = REPLAY_SOURCE.get().cloned().unwrap_or_default();
    let m = cs_metrics::global();
    m.file_hits.with([&source]).inc_by(read.lines);
    let stats = pipeline.stats();
    m.parser_hits
        .with([&source, &kind])
        .inc_by(stats.parsed + stats.unparsed);
    m.parser_hits_ok.with([&source, &kind]).inc_by(stats.parsed);
    m.parser_hits_ko
        .with([&source, &kind])
        .inc_by(stats.unparsed);
    SCRAPES_AT_END.store(SCRAPES.load(Ordering::Acquire), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, expected: Option<(&str, Level)>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, format!("config_paths:\n  data_dir: /tmp\n{yaml}")).unwrap();
        let cfg = Config::load(&path).unwrap();
        let got = endpoint(&cfg).unwrap();
        assert_eq!(
            got,
            expected.map(|(a, level)| Endpoint {
                addr: a.parse().unwrap(),
                level
            })
        );
    }

    #[test]
    fn endpoint_follows_the_prometheus_section() {
        check("common:\n  log_media: stdout\n", None);
        check("prometheus:\n  enabled: false\n", None);
        check(
            "prometheus:\n  enabled: true\n",
            Some(("127.0.0.1:6060", Level::Full)),
        );
        check(
            "prometheus:\n  enabled: true\n  level: aggregated\n  listen_addr: 0.0.0.0\n  listen_port: 16060\n",
            Some(("0.0.0.0:16060", Level::Aggregated)),
        );
    }
}
