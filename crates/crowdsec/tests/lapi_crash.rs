//! `kill -9` of `crowdsec -no-cs` during a burst of alert pushes from concurrent machines:
//! after a restart every alert the LAPI acknowledged with 201 is stored, with its decision,
//! and the database is sound (SQLite in WAL mode, and PostgreSQL).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cs_apiclient::{ClientOptions, WatcherClient};
use cs_models::{Alert, Decision, Source};
use cs_store::{NewMachine, ServerConfig, Store, StoreConfig};

mod common;
use common::{free_port, write_lapi_config};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");
/// Default PostgreSQL server of the test suite (override with `CS_TEST_POSTGRES_URL`).
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Concurrent machines pushing alerts.
const CLIENTS: usize = 6;
/// Acknowledged alerts to wait for before the kill.
const ACKED_BEFORE_KILL: usize = 60;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A PostgreSQL database created for one test and dropped afterwards.
struct PgDb {
    admin_url: String,
    server: ServerConfig,
}

impl PgDb {
    fn create() -> Self {
        let admin_url =
            std::env::var("CS_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned());
        let rest = admin_url
            .split_once("://")
            .map_or(admin_url.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .unwrap_or(("postgres", authority));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
        let db_name = format!("cs_lapi_crash_{}_{}", std::process::id(), free_port());
        psql(&admin_url, &format!("CREATE DATABASE {db_name}"));
        let server = ServerConfig {
            host: host.to_owned(),
            port: Some(port.parse().unwrap()),
            user: user.to_owned(),
            password: password.to_owned(),
            db_name,
            sslmode: Some("disable".to_owned()),
            ..ServerConfig::default()
        };
        PgDb { admin_url, server }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.admin_url.as_str(),
                "-q",
                "-c",
                &format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.server.db_name
                ),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn psql(url: &str, stmt: &str) {
    let out = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", stmt])
        .output()
        .expect("psql (PostgreSQL client) is needed by this test");
    assert!(
        out.status.success(),
        "psql {stmt}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes the daemon's config for `db_config` (YAML lines under `db_config:`) and `port`.
fn setup(dir: &Path, port: u16, db_config: &str) -> std::path::PathBuf {
    write_lapi_config(dir, port, "warning", db_config)
}

fn start(cfg: &Path) -> Daemon {
    Daemon(
        Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap(), "-no-cs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// An alert about `ip` carrying its own ban, as the agent sends after an overflow.
fn alert(ip: &str) -> Alert {
    let now = chrono::Utc::now().to_rfc3339();
    Alert {
        capacity: Some(5),
        decisions: Some(vec![Decision {
            duration: Some("4h".into()),
            origin: Some("crowdsec".into()),
            scenario: Some("crowdsecurity/ssh-bf".into()),
            scope: Some("Ip".into()),
            r#type: Some("ban".into()),
            value: Some(ip.into()),
            ..Decision::default()
        }]),
        events: Some(vec![]),
        events_count: Some(6),
        leakspeed: Some("10s".into()),
        message: Some(format!("Ip {ip} performed 'crowdsecurity/ssh-bf'")),
        scenario: Some("crowdsecurity/ssh-bf".into()),
        scenario_hash: Some(String::new()),
        scenario_version: Some("0.1".into()),
        simulated: Some(false),
        source: Some(Source {
            ip: ip.into(),
            scope: Some("Ip".into()),
            value: Some(ip.into()),
            ..Source::default()
        }),
        start_at: Some(now.clone()),
        stop_at: Some(now),
        ..Alert::default()
    }
}

async fn login_when_up(watcher: &WatcherClient) {
    for _ in 0..150 {
        if watcher.login().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the LAPI did not accept the machine's login");
}

/// Registers the machines, runs the burst, kills the LAPI with SIGKILL, restarts it and checks
/// that every acknowledged alert is there.
async fn acknowledged_alerts_survive_kill(dir: &Path, store_config: &StoreConfig, db_yaml: &str) {
    {
        let store = Store::open(store_config).await.unwrap();
        for c in 0..CLIENTS {
            store
                .create_machine(&NewMachine {
                    machine_id: format!("agent{c}"),
                    password: "crash-test-password".into(),
                    is_validated: true,
                    ..NewMachine::default()
                })
                .await
                .unwrap();
        }
        store.close().await;
    }
    let port = free_port();
    let cfg = setup(dir, port, db_yaml);
    let mut daemon = start(&cfg);
    let opts = ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::new(format!("http://127.0.0.1:{port}/"))
    };

    // (alert id, source ip) of every push answered 201.
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let watcher =
            WatcherClient::new(&opts, &format!("agent{c}"), "crash-test-password").unwrap();
        login_when_up(&watcher).await;
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20_000u32 {
                let ip = format!("10.{c}.{}.{}", i / 256, i % 256);
                match watcher.push_alerts(&[alert(&ip)]).await {
                    Ok(ids) => {
                        assert_eq!(ids.len(), 1, "one id per pushed alert");
                        let id: i64 = ids[0].parse().expect("alert ids are integers");
                        acked.lock().unwrap().push((id, ip));
                    }
                    // The LAPI is gone: what was not acknowledged may or may not be stored.
                    Err(_) => return,
                }
            }
        }));
    }
    for _ in 0..600 {
        if acked.lock().unwrap().len() >= ACKED_BEFORE_KILL {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = daemon.0.id().to_string();
    let killed = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(killed.success());
    daemon.0.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= ACKED_BEFORE_KILL,
        "only {} alerts acknowledged before the kill",
        acked.len()
    );

    // The database as the restarted LAPI finds it.
    {
        let store = Store::open(store_config).await.unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), Vec::<String>::new());
        store.close().await;
    }
    let _daemon = start(&cfg);
    let watcher = WatcherClient::new(&opts, "agent0", "crash-test-password").unwrap();
    login_when_up(&watcher).await;
    for (id, ip) in &acked {
        let stored = watcher
            .alert(*id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged alert {id} ({ip}) lost: {e}"));
        assert_eq!(
            stored.source.as_ref().map(|s| s.ip.as_str()),
            Some(ip.as_str())
        );
        assert_eq!(stored.decisions().len(), 1, "decision of alert {id}");
        assert_eq!(stored.decisions()[0].get_value(), ip);
    }
    // The restarted LAPI keeps accepting alerts.
    let ids = watcher.push_alerts(&[alert("192.0.2.99")]).await.unwrap();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn sqlite_wal_keeps_acknowledged_alerts_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/crowdsec.db");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let yaml = format!(
        "  type: sqlite\n  db_path: {}\n  use_wal: true\n",
        db.display()
    );
    acknowledged_alerts_survive_kill(dir.path(), &StoreConfig::sqlite(&db), &yaml).await;
}

#[tokio::test]
async fn postgres_keeps_acknowledged_alerts_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::create();
    let s = &pg.server;
    let yaml = format!(
        "  type: postgresql\n  user: {}\n  password: \"{}\"\n  db_name: {}\n  host: {}\n  port: {}\n  sslmode: disable\n",
        s.user,
        s.password,
        s.db_name,
        s.host,
        s.port.unwrap_or(5432)
    );
    acknowledged_alerts_survive_kill(dir.path(), &StoreConfig::Postgres(s.clone()), &yaml).await;
}
