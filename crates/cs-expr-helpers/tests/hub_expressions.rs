//! Every expression of the hub snapshot (`../shared/hub`, or `$CROWDSEC_SHARED/hub`) must
//! compile in the environment where upstream evaluates it: parser and postoverflow node
//! fields, scenario fields, console context items and every line of the hubtest `.assert`
//! files. The YAML is walked generically so that this test does not depend on the parser or
//! bucket engines. Counts per kind are printed on stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cs_expr::{Environment, Type, compile};
use cs_expr_helpers::Helpers;
use serde_yaml::Value as Yaml;

/// Writes to the process's stderr directly: libtest captures `eprintln!`, and these summaries
/// must show without `--nocapture`.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn hub_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
        .join("hub")
}

/// Where an expression is evaluated upstream, which decides its variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// `evt`: parser/postoverflow nodes, scenario filter/groupby/distinct/cancel_on/scope.
    Event,
    /// `evt`, `queue`, `leaky`: scenario condition and bayesian conditions.
    Condition,
    /// `queue`, `signal`, `leaky`: scenario overflow_filter.
    OverflowFilter,
    /// `evt`, `match`, `req`: console context items.
    Context,
    /// `results` + `basename`: hubtest asserts.
    Assert,
}

struct Envs {
    by_scope: BTreeMap<Scope, Environment>,
}

impl Envs {
    fn new() -> Self {
        let helpers = Helpers::new();
        let mut by_scope = BTreeMap::new();
        let mut context = Environment::event();
        // Upstream binds an AppSec rule match (map[string]any) and an *http.Request.
        context.add_variable("match", Type::Any);
        context.add_variable("req", Type::Any);
        for (scope, mut env) in [
            (Scope::Event, Environment::event()),
            (Scope::Condition, Environment::scenario_condition()),
            (Scope::OverflowFilter, Environment::overflow_filter()),
            (Scope::Context, context),
            (Scope::Assert, Environment::hubtest()),
        ] {
            helpers.register(&mut env);
            by_scope.insert(scope, env);
        }
        Self { by_scope }
    }
}

/// One expression found in the hub.
struct Found {
    kind: &'static str,
    scope: Scope,
    location: String,
    source: String,
}

fn push(out: &mut Vec<Found>, kind: &'static str, scope: Scope, location: String, v: &Yaml) {
    // Scalars that YAML reads as bool or number are expressions too (`filter: true`); a list
    // or map where an expression is expected is kept as its YAML text so that it fails.
    let source = match v {
        Yaml::String(s) if s.trim().is_empty() => return,
        Yaml::String(s) => s.clone(),
        Yaml::Null => return,
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        other => format!("<not an expression: {other:?}>"),
    };
    out.push(Found {
        kind,
        scope,
        location,
        source,
    });
}

fn field<'a>(m: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    m.as_mapping().and_then(|m| m.get(key))
}

fn seq(v: Option<&Yaml>) -> &[Yaml] {
    v.and_then(Yaml::as_sequence).map_or(&[], Vec::as_slice)
}

/// Parser/postoverflow node fields, recursing into `nodes`.
fn walk_node(out: &mut Vec<Found>, prefix: &'static str, loc: &str, node: &Yaml) {
    let kind = |k: &'static str| -> &'static str {
        match (prefix, k) {
            ("parser", "filter") => "parser filter",
            ("parser", "grok") => "parser grok expression",
            ("parser", "statics") => "parser statics expression",
            ("parser", "whitelist") => "parser whitelist expression",
            ("parser", "stash") => "parser stash key/value",
            ("postoverflow", "filter") => "postoverflow filter",
            ("postoverflow", "statics") => "postoverflow statics expression",
            ("postoverflow", "whitelist") => "postoverflow whitelist expression",
            ("postoverflow", "stash") => "postoverflow stash key/value",
            _ => "postoverflow grok expression",
        }
    };
    if let Some(f) = field(node, "filter") {
        push(
            out,
            kind("filter"),
            Scope::Event,
            format!("{loc}.filter"),
            f,
        );
    }
    if let Some(grok) = field(node, "grok") {
        if let Some(e) = field(grok, "expression") {
            push(
                out,
                kind("grok"),
                Scope::Event,
                format!("{loc}.grok.expression"),
                e,
            );
        }
        for (i, st) in seq(field(grok, "statics")).iter().enumerate() {
            if let Some(e) = field(st, "expression") {
                push(
                    out,
                    kind("statics"),
                    Scope::Event,
                    format!("{loc}.grok.statics[{i}].expression"),
                    e,
                );
            }
        }
    }
    for (i, st) in seq(field(node, "statics")).iter().enumerate() {
        if let Some(e) = field(st, "expression") {
            push(
                out,
                kind("statics"),
                Scope::Event,
                format!("{loc}.statics[{i}].expression"),
                e,
            );
        }
    }
    if let Some(wl) = field(node, "whitelist") {
        for (i, e) in seq(field(wl, "expression")).iter().enumerate() {
            push(
                out,
                kind("whitelist"),
                Scope::Event,
                format!("{loc}.whitelist.expression[{i}]"),
                e,
            );
        }
    }
    for (i, st) in seq(field(node, "stash")).iter().enumerate() {
        for key in ["key", "value"] {
            if let Some(e) = field(st, key) {
                push(
                    out,
                    kind("stash"),
                    Scope::Event,
                    format!("{loc}.stash[{i}].{key}"),
                    e,
                );
            }
        }
    }
    for (i, child) in seq(field(node, "nodes")).iter().enumerate() {
        walk_node(out, prefix, &format!("{loc}.nodes[{i}]"), child);
    }
}

