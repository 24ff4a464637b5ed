//! `crowdsec`: the CrowdSec daemon. By default it runs the Local API and the agent tailing the
//! datasources of the acquisition files (see `live`); `-no-cs` / `-no-api` leave one out; with
//! `-dsn` it replays a log through the agent (see `agent`). Both serve Prometheus metrics when
//! `prometheus.enabled` is set.

mod agent;
mod flags;
mod lapi;
mod live;
mod metrics;

use std::io::IsTerminal as _;

/// jemalloc: events are built on the parser threads and freed on the bucket thread, a pattern
/// it serves without the arena lock contention of the system allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use cs_config::Config;

use crate::flags::{FlagError, Flags};

/// Version printed by `-version` (upstream's `version: X` line first).
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"), "-rs");

fn main() -> ExitCode {
    let flags = match flags::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(FlagError::Help) => {
            eprint!("{}", flags::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(FlagError::Invalid(msg)) => {
            eprintln!("{msg}");
            eprint!("{}", flags::USAGE);
            return ExitCode::from(2);
        }
    };
    if flags.version {
        print!(
            "version: {VERSION}\nCodename: crowdsec-rs\nPlatform: {}\nConstraint_parser: >= 1.0, <= 3.0\nConstraint_scenario: >= 1.0, <= 3.0\nConstraint_api: v1\nConstraint_acquis: >= 1.0, < 2.0\n",
            std::env::consts::OS
        );
        return ExitCode::SUCCESS;
    }
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logging may not be set up yet (configuration errors), so print directly.
            eprintln!("crowdsec: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cfg: &Config, flags: &Flags, file_name: &str) -> Result<()> {
    let common = cfg.common.clone().unwrap_or_default();
    let level = flags
        .log_level
        .map(str::to_string)
        .or(common.log_level.clone())
        .unwrap_or_else(|| "info".into())
        .to_ascii_lowercase()
        .replace("warning", "warn");
    let level = match level.as_str() {
        "panic" | "fatal" => "error".to_string(),
        other => other.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{level},sqlx=warn,hyper=warn,h2=warn,rustls=warn"
    ));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if common.log_media == "file" {
        let dir = if common.log_dir.is_empty() {
            "/var/log/".to_string()
        } else {
            common.log_dir.clone()
        };
        let path = std::path::Path::new(&dir).join(file_name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening log file {}", path.display()))?;
        builder
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    } else {
        builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() || common.force_color_logs)
            .init();
    }
    Ok(())
}

fn run(flags: Flags) -> Result<()> {
    let cfg = Config::load(&flags.config).with_context(|| {
        format!(
            "while loading configuration file {}",
            flags.config.display()
        )
    })?;
    let api = !flags.no_api && cfg.api_server_enabled();
    let agent = !flags.no_cs && cfg.agent_enabled();
    if !api && !agent {
        bail!("you must run at least the API Server or crowdsec");
    }
    if let Some(dsn) = flags.dsn.as_deref() {
        return agent::run_dsn(&cfg, &flags, dsn, api);
    }
    live::run(&flags.config, cfg, &flags, api, agent)
}
