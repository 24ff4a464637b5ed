//! Running one test: install its items, replay its log file through parsers, scenarios and
//! postoverflows (upstream's `crowdsec -dsn file://… -dump-data … -order-event`), then judge
//! the assert files.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cs_buckets::{BucketEngine, Compiler, LoadOptions};
use cs_expr::{Clock, Environment, FixedClock, Value};
use cs_expr_helpers::Helpers;
use cs_parser::config::{StageFile, StaticConfig};
use cs_parser::{LoaderBuilder, ParserDump, Parsers};
use cs_types::{Event, ExpectMode};
use serde::Serialize;

use crate::assert;
use crate::config::TestConfig;
use crate::error::{Error, Result};
use crate::hub::{Hub, Item};
use crate::report::TestReport;

/// The node upstream writes to `s00-raw/00_overrides.yaml` for `override_statics`.
#[derive(Serialize)]
struct Overrides<'a> {
    name: &'a str,
    filter: &'a str,
    statics: &'a [StaticConfig],
}

/// What a replay produced.
struct Replay {
    parser_dump: ParserDump,
    overflows: Vec<Event>,
}

impl Hub {
    /// Runs test `name` (a folder of `.tests/`) and judges it.
    pub fn run_test(&self, name: &str) -> TestReport {
        let dir = self.test_dir(name);
        if !dir.join("config.yaml").is_file() {
            return TestReport::errored(name, Error::NoSuchTest(name.to_owned()).to_string());
        }
        match self.try_run(name, &dir) {
            Ok(report) => report,
            Err(e) => TestReport::errored(name, e.to_string()),
        }
    }

    fn try_run(&self, name: &str, dir: &Path) -> Result<TestReport> {
        let config = TestConfig::load(dir)?;
        let now = self.now.unwrap_or_else(|| cs_expr::SystemClock.now());
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
        let helpers = Helpers::new();
        helpers.set_geoip(self.geoip(name)?);

        let work = match &self.workdir {
            Some(w) => tempfile::Builder::new().prefix("hubtest-").tempdir_in(w),
            None => tempfile::Builder::new().prefix("hubtest-").tempdir(),
        }
        .map_err(|source| Error::Io {
            path: self.workdir.clone().unwrap_or_else(std::env::temp_dir),
            source,
        })?;

        let mut parser_items = Vec::new();
        for item in config.parser_items() {
            parser_items.push(self.resolve_staged("parsers", item, dir)?);
        }
        if !config.override_statics.is_empty() {
            parser_items.push(write_overrides(work.path(), &config.override_statics)?);
        }
        let parsers = self.load_parsers("parsers", parser_items, &helpers, &clock)?;

        let mut post_items = Vec::new();
        for item in config.postoverflow_items() {
            post_items.push(self.resolve_staged("postoverflows", item, dir)?);
        }
        let postoverflows = if post_items.is_empty() {
            None
        } else {
            Some(self.load_parsers("postoverflows", post_items, &helpers, &clock)?)
        };

        let mut scenario_files = Vec::new();
        for item in config.scenario_items() {
            scenario_files.push(self.resolve("scenarios", item, dir)?);
        }
        let engine = if scenario_files.is_empty() {
            None
        } else {
            Some(self.load_scenarios(&scenario_files, &helpers, &clock)?)
        };

        let log_path = dir.join(&config.log_file);
        let log = std::fs::read(&log_path).map_err(|source| Error::Io {
            path: log_path.clone(),
            source,
        })?;
        let replay = replay(
            &String::from_utf8_lossy(&log),
            &log_path,
            &config,
            now,
            &parsers,
            postoverflows.as_ref(),
            engine,
        );

        let mut env = Environment::hubtest();
        helpers.register(&mut env);
        let parser = if config.ignore_parsers {
            None
        } else {
            let text = read_assert(&dir.join("parser.assert"))?;
            Some(assert::evaluate(
                &text,
                &env,
                &parser_results(&replay.parser_dump),
            ))
        };
        let scenario = if scenario_files.is_empty() {
            None
        } else {
            let text = read_assert(&dir.join("scenario.assert"))?;
            Some(assert::evaluate(
                &text,
                &env,
                &scenario_results(&replay.overflows),
            ))
        };
        Ok(TestReport {
            name: name.to_owned(),
            error: None,
            parser,
            scenario,
        })
    }

