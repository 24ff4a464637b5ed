//! Helpers shared by the daemon's end-to-end tests: the shared test material, free loopback
//! ports, hub items installed as upstream lays them out, and a minimal daemon config.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The ban profile every daemon test uses.
pub const BAN_PROFILE: &str = "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n";

/// The shared material (hub snapshot, bench scripts): `CROWDSEC_SHARED` or `../shared`.
pub fn shared() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// A loopback TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Installs hub item `item` (path under the hub) as upstream does: a symlink in
/// `<dir>/<kind>/[<stage>/]<name>.yaml`.
pub fn install(dir: &Path, item: &str) {
    let src = shared().join("hub").join(item);
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

/// Writes `profiles.yaml` and a `config.yaml` with the LAPI on `port`, the store described by
/// `db_config` (YAML lines under `db_config:`) and logs at `log_level`; returns the config path.
pub fn write_lapi_config(dir: &Path, port: u16, log_level: &str, db_config: &str) -> PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("profiles.yaml"), BAN_PROFILE).unwrap();
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "common:\n  log_media: stdout\n  log_level: {log_level}\nconfig_paths:\n  config_dir: {d}\n  data_dir: {d}/data\ncrowdsec_service:\n  acquisition_path: {d}/acquis.yaml\ndb_config:\n{db_config}api:\n  client:\n    credentials_path: {d}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{port}\n    profiles_path: {d}/profiles.yaml\n    trusted_ips: [127.0.0.1]\n"
        ),
    )
    .unwrap();
    cfg
}

/// `db_config` lines for an SQLite file in `<dir>/data`.
pub fn sqlite_db_config(dir: &Path) -> String {
    format!(
        "  type: sqlite\n  db_path: {}/data/crowdsec.db\n  flush:\n    max_items: 5000\n    max_age: 7d\n",
        dir.display()
    )
}
