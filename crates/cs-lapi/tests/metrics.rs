//! Prometheus instrumentation: request counters per route, machine and bouncer, live-mode lookup
//! counters, and the gauges recomputed from the store at scrape time.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

const KEY: &str = "metricsbouncerkey0123456789abcdef";

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn requests_are_counted_and_gauges_follow_the_store() {
    let lapi = Lapi::new().await;
    lapi.bouncer("metrics-fw", KEY).await;
    let token = lapi.agent("metrics-agent").await;
    push(
        &lapi,
        &token,
        json!([manual_alert("Ip", "192.0.2.1", "4h", "metrics manual ban")]),
    )
    .await;
    push(
        &lapi,
        &token,
        json!([agent_alert("198.51.100.4", "metrics/ssh-bf")]),
    )
    .await;
    let hit = get("/v1/decisions?ip=192.0.2.1").key(KEY).send(&lapi).await;
    assert_eq!(hit.status, StatusCode::OK);
    let miss = get("/v1/decisions?ip=203.0.113.1")
        .key(KEY)
        .send(&lapi)
        .await;
    assert_eq!(miss.body, "null");
    let r = get("/v1/alerts/999999").bearer(&token).send(&lapi).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let m = cs_metrics::global();
    cs_lapi::refresh_gauges(&lapi.store, m).await.unwrap();
    let text = m.render(cs_metrics::Level::Full);
    for line in [
        r#"cs_lapi_route_requests_total{method="POST",route="/v1/alerts"} 2"#,
        r#"cs_lapi_route_requests_total{method="GET",route="/v1/decisions"} 2"#,
        r#"cs_lapi_route_requests_total{method="GET",route="/v1/alerts/:id"} 1"#,
        r#"cs_lapi_machine_requests_total{machine="metrics-agent",method="POST",route="/v1/alerts"} 2"#,
        r#"cs_lapi_machine_requests_total{machine="metrics-agent",method="GET",route="/v1/alerts/999999"} 1"#,
        r#"cs_lapi_bouncer_requests_total{bouncer="metrics-fw",method="GET",route="/v1/decisions"} 2"#,
        r#"cs_lapi_decisions_ok_total{bouncer="metrics-fw"} 1"#,
        r#"cs_lapi_decisions_ko_total{bouncer="metrics-fw"} 1"#,
        r#"cs_active_decisions{action="ban",origin="cscli",reason="metrics manual ban"} 1"#,
        r#"cs_active_decisions{action="ban",origin="crowdsec",reason="metrics/ssh-bf"} 1"#,
        r#"cs_alerts{reason="metrics/ssh-bf"} 1"#,
        r#"cs_alerts{reason="metrics manual ban"} 1"#,
    ] {
        assert!(has_line(&text, line), "missing {line} in\n{text}");
    }

    // Gauges are recomputed, not accumulated: an expired decision leaves them.
    let r = delete("/v1/decisions?ip=192.0.2.1")
        .bearer(&token)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    cs_lapi::refresh_gauges(&lapi.store, m).await.unwrap();
    let text = m.render(cs_metrics::Level::Full);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("cs_active_decisions{") && l.contains("metrics manual ban")),
        "{text}"
    );
    assert!(has_line(
        &text,
        r#"cs_active_decisions{action="ban",origin="crowdsec",reason="metrics/ssh-bf"} 1"#
    ));
}
