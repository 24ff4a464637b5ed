//! Installing the starter content into a config directory: the upstream layout, nothing
//! overwritten, and the installed files loaded the way the agent loads a config directory
//! (base grok patterns + `pattern_dir`, `parsers/<stage>/`, `scenarios/`) detect the attacks
//! of `content/samples/sample.log` and only those.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cs_buckets::{BucketEngine, Compiler, LoadOptions};
use cs_expr::{Clock, FixedClock};
use cs_expr_helpers::Helpers;
use cs_parser::LoaderBuilder;
use cs_types::{Event, ExpectMode};

fn sample() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/samples/sample.log");
    std::fs::read_to_string(path).expect("the sample log")
}

#[test]
fn install_lays_items_out_as_upstream_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path();
    assert!(!cs_starter::has_parsers(config));

    let first = cs_starter::install(config).expect("install");
    assert_eq!(first.written.len(), cs_starter::FILES.len());
    assert!(first.kept.is_empty());
    for rel in [
        "parsers/s00-raw/crowdsec-rs-syslog-logs.yaml",
        "parsers/s01-parse/crowdsec-rs-sshd-logs.yaml",
        "parsers/s02-enrich/crowdsec-rs-dateparse.yaml",
        "scenarios/crowdsec-rs-ssh-bf.yaml",
        "profiles.yaml",
        "acquis.yaml",
        "patterns/linux-syslog",
    ] {
        assert!(config.join(rel).is_file(), "{rel} missing");
    }
    assert!(cs_starter::has_parsers(config));

    let second = cs_starter::install(config).expect("second install");
    assert!(second.written.is_empty(), "rewrote {:?}", second.written);
    assert_eq!(second.kept.len(), cs_starter::FILES.len());
}

#[test]
fn existing_files_and_pattern_directories_are_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path();
    let profiles = config.join("profiles.yaml");
    std::fs::write(&profiles, "name: mine\n").expect("write");
    let patterns = config.join("my-patterns");
    std::fs::create_dir(&patterns).expect("mkdir");
    std::fs::write(patterns.join("linux-syslog"), "MINE %{WORD}\n").expect("write");
    // A pattern directory with only dotted names (which the grok loader skips) counts as empty.
    let other = config.join("other-patterns");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("README.md"), "notes\n").expect("write");

    let installed = cs_starter::install_to(config, &patterns).expect("install");
    assert_eq!(
        std::fs::read_to_string(&profiles).expect("read"),
        "name: mine\n"
    );
    assert!(installed.kept.contains(&profiles));
    assert_eq!(
        std::fs::read_to_string(patterns.join("linux-syslog")).expect("read"),
        "MINE %{WORD}\n"
    );
    assert!(
        !patterns.join("ssh").exists(),
        "patterns added to a filled directory"
    );
    assert!(
        config
            .join("scenarios/crowdsec-rs-port-scan.yaml")
            .is_file()
    );

    let into_other = cs_starter::install_to(config, &other).expect("install");
    assert!(into_other.written.contains(&other.join("ssh")));
}

#[test]
fn an_unwritable_target_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A regular file where the parsers directory should be.
    std::fs::write(dir.path().join("parsers"), "").expect("write");
    let err = cs_starter::install(dir.path()).expect_err("must fail");
    assert!(err.to_string().contains("parsers"), "{err}");
}

/// Loads the installed config directory like the agent and replays the sample through it;
/// returns scenario → sorted source addresses of its overflows.
fn replay_installed(config: &Path, log: &str) -> BTreeMap<String, Vec<String>> {
    let now = now();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
    let helpers = Helpers::new();
    let data_dir = config.join("data");
    let mut loader = LoaderBuilder::new(&data_dir)
        .patterns_dir(config.join("patterns"))
        .expect("patterns load")
        .helpers(helpers.clone())
        .clock(clock.clone())
        .build();
    let parsers = loader
        .load_dir(&config.join("parsers"))
        .expect("parsers load");

    let compiler = Compiler::new(helpers, clock.clone());
    let options = LoadOptions {
        data_dir,
        ..LoadOptions::default()
    };
    let mut scenarios = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(config.join("scenarios"))
        .expect("scenarios dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        scenarios.extend(
            cs_buckets::load_file(&file, &compiler, &options)
                .unwrap_or_else(|d| panic!("{}: {d:?}", file.display())),
        );
    }
    assert_eq!(scenarios.len(), 6);
    let mut engine = BucketEngine::new(scenarios, clock);

    let mut alerts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut overflows = Vec::new();
    for line in log.lines().filter(|l| !l.is_empty()) {
        let mut evt = Event::new_log(line, "file");
        evt.line.labels.insert("type".into(), "syslog".into());
        evt.line.time = now;
        evt.expect_mode = ExpectMode::TimeMachine;
        if parsers.parse(&mut evt).is_err() || !evt.process || evt.whitelisted {
            continue;
        }
        engine.pour(&evt, &mut overflows).expect("pour");
    }
    for ovf in overflows {
        let Some(alert) = ovf.overflow.alert.as_ref() else {
            continue;
        };
        let scenario = alert.scenario.clone().unwrap_or_default();
        alerts
            .entry(scenario)
            .or_default()
            .extend(ovf.overflow.get_sources().into_iter().map(str::to_owned));
    }
    for sources in alerts.values_mut() {
        sources.sort();
    }
    alerts
}

/// "Now" of the replay: year-less syslog dates take its year.
fn now() -> cs_types::GoTime {
    chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").expect("valid time")
}

#[test]
fn installed_content_detects_the_attacks_of_the_sample_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    cs_starter::install(dir.path()).expect("install");
    let alerts = replay_installed(dir.path(), &sample());
    let expected: BTreeMap<String, Vec<String>> = [
        ("crowdsec-rs/http-bad-user-agent", vec!["192.0.2.201"]),
        ("crowdsec-rs/http-probing", vec!["203.0.113.77"]),
        ("crowdsec-rs/http-sensitive-paths", vec!["198.51.100.99"]),
        ("crowdsec-rs/port-scan", vec!["198.51.100.150"]),
        ("crowdsec-rs/ssh-bf", vec!["198.51.100.23", "203.0.113.50"]),
        ("crowdsec-rs/ssh-user-enum", vec!["203.0.113.50"]),
    ]
    .into_iter()
    .map(|(s, ips)| (s.to_owned(), ips.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(alerts, expected);
}
