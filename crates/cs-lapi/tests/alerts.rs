//! Alerts: profiles creating decisions, manual decisions, allowlists, listing/get/delete, trusted IPs,
//! JSON quirks (validation, bad JSON, oversized and gzip bodies).

mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;
use cs_lapi::{Notifier, Profiles, ServerOptions};
use serde_json::{Value, json};

const KEY: &str = "bouncerkey";

#[tokio::test]
async fn agent_alert_gets_profile_decision() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("agent").await;
    let ids = push(
        &lapi,
        &token,
        json!([agent_alert("35.188.49.176", "crowdsecurity/ssh-bf")]),
    )
    .await;
    assert_eq!(ids.len(), 1);
    assert!(ids[0].parse::<i64>().is_ok());
    let r = get("/v1/decisions?ip=35.188.49.176")
        .key(KEY)
        .send(&lapi)
        .await;
    let d = &r.json()[0];
    assert_eq!(d["origin"], "crowdsec");
    assert_eq!(d["scenario"], "crowdsecurity/ssh-bf");
    assert_eq!(d["type"], "ban");
    let alert = get(&format!("/v1/alerts/{}", ids[0]))
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    assert_eq!(alert["machine_id"], "agent");
    assert_eq!(alert["decisions"][0]["simulated"], false);
    assert!(
        alert["decisions"][0]["uuid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(alert["uuid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(
        lapi.store
            .get_machine("agent")
            .await
            .unwrap()
            .unwrap()
            .last_push
            .is_some()
    );
}

#[tokio::test]
async fn alerts_without_remediation_or_outside_profiles_get_no_decision() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("agent").await;
    let mut alert = agent_alert("192.0.2.3", "x/y");
    alert["remediation"] = json!(false);
    let mut user = agent_alert("bob", "x/user-enum");
    user["source"] = json!({"scope": "username", "value": "bob"});
    let ids = push(&lapi, &token, json!([alert, user])).await;
    assert_eq!(ids.len(), 2);
    assert_eq!(
        get("/v1/decisions?scopes=ip,username")
            .key(KEY)
            .send(&lapi)
            .await
            .body,
        "null"
    );
}

#[tokio::test]
async fn custom_profiles_duration_expr_origin_and_simulation() {
    let yaml = r#"
name: sim_and_long
filters:
 - Alert.GetScenario() startsWith "crowdsecurity/"
 - Alert.GetValue() == "192.0.2.7"
decisions:
 - type: captcha
   duration: 1h
   origin: custom
 - type: ban
   simulated: true
duration_expr: Sprintf('%dh', 2 * 3)
notifications:
 - http_default
on_success: break
---
name: never_reached
filters:
 - true
decisions:
 - type: ban
"#;
    let profiles = Profiles::from_yaml("profiles.yaml", yaml).unwrap();
    let lapi = Lapi::with(ServerOptions::default(), profiles).await;
    let seen = Arc::new(Recorder::default());
    let server = lapi.server.clone().with_notifier(seen.clone());
    let lapi = Lapi {
        router: server.router(),
        server,
        ..lapi
    };
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("agent").await;
    let ids = push(
        &lapi,
        &token,
        json!([agent_alert("192.0.2.7", "crowdsecurity/ssh-bf")]),
    )
    .await;
    let alert = get(&format!("/v1/alerts/{}", ids[0]))
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    let decisions = alert["decisions"].as_array().unwrap();
    // Two true filters: the profile's two decisions are generated twice.
    assert_eq!(decisions.len(), 4, "{alert}");
    let d = |i: usize, k: &str| decisions[i][k].clone();
    assert_eq!(
        (d(0, "type"), d(0, "origin"), d(0, "simulated")),
        (json!("captcha"), json!("crowdsec/custom"), json!(false))
    );
    // The profile's `simulated: true` makes that decision simulated although the alert is not.
    assert_eq!(
        (d(1, "type"), d(1, "origin"), d(1, "simulated")),
        (json!("ban"), json!("crowdsec"), json!(true))
    );
    let left =
        cs_models::parse_duration(d(0, "duration").as_str().unwrap()).unwrap() / 1_000_000_000;
    assert!(
        (21_500..=21_600).contains(&left),
        "duration_expr gives 6h: {left}"
    );
    assert_eq!(
        *seen.0.lock().unwrap(),
        [(
            "sim_and_long".to_owned(),
            vec!["http_default".to_owned()],
            "192.0.2.7".to_owned()
        )]
    );
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Vec<String>, String)>>);

