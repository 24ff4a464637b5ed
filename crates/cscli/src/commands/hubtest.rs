//! `cscli hubtest`: runs the hub's `.tests` with the in-process test runner (`cs-hubtest`).

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use cs_hubtest::{AssertReport, Hub, HubOptions, TestReport};

use crate::cli::OutputFormat;
use crate::output::Table;

/// `cscli hubtest` flags.
#[derive(Debug, Args)]
pub struct HubtestArgs {
    /// Hub directory (with `.index.json` and `.tests/`)
    #[arg(long, default_value = ".")]
    pub hub: PathBuf,
    /// Directory of the data files items declare under `data:` (default: <hub>/data)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Directory with `shared/` and `crowdsec-test/` GeoIP databases (default: <hub>/mmdb-fixtures)
    #[arg(long)]
    pub geoip_dir: Option<PathBuf>,
    /// Grok pattern directory (default: <hub>/patterns)
    #[arg(long)]
    pub patterns_dir: Option<PathBuf>,
    /// Directory for temporary test files (default: the system temporary directory)
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// "Now" as RFC 3339 (year of year-less log dates, now()); default: the system clock
    #[arg(long, env = cs_hubtest::NOW_ENV)]
    pub now: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub cmd: HubtestCmd,
}

/// `cscli hubtest` subcommands.
#[derive(Debug, Subcommand)]
pub enum HubtestCmd {
    /// run [test_name]
    Run {
        /// Tests to run.
        names: Vec<String>,
        /// Run all tests
        #[arg(long)]
        all: bool,
        /// Max number of concurrent tests
        #[arg(long)]
        max_jobs: Option<usize>,
        /// Report successful tests too in the table
        #[arg(long)]
        report_success: bool,
    },
    /// list tests
    List,
}

/// Runs `cscli hubtest`.
pub fn run(args: &HubtestArgs, output: Option<OutputFormat>) -> Result<()> {
    let output = output.unwrap_or(OutputFormat::Human);
    if output == OutputFormat::Raw {
        bail!("only human/json output modes are supported");
    }
    let mut options = HubOptions {
        data_dir: args.data_dir.clone(),
        geoip_dir: args.geoip_dir.clone(),
        patterns_dir: args.patterns_dir.clone(),
        workdir: args.workdir.clone(),
        now: None,
    };
    if let Some(now) = &args.now {
        options.now = Some(HubOptions::parse_now(now)?);
    }
    let hub = Hub::open(&args.hub, options)
        .with_context(|| format!("while opening the hub at {}", args.hub.display()))?;
    match &args.cmd {
        HubtestCmd::List => list(&hub, output),
        HubtestCmd::Run {
            names,
            all,
            max_jobs,
            report_success,
        } => {
            let names = if *all {
                hub.test_names()?
            } else if names.is_empty() {
                bail!("please provide test to run or --all flag");
            } else {
                names.clone()
            };
            let jobs = max_jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            if output == OutputFormat::Human && *all {
                println!("Running all tests (max_jobs: {jobs})");
            }
            let reports = hub.run_tests(&names, jobs);
            print_reports(&reports, output, *report_success)
        }
    }
}

fn list(hub: &Hub, output: OutputFormat) -> Result<()> {
    let names = hub.test_names()?;
    if output == OutputFormat::Json {
        let tests: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!({"name": n, "path": hub.test_dir(n)}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&tests)?);
        return Ok(());
    }
    let mut table = Table::new(["Name", "Path"]);
    for n in &names {
        table.row([n.clone(), hub.test_dir(n).display().to_string()]);
    }
    print!("{}", table.render());
    Ok(())
}

fn print_reports(reports: &[TestReport], output: OutputFormat, report_success: bool) -> Result<()> {
    let failed = reports.iter().filter(|r| !r.success()).count();
    let passed = reports.len() - failed;
    let summary = format!("{passed} passed, {failed} failed");
    if output == OutputFormat::Json {
        let (success, fail): (Vec<&TestReport>, Vec<&TestReport>) =
            reports.iter().partition(|r| r.success());
        let names = |v: Vec<&TestReport>| v.into_iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let json = serde_json::json!({"success": names(success), "fail": names(fail)});
        println!("{json}");
        // stdout carries only the JSON document.
        eprintln!("{summary}");
    } else {
        let mut table = Table::new(["Test", "Result"]);
        for r in reports
            .iter()
            .filter(|r| report_success || !r.success() || reports.len() == 1)
        {
            table.row([
                r.name.clone(),
                if r.success() { "✅" } else { "❌" }.to_owned(),
            ]);
        }
        print!("{}", table.render());
        for r in reports.iter().filter(|r| !r.success()) {
            print!("{}", failure_details(r));
        }
        println!("{summary}");
    }
    if failed > 0 {
        bail!("some tests failed");
    }
    Ok(())
}

/// Each failed assertion of a test with the actual value of its left operand, as upstream
/// prints them.
fn failure_details(report: &TestReport) -> String {
    let mut out = String::new();
    if let Some(e) = &report.error {
        out.push_str(&format!("\nTest '{}' could not run: {e}\n", report.name));
    }
    for (kind, assert) in [("Parser", &report.parser), ("Scenario", &report.scenario)] {
        let Some(assert) = assert.as_ref().filter(|a| !a.success()) else {
            continue;
        };
        out.push_str(&assert_details(kind, &report.name, assert));
    }
    out
}

fn assert_details(kind: &str, name: &str, assert: &AssertReport) -> String {
    let errors = assert.failures.len() + usize::from(assert.error.is_some());
    let mut out = format!("\n{kind} test '{name}' failed ({errors} errors)\n");
    for fail in &assert.failures {
        out.push_str(&format!("(L.{})  🔴  => {}\n", fail.line, fail.expression));
        out.push_str("        Actual expression values:\n");
        for (key, value) in &fail.debug {
            out.push_str(&format!("            {key} = '{value}'\n"));
        }
        out.push('\n');
    }
    if let Some(e) = &assert.error {
        if e.line == 0 {
            out.push_str(&format!("{}\n", e.message));
        } else {
            out.push_str(&format!(
                "(L.{})  🔴  => {}\n        {}\n",
                e.line, e.expression, e.message
            ));
        }
    }
    out
}
