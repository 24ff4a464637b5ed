//! `cscli explain`: runs log lines through the parsers (and scenarios) installed in the
//! configuration directory and prints, per line, which parser of each stage succeeded and
//! what it changed, so that a user sees why a line was or was not parsed.
//!
//! Upstream spawns `crowdsec -dump-data` and reads its dumps back; this runs the same
//! engines in process through the parser [`Trace`] hook and the bucket pour dump, then
//! prints upstream's tree.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::{ArgGroup, Args};
use cs_acquisition::Labels;
use cs_buckets::{BucketEngine, Compiler, LoadOptions};
use cs_config::Config;
use cs_expr::Clock;
use cs_expr_helpers::Helpers;
use cs_expr_helpers::geoip::GeoIp;
use cs_parser::{LoaderBuilder, Parsers, Trace};
use cs_types::{Event, ExpectMode};
use serde_json::Value;

use crate::context::Ctx;

const GREEN: &str = "🟢";
const RED: &str = "🔴";
/// Above this many lines upstream warns that the run may be expensive.
const MANY_LINES: usize = 100;

/// `cscli explain`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["log", "file", "dsn"])))]
pub struct ExplainArgs {
    /// Log file to test (- for stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// DSN to test
    #[arg(short = 'd', long = "dsn")]
    pub dsn: Option<String>,
    /// Log line to test
    #[arg(short = 'l', long = "log")]
    pub log: Option<String>,
    /// Type of the acquisition to test
    #[arg(short = 't', long = "type")]
    pub log_type: String,
    /// Additional labels to add to the acquisition format (key:value,key2:value2)
    #[arg(long)]
    pub labels: Option<String>,
    /// Display individual changes
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Only show failed lines
    #[arg(long)]
    pub failures: bool,
    /// Only show successful parsers
    #[arg(long)]
    pub only_successful_parsers: bool,
}

/// Runs `cscli explain`.
pub fn run(ctx: &Ctx, args: &ExplainArgs) -> Result<()> {
    let labels = labels(&args.log_type, args.labels.as_deref())?;
    let input = read_input(args, labels)?;
    if input.lines.is_empty() {
        bail!("the log file is empty: {}", input.origin);
    }
    if input.lines.len() > MANY_LINES {
        tracing::warn!(
            "{} contains {} lines. This may take a lot of resources.",
            input.origin,
            input.lines.len()
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(cs_expr::SystemClock);
    let mut engines = Engines::load(&ctx.cfg, clock)?;
    let runs: Vec<LineRun> = input
        .lines
        .iter()
        .map(|(raw, src)| engines.run_line(raw, src, input.module, &input.labels))
        .collect();
    let opts = DumpOpts {
        details: args.verbose,
        skip_ok: args.failures,
        show_failed_parsers: !args.only_successful_parsers,
    };
    print!("{}", render(&runs, &opts));
    Ok(())
}

/// `--type` and `--labels k:v,k2:v2` as datasource labels.
fn labels(log_type: &str, extra: Option<&str>) -> Result<Labels> {
    let mut out = Labels::new();
    for pair in extra.into_iter().flat_map(|l| l.split(',')) {
        let Some((k, v)) = pair.split_once(':') else {
            bail!("invalid label {pair:?}: expected key:value");
        };
        out.insert(k.into(), v.into());
    }
    out.insert("type".into(), log_type.into());
    Ok(out)
}

/// The lines to explain, with what the datasource would attach to them.
struct Input {
    /// What the lines come from, for messages.
    origin: String,
    /// `Line.Module`.
    module: &'static str,
    labels: Labels,
    /// Raw line and `Line.Src`.
    lines: Vec<(String, String)>,
}

fn read_input(args: &ExplainArgs, labels: Labels) -> Result<Input> {
    // A line given on the command line or stdin is what upstream writes to a temporary
    // file and reads with the file datasource: non-empty lines, terminators stripped.
    let direct = |origin: &str, text: &str, labels: Labels| Input {
        origin: origin.to_owned(),
        module: "file",
        labels,
        lines: text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| (l.to_owned(), origin.to_owned()))
            .collect(),
    };
    if let Some(line) = &args.log {
        return Ok(direct("--log", line, labels));
    }
    let dsn = match (&args.file, &args.dsn) {
        (Some(f), _) if f == "-" => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                bail!("the option -f - is intended to work with pipes");
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading stdin")?;
            return Ok(direct("stdin", &text, labels));
        }
        (Some(f), _) => {
            let abs = std::path::absolute(f)
                .with_context(|| format!("unable to get absolute path of '{f}', exiting"))?;
            format!("file://{}", abs.display())
        }
        (None, Some(d)) => d.clone(),
        (None, None) => bail!("no acquisition (--file or --dsn) provided, can't run cscli test"),
    };
    let mut source = cs_acquisition::from_dsn(&dsn, labels)
        .with_context(|| format!("opening datasource {dsn}"))?;
    let mut lines = Vec::new();
    source
        .read_all(&mut |line| {
            lines.push((line.raw.to_owned(), line.src.to_owned()));
            ControlFlow::Continue(())
        })
        .with_context(|| format!("reading {dsn}"))?;
    Ok(Input {
        origin: dsn,
        module: source.module(),
        labels: source.labels().clone(),
        lines,
    })
}

