//! Test harness: a LAPI over a temporary SQLite store, driven with `tower::ServiceExt::oneshot`.

#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use cs_lapi::{ConnInfo, JwtKey, Profiles, Server, ServerOptions};
use cs_store::{NewBouncer, NewMachine, Store, StoreConfig};
use tower::ServiceExt as _;

pub const UA_AGENT: &str = "crowdsec/v1.4.6-6~deb12u1+b1-linux-debian";
pub const UA_BOUNCER: &str = "crowdsec-firewall-bouncer/-";

pub struct Lapi {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub server: Server,
    pub router: Router,
}

/// A response: status and body text.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: String,
    pub content_type: Option<String>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body {:?} is not JSON: {e}", self.body))
    }
}

/// A request under construction.
pub struct Call {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    peer: Option<SocketAddr>,
}

impl Call {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: Some(local()),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn key(self, key: &str) -> Self {
        self.header("x-api-key", key)
            .header("user-agent", UA_BOUNCER)
    }

    pub fn json(mut self, v: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(v).unwrap();
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn from(mut self, peer: &str) -> Self {
        self.peer = Some(peer.parse().unwrap());
        self
    }

    pub async fn send(self, lapi: &Lapi) -> Resp {
        let mut req = Request::builder().method(self.method).uri(&self.uri);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut req = req.body(Body::from(self.body)).unwrap();
        req.extensions_mut().insert(ConnInfo {
            peer: self.peer,
            cert: None,
        });
        let resp = lapi.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
            content_type,
        }
    }
}

pub fn local() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

pub fn get(uri: &str) -> Call {
    Call::new(Method::GET, uri)
}

pub fn post(uri: &str) -> Call {
    Call::new(Method::POST, uri)
}

pub fn delete(uri: &str) -> Call {
    Call::new(Method::DELETE, uri)
}

pub fn head(uri: &str) -> Call {
    Call::new(Method::HEAD, uri)
}

pub async fn open_store(dir: &tempfile::TempDir) -> Store {
    Store::open(&StoreConfig::sqlite(dir.path().join("crowdsec.db")))
        .await
        .unwrap()
}

impl Lapi {
    pub async fn new() -> Self {
        Self::with(ServerOptions::default(), Profiles::default_profiles()).await
    }

    pub async fn with(opts: ServerOptions, profiles: Profiles) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&dir).await;
        let server =
            Server::with_jwt_key(opts, store.clone(), profiles, JwtKey::new(vec![42; 64])).unwrap();
        let router = server.router();
        Self {
            dir,
            store,
            server,
            router,
        }
    }

    /// A validated machine with password `password`.
    pub async fn machine(&self, id: &str) {
        let m = NewMachine {
            machine_id: id.to_owned(),
            password: "password".to_owned(),
            is_validated: true,
            ..NewMachine::default()
        };
        self.store.create_machine(&m).await.unwrap();
    }

    /// Logs `id` in and returns the token.
    pub async fn login(&self, id: &str) -> String {
        let r = post("/v1/watchers/login")
            .header("user-agent", UA_AGENT)
            .json(&serde_json::json!({"machine_id": id, "password": "password", "scenarios": null}))
            .send(self)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// A validated machine, logged in.
    pub async fn agent(&self, id: &str) -> String {
        self.machine(id).await;
        self.login(id).await
    }

    /// A bouncer with key `key`.
    pub async fn bouncer(&self, name: &str, key: &str) {
        let b = NewBouncer {
            name: name.to_owned(),
            api_key: key.to_owned(),
            ..NewBouncer::default()
        };
        self.store.create_bouncer(&b).await.unwrap();
    }
}

/// An alert as the agent sends it (no decisions: profiles create them).
pub fn agent_alert(ip: &str, scenario: &str) -> serde_json::Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::json!({
        "capacity": 5, "decisions": null,
        "events": [{"meta": [{"key": "source_ip", "value": ip}, {"key": "service", "value": "ssh"}], "timestamp": now}],
        "events_count": 6, "labels": null, "leakspeed": "10s",
        "message": format!("Ip {ip} performed '{scenario}' (6 events over 1s)"),
        "remediation": true, "scenario": scenario, "scenario_hash": "abc", "scenario_version": "0.1",
        "simulated": false, "source": {"ip": ip, "scope": "Ip", "value": ip},
        "start_at": now, "stop_at": now
    })
}

/// An alert as `cscli decisions add` sends it, carrying its decision.
pub fn manual_alert(scope: &str, value: &str, duration: &str, reason: &str) -> serde_json::Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::json!({
        "capacity": 0,
        "decisions": [{"duration": duration, "origin": "cscli", "scenario": reason, "scope": scope, "type": "ban", "value": value}],
        "events": [], "events_count": 1, "leakspeed": "0", "message": reason,
        "scenario": reason, "scenario_hash": "", "scenario_version": "", "simulated": false,
        "source": {"ip": value, "scope": scope, "value": value},
        "start_at": now, "stop_at": now
    })
}

/// Pushes alerts as machine `token`; returns the ids.
pub async fn push(lapi: &Lapi, token: &str, alerts: serde_json::Value) -> Vec<String> {
    let r = post("/v1/alerts")
        .bearer(token)
        .header("user-agent", UA_AGENT)
        .json(&alerts)
        .send(lapi)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}
