//! Per-node counters (`cs_node_hits_total`, `_ok_total`, `_ko_total`): which node an event
//! enters, leaves ok or ko, with upstream's `source`, `type` and `name` labels.

use std::path::Path;

use cs_metrics::Metrics;
use cs_parser::config::StageFile;
use cs_parser::{CounterCache, LoaderBuilder};
use cs_types::Event;

const RAW: &str = r#"
name: t/raw
filter: "evt.Line.Labels.type == 'test'"
onsuccess: next_stage
grok:
  pattern: '^%{WORD:program}: %{GREEDYDATA:message}'
  apply_on: Line.Raw
"#;

const PARSE: &str = r#"
name: t/parse
filter: "evt.Parsed.program == 'app'"
onsuccess: next_stage
nodes:
  - grok:
      pattern: '^login failed for %{WORD:user}'
      apply_on: message
  - grok:
      pattern: '^logout %{WORD:user}'
      apply_on: message
"#;

/// Parses `lines` read from `src` with a fresh set of counters and returns it; `cached`:
/// through one [`CounterCache`] flushed after every other line and dropped at the end, as a
/// parsing thread does with its batches.
fn run_with(lines: &[(&str, &str)], cached: bool) -> Result<&'static Metrics, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for (stage, name, text) in [("s00-raw", "raw", RAW), ("s01-parse", "parse", PARSE)] {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        files.push(StageFile {
            filename: path.to_string_lossy().into_owned(),
            stage: stage.to_owned(),
        });
    }
    let metrics: &'static Metrics = Box::leak(Box::default());
    let parsers = LoaderBuilder::new(Path::new("/nonexistent"))
        .patterns(cs_grok::Patterns::builtin())
        .node_metrics(Some(metrics))
        .build()
        .load_files(&files)
        .map_err(|e| e.to_string())?;
    let mut cache = CounterCache::default();
    for (i, (src, raw)) in lines.iter().enumerate() {
        if i % 2 == 1 {
            cache.flush();
        }
        let mut evt = Event::new_log(*raw, "file");
        evt.line.src = (*src).to_owned();
        evt.line.labels.insert("type".into(), "test".into());
        match cached {
            true => parsers.parse_cached(&mut evt, &mut cache),
            false => parsers.parse(&mut evt),
        }
        .map_err(|e| e.to_string())?;
    }
    Ok(metrics)
}

fn run(lines: &[(&str, &str)]) -> Result<&'static Metrics, String> {
    run_with(lines, false)
}

/// `hits/ok/ko` of node `name` for events of `src` read by the file datasource.
fn counts(m: &Metrics, src: &str, name: &str) -> String {
    let labels = [src, "file", name];
    format!(
        "{}/{}/{}",
        m.node_hits.with(labels).get(),
        m.node_hits_ok.with(labels).get(),
        m.node_hits_ko.with(labels).get()
    )
}

#[test]
fn node_counters_follow_filters_and_outcomes() -> Result<(), String> {
    let m = run(&[
        ("/var/log/a.log", "app: login failed for bob"),
        ("/var/log/a.log", "app: logout bob"),
        ("/var/log/a.log", "app: something else"),
        ("/var/log/a.log", "other: login failed for eve"),
        ("/var/log/a.log", "no colon here"),
        ("/var/log/b.log", "app: logout alice"),
    ])?;
    // One series per (source, node name) entered at least once: nothing for nodes never
    // entered.
    assert_eq!(m.node_hits.len(), 6);
    let a = "/var/log/a.log";
    // Every line passes t/raw's filter; 4 of 5 match its grok.
    assert_eq!(counts(m, a, "t/raw"), "5/4/1");
    // Only `app:` lines enter t/parse; without a grok of its own it succeeds when a child
    // does (first line: first child, second line: second child).
    assert_eq!(counts(m, a, "t/parse"), "3/2/1");
    // Both children share the name `child-t/parse`: each event entering the parent
    // enters one or both of them (the first success stops at next_stage).
    assert_eq!(counts(m, a, "child-t/parse"), "5/2/3");
    // Another source has its own series.
    assert_eq!(counts(m, "/var/log/b.log", "t/parse"), "1/1/0");
    assert_eq!(counts(m, "/var/log/b.log", "t/raw"), "1/1/0");
    Ok(())
}

#[test]
fn a_thread_cache_counts_each_event_under_its_own_source() -> Result<(), String> {
    let lines = [
        ("/var/log/a.log", "app: login failed for bob"),
        ("/var/log/b.log", "app: logout alice"),
        ("/var/log/b.log", "app: something else"),
        ("/var/log/a.log", "app: logout bob"),
        ("/var/log/a.log", "no colon here"),
        ("/var/log/b.log", "other: x"),
    ];
    let (plain, cached) = (run_with(&lines, false)?, run_with(&lines, true)?);
    for src in ["/var/log/a.log", "/var/log/b.log"] {
        for name in ["t/raw", "t/parse", "child-t/parse"] {
            assert_eq!(
                counts(cached, src, name),
                counts(plain, src, name),
                "{src} {name}"
            );
        }
    }
    assert_eq!(counts(cached, "/var/log/b.log", "t/raw"), "3/3/0");
    assert_eq!(counts(cached, "/var/log/a.log", "t/raw"), "3/2/1");
    Ok(())
}

#[test]
fn no_counters_when_disabled() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("raw.yaml");
    std::fs::write(&path, RAW).map_err(|e| e.to_string())?;
    let files = [StageFile {
        filename: path.to_string_lossy().into_owned(),
        stage: "s00-raw".to_owned(),
    }];
    let parsers = LoaderBuilder::new(Path::new("/nonexistent"))
        .patterns(cs_grok::Patterns::builtin())
        .node_metrics(None)
        .build()
        .load_files(&files)
        .map_err(|e| e.to_string())?;
    let mut evt = Event::new_log("app: x", "file");
    evt.line.src = "/var/log/disabled-metrics.log".to_owned();
    evt.line.labels.insert("type".into(), "test".into());
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert!(evt.process);
    let g = cs_metrics::global();
    let labels = ["/var/log/disabled-metrics.log", "file", "t/raw"];
    assert_eq!(g.node_hits.with(labels).get(), 0);
    Ok(())
}