    /// Loads parser (or postoverflow) files as installed upstream: one directory per stage,
    /// files taken in stage then file-name order.
    fn load_parsers(
        &self,
        kind: &'static str,
        mut items: Vec<Item>,
        helpers: &Helpers,
        clock: &Arc<dyn Clock>,
    ) -> Result<Parsers> {
        items.sort_by(|a, b| (&a.stage, a.path.file_name()).cmp(&(&b.stage, b.path.file_name())));
        let files: Vec<StageFile> = items
            .into_iter()
            .map(|i| StageFile {
                filename: i.path.to_string_lossy().into_owned(),
                stage: i.stage,
            })
            .collect();
        let mut loader = LoaderBuilder::new(&self.data_dir)
            .patterns(self.patterns.clone())
            .helpers(helpers.clone())
            .clock(clock.clone())
            .build();
        loader
            .load_files(&files)
            .map_err(|source| Error::Parsers { kind, source })
    }

    fn load_scenarios(
        &self,
        files: &[PathBuf],
        helpers: &Helpers,
        clock: &Arc<dyn Clock>,
    ) -> Result<BucketEngine> {
        let compiler = Compiler::new(helpers.clone(), clock.clone());
        let options = LoadOptions {
            data_dir: self.data_dir.clone(),
            ..LoadOptions::default()
        };
        let mut scenarios = Vec::new();
        for file in files {
            let loaded =
                cs_buckets::load_file(file, &compiler, &options).map_err(|d| Error::Scenarios {
                    path: file.clone(),
                    message: d
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n"),
                })?;
            scenarios.extend(loaded);
        }
        Ok(BucketEngine::new(scenarios, clock.clone()))
    }
}

fn write_overrides(dir: &Path, statics: &[StaticConfig]) -> Result<Item> {
    let node = Overrides {
        name: "overrides",
        filter: "1==1",
        statics,
    };
    let path = dir.join("00_overrides.yaml");
    let text = cs_config::yaml::to_string(&node).map_err(|message| Error::Config {
        path: path.clone(),
        message,
    })?;
    std::fs::write(&path, text).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Item {
        path,
        stage: "s00-raw".to_owned(),
    })
}

/// A missing assert file reads as empty (upstream creates it empty, then asks to fill it).
fn read_assert(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replays the log one line at a time, strictly ordered, as a single parser routine would.
fn replay(
    log: &str,
    log_path: &Path,
    config: &TestConfig,
    now: cs_types::GoTime,
    parsers: &Parsers,
    postoverflows: Option<&Parsers>,
    mut engine: Option<BucketEngine>,
) -> Replay {
    let mut labels = config.labels.clone();
    labels.insert("type".into(), config.log_type.as_str().into());
    let src = log_path.to_string_lossy().into_owned();
    let mut parser_dump = ParserDump::new();
    let mut overflows = Vec::new();
    let mut pending = Vec::new();
    // The file datasource skips empty lines and strips the line terminator.
    for line in log.lines().filter(|l| !l.is_empty()) {
        let mut evt = Event::new_log(line, "file");
        evt.line.src.clone_from(&src);
        evt.line.labels.clone_from(&labels);
        evt.line.time = now;
        evt.expect_mode = ExpectMode::TimeMachine;
        if let Err(e) = parsers.parse_traced(&mut evt, &mut parser_dump) {
            tracing::warn!(error = %e, "event dropped by the parsers");
            continue;
        }
        if !evt.process || evt.whitelisted {
            continue;
        }
        let Some(engine) = engine.as_mut() else {
            continue;
        };
        pour(engine, &evt, &mut pending);
        // Overflows go through the postoverflows; `reprocess` ones are poured again.
        let mut queue: VecDeque<Event> = pending.drain(..).collect();
        while let Some(mut ovf) = queue.pop_front() {
            if ovf.overflow.alert.is_none() {
                continue;
            }
            if let Some(post) = postoverflows
                && let Err(e) = post.parse_traced(&mut ovf, &mut parser_dump)
            {
                tracing::warn!(error = %e, "overflow dropped by the postoverflows");
                continue;
            }
            let again = !ovf.overflow.whitelisted && ovf.overflow.reprocess;
            if again {
                pour(engine, &ovf, &mut pending);
                queue.extend(pending.drain(..));
            }
            overflows.push(ovf);
        }
    }
    Replay {
        parser_dump,
        overflows,
    }
}

fn pour(engine: &mut BucketEngine, evt: &Event, out: &mut Vec<Event>) {
    if let Err(e) = engine.pour(evt, out) {
        tracing::warn!(error = %e, "pouring stopped for this event");
    }
}

/// `results` of `parser.assert`: stage → node → `[{Idx, Evt, Success}]`, plus the `success`
/// stage holding an empty list under `""`. Missing stages and nodes read as empty, like Go's
/// zero values.
fn parser_results(dump: &ParserDump) -> Value<'_> {
    let mut stages = BTreeMap::new();
    for stage in dump.stages() {
        let mut nodes = BTreeMap::new();
        for (node, results) in dump.nodes(stage) {
            let list = results
                .iter()
                .map(|r| {
                    let mut item = BTreeMap::new();
                    item.insert(
                        "Idx".to_owned(),
                        Value::Int(i64::try_from(r.idx).unwrap_or(i64::MAX)),
                    );
                    item.insert("Evt".to_owned(), Value::object(&r.evt));
                    item.insert("Success".to_owned(), Value::Bool(r.success));
                    Value::map(item)
                })
                .collect();
            nodes.insert(node.to_owned(), Value::list(list));
        }
        stages.insert(
            stage.to_owned(),
            Value::map_with_zero(nodes, Value::empty_list()),
        );
    }
    let mut success = BTreeMap::new();
    success.insert(String::new(), Value::empty_list());
    stages.insert(
        "success".to_owned(),
        Value::map_with_zero(success, Value::empty_list()),
    );
    Value::map_with_zero(
        stages,
        Value::map_with_zero(BTreeMap::new(), Value::empty_list()),
    )
}

