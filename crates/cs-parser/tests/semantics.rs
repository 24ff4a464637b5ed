//! Node and stage evaluation rules (parsers.md §3-§5, §7), each checked on small parser
//! files: which node succeeds, which statics run, where the event ends.

use std::path::Path;
use std::sync::Arc;

use cs_parser::config::StageFile;
use cs_parser::{LoaderBuilder, Parsers, Trace};
use cs_types::Event;

/// Loads `(stage, yaml)` files written into a temporary directory.
fn load(files: &[(&str, &str)]) -> Result<Parsers, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut list = Vec::new();
    for (i, (stage, text)) in files.iter().enumerate() {
        let path = dir.path().join(format!("{i:02}.yaml"));
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        list.push(StageFile {
            filename: path.to_string_lossy().into_owned(),
            stage: (*stage).to_owned(),
        });
    }
    let clock = cs_expr::FixedClock(
        chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").map_err(|e| e.to_string())?,
    );
    LoaderBuilder::new(Path::new("/nonexistent"))
        .patterns(cs_grok::Patterns::builtin())
        .clock(Arc::new(clock))
        .build()
        .load_files(&list)
        .map_err(|e| e.to_string())
}

fn line(raw: &str) -> Event {
    let mut evt = Event::new_log(raw, "file");
    evt.line.labels.insert("type".into(), "test".into());
    evt
}

/// Parses `raw` and renders what matters: process, stage, whitelisted, meta, parsed.
fn check(files: &[(&str, &str)], raw: &str, expected: &str) {
    let got = match load(files) {
        Ok(p) => {
            let mut evt = line(raw);
            match p.parse(&mut evt) {
                Ok(()) => format!(
                    "process={} stage={} wl={} meta={:?} parsed={:?}",
                    evt.process, evt.stage, evt.whitelisted, evt.meta, evt.parsed
                ),
                Err(e) => format!("error: {e}"),
            }
        }
        Err(e) => format!("load error: {e}"),
    };
    assert_eq!(got, expected, "line {raw:?}");
}

const TWO_CHILDREN: &str = r#"
name: t/children
filter: "evt.Line.Labels.type == 'test'"
nodes:
  - filter: "evt.Line.Raw startsWith 'a'"
    statics:
      - meta: first
        value: "yes"
  - filter: "evt.Line.Raw endsWith 'z'"
    statics:
      - meta: second
        value: "yes"
statics:
  - meta: parent
    value: "ok"
"#;

#[test]
fn node_without_grok_takes_last_child_state() {
    // A success followed by a failing sibling leaves the parent failed (§3.5).
    check(
        &[("s00-raw", TWO_CHILDREN)],
        "abc",
        r#"process=false stage=s00-raw wl=false meta={"first": "yes"} parsed={}"#,
    );
    check(
        &[("s00-raw", TWO_CHILDREN)],
        "xyz",
        r#"process=true stage=s00-raw wl=false meta={"parent": "ok", "second": "yes"} parsed={}"#,
    );
}

#[test]
fn next_stage_parent_stops_at_first_successful_child() {
    let yaml = TWO_CHILDREN.replace(
        "name: t/children",
        "name: t/children\nonsuccess: next_stage",
    );
    check(
        &[("s00-raw", &yaml)],
        "abz",
        r#"process=true stage=s00-raw wl=false meta={"first": "yes", "parent": "ok"} parsed={}"#,
    );
}

#[test]
fn failed_grok_still_runs_children() {
    let yaml = r#"
name: t/grok
grok:
  pattern: "^hello %{WORD:who}$"
  apply_on: Line.Raw
  statics:
    - meta: grok_static
      value: "ran"
nodes:
  - statics:
      - meta: child
        value: "ran"
"#;
    // The grok fails but the child succeeds, so the node does (state from children).
    check(
        &[("s00-raw", yaml)],
        "bye",
        r#"process=true stage=s00-raw wl=false meta={"child": "ran"} parsed={}"#,
    );
    check(
        &[("s00-raw", yaml)],
        "hello bob",
        r#"process=true stage=s00-raw wl=false meta={"child": "ran", "grok_static": "ran"} parsed={"who": "bob"}"#,
    );
}

