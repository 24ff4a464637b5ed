//! The agent's processing chain, loaded from the hub items installed in the config
//! directory: parsers (`parsers/<stage>/*.yaml`) → scenarios (`scenarios/*.yaml`) →
//! postoverflows (`postoverflows/<stage>/*.yaml`), with the alert context of
//! `console/context.yaml` and `contexts/*.yaml`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cs_buckets::{
    AlertContext, BucketEngine, Compiler, EngineOptions, LoadOptions, Prefilter, Scenario, Verdicts,
};
use cs_config::Config;
use cs_expr::Clock;
use cs_expr_helpers::Helpers;
use cs_expr_helpers::geoip::GeoIp;
use cs_models::Alert;
use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;

use super::dump::Dump;

/// What the parsing of one event leaves for the pour.
pub enum Parsed {
    /// No parser took it (`Process` false).
    Unparsed,
    /// A whitelist dropped it.
    Whitelisted,
    /// Parsed, and the filters evaluated ahead showed that no scenario wants it.
    Unwanted,
    /// To be poured, with the answers of the filters evaluated ahead, if any were.
    Pour(Arc<Event>, Option<Verdicts>),
}

impl Parsed {
    /// Sorts a parsed event; `verdicts` evaluates the filters ahead for an event to pour.
    pub fn of(evt: Event, verdicts: impl FnOnce(&Event) -> Option<Verdicts>) -> Self {
        if !evt.process {
            return Self::Unparsed;
        }
        if evt.whitelisted {
            return Self::Whitelisted;
        }
        let verdicts = verdicts(&evt);
        if verdicts.as_deref().is_some_and(Prefilter::rejects_all) {
            return Self::Unwanted;
        }
        Self::Pour(Arc::new(evt), verdicts)
    }
}

