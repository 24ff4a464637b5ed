//! The live datasources of `acquis.yaml` / `acquisition_dir`: loading, starting, and
//! publishing their read counters as upstream's per-datasource metrics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use cs_acquisition::{Acquisition, LiveLine, Source, SourceStats};
use cs_config::Config;
use cs_metrics::Counter;
use tokio::sync::mpsc;

use super::transform::ExprTransform;

/// The acquisition configuration of `config.yaml` (`crowdsec_service.acquisition_path` and
/// `acquisition_dir`), refused when it defines no datasource, as upstream; each `transform`
/// is compiled (an error names the file and line of its datasource).
pub fn load(cfg: &Config) -> Result<Vec<Source>> {
    let service = cfg.crowdsec_service.clone().unwrap_or_default();
    let files = service
        .acquisition_files()
        .context("listing acquisition files")?;
    let configs = cs_acquisition::load_acquisition(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
    if configs.is_empty() {
        bail!(
            "no datasource enabled: add one to {}",
            describe(&files, &service.acquisition_path)
        );
    }
    configs
        .into_iter()
        .map(|config| {
            let transform = match &config.common.transform {
                Some(expr) => Some(
                    ExprTransform::compile(expr, &config.origin, config.display_name())?.shared(),
                ),
                None => None,
            };
            Ok(Source { config, transform })
        })
        .collect()
}

fn describe(files: &[PathBuf], path: &str) -> String {
    if files.is_empty() {
        if path.is_empty() {
            "crowdsec_service.acquisition_path".to_owned()
        } else {
            path.to_owned()
        }
    } else {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where datasources keep their read positions across restarts.
pub fn state_dir(cfg: &Config) -> PathBuf {
    cfg.config_paths.data_dir.clone()
}

/// Starts the datasources, sending their lines to `tx`. A datasource that cannot start is
/// logged and skipped (as upstream), but at least one must run.
pub async fn start(
    sources: Vec<Source>,
    tx: mpsc::Sender<LiveLine>,
    state: &Path,
) -> Result<Acquisition> {
    let acq = cs_acquisition::start_sources(sources, tx, state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("starting the datasources")?;
    for f in acq.failures() {
        tracing::error!(datasource = %f.name, error = %f.error, "datasource not started");
    }
    Ok(acq)
}

/// Publishes the syslog parse counters (cumulative per [`Acquisition`]) as increments of
/// `cs_syslogsource_parsed_total`; lines read are counted as they are handed over.
#[derive(Default)]
pub struct StatsPublisher {
    last: HashMap<(String, String, &'static str), (Counter, u64)>,
}

impl StatsPublisher {
    fn bump(
        &mut self,
        key: (String, String, &'static str),
        value: u64,
        make: impl FnOnce() -> Counter,
    ) {
        let (c, last) = self.last.entry(key).or_insert_with(|| (make(), 0));
        if value > *last {
            c.inc_by(value - *last);
        }
        *last = value;
    }

    /// Publishes a snapshot of the running datasources.
    pub fn publish(&mut self, stats: &[SourceStats]) {
        let m = cs_metrics::global();
        for s in stats {
            let src = s.source.as_str();
            if s.module == "syslog" {
                for (kind, v) in [("rfc3164", s.parsed_rfc3164), ("rfc5424", s.parsed_rfc5424)] {
                    self.bump((src.to_owned(), kind.to_owned(), "parsed"), v, || {
                        m.syslog_parsed.with([src, kind])
                    });
                }
            }
        }
    }

    /// Forgets the published values (a restarted [`Acquisition`] counts from zero).
    pub fn reset(&mut self) {
        for (_, last) in self.last.values_mut() {
            *last = 0;
        }
    }
}
