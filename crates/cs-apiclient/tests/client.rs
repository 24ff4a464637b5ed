//! The clients against a mock LAPI on loopback: JWT renewal, durable alert push, bouncer stream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cs_apiclient::{
    AlertPusher, BouncerClient, ClientOptions, DecisionStream, PusherConfig, WatcherClient,
};
use cs_models::{Alert, WatcherAuthRequest};

#[derive(Default)]
struct Mock {
    up: bool,
    token_generation: u32,
    logins: u32,
    alerts: Vec<Alert>,
    stream_queries: Vec<String>,
}

type Shared = Arc<Mutex<Mock>>;

fn authorized(m: &Mock, headers: &HeaderMap) -> bool {
    let want = format!("Bearer token-{}", m.token_generation);
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

async fn login(State(s): State<Shared>, Json(req): Json<WatcherAuthRequest>) -> Response {
    let mut m = s.lock().unwrap();
    if !m.up {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if req.password.as_deref() != Some("pw") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code":401,"message":"incorrect Username or Password"}"#,
        )
            .into_response();
    }
    m.logins += 1;
    let expire = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = format!(
        r#"{{"code":200,"expire":"{expire}","token":"token-{}"}}"#,
        m.token_generation
    );
    body.into_response()
}

async fn push(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(alerts): Json<Vec<Alert>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if !m.up {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !authorized(&m, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code":401,"message":"Token is expired"}"#,
        )
            .into_response();
    }
    let first = m.alerts.len();
    m.alerts.extend(alerts);
    let ids: Vec<String> = (first..m.alerts.len())
        .map(|i| (i + 1).to_string())
        .collect();
    (StatusCode::CREATED, Json(ids)).into_response()
}