/// How a [`Pipeline`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Collect what `-dump-data` writes (parser node results, overflows, pours).
    pub dump: bool,
    /// Let the bucket engine evict idle time-machine buckets (bounded memory in replays).
    pub evict: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            dump: false,
            evict: true,
        }
    }
}

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
    parsers: Arc<Parsers>,
    postoverflows: Option<Parsers>,
    engine: BucketEngine,
    stats: PipelineStats,
    /// Reused between events to avoid an allocation per pour.
    pending: Vec<Event>,
    /// `-dump-data`'s records, when asked for.
    dump: Option<Dump>,
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
        Self::load_with(cfg, clock, PipelineOptions::default())
    }

    /// [`Pipeline::load`] with options.
    pub fn load_with(
        cfg: &Config,
        clock: Arc<dyn Clock>,
        options: PipelineOptions,
    ) -> Result<Pipeline> {
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
        let load_options = LoadOptions {
            simulation: cfg.simulation().context("loading simulation.yaml")?,
            data_dir: paths.data_dir.clone(),
        };
        let mut scenarios = Vec::new();
        for file in yaml_files(&paths.config_dir.join("scenarios"))? {
            let loaded = cs_buckets::load_file(&file, &compiler, &load_options).map_err(|d| {
                let text: Vec<String> = d.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("loading scenario {}:\n{}", file.display(), text.join("\n"))
            })?;
            scenarios.extend(loaded);
        }
        set_hub_versions(cfg, &mut scenarios);
        let context = alert_context(cfg, &compiler)?;
        tracing::info!(
            parser_stages = parsers.stages().len(),
            scenarios = scenarios.len(),
            postoverflows = postoverflows.is_some(),
            context_keys = context.as_ref().map_or(0, AlertContext::len),
            "hub items loaded"
        );
        let mut engine = BucketEngine::new(scenarios, clock)
            .with_options(EngineOptions {
                garbage_collect: options.evict,
            })
            .with_metrics(cs_metrics::global());
        if let Some(context) = context {
            engine = engine.with_alert_context(context);
        }
        if options.dump {
            engine = engine.with_pour_dump();
        }
        Ok(Pipeline {
            parsers: Arc::new(parsers),
            postoverflows,
            engine,
            stats: PipelineStats::default(),
            pending: Vec::new(),
            dump: options.dump.then(Dump::default),
        })
    }

    /// The `-dump-data` records collected so far (`None` unless asked for at load time).
    pub fn take_dump(&mut self) -> Option<Dump> {
        let mut dump = self.dump.take()?;
        dump.add_pours(self.engine.take_pour_dump());
        Some(dump)
    }

    /// Takes over the live buckets of `old` whose scenario is unchanged (same name and file
    /// hash), so that a reload does not forget attacks in progress. Returns how many moved.
    pub fn adopt_buckets(&mut self, old: Pipeline) -> usize {
        self.engine.adopt_buckets(old.engine)
    }

    /// Bucket engine counters (creations, pours, overflows, evictions...).
    pub fn bucket_stats(&self) -> cs_buckets::EngineStats {
        self.engine.stats()
    }

    /// Names of the loaded scenarios (sent when logging in to the LAPI).
    pub fn scenario_names(&self) -> Vec<String> {
        self.engine
            .scenarios()
            .map(|s| s.name().to_owned())
            .collect()
    }

    /// Whether parsing is traced for `-dump-data` (then it must run through
    /// [`Pipeline::process`]).
    pub fn traces(&self) -> bool {
        self.dump.is_some()
    }

    /// Counters so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// The parsers, for parsing threads that hand their events to [`Pipeline::pour_parsed`].
    pub fn parsers(&self) -> Arc<Parsers> {
        Arc::clone(&self.parsers)
    }

    /// Parses one log event and pours it; the alerts of the overflows it caused are
    /// appended to `alerts`.
    pub fn process(&mut self, mut evt: Event, alerts: &mut Vec<Alert>) {
        let parsed = match &mut self.dump {
            None => self.parsers.parse(&mut evt),
            Some(dump) => self.parsers.parse_traced(&mut evt, &mut dump.parsers),
        };
        if let Err(e) = parsed {
            tracing::debug!(error = %e, "event dropped by the parsers");
            evt.process = false;
        }
        self.pour_parsed(evt, alerts);
    }

    /// The rest of [`Pipeline::process`] for an event parsed elsewhere (`Process` false when
    /// no parser took it): counts it, and pours it unless unparsed or whitelisted.
    pub fn pour_parsed(&mut self, evt: Event, alerts: &mut Vec<Alert>) {
        self.take_parsed(Parsed::of(evt, |_| None), alerts);
    }

    /// Counts a sorted parsed event and pours it when it is to be poured.
    pub fn take_parsed(&mut self, parsed: Parsed, alerts: &mut Vec<Alert>) {
        match parsed {
            Parsed::Unparsed => self.stats.unparsed += 1,
            Parsed::Whitelisted => {
                self.stats.parsed += 1;
                self.stats.whitelisted += 1;
            }
            Parsed::Unwanted => self.stats.parsed += 1,
            Parsed::Pour(evt, verdicts) => {
                self.stats.parsed += 1;
                self.pour(evt, verdicts.as_deref());
                self.drain(alerts);
            }
        }
    }

    /// The scenario filters that threads parsing for [`Pipeline::take_parsed`] can evaluate
    /// ahead of the pour.
    pub fn prefilter(&self) -> Arc<Prefilter> {
        Arc::new(self.engine.prefilter())
    }

    /// Fires the wall-clock timers that are due (bucket expiry, counter durations).
    pub fn tick(&mut self, alerts: &mut Vec<Alert>) {
        self.engine.tick(&mut self.pending);
        self.drain(alerts);
    }

    fn pour(&mut self, evt: Arc<Event>, verdicts: Option<&[Option<bool>]>) {
        let poured = match verdicts {
            Some(v) => self.engine.pour_with(evt, v, &mut self.pending),
            None => self.engine.pour_shared(evt, &mut self.pending),
        };
        // A runtime error in a filter stops pouring this event (as upstream) but not the
        // replay.
        if let Err(e) = poured {
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
            if let Some(post) = &self.postoverflows {
                let parsed = match &mut self.dump {
                    None => post.parse(&mut ovf),
                    Some(dump) => {
                        dump.overflows.push(ovf.clone());
                        post.parse_traced(&mut ovf, &mut dump.parsers)
                    }
                };
                if let Err(e) = parsed {
                    tracing::warn!(error = %e, "overflow dropped by the postoverflows");
                    continue;
                }
            } else if let Some(dump) = &mut self.dump {
                dump.overflows.push(ovf.clone());
            }
            if ovf.overflow.whitelisted {
                self.stats.overflows_whitelisted += 1;
                continue;
            }
            self.stats.overflows += 1;
            if ovf.overflow.reprocess {
                // The buckets keep the event: only its alerts are copied out.
                let shared = Arc::new(ovf);
                alerts.extend(shared.overflow.api_alerts.iter().cloned());
                self.pour(shared, None);
                queue.extend(self.pending.drain(..));
                continue;
            }
            alerts.append(&mut ovf.overflow.api_alerts);
        }
    }
}

