//! The agent's processing chain, loaded from the hub items installed in the config
//! directory: parsers (`parsers/<stage>/*.yaml`) → scenarios (`scenarios/*.yaml`) →
//! postoverflows (`postoverflows/<stage>/*.yaml`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cs_buckets::{BucketEngine, Compiler, LoadOptions};
use cs_config::Config;
use cs_expr::Clock;
use cs_expr_helpers::Helpers;
use cs_expr_helpers::geoip::GeoIp;
use cs_models::Alert;
use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;

/// What happened to the events fed to a [`Pipeline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Events that went through every parser stage (upstream's `cs_parser_hits_ok_total`).
    pub parsed: u64,
    /// Events no parser accepted (`cs_parser_hits_ko_total`).
    pub unparsed: u64,
    /// Parsed events dropped by a whitelist.
    pub whitelisted: u64,
    /// Bucket overflows (after postoverflows, whitelisted ones excluded).
    pub overflows: u64,
    /// Overflows discarded by a postoverflow whitelist.
    pub overflows_whitelisted: u64,
}

/// Parsers, buckets and postoverflows, run one event at a time.
pub struct Pipeline {
    parsers: Parsers,
    postoverflows: Option<Parsers>,
    engine: BucketEngine,
    stats: PipelineStats,
    /// Reused between events to avoid an allocation per pour.
    pending: Vec<Event>,
}

/// The `.yaml`/`.yml` files directly under `dir`, in name order (missing dir: none).
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if yaml && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Pipeline {
    /// Loads everything installed under `config_paths.config_dir`, with the grok patterns of
    /// `pattern_dir`, the data files and GeoIP databases of `data_dir` and `simulation.yaml`.
    pub fn load(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Pipeline> {
        let paths = &cfg.config_paths;
        let helpers = Helpers::new();
        let (geoip, errors) = GeoIp::open_data_dir(&paths.data_dir);
        for e in errors {
            tracing::warn!(error = %e, "GeoIP enrichment disabled");
        }
        helpers.set_geoip(geoip);

        let load_stages = |dir: &Path| -> Result<Parsers> {
            let mut loader = LoaderBuilder::new(&paths.data_dir)
                .patterns_dir(&paths.pattern_dir)
                .with_context(|| {
                    format!("loading grok patterns from {}", paths.pattern_dir.display())
                })?
                .helpers(helpers.clone())
                .clock(clock.clone())
                .build();
            loader
                .load_dir(dir)
                .with_context(|| format!("loading {}", dir.display()))
        };
        let parsers_dir = paths.config_dir.join("parsers");
        if !parsers_dir.is_dir() {
            bail!(
                "no parsers installed: {} is not a directory",
                parsers_dir.display()
            );
        }
        let parsers = load_stages(&parsers_dir)?;
        let post_dir = paths.config_dir.join("postoverflows");
        let postoverflows = if post_dir.is_dir() {
            Some(load_stages(&post_dir)?)
        } else {
            None
        };

        let compiler = Compiler::new(helpers.clone(), clock.clone());
        let options = LoadOptions {
            simulation: cfg.simulation().context("loading simulation.yaml")?,
            data_dir: paths.data_dir.clone(),
        };
        let mut scenarios = Vec::new();
        for file in yaml_files(&paths.config_dir.join("scenarios"))? {
            let loaded = cs_buckets::load_file(&file, &compiler, &options).map_err(|d| {
                let text: Vec<String> = d.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("loading scenario {}:\n{}", file.display(), text.join("\n"))
            })?;
            scenarios.extend(loaded);
        }
        tracing::info!(
            parser_stages = parsers.stages().len(),
            scenarios = scenarios.len(),
            postoverflows = postoverflows.is_some(),
            "hub items loaded"
        );
        Ok(Pipeline {
            parsers,
            postoverflows,
            engine: BucketEngine::new(scenarios, clock),
            stats: PipelineStats::default(),
            pending: Vec::new(),
        })
    }

    /// Names of the loaded scenarios (sent when logging in to the LAPI).
    pub fn scenario_names(&self) -> Vec<String> {
        self.engine
            .scenarios()
            .map(|s| s.name().to_owned())
            .collect()
    }

    /// Counters so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Parses one log event and pours it; the alerts of the overflows it caused are
    /// appended to `alerts`.
    pub fn process(&mut self, mut evt: Event, alerts: &mut Vec<Alert>) {
        if let Err(e) = self.parsers.parse(&mut evt) {
            tracing::debug!(error = %e, "event dropped by the parsers");
            evt.process = false;
        }
        if !evt.process {
            self.stats.unparsed += 1;
            return;
        }
        self.stats.parsed += 1;
        if evt.whitelisted {
            self.stats.whitelisted += 1;
            return;
        }
        self.pour(&evt);
        self.drain(alerts);
    }

    /// Fires the wall-clock timers that are due (bucket expiry, counter durations).
    pub fn tick(&mut self, alerts: &mut Vec<Alert>) {
        self.engine.tick(&mut self.pending);
        self.drain(alerts);
    }

    fn pour(&mut self, evt: &Event) {
        // A runtime error in a filter stops pouring this event (as upstream) but not the
        // replay.
        if let Err(e) = self.engine.pour(evt, &mut self.pending) {
            tracing::debug!(error = %e, "pouring stopped for this event");
        }
    }

    /// Runs pending overflows through the postoverflows; `reprocess` ones go back into the
    /// buckets (not the parsers), the others become alerts.
    fn drain(&mut self, alerts: &mut Vec<Alert>) {
        let mut queue: VecDeque<Event> = self.pending.drain(..).collect();
        while let Some(mut ovf) = queue.pop_front() {
            if ovf.overflow.alert.is_none() {
                continue;
            }
            if let Some(post) = &self.postoverflows
                && let Err(e) = post.parse(&mut ovf)
            {
                tracing::warn!(error = %e, "overflow dropped by the postoverflows");
                continue;
            }
            if ovf.overflow.whitelisted {
                self.stats.overflows_whitelisted += 1;
                continue;
            }
            self.stats.overflows += 1;
            if ovf.overflow.reprocess {
                self.pour(&ovf);
                queue.extend(self.pending.drain(..));
            }
            alerts.append(&mut ovf.overflow.api_alerts);
        }
    }
}
