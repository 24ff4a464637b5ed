//! `cscli notifications` end to end: `list` and `inspect` on a notification directory and
//! profiles in a temp dir, `test` and `reinject` through upstream's real `http` plugin (from
//! the reference install, `$CS_REF_ROOT`, default `/opt/crowdsec-ref`) to a loopback HTTP
//! server, `reinject` reading the alert from an in-process Local API. Under `CI=true` a missing
//! plugin binary fails the tests that need it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

mod common;
use common::{Env, err, err_async, ok, ok_async};

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

const PROFILES: &str = "name: notify_ip\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\" && GetDecisionsCount(Alert.GetValue()) > 0\ndecisions:\n - type: ban\n   duration: 4h\nnotifications:\n - http_main\non_success: break\n---\nname: notify_range\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Range\"\nnotifications:\n - http_main\n";

/// A configuration directory: `http_main` (used by both profiles) and `http_spare` (unused) post
/// to `hook_port`, `http_down` to a port nothing listens on. With `plugin`, a private copy of
/// it is the `http` plugin.
fn setup(hook_port: u16, lapi_port: u16, plugin: Option<&Path>) -> Env {
    Env::new(|root| config_dir(root, hook_port, lapi_port, plugin))
}

/// The files of [`setup`]'s config dir; the text of its `config.yaml`.
fn config_dir(root: &Path, hook_port: u16, lapi_port: u16, plugin: Option<&Path>) -> String {
    // The plugin may run as nobody (plugin_config): it must reach its binary.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["data", "plugins", "notifications"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    if let Some(p) = plugin {
        let bin = root.join("plugins/notification-http");
        std::fs::copy(p, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        root.join("notifications/http.yaml"),
        format!(
            "type: http\nname: http_main\nlog_level: info\nformat: |\n  {{{{range .}}}}{{{{.Scenario}}}} {{{{.Source.Value}}}} remediation={{{{.Remediation}}}}{{{{end}}}}\nurl: http://127.0.0.1:{hook_port}/main\nmethod: POST\nheaders:\n  X-Test: yes\n---\ntype: http\nname: http_spare\ngroup_wait: 1h\ntimeout: 7s\nformat: '{{{{range .}}}}{{{{.Scenario}}}} {{{{.Source.IP}}}} {{{{range .Decisions}}}}{{{{.Type}}}} {{{{.Duration}}}}{{{{end}}}}{{{{end}}}}'\nurl: http://127.0.0.1:{hook_port}/spare\nmethod: PUT\n---\ntype: http\nname: http_down\nformat: 'x'\nurl: http://127.0.0.1:{closed}/\nmethod: POST\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("profiles.yaml"), PROFILES).unwrap();
    let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let plugin_config = if root_user {
        "plugin_config:\n  user: nobody\n  group: nogroup\n"
    } else {
        "plugin_config:\n  user: \"\"\n  group: \"\"\n"
    };
    let d = root.display();
    format!(
        "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\n  notification_dir: {d}/notifications\n  plugin_dir: {d}/plugins\n{plugin_config}db_config:\n  type: sqlite\n  db_path: {d}/data/crowdsec.db\napi:\n  client:\n    credentials_path: {d}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{lapi_port}\n    profiles_path: {d}/profiles.yaml\n"
    )
}

/// A loopback HTTP/1.1 server answering 200; each request's line, headers and body are sent
/// on the channel before the answer.
async fn http_server() -> (u16, mpsc::UnboundedReceiver<(String, String, String)>) {
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
                    let mut headers = String::new();
                    loop {
                        let mut h = String::new();
                        if rd.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        headers.push_str(h);
                        headers.push('\n');
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
                        headers,
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

#[test]
fn list_and_inspect_show_notifications_with_their_profiles() {
    let env = setup(9, 8080, None);
    let human = ok(&env, &["notifications", "list"]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(
        lines[1].contains("Active") && lines[1].contains("Profile name"),
        "{human}"
    );
    assert!(
        lines[3].contains("✔️") && lines[3].contains("http_main"),
        "used notification first: {human}"
    );
    assert!(lines[3].contains("notify_ip, notify_range"), "{human}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("🚫") && l.contains("│ http_spare │ http │")),
        "{human}"
    );

    let raw = ok(&env, &["notifications", "list", "-o", "raw"]);
    assert_eq!(
        raw,
        "Name,Type,Profile name\nhttp_down,http,\nhttp_main,http,\"notify_ip, notify_range\"\nhttp_spare,http,\n"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ok(&env, &["notifications", "list", "-o", "json"])).unwrap();
    let main = &json["http_main"];
    assert_eq!(main["plugin_config"]["Type"], "http");
    assert_eq!(main["plugin_config"]["TimeOut"], 5_000_000_000u64);
    assert_eq!(main["plugin_config"]["Config"]["headers"]["X-Test"], "yes");
    let profiles: Vec<&str> = main["associated_profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["notify_ip", "notify_range"]);
    assert_eq!(
        main["associated_profiles"][0]["Decisions"][0]["type"],
        "ban"
    );
    assert_eq!(
        json["http_spare"]["associated_profiles"],
        serde_json::Value::Null
    );
    assert_eq!(
        json["http_spare"]["plugin_config"]["GroupWait"],
        3_600_000_000_000u64
    );

    let inspect = ok(&env, &["notifications", "inspect", "http_spare"]);
    let expected = format!(
        " - {:>15}: {:>15}\n - {:>15}: {:>15}\n - {:>15}: {:>15}\n",
        "Type", "http", "Name", "http_spare", "Timeout", "7s"
    );
    assert!(inspect.starts_with(&expected), "{inspect}");
    assert!(
        inspect.contains(&format!(" - {:>15}: {:>15}\n", "method", "PUT")),
        "{inspect}"
    );
    let inspect = ok(&env, &["notifications", "inspect", "http_main"]);
    assert!(
        inspect.contains(&format!(
            " - {:>15}: map[{:>15}:{:>15}]\n",
            "headers", "X-Test", "yes"
        )),
        "{inspect}"
    );
    let one: serde_json::Value = serde_json::from_str(&ok(
        &env,
        &["notifications", "inspect", "http_main", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(one, json["http_main"]);

    let e = err(&env, &["notifications", "inspect", "nope"]);
    assert!(
        e.contains("plugin 'nope' does not exist or is not active"),
        "{e}"
    );
    let e = err(&env, &["notifications", "test", "nope"]);
    assert!(e.contains("plugin name: 'nope' does not exist"), "{e}");
}

#[test]
fn profile_naming_an_undefined_notification_is_an_error() {
    let env = setup(9, 8080, None);
    std::fs::write(
        env.root.join("profiles.yaml"),
        PROFILES.replace("- http_main\non_success", "- http_typo\non_success"),
    )
    .unwrap();
    let e = err(&env, &["notifications", "list"]);
    assert!(
        e.contains("notification plugin 'http_typo' does not exist"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sends_the_generic_alert_through_the_plugin() {
    let Some(plugin) = http_plugin() else { return };
    let (hook_port, mut hook) = http_server().await;
    let env = setup(hook_port, 8080, Some(&plugin));

    // Not used by any profile, grouped for an hour: sent at once all the same.
    ok_async(&env, &["notifications", "test", "http_spare"]).await;
    let (line, _, body) = hook.try_recv().expect("delivered before cscli returned");
    assert_eq!(line, "PUT /spare HTTP/1.1");
    assert_eq!(body, "test alert 10.10.10.10 ban 4h");

    ok_async(
        &env,
        &[
            "notification",
            "test",
            "http_spare",
            "-a",
            r#"{"scenario": "my/test", "source": {"ip": "192.0.2.9"}}"#,
        ],
    )
    .await;
    let (_, _, body) = hook.try_recv().expect("delivered before cscli returned");
    assert_eq!(body, "my/test 192.0.2.9 ban 4h");

    let (_, headers, body) = {
        ok_async(&env, &["notifications", "test", "http_main"]).await;
        hook.try_recv().expect("delivered before cscli returned")
    };
    assert!(headers.contains("X-Test: yes"), "{headers}");
    assert_eq!(body, "test alert 10.10.10.10 remediation=false\n");

    let e = err_async(&env, &["notifications", "test", "http_down"]).await;
    assert!(
        e.contains("while sending the test alert to http_down"),
        "{e}"
    );
    let e = err_async(&env, &["notifications", "test", "http_spare", "-a", "[1]"]).await;
    assert!(e.contains("alert flag"), "{e}");
}

async fn start_lapi(root: &Path) -> u16 {
    let store = cs_store::Store::open(&cs_store::StoreConfig::sqlite(
        root.join("data/crowdsec.db"),
    ))
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = cs_lapi::Server::new(
        cs_lapi::ServerOptions::default(),
        store,
        cs_lapi::Profiles::default_profiles(),
    )
    .unwrap();
    tokio::spawn(server.serve_on(Some(listener), std::future::pending()));
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinject_runs_a_stored_alert_through_the_profiles() {
    let Some(plugin) = http_plugin() else { return };
    let (hook_port, mut hook) = http_server().await;
    let placeholder = setup(hook_port, 0, Some(&plugin));
    let lapi_port = start_lapi(&placeholder.root).await;
    let text = std::fs::read_to_string(&placeholder.cfg)
        .unwrap()
        .replace("127.0.0.1:0\n", &format!("127.0.0.1:{lapi_port}\n"));
    std::fs::write(&placeholder.cfg, text).unwrap();
    let env = placeholder;
    ok_async(
        &env,
        &["machines", "add", "admin", "--password", "pw", "--force"],
    )
    .await;
    ok_async(
        &env,
        &["decisions", "add", "-i", "192.0.2.50", "-R", "manual-test"],
    )
    .await;
    let alerts = ok_async(&env, &["alerts", "list", "-o", "raw"]).await;
    let id = alerts
        .lines()
        .find(|l| l.contains("192.0.2.50"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_owned();

    // Remediation is forced on and the IP has a decision in the database: notify_ip matches
    // and stops there, http_main gets it once.
    ok_async(&env, &["notifications", "reinject", &id]).await;
    let (line, _, body) = hook.try_recv().expect("delivered before cscli returned");
    assert_eq!(line, "POST /main HTTP/1.1");
    assert_eq!(body, "manual-test 192.0.2.50 remediation=true\n");
    assert!(hook.try_recv().is_err(), "on_success: break");

    // -r: remediation false, no profile matches.
    let out = ok_async(&env, &["notifications", "reinject", &id, "-r"]).await;
    assert!(
        out.contains("no profile with notifications matched"),
        "{out}"
    );
    assert!(hook.try_recv().is_err());

    // -a overrides fields; a Range scope reaches the second profile.
    ok_async(
        &env,
        &[
            "notifications",
            "reinject",
            &id,
            "-a",
            r#"{"scenario":"notification/test","source":{"scope":"Range","value":"192.0.2.0/24"}}"#,
        ],
    )
    .await;
    let (_, _, body) = hook.try_recv().expect("delivered before cscli returned");
    assert_eq!(body, "notification/test 192.0.2.0/24 remediation=true\n");

    let e = err_async(&env, &["notifications", "reinject", "999"]).await;
    assert!(e.contains("can't find alert with id 999"), "{e}");
    let e = err_async(&env, &["notifications", "reinject", "abc"]).await;
    assert!(e.contains("bad alert id abc"), "{e}");
}
