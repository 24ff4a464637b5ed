//! Test support shared by the integration tests and the bench: the shared corpus and a grok
//! host built the way upstream builds it from hub content.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cs_grok::Patterns;
use serde_yaml::Value;

/// The shared read-only material: `$CROWDSEC_SHARED`, else `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("CROWDSEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.join("hub").is_dir(),
        "shared corpus not found at {} (set CROWDSEC_SHARED)",
        dir.display()
    );
    dir
}

/// Upstream's host before any parser is loaded: grokky's base patterns, then the hub's
/// pattern directory.
pub fn upstream_host() -> Patterns {
    let shared = shared_dir();
    let mut host = Patterns::new();
    host.load_file(shared.join("hub/patterns-base/grokky-base"))
        .unwrap_or_else(|e| panic!("{e}"));
    host.load_dir(shared.join("hub/patterns"))
        .unwrap_or_else(|e| panic!("{e}"));
    host
}

/// A grok found in a parser file.
#[derive(Debug, Clone)]
pub struct GrokEntry {
    /// `grok.name`, if set (it wins over `pattern`).
    pub name: Option<String>,
    /// `grok.pattern`, if set.
    pub pattern: Option<String>,
    /// `grok.apply_on`, if set.
    pub apply_on: Option<String>,
    /// Whether `grok.expression` is set.
    pub has_expression: bool,
}

/// `pattern_syntax` entries (in order) and groks of a parser file, all documents and nested
/// nodes included.
#[derive(Debug, Default)]
pub struct ParserFile {
    pub pattern_syntax: Vec<(String, String)>,
    pub groks: Vec<GrokEntry>,
}

/// Reads the groks and pattern definitions of a parser YAML file.
pub fn read_parser_file(path: &Path) -> ParserFile {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = ParserFile::default();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        collect(&value, &mut out);
    }
    out
}

use serde::Deserialize as _;

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn collect(node: &Value, out: &mut ParserFile) {
    if let Some(Value::Mapping(defs)) = node.get("pattern_syntax") {
        for (k, v) in defs {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                out.pattern_syntax.push((k.to_string(), v.to_string()));
            }
        }
    }
    if let Some(grok) = node.get("grok") {
        out.groks.push(GrokEntry {
            name: str_of(grok, "name"),
            pattern: str_of(grok, "pattern"),
            apply_on: str_of(grok, "apply_on"),
            has_expression: grok.get("expression").is_some(),
        });
    }
    if let Some(Value::Sequence(nodes)) = node.get("nodes") {
        for n in nodes {
            collect(n, out);
        }
    }
}

/// Adds a file's `pattern_syntax` entries to `host` the way upstream does: a name already
/// defined keeps its first definition.
pub fn add_pattern_syntax(host: &mut Patterns, file: &ParserFile) -> Result<(), cs_grok::Error> {
    for (name, expr) in &file.pattern_syntax {
        match host.add(name, expr) {
            Ok(()) | Err(cs_grok::Error::Duplicate { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
