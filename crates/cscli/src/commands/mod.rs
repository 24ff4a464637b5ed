//! One module per command group; [`run`] dispatches.

mod alerts;
mod bouncers;
mod config;
mod decisions;
pub(crate) mod explain;
pub(crate) mod hub;
pub(crate) mod hubtest;
pub(crate) mod items;
mod lapi;
mod machines;
pub(crate) mod metrics;
pub(crate) mod notifications;
mod simulation;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::context::Ctx;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Version = cli.command {
        print!("{}", version_text());
        return Ok(());
    }
    // Hub tests need no crowdsec configuration.
    if let Command::Hubtest(args) = &cli.command {
        return hubtest::run(args, cli.output);
    }
    let ctx = Ctx::load(cli.config, cli.output)?;
    match cli.command {
        Command::Version | Command::Hubtest(_) => Ok(()),
        Command::Config { cmd } => config::run(&ctx, cmd),
        Command::Machines { cmd } => machines::run(&ctx, cmd).await,
        Command::Bouncers { cmd } => bouncers::run(&ctx, cmd).await,
        Command::Decisions { cmd } => decisions::run(&ctx, cmd).await,
        Command::Alerts { cmd } => alerts::run(&ctx, cmd).await,
        Command::Lapi { cmd } => lapi::run(&ctx, cmd).await,
        Command::Simulation { cmd } => simulation::run(&ctx, cmd),
        Command::Hub { cmd } => hub::run(&ctx, cmd),
        Command::Explain(args) => explain::run(&ctx, &args),
        Command::Metrics(args) => metrics::run(&ctx, &args),
        Command::Notifications { cmd } => notifications::run(&ctx, cmd).await,
        Command::Parsers { cmd } => items::run(&ctx, cs_hub::ItemType::Parsers, cmd),
        Command::Postoverflows { cmd } => items::run(&ctx, cs_hub::ItemType::Postoverflows, cmd),
        Command::Scenarios { cmd } => items::run(&ctx, cs_hub::ItemType::Scenarios, cmd),
        Command::Collections { cmd } => items::run(&ctx, cs_hub::ItemType::Collections, cmd),
        Command::Contexts { cmd } => items::run(&ctx, cs_hub::ItemType::Contexts, cmd),
    }
}

/// `cscli version` output (upstream's keys; values of this implementation).
fn version_text() -> String {
    format!(
        "version: {v}\nCodename: crowdsec-rs\nBuildDate: unknown\nPlatform: {os}\nUser-Agent: {ua}\nConstraint_parser: >= 1.0, <= 3.0\nConstraint_scenario: >= 1.0, <= 3.0\nConstraint_api: v1\nConstraint_acquis: >= 1.0, < 2.0\n",
        v = crate::VERSION,
        os = std::env::consts::OS,
        ua = cs_apiclient::DEFAULT_USER_AGENT,
    )
}

/// Asks a yes/no question on the terminal; false when stdin is not a terminal.
pub fn confirm(question: &str) -> bool {
    use std::io::{IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}
