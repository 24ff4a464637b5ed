//! The `crowdsec` binary in a temp dir on loopback: flags, config test, and `-no-cs` serving
//! the Local API to a machine and a bouncer.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

use cs_apiclient::{BouncerClient, ClientOptions, WatcherClient};
use cs_models::{Alert, Decision, Source};

mod common;
use common::{free_port, sqlite_db_config, write_lapi_config};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");

/// A config dir with sqlite, default profiles and the LAPI on `port`.
fn setup(dir: &Path, port: u16) -> std::path::PathBuf {
    write_lapi_config(dir, port, "info", &sqlite_db_config(dir))
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn version_flag_prints_version_line() {
    let out = run(&["-version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("version: v"), "{text}");
}

#[test]
fn unknown_flag_exits_2_like_go() {
    let out = run(&["-nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -nope"));
}

#[test]
fn config_test_reports_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path(), free_port());
    let c = cfg.to_str().unwrap();
    let out = run(&["-c", c, "-no-cs", "-t"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Configuration test done\n"
    );

    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("listen_uri:", "listen_url:");
    std::fs::write(&cfg, text).unwrap();
    let out = run(&["-c", c, "-no-cs", "-t"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.yaml:19:5"), "{err}");
    assert!(err.contains("did you mean `listen_uri`?"), "{err}");
}

#[test]
fn broken_acquisition_file_is_reported_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path(), free_port());
    let acquis = dir.path().join("acquis.yaml");
    std::fs::write(
        &acquis,
        "filenames:\n  - /var/log/auth.log\nlabels:\n  type: syslog\n---\nsource: syslog\nlabels:\n  type: syslog\nlisten_port: notaport\n",
    )
    .unwrap();
    let out = run(&["-c", cfg.to_str().unwrap(), "-t"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:9", acquis.display())), "{err}");
    assert!(err.contains("listen_port"), "{err}");
}

#[test]
fn bad_transform_expression_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path(), free_port());
    let acquis = dir.path().join("acquis.yaml");
    std::fs::write(
        &acquis,
        "filenames:\n  - /var/log/auth.log\nlabels:\n  type: syslog\n---\nfilenames:\n  - /var/log/syslog\nlabels:\n  type: syslog\ntransform: evt.Line.Nope\n",
    )
    .unwrap();
    let out = run(&["-c", cfg.to_str().unwrap(), "-t"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:6: transform: cannot compile expression \"evt.Line.Nope\"",
            acquis.display()
        )),
        "{err}"
    );
    assert!(err.contains("has no field Nope"), "{err}");

    // A valid one passes the config test.
    let text = std::fs::read_to_string(&acquis)
        .unwrap()
        .replace("evt.Line.Nope", "lower(evt.Line.Raw)");
    std::fs::write(&acquis, text).unwrap();
    let out = run(&["-c", cfg.to_str().unwrap(), "-t"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn empty_acquisition_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path(), free_port());
    std::fs::write(dir.path().join("acquis.yaml"), "").unwrap();
    let out = run(&["-c", cfg.to_str().unwrap(), "-t"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no datasource enabled"), "{err}");
}

/// `dist/crowdsec.service` with its binary path pointed at the binary under test (the unit
/// names `/usr/bin/crowdsec`, which `systemd-analyze verify` requires to exist).
#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dist/crowdsec.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStartPre=/usr/bin/crowdsec -c /etc/crowdsec/config.yaml -t"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.service");
    std::fs::write(&path, unit.replace("/usr/bin/crowdsec", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze is needed (Debian package `systemd`)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("crowdsec.service"), "{err}");
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn manual_ban(ip: &str) -> Alert {
    Alert {
        capacity: Some(0),
        decisions: Some(vec![Decision {
            duration: Some("1h".into()),
            origin: Some("cscli".into()),
            scenario: Some("test ban".into()),
            scope: Some("Ip".into()),
            r#type: Some("ban".into()),
            value: Some(ip.into()),
            ..Decision::default()
        }]),
        events: Some(vec![]),
        events_count: Some(1),
        leakspeed: Some("0".into()),
        message: Some("test ban".into()),
        scenario: Some("test ban".into()),
        scenario_hash: Some(String::new()),
        scenario_version: Some(String::new()),
        simulated: Some(false),
        source: Some(Source {
            ip: ip.into(),
            scope: Some("Ip".into()),
            value: Some(ip.into()),
            ..Source::default()
        }),
        start_at: Some(chrono::Utc::now().to_rfc3339()),
        stop_at: Some(chrono::Utc::now().to_rfc3339()),
        ..Alert::default()
    }
}

#[tokio::test]
async fn no_cs_serves_the_local_api_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(dir.path(), port);
    {
        let store = cs_store::Store::open(&cs_store::StoreConfig::sqlite(
            dir.path().join("data/crowdsec.db"),
        ))
        .await
        .unwrap();
        store
            .create_machine(&cs_store::NewMachine {
                machine_id: "m1".into(),
                password: "pw".into(),
                is_validated: true,
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .create_bouncer(&cs_store::NewBouncer {
                name: "b1".into(),
                api_key: "key1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
    }
    let mut daemon = Daemon(
        Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap(), "-no-cs"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let opts = ClientOptions::new(format!("http://127.0.0.1:{port}/"));
    let watcher = WatcherClient::new(&opts, "m1", "pw").unwrap();
    let mut ids = None;
    for _ in 0..100 {
        match watcher.push_alerts(&[manual_ban("192.0.2.7")]).await {
            Ok(v) => {
                ids = Some(v);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(ids.expect("LAPI never answered").len(), 1);

    let bouncer = BouncerClient::new(&opts, "key1").unwrap();
    let stream = bouncer.stream(true, &[]).await.unwrap();
    let new = stream.new.unwrap_or_default();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].get_value(), "192.0.2.7");

    let status = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exited.expect("daemon did not stop on SIGTERM").success());
}
