//! `cscli` end to end in a temp dir: database commands on SQLite, LAPI commands against an
//! in-process Local API on loopback.

use std::path::Path;

mod common;
use common::{Env, err, ok, ok_async};

fn setup(port: u16) -> Env {
    Env::new(|root| {
        std::fs::create_dir_all(root.join("data")).unwrap();
        let d = root.display();
        format!(
            "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ndb_config:\n  type: sqlite\n  db_path: {d}/data/crowdsec.db\napi:\n  client:\n    credentials_path: {d}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{port}\n"
        )
    })
}

#[test]
fn machines_lifecycle_on_the_database() {
    let env = setup(8080);
    ok(&env, &["machines", "add", "m1", "--password", "pw"]);
    let creds = std::fs::read_to_string(env.root.join("local_api_credentials.yaml")).unwrap();
    assert_eq!(
        creds,
        "url: http://127.0.0.1:8080/\nlogin: m1\npassword: pw\n"
    );
    // An existing credentials file is not overwritten without --force.
    assert!(err(&env, &["machines", "add", "m2", "--password", "pw"]).contains("--force"));
    let out = ok(&env, &["machines", "add", "m3", "--auto", "-f", "-"]);
    assert!(
        out.starts_with("url: http://127.0.0.1:8080/\nlogin: "),
        "{out}"
    );
    let raw = ok(&env, &["machines", "list", "-o", "raw"]);
    let mut lines = raw.lines();
    assert_eq!(
        lines.next(),
        Some("machine_id,ip_address,updated_at,validated,version,auth_type,last_heartbeat,os")
    );
    assert_eq!(lines.count(), 2);
    let json = ok(&env, &["machines", "list", "-o", "json"]);
    assert!(json.contains("\"machineId\": \"m1\""), "{json}");
    ok(&env, &["machines", "validate", "m1"]);
    ok(&env, &["machines", "delete", "m1"]);
    assert!(err(&env, &["machines", "delete", "m1"]).contains("m1"));
    ok(&env, &["machines", "delete", "m1", "--ignore-missing"]);
    let human = ok(&env, &["machines", "list"]);
    assert!(!human.contains("│ m1 "), "{human}");
}

#[test]
fn bouncers_add_list_delete_prune() {
    let env = setup(8080);
    let human = ok(&env, &["bouncers", "add", "fw", "-k", "secretkey"]);
    assert!(
        human.contains("API key for 'fw':\n\n   secretkey\n"),
        "{human}"
    );
    let raw_key = ok(&env, &["bouncers", "add", "gen", "-o", "raw"]);
    assert_eq!(raw_key.len(), 43, "{raw_key}");
    let json_key = ok(&env, &["bouncers", "add", "j", "-o", "json"]);
    assert!(json_key.starts_with('"') && json_key.ends_with('"'));
    assert!(err(&env, &["bouncers", "add", "fw"]).contains("fw"));
    let raw = ok(&env, &["bouncers", "list", "-o", "raw"]);
    assert!(raw.starts_with("name,ip,revoked,last_pull,type,version,auth_type\n"));
    assert!(raw.contains("\nfw,,false,,,,api-key\n"), "{raw}");
    ok(&env, &["bouncers", "delete", "gen", "j"]);
    // None of them ever pulled, but they are younger than the 60m default.
    let out = ok(&env, &["bouncers", "prune", "--force"]);
    assert_eq!(out, "No bouncers to prune.\n");
    assert!(err(&env, &["bouncers", "prune", "-d", "1m"]).contains("at least 2 minutes"));
}

#[test]
fn simulation_and_config_show() {
    let env = setup(8080);
    ok(&env, &["simulation", "enable", "crowdsecurity/ssh-bf"]);
    assert_eq!(
        ok(&env, &["simulation", "status"]),
        "global simulation: disabled\nScenarios in simulation mode :\n  - crowdsecurity/ssh-bf\n"
    );
    ok(&env, &["simulation", "disable", "crowdsecurity/ssh-bf"]);
    ok(&env, &["simulation", "enable", "--global"]);
    assert_eq!(
        ok(&env, &["simulation", "status"]),
        "global simulation: enabled\n"
    );
    assert_eq!(
        ok(
            &env,
            &["config", "show", "--key", "Config.API.Server.ListenURI"]
        ),
        "127.0.0.1:8080\n"
    );
    let json = ok(&env, &["config", "show", "-o", "json"]);
    assert!(
        json.contains("\"listen_uri\": \"127.0.0.1:8080\""),
        "{json}"
    );
}

