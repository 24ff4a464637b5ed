//! Command line definition, with upstream's command names, aliases and flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// cscli allows you to manage crowdsec.
#[derive(Debug, Parser)]
#[command(name = "cscli", version = crate::VERSION, disable_version_flag = true)]
pub struct Cli {
    /// path to crowdsec config file
    #[arg(short = 'c', long = "config", global = true, default_value = cs_config::config::DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Output format: human, json, raw
    #[arg(short = 'o', long = "output", global = true)]
    pub output: Option<OutputFormat>,
    /// Output color: yes, no, auto
    #[arg(long = "color", global = true)]
    pub color: Option<String>,
    /// Set logging to debug
    #[arg(long, global = true)]
    pub debug: bool,
    /// Set logging to info
    #[arg(long, global = true)]
    pub info: bool,
    /// Set logging to warning
    #[arg(long, global = true)]
    pub warning: bool,
    /// Set logging to error
    #[arg(long, global = true)]
    pub error: bool,
    /// Set logging to trace
    #[arg(long, global = true)]
    pub trace: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `-o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables and messages.
    Human,
    /// Indented JSON of the underlying objects.
    Json,
    /// CSV with a header line.
    Raw,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Display version
    Version,
    /// Allows to view current config
    Config {
        /// What to do.
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Manage local API machines [requires local API]
    #[command(visible_alias = "machine")]
    Machines {
        /// What to do.
        #[command(subcommand)]
        cmd: MachinesCmd,
    },
    /// Manage bouncers [requires local API]
    #[command(visible_alias = "bouncer")]
    Bouncers {
        /// What to do.
        #[command(subcommand)]
        cmd: BouncersCmd,
    },
    /// Manage decisions
    #[command(visible_alias = "decision")]
    Decisions {
        /// What to do.
        #[command(subcommand)]
        cmd: DecisionsCmd,
    },
    /// Manage alerts
    #[command(visible_alias = "alert")]
    Alerts {
        /// What to do.
        #[command(subcommand)]
        cmd: AlertsCmd,
    },
    /// Manage interaction with Local API (LAPI)
    Lapi {
        /// What to do.
        #[command(subcommand)]
        cmd: LapiCmd,
    },
    /// Manage simulation status of scenarios
    Simulation {
        /// What to do.
        #[command(subcommand)]
        cmd: SimulationCmd,
    },
    /// Display crowdsec prometheus metrics.
    Metrics(crate::commands::metrics::MetricsArgs),
    /// Explain log pipeline
    Explain(crate::commands::explain::ExplainArgs),
    /// Run functional tests on hub configurations
    Hubtest(crate::commands::hubtest::HubtestArgs),
    /// Manage hub index
    Hub {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::hub::HubCmd,
    },
    /// Helper for notification plugin configuration
    #[command(visible_alias = "notification")]
    Notifications {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::notifications::NotificationsCmd,
    },
    /// Manage hub parsers
    #[command(visible_alias = "parser")]
    Parsers {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::items::ItemsCmd,
    },
    /// Manage hub postoverflows
    #[command(visible_alias = "postoverflow")]
    Postoverflows {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::items::ItemsCmd,
    },
    /// Manage hub scenarios
    #[command(visible_alias = "scenario")]
    Scenarios {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::items::ItemsCmd,
    },
    /// Manage hub collections
    #[command(visible_alias = "collection")]
    Collections {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::items::ItemsCmd,
    },
    /// Manage hub contexts
    #[command(visible_alias = "context")]
    Contexts {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::commands::items::ItemsCmd,
    },
}

/// `cscli config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Displays current config
    Show {
        /// Display only this value (e.g. Config.API.Server.ListenURI)
        #[arg(long)]
        key: Option<String>,
    },
}

/// `cscli machines`.
#[derive(Debug, Subcommand)]
pub enum MachinesCmd {
    /// list all machines in the database
    List,
    /// add a single machine to the database
    Add(MachinesAdd),
    /// delete machine(s) by name
    #[command(visible_alias = "remove")]
    Delete {
        /// Machine names.
        #[arg(required = true)]
        names: Vec<String>,
        /// don't print errors if one or more machines to delete don't exist
        #[arg(long)]
        ignore_missing: bool,
    },
    /// validate a machine to access the local API
    Validate {
        /// Machine name.
        name: String,
    },
}

