//! Live datasources end to end: acquisition files loaded, datasources started, real files,
//! sockets and journal files feeding them, lines and counters checked.

use std::io::Write as _;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use cs_acquisition::{
    Acquisition, LineTransform, LiveLine, Source, SourceStats, load_acquisition, start,
    start_sources,
};
use tokio::sync::mpsc;

/// Waits for `n` lines (10 s at most).
async fn recv(rx: &mut mpsc::Receiver<LiveLine>, n: usize) -> Vec<LiveLine> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(l)) => out.push(l),
            Ok(None) => break,
            Err(_) => panic!(
                "timed out after {} of {n} lines: {:?}",
                out.len(),
                out.iter().map(|l| &l.raw).collect::<Vec<_>>()
            ),
        }
    }
    out
}

/// Asserts nothing more arrives for a short while.
async fn quiet(rx: &mut mpsc::Receiver<LiveLine>) {
    if let Ok(Some(l)) = tokio::time::timeout(Duration::from_millis(700), rx.recv()).await {
        panic!("unexpected line {l:?}");
    }
}

/// Writes an acquisition file and starts it.
async fn start_yaml(
    dir: &Path,
    yaml: &str,
) -> (
    Acquisition,
    mpsc::Receiver<LiveLine>,
    Vec<cs_acquisition::DataSourceConfig>,
) {
    let file = dir.join("acquis.yaml");
    std::fs::write(&file, yaml).unwrap();
    let configs = load_acquisition(&[file]).unwrap();
    let (tx, rx) = mpsc::channel(1024);
    let acq = start(configs.clone(), tx, &dir.join("state"))
        .await
        .unwrap();
    (acq, rx, configs)
}

fn stat<'a>(stats: &'a [SourceStats], module: &str, source: &str) -> &'a SourceStats {
    stats
        .iter()
        .find(|s| s.module == module && s.source == source)
        .unwrap_or_else(|| panic!("no stats for {module} {source}: {stats:?}"))
}

fn free_port() -> u16 {
    // Binding UDP and TCP on the same port checks both are free.
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

#[tokio::test]
async fn files_are_tailed_from_the_end_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, "before start\n").unwrap();
    let yaml = format!(
        "filenames:\n  - {}/*.log\nlabels:\n  type: syslog\nmax_buffer_size: 50\n\
         discovery_poll_interval: 100ms\n",
        dir.path().display()
    );
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    assert!(acq.failures().is_empty(), "{:?}", acq.failures());
    append(&log, &format!("one\n{}\ntwo \u{e9}\n", "x".repeat(80)));
    append(&log, "bad \u{1}\n");
    std::fs::write(dir.path().join("new.log"), b"fresh \xff line\n").unwrap();
    let mut got = recv(&mut rx, 4).await;
    got.sort_by(|a, b| a.src.cmp(&b.src));
    let raws: Vec<&str> = got.iter().map(|l| l.raw.as_str()).collect();
    assert_eq!(
        raws,
        ["one", "two \u{e9}", "bad \u{1}", "fresh \u{fffd} line"]
    );
    assert_eq!(got[0].module, "file");
    assert_eq!(got[0].labels["type"], "syslog");
    assert_eq!(&*got[0].src, log.to_str().unwrap());
    assert!(got[0].time.is_some());
    assert!(!got[0].use_time_machine);
    let stats = acq.stats();
    let s = stat(&stats, "file", log.to_str().unwrap());
    assert_eq!(
        (s.hits, s.too_long, s.acquis_type.as_str()),
        (3, 1, "syslog")
    );
    let new = dir.path().join("new.log");
    assert_eq!(stat(&stats, "file", new.to_str().unwrap()).invalid_utf8, 1);
    let last = acq.stop().await;
    assert_eq!(stat(&last, "file", log.to_str().unwrap()).hits, 3);

    // Written while stopped: read after the restart, nothing twice.
    append(&log, "while stopped\n");
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    append(&log, "after restart\n");
    let got = recv(&mut rx, 2).await;
    let raws: Vec<&str> = got.iter().map(|l| l.raw.as_str()).collect();
    assert_eq!(raws, ["while stopped", "after restart"]);
    quiet(&mut rx).await;
    acq.stop().await;
}

/// Splits a line on `|` and upper-cases the parts; keeps lines without `|`; drops `drop`.
struct SplitUpper;

