//! The daemon's live mode (`crowdsec -c config.yaml`): the Local API (unless `-no-api` or
//! `api.server.enable: false`), the agent tailing the datasources of the acquisition files
//! (unless `-no-cs`; each line rewritten by its datasource's `transform`, then parsed by
//! `parser_routines` threads), and the Prometheus endpoint. SIGHUP reloads the hub items and the
//! acquisition configuration; SIGTERM (or SIGINT) stops the datasources, drains the lines
//! already read, delivers the pending alerts and exits.

mod acquisition;
mod notify;
mod processor;
pub(crate) mod transform;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context as _, Result};
use cs_acquisition::LiveLine;
use cs_config::Config;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot, watch};

use self::processor::Control;
use crate::agent::{Output, Pipeline};
use crate::flags::Flags;

/// Lines buffered between the datasources and the processing loop (back-pressure beyond).
const LINE_QUEUE: usize = 4096;
/// How long the agent waits for its Local API to accept the login at start.
const LAPI_WAIT: Duration = Duration::from_secs(30);
/// How often datasource counters are published.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Everything loaded before the runtime starts, so that `-t` checks it all.
struct Prepared {
    lapi: Option<crate::lapi::Prepared>,
    agent: Option<(Pipeline, Vec<cs_acquisition::Source>)>,
    prometheus: Option<crate::metrics::Endpoint>,
}

fn prepare(cfg: &Config, api: bool, agent: bool) -> Result<Prepared> {
    if agent {
        // Before the Local API: the starter content brings the profiles it loads.
        install_starter_content(cfg)?;
    }
    let lapi = api.then(|| crate::lapi::prepare(cfg)).transpose()?;
    let agent = if agent {
        let sources = acquisition::load(cfg)?;
        let pipeline = Pipeline::load(cfg, Arc::new(cs_expr::SystemClock))?;
        Some((pipeline, sources))
    } else {
        None
    };
    Ok(Prepared {
        lapi,
        agent,
        prometheus: crate::metrics::endpoint(cfg)?,
    })
}

/// A config directory without any parser gets the built-in starter content (parsers,
/// scenarios, profiles and acquisition for sshd, web servers and port scans), so a fresh
/// install detects common attacks before any hub item is installed. Existing files are
/// never overwritten.
fn install_starter_content(cfg: &Config) -> Result<()> {
    let paths = &cfg.config_paths;
    if cs_starter::has_parsers(&paths.config_dir) {
        return Ok(());
    }
    let installed = cs_starter::install_to(&paths.config_dir, &paths.pattern_dir)
        .context("installing the built-in starter content")?;
    tracing::info!(
        files = installed.written.len(),
        kept = installed.kept.len(),
        dir = %paths.config_dir.display(),
        "no parser installed: built-in starter content installed"
    );
    Ok(())
}

/// `crowdsec -c config.yaml` without `-dsn`.
pub fn run(config_path: &Path, cfg: Config, flags: &Flags, api: bool, agent: bool) -> Result<()> {
    let prepared = prepare(&cfg, api, agent)?;
    if flags.test_config {
        println!("Configuration test done");
        return Ok(());
    }
    let log_file = if agent {
        "crowdsec.log"
    } else {
        "crowdsec_api.log"
    };
    crate::init_logging(&cfg, flags, log_file)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting runtime")?;
    rt.block_on(daemon(config_path, cfg, prepared))
}

/// A stop signal shared by the tasks: `true` once SIGTERM or SIGINT arrived.
fn stopped(rx: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

async fn daemon(config_path: &Path, cfg: Config, p: Prepared) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;

    let prom = match p.prometheus {
        Some(ep) => {
            let store = match &p.lapi {
                Some(_) => crate::metrics::gauges_store(&cfg).await,
                None => None,
            };
            Some(crate::metrics::serve(ep, store, stopped(&stop_rx)).await?)
        }
        None => None,
    };
    let mut lapi = p
        .lapi
        .map(|l| tokio::spawn(crate::lapi::run(l, stopped(&stop_rx))));

    let mut agent = match p.agent {
        Some((pipeline, sources)) => Some(Agent::start(&cfg, pipeline, sources).await?),
        None => None,
    };

    notify::notify("READY=1");
    let outcome: Result<()> = loop {
        tokio::select! {
            _ = term.recv() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
            _ = hup.recv() => {
                tracing::info!("SIGHUP received: reloading");
                notify::notify("RELOADING=1");
                if let Some(a) = agent.as_mut()
                    && let Err(e) = a.reload(config_path).await
                {
                    tracing::error!(error = format!("{e:#}"), "reload failed, keeping the running configuration");
                }
                notify::notify("READY=1");
            }
            res = async { lapi.as_mut().expect("guarded").await }, if lapi.is_some() => {
                lapi = None;
                break match res {
                    Ok(Ok(())) => Err(anyhow::anyhow!("the local API stopped")),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(e).context("local API task"),
                };
            }
            () = tokio::time::sleep(STATS_EVERY), if agent.is_some() => {
                if let Some(a) = agent.as_mut() { a.publish_stats(); }
            }
        }
    };
    tracing::info!("shutting down");
    notify::notify("STOPPING=1");
    let agent_result = match agent {
        Some(a) => a.stop().await,
        None => Ok(()),
    };
    let _ = stop_tx.send(true);
    if let Some(l) = lapi {
        match l.await {
            Ok(r) => r?,
            Err(e) => return Err(e).context("local API task"),
        }
    }
    if let Some(p) = prom {
        let _ = p.await;
    }
    outcome?;
    agent_result
}