impl Notifier for Recorder {
    fn notify(&self, profile: &str, plugins: &[String], alert: &cs_models::Alert) {
        self.0.lock().unwrap().push((
            profile.to_owned(),
            plugins.to_vec(),
            alert.get_value().to_owned(),
        ));
    }
}

#[tokio::test]
async fn profile_runtime_errors_follow_on_error() {
    let failing =
        "name: p\nfilters:\n - Alert.Events[5].GetMeta('x') == 'y'\ndecisions:\n - type: ban\n";
    let lapi = Lapi::with(
        ServerOptions::default(),
        Profiles::from_yaml("p", failing).unwrap(),
    )
    .await;
    let token = lapi.agent("agent").await;
    let r = post("/v1/alerts")
        .bearer(&token)
        .json(&json!([agent_alert("192.0.2.1", "a/b")]))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);

    let applied = format!("{failing}on_error: apply\n");
    let lapi = Lapi::with(
        ServerOptions::default(),
        Profiles::from_yaml("p", &applied).unwrap(),
    )
    .await;
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("agent").await;
    push(&lapi, &token, json!([agent_alert("192.0.2.1", "a/b")])).await;
    assert_eq!(
        get("/v1/decisions")
            .key(KEY)
            .send(&lapi)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn allowlisted_sources_are_skipped() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("agent").await;
    lapi.store
        .create_allowlist("office", "our network", "", false)
        .await
        .unwrap();
    let item = cs_store::NewAllowlistItem {
        value: "192.0.2.0/24".into(),
        comment: "lan".into(),
        expires_at: None,
    };
    lapi.store
        .add_allowlist_items("office", &[item])
        .await
        .unwrap();
    let ids = push(
        &lapi,
        &token,
        json!([
            agent_alert("192.0.2.50", "a/b"),
            agent_alert("203.0.113.1", "a/b")
        ]),
    )
    .await;
    assert_eq!(ids.len(), 1, "the allowlisted alert is dropped");
    assert_eq!(
        get("/v1/decisions?ip=192.0.2.50")
            .key(KEY)
            .send(&lapi)
            .await
            .body,
        "null"
    );

    let r = get("/v1/allowlists/check/192.0.2.50")
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    assert_eq!(r["allowlisted"], true);
    assert!(r["reason"].as_str().unwrap().contains("office"));
    assert_eq!(
        head("/v1/allowlists/check/192.0.2.50")
            .bearer(&token)
            .send(&lapi)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        head("/v1/allowlists/check/8.8.8.8")
            .bearer(&token)
            .send(&lapi)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = post("/v1/allowlists/check")
        .bearer(&token)
        .json(&json!({"targets": ["192.0.2.1", "8.8.8.8", "nonsense"]}))
        .send(&lapi)
        .await
        .json();
    assert_eq!(r["results"].as_array().unwrap().len(), 1);
    assert_eq!(r["results"][0]["target"], "192.0.2.1");
    let lists = get("/v1/allowlists?with_content=true")
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    assert_eq!(lists[0]["name"], "office");
    assert_eq!(lists[0]["items"][0]["value"], "192.0.2.0/24");
    assert_eq!(
        get("/v1/allowlists/office")
            .bearer(&token)
            .send(&lapi)
            .await
            .json()["description"],
        "our network"
    );
    assert_eq!(
        get("/v1/allowlists/nope")
            .bearer(&token)
            .send(&lapi)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn list_shape_and_filters_as_cscli_uses_them() {
    let lapi = Lapi::new().await;
    let token = lapi.agent("agent").await;
    assert_eq!(
        get("/v1/alerts").bearer(&token).send(&lapi).await.body,
        "null"
    );
    push(
        &lapi,
        &token,
        json!([manual_alert("Range", "198.51.100.0/24", "1h", "range ban")]),
    )
    .await;
    push(
        &lapi,
        &token,
        json!([agent_alert("192.0.2.1", "crowdsecurity/ssh-bf")]),
    )
    .await;
    let r = get("/v1/alerts?has_active_decision=true&include_capi=false&limit=100")
        .bearer(&token)
        .send(&lapi)
        .await;
    let list = r.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(first["scenario"], "crowdsecurity/ssh-bf", "newest first");
    for key in ["created_at", "start_at", "stop_at"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(first[key].as_str().unwrap()).is_ok(),
            "{key}: {first}"
        );
    }
    assert!(
        first["events"][0]["timestamp"]
            .as_str()
            .unwrap()
            .ends_with("+0000 UTC")
    );
    let r = get("/v1/alerts?scenario=range%20ban")
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    assert_eq!(r.as_array().unwrap().len(), 1);
    let r = get("/v1/alerts?ip=198.51.100.7")
        .bearer(&token)
        .send(&lapi)
        .await
        .json();
    assert_eq!(r[0]["source"]["value"], "198.51.100.0/24");
    let r = get("/v1/alerts?nope=1").bearer(&token).send(&lapi).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get("/v1/alerts/abc")
            .bearer(&token)
            .send(&lapi)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get("/v1/alerts/999")
            .bearer(&token)
            .send(&lapi)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deleting_alerts_needs_a_trusted_ip() {
    let opts = ServerOptions {
        trusted_ips: vec!["10.0.0.0/8".parse().unwrap()],
        ..ServerOptions::default()
    };
    let lapi = Lapi::with(opts, Profiles::default_profiles()).await;
    let token = lapi.agent("agent").await;
    let ids = push(
        &lapi,
        &token,
        json!([
            agent_alert("192.0.2.1", "a/b"),
            agent_alert("192.0.2.2", "a/c")
        ]),
    )
    .await;
    let r = delete(&format!("/v1/alerts/{}", ids[0]))
        .bearer(&token)
        .from("192.0.2.200:1")
        .send(&lapi)
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"message":"access forbidden from this IP (192.0.2.200)"}"#
        )
    );
    let r = delete("/v1/alerts")
        .bearer(&token)
        .from("192.0.2.200:1")
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = delete(&format!("/v1/alerts/{}", ids[0]))
        .bearer(&token)
        .from("10.9.9.9:1")
        .send(&lapi)
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, r#"{"nbDeleted":"1"}"#)
    );
    let r = delete(&format!("/v1/alerts/{}", ids[0]))
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = delete("/v1/alerts?scenario=a/c")
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(r.body, r#"{"nbDeleted":"1"}"#);
    assert_eq!(
        get("/v1/alerts").bearer(&token).send(&lapi).await.body,
        "null"
    );
}