impl LineTransform for SplitUpper {
    fn apply(&self, line: &LiveLine) -> Option<Vec<String>> {
        if line.raw == "drop" {
            return Some(Vec::new());
        }
        line.raw
            .contains('|')
            .then(|| line.raw.split('|').map(str::to_uppercase).collect())
    }
}

#[tokio::test]
async fn transforms_rewrite_and_split_lines_where_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let file = dir.path().join("acquis.yaml");
    std::fs::write(
        &file,
        format!(
            "filename: {}\nlabels:\n  type: app\ntransform: evt.Line.Raw\n",
            log.display()
        ),
    )
    .unwrap();
    let configs = load_acquisition(&[file]).unwrap();
    let sources = configs
        .into_iter()
        .map(|config| Source {
            config,
            transform: Some(Arc::new(SplitUpper)),
        })
        .collect();
    let (tx, mut rx) = mpsc::channel(1024);
    let acq = start_sources(sources, tx, &dir.path().join("state"))
        .await
        .unwrap();
    append(&log, "a|b|c\ndrop\nplain\n");
    let got = recv(&mut rx, 4).await;
    let lines: Vec<(&str, bool)> = got
        .iter()
        .map(|l| (l.raw.as_str(), l.counts_as_read))
        .collect();
    assert_eq!(
        lines,
        [("A", true), ("B", false), ("C", false), ("plain", true)]
    );
    assert!(got.iter().all(|l| l.labels["type"] == "app"));
    quiet(&mut rx).await;
    let stats = acq.stop().await;
    assert_eq!(stat(&stats, "file", log.to_str().unwrap()).hits, 3);
}

/// With inotify, a file created in the directory of a pattern is found at once, long before
/// the next periodic expansion of the globs.
#[tokio::test]
async fn new_files_are_found_through_inotify() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "filenames:\n  - {}/*.log\nlabels:\n  type: syslog\ndiscovery_poll_interval: 1h\n",
        dir.path().display()
    );
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    std::fs::write(dir.path().join("late.log"), "late line\n").unwrap();
    let got = recv(&mut rx, 1).await;
    assert_eq!(got[0].raw, "late line");
    // Appends are picked up through inotify too.
    append(&dir.path().join("late.log"), "appended\n");
    assert_eq!(recv(&mut rx, 1).await[0].raw, "appended");
    acq.stop().await;
}

/// `poll_without_inotify: true`: files are checked periodically, and still followed through
/// a rotation by rename.
#[tokio::test]
async fn polling_without_inotify_follows_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let yaml = format!(
        "filenames:\n  - {}/*.log\nlabels:\n  type: syslog\npoll_without_inotify: true\n\
         discovery_poll_interval: 100ms\n",
        dir.path().display()
    );
    let (acq, mut rx, configs) = start_yaml(dir.path(), &yaml).await;
    let cs_acquisition::SourceKind::File(f) = &configs[0].kind else {
        panic!("{configs:?}")
    };
    assert!(f.poll_without_inotify);
    append(&log, "first\n");
    assert_eq!(recv(&mut rx, 1).await[0].raw, "first");
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&log, "second\n");
    std::fs::write(dir.path().join("other.log"), "third\n").unwrap();
    let mut raws: Vec<String> = recv(&mut rx, 2).await.into_iter().map(|l| l.raw).collect();
    raws.sort();
    assert_eq!(raws, ["second", "third"]);
    quiet(&mut rx).await;
    acq.stop().await;
}

#[tokio::test]
async fn cat_mode_reads_once_in_time_machine_mode() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("old.log");
    std::fs::write(&log, "a\nb\n").unwrap();
    let yaml = format!(
        "filename: {}\nmode: cat\nlabels:\n  type: nginx\n",
        log.display()
    );
    let (mut acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    let got = recv(&mut rx, 2).await;
    assert!(got.iter().all(|l| l.use_time_machine));
    acq.wait().await;
    assert_eq!(stat(&acq.stats(), "file", log.to_str().unwrap()).hits, 2);
}

