//! Every grok pattern of the hub compiles and every reference resolves.
//!
//! Patterns come from the hub's pattern files (on top of grokky's base patterns, as upstream
//! loads them) and from `grok.pattern` / `grok.name` / `pattern_syntax` in the parser and
//! postoverflow YAML files. Parsers and postoverflows each get their own host, filled in
//! file path order as upstream does.

mod common;

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

#[test]
fn every_pattern_file_definition_compiles() {
    let host = common::upstream_host();
    let problems = host.check_all();
    assert!(problems.is_empty(), "broken definitions: {problems:#?}");
    let mut failures = Vec::new();
    for name in host.names() {
        if let Err(e) = host.compile_named(name) {
            failures.push(e.to_string());
        }
    }
    println!(
        "pattern files: {} named patterns compiled (base + hub/patterns)",
        host.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(host.len() > 300, "only {} patterns loaded", host.len());
}

fn check_context(kind: &str) -> (usize, usize, usize) {
    let shared = common::shared_dir();
    let mut files = Vec::new();
    yaml_files(&shared.join("hub").join(kind), &mut files);
    let mut host = common::upstream_host();
    let mut failures = Vec::new();
    let (mut defs, mut groks) = (0, 0);
    for path in &files {
        let file = common::read_parser_file(path);
        if let Err(e) = common::add_pattern_syntax(&mut host, &file) {
            failures.push(format!("{}: pattern_syntax: {e}", path.display()));
        }
        defs += file.pattern_syntax.len();
        for grok in &file.groks {
            let compiled = match (&grok.name, &grok.pattern) {
                (Some(name), _) => host.compile_named(name),
                (None, Some(pattern)) => host.compile(pattern),
                (None, None) => continue,
            };
            groks += 1;
            match compiled {
                // Valid, but grokky returns no data for it, so the node's grok never succeeds.
                Ok(g) if g.fields().is_empty() => {
                    println!(
                        "{}: grok without fields (never succeeds): {}",
                        path.display(),
                        g.pattern()
                    );
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{kind}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    (files.len(), defs, groks)
}

#[test]
fn every_parser_grok_compiles() {
    let (files, defs, groks) = check_context("parsers");
    println!("parsers: {files} files, {defs} pattern_syntax entries, {groks} groks compiled");
    assert!(groks > 100, "only {groks} groks found");
}

#[test]
fn every_postoverflow_grok_compiles() {
    let (files, defs, groks) = check_context("postoverflows");
    println!("postoverflows: {files} files, {defs} pattern_syntax entries, {groks} groks compiled");
}