#[tokio::test]
async fn json_quirks() {
    let opts = ServerOptions {
        max_body_authenticated: 4096,
        ..ServerOptions::default()
    };
    let lapi = Lapi::with(opts, Profiles::default_profiles()).await;
    let token = lapi.agent("agent").await;
    let send = |body: Vec<u8>| post("/v1/alerts").bearer(&token).raw(body);

    let r = send(b"[{\"scenario\": ".to_vec()).send(&lapi).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["message"].as_str().unwrap().contains("line 1"),
        "{}",
        r.body
    );
    let r = send(b"{}".to_vec()).send(&lapi).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an object where a list is expected"
    );

    let r = send(br#"[{"scenario": "x"}]"#.to_vec()).send(&lapi).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("0.capacity in body is required"),
        "{}",
        r.body
    );

    let huge: Vec<Value> = (0..200)
        .map(|i| agent_alert(&format!("192.0.2.{i}"), "a/b"))
        .collect();
    let r = send(serde_json::to_vec(&huge).unwrap()).send(&lapi).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // gzip-encoded bodies are accepted.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&json!([agent_alert("192.0.2.77", "a/b")])).unwrap())
        .unwrap();
    let r = send(gz.finish().unwrap())
        .header("content-encoding", "gzip")
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn progressive_bans_count_previous_decisions() {
    let yaml = "name: progressive\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == 'Ip'\ndecisions:\n - type: ban\n   duration: 4h\nduration_expr: Sprintf('%dh', (GetDecisionsCount(Alert.GetValue()) + 1) * 4)\non_success: break\n";
    let profiles = Profiles::from_yaml("profiles.yaml", yaml).unwrap();
    let lapi = Lapi::with(ServerOptions::default(), profiles).await;
    let token = lapi.agent("agent").await;
    let mut hours = Vec::new();
    for _ in 0..3 {
        let ids = push(
            &lapi,
            &token,
            json!([agent_alert("192.0.2.8", "crowdsecurity/ssh-bf")]),
        )
        .await;
        let alert = get(&format!("/v1/alerts/{}", ids[0]))
            .bearer(&token)
            .send(&lapi)
            .await
            .json();
        let left =
            cs_models::parse_duration(alert["decisions"][0]["duration"].as_str().unwrap()).unwrap();
        hours.push((left as f64 / 3.6e12).round() as i64);
    }
    assert_eq!(hours, [4, 8, 12]);
}
