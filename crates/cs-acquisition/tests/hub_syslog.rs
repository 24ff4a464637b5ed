//! The lines the `syslog` datasource rebuilds go through the hub's `syslog-logs` (s00-raw)
//! and `sshd-logs` (s01-parse) parsers, read from the shared hub snapshot
//! (`$CROWDSEC_SHARED/hub`, default `../shared/hub`).

use std::path::PathBuf;

use chrono::NaiveDate;
use cs_acquisition::sources::syslog_message::{parse, to_line};
use cs_parser::LoaderBuilder;
use cs_parser::config::StageFile;
use cs_types::Event;

fn hub() -> PathBuf {
    let shared = std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    let hub = shared.join("hub");
    assert!(
        hub.is_dir(),
        "the hub snapshot is missing: {}",
        hub.display()
    );
    hub
}

#[test]
fn rebuilt_syslog_lines_are_parsed_by_the_hub_sshd_parsers() {
    let hub = hub();
    let data = tempfile::tempdir().unwrap();
    let mut loader = LoaderBuilder::new(data.path())
        .patterns_dir(hub.join("patterns"))
        .unwrap()
        .node_metrics(None)
        .build();
    let file = |stage: &str, name: &str| StageFile {
        filename: hub
            .join(format!("parsers/{stage}/crowdsecurity/{name}.yaml"))
            .to_string_lossy()
            .into_owned(),
        stage: stage.to_owned(),
    };
    let parsers = loader
        .load_files(&[
            file("s00-raw", "syslog-logs"),
            file("s01-parse", "sshd-logs"),
        ])
        .unwrap();
    let now = NaiveDate::from_ymd_opt(2026, 11, 22)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    for msg in [
        "<38>Nov 22 10:00:00 web1 sshd[4242]: Failed password for root from 1.2.3.4 port 22 ssh2",
        "<38>1 2026-11-22T10:00:00.123456+01:00 web1 sshd 4242 - - Failed password for root from 1.2.3.4 port 22 ssh2",
        "<38>Nov  2 10:00:00 web1 sshd[4242]: Failed password for root from 1.2.3.4 port 22 ssh2",
    ] {
        let m = parse(msg.as_bytes()).unwrap();
        let mut evt = Event::new_log(to_line(&m, now), "syslog");
        evt.line.labels.insert("type".into(), "syslog".into());
        parsers.parse(&mut evt).unwrap();
        assert!(evt.process, "{msg}: not parsed: {:?}", evt.line.raw);
        assert_eq!(
            evt.parsed.get("program").map(cs_types::Text::as_str),
            Some("sshd"),
            "{msg}"
        );
        assert_eq!(
            evt.meta.get("source_ip").map(cs_types::Text::as_str),
            Some("1.2.3.4"),
            "{msg}"
        );
        assert_eq!(
            evt.meta.get("log_type").map(cs_types::Text::as_str),
            Some("ssh_failed-auth"),
            "{msg}"
        );
    }
}
