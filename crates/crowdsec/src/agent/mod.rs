//! The log processor (agent) in one-shot mode (upstream's forensic mode:
//! `crowdsec -dsn file://… -type syslog`): the DSN's datasource is read to its end, each line
//! goes through the parsers, buckets in time-machine mode (driven by the log timestamps) and
//! postoverflows, and the alerts are pushed to the LAPI of `local_api_credentials.yaml`. The
//! process exits once they are delivered.

mod dump;
mod feed;
mod output;
mod pipeline;

pub(crate) use self::output::Output;
pub(crate) use self::pipeline::{Pipeline, PipelineStats};

use std::io::IsTerminal as _;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use cs_acquisition::{Labels, LineTransform as _, ReadStats};
use cs_config::Config;
use cs_models::Alert;
use cs_types::Event;

use self::pipeline::{Parsed, PipelineOptions};
use crate::flags::Flags;
use crate::live::transform::ExprTransform;

/// How long the agent waits for a LAPI started in the same process to accept its login.
const LOCAL_LAPI_WAIT: Duration = Duration::from_secs(30);
/// How long it waits for an external LAPI (transient network errors only).
const REMOTE_LAPI_WAIT: Duration = Duration::from_secs(5);
/// Wall-clock bucket timers are checked at most this often (and every this many lines).
const TICK_INTERVAL: Duration = Duration::from_secs(1);
const TICK_LINES: u64 = 1024;

/// `-type` and `-label k:v,k2:v2` as the labels of the `-dsn` datasource.
pub fn dsn_labels(single_type: Option<&str>, labels: Option<&str>) -> Result<Labels> {
    let mut out = Labels::new();
    for pair in labels.into_iter().flat_map(|l| l.split(',')) {
        let Some((k, v)) = pair.split_once(':') else {
            bail!("invalid label {pair:?}: expected key:value");
        };
        out.insert(k.into(), v.into());
    }
    if let Some(t) = single_type {
        out.insert("type".into(), t.into());
    }
    if out.is_empty() {
        bail!("-type or -label is mandatory with -dsn");
    }
    Ok(out)
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Acquisition counters.
    pub read: ReadStats,
    /// Parser and bucket counters.
    pub pipeline: PipelineStats,
    /// Alerts accepted by the LAPI.
    pub alerts_pushed: u64,
    /// Alerts the LAPI refused.
    pub alerts_rejected: u64,
    /// Time spent reading and processing the input.
    pub acquisition_time: Duration,
    /// Bucket counters.
    pub buckets: cs_buckets::EngineStats,
}

/// Alerts per push of a replay (upstream's agent pushes what it has every second, unbounded).
const REPLAY_PUSH: usize = 500;
/// Pushes of a replay sent at once: while the LAPI answers one, the next is on its way, so
/// the time a LAPI takes to answer (processing, round trip, or a response held back by
/// Nagle's algorithm on its side) does not pace the replay.
const REPLAY_IN_FLIGHT: usize = 2;
/// Alerts a replay lets wait for the LAPI before it pauses: the batches in flight and the
/// next one.
const REPLAY_BACKLOG: usize = (REPLAY_IN_FLIGHT + 1) * REPLAY_PUSH;

/// Environment variable that turns bucket eviction off (`0`): memory then grows with the
/// number of distinct bucket keys, as upstream's; used to check that eviction changes no alert.
pub const EVICTION_ENV: &str = "CROWDSEC_BUCKET_EVICTION";

/// Pipeline options of a replay: `-dump-data` and [`EVICTION_ENV`].
fn replay_options(flags: &Flags) -> PipelineOptions {
    PipelineOptions {
        dump: flags.dump_data.is_some(),
        evict: std::env::var(EVICTION_ENV).map_or(true, |v| v != "0"),
    }
}

