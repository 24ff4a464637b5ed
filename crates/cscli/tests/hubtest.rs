//! `cscli hubtest run`: exit codes, JSON and human output, against the shared hub and a
//! throw-away hub with a failing test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared_hub() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
            PathBuf::from,
        )
        .join("hub")
}

fn hubtest(hub: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cscli"))
        .arg("hubtest")
        .arg("--hub")
        .arg(hub)
        .args(["--now", "2026-08-22T12:00:00Z"])
        .args(args)
        .output()
        .expect("cscli runs")
}

#[test]
fn passing_tests_report_json_and_exit_zero() {
    let out = hubtest(&shared_hub(), &["run", "ssh-bf", "sshd-logs", "-o", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    assert_eq!(json["success"], serde_json::json!(["ssh-bf", "sshd-logs"]));
    assert_eq!(json["fail"], serde_json::json!([]));
}

/// A hub whose only test has a parser assertion that cannot hold.
fn failing_hub() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = dir.path();
    let test = hub.join(".tests/broken");
    let parser = test.join("parsers/s01-parse/me/words.yaml");
    std::fs::create_dir_all(parser.parent().expect("parent")).expect("mkdir");
    std::fs::write(hub.join(".index.json"), "{}").expect("index");
    std::fs::write(
        &parser,
        "name: me/words\ngrok:\n  pattern: '^%{WORD:first} '\n  apply_on: Line.Raw\n",
    )
    .expect("parser");
    std::fs::write(
        test.join("config.yaml"),
        "parsers:\n- ./parsers/s01-parse/me/words.yaml\nlog_file: broken.log\nlog_type: syslog\nignore_parsers: false\n",
    )
    .expect("config");
    std::fs::write(test.join("broken.log"), "hello world\n").expect("log");
    std::fs::write(
        test.join("parser.assert"),
        "len(results) == 2\nresults[\"s01-parse\"][\"me/words\"][0].Evt.Parsed[\"first\"] == \"bye\"\n",
    )
    .expect("assert");
    dir
}

#[test]
fn failing_test_shows_actual_values_and_exits_non_zero() {
    let hub = failing_hub();
    let out = hubtest(hub.path(), &["run", "--all"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("│ broken │ ❌"), "{stdout}");
    assert!(
        stdout.contains(
            "(L.2)  🔴  => results[\"s01-parse\"][\"me/words\"][0].Evt.Parsed[\"first\"] == \"bye\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("results[\"s01-parse\"][\"me/words\"][0].Evt.Parsed[\"first\"] = 'hello'"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("0 passed, 1 failed"),
        "{stdout}"
    );

    let json = hubtest(hub.path(), &["run", "broken", "-o", "json"]);
    assert!(!json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("stdout is JSON");
    assert_eq!(
        value,
        serde_json::json!({"success": [], "fail": ["broken"]})
    );
}