/// The running agent: datasources feeding the processing loop.
struct Agent {
    /// `None` only while a reload swaps the datasources.
    acquisition: Option<cs_acquisition::Acquisition>,
    lines: mpsc::Sender<LiveLine>,
    control: mpsc::Sender<Control>,
    parsers: processor::ParserSlot,
    processor: tokio::task::JoinHandle<Result<cs_apiclient::PushStats>>,
    stats: acquisition::StatsPublisher,
    state_dir: std::path::PathBuf,
}

impl Agent {
    async fn start(
        cfg: &Config,
        pipeline: Pipeline,
        sources: Vec<cs_acquisition::Source>,
    ) -> Result<Agent> {
        let service = cfg.crowdsec_service.clone().unwrap_or_default();
        let output = Output::connect(
            cfg,
            pipeline.scenario_names(),
            LAPI_WAIT,
            cs_apiclient::PusherConfig::default(),
        )
        .await?;
        let (lines, lines_rx) = mpsc::channel(LINE_QUEUE);
        let (events, events_rx) = mpsc::channel(LINE_QUEUE);
        let (control, control_rx) = mpsc::channel(1);
        let parsers: processor::ParserSlot = Arc::new(RwLock::new(pipeline.parsers()));
        processor::spawn_workers(service.parser_routines, lines_rx, &parsers, &events)?;
        drop(events);
        if service.buckets_routines > 1 {
            tracing::info!(
                buckets_routines = service.buckets_routines,
                "buckets run in one routine (the bucket engine is not sharded)"
            );
        }
        // The bucket loop is CPU-bound: it gets a thread of its own with a current-thread
        // runtime for its timers and for handing alerts to the pusher.
        let processor = {
            let (done_tx, done_rx) = oneshot::channel();
            std::thread::Builder::new()
                .name("crowdsec-buckets".into())
                .spawn(move || {
                    let local = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("starting the bucket runtime");
                    let res = local.and_then(|rt| {
                        rt.block_on(processor::run(pipeline, output, events_rx, control_rx))
                    });
                    let _ = done_tx.send(res);
                })
                .context("starting the bucket thread")?;
            tokio::spawn(async move {
                done_rx
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the bucket thread panicked")))
            })
        };
        let state_dir = acquisition::state_dir(cfg);
        let acquisition = acquisition::start(sources, lines.clone(), &state_dir).await?;
        tracing::info!(parser_routines = service.parser_routines, "agent started");
        Ok(Agent {
            acquisition: Some(acquisition),
            lines,
            control,
            parsers,
            processor,
            stats: acquisition::StatsPublisher::default(),
            state_dir,
        })
    }

    fn publish_stats(&mut self) {
        if let Some(a) = &self.acquisition {
            self.stats.publish(&a.stats());
        }
    }

    /// Reloads the configuration, the hub items and the datasources. Nothing is changed
    /// unless everything loads.
    async fn reload(&mut self, config_path: &Path) -> Result<()> {
        let path = config_path.to_owned();
        let (cfg, pipeline, sources) = tokio::task::spawn_blocking(move || -> Result<_> {
            let cfg = Config::load(&path)
                .with_context(|| format!("while loading configuration file {}", path.display()))?;
            let pipeline = Pipeline::load(&cfg, Arc::new(cs_expr::SystemClock))?;
            let sources = acquisition::load(&cfg)?;
            Ok((cfg, pipeline, sources))
        })
        .await
        .context("reload task")??;
        // Stop the datasources first (positions saved), so the new ones resume exactly there.
        if let Some(running) = self.acquisition.take() {
            self.stats.publish(&running.stats());
            running.stop().await;
        }
        self.stats.reset();
        *self.parsers.write().unwrap_or_else(|e| e.into_inner()) = pipeline.parsers();
        let (done, swapped) = oneshot::channel();
        self.control
            .send(Control::Reload(Box::new(pipeline), done))
            .await
            .map_err(|_| anyhow::anyhow!("the processing loop stopped"))?;
        let _ = swapped.await;
        self.state_dir = acquisition::state_dir(&cfg);
        self.acquisition =
            Some(acquisition::start(sources, self.lines.clone(), &self.state_dir).await?);
        tracing::info!("reload done");
        Ok(())
    }

    /// Stops the datasources, lets the processing loop drain what they read and deliver the
    /// alerts.
    async fn stop(mut self) -> Result<()> {
        self.publish_stats();
        if let Some(a) = self.acquisition.take() {
            a.stop().await;
        }
        drop(self.lines);
        drop(self.control);
        let stats = self.processor.await.context("processing task")??;
        tracing::info!(
            alerts_pushed = stats.pushed,
            alerts_rejected = stats.rejected,
            "agent stopped"
        );
        Ok(())
    }
}
