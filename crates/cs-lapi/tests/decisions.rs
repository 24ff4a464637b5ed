//! Bouncer endpoints: stream startup/delta semantics, deletion, filters, `null` bodies, Go durations.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};

const KEY: &str = "fwbouncerkey0123456789abcdef0001";

async fn setup() -> (Lapi, String) {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", KEY).await;
    let token = lapi.agent("cscli").await;
    (lapi, token)
}

async fn stream(lapi: &Lapi, query: &str) -> Value {
    let r = get(&format!("/v1/decisions/stream{query}"))
        .key(KEY)
        .send(lapi)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    r.json()
}

fn values(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_go_duration_secs(text: &str) -> f64 {
    cs_models::parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}")) as f64 / 1e9
}

#[tokio::test]
async fn empty_stream_is_null_lists() {
    let (lapi, _) = setup().await;
    let r = get("/v1/decisions/stream?startup=true")
        .key(KEY)
        .send(&lapi)
        .await;
    assert_eq!(r.body, r#"{"deleted":null,"new":null}"#);
    let r = get("/v1/decisions/stream").key(KEY).send(&lapi).await;
    assert_eq!(r.body, r#"{"deleted":null,"new":null}"#);
    let r = get("/v1/decisions").key(KEY).send(&lapi).await;
    assert_eq!(r.body, "null");
}

#[tokio::test]
async fn stream_startup_then_deltas_then_deletion() {
    let (lapi, token) = setup().await;
    assert_eq!(
        stream(&lapi, "?startup=true").await,
        json!({"deleted": null, "new": null})
    );

    push(
        &lapi,
        &token,
        json!([manual_alert("Ip", "192.0.2.1", "4h", "bench manual ban")]),
    )
    .await;
    let s = stream(&lapi, "").await;
    assert_eq!(values(&s["new"]), ["192.0.2.1"]);
    assert!(s["deleted"].is_null());
    let d = &s["new"][0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "duration", "id", "origin", "scenario", "scope", "type", "uuid", "value"
        ]
    );
    assert_eq!(
        (
            d["origin"].as_str(),
            d["scope"].as_str(),
            d["type"].as_str()
        ),
        (Some("cscli"), Some("Ip"), Some("ban"))
    );
    let left = parse_go_duration_secs(d["duration"].as_str().unwrap());
    assert!((14_300.0..=14_400.0).contains(&left), "{left}");

    // Nothing changed since the last pull.
    assert_eq!(
        stream(&lapi, "").await,
        json!({"deleted": null, "new": null})
    );

    // Deleting expires the decision: it shows up in `deleted` with a negative duration.
    let r = delete("/v1/decisions?ip=192.0.2.1")
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, r#"{"nbDeleted":"1"}"#)
    );
    let s = stream(&lapi, "").await;
    assert!(s["new"].is_null());
    assert_eq!(values(&s["deleted"]), ["192.0.2.1"]);
    assert!(
        s["deleted"][0]["duration"]
            .as_str()
            .unwrap()
            .starts_with('-')
    );

    // A fresh startup lists the expired one in `deleted` only.
    let s = stream(&lapi, "?startup=true").await;
    assert!(s["new"].is_null());
    assert_eq!(values(&s["deleted"]), ["192.0.2.1"]);
    let r = get("/v1/decisions?ip=192.0.2.1").key(KEY).send(&lapi).await;
    assert_eq!(r.body, "null");
}

#[tokio::test]
async fn stream_filters_and_default_scopes() {
    let (lapi, token) = setup().await;
    push(
        &lapi,
        &token,
        json!([
            manual_alert("Ip", "2001:db8::1", "1h", "bench manual ban v6"),
            manual_alert("Range", "198.51.100.0/24", "1h", "bench manual range ban"),
            manual_alert("Ip", "192.0.2.1", "4h", "bench manual ban"),
            manual_alert("Country", "FR", "4h", "country ban"),
        ]),
    )
    .await;
    let all = stream(&lapi, "?startup=true").await;
    let mut got = values(&all["new"]);
    got.sort();
    assert_eq!(
        got,
        ["192.0.2.1", "198.51.100.0/24", "2001:db8::1"],
        "scopes default to ip,range"
    );
    assert_eq!(
        values(&stream(&lapi, "?startup=true&scopes=ip").await["new"]).len(),
        2
    );
    let v6 = stream(
        &lapi,
        "?startup=true&scopes=ip,range&origins=cscli&scenarios_containing=v6",
    )
    .await;
    assert_eq!(values(&v6["new"]), ["2001:db8::1"]);
    let not_v6 = stream(&lapi, "?startup=true&scenarios_not_containing=v6,RANGE").await;
    assert_eq!(values(&not_v6["new"]), ["192.0.2.1"]);
    let country = stream(&lapi, "?startup=true&scopes=country").await;
    assert_eq!(values(&country["new"]), ["FR"]);
}