/// `crowdsec -dsn DSN`: runs the replay and, unless `api` is false, the LAPI next to it for
/// the duration of the replay.
pub fn run_dsn(cfg: &Config, flags: &Flags, dsn: &str, api: bool) -> Result<()> {
    let labels = dsn_labels(flags.single_type.as_deref(), flags.labels.as_deref())?;
    let transform = flags
        .transform
        .as_deref()
        .map(|expr| ExprTransform::compile(expr, "-transform", format!("-dsn {dsn}")))
        .transpose()?;
    let prepared = if api {
        Some(crate::lapi::prepare(cfg)?)
    } else {
        None
    };
    let mut pipeline =
        Pipeline::load_with(cfg, Arc::new(cs_expr::SystemClock), replay_options(flags))?;
    let source = cs_acquisition::from_dsn(dsn, labels.clone())
        .with_context(|| format!("configuring the datasource of -dsn {dsn}"))?;
    let prometheus = crate::metrics::endpoint(cfg)?;
    if flags.test_config {
        println!("Configuration test done");
        return Ok(());
    }
    crate::init_logging(cfg, flags, "crowdsec.log")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting runtime")?;
    let lapi = prepared.map(|p| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(crate::lapi::run(p, async {
            let _ = stopped.await;
        }));
        (stop, task)
    });
    let wait = if lapi.is_some() {
        LOCAL_LAPI_WAIT
    } else {
        REMOTE_LAPI_WAIT
    };
    let prometheus = match prometheus {
        Some(ep) => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = rt.block_on(crate::metrics::serve(ep, None, async {
                let _ = stopped.await;
            }))?;
            Some((stop, task))
        }
        None => None,
    };
    crate::metrics::set_replay_source(dsn, &labels);
    tracing::info!("Starting processing data");
    let started = Instant::now();
    let result = replay(&rt, cfg, &mut pipeline, source, transform.as_ref(), wait);
    if let Some((stop, task)) = prometheus {
        // Upstream's agent lingers about two seconds after its acquisition ends; keep the
        // endpoint up until a scraper has read the final counters, two seconds at most.
        let linger = result
            .as_ref()
            .map_or(Duration::ZERO, |s| s.acquisition_time)
            + crate::metrics::REPLAY_LINGER;
        while started.elapsed() < linger && !crate::metrics::final_counters_scraped() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = stop.send(());
        let _ = rt.block_on(task);
    }
    if let Some((stop, task)) = lapi {
        let _ = stop.send(());
        rt.block_on(task).context("local API task")??;
    }
    let summary = result?;
    if let (Some(dir), Some(dump)) = (&flags.dump_data, pipeline.take_dump()) {
        dump.write(dir)
            .with_context(|| format!("dumping parser and bucket states to {}", dir.display()))?;
        tracing::info!(dir = %dir.display(), "parser and bucket states dumped");
    }
    let p = summary.pipeline;
    let secs = summary.acquisition_time.as_secs_f64();
    tracing::info!(
        lines_read = summary.read.lines,
        parsed = p.parsed,
        unparsed = p.unparsed,
        whitelisted = p.whitelisted,
        skipped_too_long = summary.read.too_long,
        invalid_utf8 = summary.read.invalid_utf8,
        overflows = p.overflows,
        buckets_evicted = summary.buckets.evicted,
        alerts_pushed = summary.alerts_pushed,
        alerts_rejected = summary.alerts_rejected,
        seconds = format_args!("{secs:.3}"),
        lines_per_second = format_args!("{:.0}", summary.read.lines as f64 / secs.max(1e-9)),
        "replay summary"
    );
    Ok(())
}

/// What follows parsing in a replay, in file order: pours, wall-clock timers, progress and
/// alert delivery.
struct Delivery<'a> {
    rt: &'a tokio::runtime::Runtime,
    pipeline: &'a mut Pipeline,
    output: &'a Output,
    alerts: Vec<Alert>,
    count: u64,
    start: Instant,
    last_tick: Instant,
    /// A long replay on a terminal tells how far it got; logs and pipes get nothing.
    progress: bool,
    /// The first delivery error, which stops the replay.
    failure: Option<anyhow::Error>,
}

impl Delivery<'_> {
    /// Parses an event and pours it, then delivers its alerts.
    fn take_raw(&mut self, evt: Event) {
        self.pipeline.process(evt, &mut self.alerts);
        self.after_pour();
    }

    /// Pours parsed events and delivers their alerts.
    fn take(&mut self, events: Vec<Parsed>) {
        for p in events {
            if self.failure.is_some() {
                return;
            }
            self.pipeline.take_parsed(p, &mut self.alerts);
            self.after_pour();
        }
    }

    /// Counts an event poured: wall-clock timers, progress and delivery of the alerts.
    fn after_pour(&mut self) {
        self.count += 1;
        if self.count.is_multiple_of(TICK_LINES) && self.last_tick.elapsed() >= TICK_INTERVAL {
            self.pipeline.tick(&mut self.alerts);
            self.last_tick = Instant::now();
            if self.progress {
                let secs = self.start.elapsed().as_secs_f64();
                let p = self.pipeline.stats();
                eprint!(
                    "\r{} lines ({:.0}/s), {} parsed, {} alerts ",
                    self.count,
                    self.count as f64 / secs.max(1e-9),
                    p.parsed,
                    p.overflows
                );
            }
        }
        for alert in self.alerts.drain(..) {
            if let Err(e) = self.output.send_blocking(self.rt, alert) {
                self.failure = Some(e);
                return;
            }
        }
    }
}

/// Parsing threads of a replay: `parser_routines` (one per CPU when it is 0 or absent), while
/// this thread pours, as upstream's parser and bucket routines run apart. The events reach the
/// buckets in file order whatever their number. None when the parsers trace their work
/// (`-dump-data`): parsing then happens on this thread.
fn parse_threads(cfg: &Config, pipeline: &Pipeline) -> usize {
    if pipeline.traces() {
        return 0;
    }
    match cfg
        .crowdsec_service
        .as_ref()
        .map_or(0, |s| s.parser_routines)
    {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    }
}

