//! Authentication: the matrix of endpoints × credentials, machine registration and login rules,
//! token refresh, bouncer key handling.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use cs_lapi::{AutoRegistration, Profiles, ServerOptions};
use serde_json::json;

const MACHINE_ENDPOINTS: &[(&str, &str)] = &[
    ("DELETE", "/v1/watchers/self"),
    ("GET", "/v1/heartbeat"),
    ("POST", "/v1/alerts"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/alerts/1"),
    ("DELETE", "/v1/alerts/1"),
    ("DELETE", "/v1/alerts"),
    ("DELETE", "/v1/decisions"),
    ("DELETE", "/v1/decisions/1"),
    ("GET", "/v1/allowlists"),
    ("GET", "/v1/allowlists/x"),
    ("GET", "/v1/allowlists/check/1.2.3.4"),
    ("POST", "/v1/allowlists/check"),
    ("GET", "/v1/refresh_token"),
];

const BOUNCER_ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/v1/decisions"),
    ("GET", "/v1/decisions/stream"),
    ("GET", "/v1/decisions/stream?startup=true"),
];

fn call(method: &str, uri: &str) -> Call {
    Call::new(Method::from_bytes(method.as_bytes()).unwrap(), uri)
}

#[tokio::test]
async fn every_machine_endpoint_refuses_missing_wrong_and_bouncer_credentials() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", "bouncer-key-0123456789").await;
    let foreign = cs_lapi::JwtKey::new(vec![1; 64])
        .issue("m", chrono::Utc::now().timestamp())
        .0;
    for (method, uri) in MACHINE_ENDPOINTS {
        let r = call(method, uri).send(&lapi).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} without credentials"
        );
        assert_eq!(r.json()["code"], 401, "{method} {uri}: {}", r.body);
        let r = call(method, uri).bearer(&foreign).send(&lapi).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} with a foreign token"
        );
        assert_eq!(r.json()["message"], "signature is invalid");
        let r = call(method, uri)
            .key("bouncer-key-0123456789")
            .send(&lapi)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} with a bouncer key"
        );
    }
}

#[tokio::test]
async fn every_bouncer_endpoint_refuses_missing_wrong_and_machine_credentials() {
    let lapi = Lapi::new().await;
    let token = lapi.agent("agent").await;
    for (method, uri) in BOUNCER_ENDPOINTS {
        for req in [
            call(method, uri),
            call(method, uri).key("not-a-valid-key"),
            call(method, uri)
                .bearer(&token)
                .header("user-agent", UA_AGENT),
        ] {
            let r = req.send(&lapi).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
            assert_eq!(r.body, r#"{"message":"access forbidden"}"#);
            assert_eq!(
                r.content_type.as_deref(),
                Some("application/json; charset=utf-8")
            );
        }
    }
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let lapi = Lapi::new().await;
    lapi.machine("agent").await;
    let old = cs_lapi::JwtKey::new(vec![42; 64])
        .issue("agent", chrono::Utc::now().timestamp() - 7200)
        .0;
    let r = get("/v1/heartbeat").bearer(&old).send(&lapi).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, r#"{"code":401,"message":"Token is expired"}"#);
    let r = get("/v1/refresh_token").bearer(&old).send(&lapi).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "refresh window is one hour"
    );
}

#[tokio::test]
async fn login_answers_upstream_shape_and_refresh_keeps_working() {
    let lapi = Lapi::new().await;
    let token = lapi.agent("agent").await;
    let r = get("/v1/refresh_token").bearer(&token).send(&lapi).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["code"], 200);
    let expire = chrono::DateTime::parse_from_rfc3339(body["expire"].as_str().unwrap()).unwrap();
    let left = expire.timestamp() - chrono::Utc::now().timestamp();
    assert!((3590..=3600).contains(&left), "{left}");
    let fresh = body["token"].as_str().unwrap();
    assert_eq!(
        get("/v1/heartbeat").bearer(fresh).send(&lapi).await.status,
        StatusCode::OK
    );
    let m = lapi.store.get_machine("agent").await.unwrap().unwrap();
    assert!(m.last_heartbeat.is_some());
    assert_eq!(m.version, "v1.4.6-6~deb12u1+b1-linux-debian");
}

#[tokio::test]
async fn login_refusals() {
    let lapi = Lapi::new().await;
    lapi.machine("agent").await;
    let login = |id: &str, pw: &str, ua: &str| {
        post("/v1/watchers/login")
            .header("user-agent", ua)
            .json(&json!({"machine_id": id, "password": pw}))
    };
    let r = login("agent", "wrong", UA_AGENT).send(&lapi).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            r#"{"code":401,"message":"incorrect Username or Password"}"#
        )
    );
    let r = login("nobody", "password", UA_AGENT).send(&lapi).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = login("agent", "password", "no-slash-agent")
        .send(&lapi)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a User-Agent without name/version is refused"
    );
    let r = post("/v1/watchers/login")
        .raw("{not json")
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["message"], "missing Username or Password");

    // A registered but unvalidated machine cannot log in.
    let r = post("/v1/watchers")
        .json(&json!({"machine_id": "new", "password": "pw"}))
        .send(&lapi)
        .await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::CREATED, ""));
    let r = login("new", "pw", UA_AGENT).send(&lapi).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["message"], "machine new not validated");
    lapi.store.validate_machine("new").await.unwrap();
    assert_eq!(
        login("new", "pw", UA_AGENT).send(&lapi).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn registration_rules() {
    let lapi = Lapi::new().await;
    let reg = |body: serde_json::Value| post("/v1/watchers").json(&body);
    let r = reg(json!({"machine_id": "m1", "password": "p"}))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = reg(json!({"machine_id": "m1", "password": "p"}))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = reg(json!({"machine_id": "m2"})).send(&lapi).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["message"], "password in body is required");
    let r = post("/v1/watchers").raw("[1,").send(&lapi).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body"),
        "{}",
        r.body
    );
    let m = lapi.store.get_machine("m1").await.unwrap().unwrap();
    assert!(!m.is_validated);
    assert_eq!(m.ip_address, "127.0.0.1");
}

