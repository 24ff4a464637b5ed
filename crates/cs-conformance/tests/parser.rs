//! Every upstream parser case (`upstream-testdata/parser/*/`) must pass.

use cs_conformance::{corpus_dir, parser, shared_dir};

#[test]
fn upstream_parser_cases() -> Result<(), String> {
    let root = corpus_dir()?.join("parser");
    let shared = shared_dir();
    let env = parser::Environment::new(
        &shared.join("hub/patterns-base/grokky-base"),
        &shared.join("hub/patterns"),
        &root,
    )?;
    let cases = parser::cases(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    if cases.is_empty() {
        return Err(format!("no parser case under {}", root.display()));
    }
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match parser::run_case(&env, dir) {
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
        Err(format!("failing parser cases: {}", failures.join(", ")))
    }
}
