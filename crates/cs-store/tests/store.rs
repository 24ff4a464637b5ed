//! The store test suite, run against SQLite, PostgreSQL and MySQL/MariaDB.

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cs_models::{Alert, Decision, Event, MetaItem, Source};
use cs_store::{
    AlertFilter, DecisionFilter, DecisionQueryKind, DecisionRow, Error, FlushPolicy, MachineLogin,
    MetricsSource, NewAllowlistItem, NewBouncer, NewMachine, SortOrder, Store, StreamQuery,
    hash_api_key,
};

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn decision(scope: &str, value: &str, duration: &str, origin: &str, scenario: &str) -> Decision {
    Decision {
        duration: Some(duration.into()),
        origin: Some(origin.into()),
        scenario: Some(scenario.into()),
        scope: Some(scope.into()),
        r#type: Some("ban".into()),
        value: Some(value.into()),
        ..Decision::default()
    }
}

/// An alert like `cscli decisions add` posts: one decision, stopped at `stop`.
fn manual_alert(scope: &str, value: &str, duration: &str, stop: DateTime<Utc>) -> Alert {
    Alert {
        capacity: Some(0),
        decisions: Some(vec![decision(
            scope,
            value,
            duration,
            "cscli",
            &format!("manual ban {value}"),
        )]),
        events: Some(vec![]),
        events_count: Some(1),
        leakspeed: Some("0".into()),
        message: Some(format!("manual ban {value}")),
        scenario: Some(format!("manual ban {value}")),
        scenario_hash: Some(String::new()),
        scenario_version: Some(String::new()),
        simulated: Some(false),
        source: Some(Source {
            ip: value.into(),
            scope: Some(scope.into()),
            value: Some(value.into()),
            ..Source::default()
        }),
        start_at: Some(rfc(stop)),
        stop_at: Some(rfc(stop)),
        ..Alert::default()
    }
}

/// An agent alert without decisions, with two events and context meta.
fn agent_alert(ip: &str, scenario: &str, start: DateTime<Utc>) -> Alert {
    let ev = |user: &str, t: DateTime<Utc>| Event {
        meta: vec![
            MetaItem::new("source_ip", ip),
            MetaItem::new("target_user", user),
        ],
        timestamp: Some(rfc(t)),
    };
    Alert {
        capacity: Some(5),
        decisions: None,
        events: Some(vec![
            ev("root", start),
            ev("admin", start + Duration::seconds(1)),
        ]),
        events_count: Some(6),
        leakspeed: Some("10s".into()),
        message: Some(format!("Ip {ip} performed '{scenario}'")),
        meta: vec![MetaItem::new("service", "ssh")],
        remediation: true,
        scenario: Some(scenario.into()),
        scenario_hash: Some("abc".into()),
        scenario_version: Some("0.1".into()),
        simulated: Some(false),
        source: Some(Source {
            ip: ip.into(),
            scope: Some("ip".into()),
            value: Some(ip.into()),
            cn: "FR".into(),
            as_number: "1234".into(),
            latitude: 48.5,
            longitude: 2.25,
            ..Source::default()
        }),
        start_at: Some(rfc(start)),
        stop_at: Some(rfc(start + Duration::seconds(1))),
        ..Alert::default()
    }
}

fn values(ds: &[cs_store::DecisionRecord]) -> Vec<&str> {
    ds.iter().map(|d| d.value.as_str()).collect()
}

