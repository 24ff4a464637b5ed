//! Every parser and postoverflow of the hub snapshot loads (strict YAML, expressions,
//! grok patterns, whitelists), with upstream's pattern files.

use std::path::{Path, PathBuf};

use cs_parser::LoaderBuilder;
use cs_parser::config::StageFile;

fn shared() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// `<kind>/<stage>/<author>/<file>.yaml` of the hub, as stage files sorted by path.
fn hub_files(kind_dir: &Path) -> Vec<StageFile> {
    let mut files = Vec::new();
    let Ok(stages) = std::fs::read_dir(kind_dir) else {
        return files;
    };
    for stage in stages.flatten() {
        let stage_name = stage.file_name().to_string_lossy().into_owned();
        for author in std::fs::read_dir(stage.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for file in std::fs::read_dir(author.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = file.path().to_string_lossy().into_owned();
                if path.ends_with(".yaml") || path.ends_with(".yml") {
                    files.push(StageFile {
                        filename: path,
                        stage: stage_name.clone(),
                    });
                }
            }
        }
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    files
}

fn load_all(kind: &str) -> Result<(), String> {
    let hub = shared().join("hub");
    let files = hub_files(&hub.join(kind));
    if files.is_empty() {
        return Err(format!("no {kind} under {}", hub.display()));
    }
    let mut loader = LoaderBuilder::new(hub.join("data"))
        .patterns_dir(hub.join("patterns"))
        .map_err(|e| e.to_string())?
        .build();
    let parsers = loader.load_files(&files).map_err(|e| e.to_string())?;
    let per_stage: Vec<String> = parsers
        .stages()
        .map(|s| {
            format!(
                "{s}: {}",
                parsers.nodes().filter(|(st, _)| *st == s).count()
            )
        })
        .collect();
    eprintln!(
        "{kind}: {} files, nodes per stage {per_stage:?}",
        files.len()
    );
    Ok(())
}

#[test]
fn hub_parsers_load() -> Result<(), String> {
    load_all("parsers")
}

#[test]
fn hub_postoverflows_load() -> Result<(), String> {
    load_all("postoverflows")
}

proptest::proptest! {
    /// Whatever the line, the syslog → dateparse path parses it or leaves it unparsed.
    #[test]
    fn arbitrary_lines_never_panic(
        line in "(<[0-9]{1,3}>)?[A-Za-z]{3} [ 0-9]{2} [0-9:]{8} [a-z.-]{1,10} [a-z]{1,8}(\\[[0-9]{1,5}\\])?: \\PC{0,60}|\\PC{0,80}"
    ) {
        let parsers = syslog_parsers();
        let mut evt = cs_types::Event::new_log(line.as_str(), "file");
        evt.line.labels.insert("type".into(), "syslog".into());
        proptest::prop_assert!(parsers.parse(&mut evt).is_ok());
    }
}

fn syslog_parsers() -> &'static cs_parser::Parsers {
    static PARSERS: std::sync::OnceLock<cs_parser::Parsers> = std::sync::OnceLock::new();
    PARSERS.get_or_init(|| {
        let hub = shared().join("hub");
        let file = |stage: &str, name: &str| StageFile {
            filename: hub
                .join(format!("parsers/{stage}/crowdsecurity/{name}.yaml"))
                .to_string_lossy()
                .into_owned(),
            stage: stage.to_owned(),
        };
        LoaderBuilder::new(hub.join("data"))
            .patterns_dir(hub.join("patterns"))
            .and_then(|b| {
                b.build().load_files(&[
                    file("s00-raw", "syslog-logs"),
                    file("s02-enrich", "dateparse-enrich"),
                ])
            })
            .unwrap_or_else(|e| panic!("loading hub parsers: {e}"))
    })
}
