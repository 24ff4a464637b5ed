//! Runners for upstream's fixture folders: one module per kind of case, each reporting
//! failing cases by name. The fixtures are read from the shared corpus (never copied into
//! the repository): `../shared/upstream-testdata` beside the workspace, or
//! `$CROWDSEC_SHARED/upstream-testdata`.

pub mod dns;
pub mod event;
pub mod parser;

use std::path::PathBuf;

/// The shared material directory: `$CROWDSEC_SHARED`, else `../shared` beside the
/// workspace root.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// The upstream fixture corpus (`<shared>/upstream-testdata`); an error when it is missing,
/// so that a run without the corpus fails instead of passing vacuously.
pub fn corpus_dir() -> Result<PathBuf, String> {
    let dir = shared_dir().join("upstream-testdata");
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "fixture corpus not found at {} (set CROWDSEC_SHARED)",
            dir.display()
        ))
    }
}
