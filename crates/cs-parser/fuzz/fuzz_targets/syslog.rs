//! Arbitrary lines through the hub's `syslog-logs` (s00-raw) and `dateparse-enrich`
//! (s02-enrich) parsers: parsing may fail, never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cs_parser::config::StageFile;
use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;
use libfuzzer_sys::fuzz_target;

fn parsers() -> &'static Parsers {
    static PARSERS: OnceLock<Parsers> = OnceLock::new();
    PARSERS.get_or_init(|| {
        let shared = std::env::var_os("CROWDSEC_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared")),
            PathBuf::from,
        );
        let hub = shared.join("hub");
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

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for log_type in ["syslog", "nginx"] {
        let mut evt = Event::new_log(line.as_ref(), "file");
        evt.line
            .labels
            .insert("type".into(), log_type.into());
        let _ = parsers().parse(&mut evt);
    }
});
