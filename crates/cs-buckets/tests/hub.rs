//! Every scenario of the hub snapshot in the shared corpus loads and compiles.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cs_buckets::{Compiler, LoadOptions};
use cs_expr::SystemClock;
use cs_expr_helpers::Helpers;

fn shared_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_hub_scenario_compiles() {
    let hub = shared_dir().join("hub");
    let mut files = Vec::new();
    yaml_files(&hub.join("scenarios"), &mut files);
    files.sort();
    assert!(
        files.len() > 200,
        "hub scenarios not found under {} (set CROWDSEC_SHARED)",
        hub.display()
    );
    let compiler = Compiler::new(Helpers::new(), Arc::new(SystemClock));
    let options = LoadOptions {
        data_dir: hub.join("data"),
        ..LoadOptions::default()
    };
    let mut loaded = 0;
    let mut failures = Vec::new();
    for file in &files {
        match cs_buckets::load_file(file, &compiler, &options) {
            Ok(scenarios) => loaded += scenarios.len(),
            Err(errors) => {
                for e in errors {
                    failures.push(e.to_string());
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} errors:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        loaded >= files.len(),
        "{loaded} scenarios from {} files",
        files.len()
    );
}