/// The sort key upstream orders overflows by (descending).
fn overflow_key(evt: &Event) -> String {
    let scenario = evt
        .overflow
        .alert
        .as_ref()
        .and_then(|a| a.scenario.as_deref())
        .unwrap_or_default();
    format!("{scenario}{}", evt.overflow.get_sources().join("@"))
}

/// When the alert started (ties of the sort key are ordered by it; unparsable or missing
/// times sort first, as Go's zero time).
fn start_at(evt: &Event) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = evt.overflow.alert.as_ref()?.start_at.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// `results` of `scenario.assert`: the overflow events sorted descending by scenario name and
/// sources, then ascending by alert start (a stable sort: full ties keep emission order).
fn scenario_results(overflows: &[Event]) -> Value<'_> {
    let mut sorted: Vec<(String, Option<_>, &Event)> = overflows
        .iter()
        .map(|e| (overflow_key(e), start_at(e), e))
        .collect();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Value::list(
        sorted
            .into_iter()
            .map(|(_, _, e)| Value::object(e))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overflow(scenario: &str, sources: &[&str]) -> Event {
        let mut evt = Event {
            r#type: cs_types::EventType::Overflow,
            ..Event::default()
        };
        evt.overflow.alert = Some(Box::new(cs_types::Alert {
            scenario: Some(scenario.to_owned()),
            ..cs_types::Alert::default()
        }));
        for s in sources {
            evt.overflow
                .sources
                .insert((*s).to_owned(), cs_types::Source::default());
        }
        evt
    }

    #[test]
    fn overflows_sort_descending_by_scenario_and_sources() {
        let events = [
            overflow("a/x", &["1.1.1.1"]),
            overflow("b/y", &["1.1.1.1"]),
            overflow("a/x", &["2.2.2.2", "1.1.1.1"]),
        ];
        let results = scenario_results(&events);
        let env = Environment::hubtest();
        let check = |expr: &str| {
            let p = cs_expr::compile(expr, &env).unwrap();
            assert!(
                p.eval_bool(std::slice::from_ref(&results)).unwrap(),
                "{expr}"
            );
        };
        check(r#"results[0].Overflow.Alert.GetScenario() == "b/y""#);
        check(r#"len(results[1].Overflow.GetSources()) == 2"#);
        check(r#""1.1.1.1" in results[2].Overflow.GetSources() && len(results) == 3"#);
    }

    #[test]
    fn parser_results_have_go_zero_values() {
        let mut dump = ParserDump::new();
        let evt = Event::new_log("x", "file");
        cs_parser::Trace::node(&mut dump, "s00-raw", "a", &evt, true);
        let results = parser_results(&dump);
        let env = Environment::hubtest();
        for expr in [
            "len(results) == 2",
            r#"results["s00-raw"]["a"][0].Success && results["s00-raw"]["a"][0].Idx == 1"#,
            r#"len(results["success"][""]) == 0"#,
            r#"len(results["s00-raw"]["nope"]) == 0"#,
            r#"len(results["s09-nope"]["x"]) == 0"#,
        ] {
            let p = cs_expr::compile(expr, &env).unwrap();
            assert!(
                p.eval_bool(std::slice::from_ref(&results)).unwrap(),
                "{expr}"
            );
        }
    }
}