/// Parsers and scenarios installed in the configuration directory.
struct Engines {
    parsers: Parsers,
    buckets: BucketEngine,
    /// Reused overflow buffer; overflows themselves are not shown.
    overflows: Vec<Event>,
}

impl Engines {
    fn load(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Engines> {
        let paths = &cfg.config_paths;
        let helpers = Helpers::new();
        let (geoip, errors) = GeoIp::open_data_dir(&paths.data_dir);
        for e in errors {
            tracing::debug!(error = %e, "GeoIP enrichment disabled");
        }
        helpers.set_geoip(geoip);
        let parsers_dir = paths.config_dir.join("parsers");
        if !parsers_dir.is_dir() {
            bail!(
                "no parser found. Please install the appropriate parser and retry ({} is not a directory)",
                parsers_dir.display()
            );
        }
        let mut loader = LoaderBuilder::new(&paths.data_dir)
            .patterns_dir(&paths.pattern_dir)
            .with_context(|| format!("loading grok patterns from {}", paths.pattern_dir.display()))?
            .helpers(helpers.clone())
            .clock(clock.clone())
            .build();
        let parsers = loader
            .load_dir(&parsers_dir)
            .with_context(|| format!("loading {}", parsers_dir.display()))?;

        let compiler = Compiler::new(helpers, clock.clone());
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
        Ok(Engines {
            parsers,
            buckets: BucketEngine::new(scenarios, clock).with_pour_dump(),
            overflows: Vec::new(),
        })
    }

    /// Parses one line as the agent would (time-machine mode) and pours it if parsed.
    fn run_line(&mut self, raw: &str, src: &str, module: &str, labels: &Labels) -> LineRun {
        let mut evt = Event::new_log(raw, module);
        src.clone_into(&mut evt.line.src);
        evt.line.labels.clone_from(labels);
        evt.line.time = chrono::Utc::now().fixed_offset();
        evt.expect_mode = ExpectMode::TimeMachine;
        // The parsers clear `Process` before the first stage; the base of the first change
        // summary does too, so that only what the parsers set shows up.
        let mut start = evt.clone();
        start.process = false;
        let mut trace = LineTrace::default();
        let mut run = LineRun {
            raw: raw.to_owned(),
            start,
            stages: Vec::new(),
            poured: false,
            scenarios: Vec::new(),
        };
        if let Err(e) = self.parsers.parse_traced(&mut evt, &mut trace) {
            tracing::warn!(error = %e, "event dropped by the parsers");
            run.stages = trace.stages;
            return run;
        }
        run.stages = trace.stages;
        // Only parsed, non-whitelisted events reach the buckets (upstream's `OK` pour).
        if evt.process && !evt.whitelisted {
            run.poured = true;
            if let Err(e) = self.buckets.pour(&evt, &mut self.overflows) {
                tracing::warn!(error = %e, "pouring stopped for this event");
            }
            self.overflows.clear();
            run.scenarios = self
                .buckets
                .take_pour_dump()
                .into_keys()
                .filter(|k| k != "OK")
                .collect();
        }
        run
    }
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
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One top-level node evaluation: the event as the node left it.
struct NodeRun {
    name: String,
    evt: Event,
    success: bool,
}

/// The nodes evaluated in one stage, in evaluation order.
struct StageRun {
    name: String,
    nodes: Vec<NodeRun>,
}

/// Collects the node outcomes of one line.
#[derive(Default)]
struct LineTrace {
    stages: Vec<StageRun>,
}

impl Trace for LineTrace {
    fn node(&mut self, stage: &str, node: &str, evt: &Event, success: bool) {
        if self.stages.last().is_none_or(|s| s.name != stage) {
            self.stages.push(StageRun {
                name: stage.to_owned(),
                nodes: Vec::new(),
            });
        }
        if let Some(s) = self.stages.last_mut() {
            s.nodes.push(NodeRun {
                name: node.to_owned(),
                evt: evt.clone(),
                success,
            });
        }
    }
}

/// What happened to one line.
struct LineRun {
    raw: String,
    /// The event handed to the parsers, the base of the first change summary.
    start: Event,
    stages: Vec<StageRun>,
    /// Whether the event left the parsers for the buckets.
    poured: bool,
    /// Scenarios that took the event, in name order.
    scenarios: Vec<String>,
}

/// Display options (upstream's `DumpOpts`).
struct DumpOpts {
    /// `-v`: list each change.
    details: bool,
    /// `--failures`: hide the lines that reached the buckets.
    skip_ok: bool,
    /// Show the parsers that failed (hidden by `--only-successful-parsers`).
    show_failed_parsers: bool,
}

/// One difference between two events, with its `evt.` path.
#[derive(Debug, PartialEq)]
enum Change {
    Create {
        path: String,
        to: String,
    },
    Update {
        path: String,
        from: String,
        to: String,
    },
    Delete {
        path: String,
    },
}

/// The leaf-level changes from `before` to `after` (both serialized with upstream's names).
fn diff(before: &Event, after: &Event) -> Vec<Change> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(before), serde_json::to_value(after)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    diff_values("", Some(&a), Some(&b), &mut out);
    out
}

fn diff_values(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    // Go's zero values and absent keys read the same.
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff_values(&child(k), x.get(k), y.get(k), out);
            }
        }
        (None, Some(Value::Object(y))) => {
            for (k, v) in y {
                diff_values(&child(k), None, Some(v), out);
            }
        }
        (Some(Value::Object(x)), None) => {
            for (k, v) in x {
                diff_values(&child(k), Some(v), None, out);
            }
        }
        (None, Some(v)) => out.push(Change::Create {
            path: path.to_owned(),
            to: text(v),
        }),
        (Some(_), None) => out.push(Change::Delete {
            path: path.to_owned(),
        }),
        (Some(x), Some(y)) if x != y => out.push(Change::Update {
            path: path.to_owned(),
            from: text(x),
            to: text(y),
        }),
        _ => {}
    }
}

