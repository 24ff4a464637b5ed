//! The starter content as a hub (`content/` of the repository): every hub test under
//! `content/.tests` passes with the grok pattern library of this project, every parser and
//! scenario has a test, the committed `.index.json` matches the tree, and the crate embeds
//! every item.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cs_hubtest::{Hub, HubOptions, TestConfig};

/// Year-less syslog dates of the test logs take the year of "now".
const NOW: &str = "2026-11-22T12:00:00Z";

fn content_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content")
}

fn open_hub() -> Hub {
    let options = HubOptions {
        now: Some(HubOptions::parse_now(NOW).expect("valid time")),
        ..HubOptions::default()
    };
    Hub::open(&content_dir(), options).expect("content/ opens as a hub")
}

/// `<kind>/[<stage>/]<author>/<name>.yaml` files of the content tree, as `(kind, name, path)`.
fn items() -> Vec<(&'static str, String, String)> {
    let root = content_dir();
    let mut out = Vec::new();
    for kind in ["parsers", "postoverflows", "scenarios"] {
        let mut stack = vec![root.join(kind)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(&root)
                    .expect("under the root")
                    .to_string_lossy()
                    .into_owned();
                let parts: Vec<&str> = rel.split('/').collect();
                let stem = parts[parts.len() - 1].trim_end_matches(".yaml");
                let name = format!("{}/{stem}", parts[parts.len() - 2]);
                out.push((kind, name, rel));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_content_hub_test_passes() {
    let hub = open_hub();
    let names = hub.test_names().expect("content/.tests lists");
    assert!(names.len() >= 14, "only {} tests found", names.len());
    let reports = hub.run_tests(&names, 2);
    let mut failures: Vec<String> = reports
        .iter()
        .filter(|r| !r.success())
        .map(|r| format!("{}: {}", r.name, r.first_problem().unwrap_or_default()))
        .collect();
    // Upstream lets some false lines pass (those whose left operand it cannot show); the
    // starter content holds itself to every line.
    for r in &reports {
        for (file, report) in [
            ("parser.assert", &r.parser),
            ("scenario.assert", &r.scenario),
        ] {
            for f in report.iter().flat_map(|a| &a.uncounted) {
                failures.push(format!(
                    "{}: {file}:{}: false: {}",
                    r.name, f.line, f.expression
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing hub tests:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_item_has_a_test_of_its_own() {
    // Item `crowdsec-rs/<n>` is covered by a test folder named `<n>` or `<n>-<variant>` that
    // lists it.
    let hub = open_hub();
    let mut tested = BTreeSet::new();
    for test in hub.test_names().expect("content/.tests lists") {
        let config = TestConfig::load(&hub.test_dir(&test)).expect("config.yaml loads");
        for item in config.parser_items().chain(config.scenario_items()) {
            let short = item.rsplit('/').next().unwrap_or(item);
            if test == short || test.starts_with(&format!("{short}-")) {
                tested.insert(item.to_owned());
            }
        }
    }
    for (_, item, _) in items() {
        assert!(tested.contains(&item), "{item} has no test of its own");
    }
}

#[test]
fn index_matches_the_content_tree() {
    let text = std::fs::read_to_string(content_dir().join(".index.json")).expect("index");
    let index: serde_json::Value = serde_json::from_str(&text).expect("index is JSON");
    let mut listed = BTreeSet::new();
    for kind in ["parsers", "postoverflows", "scenarios"] {
        for (name, item) in index[kind].as_object().into_iter().flatten() {
            listed.insert((
                kind,
                name.clone(),
                item["path"].as_str().unwrap_or("").to_owned(),
            ));
            if kind != "scenarios" {
                let stage = item["path"].as_str().and_then(|p| p.split('/').nth(1));
                assert_eq!(item["stage"].as_str(), stage, "{name}: stage");
            }
            let description = item["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "{name}: no description");
        }
    }
    let tree: BTreeSet<_> = items().into_iter().collect();
    assert_eq!(
        listed, tree,
        "content/.index.json differs from the content tree"
    );
}

#[test]
fn the_crate_embeds_every_item_and_the_profiles() {
    let embedded: BTreeSet<&str> = cs_starter::FILES.iter().map(|f| f.source).collect();
    for (_, name, path) in items() {
        assert!(
            embedded.contains(path.as_str()),
            "{name} ({path}) is not embedded"
        );
    }
    for file in cs_starter::FILES {
        let on_disk = std::fs::read_to_string(content_dir().join(file.source)).expect("exists");
        assert_eq!(on_disk, file.text, "{} is stale", file.source);
    }
    assert!(embedded.contains("profiles.yaml") && embedded.contains("acquis.yaml"));
}