fn walk_scenario(out: &mut Vec<Found>, loc: &str, doc: &Yaml) {
    for (key, kind, scope) in [
        ("filter", "scenario filter", Scope::Event),
        ("groupby", "scenario groupby", Scope::Event),
        ("distinct", "scenario distinct", Scope::Event),
        ("cancel_on", "scenario cancel_on", Scope::Event),
        ("condition", "scenario condition", Scope::Condition),
        (
            "overflow_filter",
            "scenario overflow_filter",
            Scope::OverflowFilter,
        ),
    ] {
        if let Some(e) = field(doc, key) {
            push(out, kind, scope, format!("{loc}.{key}"), e);
        }
    }
    if let Some(e) = field(doc, "scope").and_then(|s| field(s, "expression")) {
        push(
            out,
            "scenario scope expression",
            Scope::Event,
            format!("{loc}.scope.expression"),
            e,
        );
    }
    for (i, c) in seq(field(doc, "bayesian_conditions")).iter().enumerate() {
        if let Some(e) = field(c, "condition") {
            push(
                out,
                "scenario bayesian condition",
                Scope::Condition,
                format!("{loc}.bayesian_conditions[{i}].condition"),
                e,
            );
        }
    }
}

fn walk_context(out: &mut Vec<Found>, loc: &str, doc: &Yaml) {
    if let Some(ctx) = field(doc, "context").and_then(Yaml::as_mapping) {
        for (key, items) in ctx {
            let key = key.as_str().unwrap_or("?");
            for (i, e) in seq(Some(items)).iter().enumerate() {
                push(
                    out,
                    "context",
                    Scope::Context,
                    format!("{loc}.context.{key}[{i}]"),
                    e,
                );
            }
        }
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

fn documents(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|d: &Yaml| !d.is_null())
        .collect()
}

/// Upstream's hubtest rewrite: an assert about `datasource_path` without `basename(` compares
/// the base name of its left side.
fn rewrite_assert(line: &str) -> String {
    match line.split_once("==") {
        Some((left, right)) if line.contains("datasource_path") && !line.contains("basename(") => {
            format!("basename({}) == {}", left.trim(), right.trim())
        }
        _ => line.to_owned(),
    }
}

fn collect(hub: &Path) -> (Vec<Found>, Vec<(String, String, String)>) {
    let mut found = Vec::new();
    let mut data_entries = Vec::new();
    let rel = |p: &Path| p.strip_prefix(hub).unwrap_or(p).display().to_string();
    let mut note_data = |doc: &Yaml, loc: &str| {
        for d in seq(field(doc, "data")) {
            if let (Some(f), Some(t)) = (
                field(d, "dest_file").and_then(Yaml::as_str),
                field(d, "type").and_then(Yaml::as_str),
            ) {
                data_entries.push((loc.to_owned(), f.to_owned(), t.to_owned()));
            }
        }
    };
    let tests = hub.join(".tests");
    let mut roots: Vec<(PathBuf, &str)> = vec![
        (hub.join("parsers"), "parser"),
        (hub.join("postoverflows"), "postoverflow"),
        (hub.join("scenarios"), "scenario"),
        (hub.join("contexts"), "context"),
    ];
    // Test folders may carry their own items (`.tests/<name>/parsers/...`).
    if let Ok(entries) = std::fs::read_dir(&tests) {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            roots.push((d.join("parsers"), "parser"));
            roots.push((d.join("postoverflows"), "postoverflow"));
            roots.push((d.join("scenarios"), "scenario"));
        }
    }
    for (root, what) in roots {
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        for file in files {
            for (i, doc) in documents(&file).iter().enumerate() {
                let loc = format!("{}#{i}", rel(&file));
                note_data(doc, &loc);
                match what {
                    "parser" | "postoverflow" => {
                        walk_node(&mut found, what_prefix(what), &loc, doc)
                    }
                    "scenario" => walk_scenario(&mut found, &loc, doc),
                    _ => walk_context(&mut found, &loc, doc),
                }
            }
        }
    }
    let mut asserts: Vec<PathBuf> = std::fs::read_dir(&tests)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    asserts.sort();
    for dir in asserts {
        // hubtest's `override_statics` are parser statics applied to every event.
        let config = dir.join("config.yaml");
        if config.is_file() {
            for doc in documents(&config) {
                for (i, st) in seq(field(&doc, "override_statics")).iter().enumerate() {
                    if let Some(e) = field(st, "expression") {
                        push(
                            &mut found,
                            "hubtest override_statics expression",
                            Scope::Event,
                            format!("{}.override_statics[{i}].expression", rel(&config)),
                            e,
                        );
                    }
                }
            }
        }
        for (name, kind) in [
            ("parser.assert", "parser assert"),
            ("scenario.assert", "scenario assert"),
        ] {
            let path = dir.join(name);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                if !line.trim().is_empty() {
                    found.push(Found {
                        kind,
                        scope: Scope::Assert,
                        location: format!("{}:{}", rel(&path), i + 1),
                        source: rewrite_assert(line),
                    });
                }
            }
        }
    }
    (found, data_entries)
}

