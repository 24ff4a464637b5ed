//! `cscli`: the CrowdSec command line (machines, bouncers, decisions, alerts, simulation,
//! LAPI status, config, version).

mod cli;
mod commands;
mod context;
mod output;
mod store;
mod time;

use std::process::ExitCode;

use clap::Parser;

/// Version reported by `cscli version` and in the User-Agent.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"), "-rs");

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let level = if cli.trace {
        "trace"
    } else if cli.debug {
        "debug"
    } else if cli.error {
        "error"
    } else if cli.warning {
        "warn"
    } else {
        "info"
    };
    // Messages go to stderr so that stdout only carries the requested output.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{level},sqlx=warn,hyper=warn,reqwest=warn"
        )))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