/// Reads the whole source through the pipeline and delivers the alerts.
fn replay(
    rt: &tokio::runtime::Runtime,
    cfg: &Config,
    pipeline: &mut Pipeline,
    mut source: Box<dyn cs_acquisition::OneShotSource>,
    transform: Option<&ExprTransform>,
    wait: Duration,
) -> Result<Summary> {
    // A replay produces alerts much faster than a LAPI stores them: larger pushes, and a
    // bounded backlog so that memory stays flat whatever the length of the log.
    let pusher = cs_apiclient::PusherConfig {
        max_batch: REPLAY_PUSH,
        max_undelivered: Some(REPLAY_BACKLOG),
        max_in_flight: REPLAY_IN_FLIGHT,
        ..cs_apiclient::PusherConfig::default()
    };
    let output = rt.block_on(Output::connect(
        cfg,
        pipeline.scenario_names(),
        wait,
        pusher,
    ))?;
    let module = source.module();
    let labels = source.labels().clone();
    let threads = parse_threads(cfg, pipeline);
    let template = Arc::new(feed::Template {
        module,
        labels: Arc::new(labels),
    });
    let mut pool = if threads > 0 {
        Some(feed::ParsePool::start(
            &pipeline.parsers(),
            Some(&pipeline.prefilter()),
            threads,
            &template,
        )?)
    } else {
        None
    };
    let start = Instant::now();
    let mut delivery = Delivery {
        rt,
        pipeline,
        output: &output,
        alerts: Vec::new(),
        count: 0,
        start,
        last_tick: start,
        progress: std::io::stderr().is_terminal(),
        failure: None,
    };
    let mut batch = feed::Lines::new();
    let mut pool_error = None;
    let mut sink = |raw: &str, src: &str| {
        let Some(pool) = pool.as_mut() else {
            delivery.take_raw(template.event(raw, src, chrono::Utc::now().fixed_offset()));
            return match delivery.failure {
                Some(_) => ControlFlow::Break(()),
                None => ControlFlow::Continue(()),
            };
        };
        batch.push(raw, src);
        if batch.len() < feed::BATCH {
            return ControlFlow::Continue(());
        }
        let full = std::mem::replace(&mut batch, feed::Lines::new());
        if let Err(e) = pool.submit(full, &mut |events| delivery.take(events)) {
            pool_error = Some(e);
            return ControlFlow::Break(());
        }
        match delivery.failure {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    };
    let read = source.read_all(&mut |line| match transform {
        None => sink(line.raw, line.src),
        // `-transform` rewrites each line before parsing, as a datasource's `transform` does.
        Some(t) => match t.apply(&template.live_line(line.raw, line.src)) {
            None => sink(line.raw, line.src),
            Some(lines) => lines.iter().try_for_each(|raw| sink(raw, line.src)),
        },
    });
    if let Some(mut pool) = pool {
        if pool_error.is_none() && delivery.failure.is_none() && !batch.is_empty() {
            pool_error = pool
                .submit(std::mem::take(&mut batch), &mut |events| {
                    delivery.take(events)
                })
                .err();
        }
        let finished = pool.finish(&mut |events| delivery.take(events));
        pool_error = pool_error.or(finished.err());
    }
    let acquisition_time = start.elapsed();
    if delivery.progress && acquisition_time >= TICK_INTERVAL {
        eprintln!();
    }
    if let Some(e) = delivery.failure.take().or(pool_error) {
        return Err(e);
    }
    let read = read.context("reading the -dsn datasource")?;
    crate::metrics::replay_finished(&read, pipeline);
    tracing::info!("Acquisition is finished, shutting down");
    // Upstream flushes nothing when a replay ends: buckets that did not overflow are dropped.
    let pushed = rt.block_on(output.finish())?;
    Ok(Summary {
        read,
        pipeline: pipeline.stats(),
        buckets: pipeline.bucket_stats(),
        alerts_pushed: pushed.pushed,
        alerts_rejected: pushed.rejected,
        acquisition_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(single_type: Option<&str>, labels: Option<&str>, expected: Option<&[(&str, &str)]>) {
        let got = dsn_labels(single_type, labels).ok();
        let expected = expected.map(|e| {
            e.iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect::<Labels>()
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn dsn_labels_come_from_type_and_label_flags() {
        check(Some("syslog"), None, Some(&[("type", "syslog")]));
        check(
            Some("nginx"),
            Some("env:prod,type:ignored"),
            Some(&[("env", "prod"), ("type", "nginx")]),
        );
        check(None, Some("type:syslog"), Some(&[("type", "syslog")]));
        check(None, None, None);
        check(None, Some("novalue"), None);
    }
}
