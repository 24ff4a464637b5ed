//! `crowdsec -no-api -dsn file://… -type syslog` (forensic replay) against a LAPI run by
//! `crowdsec -no-cs`, with the sshd hub items installed in a temp config dir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cs_apiclient::{ClientOptions, WatcherClient};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");
const MACHINE: &str = "replay-agent";
const PASSWORD: &str = "replay-agent-password";

fn shared() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Installs hub item `item` (path under the hub) as upstream does: a symlink in
/// `<config_dir>/<kind>/[<stage>/]<name>.yaml`.
fn install(dir: &Path, item: &str) {
    let hub = shared().join("hub");
    let src = hub.join(item);
    assert!(src.is_file(), "missing hub item {}", src.display());
    let parts: Vec<&str> = item.split('/').collect();
    // parsers/<stage>/<author>/<name>.yaml or scenarios/<author>/<name>.yaml
    let dest_dir = if parts.len() == 4 {
        dir.join(parts[0]).join(parts[1])
    } else {
        dir.join(parts[0])
    };
    std::fs::create_dir_all(&dest_dir).unwrap();
    std::os::unix::fs::symlink(&src, dest_dir.join(parts[parts.len() - 1])).unwrap();
}

/// A config dir with sqlite, a ban profile, the LAPI on `port`, the sshd hub items and the
/// credentials of machine `MACHINE` pointing at `lapi_url`.
fn setup(dir: &Path, port: u16, lapi_url: &str) -> PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::os::unix::fs::symlink(shared().join("hub/patterns"), dir.join("patterns")).unwrap();
    for item in [
        "parsers/s00-raw/crowdsecurity/syslog-logs.yaml",
        "parsers/s01-parse/crowdsecurity/sshd-logs.yaml",
        "parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml",
        "scenarios/crowdsecurity/ssh-bf.yaml",
    ] {
        install(dir, item);
    }
    std::fs::write(
        dir.join("profiles.yaml"),
        "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("local_api_credentials.yaml"),
        format!("url: {lapi_url}\nlogin: {MACHINE}\npassword: {PASSWORD}\n"),
    )
    .unwrap();
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "common:\n  log_media: stdout\n  log_level: info\nconfig_paths:\n  config_dir: {d}\n  data_dir: {d}/data\n  pattern_dir: {d}/patterns\ncrowdsec_service:\n  acquisition_path: {d}/acquis.yaml\ndb_config:\n  type: sqlite\n  db_path: {d}/data/crowdsec.db\napi:\n  client:\n    credentials_path: {d}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{port}\n    profiles_path: {d}/profiles.yaml\n    trusted_ips: [127.0.0.1]\n"
        ),
    )
    .unwrap();
    cfg
}

async fn add_machine(dir: &Path) {
    let store = cs_store::Store::open(&cs_store::StoreConfig::sqlite(dir.join("data/crowdsec.db")))
        .await
        .unwrap();
    store
        .create_machine(&cs_store::NewMachine {
            machine_id: MACHINE.into(),
            password: PASSWORD.into(),
            is_validated: true,
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
}

/// A deterministic sshd log from the bench generator.
fn corpus(dir: &Path, lines: u32) -> PathBuf {
    let out = dir.join("auth.log");
    let status = Command::new("python3")
        .arg(shared().join("bench/gen-corpus.py"))
        .args(["sshd", "--lines", &lines.to_string(), "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "gen-corpus.py failed");
    out
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replay(cfg: &Path, log: &Path, extra: &[&str]) -> Output {
    let dsn = format!("file://{}", log.display());
    Command::new(BIN)
        .args(["-c", cfg.to_str().unwrap(), "-dsn", &dsn, "-type", "syslog"])
        .args(extra)
        .output()
        .unwrap()
}

/// Source IPs with at least `min` failed logins in the log (an upper bound of who ssh-bf
/// can flag: a leaky bucket of capacity 5 overflows on the 6th event).
fn brute_forcers(log: &Path, min: usize) -> BTreeSet<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in text.lines() {
        if !(line.contains("Failed password") || line.contains("Invalid user")) {
            continue;
        }
        if let Some(rest) = line.split(" from ").nth(1) {
            let ip = rest.split_whitespace().next().unwrap_or_default();
            *counts.entry(ip.to_owned()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n >= min)
        .map(|(ip, _)| ip)
        .collect()
}

#[tokio::test]
async fn replayed_sshd_brute_force_reaches_the_lapi() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let cfg = setup(dir.path(), port, &url);
    add_machine(dir.path()).await;
    let log = corpus(dir.path(), 2000);
    let _lapi = Daemon(
        Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap(), "-no-cs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let watcher = WatcherClient::new(&ClientOptions::new(url.clone()), MACHINE, PASSWORD).unwrap();
    let mut up = false;
    for _ in 0..100 {
        if watcher.login().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "LAPI never answered");

    let out = tokio::task::spawn_blocking({
        let (cfg, log) = (cfg.clone(), log.clone());
        move || replay(&cfg, &log, &["-no-api"])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Acquisition is finished"), "{stderr}");
    assert!(stderr.contains("replay summary"), "{stderr}");

    let alerts = watcher
        .alerts(&[("limit".into(), "0".into())])
        .await
        .unwrap();
    assert!(!alerts.is_empty(), "no alert reached the LAPI\n{stderr}");
    let candidates = brute_forcers(&log, 6);
    let mut flagged = BTreeSet::new();
    for alert in &alerts {
        assert!(
            alert
                .scenario
                .as_deref()
                .unwrap_or_default()
                .starts_with("crowdsecurity/ssh-bf"),
            "{alert:?}"
        );
        assert!(alert.events_count.unwrap_or(0) >= 6, "{alert:?}");
        let ip = alert
            .source
            .as_ref()
            .map(|s| s.ip.clone())
            .unwrap_or_default();
        assert!(candidates.contains(&ip), "{ip} is not a brute forcer");
        flagged.insert(ip);
    }
    // The generator's attackers hammer well above the threshold: each one is caught.
    let heavy = brute_forcers(&log, 30);
    assert!(
        heavy.is_subset(&flagged),
        "missed {:?}",
        heavy.difference(&flagged)
    );
}

#[test]
fn replay_fails_when_the_lapi_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    let log = corpus(dir.path(), 200);
    let out = replay(&cfg, &log, &["-no-api"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("logging in to the LAPI"));
}

#[test]
fn replay_reports_a_dsn_matching_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    let out = replay(&cfg, &dir.path().join("missing-*.log"), &["-no-api"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no file matches"), "{err}");
}

#[tokio::test]
async fn replay_without_no_api_runs_the_lapi_alongside() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    add_machine(dir.path()).await;
    let log = corpus(dir.path(), 2000);
    let out = tokio::task::spawn_blocking({
        let (cfg, log) = (cfg.clone(), log.clone());
        move || replay(&cfg, &log, &[])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Acquisition is finished"), "{stderr}");
    let store = cs_store::Store::open(&cs_store::StoreConfig::sqlite(
        dir.path().join("data/crowdsec.db"),
    ))
    .await
    .unwrap();
    let stored = store.count_alerts().await.unwrap();
    store.close().await;
    let pushed = stderr
        .split("alerts_pushed=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("a summary with alerts_pushed");
    assert!(pushed > 0, "{stderr}");
    assert_eq!(stored, pushed);
}
