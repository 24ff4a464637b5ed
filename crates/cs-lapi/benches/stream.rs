//! Stream answers: encoding 10 000 decisions, and a full `startup=true` pull through the router over SQLite.

use std::hint::black_box;

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use cs_store::{DecisionRecord, NewBouncer, Store, StoreConfig};
use tower::ServiceExt as _;

const N: usize = 10_000;

fn records() -> Vec<DecisionRecord> {
    let now = Utc::now();
    (0..N)
        .map(|i| DecisionRecord {
            id: i as i64 + 1,
            created_at: now,
            until: now + TimeDelta::hours(4),
            scenario: "crowdsecurity/ssh-bf".into(),
            decision_type: "ban".into(),
            scope: "Ip".into(),
            value: format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            origin: "crowdsec".into(),
            simulated: false,
            uuid: "6f1c1b7e-8a3e-4d0a-9a55-3c2b8f1e2d10".into(),
            alert_id: 1,
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let new = records();
    let now = Utc::now();
    c.bench_function("stream_encode_10k", |b| {
        b.iter(|| black_box(cs_lapi::stream::encode(&new, &[], now)))
    });
}

fn startup_pull(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let router = rt.block_on(async {
        let store = Store::open(&StoreConfig::sqlite(dir.path().join("bench.db")))
            .await
            .unwrap();
        let stop = Utc::now().to_rfc3339();
        let alerts: Vec<cs_models::Alert> = (0..N / 100)
            .map(|a| {
                let decisions = (0..100)
                    .map(|d| cs_models::Decision {
                        duration: Some("4h".into()),
                        origin: Some("cscli".into()),
                        scenario: Some("bench".into()),
                        scope: Some("Ip".into()),
                        r#type: Some("ban".into()),
                        value: Some(format!("10.0.{a}.{d}")),
                        ..Default::default()
                    })
                    .collect();
                cs_models::Alert {
                    decisions: Some(decisions),
                    scenario: Some("bench".into()),
                    simulated: Some(false),
                    start_at: Some(stop.clone()),
                    stop_at: Some(stop.clone()),
                    source: Some(cs_models::Source {
                        scope: Some("Ip".into()),
                        value: Some("10.0.0.1".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect();
        store.create_alerts(None, &alerts).await.unwrap();
        let bouncer = NewBouncer {
            name: "fw".into(),
            api_key: "benchkey".into(),
            ..Default::default()
        };
        store.create_bouncer(&bouncer).await.unwrap();
        let server = cs_lapi::Server::new(
            cs_lapi::ServerOptions::default(),
            store,
            cs_lapi::Profiles::default_profiles(),
        )
        .unwrap();
        server.router()
    });
    c.bench_function("stream_startup_pull_10k_sqlite", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = Request::get("/v1/decisions/stream?startup=true")
                    .header("x-api-key", "benchkey")
                    .header("user-agent", "crowdsec-firewall-bouncer/-")
                    .body(Body::empty())
                    .unwrap();
                let resp = router.clone().oneshot(req).await.unwrap();
                black_box(
                    axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap(),
                )
            })
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = encode, startup_pull
}
criterion_main!(benches);