/// Sets each scenario's `scenario_version` to the version of the installed hub item it was
/// loaded from, as upstream (`?` for a tainted or local file). Without a hub index the
/// scenarios keep the `version` of their YAML.
fn set_hub_versions(cfg: &Config, scenarios: &mut [Scenario]) {
    let p = &cfg.config_paths;
    let paths = cs_hub::HubPaths {
        hub_dir: p.hub_dir.clone(),
        config_dir: p.config_dir.clone(),
        data_dir: p.data_dir.clone(),
        index_path: p.index_path.clone(),
    };
    if !paths.index_path.is_file() {
        tracing::debug!(index = %paths.index_path.display(), "no hub index: scenario versions from their files");
        return;
    }
    let hub = match cs_hub::Hub::load(paths) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "hub index unreadable: scenario versions from their files");
            return;
        }
    };
    let versions: std::collections::HashMap<PathBuf, String> = hub
        .installed(cs_hub::ItemType::Scenarios)
        .filter_map(|item| {
            let path = item.state.local_path.as_ref()?;
            Some((absolute(path), item.state.local_version.clone()))
        })
        .collect();
    for scenario in scenarios {
        match versions.get(&absolute(scenario.file())) {
            Some(v) => scenario.set_version(v.clone()),
            None => {
                tracing::debug!(scenario = scenario.name(), file = %scenario.file().display(), "scenario is not a hub item")
            }
        }
    }
}

/// `path` made absolute without resolving symlinks (installed items are links into the hub).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The alert context: installed `contexts/*.yaml` items and `console_context_path`.
fn alert_context(cfg: &Config, compiler: &Compiler) -> Result<Option<AlertContext>> {
    let items = yaml_files(&cfg.config_paths.config_dir.join("contexts"))?;
    let service = cfg.crowdsec_service.clone().unwrap_or_default();
    let console = if service.console_context_path.is_empty() {
        cfg.config_paths.config_dir.join("console/context.yaml")
    } else {
        PathBuf::from(&service.console_context_path)
    };
    let sources = cs_buckets::read_context_files(&items, Some(&console))?;
    if sources.is_empty() {
        return Ok(None);
    }
    let context = AlertContext::compile(&sources, service.console_context_value_length, compiler)
        .context("compiling the alert context")?;
    Ok(Some(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(process: bool, whitelisted: bool) -> Event {
        Event {
            process,
            whitelisted,
            ..Event::default()
        }
    }

    fn kind(p: &Parsed) -> &'static str {
        match p {
            Parsed::Unparsed => "unparsed",
            Parsed::Whitelisted => "whitelisted",
            Parsed::Unwanted => "unwanted",
            Parsed::Pour(_, Some(_)) => "pour with verdicts",
            Parsed::Pour(_, None) => "pour",
        }
    }

    #[test]
    fn parsed_events_are_sorted_before_the_pour() {
        let no: Verdicts = vec![Some(false), Some(false)].into();
        let maybe: Verdicts = vec![Some(false), None].into();
        let cases = [
            (event(false, false), Some(&no), "unparsed"),
            (event(true, true), Some(&no), "whitelisted"),
            (event(true, false), Some(&no), "unwanted"),
            (event(true, false), Some(&maybe), "pour with verdicts"),
            (event(true, false), None, "pour"),
        ];
        for (evt, verdicts, expected) in cases {
            let mut asked = false;
            let parsed = Parsed::of(evt, |_| {
                asked = true;
                verdicts.cloned()
            });
            assert_eq!(kind(&parsed), expected);
            // The filters are only evaluated ahead for events that may be poured.
            assert_eq!(asked, !matches!(expected, "unparsed" | "whitelisted"));
        }
    }
}