#[test]
fn successful_grok_keeps_node_successful_despite_failing_child() {
    let yaml = r#"
name: t/grok
grok:
  pattern: "^hello %{WORD:who}$"
  apply_on: Line.Raw
nodes:
  - filter: "false"
    statics:
      - meta: child
        value: "ran"
statics:
  - meta: done
    expression: evt.Parsed.who
"#;
    check(
        &[("s00-raw", yaml)],
        "hello bob",
        r#"process=true stage=s00-raw wl=false meta={"done": "bob"} parsed={"who": "bob"}"#,
    );
}

#[test]
fn apply_on_missing_parsed_key_fails_the_grok() {
    let yaml = r#"
name: t/grok
grok:
  pattern: "%{WORD:w}"
  apply_on: message
statics:
  - meta: m
    value: x
"#;
    check(
        &[("s00-raw", yaml)],
        "hello",
        r#"process=false stage=s00-raw wl=false meta={} parsed={}"#,
    );
}

#[test]
fn grok_on_a_parsed_key_keeps_it_unless_it_captures_it() {
    // `Parsed.request` is the line; two groks on it: one capturing a field of the same name
    // (rewritten when it matches), one capturing another field.
    let s00 = r#"
name: t/copy
onsuccess: next_stage
statics:
  - parsed: request
    expression: evt.Line.Raw
"#;
    let s01 = r#"
name: t/request
nodes:
  - grok:
      pattern: "^%{DATA:request}\\?%{GREEDYDATA:args}$"
      apply_on: request
  - grok:
      pattern: "^/%{WORD:dir}/"
      apply_on: request
"#;
    let files = [("s00-raw", s00), ("s01-parse", s01)];
    check(
        &files,
        "/static/app.js?v=2",
        r#"process=true stage=s01-parse wl=false meta={} parsed={"args": "v=2", "dir": "static", "request": "/static/app.js"}"#,
    );
    check(
        &files,
        "/static/app.js",
        r#"process=true stage=s01-parse wl=false meta={} parsed={"dir": "static", "request": "/static/app.js"}"#,
    );
    check(
        &files,
        "app.js",
        r#"process=false stage=s01-parse wl=false meta={} parsed={"request": "app.js"}"#,
    );
}

#[test]
fn every_stage_needs_a_success_and_next_stage_moves_on() {
    let s00 = "name: a\nonsuccess: next_stage\nstatics:\n  - meta: s00\n    value: x\n";
    let s01_ok = "name: b\nonsuccess: next_stage\nstatics:\n  - meta: s01\n    value: x\n";
    let s01_continue = "name: b\nstatics:\n  - meta: s01\n    value: x\n";
    let s02_fail =
        "name: c\nfilter: \"evt.StrTime != ''\"\nstatics:\n  - meta: s02\n    value: x\n";
    check(
        &[
            ("s00-raw", s00),
            ("s01-parse", s01_ok),
            ("s02-enrich", s02_fail),
        ],
        "l",
        r#"process=false stage=s02-enrich wl=false meta={"s00": "x", "s01": "x"} parsed={}"#,
    );
    // `continue` in a stage that is not the last one leaves the event behind.
    check(
        &[
            ("s00-raw", s00),
            ("s01-parse", s01_continue),
            ("s02-enrich", s02_fail),
        ],
        "l",
        r#"process=false stage=s01-parse wl=false meta={"s00": "x", "s01": "x"} parsed={}"#,
    );
    check(
        &[("s00-raw", s00), ("s01-parse", s01_ok)],
        "l",
        r#"process=true stage=s01-parse wl=false meta={"s00": "x", "s01": "x"} parsed={}"#,
    );
}

