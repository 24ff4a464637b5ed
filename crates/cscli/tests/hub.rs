//! `cscli hub` and the item commands end to end, in a temp config dir fed from the shared hub
//! snapshot through a `file://` hub URL template.

use std::path::PathBuf;

mod common;
use common::{Env, cscli, ok};

/// The shared hub snapshot (`../shared/hub` from the workspace root, or `CROWDSEC_SHARED`).
fn shared_hub() -> PathBuf {
    let base = std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    base.join("hub")
}

/// A config dir whose hub source is the shared hub.
fn setup() -> Env {
    let hub = std::fs::canonicalize(shared_hub()).unwrap();
    Env::new(|root| {
        let d = root.display();
        format!(
            "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ncscli:\n  __hub_url_template__: file://{}\n",
            hub.display()
        )
    })
}

#[test]
fn install_list_and_remove_a_collection() {
    let env = setup();
    assert!(ok(&env, &["hub", "update"]).starts_with("Downloading "));
    assert_eq!(
        ok(&env, &["hub", "update"]),
        "Nothing to do, the hub index is up to date.\n"
    );

    let out = ok(&env, &["collections", "install", "crowdsecurity/sshd"]);
    assert!(out.starts_with("Action plan:\n📥 download\n"), "{out}");
    assert!(
        out.contains("enabling collections:crowdsecurity/sshd"),
        "{out}"
    );
    assert!(env.root.join("scenarios/ssh-bf.yaml").is_symlink());

    let json = ok(&env, &["hub", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 7);
    assert_eq!(v["appsec-rules"], serde_json::json!([]));
    let parsers: Vec<&str> = v["parsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parsers,
        ["crowdsecurity/sshd-logs", "crowdsecurity/sshd-success-logs"]
    );
    let coll = &v["collections"][0];
    assert_eq!(coll["name"], "crowdsecurity/sshd");
    assert_eq!(coll["status"], "enabled");
    assert_eq!(coll["utf8_status"], "✔️  enabled");
    assert!(!json.ends_with('\n'));
    assert!(json.starts_with("{\n \"appsec-configs\": []"), "{json}");

    let inspect = ok(
        &env,
        &["scenarios", "inspect", "crowdsecurity/ssh-bf", "-o", "json"],
    );
    let i: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(i["installed"], true);
    assert_eq!(i["tainted"], false);
    assert_eq!(i["belongs_to_collections"][0], "crowdsecurity/sshd");

    // A member is protected by its collection.
    let out = cscli(&env, &["scenarios", "remove", "crowdsecurity/ssh-bf"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to collections"));
    assert!(env.root.join("scenarios/ssh-bf.yaml").is_symlink());

    let out = ok(
        &env,
        &["collections", "remove", "crowdsecurity/sshd", "--purge"],
    );
    assert!(out.contains("❌ disable"), "{out}");
    assert!(!env.root.join("scenarios/ssh-bf.yaml").exists());
    let raw = ok(&env, &["scenarios", "list", "-o", "raw"]);
    assert_eq!(raw, "name,status,version,description\n");
}

#[test]
fn modified_item_is_listed_as_tainted() {
    let env = setup();
    ok(&env, &["hub", "update"]);
    ok(&env, &["parsers", "install", "crowdsecurity/syslog-logs"]);
    let file = env
        .root
        .join("hub/parsers/s00-raw/crowdsecurity/syslog-logs.yaml");
    let mut content = std::fs::read_to_string(&file).unwrap();
    content.push_str("# local change\n");
    std::fs::write(&file, content).unwrap();

    let json = ok(&env, &["parsers", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let p = &v["parsers"][0];
    assert_eq!(p["status"], "enabled,tainted");
    assert_eq!(p["local_version"], "?");

    let out = cscli(&env, &["parsers", "remove", "crowdsecurity/syslog-logs"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("crowdsecurity/syslog-logs is tainted, use '--force' to remove")
    );
    ok(
        &env,
        &["parsers", "remove", "crowdsecurity/syslog-logs", "--force"],
    );
}

/// A hub mirror on a loopback port, serving `/<branch>/<path>` from the shared hub and
/// `/data/<file>` from its data directory. Item files name their data files on the official
/// data host; the mirror rewrites those URLs to itself (and the index digests to match) so that
/// the data downloads stay on loopback. The index is served without embedded content, as
/// upstream's 1.4 CDN serves it, so every item file is fetched over HTTP. Returns the base URL
/// and the paths requested so far.
fn hub_mirror() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let data_url = format!("{base}/data/");
    let hub = shared_hub();
    let rewrite = move |text: String| rewrite_data_urls(&text, &data_url);

    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(hub.join(".index.json")).unwrap()).unwrap();
    for items in index.as_object_mut().unwrap().values_mut() {
        for item in items.as_object_mut().unwrap().values_mut() {
            let item = item.as_object_mut().unwrap();
            item.remove("content");
            let path = item["path"].as_str().unwrap().to_owned();
            let Ok(text) = std::fs::read_to_string(hub.join(&path)) else {
                continue;
            };
            let served = rewrite(text.clone());
            if served != text {
                let version = item["version"].as_str().unwrap().to_owned();
                item["versions"][&version]["digest"] = cs_hub::sha256_hex(served.as_bytes()).into();
            }
        }
    }
    let index = serde_json::to_vec(&index).unwrap();

    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            log.lock().unwrap().push(path.clone());
            let body: Option<Vec<u8>> = if path == "/master/.index.json" {
                Some(index.clone())
            } else if let Some(rel) = path.strip_prefix("/master/") {
                std::fs::read_to_string(hub.join(rel))
                    .ok()
                    .map(|t| rewrite(t).into_bytes())
            } else if let Some(name) = path.strip_prefix("/data/") {
                std::fs::read(hub.join("data").join(name)).ok()
            } else {
                None
            };
            let (status, body) = match body {
                Some(b) if !path.contains("..") => ("200 OK", b),
                _ => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, requests)
}

/// Points each `source_url` on the official data host at `data_url<dest_file>` (the shared hub
/// keeps data files under their `dest_file` name).
fn rewrite_data_urls(text: &str, data_url: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.find("source_url: https://hub-data.crowdsec.net/web/") else {
            out.push_str(line);
            continue;
        };
        // dest_file sits in the same list entry, just before or just after.
        let dest = lines[i.saturating_sub(2)..(i + 4).min(lines.len())]
            .iter()
            .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix("dest_file:"))
            .map(str::trim);
        match dest {
            Some(dest) => out.push_str(&format!("{}source_url: {data_url}{dest}\n", &line[..at])),
            None => out.push_str(line),
        }
    }
    out
}

#[test]
fn hub_update_and_install_over_http() {
    let (base, requests) = hub_mirror();
    let env = Env::new(|root| {
        let d = root.display();
        format!(
            "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ncscli:\n  hub_branch: master\n  __hub_url_template__: {base}/%s/%s\n"
        )
    });
    assert!(ok(&env, &["hub", "update"]).starts_with("Downloading "));
    assert!(env.root.join("hub/.index.json").is_file());

    let out = ok(
        &env,
        &[
            "collections",
            "install",
            "crowdsecurity/base-http-scenarios",
        ],
    );
    assert!(
        out.contains("enabling collections:crowdsecurity/base-http-scenarios"),
        "{out}"
    );
    // Members, with the data files they declare, came over HTTP.
    assert!(
        env.root
            .join("scenarios/http-bad-user-agent.yaml")
            .is_symlink()
    );
    let agents = std::fs::read(env.root.join("data/bad_user_agents.regex.txt")).unwrap();
    assert_eq!(
        agents,
        std::fs::read(shared_hub().join("data/bad_user_agents.regex.txt")).unwrap()
    );
    let seen = requests.lock().unwrap().clone();
    for path in [
        "/master/.index.json",
        "/master/collections/crowdsecurity/base-http-scenarios.yaml",
        "/master/scenarios/crowdsecurity/http-bad-user-agent.yaml",
        "/data/bad_user_agents.regex.txt",
    ] {
        assert!(
            seen.iter().any(|p| p == path),
            "{path} not requested: {seen:?}"
        );
    }
    let inspect = ok(
        &env,
        &[
            "scenarios",
            "inspect",
            "crowdsecurity/http-bad-user-agent",
            "-o",
            "json",
        ],
    );
    let i: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(i["installed"], true);
    assert_eq!(i["tainted"], false, "{inspect}");

    // A file the server does not have is an error naming the URL, and installs nothing.
    let out = cscli(
        &env,
        &["parsers", "install", "crowdsecurity/not-in-the-hub"],
    );
    assert!(!out.status.success());
}

#[test]
fn unreachable_hub_server_is_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::new(|root| {
        let d = root.display();
        format!(
            "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ncscli:\n  __hub_url_template__: http://127.0.0.1:{port}/%s/%s\n"
        )
    });
    let out = cscli(&env, &["hub", "update"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed to update hub"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}/master/.index.json")),
        "{err}"
    );
}

#[test]
fn install_with_ignore_goes_on_after_an_item_that_fails() {
    let env = setup();
    ok(&env, &["hub", "update"]);
    // The hub snapshot carries no GeoIP database, so geoip-enrich's data cannot be fetched.
    let failed = cscli(&env, &["parsers", "install", "crowdsecurity/geoip-enrich"]);
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("GeoLite2"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    // The failed item is not left half installed: a second attempt fails the same way.
    assert!(
        !cscli(&env, &["parsers", "install", "crowdsecurity/geoip-enrich"])
            .status
            .success()
    );

    let out = cscli(
        &env,
        &[
            "parsers",
            "install",
            "--ignore",
            "crowdsecurity/geoip-enrich",
            "crowdsecurity/sshd-logs",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("GeoLite2"));
    assert!(
        env.root
            .join("parsers/s01-parse/sshd-logs.yaml")
            .is_symlink()
    );
    assert!(
        !env.root
            .join("parsers/s02-enrich/geoip-enrich.yaml")
            .exists()
    );
}