#[tokio::test]
async fn auto_registration_and_remote_registration_switch() {
    let token = "a".repeat(32);
    let opts = ServerOptions {
        disable_remote_lapi_registration: false,
        auto_registration: Some(AutoRegistration {
            enabled: true,
            token: token.clone(),
            allowed_ranges: vec!["10.0.0.0/8".parse().unwrap()],
        }),
        ..ServerOptions::default()
    };
    let lapi = Lapi::with(opts, Profiles::default_profiles()).await;
    let body =
        |id: &str, t: &str| json!({"machine_id": id, "password": "pw", "registration_token": t});
    let r = post("/v1/watchers")
        .from("10.1.2.3:5000")
        .json(&body("auto", &token))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(
        lapi.store
            .get_machine("auto")
            .await
            .unwrap()
            .unwrap()
            .is_validated
    );
    let r = post("/v1/watchers")
        .from("192.0.2.1:5000")
        .json(&body("far", &token))
        .send(&lapi)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "client outside allowed_ranges"
    );
    let r = post("/v1/watchers")
        .from("10.1.2.3:5000")
        .json(&body("bad", &"b".repeat(32)))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "wrong token");
    let r = post("/v1/watchers")
        .json(&body("short", "tooshort"))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let opts = ServerOptions {
        disable_remote_lapi_registration: true,
        ..ServerOptions::default()
    };
    let lapi = Lapi::with(opts, Profiles::default_profiles()).await;
    let r = post("/v1/watchers")
        .from("192.0.2.1:5000")
        .json(&json!({"machine_id": "x", "password": "p"}))
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post("/v1/watchers")
        .json(&json!({"machine_id": "x", "password": "p"}))
        .send(&lapi)
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "local clients may still register"
    );
}

#[tokio::test]
async fn machine_deletes_itself() {
    let lapi = Lapi::new().await;
    let token = lapi.agent("agent").await;
    let r = delete("/v1/watchers/self").bearer(&token).send(&lapi).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::NO_CONTENT, ""));
    assert!(lapi.store.get_machine("agent").await.unwrap().is_none());
    let r = delete("/v1/watchers/self").bearer(&token).send(&lapi).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bouncer_key_tracks_ip_type_and_gets_a_row_per_ip() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", "fwkey").await;
    let r = get("/v1/decisions")
        .key("fwkey")
        .from("192.0.2.10:1000")
        .send(&lapi)
        .await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "null"));
    let b = lapi.store.get_bouncer("fw").await.unwrap().unwrap();
    assert_eq!(
        (
            b.ip_address.as_str(),
            b.bouncer_type.as_str(),
            b.version.as_str()
        ),
        ("192.0.2.10", "crowdsec-firewall-bouncer", "-")
    );
    assert!(b.last_pull.is_some());
    // The same key from another address gets its own row.
    let r = get("/v1/decisions/stream?startup=true")
        .key("fwkey")
        .from("192.0.2.20:1000")
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let other = lapi
        .store
        .get_bouncer("fw@192.0.2.20")
        .await
        .unwrap()
        .unwrap();
    assert!(other.auto_created);
    assert_eq!(lapi.store.list_bouncers().await.unwrap().len(), 2);
    // HEAD is a cheap probe that matches any row with the key.
    let r = head("/v1/decisions/stream")
        .key("fwkey")
        .from("198.51.100.1:1")
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(lapi.store.list_bouncers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let lapi = Lapi::new().await;
    let r = get("/v1/nope").send(&lapi).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::NOT_FOUND, ""));
    let r = Call::new(Method::PUT, "/v1/alerts").send(&lapi).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "")
    );
    let r = get("/health").send(&lapi).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn usage_metrics_picks_the_credential_kind_from_headers() {
    let lapi = Lapi::new().await;
    let body = json!({"remediation_components": [{"version": "1", "utc_startup_timestamp": 1}]});
    let r = post("/v1/usage-metrics").json(&body).send(&lapi).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "no credential: treated as a bouncer"
    );
    let r = post("/v1/usage-metrics")
        .header("user-agent", UA_AGENT)
        .json(&body)
        .send(&lapi)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a crowdsec User-Agent means a machine"
    );
    let r = post("/v1/usage-metrics")
        .bearer("garbage")
        .json(&body)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post("/v1/usage-metrics")
        .key("wrong")
        .json(&body)
        .send(&lapi)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