fn what_prefix(what: &str) -> &'static str {
    if what == "postoverflow" {
        "postoverflow"
    } else {
        "parser"
    }
}

#[test]
fn every_hub_expression_compiles() {
    let hub = hub_dir();
    assert!(
        hub.join("parsers").is_dir(),
        "hub snapshot not found at {} (set CROWDSEC_SHARED)",
        hub.display()
    );
    let (found, _) = collect(&hub);
    let envs = Envs::new();
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for f in &found {
        let env = &envs.by_scope[&f.scope];
        let entry = counts.entry(f.kind).or_default();
        entry.0 += 1;
        match compile(&f.source, env) {
            Ok(_) => entry.1 += 1,
            Err(e) => failures.push(format!(
                "  {} [{:?}]\n    {}\n    {}",
                f.location,
                f.scope,
                f.source.trim(),
                e
            )),
        }
    }
    report!("hub expressions compiled (ok/total per kind):");
    for (kind, (total, ok)) in &counts {
        report!("  {kind:<34} {ok:>6}/{total:<6}");
    }
    let total: usize = counts.values().map(|c| c.0).sum();
    report!("  {:<34} {:>6}/{total:<6}", "all", total - failures.len());
    for kind in [
        "parser filter",
        "scenario filter",
        "context",
        "parser assert",
        "scenario assert",
    ] {
        assert!(
            counts.get(kind).is_some_and(|c| c.0 > 0),
            "no {kind} expression found: is the hub walk broken?"
        );
    }
    assert!(
        failures.is_empty(),
        "{} hub expression(s) do not compile:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn hub_data_files_load_with_their_declared_type() {
    let hub = hub_dir();
    let (_, entries) = collect(&hub);
    let helpers = Helpers::new();
    let data = hub.join("data");
    let mut loaded = 0;
    for (loc, file, kind) in &entries {
        if !data.join(file).exists() {
            // The GeoLite2 databases are not data files of these types (see MISSING-DATA.md).
            continue;
        }
        helpers
            .data_files()
            .load(&data, file, kind)
            .unwrap_or_else(|e| panic!("{loc}: {file} ({kind}): {e}"));
        loaded += 1;
    }
    report!("data entries loaded: {loaded} of {}", entries.len());
    assert!(loaded >= 20, "only {loaded} data entries loaded");
}