#[test]
fn config_errors_are_located_with_hints() {
    let env = setup(8080);
    let text = std::fs::read_to_string(&env.cfg)
        .unwrap()
        .replace("db_path:", "dbpath:");
    std::fs::write(&env.cfg, text).unwrap();
    let e = err(&env, &["machines", "list"]);
    assert!(e.contains("config.yaml:6:3"), "{e}");
    assert!(e.contains("did you mean `db_path`?"), "{e}");
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
async fn decisions_and_alerts_through_the_local_api() {
    let placeholder = setup(0);
    let port = start_lapi(&placeholder.root).await;
    // Same directory, now pointing at the running LAPI.
    let text = std::fs::read_to_string(&placeholder.cfg)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&placeholder.cfg, text).unwrap();
    let env = placeholder;
    ok_async(
        &env,
        &["machines", "add", "admin", "--password", "pw", "--force"],
    )
    .await;
    ok_async(&env, &["lapi", "status"]).await;

    let out = ok_async(&env, &["decisions", "add", "-i", "192.0.2.1", "-d", "1h"]).await;
    assert!(out.contains("Decision successfully added"), "{out}");
    ok_async(
        &env,
        &[
            "decisions",
            "add",
            "-r",
            "198.51.100.0/24",
            "-R",
            "range ban",
        ],
    )
    .await;
    let raw = ok_async(&env, &["decisions", "list", "-o", "raw"]).await;
    let header = "id,source,ip,reason,action,country,as,events_count,expiration,simulated,alert_id";
    assert!(raw.starts_with(header), "{raw}");
    assert!(
        raw.contains(",cscli,Ip:192.0.2.1,manual 'ban' from 'admin',ban,"),
        "{raw}"
    );
    assert!(
        raw.contains(",cscli,Range:198.51.100.0/24,range ban,ban,"),
        "{raw}"
    );
    let json = ok_async(
        &env,
        &["decisions", "list", "-o", "json", "-i", "192.0.2.1"],
    )
    .await;
    assert!(json.contains("\"value\": \"192.0.2.1\""), "{json}");
    assert!(!json.contains("198.51.100.0/24\""), "{json}");

    let values = env.root.join("ips.txt");
    std::fs::write(&values, "203.0.113.1\n203.0.113.2\n203.0.113.3\n").unwrap();
    let out = ok_async(
        &env,
        &[
            "decisions",
            "import",
            "-i",
            values.to_str().unwrap(),
            "--format",
            "values",
            "--batch",
            "2",
        ],
    )
    .await;
    assert!(out.contains("Imported 3 decisions"), "{out}");
    let raw = ok_async(&env, &["decisions", "list", "-o", "raw"]).await;
    assert_eq!(
        raw.matches(",cscli-import,Ip:203.0.113.").count(),
        3,
        "{raw}"
    );

    let out = ok_async(&env, &["decisions", "delete", "-i", "192.0.2.1"]).await;
    assert!(out.contains("1 decision(s) deleted"), "{out}");
    let human = ok_async(&env, &["decisions", "list", "-i", "192.0.2.1"]).await;
    assert!(human.starts_with("No active decisions"), "{human}");

    let alerts = ok_async(&env, &["alerts", "list", "-o", "raw"]).await;
    assert!(
        alerts.starts_with("id,scope,value,reason,country,as,decisions,created_at\n"),
        "{alerts}"
    );
    assert!(alerts.contains("range ban"), "{alerts}");
    let id = alerts
        .lines()
        .find(|l| l.contains("range ban"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    let inspect = ok_async(&env, &["alerts", "inspect", &id]).await;
    assert!(inspect.contains("Range:198.51.100.0/24"), "{inspect}");
    let out = ok_async(&env, &["alerts", "delete", "--id", &id]).await;
    assert!(out.contains("1 alert(s) deleted"), "{out}");
    ok_async(&env, &["alerts", "flush", "--max-items", "1"]).await;
}