/// `cscli machines add`.
#[derive(Debug, Args)]
pub struct MachinesAdd {
    /// Machine name (required unless --auto).
    pub name: Option<String>,
    /// machine password to login to the API
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// output file destination (- for stdout)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// URL of the local API
    #[arg(short = 'u', long = "url")]
    pub url: Option<String>,
    /// interactive mode to enter the password
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// automatically generate password (and username if not provided)
    #[arg(short = 'a', long)]
    pub auto: bool,
    /// will force add the machine if it already exist
    #[arg(long)]
    pub force: bool,
}

/// `cscli bouncers`.
#[derive(Debug, Subcommand)]
pub enum BouncersCmd {
    /// list all bouncers within the database
    List,
    /// add a single bouncer to the database
    Add {
        /// Bouncer name.
        name: String,
        /// api key for the bouncer
        #[arg(short = 'k', long)]
        key: Option<String>,
    },
    /// delete bouncer(s) from the database
    #[command(visible_alias = "remove")]
    Delete {
        /// Bouncer names.
        #[arg(required = true)]
        names: Vec<String>,
        /// don't print errors if one or more bouncers to delete don't exist
        #[arg(long)]
        ignore_missing: bool,
    },
    /// prune multiple bouncers from the database
    Prune {
        /// duration of time since last pull
        #[arg(short = 'd', long, default_value = "60m")]
        duration: String,
        /// force prune without asking for confirmation
        #[arg(long)]
        force: bool,
    },
}

/// Filters shared by `decisions list` and `alerts list`.
#[derive(Debug, Args, Default)]
pub struct ListFilters {
    /// restrict to alerts newer than since (ie. 4h, 30d)
    #[arg(long)]
    pub since: Option<String>,
    /// restrict to alerts older than until (ie. 4h, 30d)
    #[arg(long)]
    pub until: Option<String>,
    /// restrict to this scope (ie. ip,range,session)
    #[arg(long)]
    pub scope: Option<String>,
    /// restrict to this value (ie. 1.2.3.4,userName)
    #[arg(short = 'v', long)]
    pub value: Option<String>,
    /// restrict to this scenario (ie. crowdsecurity/ssh-bf)
    #[arg(short = 's', long)]
    pub scenario: Option<String>,
    /// restrict to alerts from this source ip (shorthand for --scope ip --value <IP>)
    #[arg(short = 'i', long)]
    pub ip: Option<String>,
    /// restrict to alerts from this source range (shorthand for --scope range --value <RANGE>)
    #[arg(short = 'r', long)]
    pub range: Option<String>,
    /// the value to match for the specified origin (cscli, crowdsec, console, lists, CAPI ...)
    #[arg(long)]
    pub origin: Option<String>,
    /// query decisions contained by range
    #[arg(long)]
    pub contained: bool,
    /// print machines that triggered decisions
    #[arg(short = 'm', long)]
    pub machine: bool,
}

/// `cscli decisions`.
#[derive(Debug, Subcommand)]
pub enum DecisionsCmd {
    /// List decisions from LAPI
    List {
        /// Include decisions from Central API
        #[arg(short = 'a', long)]
        all: bool,
        /// restrict to this decision type (ie. ban,captcha)
        #[arg(short = 't', long = "type")]
        decision_type: Option<String>,
        /// number of alerts to get (use 0 to remove the limit)
        #[arg(short = 'l', long, default_value_t = 100)]
        limit: u64,
        /// exclude decisions in simulation mode
        #[arg(long)]
        no_simu: bool,
        /// Filters.
        #[command(flatten)]
        filters: ListFilters,
    },
    /// Add decision to LAPI
    Add(DecisionsAdd),
    /// Delete decisions
    #[command(visible_alias = "remove")]
    Delete(DecisionsDelete),
    /// Import decisions from a file or pipe
    Import(DecisionsImport),
}

/// `cscli decisions add`.
#[derive(Debug, Args)]
pub struct DecisionsAdd {
    /// Source ip (shorthand for --scope ip --value <IP>)
    #[arg(short = 'i', long)]
    pub ip: Option<String>,
    /// Range source ip (shorthand for --scope range --value <RANGE>)
    #[arg(short = 'r', long)]
    pub range: Option<String>,
    /// Decision duration (ie. 1h,4h,30m)
    #[arg(short = 'd', long, default_value = "4h")]
    pub duration: String,
    /// The value (ie. --scope username --value foobar)
    #[arg(short = 'v', long)]
    pub value: Option<String>,
    /// Decision scope (ie. ip,range,username)
    #[arg(long, default_value = "Ip")]
    pub scope: String,
    /// Decision reason (ie. scenario-name)
    #[arg(short = 'R', long)]
    pub reason: Option<String>,
    /// Decision type (ie. ban,captcha,throttle)
    #[arg(short = 't', long = "type", default_value = "ban")]
    pub decision_type: String,
    /// Add decision even if value is in allowlist
    #[arg(short = 'B', long)]
    pub bypass_allowlist: bool,
}

