//! Upstream's parser fixture cases that only need grok, run as grok conformance cases.
//!
//! A case qualifies when every grok in its parser files reads `Line.Raw` (no `expression`,
//! no `apply_on` of a field produced by statics). For each input line, the fields of every
//! matching grok (in file order, later ones overwriting) must equal the expected `Parsed`
//! entries that groks can produce; keys set by statics are not grok's business. Each case
//! is reported by name.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cs_grok::{Grok, Patterns};
use serde_yaml::Value;

/// Reads a YAML file, replacing upstream's `{{.TestDirectory}}` template by `dir`.
fn load_yaml(path: &Path, dir: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.replace("{{.TestDirectory}}", &dir.to_string_lossy());
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

enum Outcome {
    Pass(usize),
    Skip(String),
    Fail(Vec<String>),
}

fn run_case(dir: &Path, base: &Patterns) -> Outcome {
    let mut host = base.clone();
    let mut groks: Vec<Grok> = Vec::new();
    let index = load_yaml(&dir.join("parsers.yaml"), dir);
    for entry in index.as_sequence().into_iter().flatten() {
        let Some(file) = entry.get("filename").and_then(Value::as_str) else {
            return Outcome::Skip("parsers.yaml entry without filename".into());
        };
        let parser = common::read_parser_file(Path::new(file));
        if let Err(e) = common::add_pattern_syntax(&mut host, &parser) {
            return Outcome::Fail(vec![format!("pattern_syntax: {e}")]);
        }
        for grok in &parser.groks {
            if grok.has_expression || grok.apply_on.as_deref() != Some("Line.Raw") {
                return Outcome::Skip("grok input is not Line.Raw".into());
            }
            let compiled = match (&grok.name, &grok.pattern) {
                (Some(name), _) => host.compile_named(name),
                (None, Some(pattern)) => host.compile(pattern),
                (None, None) => return Outcome::Skip("grok without pattern".into()),
            };
            match compiled {
                Ok(g) => groks.push(g),
                Err(e) => return Outcome::Fail(vec![format!("compile: {e}")]),
            }
        }
    }
    if groks.is_empty() {
        return Outcome::Skip("no grok".into());
    }
    let grok_fields: BTreeSet<&str> = groks
        .iter()
        .flat_map(|g| g.fields().iter().map(|f| &**f))
        .collect();

    let test = load_yaml(&dir.join("test.yaml"), dir);
    let lines = test
        .get("lines")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    let results = test
        .get("results")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    if lines.len() != results.len() || lines.is_empty() {
        return Outcome::Skip("lines and results do not pair up".into());
    }
    let mut failures = Vec::new();
    for (i, (line, result)) in lines.iter().zip(&results).enumerate() {
        let raw = line
            .get("Line")
            .and_then(|l| l.get("Raw"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut got = BTreeMap::new();
        for g in &groks {
            if let Some(caps) = g.captures(raw) {
                for (k, v) in caps.iter() {
                    got.insert(k.to_string(), v.to_string());
                }
            }
        }
        let mut expected = BTreeMap::new();
        if let Some(Value::Mapping(parsed)) = result.get("Parsed") {
            for (k, v) in parsed {
                if let (Some(k), Some(v)) = (k.as_str(), scalar(v))
                    && grok_fields.contains(k)
                {
                    expected.insert(k.to_string(), v);
                }
            }
        }
        if got != expected {
            failures.push(format!(
                "line {i} {raw:?}: got {got:?}, expected {expected:?}"
            ));
        }
    }
    if failures.is_empty() {
        Outcome::Pass(lines.len())
    } else {
        Outcome::Fail(failures)
    }
}

#[test]
fn upstream_grok_cases() {
    let root = common::shared_dir().join("upstream-testdata/parser");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("parsers.yaml").is_file())
        .collect();
    cases.sort();
    let base = common::upstream_host();
    let (mut passed, mut failed) = (0, Vec::new());
    for dir in &cases {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match run_case(dir, &base) {
            Outcome::Pass(lines) => {
                passed += 1;
                println!("PASS {name} ({lines} lines)");
            }
            Outcome::Skip(why) => println!("SKIP {name}: {why}"),
            Outcome::Fail(why) => {
                println!("FAIL {name}:\n  {}", why.join("\n  "));
                failed.push(name);
            }
        }
    }
    println!(
        "{passed} grok cases passed, {} failed, of {} cases",
        failed.len(),
        cases.len()
    );
    assert!(failed.is_empty(), "failing cases: {failed:?}");
    assert!(passed >= 6, "only {passed} grok-only cases found");
}