#[tokio::test]
async fn live_mode_ip_and_range_queries() {
    let (lapi, token) = setup().await;
    push(
        &lapi,
        &token,
        json!([
            manual_alert("Range", "198.51.100.0/24", "1h", "range ban"),
            manual_alert("Ip", "2001:db8::1", "1h", "v6 ban"),
        ]),
    )
    .await;
    let q = |uri: &str| {
        let uri = uri.to_owned();
        let lapi = &lapi;
        async move { get(&uri).key(KEY).send(lapi).await }
    };
    let r = q("/v1/decisions?ip=198.51.100.77").await;
    assert_eq!(values(&r.json()), ["198.51.100.0/24"]);
    let d = &r.json()[0];
    assert!(
        d.get("uuid").is_none() && d.get("simulated").is_none() && d.get("until").is_none(),
        "{d}"
    );
    assert_eq!(
        values(
            &q("/v1/decisions?range=198.51.100.0/24&contains=false")
                .await
                .json()
        ),
        ["198.51.100.0/24"]
    );
    assert_eq!(
        q("/v1/decisions?range=198.51.100.0/16&contains=true")
            .await
            .body,
        "null"
    );
    assert_eq!(
        values(&q("/v1/decisions?ip=2001:db8::1").await.json()),
        ["2001:db8::1"]
    );
    assert_eq!(q("/v1/decisions?ip=203.0.113.9").await.body, "null");
    let r = q("/v1/decisions?ip=not-an-ip").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"].as_str().unwrap().contains("not-an-ip"));
}

#[tokio::test]
async fn expired_alert_decisions_are_never_new() {
    let (lapi, token) = setup().await;
    // A replayed alert from long ago: its decision (stop_at + 4h) is already expired.
    let mut alert = agent_alert("35.188.49.176", "crowdsecurity/ssh-bf");
    alert["start_at"] = json!("2026-02-12T14:10:21Z");
    alert["stop_at"] = json!("2026-02-12T14:10:22Z");
    push(&lapi, &token, json!([alert])).await;
    assert_eq!(
        get("/v1/decisions?ip=35.188.49.176")
            .key(KEY)
            .send(&lapi)
            .await
            .body,
        "null"
    );
    let s = stream(&lapi, "?startup=true").await;
    assert!(s["new"].is_null());
    assert_eq!(values(&s["deleted"]), ["35.188.49.176"]);
    assert!(parse_go_duration_secs(s["deleted"][0]["duration"].as_str().unwrap()) < -3600.0);
}

#[tokio::test]
async fn dedup_keeps_the_longest_decision() {
    let (lapi, token) = setup().await;
    push(
        &lapi,
        &token,
        json!([
            manual_alert("Ip", "192.0.2.5", "1h", "short"),
            manual_alert("Ip", "192.0.2.5", "5h", "long")
        ]),
    )
    .await;
    let s = stream(&lapi, "?startup=true").await;
    assert_eq!(s["new"].as_array().unwrap().len(), 1);
    assert_eq!(s["new"][0]["scenario"], "long");
    let s = stream(&lapi, "?startup=true&dedup=false").await;
    assert_eq!(s["new"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delete_decisions_by_filter_and_id() {
    let (lapi, token) = setup().await;
    push(
        &lapi,
        &token,
        json!([
            manual_alert("Ip", "192.0.2.1", "4h", "a"),
            manual_alert("Ip", "192.0.2.2", "4h", "b")
        ]),
    )
    .await;
    let r = delete("/v1/decisions?bogus=1")
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("parameter 'bogus' is unknown"),
        "{}",
        r.body
    );
    let id = stream(&lapi, "?startup=true").await["new"][0]["id"]
        .as_i64()
        .unwrap();
    let r = delete(&format!("/v1/decisions/{id}"))
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, r#"{"nbDeleted":"1"}"#)
    );
    let r = delete(&format!("/v1/decisions/{id}"))
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "already expired");
    let r = delete("/v1/decisions/abc").bearer(&token).send(&lapi).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = delete("/v1/decisions").bearer(&token).send(&lapi).await;
    assert_eq!(
        r.body, r#"{"nbDeleted":"1"}"#,
        "no filter expires every active decision"
    );
    assert_eq!(get("/v1/decisions").key(KEY).send(&lapi).await.body, "null");
}

#[tokio::test]
async fn simulated_decisions_are_hidden_unless_asked() {
    let (lapi, token) = setup().await;
    let mut alert = manual_alert("Ip", "192.0.2.9", "4h", "sim");
    alert["simulated"] = json!(true);
    push(&lapi, &token, json!([alert])).await;
    assert_eq!(get("/v1/decisions").key(KEY).send(&lapi).await.body, "null");
    let r = get("/v1/decisions?simulated=true")
        .key(KEY)
        .send(&lapi)
        .await;
    assert_eq!(values(&r.json()), ["192.0.2.9"]);
}

/// A startup answer larger than a batch of rows and than a body chunk is streamed whole and in order.
#[tokio::test]
async fn large_startup_stream_is_complete() {
    let (lapi, token) = setup().await;
    let n = 5000;
    let decisions: Vec<Value> = (0..n)
        .map(|i| {
            json!({"duration": "4h", "origin": "cscli", "scenario": "bulk", "scope": "Ip", "type": "ban",
                   "value": format!("10.0.{}.{}", i / 256, i % 256)})
        })
        .collect();
    let mut alert = manual_alert("Ip", "10.0.0.0", "4h", "bulk");
    alert["decisions"] = Value::Array(decisions);
    push(&lapi, &token, json!([alert])).await;
    let body = stream(&lapi, "?startup=true").await;
    assert_eq!(body["deleted"], Value::Null);
    let got = values(&body["new"]);
    assert_eq!(got.len(), n);
    assert_eq!(got[0], "10.0.0.0");
    assert_eq!(
        got[n - 1],
        format!("10.0.{}.{}", (n - 1) / 256, (n - 1) % 256)
    );
    let ids: Vec<i64> = body["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order");
    // The next pull is a delta: nothing new.
    assert_eq!(
        stream(&lapi, "").await,
        json!({"deleted": null, "new": null})
    );
}