/// `cscli decisions delete`.
#[derive(Debug, Args)]
pub struct DecisionsDelete {
    /// Source ip (shorthand for --scope ip --value <IP>)
    #[arg(short = 'i', long)]
    pub ip: Option<String>,
    /// Range source ip (shorthand for --scope range --value <RANGE>)
    #[arg(short = 'r', long)]
    pub range: Option<String>,
    /// the type of the decision to delete
    #[arg(short = 't', long = "type")]
    pub decision_type: Option<String>,
    /// the value to match for in the specified scope
    #[arg(short = 'v', long)]
    pub value: Option<String>,
    /// the scope to match
    #[arg(long)]
    pub scope: Option<String>,
    /// the scenario name (ie. crowdsecurity/ssh-bf)
    #[arg(short = 's', long)]
    pub scenario: Option<String>,
    /// the value to match for the specified origin
    #[arg(long)]
    pub origin: Option<String>,
    /// decision id
    #[arg(long)]
    pub id: Option<String>,
    /// delete all decisions
    #[arg(long)]
    pub all: bool,
    /// query decisions contained by range
    #[arg(long)]
    pub contained: bool,
}

/// `cscli decisions import`.
#[derive(Debug, Args)]
pub struct DecisionsImport {
    /// Input file
    #[arg(short = 'i', long = "input")]
    pub input: String,
    /// Decision duration: 1h,4h,30m
    #[arg(short = 'd', long, default_value = "4h")]
    pub duration: String,
    /// Decision scope: ip,range,username
    #[arg(long, default_value = "Ip")]
    pub scope: String,
    /// Decision reason: <scenario-name>
    #[arg(short = 'R', long, default_value = "manual")]
    pub reason: String,
    /// Decision type: ban,captcha,throttle
    #[arg(short = 't', long = "type", default_value = "ban")]
    pub decision_type: String,
    /// Split import in batches of N decisions
    #[arg(long, default_value_t = 0)]
    pub batch: usize,
    /// Input format: 'json', 'csv' or 'values' (each line is a value, no headers)
    #[arg(long)]
    pub format: Option<String>,
}

/// `cscli alerts`.
#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// List alerts
    List {
        /// Include decisions from Central API
        #[arg(short = 'a', long)]
        all: bool,
        /// restrict to alerts with decisions of this type (ie. ban,captcha)
        #[arg(long = "type")]
        decision_type: Option<String>,
        /// Alert kind (manual, crowdsec, ...)
        #[arg(long)]
        kind: Option<String>,
        /// limit size of alerts list table (0 to view all alerts)
        #[arg(short = 'l', long, default_value_t = 50)]
        limit: u64,
        /// Filters.
        #[command(flatten)]
        filters: ListFilters,
    },
    /// Show info about an alert
    Inspect {
        /// Alert ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// show alerts with events
        #[arg(short = 'd', long)]
        details: bool,
    },
    /// Delete alerts
    #[command(visible_alias = "remove")]
    Delete {
        /// Delete all alerts
        #[arg(short = 'a', long)]
        all: bool,
        /// alert ID
        #[arg(long)]
        id: Option<String>,
        /// Filters.
        #[command(flatten)]
        filters: ListFilters,
    },
    /// Flush alerts
    Flush {
        /// Maximum number of alert items to keep in the database
        #[arg(long, default_value_t = 5000)]
        max_items: u64,
        /// Maximum age of alert items to keep in the database
        #[arg(long, default_value = "7d")]
        max_age: String,
    },
}

/// `cscli lapi`.
#[derive(Debug, Subcommand)]
pub enum LapiCmd {
    /// Check authentication to Local API (LAPI)
    Status,
}

/// `cscli simulation`.
#[derive(Debug, Subcommand)]
pub enum SimulationCmd {
    /// Enable the simulation, globally or on specified scenarios
    Enable {
        /// Scenario names.
        scenarios: Vec<String>,
        /// Enable global simulation (reverse mode)
        #[arg(short = 'g', long)]
        global: bool,
    },
    /// Disable the simulation mode. Disable only specified scenarios
    Disable {
        /// Scenario names.
        scenarios: Vec<String>,
        /// Disable global simulation (reverse mode)
        #[arg(short = 'g', long)]
        global: bool,
    },
    /// Show simulation mode status
    Status,
}