/// Strings as they are, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `+N ~N -N [whitelisted]`, or `unchanged`.
fn summary(created: usize, updated: usize, deleted: usize, whitelisted: bool) -> String {
    let mut parts = Vec::new();
    if created > 0 {
        parts.push(format!("+{created}"));
    }
    if updated > 0 {
        parts.push(format!("~{updated}"));
    }
    if deleted > 0 {
        parts.push(format!("-{deleted}"));
    }
    if whitelisted {
        parts.push("[whitelisted]".to_owned());
    }
    if parts.is_empty() {
        "unchanged".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Upstream's tree: per line, each stage reached, each parser of the stage (in order of
/// first evaluation over all lines) with its change summary, then the verdict and the
/// scenarios the event was poured into.
fn render(runs: &[LineRun], opts: &DumpOpts) -> String {
    use std::fmt::Write as _;

    let mut order: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for stage in runs.iter().flat_map(|r| &r.stages) {
        let names = order.entry(&stage.name).or_default();
        for node in &stage.nodes {
            if !names.contains(&node.name.as_str()) {
                names.push(&node.name);
            }
        }
    }
    let mut out = String::new();
    for run in runs {
        if opts.skip_ok && run.poured {
            continue;
        }
        let _ = writeln!(out, "line: {}", run.raw);
        let mut prev = &run.start;
        let mut whitelist_reason = String::new();
        let mut stages: Vec<&StageRun> = run.stages.iter().collect();
        stages.sort_by(|a, b| a.name.cmp(&b.name));
        for stage in stages {
            let _ = writeln!(out, "\t├ {}", stage.name);
            let names = order.get(stage.name.as_str()).map_or(&[][..], |v| v);
            for (idx, name) in names.iter().enumerate() {
                let sep = if idx + 1 == names.len() { "└" } else { "├" };
                let node = stage.nodes.iter().rev().find(|n| n.name == *name);
                let Some(node) = node.filter(|n| n.success) else {
                    if opts.show_failed_parsers {
                        let _ = writeln!(out, "\t|\t{sep} {RED} {name}");
                    }
                    continue;
                };
                let (mut created, mut updated, mut deleted) = (0, 0, 0);
                let mut details = String::new();
                for change in diff(prev, &node.evt) {
                    let _ = match change {
                        Change::Create { path, to } => {
                            created += 1;
                            writeln!(details, "\t|\t\t{sep} create evt.{path} : {to}")
                        }
                        Change::Update { path, from, to } => {
                            updated += 1;
                            writeln!(details, "\t|\t\t{sep} update evt.{path} : {from} -> {to}")
                        }
                        Change::Delete { path } => {
                            deleted += 1;
                            writeln!(details, "\t|\t\t{sep} delete evt.{path}")
                        }
                    };
                }
                let whitelisted = node.evt.whitelisted && !prev.whitelisted;
                if whitelisted && whitelist_reason.is_empty() {
                    whitelist_reason.clone_from(&node.evt.whitelist_reason);
                }
                prev = &node.evt;
                let changes = summary(created, updated, deleted, whitelisted);
                let _ = writeln!(out, "\t|\t{sep} {GREEN} {name} ({changes})");
                if opts.details {
                    out.push_str(&details);
                }
            }
        }
        let sep = if run.poured { "├" } else { "└" };
        if run.poured {
            let _ = writeln!(out, "\t{sep}-------- parser success {GREEN}");
        } else if !whitelist_reason.is_empty() {
            let _ = writeln!(
                out,
                "\t{sep}-------- parser success, ignored by whitelist ({whitelist_reason}) {GREEN}"
            );
        } else {
            let _ = writeln!(out, "\t{sep}-------- parser failure {RED}");
        }
        if run.poured {
            out.push_str("\t├ Scenarios\n");
        }
        for (idx, name) in run.scenarios.iter().enumerate() {
            let sep = if idx + 1 == run.scenarios.len() {
                "└"
            } else {
                "├"
            };
            let _ = writeln!(out, "\t\t{sep} {GREEN} {name}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(parsed: &[(&str, &str)]) -> Event {
        let mut evt = Event::new_log("raw line", "file");
        for (k, v) in parsed {
            evt.parsed.insert((*k).into(), (*v).into());
        }
        evt
    }

    #[test]
    fn diff_reports_created_updated_and_deleted_leaves() {
        let before = event(&[("a", "1"), ("b", "2")]);
        let mut after = event(&[("a", "1"), ("b", "3"), ("c", "4")]);
        after.parsed.remove("a");
        assert_eq!(
            diff(&before, &after),
            [
                Change::Delete {
                    path: "Parsed.a".into()
                },
                Change::Update {
                    path: "Parsed.b".into(),
                    from: "2".into(),
                    to: "3".into()
                },
                Change::Create {
                    path: "Parsed.c".into(),
                    to: "4".into()
                },
            ]
        );
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn summary_lists_counts_or_unchanged() {
        assert_eq!(summary(2, 1, 0, false), "+2 ~1");
        assert_eq!(summary(0, 0, 1, true), "-1 [whitelisted]");
        assert_eq!(summary(0, 0, 0, false), "unchanged");
    }

    fn node(name: &str, evt: Event, success: bool) -> NodeRun {
        NodeRun {
            name: name.to_owned(),
            evt,
            success,
        }
    }

    fn check(runs: &[LineRun], opts: &DumpOpts, expected: &str) {
        assert_eq!(render(runs, opts), expected);
    }

    #[test]
    fn render_draws_the_tree_with_details_and_verdicts() {
        let start = event(&[]);
        let parsed = event(&[("program", "sshd")]);
        let mut whitelisted = parsed.clone();
        whitelisted.whitelisted = true;
        whitelisted.whitelist_reason = "private ip".into();
        let runs = [
            LineRun {
                raw: "ok line".into(),
                start: start.clone(),
                stages: vec![StageRun {
                    name: "s00-raw".into(),
                    nodes: vec![node("a", start.clone(), false), node("b", parsed, true)],
                }],
                poured: true,
                scenarios: vec!["ssh-bf".into()],
            },
            LineRun {
                raw: "white line".into(),
                start: start.clone(),
                stages: vec![StageRun {
                    name: "s00-raw".into(),
                    nodes: vec![node("a", whitelisted, true)],
                }],
                poured: false,
                scenarios: Vec::new(),
            },
        ];
        let opts = DumpOpts {
            details: true,
            skip_ok: false,
            show_failed_parsers: true,
        };
        check(
            &runs,
            &opts,
            "line: ok line\n\t├ s00-raw\n\t|\t├ 🔴 a\n\t|\t└ 🟢 b (+1)\n\t|\t\t└ create evt.Parsed.program : sshd\n\t├-------- parser success 🟢\n\t├ Scenarios\n\t\t└ 🟢 ssh-bf\n\n\
             line: white line\n\t├ s00-raw\n\t|\t├ 🟢 a (+3 [whitelisted])\n\t|\t\t├ create evt.Parsed.program : sshd\n\t|\t\t├ create evt.Whitelisted : true\n\t|\t\t├ create evt.whitelist_reason : private ip\n\t|\t└ 🔴 b\n\t└-------- parser success, ignored by whitelist (private ip) 🟢\n\n",
        );
        let quiet = DumpOpts {
            details: false,
            skip_ok: true,
            show_failed_parsers: false,
        };
        check(
            &runs,
            &quiet,
            "line: white line\n\t├ s00-raw\n\t|\t├ 🟢 a (+3 [whitelisted])\n\t└-------- parser success, ignored by whitelist (private ip) 🟢\n\n",
        );
    }

    #[test]
    fn labels_need_key_value_pairs_and_get_the_type() {
        let got = labels("syslog", Some("env:prod")).unwrap();
        assert_eq!(got.get("type").map(cs_types::Text::as_str), Some("syslog"));
        assert_eq!(got.get("env").map(cs_types::Text::as_str), Some("prod"));
        assert!(labels("syslog", Some("oops")).is_err());
    }
}