/// Sends RFC 3164 and RFC 5424 messages and garbage over UDP and TCP (octet counting and
/// newline framing); with `logger` from util-linux too when it is installed.
#[tokio::test]
async fn syslog_servers_rebuild_lines_and_survive_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let (udp_port, tcp_port) = (free_port(), free_port());
    let yaml = format!(
        "source: syslog\nlisten_port: {udp_port}\nlabels:\n  type: syslog\n---\n\
         source: syslog\nprotocol: tcp\nlisten_port: {tcp_port}\nmax_message_len: 200\n\
         labels:\n  type: syslog\n"
    );
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    assert!(acq.failures().is_empty(), "{:?}", acq.failures());

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for msg in [
        &b"garbage"[..],
        b"<999999>x",
        b"\xff\xfe\x00",
        b"<38>Nov 22 10:00:00 web1 sshd[42]: Failed password for root from 1.2.3.4 port 22 ssh2",
        b"<34>1 2026-11-22T10:00:01Z web1 sshd 43 - - Invalid user bob from 5.6.7.8",
    ] {
        udp.send_to(msg, ("127.0.0.1", udp_port)).unwrap();
    }
    let got = recv(&mut rx, 2).await;
    assert_eq!(
        got.iter().map(|l| l.raw.as_str()).collect::<Vec<_>>(),
        [
            "Nov 22 10:00:00 web1 sshd[42]: Failed password for root from 1.2.3.4 port 22 ssh2",
            "Nov 22 10:00:01 web1 sshd[43]: Invalid user bob from 5.6.7.8",
        ]
    );
    assert_eq!(&*got[0].src, "127.0.0.1");
    assert_eq!(got[0].module, "syslog");
    assert_eq!(got[0].time, None);

    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    let m1 = "<13>1 2026-11-22T10:00:02Z h app 1 - - octet counted";
    let long = format!("<13>Nov 22 10:00:03 h app: {}", "y".repeat(300));
    write!(tcp, "{} {m1}{} {long}", m1.len(), long.len()).unwrap();
    let m2 = "<13>Nov 22 10:00:04 h app: after the long one";
    write!(tcp, "{} {m2}", m2.len()).unwrap();
    drop(tcp);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    write!(
        tcp,
        "<13>Nov 22 10:00:05 h app: line one\r\nnot syslog\n<13>Nov 22 10:00:06 h app: line two\n"
    )
    .unwrap();
    drop(tcp);
    let mut got: Vec<String> = recv(&mut rx, 4).await.into_iter().map(|l| l.raw).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "Nov 22 10:00:02 h app[1]: octet counted",
            "Nov 22 10:00:04 h app: after the long one",
            "Nov 22 10:00:05 h app: line one",
            "Nov 22 10:00:06 h app: line two",
        ]
    );

    let mut expected_udp_hits = 5;
    if Command::new("logger").arg("--help").output().is_ok() {
        for (proto, port, rfc) in [
            ("--udp", udp_port, "--rfc3164"),
            ("--udp", udp_port, "--rfc5424"),
            ("--tcp", tcp_port, "--rfc3164"),
            ("--tcp", tcp_port, "--rfc5424"),
        ] {
            let status = Command::new("logger")
                .args([
                    "--server",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    proto,
                    rfc,
                ])
                .args([
                    "-t",
                    "sshd",
                    "--id=77",
                    &format!("from logger {proto} {rfc}"),
                ])
                .status()
                .unwrap();
            assert!(status.success());
        }
        expected_udp_hits += 2;
        let got = recv(&mut rx, 4).await;
        for l in &got {
            assert!(l.raw.contains(" sshd[77]: from logger --"), "{:?}", l.raw);
        }
    } else {
        assert!(
            !required(),
            "logger (util-linux, package bsdutils) is required"
        );
    }

    let stats = acq.stats();
    let s = stat(&stats, "syslog", "127.0.0.1");
    // Both servers count under the client address.
    assert_eq!(s.invalid, 4, "{s:?}");
    assert_eq!(s.too_long, 1, "{s:?}");
    assert!(s.hits >= expected_udp_hits, "{s:?}");
    assert!(s.parsed_rfc3164 >= 4 && s.parsed_rfc5424 >= 2, "{s:?}");
    acq.stop().await;
}

