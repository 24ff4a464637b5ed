//! Notification plugins through the daemon: `crowdsec -no-cs` with a profile listing an `http`
//! notification runs upstream's real `http` plugin (from the reference install, `$CS_REF_ROOT`,
//! default `/opt/crowdsec-ref`), and an alert pushed to the Local API arrives at a loopback HTTP
//! server with the templated body; SIGTERM stops the plugin with the daemon. Under `CI=true` a
//! missing plugin binary fails the test.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cs_apiclient::{ClientOptions, WatcherClient};
use cs_models::{Alert, Source};
use cs_store::{NewMachine, Store, StoreConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

mod common;
use common::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");

fn http_plugin() -> Option<PathBuf> {
    let root = std::env::var("CS_REF_ROOT").unwrap_or_else(|_| "/opt/crowdsec-ref".into());
    let bin = Path::new(&root).join("usr/lib/crowdsec/plugins/http");
    if bin.is_file() {
        return Some(bin);
    }
    let msg = format!(
        "upstream http notification plugin not found at {} (run ../shared/bench/install-reference.sh)",
        bin.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipping: {msg}");
    None
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback HTTP/1.1 server answering 200; each request body is sent on the channel.
async fn http_server() -> (u16, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                loop {
                    let mut request_line = String::new();
                    if rd.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if rd.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if rd.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let _ = tx.send((
                        request_line.trim_end().to_owned(),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if wr.write_all(ok.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

/// Processes whose executable is `path`.
fn processes_running(path: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(entry.path().join("exe")).is_ok_and(|exe| exe == path) {
            pids.push(pid);
        }
    }
    pids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_reaches_http_plugin_through_profile_notifications() {
    let Some(plugin) = http_plugin() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The plugin may run as nobody (plugin_config): it must reach its binary.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = dir.path();
    let plugins = d.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(d.join("notifications")).unwrap();
    std::fs::create_dir_all(d.join("data")).unwrap();
    // A private copy, so that its processes can be told apart from other tests'.
    let bin = plugins.join("notification-http");
    std::fs::copy(&plugin, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (hook_port, mut hook) = http_server().await;
    std::fs::write(
        d.join("notifications/http.yaml"),
        format!(
            "type: http\nname: http_e2e\nlog_level: info\nformat: |\n  {{{{range .}}}}{{{{$a := .}}}}{{{{range .Decisions}}}}{{{{.Value}}}} will get {{{{.Type}}}} for next {{{{.Duration}}}} for triggering {{{{.Scenario}}}} on machine '{{{{$a.MachineID}}}}'.{{{{end}}}}{{{{end}}}}\nurl: http://127.0.0.1:{hook_port}/hook\nmethod: POST\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("profiles.yaml"),
        "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\nnotifications:\n - http_e2e\non_success: break\n",
    )
    .unwrap();
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let plugin_config = if root {
        "plugin_config:\n  user: nobody\n  group: nogroup\n"
    } else {
        "plugin_config:\n  user: \"\"\n  group: \"\"\n"
    };
    let port = free_port();
    let dd = d.display();
    let cfg = d.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "common:\n  log_media: stdout\n  log_level: info\nconfig_paths:\n  config_dir: {dd}\n  data_dir: {dd}/data\n  notification_dir: {dd}/notifications\n  plugin_dir: {dd}/plugins\n{plugin_config}crowdsec_service:\n  acquisition_path: {dd}/acquis.yaml\ndb_config:\n  type: sqlite\n  db_path: {dd}/data/crowdsec.db\napi:\n  client:\n    credentials_path: {dd}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{port}\n    profiles_path: {dd}/profiles.yaml\n"
        ),
    )
    .unwrap();
    let store_config = StoreConfig::from_db_type(
        "sqlite",
        Some(&d.join("data/crowdsec.db")),
        None,
        cs_store::ServerConfig::default(),
    )
    .unwrap();
    let store = Store::open(&store_config).await.unwrap();
    store
        .create_machine(&NewMachine {
            machine_id: "agent-n".into(),
            password: "notify-test-password".into(),
            is_validated: true,
            ..NewMachine::default()
        })
        .await
        .unwrap();
    store.close().await;

    let mut daemon = Daemon(
        Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap(), "-no-cs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let opts = ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::new(format!("http://127.0.0.1:{port}/"))
    };
    let watcher = WatcherClient::new(&opts, "agent-n", "notify-test-password").unwrap();
    let mut up = false;
    for _ in 0..150 {
        if watcher.login().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the LAPI did not accept the machine's login");
    assert_eq!(processes_running(&bin).len(), 1, "one http plugin process");

    let now = chrono::Utc::now().to_rfc3339();
    let alert = Alert {
        capacity: Some(5),
        events: Some(vec![]),
        events_count: Some(6),
        leakspeed: Some("10s".into()),
        message: Some("Ip 192.0.2.77 performed 'crowdsecurity/ssh-bf'".into()),
        remediation: true,
        scenario: Some("crowdsecurity/ssh-bf".into()),
        scenario_hash: Some(String::new()),
        scenario_version: Some("0.1".into()),
        simulated: Some(false),
        source: Some(Source {
            ip: "192.0.2.77".into(),
            scope: Some("Ip".into()),
            value: Some("192.0.2.77".into()),
            ..Source::default()
        }),
        start_at: Some(now.clone()),
        stop_at: Some(now),
        ..Alert::default()
    };
    watcher.push_alerts(&[alert]).await.unwrap();
    let (line, body) = tokio::time::timeout(Duration::from_secs(30), hook.recv())
        .await
        .expect("no notification within 30s")
        .unwrap();
    assert_eq!(line, "POST /hook HTTP/1.1");
    assert_eq!(
        body,
        "192.0.2.77 will get ban for next 4h for triggering crowdsecurity/ssh-bf on machine 'agent-n'.\n"
    );

    // SIGTERM: the daemon stops its plugin before exiting.
    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut exited = false;
    for _ in 0..150 {
        if daemon.0.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exited, "crowdsec did not exit on SIGTERM");
    assert_eq!(
        processes_running(&bin),
        Vec::<u32>::new(),
        "plugin left running"
    );
}