async fn list_alerts(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let m = s.lock().unwrap();
    if !authorized(&m, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    "null".into_response()
}

async fn stream(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("key") {
        return (StatusCode::FORBIDDEN, r#"{"message":"access forbidden"}"#).into_response();
    }
    let mut m = s.lock().unwrap();
    let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    m.stream_queries.push(q.join("&"));
    if m.stream_queries.len() == 1 {
        r#"{"deleted":null,"new":[{"duration":"3h59m58s","id":1,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.1"}]}"#.into_response()
    } else {
        r#"{"deleted":null,"new":null}"#.into_response()
    }
}

async fn serve(state: Shared) -> String {
    let app = Router::new()
        .route("/v1/watchers/login", post(login))
        .route("/v1/alerts", post(push).get(list_alerts))
        .route("/v1/decisions/stream", get(stream))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn up() -> Shared {
    Arc::new(Mutex::new(Mock {
        up: true,
        ..Mock::default()
    }))
}

fn alert(n: usize) -> Alert {
    Alert {
        scenario: Some(format!("test/scenario-{n}")),
        ..Alert::default()
    }
}

#[tokio::test]
async fn watcher_logs_in_once_and_again_after_tokens_are_voided() {
    let state = up();
    let url = serve(state.clone()).await;
    let c = WatcherClient::new(&ClientOptions::new(url), "m1", "pw").unwrap();
    assert!(c.alerts(&[]).await.unwrap().is_empty());
    assert!(c.alerts(&[]).await.unwrap().is_empty());
    assert_eq!(state.lock().unwrap().logins, 1);
    // A LAPI restart voids every token: the next call gets 401 and logs in again.
    state.lock().unwrap().token_generation += 1;
    assert_eq!(c.push_alerts(&[alert(1)]).await.unwrap(), ["1"]);
    assert_eq!(state.lock().unwrap().logins, 2);
}

#[tokio::test]
async fn wrong_password_is_a_status_error() {
    let url = serve(up()).await;
    let c = WatcherClient::new(&ClientOptions::new(url), "m1", "bad").unwrap();
    let err = c.alerts(&[]).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string().contains("incorrect Username or Password"),
        "{err}"
    );
}

fn fast(dir: &std::path::Path) -> PusherConfig {
    PusherConfig {
        batch_interval: Duration::from_millis(20),
        spool_dir: Some(dir.to_path_buf()),
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        shutdown_timeout: Duration::from_millis(200),
        ..PusherConfig::default()
    }
}

#[tokio::test]
async fn alerts_wait_on_disk_while_lapi_is_down_then_arrive() {
    let state = Arc::new(Mutex::new(Mock::default()));
    let url = serve(state.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = Arc::new(WatcherClient::new(&ClientOptions::new(url), "m1", "pw").unwrap());

    let (pusher, task) = AlertPusher::spawn(client.clone(), fast(dir.path())).unwrap();
    for n in 0..3 {
        assert!(pusher.send(alert(n)).await);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    pusher.shutdown();
    let stats = task.await.unwrap();
    assert_eq!((stats.pushed, stats.queued), (0, 3));
    assert!(stats.failed_attempts > 0);
    assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);

    // Next start, LAPI up: the spooled alerts go first, then the new one.
    state.lock().unwrap().up = true;
    let (pusher, task) = AlertPusher::spawn(client, fast(dir.path())).unwrap();
    assert!(pusher.send(alert(3)).await);
    for _ in 0..100 {
        if state.lock().unwrap().alerts.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pusher.shutdown();
    let stats = task.await.unwrap();
    assert_eq!((stats.pushed, stats.queued), (4, 0));
    let got: Vec<String> = state
        .lock()
        .unwrap()
        .alerts
        .iter()
        .map(|a| a.get_scenario().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "test/scenario-0",
            "test/scenario-1",
            "test/scenario-2",
            "test/scenario-3"
        ]
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn senders_wait_while_the_undelivered_backlog_is_full() {
    let state = Arc::new(Mutex::new(Mock::default()));
    let url = serve(state.clone()).await;
    let client = Arc::new(WatcherClient::new(&ClientOptions::new(url), "m1", "pw").unwrap());
    let config = PusherConfig {
        spool_dir: None,
        max_batch: 1,
        max_undelivered: Some(2),
        ..fast(std::path::Path::new("/nonexistent"))
    };
    let (pusher, task) = AlertPusher::spawn(client, config).unwrap();
    // LAPI down: two alerts wait in the pusher, four more fill its channel (4 x max_batch),
    // and the next sender has to wait.
    for n in 0..6 {
        assert!(pusher.send(alert(n)).await);
    }
    let back = pusher
        .try_send(alert(6))
        .expect("queued into a full channel");
    assert_eq!(back.get_scenario(), "test/scenario-6");
    let blocked = tokio::time::timeout(Duration::from_millis(300), pusher.send(alert(6))).await;
    assert!(blocked.is_err(), "a sender got through a full backlog");
    // LAPI up: the backlog drains and senders go on; nothing was dropped.
    state.lock().unwrap().up = true;
    assert!(pusher.send(alert(7)).await);
    for _ in 0..200 {
        if state.lock().unwrap().alerts.len() == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pusher.shutdown();
    let stats = task.await.unwrap();
    assert_eq!((stats.pushed, stats.dropped, stats.queued), (7, 0, 0));
}

/// A LAPI that takes a while to answer each push and refuses the first one for a moment,
/// counting how many pushes it answers at once.
#[derive(Default)]
struct SlowLapi {
    active: AtomicUsize,
    most_at_once: AtomicUsize,
    refused: AtomicBool,
    alerts: Mutex<Vec<Alert>>,
}

async fn slow_push(State(s): State<Arc<SlowLapi>>, Json(alerts): Json<Vec<Alert>>) -> Response {
    let now = s.active.fetch_add(1, Ordering::SeqCst) + 1;
    s.most_at_once.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.active.fetch_sub(1, Ordering::SeqCst);
    if !s.refused.swap(true, Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut stored = s.alerts.lock().unwrap();
    stored.extend(alerts);
    let ids: Vec<String> = (0..stored.len()).map(|i| i.to_string()).collect();
    (StatusCode::CREATED, Json(ids)).into_response()
}

#[tokio::test]
async fn several_pushes_in_flight_deliver_every_alert_once() {
    let lapi = Arc::new(SlowLapi::default());
    let app = Router::new()
        .route("/v1/watchers/login", post(login))
        .with_state(up())
        .merge(
            Router::new()
                .route("/v1/alerts", post(slow_push))
                .with_state(lapi.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Arc::new(WatcherClient::new(&ClientOptions::new(url), "m1", "pw").unwrap());
    let config = PusherConfig {
        spool_dir: None,
        max_batch: 1,
        max_in_flight: 3,
        shutdown_timeout: Duration::from_secs(30),
        ..fast(std::path::Path::new("/nonexistent"))
    };
    let (pusher, task) = AlertPusher::spawn(client, config).unwrap();
    for n in 0..12 {
        assert!(pusher.send(alert(n)).await);
    }
    pusher.shutdown();
    let stats = task.await.unwrap();
    assert_eq!((stats.pushed, stats.queued, stats.dropped), (12, 0, 0));
    assert!(
        stats.failed_attempts >= 1,
        "the refused push was not retried"
    );
    let most = lapi.most_at_once.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&most),
        "{most} pushes at once, expected 2 or 3"
    );
    // The refused batch went again: every alert arrived, none twice.
    let mut got: Vec<String> = lapi
        .alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.get_scenario().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..12).map(|n| format!("test/scenario-{n}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn bouncer_stream_starts_with_startup_then_polls_deltas() {
    let state = up();
    let url = serve(state.clone()).await;
    let opts = ClientOptions::new(url);
    let bad = BouncerClient::new(&opts, "nope").unwrap();
    assert_eq!(bad.stream(true, &[]).await.unwrap_err().status(), Some(403));

    let client = BouncerClient::new(&opts, "key").unwrap();
    let extra = vec![("scopes".to_string(), "ip,range".to_string())];
    let mut s = DecisionStream::new(client, Duration::from_millis(10), extra);
    let first = s.next().await.unwrap();
    assert_eq!(first.new.unwrap()[0].get_value(), "192.0.2.1");
    let second = s.next().await.unwrap();
    assert!(second.new.is_none());
    let queries = state.lock().unwrap().stream_queries.clone();
    assert_eq!(
        queries,
        [
            "startup=true&scopes=ip,range",
            "startup=false&scopes=ip,range"
        ]
    );
}
