//! `crowdsec -no-api -dsn file://… -type syslog` (forensic replay) against a LAPI run by
//! `crowdsec -no-cs`, with the sshd hub items installed in a temp config dir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cs_apiclient::{ClientOptions, WatcherClient};

mod common;
use common::{free_port, install, shared};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");
const MACHINE: &str = "replay-agent";
const PASSWORD: &str = "replay-agent-password";

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

/// [`replay`] on a blocking thread, so that a LAPI of this test's runtime keeps serving.
async fn replay_in_background(cfg: &Path, log: &Path, extra: &[&str]) -> Output {
    let (cfg, log) = (cfg.to_owned(), log.to_owned());
    let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        replay(&cfg, &log, &extra)
    })
    .await
    .unwrap()
}

/// [`replay_in_background`] that must succeed; its stderr.
async fn replay_ok(cfg: &Path, log: &Path, extra: &[&str]) -> String {
    let out = replay_in_background(cfg, log, extra).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
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

    let stderr = replay_ok(&cfg, &log, &["-no-api"]).await;
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
    let stderr = replay_ok(&cfg, &log, &[]).await;
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

/// GET `path` on `127.0.0.1:port` with a bare HTTP/1.0 request; the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn replay_metrics_hold_the_final_counters_after_the_acquisition() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let (port, prom) = (free_port(), free_port());
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "prometheus:\n  enabled: true\n  level: full\n  listen_addr: 127.0.0.1\n  listen_port: {prom}\n"
    ));
    std::fs::write(&cfg, text).unwrap();
    add_machine(dir.path()).await;
    let log = corpus(dir.path(), 2000);
    let dsn = format!("file://{}", log.display());
    let scrape = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap(), "-dsn", &dsn, "-type", "syslog"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut body = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            // The endpoint stays up after the acquisition until a scrape reads it.
            if body.is_none() && line.contains("Acquisition is finished") {
                body = Some(http_get(prom, "/metrics"));
            }
        }
        (child.wait().unwrap(), body)
    });
    let (status, body) = scrape.await.unwrap();
    assert!(status.success());
    let body = body.expect("a log line telling the acquisition is finished");
    let hits = body
        .lines()
        .find(|l| l.starts_with("cs_filesource_hits_total{"))
        .unwrap_or_else(|| panic!("no file hits in\n{body}"));
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(
        hits.ends_with(&format!(" {lines}")),
        "{lines} lines: {hits}"
    );
    assert!(hits.contains(&log.display().to_string()), "{hits}");
}

/// Points the config at the shared hub as its hub directory and index, so that the symlinks
/// `setup` installed are hub items (with a version).
fn use_shared_hub(cfg: &Path) {
    let hub = std::fs::canonicalize(shared().join("hub")).unwrap();
    let text = std::fs::read_to_string(cfg).unwrap().replacen(
        "config_paths:\n",
        &format!(
            "config_paths:\n  hub_dir: {}\n  index_path: {}/.index.json\n",
            hub.display(),
            hub.display()
        ),
        1,
    );
    std::fs::write(cfg, text).unwrap();
}

#[tokio::test]
async fn replay_alerts_carry_context_and_hub_version_and_states_are_dumped() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let cfg = setup(dir.path(), port, &url);
    use_shared_hub(&cfg);
    // A hub context item (target_user) and the console context file (the source IP).
    std::fs::create_dir_all(dir.path().join("contexts")).unwrap();
    std::os::unix::fs::symlink(
        shared().join("hub/contexts/crowdsecurity/bf_base.yaml"),
        dir.path().join("contexts/bf_base.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("console")).unwrap();
    std::fs::write(
        dir.path().join("console/context.yaml"),
        "ip:\n- evt.Meta.source_ip\ntarget_user:\n- evt.Meta.target_user\n",
    )
    .unwrap();
    add_machine(dir.path()).await;
    let log = corpus(dir.path(), 600);
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

    let dump_dir = dir.path().join("dump");
    let stderr = replay_ok(
        &cfg,
        &log,
        &["-no-api", "-dump-data", dump_dir.to_str().unwrap()],
    )
    .await;

    let alerts = watcher
        .alerts(&[("limit".into(), "0".into())])
        .await
        .unwrap();
    assert!(!alerts.is_empty(), "no alert\n{stderr}");
    let file = shared().join("hub/scenarios/crowdsecurity/ssh-bf.yaml");
    let hash = cs_hub::sha256_hex(&std::fs::read(&file).unwrap());
    let index = cs_hub::Index::load(&shared().join("hub/.index.json")).unwrap();
    let version = index
        .get(cs_hub::ItemType::Scenarios, "crowdsecurity/ssh-bf")
        .unwrap()
        .version
        .clone();
    let text = std::fs::read_to_string(&log).unwrap();
    for alert in &alerts {
        assert_eq!(alert.scenario_hash.as_deref(), Some(hash.as_str()));
        assert_eq!(alert.scenario_version.as_deref(), Some(version.as_str()));
        let ip = alert.source.as_ref().unwrap().ip.clone();
        let meta: std::collections::BTreeMap<&str, &str> = alert
            .meta
            .iter()
            .map(|m| (m.key.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            meta.get("ip").copied(),
            Some(format!("[\"{ip}\"]").as_str())
        );
        // Each user of the context was tried by this IP, and no user is listed twice.
        let users: Vec<String> = context_values(meta["target_user"]);
        assert!(!users.is_empty());
        let mut unique = users.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), users.len(), "{users:?}");
        for user in &users {
            assert!(
                text.lines()
                    .any(|l| l.contains(&format!(" {user} from {ip} "))),
                "{user} from {ip} not in the log"
            );
        }
    }

    let parser_dump = std::fs::read_to_string(dump_dir.join("parser-dump.yaml")).unwrap();
    assert!(
        parser_dump.starts_with("s00-raw:\n"),
        "{}",
        &parser_dump[..200]
    );
    assert!(parser_dump.contains("\n  crowdsecurity/sshd-logs:\n  - idx: "));
    assert!(parser_dump.contains("success: true"));
    let overflows = std::fs::read_to_string(dump_dir.join("bucket-dump.yaml")).unwrap();
    assert!(overflows.starts_with("- Line:\n"), "{}", &overflows[..200]);
    assert!(overflows.contains("\n  Type: 1\n"));
    assert!(
        overflows.matches("\n  Overflow:\n").count() >= alerts.len()
            && overflows.contains("      scenariohash: "),
        "every pushed alert is in the dump:\n{}",
        &overflows[..overflows.len().min(1500)]
    );
    let pours = std::fs::read_to_string(dump_dir.join("bucketpour-dump.yaml")).unwrap();
    assert!(pours.starts_with("OK:\n"));
    assert!(pours.contains("\ncrowdsecurity/ssh-bf:\n"));
}