async fn machines(s: &Store) {
    let new = NewMachine {
        machine_id: "agent1".into(),
        password: "s3cret".into(),
        ip_address: "127.0.0.1".into(),
        ..NewMachine::default()
    };
    let m = s.create_machine(&new).await.unwrap();
    assert!(!m.is_validated);
    assert_eq!(m.auth_type, "password");
    assert!(m.password_hash.starts_with("$2"));
    assert!(
        s.create_machine(&new)
            .await
            .unwrap_err()
            .is_already_exists()
    );

    assert!(
        s.check_machine_password("agent1", "s3cret")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.check_machine_password("agent1", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.check_machine_password("nobody", "s3cret")
            .await
            .unwrap()
            .is_none()
    );

    s.validate_machine("agent1").await.unwrap();
    assert!(s.get_machine("agent1").await.unwrap().unwrap().is_validated);
    assert!(
        s.validate_machine("nobody")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let forced = NewMachine {
        password: "other".into(),
        force: true,
        ..new.clone()
    };
    s.create_machine(&forced).await.unwrap();
    assert!(
        s.check_machine_password("agent1", "other")
            .await
            .unwrap()
            .is_some()
    );

    let login = MachineLogin {
        scenarios: Some("crowdsecurity/ssh-bf,crowdsecurity/http-probing".into()),
        ip_address: Some("10.0.0.2".into()),
        version: Some("v1.4.6".into()),
    };
    s.update_machine_login("agent1", &login).await.unwrap();
    let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    s.update_machine_heartbeat("agent1", t).await.unwrap();
    let m = s.get_machine("agent1").await.unwrap().unwrap();
    assert_eq!(
        m.scenarios,
        "crowdsecurity/ssh-bf,crowdsecurity/http-probing"
    );
    assert_eq!(m.ip_address, "10.0.0.2");
    assert_eq!(m.version, "v1.4.6");
    assert_eq!(m.last_heartbeat, Some(t));

    let tls = NewMachine {
        machine_id: "tls-agent".into(),
        auth_type: "tls".into(),
        ..NewMachine::default()
    };
    s.create_machine(&tls).await.unwrap();
    assert_eq!(s.list_machines().await.unwrap().len(), 2);
    // The TLS machine never sent a heartbeat and was created now: only a cut-off in the
    // future removes it.
    assert_eq!(s.delete_stale_machines("tls", t).await.unwrap(), 0);
    assert_eq!(
        s.delete_stale_machines("tls", Utc::now() + Duration::hours(1))
            .await
            .unwrap(),
        1
    );

    s.delete_machine("agent1").await.unwrap();
    assert!(s.get_machine("agent1").await.unwrap().is_none());
    assert!(s.delete_machine("agent1").await.unwrap_err().is_not_found());
}

async fn bouncers(s: &Store) {
    let b = s
        .create_bouncer(&NewBouncer {
            name: "fw".into(),
            api_key: "key-1".into(),
            ..NewBouncer::default()
        })
        .await
        .unwrap();
    assert_eq!(b.api_key_hash, hash_api_key("key-1"));
    assert_eq!(b.auth_type, "api-key");
    assert!(b.last_pull.is_none());
    let dup = NewBouncer {
        name: "fw".into(),
        api_key: "other".into(),
        ..NewBouncer::default()
    };
    assert!(matches!(
        s.create_bouncer(&dup).await,
        Err(Error::AlreadyExists { .. })
    ));

    // The same key used from another IP gets its own auto-created row.
    s.create_bouncer(&NewBouncer {
        name: "fw@10.0.0.9".into(),
        api_key: "key-1".into(),
        ip_address: "10.0.0.9".into(),
        auto_created: true,
        ..NewBouncer::default()
    })
    .await
    .unwrap();
    let found = s
        .find_bouncers_by_key_hash(&hash_api_key("key-1"))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["fw", "fw@10.0.0.9"]
    );
    assert!(found[1].auto_created);
    assert!(
        s.find_bouncers_by_key_hash(&hash_api_key("nope"))
            .await
            .unwrap()
            .is_empty()
    );

    let t = Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap() + Duration::nanoseconds(123_456_789);
    s.update_bouncer_last_pull("fw", t).await.unwrap();
    s.update_bouncer_ip("fw", "192.0.2.10").await.unwrap();
    s.update_bouncer_type_version("fw", "crowdsec-firewall-bouncer", "v0.0.25")
        .await
        .unwrap();
    let b = s.get_bouncer("fw").await.unwrap().unwrap();
    assert_eq!(b.last_pull, Some(t), "nanosecond precision survives");
    assert_eq!(
        (
            b.ip_address.as_str(),
            b.bouncer_type.as_str(),
            b.version.as_str()
        ),
        ("192.0.2.10", "crowdsec-firewall-bouncer", "v0.0.25")
    );

    // Pruning: `fw` pulled in May 2026, the auto-created one never pulled (created now).
    assert_eq!(
        s.delete_stale_bouncers(None, t + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(s.get_bouncer("fw").await.unwrap().is_none());
    s.delete_bouncer("fw@10.0.0.9").await.unwrap();
    assert!(s.list_bouncers().await.unwrap().is_empty());
    assert!(s.delete_bouncer("fw").await.unwrap_err().is_not_found());
}

async fn alerts_round_trip(s: &Store) {
    let now = Utc::now();
    let start = now - Duration::minutes(10);
    s.create_machine(&NewMachine {
        machine_id: "agent".into(),
        password: "p".into(),
        ..NewMachine::default()
    })
    .await
    .unwrap();
    let ids = s
        .create_alerts(
            Some("agent"),
            &[
                agent_alert("35.188.49.176", "crowdsecurity/ssh-bf", start),
                manual_alert("Ip", "192.0.2.1", "4h", now),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    assert!(
        s.get_machine("agent")
            .await
            .unwrap()
            .unwrap()
            .last_push
            .is_some()
    );

    let a = s.get_alert(ids[0]).await.unwrap().unwrap();
    assert_eq!(a.scenario, "crowdsecurity/ssh-bf");
    assert_eq!(
        a.source.scope.as_deref(),
        Some("Ip"),
        "source scope is normalised"
    );
    assert_eq!(a.source.cn, "FR");
    assert!((a.source.latitude - 48.5).abs() < f32::EPSILON);
    assert_eq!(a.events.len(), 2);
    assert_eq!(a.events[1].meta[1], MetaItem::new("target_user", "admin"));
    assert_eq!(a.events[0].time, start);
    assert_eq!(a.meta, vec![MetaItem::new("service", "ssh")]);
    assert_eq!(a.started_at, start);
    assert_eq!(a.machine_id.as_deref(), Some("agent"));
    assert!(!a.uuid.is_empty());
    assert!(a.decisions.is_empty());

    let model = a.to_model(now);
    assert_eq!(model.machine_id, "agent");
    assert!(model.decisions.is_none());
    assert_eq!(
        model.events.as_ref().unwrap()[0].timestamp.as_deref(),
        Some(cs_store::go_time_string(start).as_str())
    );
    let json = serde_json::to_string(&model).unwrap();
    assert!(json.contains(r#""labels":null"#), "{json}");

    let m = s.get_alert(ids[1]).await.unwrap().unwrap();
    assert_eq!(m.decisions.len(), 1);
    let d = &m.decisions[0];
    assert_eq!(
        (d.scope.as_str(), d.value.as_str(), d.origin.as_str()),
        ("Ip", "192.0.2.1", "cscli")
    );
    // until = stop_at + duration, to the nanosecond.
    assert_eq!(d.until, now + Duration::hours(4));
    let bouncer =
        serde_json::to_string(&d.to_bouncer_model(now + Duration::seconds(2), false)).unwrap();
    assert_eq!(
        bouncer,
        format!(
            r#"{{"duration":"3h59m58s","id":{},"origin":"cscli","scenario":"manual ban 192.0.2.1","scope":"Ip","type":"ban","value":"192.0.2.1"}}"#,
            d.id
        )
    );
    assert!(s.get_alert(ids[1] + 1000).await.unwrap().is_none());

    // An alert whose only decision has an invalid IP is dropped; bad durations are errors.
    let ids2 = s
        .create_alerts(None, &[manual_alert("Ip", "not-an-ip", "4h", now)])
        .await
        .unwrap();
    assert!(ids2.is_empty());
    assert!(matches!(
        s.create_alerts(None, &[manual_alert("Ip", "192.0.2.7", "4 hours", now)])
            .await,
        Err(Error::InvalidAlert { .. })
    ));
    assert_eq!(s.count_alerts().await.unwrap(), 2);
}

async fn alert_filters(s: &Store) {
    let now = Utc::now();
    let old = now - Duration::days(2);
    s.create_alerts(
        Some("m"),
        &[agent_alert("198.51.100.7", "crowdsecurity/ssh-bf", old)],
    )
    .await
    .unwrap();
    s.create_alerts(
        Some("m"),
        &[manual_alert("Range", "203.0.113.0/24", "1h", now)],
    )
    .await
    .unwrap();
    s.create_alerts(Some("m"), &[manual_alert("Ip", "2001:db8::1", "1h", now)])
        .await
        .unwrap();
    let mut expired = manual_alert("Ip", "192.0.2.99", "1h", now - Duration::hours(2));
    expired.simulated = Some(true);
    s.create_alerts(Some("m"), &[expired]).await.unwrap();
    let mut capi = manual_alert("Ip", "192.0.2.200", "24h", now);
    capi.decisions.as_mut().unwrap()[0].origin = Some("CAPI".into());
    capi.source = Some(Source {
        scope: Some("crowdsecurity/community-blocklist".into()),
        value: Some(String::new()),
        ..Source::default()
    });
    s.create_alerts(None, &[capi]).await.unwrap();

    let list = |pairs: Vec<(&'static str, &'static str)>| async move {
        let f = AlertFilter::from_query(&q(&pairs), now).unwrap();
        s.list_alerts(&f, now)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.source.value.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(vec![]).await.len(), 5);
    assert_eq!(
        list(vec![
            ("has_active_decision", "true"),
            ("include_capi", "false")
        ])
        .await,
        ["2001:db8::1", "203.0.113.0/24"]
    );
    assert_eq!(
        list(vec![("has_active_decision", "false")]).await,
        ["198.51.100.7"]
    );
    assert_eq!(list(vec![("origin", "CAPI")]).await, [""]);
    assert_eq!(list(vec![("ip", "203.0.113.77")]).await, ["203.0.113.0/24"]);
    assert_eq!(
        list(vec![("range", "203.0.0.0/16"), ("contains", "false")]).await,
        ["203.0.113.0/24"]
    );
    assert_eq!(list(vec![("ip", "2001:db8::1")]).await, ["2001:db8::1"]);
    assert_eq!(list(vec![("scope", "range")]).await, ["203.0.113.0/24"]);
    assert_eq!(
        list(vec![("value", "198.51.100.7")]).await,
        ["198.51.100.7"]
    );
    assert_eq!(
        list(vec![("scenario", "crowdsecurity/ssh-bf")]).await,
        ["198.51.100.7"]
    );
    assert_eq!(
        list(vec![("scenario", "manual ban 2001:db8::1")]).await,
        ["2001:db8::1"]
    );
    assert_eq!(list(vec![("until", "1d")]).await, ["198.51.100.7"]);
    assert_eq!(
        list(vec![
            ("since", "1d"),
            ("simulated", "false"),
            ("include_capi", "false")
        ])
        .await
        .len(),
        2
    );
    assert_eq!(list(vec![("decision_type", "captcha")]).await.len(), 0);
    assert_eq!(list(vec![("limit", "2")]).await.len(), 2);

    let asc = s
        .list_alerts(
            &AlertFilter {
                sort: SortOrder::Asc,
                ..AlertFilter::default()
            },
            now,
        )
        .await
        .unwrap();
    let desc = s
        .list_alerts(
            &AlertFilter {
                sort: SortOrder::Desc,
                ..AlertFilter::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(asc.first().unwrap().id, desc.last().unwrap().id);

    // Deletion by filter removes alerts with their decisions.
    let del = AlertFilter::from_query(&q(&[("scope", "Range")]), now).unwrap();
    assert_eq!(s.delete_alerts(&del, now).await.unwrap(), 1);
    let everything = DecisionFilter {
        include_simulated: true,
        ..DecisionFilter::default()
    };
    let left = s
        .list_active_decisions(&everything, now, false)
        .await
        .unwrap();
    assert!(!values(&left).contains(&"203.0.113.0/24"));
    let id = desc.last().unwrap().id;
    assert_eq!(s.delete_alert(id).await.unwrap(), 1);
    assert_eq!(s.delete_alert(id).await.unwrap(), 0);
    assert_eq!(s.count_alerts().await.unwrap(), 3);
}

async fn decision_queries(s: &Store) {
    let now = Utc::now();
    let mut alerts = vec![
        manual_alert("Ip", "192.0.2.1", "4h", now),
        manual_alert("Range", "198.51.100.0/24", "1h", now),
        manual_alert("Ip", "2001:db8::1", "1h", now),
        manual_alert("Range", "2001:db8:1::/48", "1h", now),
        manual_alert("username", "bob", "1h", now),
    ];
    let mut sim = manual_alert("Ip", "192.0.2.50", "1h", now);
    sim.simulated = Some(true);
    alerts.push(sim);
    let mut crowdsec = manual_alert("Ip", "192.0.2.60", "1h", now);
    let d = &mut crowdsec.decisions.as_mut().unwrap()[0];
    d.origin = Some("crowdsec".into());
    d.scenario = Some("crowdsecurity/ssh-bf".into());
    d.r#type = Some("captcha".into());
    alerts.push(crowdsec);
    alerts.push(manual_alert(
        "Ip",
        "192.0.2.70",
        "1h",
        now - Duration::hours(3),
    ));
    s.create_alerts(Some("m"), &alerts).await.unwrap();

    let get = |pairs: Vec<(&'static str, &'static str)>| async move {
        let f = DecisionFilter::from_query(&q(&pairs), DecisionQueryKind::Bouncer).unwrap();
        let ds = s.list_decisions(&f, now).await.unwrap();
        ds.into_iter().map(|d| d.value).collect::<Vec<_>>()
    };
    assert_eq!(
        get(vec![]).await,
        [
            "192.0.2.1",
            "198.51.100.0/24",
            "2001:db8::1",
            "2001:db8:1::/48",
            "bob",
            "192.0.2.60"
        ]
    );
    assert_eq!(
        get(vec![("ip", "198.51.100.77")]).await,
        ["198.51.100.0/24"]
    );
    assert_eq!(get(vec![("ip", "192.0.2.1")]).await, ["192.0.2.1"]);
    assert_eq!(get(vec![("ip", "203.0.113.9")]).await, Vec::<String>::new());
    assert_eq!(
        get(vec![("range", "198.51.100.0/24"), ("contains", "false")]).await,
        ["198.51.100.0/24"]
    );
    assert_eq!(
        get(vec![("range", "198.51.0.0/16"), ("contains", "false")]).await,
        ["198.51.100.0/24"]
    );
    assert_eq!(
        get(vec![("range", "198.51.0.0/16")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        get(vec![("ip", "2001:db8:1:0:ffff::1")]).await,
        ["2001:db8:1::/48"]
    );
    assert_eq!(
        get(vec![("range", "2001:db8::/32"), ("contains", "false")]).await,
        ["2001:db8::1", "2001:db8:1::/48"]
    );
    assert_eq!(
        get(vec![("scopes", "ip")]).await,
        ["192.0.2.1", "2001:db8::1", "192.0.2.60"]
    );
    assert_eq!(
        get(vec![("scope", "username"), ("value", "bob")]).await,
        ["bob"]
    );
    assert_eq!(get(vec![("origins", "crowdsec")]).await, ["192.0.2.60"]);
    assert_eq!(get(vec![("type", "captcha")]).await, ["192.0.2.60"]);
    assert_eq!(
        get(vec![("scenarios_containing", "SSH")]).await,
        ["192.0.2.60"]
    );
    assert_eq!(
        get(vec![("scenarios_not_containing", "manual")]).await,
        ["192.0.2.60"]
    );
    assert_eq!(
        get(vec![("scenarios_containing", "2001,bob")]).await,
        ["2001:db8::1", "2001:db8:1::/48", "bob"]
    );
    assert_eq!(
        get(vec![("ip", "192.0.2.50"), ("simulated", "true")]).await,
        ["192.0.2.50"]
    );
    assert_eq!(
        get(vec![("limit", "2"), ("offset", "1")]).await,
        ["198.51.100.0/24", "2001:db8::1"]
    );
    assert_eq!(get(vec![("offset", "5")]).await, ["192.0.2.60"]);
    let first = s
        .list_decisions(&DecisionFilter::default(), now)
        .await
        .unwrap()[0]
        .id;
    assert_eq!(get(vec![("id_gt", "0")]).await.len(), 6);
    assert_eq!(
        s.list_decisions(
            &DecisionFilter {
                id_gt: Some(first),
                ..DecisionFilter::default()
            },
            now
        )
        .await
        .unwrap()
        .len(),
        5
    );

    // Deletion expires: the row stays and shows up as expired.
    let del =
        DecisionFilter::from_query(&q(&[("ip", "192.0.2.1")]), DecisionQueryKind::Delete).unwrap();
    let expired = s.expire_decisions(&del, now).await.unwrap();
    assert_eq!(values(&expired), ["192.0.2.1"]);
    assert!(
        s.expire_decisions(&del, now).await.unwrap().is_empty(),
        "already expired"
    );
    let later = now + Duration::milliseconds(1);
    let by_ip =
        DecisionFilter::from_query(&q(&[("ip", "192.0.2.1")]), DecisionQueryKind::Bouncer).unwrap();
    assert!(s.list_decisions(&by_ip, later).await.unwrap().is_empty());
    let gone = s
        .list_expired_decisions(
            &DecisionFilter::default(),
            Some(now - Duration::seconds(2)),
            later,
            true,
        )
        .await
        .unwrap();
    assert_eq!(values(&gone), ["192.0.2.1"]);
    assert!(
        gone[0]
            .to_bouncer_model(later, true)
            .duration
            .unwrap()
            .starts_with('-')
    );

    let bob = s
        .list_decisions(
            &DecisionFilter {
                value: Some("bob".into()),
                ..DecisionFilter::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(s.expire_decision_by_id(bob[0].id, now).await.unwrap(), 1);
    assert_eq!(s.expire_decision_by_id(bob[0].id, now).await.unwrap(), 0);
    assert_eq!(s.expire_decision_by_id(-5, now).await.unwrap(), 0);
    assert_eq!(s.get_decision(bob[0].id).await.unwrap().unwrap().until, now);
    assert_eq!(s.count_active_decisions(later).await.unwrap(), 5);

    // Purge of decisions expired long ago.
    assert_eq!(
        s.delete_expired_decisions(now - Duration::minutes(30))
            .await
            .unwrap(),
        1
    );
}

async fn decision_stream(s: &Store) {
    let t0 = Utc::now();
    let stream =
        |pairs: Vec<(&'static str, &'static str)>| StreamQuery::from_query(&q(&pairs)).unwrap();
    // An old ban, expired long ago, then renewed: dedup hides the old row.
    s.create_alerts(
        None,
        &[manual_alert(
            "Ip",
            "192.0.2.1",
            "1h",
            t0 - Duration::days(3),
        )],
    )
    .await
    .unwrap();
    s.create_alerts(None, &[manual_alert("Ip", "192.0.2.1", "4h", t0)])
        .await
        .unwrap();
    s.create_alerts(
        None,
        &[manual_alert(
            "Ip",
            "192.0.2.2",
            "1h",
            t0 - Duration::days(3),
        )],
    )
    .await
    .unwrap();
    s.create_alerts(None, &[manual_alert("Range", "198.51.100.0/24", "1h", t0)])
        .await
        .unwrap();
    s.create_alerts(None, &[manual_alert("username", "bob", "1h", t0)])
        .await
        .unwrap();

    let q0 = stream(vec![("startup", "true")]);
    let new = s
        .list_active_decisions(&q0.filter, t0, q0.dedup)
        .await
        .unwrap();
    let deleted = s
        .list_expired_decisions(&q0.filter, None, t0, q0.dedup)
        .await
        .unwrap();
    assert_eq!(
        values(&new),
        ["192.0.2.1", "198.51.100.0/24"],
        "scopes default to ip,range"
    );
    assert_eq!(
        values(&deleted),
        ["192.0.2.2"],
        "the renewed ban is not reported deleted"
    );
    let nodedup = s
        .list_expired_decisions(&q0.filter, None, t0, false)
        .await
        .unwrap();
    assert_eq!(values(&nodedup), ["192.0.2.1", "192.0.2.2"]);
    let ip_only = stream(vec![("startup", "true"), ("scopes", "ip")]);
    assert_eq!(
        values(
            &s.list_active_decisions(&ip_only.filter, t0, true)
                .await
                .unwrap()
        ),
        ["192.0.2.1"]
    );

    // Delta: the bouncer pulled at t1; a decision is added and one is deleted afterwards.
    let t1 = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.create_alerts(None, &[manual_alert("Ip", "203.0.113.5", "2h", Utc::now())])
        .await
        .unwrap();
    let t2 = Utc::now();
    let del = DecisionFilter::from_query(
        &q(&[("value", "198.51.100.0/24")]),
        DecisionQueryKind::Delete,
    )
    .unwrap();
    s.expire_decisions(&del, t2).await.unwrap();
    let t3 = t2 + Duration::milliseconds(10);
    let delta = stream(vec![]);
    let new = s
        .list_decisions_created_since(&delta.filter, t1, t3, delta.dedup)
        .await
        .unwrap();
    let deleted = s
        .list_expired_decisions(
            &delta.filter,
            Some(t1 - Duration::seconds(2)),
            t3,
            delta.dedup,
        )
        .await
        .unwrap();
    assert_eq!(values(&new), ["203.0.113.5"]);
    assert_eq!(values(&deleted), ["198.51.100.0/24"]);
    let filtered = stream(vec![("origins", "crowdsec")]);
    assert!(
        s.list_decisions_created_since(&filtered.filter, t1, t3, true)
            .await
            .unwrap()
            .is_empty()
    );
    let sc = stream(vec![("scenarios_containing", "203.0.113")]);
    assert_eq!(
        values(
            &s.list_decisions_created_since(&sc.filter, t1, t3, true)
                .await
                .unwrap()
        ),
        ["203.0.113.5"]
    );

    // Next pull at t3: nothing new.
    let t4 = t3 + Duration::seconds(1);
    assert!(
        s.list_decisions_created_since(&delta.filter, t3, t4, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.list_expired_decisions(&delta.filter, Some(t3), t4, true)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn flush(s: &Store) {
    let now = Utc::now();
    // The oldest alert holds an active decision, then five without decisions, and the newest
    // one holds an expired decision.
    let active = s
        .create_alerts(None, &[manual_alert("Ip", "198.51.100.1", "4h", now)])
        .await
        .unwrap()[0];
    for i in 0..5 {
        s.create_alerts(None, &[agent_alert(&format!("192.0.2.{i}"), "s", now)])
            .await
            .unwrap();
    }
    s.create_alerts(
        None,
        &[manual_alert(
            "Ip",
            "198.51.100.2",
            "1h",
            now - Duration::hours(2),
        )],
    )
    .await
    .unwrap();
    assert_eq!(s.count_alerts().await.unwrap(), 7);

    let report = s
        .flush(
            &FlushPolicy {
                max_items: Some(2),
                ..FlushPolicy::default()
            },
            now,
        )
        .await
        .unwrap();
    // The two newest are kept; the older alert with an active decision survives too.
    assert_eq!(report.alerts_over_limit, 4);
    let left: Vec<i64> = s
        .list_alerts(&AlertFilter::default(), now)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left.len(), 3);
    assert!(left.contains(&active));

    // Everything is older than "zero age" later, except the alert holding an active ban.
    let later = now + Duration::minutes(1);
    let report = s
        .flush(
            &FlushPolicy {
                max_age: Some(Duration::seconds(1)),
                ..FlushPolicy::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(report.alerts_too_old, 2);
    let left: Vec<i64> = s
        .list_alerts(&AlertFilter::default(), later)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left, [active]);

    s.insert_metrics(
        MetricsSource::LogProcessor,
        "m",
        now - Duration::days(10),
        "{}",
    )
    .await
    .unwrap();
    s.insert_metrics(MetricsSource::RemediationComponent, "fw", now, r#"{"a":1}"#)
        .await
        .unwrap();
    let report = s
        .flush(
            &FlushPolicy {
                metrics_max_age: Some(Duration::days(7)),
                ..FlushPolicy::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(report.metrics, 1);
    assert_eq!(s.list_unpushed_metrics().await.unwrap().len(), 1);
}

async fn allowlists(s: &Store) {
    let now = Utc::now();
    s.create_allowlist("office", "office networks", "", false)
        .await
        .unwrap();
    assert!(
        s.create_allowlist("office", "", "", false)
            .await
            .unwrap_err()
            .is_already_exists()
    );
    let items = [
        NewAllowlistItem {
            value: "192.0.2.0/24".into(),
            comment: "lan".into(),
            expires_at: None,
        },
        NewAllowlistItem {
            value: "2001:db8::/32".into(),
            comment: String::new(),
            expires_at: None,
        },
        NewAllowlistItem {
            value: "203.0.113.9".into(),
            comment: "old".into(),
            expires_at: Some(now - Duration::hours(1)),
        },
    ];
    assert_eq!(s.add_allowlist_items("office", &items).await.unwrap(), 3);
    assert!(matches!(
        s.add_allowlist_items(
            "office",
            &[NewAllowlistItem {
                value: "nope".into(),
                ..NewAllowlistItem::default()
            }]
        )
        .await,
        Err(Error::InvalidIp { .. })
    ));
    assert!(
        s.add_allowlist_items("missing", &items)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let hit = s.check_allowlist("192.0.2.77", now).await.unwrap();
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].reason(), "192.0.2.0/24 from office (lan)");
    assert_eq!(
        s.check_allowlist("192.0.2.128/25", now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.check_allowlist("192.0.0.0/16", now)
            .await
            .unwrap()
            .is_empty(),
        "a wider range is not covered"
    );
    assert_eq!(
        s.check_allowlist("2001:db8:5::1", now).await.unwrap()[0].value,
        "2001:db8::/32"
    );
    assert!(
        s.check_allowlist("203.0.113.9", now)
            .await
            .unwrap()
            .is_empty(),
        "expired entry"
    );
    assert!(s.check_allowlist("bad", now).await.is_err());

    let l = s.get_allowlist("office", true).await.unwrap().unwrap();
    assert_eq!(l.items.len(), 3);
    assert_eq!(
        l.items[2].expires_at.map(|t| t.timestamp()),
        Some((now - Duration::hours(1)).timestamp())
    );
    assert!(
        s.get_allowlist("office", false)
            .await
            .unwrap()
            .unwrap()
            .items
            .is_empty()
    );
    s.create_allowlist("console", "", "abc123", true)
        .await
        .unwrap();
    let all = s.list_allowlists(true).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["console", "office"]
    );
    assert!(all[0].from_console);

    assert_eq!(
        s.remove_allowlist_items("office", &["192.0.2.0/24".to_owned()])
            .await
            .unwrap(),
        1
    );
    assert!(
        s.check_allowlist("192.0.2.77", now)
            .await
            .unwrap()
            .is_empty()
    );
    s.delete_allowlist("office").await.unwrap();
    assert!(s.get_allowlist("office", true).await.unwrap().is_none());
    assert!(
        s.delete_allowlist("office")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn config_items_and_locks(s: &Store) {
    assert_eq!(s.get_config_item("apic_token").await.unwrap(), None);
    s.set_config_item("apic_token", "t1").await.unwrap();
    s.set_config_item("apic_token", "t1").await.unwrap();
    s.set_config_item("apic_token", "t2").await.unwrap();
    assert_eq!(
        s.get_config_item("apic_token").await.unwrap().as_deref(),
        Some("t2")
    );
    assert!(s.delete_config_item("apic_token").await.unwrap());
    assert!(!s.delete_config_item("apic_token").await.unwrap());

    let now = Utc::now();
    let stale = now - Duration::minutes(10);
    assert!(s.acquire_lock("pullCAPI", now, stale).await.unwrap());
    assert!(
        !s.acquire_lock("pullCAPI", now, stale).await.unwrap(),
        "held"
    );
    // Much later the holder is considered gone.
    let later = now + Duration::hours(1);
    assert!(
        s.acquire_lock("pullCAPI", later, later - Duration::minutes(10))
            .await
            .unwrap()
    );
    s.release_lock("pullCAPI").await.unwrap();
    assert!(
        s.acquire_lock("pullCAPI", later, later - Duration::minutes(10))
            .await
            .unwrap()
    );
}

async fn usage_metrics(s: &Store) {
    let now = Utc::now();
    let a = s
        .insert_metrics(
            MetricsSource::RemediationComponent,
            "fw",
            now,
            r#"{"version":"1"}"#,
        )
        .await
        .unwrap();
    let b = s
        .insert_metrics(MetricsSource::LogProcessor, "agent", now, "{}")
        .await
        .unwrap();
    let pending = s.list_unpushed_metrics().await.unwrap();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(pending[0].source, MetricsSource::RemediationComponent);
    assert_eq!(pending[0].payload, r#"{"version":"1"}"#);
    assert_eq!(s.mark_metrics_pushed(&[a], now).await.unwrap(), 1);
    assert_eq!(s.list_unpushed_metrics().await.unwrap().len(), 1);
}

async fn concurrent_writers(s: &Store) {
    // Many tasks writing and reading at once must neither fail nor lose rows.
    let now = Utc::now();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..5 {
                let ip = format!("10.{i}.{j}.1");
                s.create_alerts(Some("m"), &[manual_alert("Ip", &ip, "1h", now)])
                    .await
                    .unwrap();
                let f = DecisionFilter {
                    value: Some(ip),
                    ..DecisionFilter::default()
                };
                assert_eq!(s.list_decisions(&f, now).await.unwrap().len(), 1);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.count_alerts().await.unwrap(), 80);
    assert_eq!(s.count_active_decisions(now).await.unwrap(), 80);
}

/// Every decision [`Store::encoded_decisions`] hands to its writer, one line each, and the
/// number of chunks it sent.
async fn encoded_lines(
    s: &Store,
    f: &DecisionFilter,
    expired: bool,
    now: DateTime<Utc>,
    dedup: bool,
    chunk: usize,
) -> (String, usize) {
    let mut rx = s.encoded_decisions(f, expired, now, dedup, chunk, |out, d| {
        out.extend_from_slice(row_line(d).as_bytes());
    });
    let (mut text, mut chunks) = (String::new(), 0);
    while let Some(c) = rx.recv().await {
        let c = c.unwrap();
        assert!(!c.is_empty(), "no empty chunk");
        text.push_str(std::str::from_utf8(&c).unwrap());
        chunks += 1;
    }
    (text, chunks)
}

fn row_line(d: &DecisionRow<'_>) -> String {
    format!(
        "{} {} {} {} {} {} {} {}\n",
        d.id,
        d.until.timestamp_nanos_opt().unwrap(),
        d.scenario,
        d.decision_type,
        d.scope,
        d.value,
        d.origin,
        d.uuid
    )
}

async fn encoded_stream_matches_the_lists(s: &Store) {
    let t0 = Utc::now();
    let mut alerts = Vec::new();
    for i in 0..60u32 {
        // Active and expired bans, some values banned several times (dedup keeps the latest
        // expiry, and both rows of a tie), over several scopes, origins and scenarios.
        let value = format!("10.1.0.{}", i % 25);
        let (scope, value) = match i % 7 {
            5 => ("Range", format!("10.{i}.0.0/16")),
            6 => ("username", format!("user{}", i % 3)),
            _ => ("Ip", value),
        };
        let origin = ["cscli", "crowdsec", "CAPI"][(i % 3) as usize];
        let scenario = [
            "crowdsecurity/SSH-bf",
            "manual ban",
            "crowdsecurity/http-probing",
        ][(i % 4 % 3) as usize];
        let duration = ["1h", "4h", "1h", "30m"][(i % 4) as usize];
        let stop = if i % 5 == 0 {
            t0 - Duration::days(1)
        } else {
            t0
        };
        let mut a = manual_alert(scope, &value, duration, stop);
        a.decisions = Some(vec![decision(scope, &value, duration, origin, scenario)]);
        alerts.push(a);
    }
    s.create_alerts(Some("m"), &alerts).await.unwrap();
    let filters = [
        DecisionFilter::default(),
        StreamQuery::from_query(&q(&[("startup", "true")]))
            .unwrap()
            .filter,
        StreamQuery::from_query(&q(&[("scopes", "ip")]))
            .unwrap()
            .filter,
        StreamQuery::from_query(&q(&[("origins", "crowdsec,CAPI")]))
            .unwrap()
            .filter,
        StreamQuery::from_query(&q(&[("scenarios_containing", "ssh,PROBING")]))
            .unwrap()
            .filter,
        StreamQuery::from_query(&q(&[("scenarios_not_containing", "ssh")]))
            .unwrap()
            .filter,
    ];
    let mut seen_rows = 0;
    for f in &filters {
        for dedup in [true, false] {
            for expired in [true, false] {
                let listed = if expired {
                    s.list_expired_decisions(f, None, t0, dedup).await
                } else {
                    s.list_active_decisions(f, t0, dedup).await
                }
                .unwrap();
                let expected: String = listed.iter().map(|r| row_line(&r.as_row())).collect();
                let (text, chunks) = encoded_lines(s, f, expired, t0, dedup, 1).await;
                assert_eq!(text, expected, "{f:?} dedup={dedup} expired={expired}");
                assert_eq!(chunks, listed.len(), "one row per chunk of one byte");
                let (text, chunks) = encoded_lines(s, f, expired, t0, dedup, 1 << 16).await;
                assert_eq!(text, expected);
                assert_eq!(chunks, usize::from(!listed.is_empty()));
                seen_rows += listed.len();
            }
        }
    }
    assert!(seen_rows > 100, "the cases list decisions: {seen_rows}");
    // The dedup and the filters did remove rows somewhere.
    let all = s
        .list_active_decisions(&DecisionFilter::default(), t0, false)
        .await
        .unwrap();
    let dedup = s
        .list_active_decisions(&DecisionFilter::default(), t0, true)
        .await
        .unwrap();
    assert!(dedup.len() < all.len() && !dedup.is_empty());
}

async fn streams_leave_connections_free(s: &Store) {
    // More streamed reads than the pool has connections, none of them consumed: they queue,
    // and an ordinary query still gets a connection at once.
    let now = Utc::now();
    let alerts: Vec<Alert> = (0..10)
        .map(|i| manual_alert("Ip", &format!("10.9.0.{i}"), "1h", now))
        .collect();
    s.create_alerts(Some("m"), &alerts).await.unwrap();
    let one_byte_per_row = |out: &mut Vec<u8>, _: &DecisionRow<'_>| out.push(b'.');
    let held: Vec<_> = (0..12)
        .map(|_| {
            s.encoded_decisions(
                &DecisionFilter::default(),
                false,
                now,
                false,
                1,
                one_byte_per_row,
            )
        })
        .collect();
    // Let the streams start and fill their channels.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let listed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.list_decisions(&DecisionFilter::default(), now),
    )
    .await
    .expect("a query waits behind held streams")
    .unwrap();
    assert_eq!(listed.len(), 10);
    drop(held);
    // Queued streams run once the held ones are gone.
    let mut rx = s.encoded_decisions(
        &DecisionFilter::default(),
        false,
        now,
        false,
        100,
        one_byte_per_row,
    );
    assert_eq!(rx.recv().await.unwrap().unwrap(), b"..........");
    assert!(rx.recv().await.is_none());
}

backend_tests!(
    machines,
    bouncers,
    alerts_round_trip,
    alert_filters,
    decision_queries,
    decision_stream,
    encoded_stream_matches_the_lists,
    flush,
    allowlists,
    config_items_and_locks,
    usage_metrics,
    concurrent_writers,
    streams_leave_connections_free,
);