#[test]
fn whitelist_statics_run_only_when_whitelisted() {
    let yaml = r#"
name: t/wl
whitelist:
  reason: test
  ip: ["10.0.0.1"]
  expression:
    - evt.Line.Raw == 'trusted'
statics:
  - meta: action
    value: whitelisted
"#;
    let set_ip = "name: t/ip\nonsuccess: next_stage\nstatics:\n  - meta: source_ip\n    expression: evt.Line.Raw\n";
    check(
        &[("s00-raw", set_ip), ("s01-parse", yaml)],
        "10.0.0.1",
        r#"process=true stage=s01-parse wl=true meta={"action": "whitelisted", "source_ip": "10.0.0.1"} parsed={}"#,
    );
    check(
        &[("s00-raw", set_ip), ("s01-parse", yaml)],
        "trusted",
        r#"process=true stage=s01-parse wl=true meta={"action": "whitelisted", "source_ip": "trusted"} parsed={}"#,
    );
    // Not whitelisted: the node still succeeds, its statics do not run.
    check(
        &[("s00-raw", set_ip), ("s01-parse", yaml)],
        "10.0.0.2",
        r#"process=true stage=s01-parse wl=false meta={"source_ip": "10.0.0.2"} parsed={}"#,
    );
}

#[test]
fn static_values_follow_go_formatting() {
    let yaml = r#"
name: t/statics
statics:
  - meta: int
    expression: 1 + 2
  - meta: float
    expression: 200 / 1
  - meta: empty_is_skipped
    expression: "''"
  - meta: nil_is_skipped
    expression: evt.Unmarshaled.nope
  - parsed: p
    value: v
  - target: evt.Parsed.deep.ignored
    value: t
  - meta: from_target
    expression: evt.Parsed.deep
"#;
    check(
        &[("s00-raw", yaml)],
        "l",
        r#"process=true stage=s00-raw wl=false meta={"float": "200.000000", "from_target": "t", "int": "3"} parsed={"deep": "t", "p": "v"}"#,
    );
}

#[test]
fn bool_static_aborts_the_event() {
    let yaml = "name: t/b\nstatics:\n  - meta: b\n    expression: 1 == 1\n";
    check(
        &[("s00-raw", yaml)],
        "l",
        "error: node `t/b`: static `.Meta[b]` got a value of unsupported type bool",
    );
}

#[test]
fn expressions_mutating_the_event_are_seen_by_later_nodes() {
    let yaml = r#"
name: t/set
filter: evt.SetMeta('from_filter', 'yes')
nodes:
  - filter: evt.Meta.from_filter == 'yes'
    statics:
      - meta: child
        value: saw-it
"#;
    check(
        &[("s00-raw", yaml)],
        "l",
        r#"process=true stage=s00-raw wl=false meta={"child": "saw-it", "from_filter": "yes"} parsed={}"#,
    );
}

#[test]
fn event_time_and_dates() -> Result<(), String> {
    let yaml = r#"
name: t/date
statics:
  - target: evt.StrTime
    expression: evt.Line.Raw
  - method: ParseDate
    expression: evt.StrTime
  - meta: timestamp
    expression: evt.Enriched.MarshaledTime
"#;
    let parsers = load(&[("s00-raw", yaml)])?;
    let mut evt = line("Feb  3 04:05:06");
    evt.expect_mode = cs_types::ExpectMode::TimeMachine;
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert_eq!(evt.get_meta("timestamp"), "2026-02-03T04:05:06Z");
    assert_eq!(evt.time.to_rfc3339(), "2026-02-03T04:05:06+00:00");
    // Live mode keeps the acquisition time, or the clock's when there is none.
    let mut evt = line("Feb  3 04:05:06");
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert_eq!(evt.time.to_rfc3339(), "2026-11-22T10:00:00+00:00");
    Ok(())
}

#[derive(Default)]
struct Recorder(Vec<String>);

impl Trace for Recorder {
    fn node(&mut self, stage: &str, node: &str, evt: &Event, success: bool) {
        self.0
            .push(format!("{stage}/{node}={success} meta={}", evt.meta.len()));
    }

    fn stage(&mut self, stage: &str, success: bool) {
        self.0.push(format!("{stage} done={success}"));
    }

    fn node_hit(&mut self, stage: &str, node: &str, _evt: &Event, ok: bool) {
        self.0.push(format!("hit {stage}/{node}={ok}"));
    }
}

