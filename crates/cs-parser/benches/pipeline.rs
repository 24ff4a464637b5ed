//! Lines per second through s00-raw → s01-parse → s02-enrich with the hub's syslog-logs,
//! sshd-logs, nginx-logs and dateparse-enrich parsers, on generated auth.log and
//! access.log lines (`../shared/bench/gen-corpus.py`): hits and misses as they come.

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cs_parser::config::StageFile;
use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;

const LINES: usize = 5_000;

fn shared() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// Generates `LINES` lines of `kind` (`sshd` or `nginx`) with the shared corpus generator.
fn corpus(kind: &str, dir: &Path) -> Vec<String> {
    let out = dir.join(kind);
    let status = Command::new("python3")
        .arg(shared().join("bench/gen-corpus.py"))
        .args([kind, "--lines", &LINES.to_string(), "--out"])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("gen-corpus.py {kind} failed: {other:?}"),
    }
    std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("{}: {e}", out.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn parsers() -> Parsers {
    let hub = shared().join("hub");
    let file = |stage: &str, name: &str| StageFile {
        filename: hub
            .join(format!("parsers/{stage}/crowdsecurity/{name}.yaml"))
            .to_string_lossy()
            .into_owned(),
        stage: stage.to_owned(),
    };
    let files = [
        file("s00-raw", "syslog-logs"),
        file("s01-parse", "nginx-logs"),
        file("s01-parse", "sshd-logs"),
        file("s02-enrich", "dateparse-enrich"),
    ];
    LoaderBuilder::new(hub.join("data"))
        .patterns_dir(hub.join("patterns"))
        .and_then(|b| b.build().load_files(&files))
        .unwrap_or_else(|e| panic!("loading hub parsers: {e}"))
}

fn events(lines: &[String], log_type: &str) -> Vec<Event> {
    lines
        .iter()
        .map(|l| {
            let mut evt = Event::new_log(l.as_str(), "file");
            evt.line.src = "/var/log/bench.log".to_owned();
            evt.line.labels.insert("type".into(), log_type.into());
            evt
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let parsers = parsers();
    let sshd = events(&corpus("sshd", dir.path()), "syslog");
    let nginx = events(&corpus("nginx", dir.path()), "nginx");

    let mut group = c.benchmark_group("pipeline");
    for (name, input) in [("sshd-auth.log", &sshd), ("nginx-access.log", &nginx)] {
        let parsed = input
            .iter()
            .filter(|e| {
                let mut e = (*e).clone();
                parsers.parse(&mut e).is_ok() && e.process
            })
            .count();
        eprintln!("{name}: {parsed}/{} lines parsed", input.len());
        group.throughput(Throughput::Elements(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut ok = 0usize;
                for evt in input {
                    let mut evt = evt.clone();
                    if parsers.parse(&mut evt).is_ok() && evt.process {
                        ok += 1;
                    }
                }
                ok
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
