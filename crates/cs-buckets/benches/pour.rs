//! Pour throughput of the hub's ssh-bf scenarios (leaky + distinct), on real sshd events:
//! many distinct source IPs (a new bucket per event), one hot IP (existing bucket), and events
//! that no filter accepts; the first two again with the `cs_bucket_*` metrics published.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cs_buckets::{BucketEngine, Compiler, LoadOptions};
use cs_expr::ManualClock;
use cs_expr_helpers::Helpers;
use cs_types::{Event, ExpectMode};

const EVENTS: u64 = 10_000;

fn shared_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn engine() -> BucketEngine {
    let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let clock = Arc::new(ManualClock::new(start.fixed_offset()));
    let compiler = Compiler::new(Helpers::new(), clock.clone());
    let file = shared_dir().join("hub/scenarios/crowdsecurity/ssh-bf.yaml");
    let scenarios = cs_buckets::load_file(&file, &compiler, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
    BucketEngine::new(scenarios, clock)
}

/// A parsed sshd failed-auth event from `ip` at `start + i` milliseconds (time-machine mode).
fn event(i: u64, ip: &str, log_type: &str) -> Event {
    let mut evt = Event::new_log(
        format!(
            "Feb 12 14:10:21 host sshd[2201]: Failed password for root from {ip} port 4242 ssh2"
        ),
        "file",
    );
    evt.line.labels.insert("type".into(), "syslog".into());
    for (k, v) in [
        ("datasource_path", "/var/log/auth.log"),
        ("datasource_type", "file"),
        ("log_type", log_type),
        ("machine", "host"),
        ("service", "ssh"),
        ("source_ip", ip),
        ("target_user", "root"),
    ] {
        evt.set_meta(k, v);
    }
    let at: DateTime<Utc> = DateTime::from_timestamp(1_770_905_421, 0).unwrap_or_default()
        + TimeDelta::milliseconds(i64::try_from(i).unwrap_or_default());
    evt.marshaled_time = at.to_rfc3339();
    evt.expect_mode = ExpectMode::TimeMachine;
    evt
}

fn ip(i: u64) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
}

fn bench(c: &mut Criterion) {
    let distinct: Vec<Event> = (0..EVENTS)
        .map(|i| event(i, &ip(i), "ssh_failed-auth"))
        .collect();
    let hot: Vec<Event> = (0..EVENTS)
        .map(|i| event(i * 2_000, "192.0.2.1", "ssh_failed-auth"))
        .collect();
    let misses: Vec<Event> = (0..EVENTS)
        .map(|i| event(i, &ip(i), "ssh_success"))
        .collect();

    let mut group = c.benchmark_group("pour");
    group.throughput(Throughput::Elements(EVENTS));
    for (name, events) in [
        ("distinct_ips", &distinct),
        ("one_ip", &hot),
        ("filter_miss", &misses),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                engine,
                |mut engine| {
                    let mut out = Vec::new();
                    for evt in events {
                        black_box(engine.pour(evt, &mut out).is_ok());
                    }
                    (out, engine)
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    // The same pours publishing the `cs_bucket_*` metrics, as the daemon's engine does.
    for (name, events) in [
        ("distinct_ips_metrics", &distinct),
        ("one_ip_metrics", &hot),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || engine().with_metrics(cs_metrics::global()),
                |mut engine| {
                    let mut out = Vec::new();
                    for evt in events {
                        black_box(engine.pour(evt, &mut out).is_ok());
                    }
                    (out, engine)
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