#[test]
fn trace_reports_top_level_nodes_and_stages() -> Result<(), String> {
    let a = "name: a\nfilter: 'false'\nstatics:\n  - meta: a\n    value: x\n";
    let b = "name: b\nonsuccess: next_stage\nstatics:\n  - meta: b\n    value: x\n";
    let c = "name: c\nstatics:\n  - meta: c\n    value: x\n";
    let parsers = load(&[
        ("s00-raw", a),
        ("s00-raw", b),
        ("s00-raw", c),
        ("s01-parse", c),
    ])?;
    let mut rec = Recorder::default();
    let mut evt = line("l");
    parsers
        .parse_traced(&mut evt, &mut rec)
        .map_err(|e| e.to_string())?;
    assert_eq!(
        rec.0,
        [
            "s00-raw/a=false meta=0",
            "hit s00-raw/b=true",
            "s00-raw/b=true meta=1",
            "s00-raw done=true",
            "hit s01-parse/c=true",
            "s01-parse/c=true meta=2",
            "s01-parse done=true",
        ]
    );
    Ok(())
}

#[test]
fn node_hits_cover_children_whose_filter_passed() -> Result<(), String> {
    let parsers = load(&[("s00-raw", TWO_CHILDREN)])?;
    let mut rec = Recorder::default();
    let mut evt = line("abc");
    parsers
        .parse_traced(&mut evt, &mut rec)
        .map_err(|e| e.to_string())?;
    assert_eq!(
        rec.0,
        [
            "hit s00-raw/child-t/children=true",
            "hit s00-raw/t/children=false",
            "s00-raw/t/children=false meta=1",
            "s00-raw done=false",
        ]
    );
    Ok(())
}

#[test]
fn config_dir_layout_uses_directory_stages_and_skips_other_files() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |rel: &str, text: &str| -> Result<(), String> {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, text).map_err(|e| e.to_string())
    };
    // The `stage:` key is ignored: the directory decides.
    write(
        "s01-parse/b.yaml",
        "name: b\nstage: s00-raw\nstatics:\n  - meta: b\n    value: x\n",
    )?;
    write(
        "s00-raw/a.yml",
        "name: a\nonsuccess: next_stage\nstatics:\n  - meta: a\n    value: x\n",
    )?;
    write("s00-raw/README.md", "not a parser")?;
    let parsers = LoaderBuilder::new(dir.path())
        .patterns(cs_grok::Patterns::base())
        .build()
        .load_dir(dir.path())
        .map_err(|e| e.to_string())?;
    let nodes: Vec<(&str, &str)> = parsers.nodes().map(|(s, n)| (s, n.name())).collect();
    assert_eq!(nodes, [("s00-raw", "a"), ("s01-parse", "b")]);
    let mut evt = line("l");
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert!(evt.process);
    Ok(())
}

#[test]
fn postoverflow_whitelist_marks_the_overflow() -> Result<(), String> {
    let enrich = "name: po/enrich\nonsuccess: next_stage\nfilter: \"evt.Overflow.Alert != nil\"\nstatics:\n  - meta: enriched\n    value: x\n";
    let whitelist = r#"
name: po/whitelist
whitelist:
  reason: trusted range
  cidr: ["192.168.0.0/16"]
"#;
    let overflow = |ip: &str| {
        let mut evt = Event {
            r#type: cs_types::EventType::Overflow,
            ..Event::default()
        };
        evt.overflow.alert = Some(Box::default());
        evt.overflow
            .sources
            .insert(ip.to_owned(), cs_types::Source::default());
        evt
    };
    let parsers = load(&[("s00-enrich", enrich), ("s01-whitelist", whitelist)])?;
    let mut evt = overflow("192.168.1.10");
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert!(evt.whitelisted && evt.overflow.whitelisted);
    assert_eq!(evt.whitelist_reason, "trusted range");
    let mut evt = overflow("8.8.8.8");
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert!(!evt.whitelisted && !evt.overflow.whitelisted);
    assert_eq!((evt.stage.as_str(), evt.process), ("s01-whitelist", true));

    // With `continue` in s00-enrich the event stays there: the whitelist is never reached.
    let enrich = enrich.replace("onsuccess: next_stage\n", "");
    let parsers = load(&[("s00-enrich", &enrich), ("s01-whitelist", whitelist)])?;
    let mut evt = overflow("192.168.1.10");
    parsers.parse(&mut evt).map_err(|e| e.to_string())?;
    assert!(!evt.overflow.whitelisted);
    assert_eq!((evt.stage.as_str(), evt.process), ("s00-enrich", false));
    Ok(())
}
