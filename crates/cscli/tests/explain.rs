//! `cscli explain` end to end: a config directory in a temp dir with hub parsers and a
//! scenario copied from the shared hub, and sshd lines that do and do not parse.

use std::path::{Path, PathBuf};

mod common;
use common::{Env, cscli, ok};

/// The shared hub: `$CROWDSEC_SHARED/hub`, else `../shared/hub` beside the workspace.
fn hub() -> PathBuf {
    let shared = std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    shared.join("hub")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A config dir with syslog-logs, sshd-logs, dateparse-enrich and the ssh-bf scenario.
fn setup() -> Env {
    let hub = hub();
    assert!(
        hub.is_dir(),
        "hub not found at {} (set CROWDSEC_SHARED)",
        hub.display()
    );
    Env::new(|root| {
        for (stage, name) in [
            ("s00-raw", "syslog-logs"),
            ("s01-parse", "sshd-logs"),
            ("s02-enrich", "dateparse-enrich"),
        ] {
            let to = root.join("parsers").join(stage);
            std::fs::create_dir_all(&to).unwrap();
            let file = format!("{name}.yaml");
            std::fs::copy(
                hub.join("parsers")
                    .join(stage)
                    .join("crowdsecurity")
                    .join(&file),
                to.join(&file),
            )
            .unwrap();
        }
        std::fs::create_dir_all(root.join("scenarios")).unwrap();
        std::fs::copy(
            hub.join("scenarios/crowdsecurity/ssh-bf.yaml"),
            root.join("scenarios/ssh-bf.yaml"),
        )
        .unwrap();
        copy_dir(&hub.join("patterns"), &root.join("patterns"));
        std::fs::create_dir_all(root.join("data")).unwrap();
        let d = root.display();
        format!("config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\n")
    })
}

const FAILED_AUTH: &str = "Sep 19 18:33:22 scw-d95986 sshd[24347]: Failed password for invalid user admin from 1.2.3.4 port 46346 ssh2";
const UNKNOWN_SSHD: &str =
    "Sep 19 18:33:22 scw-d95986 sshd[24347]: something sshd-logs does not know";

#[test]
fn explain_shows_each_stage_of_a_parsed_sshd_line() {
    let env = setup();
    let out = ok(&env, &["explain", "--log", FAILED_AUTH, "--type", "syslog"]);
    assert!(out.starts_with(&format!("line: {FAILED_AUTH}\n")), "{out}");
    for expected in [
        "\t├ s00-raw\n\t|\t└ 🟢 crowdsecurity/syslog-logs (",
        "\t├ s01-parse\n\t|\t└ 🟢 crowdsecurity/sshd-logs (",
        "\t├ s02-enrich\n\t|\t└ 🟢 crowdsecurity/dateparse-enrich (",
        "\t├-------- parser success 🟢\n\t├ Scenarios\n\t\t├ 🟢 crowdsecurity/ssh-bf\n\t\t└ 🟢 crowdsecurity/ssh-bf_user-enum\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // -v lists what each parser set.
    let verbose = ok(
        &env,
        &["explain", "--log", FAILED_AUTH, "--type", "syslog", "-v"],
    );
    for expected in [
        "create evt.Parsed.program : sshd\n",
        "create evt.Meta.source_ip : 1.2.3.4\n",
        "create evt.Parsed.sshd_invalid_user : admin\n",
    ] {
        assert!(
            verbose.contains(expected),
            "missing {expected:?} in:\n{verbose}"
        );
    }
    // --failures hides lines that reached the buckets.
    let failures = ok(
        &env,
        &[
            "explain",
            "--log",
            FAILED_AUTH,
            "--type",
            "syslog",
            "--failures",
        ],
    );
    assert_eq!(failures, "");
}

#[test]
fn explain_shows_where_an_unknown_sshd_line_stops() {
    let env = setup();
    let file = env.root.join("auth.log");
    std::fs::write(&file, format!("{UNKNOWN_SSHD}\n")).unwrap();
    let out = ok(
        &env,
        &[
            "explain",
            "--file",
            file.to_str().unwrap(),
            "--type",
            "syslog",
        ],
    );
    assert_eq!(
        out,
        format!(
            "line: {UNKNOWN_SSHD}\n\t├ s00-raw\n\t|\t└ 🟢 crowdsecurity/syslog-logs (+13 ~1)\n\t├ s01-parse\n\t|\t└ 🔴 crowdsecurity/sshd-logs\n\t└-------- parser failure 🔴\n\n"
        )
    );
    // A line of another type skips syslog-logs for its non-syslog node, then fails.
    let other = ok(&env, &["explain", "--log", UNKNOWN_SSHD, "--type", "nginx"]);
    assert!(
        other.contains("\t|\t├ 🔴 crowdsecurity/syslog-logs\n\t|\t└ 🟢 crowdsecurity/non-syslog ("),
        "{other}"
    );
    assert!(
        other.ends_with("\t└-------- parser failure 🔴\n\n"),
        "{other}"
    );
}

#[test]
fn explain_refuses_an_empty_file() {
    let env = setup();
    let file = env.root.join("empty.log");
    std::fs::write(&file, "").unwrap();
    let out = cscli(
        &env,
        &[
            "explain",
            "--file",
            file.to_str().unwrap(),
            "--type",
            "syslog",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the log file is empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
