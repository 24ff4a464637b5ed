//! A synthetic hub exercising what the visible hub suite does not: postoverflows (their stages
//! in the parser results, whitelisted overflows kept in the scenario results), `reprocess`,
//! `override_statics` and items found through the hub index.

use std::path::Path;

use cs_hubtest::{Hub, HubOptions};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const PARSER: &str = r"name: me/words
description: ip and date
filter: '1 == 1'
onsuccess: next_stage
grok:
  pattern: '^%{IP:ip} %{TIMESTAMP_ISO8601:ts}'
  apply_on: Line.Raw
statics:
  - meta: log_type
    value: probe
  - meta: source_ip
    expression: evt.Parsed.ip
  - target: evt.StrTime
    expression: evt.Parsed.ts
";

const DATES: &str = r"name: me/dates
description: dates
filter: evt.StrTime != ''
statics:
  - method: ParseDate
    expression: evt.StrTime
  - target: MarshaledTime
    expression: evt.Enriched.MarshaledTime
";

const SCENARIOS: &str = r"type: trigger
name: me/probe
description: one probe is enough
filter: evt.Meta.log_type == 'probe'
groupby: evt.Meta.source_ip
reprocess: true
labels:
  remediation: true
---
type: trigger
name: me/repeat
description: sees reprocessed overflows
filter: evt.Overflow.Alert != nil && evt.Overflow.Alert.GetScenario() == 'me/probe'
labels:
  remediation: false
";

const WHITELIST: &str = r"name: me/wl
description: whitelist one address
whitelist:
  reason: friendly
  expression:
    - evt.Overflow.Alert.Source.IP == '1.2.3.4'
";

fn hub() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        ".index.json",
        r#"{"parsers":{"me/words":{"path":"parsers/s00-raw/me/words.yaml"}}}"#,
    );
    write(root, "parsers/s00-raw/me/words.yaml", PARSER);
    write(root, "parsers/s02-enrich/me/dates.yaml", DATES);
    write(root, "scenarios/me/probe.yaml", SCENARIOS);
    write(
        root,
        ".tests/post/postoverflows/s01-whitelist/me/wl.yaml",
        WHITELIST,
    );
    write(
        root,
        ".tests/post/config.yaml",
        "parsers:\n- me/words\n- ./parsers/s02-enrich/me/dates.yaml\nscenarios:\n- ./scenarios/me/probe.yaml\npostoverflows:\n- ./postoverflows/s01-whitelist/me/wl.yaml\nlog_file: post.log\nlog_type: test\nlabels: {extra: yes}\noverride_statics:\n - meta: forced\n   value: 'on'\n",
    );
    write(
        root,
        ".tests/post/post.log",
        "1.2.3.4 2026-01-02T03:04:05Z\n\n5.6.7.8 2026-01-02T03:04:06Z\n",
    );
    dir
}

#[test]
fn postoverflows_and_reprocess_reach_the_results() {
    let hub_dir = hub();
    let assert_text = [
        // s00-raw (overrides, words), s02-enrich, s01-whitelist + success
        "len(results) == 4",
        r#"results["s00-raw"]["overrides"][0].Evt.Meta["forced"] == "on""#,
        r#"results["s00-raw"]["me/words"][1].Evt.Line.Labels["extra"] == "yes""#,
        r#"results["s00-raw"]["me/words"][1].Evt.Line.Labels["type"] == "test""#,
        r#"basename(results["s00-raw"]["me/words"][0].Evt.Line.Src) == "post.log""#,
        r#"results["s02-enrich"]["me/dates"][0].Evt.MarshaledTime == "2026-01-02T03:04:05Z""#,
        r#"len(results["s01-whitelist"]["me/wl"]) == 3"#,
        r#"results["s01-whitelist"]["me/wl"][0].Evt.Whitelisted == true"#,
        r#"results["s01-whitelist"]["me/wl"][1].Evt.Whitelisted == false"#,
    ]
    .join("\n");
    // The whitelisted overflow is kept; the other one is reprocessed into `me/repeat`.
    let scenario_text = [
        "len(results) == 3",
        r#"results[0].Overflow.Alert.GetScenario() == "me/repeat""#,
        r#"results[1].Overflow.Alert.GetScenario() == "me/probe""#,
        r#""5.6.7.8" in results[1].Overflow.GetSources() && results[1].Overflow.Whitelisted == false"#,
        r#"results[2].Overflow.Whitelisted == true"#,
    ]
    .join("\n");
    write(hub_dir.path(), ".tests/post/parser.assert", &assert_text);
    write(
        hub_dir.path(),
        ".tests/post/scenario.assert",
        &scenario_text,
    );
    let hub = Hub::open(
        hub_dir.path(),
        HubOptions {
            now: Some(HubOptions::parse_now("2026-08-22T12:00:00Z").expect("now")),
            ..HubOptions::default()
        },
    )
    .expect("hub");
    let report = hub.run_test("post");
    assert!(report.success(), "{report:#?}");
    let parser = report.parser.expect("parser asserts evaluated");
    assert_eq!(parser.evaluated, 9);
    assert!(parser.uncounted.is_empty(), "{parser:#?}");
    let scenario = report.scenario.expect("scenario asserts evaluated");
    assert!(scenario.uncounted.is_empty(), "{scenario:#?}");
}

#[test]
fn missing_items_and_tests_are_errors() {
    let hub_dir = hub();
    write(
        hub_dir.path(),
        ".tests/broken/config.yaml",
        "parsers:\n- me/nope\nlog_file: x.log\nlog_type: test\n",
    );
    let hub = Hub::open(hub_dir.path(), HubOptions::default()).expect("hub");
    let reports = hub.run_tests(&["broken".to_owned(), "absent".to_owned()], 2);
    assert_eq!(reports[0].name, "broken");
    assert!(
        reports[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("`me/nope` not found")),
        "{:?}",
        reports[0]
    );
    assert_eq!(reports[1].error.as_deref(), Some("test `absent` not found"));
    assert!(reports.iter().all(|r| !r.success()));
}
