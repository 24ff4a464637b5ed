//! The live daemon (`crowdsec -c config.yaml`, Local API + agent) in a temp dir on loopback,
//! with the hub's sshd items: a log written in real time and rotated (rename, then
//! copytruncate) across a daemon restart, syslog over UDP and TCP, SIGHUP reload, the
//! Prometheus endpoint and `cscli metrics` reading it.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cs_apiclient::{BouncerClient, ClientOptions};

mod common;
use common::{free_port, install, shared};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");
const MACHINE: &str = "live-agent";
const PASSWORD: &str = "live-agent-password";
const BOUNCER_KEY: &str = "live-bouncer-key-0123456789";

/// Ports of one daemon.
#[derive(Clone, Copy)]
struct Ports {
    lapi: u16,
    prom: u16,
}

/// A config dir with sqlite, a ban profile, the sshd hub items, `acquis` as acquis.yaml, the
/// LAPI and Prometheus on loopback, and machine + bouncer registered.
async fn setup(dir: &Path, acquis: &str) -> (PathBuf, Ports) {
    let ports = Ports {
        lapi: free_port(),
        prom: free_port(),
    };
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::os::unix::fs::symlink(shared().join("hub/patterns"), dir.join("patterns")).unwrap();
    for item in [
        "parsers/s00-raw/crowdsecurity/syslog-logs.yaml",
        "parsers/s01-parse/crowdsecurity/sshd-logs.yaml",
        "parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml",
        "scenarios/crowdsecurity/ssh-bf.yaml",
    ] {
        install(dir, item);
    }
    std::fs::write(
        dir.join("profiles.yaml"),
        "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n",
    )
    .unwrap();
    std::fs::write(dir.join("acquis.yaml"), acquis).unwrap();
    std::fs::write(
        dir.join("local_api_credentials.yaml"),
        format!(
            "url: http://127.0.0.1:{}/\nlogin: {MACHINE}\npassword: {PASSWORD}\n",
            ports.lapi
        ),
    )
    .unwrap();
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "common:\n  log_media: stdout\n  log_level: info\nconfig_paths:\n  config_dir: {d}\n  data_dir: {d}/data\n  pattern_dir: {d}/patterns\ncrowdsec_service:\n  acquisition_path: {d}/acquis.yaml\ndb_config:\n  type: sqlite\n  db_path: {d}/data/crowdsec.db\napi:\n  client:\n    credentials_path: {d}/local_api_credentials.yaml\n  server:\n    listen_uri: 127.0.0.1:{lapi}\n    profiles_path: {d}/profiles.yaml\n    trusted_ips: [127.0.0.1]\nprometheus:\n  enabled: true\n  level: full\n  listen_addr: 127.0.0.1\n  listen_port: {prom}\n",
            lapi = ports.lapi,
            prom = ports.prom,
        ),
    )
    .unwrap();
    let store = cs_store::Store::open(&cs_store::StoreConfig::sqlite(dir.join("data/crowdsec.db")))
        .await
        .unwrap();
    store
        .create_machine(&cs_store::NewMachine {
            machine_id: MACHINE.into(),
            password: PASSWORD.into(),
            is_validated: true,
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .create_bouncer(&cs_store::NewBouncer {
            name: "live-bouncer".into(),
            api_key: BOUNCER_KEY.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    (cfg, ports)
}

/// The daemon, killed when dropped; its log goes to a file for the failure messages.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(cfg: &Path, log: &Path) -> Daemon {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["-c", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap();
        Daemon {
            child,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop(mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                assert!(s.success(), "daemon exited with {s}\n{}", self.log());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop on SIGTERM\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One scrape of `/metrics`, `None` while the endpoint does not answer.
fn scrape(port: u16) -> Option<Vec<cs_metrics::text::Sample>> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let (head, body) = body.split_once("\r\n\r\n")?;
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    Some(cs_metrics::text::parse(body).unwrap())
}

/// Sum of the samples of `name` whose labels include `labels`.
fn metric(samples: &[cs_metrics::text::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// Waits until `f` over a scrape returns true; panics with the daemon log otherwise.
async fn wait_metrics(
    d: &Daemon,
    port: u16,
    what: &str,
    f: impl Fn(&[cs_metrics::text::Sample]) -> bool,
) -> Vec<cs_metrics::text::Sample> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = scrape(port)
            && f(&s)
        {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timeout waiting for {what}\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Banned IPs seen by a bouncer.
async fn banned(port: u16) -> Vec<String> {
    let opts = ClientOptions::new(format!("http://127.0.0.1:{port}/"));
    let bouncer = BouncerClient::new(&opts, BOUNCER_KEY).unwrap();
    match bouncer.stream(true, &[]).await {
        Ok(s) => s
            .new
            .unwrap_or_default()
            .iter()
            .map(|d| d.get_value().to_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn wait_banned(d: &Daemon, port: u16, ips: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = banned(port).await;
        if ips.iter().all(|ip| got.iter().any(|g| g == ip)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timeout waiting for bans of {ips:?} (got {got:?})\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An sshd failed-password line at the current time (syslog file format).
fn failure(ip: &str, n: usize) -> String {
    let now = chrono::Utc::now().format("%b %e %H:%M:%S");
    format!(
        "{now} live-host sshd[{}]: Failed password for invalid user u{n} from {ip} port {} ssh2\n",
        1000 + n,
        40000 + n
    )
}

/// A line the sshd parsers do not take.
fn noise(n: usize) -> String {
    let now = chrono::Utc::now().format("%b %e %H:%M:%S");
    format!("{now} live-host systemd[1]: Started session {n}.\n")
}

/// Appends `lines` to `path`, one write per line, pausing between them (a live writer).
async fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        f.write_all(l.as_bytes()).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn batch(ip: &str, failures: usize, noise_lines: usize, seq: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..failures.max(noise_lines) {
        if i < failures {
            *seq += 1;
            out.push(failure(ip, *seq));
        }
        if i < noise_lines {
            *seq += 1;
            out.push(noise(*seq));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailed_log_survives_rotation_and_restart_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let (log, acquis) = auth_log(dir.path(), "");
    let (cfg, ports) = setup(dir.path(), &acquis).await;
    let src = log.to_str().unwrap().to_owned();
    let hits =
        |s: &[cs_metrics::text::Sample]| metric(s, "cs_filesource_hits_total", &[("source", &src)]);
    let parsed_total =
        |s: &[cs_metrics::text::Sample]| metric(s, "cs_parser_hits_total", &[("source", &src)]);
    let daemon_log = dir.path().join("daemon.log");
    let d = Daemon::start(&cfg, &daemon_log);
    wait_metrics(&d, ports.prom, "the agent", |s| {
        metric(s, "cs_info", &[]) == 1.0
    })
    .await;
    // Give the tailer a moment to open the (empty) file before writing.
    wait_log(&d, "Starting processing data").await;

    // Phase 1: 6 failures from one attacker + noise, written live.
    let mut seq = 0;
    let mut written = 0usize;
    let lines = batch("192.0.2.11", 6, 4, &mut seq);
    written += lines.len();
    append(&log, &lines).await;
    let want = written as f64;
    wait_metrics(&d, ports.prom, "phase 1 lines", |s| hits(s) >= want).await;
    wait_banned(&d, ports.lapi, &["192.0.2.11"]).await;

    // Phase 2: rotation by rename, the writer goes on in a new file.
    std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    let lines = batch("192.0.2.12", 6, 3, &mut seq);
    written += lines.len();
    append(&log, &lines).await;
    let want = written as f64;
    wait_metrics(&d, ports.prom, "lines after rename", |s| hits(s) >= want).await;

    // Phase 3: copytruncate (the writer pauses during copy + truncate, as logrotate assumes).
    std::fs::copy(&log, dir.path().join("auth.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    // Let the tailer see the truncation before the file grows past its old offset again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let lines = batch("192.0.2.13", 6, 0, &mut seq);
    written += lines.len();
    append(&log, &lines).await;
    let want = written as f64;
    let s = wait_metrics(&d, ports.prom, "lines after copytruncate", |s| {
        hits(s) >= want && parsed_total(s) >= want
    })
    .await;
    wait_banned(&d, ports.lapi, &["192.0.2.12", "192.0.2.13"]).await;
    // Nothing read twice: the counters match the lines written exactly, after a pause.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s2 = scrape(ports.prom).unwrap();
    assert_eq!(hits(&s2), written as f64, "lines read twice?\n{}", d.log());
    assert_eq!(parsed_total(&s2), written as f64);
    assert_eq!(
        metric(&s, "cs_parser_hits_ok_total", &[("source", &src)]),
        metric(&s, "cs_parser_hits_total", &[("source", &src)])
            - metric(&s, "cs_parser_hits_ko_total", &[("source", &src)])
    );
    assert!(
        metric(
            &s2,
            "cs_bucket_overflowed_total",
            &[("name", "crowdsecurity/ssh-bf")]
        ) >= 3.0
    );
    d.stop().await;

    // Phase 4: lines written while the daemon is down are read once by the next one.
    let before_restart = written;
    let lines = batch("192.0.2.14", 6, 2, &mut seq);
    written += lines.len();
    append(&log, &lines).await;
    let d = Daemon::start(&cfg, &daemon_log);
    let lines = batch("192.0.2.15", 0, 3, &mut seq);
    written += lines.len();
    let want = (written - before_restart) as f64;
    wait_metrics(&d, ports.prom, "the restarted agent", |s| {
        metric(s, "cs_info", &[]) == 1.0
    })
    .await;
    append(&log, &lines).await;
    wait_metrics(&d, ports.prom, "lines after restart", |s| hits(s) >= want).await;
    wait_banned(&d, ports.lapi, &["192.0.2.14"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = scrape(ports.prom).unwrap();
    assert_eq!(hits(&s), want, "after restart\n{}", d.log());
    d.stop().await;
}

/// Sends `msg` over UDP and over a TCP connection (newline framed).
fn send_syslog(port: u16, udp: &[String], tcp: &[String]) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for m in udp {
        sock.send_to(m.as_bytes(), ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    for m in tcp {
        s.write_all(m.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
    }
    s.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_udp_and_tcp_in_both_formats_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // One UDP and one TCP datasource on the same port number.
    let acquis = format!(
        "source: syslog\nlisten_addr: 127.0.0.1\nlisten_port: {port}\nlabels:\n  type: syslog\n---\nsource: syslog\nprotocol: tcp\nlisten_addr: 127.0.0.1\nlisten_port: {port}\nlabels:\n  type: syslog\n"
    );
    let (cfg, ports) = setup(dir.path(), &acquis).await;
    let d = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    wait_log(&d, "Starting processing data").await;
    let now3164 = chrono::Utc::now().format("%b %e %H:%M:%S").to_string();
    let now5424 = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rfc3164: Vec<String> = (0..6)
        .map(|i| format!("<38>{now3164} sysl-host sshd[77]: Failed password for root from 198.51.100.21 port {} ssh2", 5000 + i))
        .collect();
    let rfc5424: Vec<String> = (0..6)
        .map(|i| format!("<38>1 {now5424} sysl-host sshd 78 - - Failed password for root from 198.51.100.22 port {} ssh2", 6000 + i))
        .collect();
    // Each format over each transport: the attackers split across UDP and TCP.
    send_syslog(
        port,
        &[&rfc3164[..3], &rfc5424[..3]].concat(),
        &[&rfc3164[3..], &rfc5424[3..]].concat(),
    );
    wait_banned(&d, ports.lapi, &["198.51.100.21", "198.51.100.22"]).await;
    let s = wait_metrics(&d, ports.prom, "syslog counters", |s| {
        metric(s, "cs_syslogsource_hits_total", &[]) >= 12.0
    })
    .await;
    assert_eq!(metric(&s, "cs_syslogsource_hits_total", &[]), 12.0);
    assert_eq!(
        metric(&s, "cs_syslogsource_parsed_total", &[("type", "rfc3164")]),
        6.0
    );
    assert_eq!(
        metric(&s, "cs_syslogsource_parsed_total", &[("type", "rfc5424")]),
        6.0
    );
    assert_eq!(
        metric(&s, "cs_parser_hits_ko_total", &[]),
        0.0,
        "{}",
        d.log()
    );
    d.stop().await;
}

/// `cscli` built next to `crowdsec` (same target directory).
fn cscli() -> PathBuf {
    let p = Path::new(BIN).with_file_name("cscli");
    assert!(
        p.is_file(),
        "{} missing: build it first (cargo build -p cscli)",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_scenarios_and_cscli_metrics_reads_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (log, acquis) = auth_log(dir.path(), "");
    let (cfg, ports) = setup(dir.path(), &acquis).await;
    // Start without the scenario: nothing can be banned.
    let scenario = dir.path().join("scenarios/ssh-bf.yaml");
    std::fs::remove_file(&scenario).unwrap();
    let d = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    wait_log(&d, "Starting processing data").await;
    let mut seq = 0;
    append(&log, &batch("203.0.113.31", 7, 0, &mut seq)).await;
    let src = log.to_str().unwrap().to_owned();
    wait_metrics(&d, ports.prom, "first lines", |s| {
        metric(s, "cs_parser_hits_ok_total", &[("source", &src)]) >= 7.0
    })
    .await;
    assert!(banned(ports.lapi).await.is_empty());

    // Install the scenario and reload.
    std::os::unix::fs::symlink(
        shared().join("hub/scenarios/crowdsecurity/ssh-bf.yaml"),
        &scenario,
    )
    .unwrap();
    d.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.log().contains("reload done") {
        assert!(Instant::now() < deadline, "no reload\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    append(&log, &batch("203.0.113.32", 7, 0, &mut seq)).await;
    wait_banned(&d, ports.lapi, &["203.0.113.32"]).await;
    let s = scrape(ports.prom).unwrap();
    // No line lost or read twice across the reload.
    assert_eq!(
        metric(&s, "cs_filesource_hits_total", &[("source", &src)]),
        14.0,
        "{}",
        d.log()
    );

    // cscli metrics, human and JSON.
    let url = format!("http://127.0.0.1:{}", ports.prom);
    let out = Command::new(cscli())
        .args(["-c", cfg.to_str().unwrap(), "metrics", "--url", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Acquisition Metrics:"), "{text}");
    assert!(text.contains(&src), "{text}");
    assert!(
        text.contains("Local API Metrics:") || text.contains("Bucket Metrics:"),
        "{text}"
    );
    let out = Command::new(cscli())
        .args(["-c", cfg.to_str().unwrap(), "metrics", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Upstream prints one JSON document per section; the first is the acquisition map.
    let text = String::from_utf8(out.stdout).unwrap();
    let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let acquis: BTreeMap<String, BTreeMap<String, i64>> =
        serde_json::from_value(docs.next().unwrap().unwrap()).unwrap();
    assert_eq!(acquis[&src]["reads"], 14, "{text}");
    assert_eq!(acquis[&src]["parsed"], 14, "{text}");
    assert_eq!(docs.count(), 9);
    d.stop().await;
}

/// An empty `auth.log` in `dir` and the acquis document tailing it as syslog, plus `extra`.
fn auth_log(dir: &Path, extra: &str) -> (PathBuf, String) {
    let log = dir.join("auth.log");
    std::fs::write(&log, "").unwrap();
    let acquis = format!(
        "filenames:\n  - {}\nlabels:\n  type: syslog\n{extra}",
        log.display()
    );
    (log, acquis)
}

/// Waits until the daemon log contains `what`.
async fn wait_log(d: &Daemon, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.log().contains(what) {
        assert!(
            Instant::now() < deadline,
            "no {what:?} in the log\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_keeps_the_bucket_state_and_the_file_positions() {
    let dir = tempfile::tempdir().unwrap();
    let (log, acquis) = auth_log(dir.path(), "");
    let (cfg, ports) = setup(dir.path(), &acquis).await;
    let src = log.to_str().unwrap().to_owned();
    let d = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    wait_log(&d, "Starting processing data").await;

    // ssh-bf overflows on its 6th failure: 5 fill the bucket without an alert.
    let mut seq = 0;
    append(&log, &batch("203.0.113.41", 5, 0, &mut seq)).await;
    wait_metrics(&d, ports.prom, "the first failures", |s| {
        metric(s, "cs_parser_hits_ok_total", &[("source", &src)]) >= 5.0
    })
    .await;
    assert!(banned(ports.lapi).await.is_empty(), "{}", d.log());

    d.signal("-HUP");
    wait_log(&d, "reload done").await;
    // The buckets of ssh-bf and ssh-slow-bf for the attacker moved to the new pipeline.
    wait_log(&d, "pipeline reloaded buckets_kept=2").await;
    // Two more failures: an alert only if the 5 before the reload are still in the bucket
    // (two leave room for one leaking out meanwhile).
    append(&log, &batch("203.0.113.41", 2, 0, &mut seq)).await;
    wait_banned(&d, ports.lapi, &["203.0.113.41"]).await;
    // Positions were kept: every line read exactly once across the reload.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = scrape(ports.prom).unwrap();
    assert_eq!(
        metric(&s, "cs_filesource_hits_total", &[("source", &src)]),
        7.0,
        "{}",
        d.log()
    );
    assert_eq!(
        metric(&s, "cs_parser_hits_total", &[("source", &src)]),
        7.0,
        "{}",
        d.log()
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquisition_transform_splits_lines_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    // Each line carries three sshd lines joined by " ;; ".
    let (log, acquis) = auth_log(dir.path(), "transform: \"split(evt.Line.Raw, ' ;; ')\"\n");
    let (cfg, ports) = setup(dir.path(), &acquis).await;
    let src = log.to_str().unwrap().to_owned();
    let d = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    wait_log(&d, "Starting processing data").await;
    let mut seq = 0;
    let joined: Vec<String> = (0..2)
        .map(|_| {
            batch("203.0.113.51", 3, 0, &mut seq)
                .iter()
                .map(|l| l.trim_end().to_owned())
                .collect::<Vec<_>>()
                .join(" ;; ")
                + "\n"
        })
        .collect();
    append(&log, &joined).await;
    // Six failures reach ssh-bf only if each line was split in three before parsing.
    wait_banned(&d, ports.lapi, &["203.0.113.51"]).await;
    let s = wait_metrics(&d, ports.prom, "the parsed lines", |s| {
        metric(s, "cs_parser_hits_ok_total", &[("source", &src)]) >= 6.0
    })
    .await;
    // Two lines read, six events parsed.
    assert_eq!(
        metric(&s, "cs_filesource_hits_total", &[("source", &src)]),
        2.0
    );
    assert_eq!(metric(&s, "cs_parser_hits_total", &[("source", &src)]), 6.0);
    d.stop().await;
}
