//! Loading whole `config.yaml` files: layout, `.local` override, env expansion, diagnostics.

use std::path::Path;

use cs_config::{Config, Error};

/// The config the bench scripts generate (cs-setup.sh), with `$D` as the config root.
fn setup_config(d: &Path) -> String {
    let d = d.display();
    format!(
        "common:
  daemonize: false
  log_media: stdout
  log_level: info
  log_dir: {d}/log/
  working_dir: .
config_paths:
  config_dir: {d}/etc/
  data_dir: {d}/data/
  simulation_path: {d}/etc/simulation.yaml
  hub_dir: {d}/hub/
  index_path: {d}/hub/.index.json
  notification_dir: {d}/etc/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: {d}/etc/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: \"no\"
db_config:
  log_level: info
  type: sqlite
  db_path: {d}/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 5000
    max_age: 7d
plugin_config:
  user: nobody
  group: nogroup
api:
  client:
    insecure_skip_verify: false
    credentials_path: {d}/etc/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:${{LAPI_PORT}}
    profiles_path: {d}/etc/profiles.yaml
    console_path: {d}/etc/console.yaml
    # no online_client section => Central API (CAPI) disabled (offline)
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: true
  level: full
  listen_addr: 127.0.0.1
  listen_port: 6061
"
    )
}

fn env(s: &str) -> String {
    cs_config::env::expand_with(s, |k| (k == "LAPI_PORT").then(|| "18080".to_string()))
}

#[test]
fn bench_config_loads_with_defaults_filled() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    std::fs::write(&p, setup_config(dir.path())).unwrap();
    let cfg = Config::load_with_env(&p, env).unwrap();
    let server = cfg.api_server().unwrap();
    assert_eq!(server.listen_uri, "127.0.0.1:18080");
    assert_eq!(
        cfg.config_paths.pattern_dir,
        dir.path().join("etc/patterns")
    );
    assert_eq!(cfg.config_paths.data_dir, dir.path().join("data"));
    assert_eq!(
        cfg.db().unwrap().flush.as_ref().unwrap().max_age.as_deref(),
        Some("7d")
    );
    assert_eq!(cfg.trusted_ips().unwrap().len(), 2);
    assert!(cfg.api_server_enabled());
    assert!(cfg.agent_enabled());
    assert_eq!(cfg.cscli.as_ref().unwrap().color, "no");
}

#[test]
fn routine_counts_default_to_the_cpus_for_parsers_and_one_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    let cpus = std::thread::available_parallelism().unwrap().get();
    for (section, want) in [
        ("  parser_routines: 3\n  buckets_routines: 2\n", [3, 2, 1]),
        ("  parser_routines: 0\n  output_routines: 0\n", [cpus, 1, 1]),
        ("", [cpus, 1, 1]),
    ] {
        let text = setup_config(dir.path()).replace("  parser_routines: 1\n", section);
        std::fs::write(&p, text).unwrap();
        let cfg = Config::load_with_env(&p, env).unwrap();
        let cs = cfg.crowdsec_service.unwrap();
        assert_eq!(
            [cs.parser_routines, cs.buckets_routines, cs.output_routines],
            want,
            "{section}"
        );
    }
    assert_eq!(cs_config::config::auto_parser_routines(), cpus);
}

#[test]
fn local_file_overrides_and_unknown_keys_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    std::fs::write(&p, setup_config(dir.path())).unwrap();
    std::fs::write(
        dir.path().join("config.yaml.local"),
        "api:\n  server:\n    listen_uri: 0.0.0.0:9999\n",
    )
    .unwrap();
    let cfg = Config::load_with_env(&p, env).unwrap();
    let server = cfg.api_server().unwrap();
    assert_eq!(server.listen_uri, "0.0.0.0:9999");
    // Keys the override does not touch survive.
    assert_eq!(server.trusted_ips, ["127.0.0.1", "::1"]);

    std::fs::write(
        dir.path().join("config.yaml.local"),
        "api:\n  server:\n    listen_url: 0.0.0.0:9999\n",
    )
    .unwrap();
    let err = Config::load_with_env(&p, env).unwrap_err();
    let Error::Yaml(d) = &err else {
        panic!("{err}")
    };
    let d = &d.0[0];
    assert!(d.file.ends_with("config.yaml.local"), "{}", d.file);
    assert_eq!((d.line, d.col), (3, 5));
    assert_eq!(d.path, "api.server.listen_url");
    assert_eq!(d.hint.as_deref(), Some("did you mean `listen_uri`?"));
}

#[test]
fn semantic_errors_point_at_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    let text = setup_config(dir.path()).replace("output: human", "output: yaml");
    std::fs::write(&p, text).unwrap();
    let err = Config::load_with_env(&p, env).unwrap_err().to_string();
    assert!(
        err.contains("output format 'yaml' is not supported"),
        "{err}"
    );
    assert!(err.contains("= at: cscli.output"), "{err}");

    std::fs::write(&p, "config_paths:\n  config_dir: /etc/crowdsec\n").unwrap();
    let err = Config::load_with_env(&p, env).unwrap_err().to_string();
    assert!(err.contains("'data_dir'"), "{err}");
}

#[test]
fn relative_paths_are_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    std::fs::write(&p, "config_paths:\n  data_dir: ./data/../data2\n").unwrap();
    let cfg = Config::load_with_env(&p, env).unwrap();
    assert!(cfg.config_paths.data_dir.is_absolute());
    assert!(cfg.config_paths.data_dir.ends_with("data2"));
    assert_eq!(cfg.config_paths.config_dir, dir.path());
}

#[test]
fn acquisition_files_list_path_then_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("acquis.d")).unwrap();
    for f in ["b.yaml", "a.yaml", "c.yml", "notes.txt"] {
        std::fs::write(d.join("acquis.d").join(f), "").unwrap();
    }
    let p = d.join("config.yaml");
    std::fs::write(
        &p,
        format!(
            "config_paths:\n  data_dir: {0}/data\ncrowdsec_service:\n  acquisition_path: {0}/acquis.yaml\n  acquisition_dir: {0}/acquis.d\n  console_labels_path: /etc/crowdsec/console/labels.yaml\n",
            d.display()
        ),
    )
    .unwrap();
    let cfg = Config::load_with_env(&p, env).unwrap();
    let files = cfg.crowdsec_service.unwrap().acquisition_files().unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(d).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "acquis.yaml",
            "acquis.d/a.yaml",
            "acquis.d/b.yaml",
            "acquis.d/c.yml"
        ]
    );
}
