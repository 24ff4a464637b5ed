//! Criterion benchmarks of expression evaluation on events (hits and misses).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cs_expr::{Environment, Value, compile};
use cs_models::{Alert, Event as AlertEvent, MetaItem};
use cs_types::{Event, EventType, RuntimeAlert};

fn ssh_event(log_type: &str) -> Event {
    let mut evt = Event::new_log(
        "Feb 12 14:10:21 host sshd[2201]: Failed password for root from 35.188.49.176 port 4242 ssh2",
        "file",
    );
    for (k, v) in [
        ("datasource_path", "/var/log/auth.log"),
        ("datasource_type", "file"),
        ("log_type", log_type),
        ("machine", "host"),
        ("service", "ssh"),
        ("source_ip", "35.188.49.176"),
        ("target_user", "root"),
    ] {
        evt.set_meta(k, v);
    }
    evt
}

fn overflow_event(events: usize) -> Event {
    let alert_events = (0..events)
        .map(|i| AlertEvent {
            meta: vec![
                MetaItem::new("log_type", "ssh_failed-auth"),
                MetaItem::new("source_ip", "35.188.49.176"),
                MetaItem::new("x", if i + 1 == events { "y" } else { "z" }),
            ],
            timestamp: Some("2026-02-12T14:10:21Z".into()),
        })
        .collect();
    let alert = Alert {
        events: Some(alert_events),
        ..Alert::default()
    };
    Event {
        r#type: EventType::Overflow,
        overflow: RuntimeAlert {
            alert: Some(Box::new(alert.clone())),
            api_alerts: vec![alert],
            ..RuntimeAlert::default()
        },
        ..Event::default()
    }
}

fn bench(c: &mut Criterion) {
    let env = Environment::event();
    let filter = compile(
        "evt.Meta.log_type == 'ssh_failed-auth' && evt.Meta.service == 'ssh'",
        &env,
    )
    .expect("compiles");
    let hit = ssh_event("ssh_failed-auth");
    let miss = ssh_event("ssh_success-auth");
    c.bench_function("meta_filter_hit", |b| {
        b.iter(|| {
            filter
                .eval_bool(&[Value::object(black_box(&hit))])
                .expect("evaluates")
        })
    });
    c.bench_function("meta_filter_miss", |b| {
        b.iter(|| {
            filter
                .eval_bool(&[Value::object(black_box(&miss))])
                .expect("evaluates")
        })
    });

    let closure = compile(
        "any(evt.Overflow.Alert.Events, {.GetMeta('x') == 'y'})",
        &env,
    )
    .expect("compiles");
    let ovf = overflow_event(6);
    c.bench_function("closure_any_get_meta_6_events", |b| {
        b.iter(|| {
            closure
                .eval_bool(&[Value::object(black_box(&ovf))])
                .expect("evaluates")
        })
    });

    let hubtest = Environment::hubtest();
    let assert = compile(
        "results[0].Overflow.Alert.Events[5].GetMeta('x') == 'y' && len(results) == 1",
        &hubtest,
    )
    .expect("compiles");
    let results = vec![ovf.clone()];
    let view = Value::List(cs_expr::List::View(&results));
    c.bench_function("hubtest_assert_get_meta", |b| {
        b.iter(|| {
            assert
                .eval_bool(std::slice::from_ref(black_box(&view)))
                .expect("evaluates")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
