//! `cscli hub` and the item commands end to end, in a temp config dir fed from the shared hub
//! snapshot through a `file://` hub URL template.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cscli");

/// The shared hub snapshot (`../shared/hub` from the workspace root, or `CROWDSEC_SHARED`).
fn shared_hub() -> PathBuf {
    let base = std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    base.join("hub")
}

/// A config.yaml whose hub source is the shared hub; returns (temp dir, config path).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let hub = std::fs::canonicalize(shared_hub()).unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "config_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ncscli:\n  __hub_url_template__: file://{}\n",
            hub.display()
        ),
    )
    .unwrap();
    (dir, cfg)
}

fn cscli(cfg: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("-c")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap()
}

fn ok(cfg: &Path, args: &[&str]) -> String {
    let out = cscli(cfg, args);
    assert!(
        out.status.success(),
        "cscli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn install_list_and_remove_a_collection() {
    let (dir, cfg) = setup();
    assert!(ok(&cfg, &["hub", "update"]).starts_with("Downloading "));
    assert_eq!(
        ok(&cfg, &["hub", "update"]),
        "Nothing to do, the hub index is up to date.\n"
    );

    let out = ok(&cfg, &["collections", "install", "crowdsecurity/sshd"]);
    assert!(out.starts_with("Action plan:\n📥 download\n"), "{out}");
    assert!(
        out.contains("enabling collections:crowdsecurity/sshd"),
        "{out}"
    );
    assert!(dir.path().join("scenarios/ssh-bf.yaml").is_symlink());

    let json = ok(&cfg, &["hub", "list", "-o", "json"]);
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
        &cfg,
        &["scenarios", "inspect", "crowdsecurity/ssh-bf", "-o", "json"],
    );
    let i: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(i["installed"], true);
    assert_eq!(i["tainted"], false);
    assert_eq!(i["belongs_to_collections"][0], "crowdsecurity/sshd");

    // A member is protected by its collection.
    let out = cscli(&cfg, &["scenarios", "remove", "crowdsecurity/ssh-bf"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to collections"));
    assert!(dir.path().join("scenarios/ssh-bf.yaml").is_symlink());

    let out = ok(
        &cfg,
        &["collections", "remove", "crowdsecurity/sshd", "--purge"],
    );
    assert!(out.contains("❌ disable"), "{out}");
    assert!(!dir.path().join("scenarios/ssh-bf.yaml").exists());
    let raw = ok(&cfg, &["scenarios", "list", "-o", "raw"]);
    assert_eq!(raw, "name,status,version,description\n");
}

#[test]
fn modified_item_is_listed_as_tainted() {
    let (dir, cfg) = setup();
    ok(&cfg, &["hub", "update"]);
    ok(&cfg, &["parsers", "install", "crowdsecurity/syslog-logs"]);
    let file = dir
        .path()
        .join("hub/parsers/s00-raw/crowdsecurity/syslog-logs.yaml");
    let mut content = std::fs::read_to_string(&file).unwrap();
    content.push_str("# local change\n");
    std::fs::write(&file, content).unwrap();

    let json = ok(&cfg, &["parsers", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let p = &v["parsers"][0];
    assert_eq!(p["status"], "enabled,tainted");
    assert_eq!(p["local_version"], "?");

    let out = cscli(&cfg, &["parsers", "remove", "crowdsecurity/syslog-logs"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("crowdsecurity/syslog-logs is tainted, use '--force' to remove")
    );
    ok(
        &cfg,
        &["parsers", "remove", "crowdsecurity/syslog-logs", "--force"],
    );
}