#[tokio::test]
async fn failed_datasources_are_reported_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let log = dir.path().join("ok.log");
    std::fs::write(&log, "").unwrap();
    let yaml = format!(
        "source: syslog\nlisten_port: {port}\nlabels: {{type: syslog}}\n---\n\
         source: journalctl\njournalctl_filter: [_SYSTEMD_UNIT=ssh.service]\n\
         journalctl_path: {0}/no-such-journalctl\nlabels: {{type: syslog}}\n---\n\
         filename: {1}\nlabels: {{type: syslog}}\n",
        dir.path().display(),
        log.display()
    );
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    let failures = acq.failures();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].index, 0);
    assert!(
        failures[0]
            .error
            .contains("cannot listen on udp/127.0.0.1:"),
        "{failures:?}"
    );
    assert!(failures[0].error.contains("in use"), "{failures:?}");
    assert!(
        failures[1].error.contains("no-such-journalctl"),
        "{failures:?}"
    );
    append(&log, "still running\n");
    assert_eq!(recv(&mut rx, 1).await[0].raw, "still running");
    acq.stop().await;
}

/// Whether missing test prerequisites are failures (in CI) rather than skipped checks.
fn required() -> bool {
    std::env::var("CROWDSEC_REQUIRE_ALL").as_deref() == Ok("1")
        || std::env::var("CI").as_deref() == Ok("true")
}

/// The packages the journalctl test needs: `journalctl` (systemd) and
/// `systemd-journal-remote` to write journal files offline.
const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

fn journal_tools() -> bool {
    let ok = Path::new(JOURNAL_REMOTE).exists()
        && Command::new("journalctl").arg("--version").output().is_ok();
    if !ok {
        assert!(
            !required(),
            "journalctl and {JOURNAL_REMOTE} are required (apt-get install systemd systemd-journal-remote)"
        );
        eprintln!("skipping: journalctl or systemd-journal-remote missing");
    }
    ok
}

/// Appends entries (export format) to a journal file.
fn write_journal(journal: &Path, entries: &[(u64, &str, &str)]) {
    let mut export = String::new();
    for (i, (secs, unit, msg)) in entries.iter().enumerate() {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=testhost\n\
             SYSLOG_IDENTIFIER=sshd\n_PID=42\n_SYSTEMD_UNIT={unit}\nMESSAGE={msg}\n\n",
            secs * 1_000_000,
            (secs * 1_000_000) + i as u64
        ));
    }
    let export_file = journal.with_extension("export");
    std::fs::write(&export_file, export).unwrap();
    let out = Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", journal.display()))
        .arg(&export_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn journalctl_follows_a_journal_file_with_filters() {
    if !journal_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("test.journal");
    // 2025-11-22 10:00:00 UTC.
    let t0 = 1_763_805_600;
    write_journal(&journal, &[(t0, "ssh.service", "before start")]);
    let yaml = format!(
        "journalctl_filter:\n  - _SYSTEMD_UNIT=ssh.service\njournalctl_args: [--file, {}, --utc]\n\
         labels:\n  type: syslog\n",
        journal.display()
    );
    let (acq, mut rx, _) = start_yaml(dir.path(), &yaml).await;
    assert!(acq.failures().is_empty(), "{:?}", acq.failures());
    // Let journalctl reach the end of the journal before writing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    write_journal(
        &journal,
        &[
            (t0 + 1, "cron.service", "not for us"),
            (
                t0 + 2,
                "ssh.service",
                "Failed password for root from 1.2.3.4 port 22 ssh2",
            ),
        ],
    );
    let got = recv(&mut rx, 1).await;
    assert_eq!(
        got[0].raw,
        "Nov 22 10:00:02 testhost sshd[42]: Failed password for root from 1.2.3.4 port 22 ssh2"
    );
    assert_eq!(&*got[0].src, "journalctl-_SYSTEMD_UNIT=ssh.service");
    assert_eq!(got[0].module, "journalctl");
    quiet(&mut rx).await;
    let stats = acq.stats();
    assert_eq!(
        stat(&stats, "journalctl", "journalctl-_SYSTEMD_UNIT=ssh.service").hits,
        1
    );
    acq.stop().await;

    // One-shot through a DSN.
    let mut source = cs_acquisition::sources::journalctl::JournalctlSource::from_dsn(
        &cs_acquisition::Dsn::parse("journalctl://filters=_SYSTEMD_UNIT=ssh.service").unwrap(),
        Default::default(),
    )
    .unwrap()
    .with_command(
        "journalctl",
        &["--file", journal.to_str().unwrap(), "--utc"],
    );
    let mut lines = Vec::new();
    let stats = cs_acquisition::OneShotSource::read_all(&mut source, &mut |l| {
        lines.push(l.raw.to_owned());
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(stats.lines, 2);
    assert!(lines[0].ends_with("sshd[42]: before start"), "{lines:?}");
}
