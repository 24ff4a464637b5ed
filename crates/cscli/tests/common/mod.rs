//! Helpers shared by the `cscli` end-to-end tests: a temp config dir and running `cscli -c` on
//! it, from a plain test or off an async runtime that serves a Local API meanwhile.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_cscli");

/// A temp config dir, removed on drop.
pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cfg: PathBuf,
}

impl Env {
    /// A new temp dir prepared by `prepare`, which returns the text of its `config.yaml`.
    pub fn new(prepare: impl FnOnce(&Path) -> String) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let cfg = root.join("config.yaml");
        std::fs::write(&cfg, prepare(&root)).unwrap();
        Env {
            _dir: dir,
            root,
            cfg,
        }
    }
}

pub fn cscli(env: &Env, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("-c")
        .arg(&env.cfg)
        .args(args)
        .output()
        .unwrap()
}

/// Runs and expects success; returns stdout.
pub fn ok(env: &Env, args: &[&str]) -> String {
    let out = cscli(env, args);
    assert!(
        out.status.success(),
        "cscli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and expects a failure; returns stderr.
pub fn err(env: &Env, args: &[&str]) -> String {
    let out = cscli(env, args);
    assert!(!out.status.success(), "cscli {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// Runs cscli off the async runtime (servers run on it meanwhile); stdout, stderr, success.
pub async fn run_async(env: &Env, args: &[&str]) -> (String, String, bool) {
    let cfg = env.cfg.clone();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("-c")
            .arg(cfg)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

/// [`run_async`] expecting success; stdout followed by stderr.
pub async fn ok_async(env: &Env, args: &[&str]) -> String {
    let (stdout, stderr, success) = run_async(env, args).await;
    assert!(success, "cscli {args:?} failed: {stderr}");
    stdout + &stderr
}

/// [`run_async`] expecting a failure; stderr.
pub async fn err_async(env: &Env, args: &[&str]) -> String {
    let (_, stderr, success) = run_async(env, args).await;
    assert!(!success, "cscli {args:?} should fail");
    stderr
}
