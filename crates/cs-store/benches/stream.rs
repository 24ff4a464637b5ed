//! Decision stream queries on a SQLite store holding many expired decisions (the state of a
//! long-running LAPI with community blocklists): incremental pulls must not scan them.
//!
//! `CS_STORE_BENCH_ROWS` sets the number of expired decisions (default 1 000 000).

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use cs_models::{Alert, Decision, Source};
use cs_store::{DecisionFilter, DecisionQueryKind, Store, StoreConfig, StreamQuery};

fn alert(decisions: Vec<Decision>, stop: chrono::DateTime<Utc>) -> Alert {
    let stop = stop.to_rfc3339();
    Alert {
        decisions: Some(decisions),
        scenario: Some("bench".into()),
        source: Some(Source {
            scope: Some("lists:bench".into()),
            value: Some(String::new()),
            ..Source::default()
        }),
        start_at: Some(stop.clone()),
        stop_at: Some(stop),
        ..Alert::default()
    }
}

fn ban(i: u32, duration: &str) -> Decision {
    let [_, b, c, d] = i.to_be_bytes();
    Decision {
        duration: Some(duration.into()),
        origin: Some("lists".into()),
        scenario: Some("bench".into()),
        scope: Some("Ip".into()),
        r#type: Some("ban".into()),
        value: Some(format!("10.{b}.{c}.{d}")),
        ..Decision::default()
    }
}

fn stream(c: &mut Criterion) {
    let rows: u32 = std::env::var("CS_STORE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt
        .block_on(Store::open(&StoreConfig::sqlite(
            dir.path().join("bench.db"),
        )))
        .expect("open");
    let now = Utc::now();
    rt.block_on(async {
        // Expired a day ago, inserted in batches of 10 000 decisions per alert.
        let old = now - Duration::days(2);
        let batch: Vec<u32> = (0..rows).collect();
        for chunk in batch.chunks(10_000) {
            let a = alert(chunk.iter().map(|i| ban(*i, "24h")).collect(), old);
            store
                .create_alerts(None, &[a])
                .await
                .expect("insert expired");
        }
        // A thousand active decisions.
        let a = alert((0..1000).map(|i| ban(rows + i, "4h")).collect(), now);
        store
            .create_alerts(None, &[a])
            .await
            .expect("insert active");
    });
    let delta = StreamQuery::from_query(&[]).expect("query");
    let last_pull = Utc::now();
    c.bench_function("stream_delta_pull", |b| {
        b.iter(|| {
            rt.block_on(async {
                let t = Utc::now();
                let new = store
                    .list_decisions_created_since(&delta.filter, last_pull, t, true)
                    .await
                    .expect("new");
                let del = store
                    .list_expired_decisions(
                        &delta.filter,
                        Some(last_pull - Duration::seconds(2)),
                        t,
                        true,
                    )
                    .await
                    .expect("deleted");
                black_box((new, del))
            })
        });
    });
    c.bench_function("stream_startup_active", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(
                    store
                        .list_active_decisions(&delta.filter, Utc::now(), true)
                        .await
                        .expect("active"),
                )
            })
        });
    });
    // The `deleted` list of a startup pull: every expired decision, read and written out.
    let startup = StreamQuery::from_query(&[("startup".into(), "true".into())]).expect("query");
    c.bench_function("stream_startup_deleted_encoded", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut chunks = store.encoded_decisions(
                    &startup.filter,
                    true,
                    Utc::now(),
                    startup.dedup,
                    256 * 1024,
                    |out, d| {
                        out.extend_from_slice(d.value.as_bytes());
                        out.push(b'\n');
                    },
                );
                let mut bytes = 0;
                while let Some(chunk) = chunks.recv().await {
                    bytes += chunk.expect("chunk").len();
                }
                black_box(bytes)
            })
        });
    });
    let q: Vec<(String, String)> = vec![("ip".into(), "10.0.1.2".into())];
    let by_ip = DecisionFilter::from_query(&q, DecisionQueryKind::Bouncer).expect("filter");
    c.bench_function("get_decisions_by_ip", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(
                    store
                        .list_decisions(&by_ip, Utc::now())
                        .await
                        .expect("by ip"),
                )
            })
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = stream
}
criterion_main!(benches);