/// The strings of a JSON array of strings (context values), without a JSON dependency: the
/// usernames of the corpus have no quotes or commas.
fn context_values(value: &str) -> Vec<String> {
    value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `name=value` field of the replay summary log line.
fn summary_field(stderr: &str, name: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains("replay summary"))?;
    line.split(&format!(" {name}="))
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test]
async fn replay_survives_garbage_long_lines_and_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    add_machine(dir.path()).await;
    let clean = corpus(dir.path(), 2000);
    let text = std::fs::read(&clean).unwrap();
    let head_end = text[..text.len() / 2]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    let mut bad = text[..head_end].to_vec();
    // A 2 MiB line, binary garbage, a line cut in the middle of a UTF-8 sequence, NULs,
    // empty lines, and an sshd line whose user name is not UTF-8.
    bad.extend(std::iter::repeat_n(b'A', 2 << 20));
    bad.push(b'\n');
    bad.extend((0..=255u8).cycle().take(4096).filter(|b| *b != b'\n'));
    bad.push(b'\n');
    bad.extend_from_slice("caf\u{e9}".as_bytes().split_last().unwrap().1);
    bad.extend_from_slice(b"\n\0\0\0\n\n\n");
    bad.extend_from_slice(
        b"Mar  2 18:00:00 web-prod-1 sshd[1]: Failed password for invalid user \xff\xfe from 192.0.2.77 port 22 ssh2\n",
    );
    bad.extend_from_slice(&text[head_end..]);
    let log = dir.path().join("bad.log");
    std::fs::write(&log, &bad).unwrap();

    let stderr = replay_ok(&cfg, &log, &[]).await;
    assert_eq!(
        summary_field(&stderr, "skipped_too_long"),
        Some(1),
        "{stderr}"
    );
    assert_eq!(summary_field(&stderr, "invalid_utf8"), Some(3), "{stderr}");
    let clean_lines = text.iter().filter(|b| **b == b'\n').count() as u64;
    // The long line is skipped and empty lines dropped: the clean lines and the 4 other bad
    // ones reach the parsers.
    assert_eq!(
        summary_field(&stderr, "lines_read"),
        Some(clean_lines + 4),
        "{stderr}"
    );
    assert!(
        summary_field(&stderr, "alerts_pushed").unwrap_or(0) > 0,
        "{stderr}"
    );
    assert!(
        !stderr.contains(" lines ("),
        "no progress output off a terminal"
    );
}

#[tokio::test]
async fn replay_transform_rewrites_lines_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port, &format!("http://127.0.0.1:{port}/"));
    add_machine(dir.path()).await;
    let clean = corpus(dir.path(), 2000);
    // Pairs of lines joined into one: only a transform that splits them back restores them.
    let text = std::fs::read_to_string(&clean).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let joined: String = lines.chunks(2).map(|c| c.join(" ;; ") + "\n").collect();
    let log = dir.path().join("joined.log");
    std::fs::write(&log, joined).unwrap();

    let plain_err = replay_ok(&cfg, &clean, &[]).await;
    let split_err = replay_ok(&cfg, &log, &["-transform", "split(evt.Line.Raw, ' ;; ')"]).await;
    let untouched_err = replay_ok(&cfg, &log, &[]).await;

    // Lines read count what the file holds; the parsers see the split lines.
    assert_eq!(
        summary_field(&split_err, "lines_read"),
        Some(lines.len().div_ceil(2) as u64),
        "{split_err}"
    );
    for field in ["parsed", "overflows", "alerts_pushed"] {
        assert_eq!(
            summary_field(&split_err, field),
            summary_field(&plain_err, field),
            "{field}: {split_err}\n{plain_err}"
        );
    }
    assert!(
        summary_field(&split_err, "overflows").unwrap_or(0) > 0,
        "{split_err}"
    );
    assert!(
        summary_field(&untouched_err, "overflows") < summary_field(&split_err, "overflows"),
        "{untouched_err}"
    );

    let bad = replay_in_background(&cfg, &log, &["-transform", "evt.Line.Nope"]).await;
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("-transform: transform: cannot compile expression"),
        "{err}"
    );
}
