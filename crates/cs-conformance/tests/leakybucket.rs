//! Every upstream bucket case (`upstream-testdata/leakybucket/*/`: `scenarios.yaml` +
//! `test.json`) must pass, judged as upstream's `TestBucket` judges it.
//!
//! Upstream's harness pours the lines 50 ms apart (wall clock), waits one second, then drains
//! the overflow channel until it stays empty for two one-second polls, re-pouring overflows of
//! `reprocess` scenarios. Here the same schedule drives a `ManualClock`, so wall-clock timers
//! (counter durations, underflows) fire exactly as they would there, without sleeping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use cs_buckets::{BucketEngine, Compiler, EngineOptions, LoadOptions};
use cs_conformance::corpus_dir;
use cs_expr::ManualClock;
use cs_expr_helpers::Helpers;
use cs_models::Source;
use cs_types::{Event, ExpectMode};
use serde_json::Value;

/// What a test expects of one overflow: `None` for an alert-less one.
#[derive(Debug)]
struct Expected {
    alert: Option<(String, i32, BTreeMap<String, Source>)>,
}

/// Go's JSON decoder matches keys case-insensitively; the fixtures rely on it (`sources`).
fn get<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn expected(result: &Value) -> Result<Expected, String> {
    let Some(overflow) = get(result, "Alert") else {
        return Ok(Expected { alert: None });
    };
    let Some(alert) = get(overflow, "Alert").filter(|a| !a.is_null()) else {
        return Ok(Expected { alert: None });
    };
    let scenario = get(alert, "scenario")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let count = get(alert, "events_count")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let sources = match get(overflow, "Sources") {
        Some(s) => {
            serde_json::from_value(s.clone()).map_err(|e| format!("expected sources: {e}"))?
        }
        None => BTreeMap::new(),
    };
    let count = i32::try_from(count).map_err(|e| format!("events_count: {e}"))?;
    Ok(Expected {
        alert: Some((scenario, count, sources)),
    })
}

/// Whether an overflow event matches an expectation (scenario, events count, sources).
fn matches(got: &Event, want: &Expected) -> bool {
    match (&got.overflow.alert, &want.alert) {
        (None, None) => true,
        (Some(alert), Some((scenario, count, sources))) => {
            alert.scenario.as_deref() == Some(scenario.as_str())
                && alert.events_count == Some(*count)
                && got.overflow.sources == *sources
        }
        _ => false,
    }
}

/// The scenario files listed by `scenarios.yaml` (`- filename: {{.TestDirectory}}/x.yaml`).
fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let path = dir.join("scenarios.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.replace("{{.TestDirectory}}", &dir.display().to_string());
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Stage {
        filename: String,
    }
    let stages: Vec<Stage> =
        cs_config::yaml::from_str(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    Ok(stages
        .into_iter()
        .map(|s| PathBuf::from(s.filename))
        .collect())
}

fn run_case(root: &Path, dir: &Path) -> Result<(), String> {
    let clock = Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap_or_default()
            .fixed_offset(),
    ));
    let compiler = Compiler::new(Helpers::new(), clock.clone());
    // Upstream's test hub installs data files in the fixture root.
    let options = LoadOptions {
        data_dir: root.to_owned(),
        ..LoadOptions::default()
    };
    let mut scenarios = Vec::new();
    for file in scenario_files(dir)? {
        let loaded = cs_buckets::load_file(&file, &compiler, &options).map_err(|errs| {
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        scenarios.extend(loaded);
    }
    // Upstream's collector is disabled too; it would drop replaced buckets the harness counts.
    let mut engine = BucketEngine::new(scenarios, clock.clone()).with_options(EngineOptions {
        garbage_collect: false,
    });

    let path = dir.join("test.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let test: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines = get(&test, "lines")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted = get(&test, "results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut wanted: Vec<Expected> = wanted.iter().map(expected).collect::<Result<_, _>>()?;

    let mut out = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let mut evt: Event =
            serde_json::from_value(line).map_err(|e| format!("lines[{i}]: {e}"))?;
        evt.expect_mode = ExpectMode::TimeMachine;
        clock.advance(TimeDelta::milliseconds(50));
        engine.tick(&mut out);
        engine
            .pour(&evt, &mut out)
            .map_err(|e| format!("lines[{i}]: {e}"))?;
    }
    clock.advance(TimeDelta::seconds(1));
    engine.tick(&mut out);

    let mut results: Vec<Event> = Vec::new();
    let mut idle_polls = 0;
    while idle_polls < 2 {
        if out.is_empty() {
            clock.advance(TimeDelta::seconds(1));
            engine.tick(&mut out);
            idle_polls += 1;
            continue;
        }
        idle_polls = 0;
        for evt in std::mem::take(&mut out) {
            if evt.overflow.reprocess {
                engine
                    .pour(&evt, &mut out)
                    .map_err(|e| format!("reprocess: {e}"))?;
            }
            results.push(evt);
        }
    }

    if results.len() != wanted.len() {
        return Err(format!(
            "{} overflows, expected {}: {results:#?}",
            results.len(),
            wanted.len()
        ));
    }
    for got in &results {
        let Some(i) = wanted.iter().position(|w| matches(got, w)) else {
            return Err(format!(
                "unexpected overflow {:#?}\nstill expected: {wanted:#?}",
                got.overflow
            ));
        };
        wanted.swap_remove(i);
    }
    Ok(())
}

#[test]
fn upstream_leakybucket_cases() -> Result<(), String> {
    let root = corpus_dir()?.join("leakybucket");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(format!("no bucket case under {}", root.display()));
    }
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match run_case(&root, dir) {
            Ok(()) => eprintln!("ok   {name}"),
            Err(e) => {
                eprintln!("FAIL {name}: {e}");
                failures.push(name);
            }
        }
    }
    eprintln!("{} cases, {} failed", cases.len(), failures.len());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("failing bucket cases: {}", failures.join(", ")))
    }
}
