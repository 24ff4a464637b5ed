//! The real listener: loopback HTTP with reqwest, HTTPS with generated certificates (client certificates
//! for agents and bouncers), a unix socket, usage metrics, graceful shutdown.

mod common;

use std::path::Path;

use common::*;
use cs_lapi::{ClientVerification, JwtKey, Profiles, Server, ServerOptions, TlsOptions};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber,
};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<cs_lapi::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(server: Server, scheme: &str) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_on(Some(listener), async move {
        let _ = rx.await;
    }));
    Running {
        base: format!("{scheme}://{}", addr),
        stop: Some(tx),
        task,
    }
}

#[tokio::test]
async fn loopback_http_full_flow() {
    let lapi = Lapi::new().await;
    lapi.bouncer("fw", "fwkey").await;
    let running = start(lapi.server.clone(), "http").await;
    let base = running.base.clone();
    let http = reqwest::Client::builder()
        .user_agent(UA_AGENT)
        .build()
        .unwrap();

    let r = http
        .post(format!("{base}/v1/watchers"))
        .json(&json!({"machine_id": "a", "password": "pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    lapi.store.validate_machine("a").await.unwrap();
    let r = http
        .post(format!("{base}/v1/watchers/login"))
        .json(&json!({"machine_id": "a", "password": "pw", "scenarios": ["crowdsecurity/ssh-bf"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        lapi.store
            .get_machine("a")
            .await
            .unwrap()
            .unwrap()
            .scenarios,
        "crowdsecurity/ssh-bf"
    );

    let r = http
        .post(format!("{base}/v1/alerts"))
        .bearer_auth(&token)
        .json(&json!([agent_alert("192.0.2.44", "crowdsecurity/ssh-bf")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let bouncer = reqwest::Client::builder()
        .user_agent(UA_BOUNCER)
        .build()
        .unwrap();
    let r = bouncer
        .get(format!("{base}/v1/decisions/stream?startup=true"))
        .header("X-Api-Key", "fwkey")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["new"][0]["value"], "192.0.2.44");
    let b = lapi.store.get_bouncer("fw").await.unwrap().unwrap();
    assert_eq!(b.ip_address, "127.0.0.1");

    // Usage metrics: a bouncer sends one remediation component, an agent one log processor.
    let rc = json!({"remediation_components": [{"version": "v0.0.25", "utc_startup_timestamp": 1, "type": "crowdsec-firewall-bouncer",
        "os": {"name": "debian", "version": "12"}, "feature_flags": [], "metrics": []}]});
    let r = bouncer
        .post(format!("{base}/v1/usage-metrics"))
        .header("X-Api-Key", "fwkey")
        .json(&rc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        lapi.store.get_bouncer("fw").await.unwrap().unwrap().os_name,
        "debian"
    );
    let lp = json!({"log_processors": [{"version": "v1.6", "utc_startup_timestamp": 1, "os": {"name": "debian", "version": "12"},
        "feature_flags": ["a"], "datasources": {"file": 2}, "hub_items": {}, "metrics": []}]});
    let r = http
        .post(format!("{base}/v1/usage-metrics"))
        .bearer_auth(&token)
        .json(&lp)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m = lapi.store.get_machine("a").await.unwrap().unwrap();
    assert_eq!(
        (
            m.os_name.as_str(),
            m.feature_flags.as_str(),
            m.datasources.as_str()
        ),
        ("debian", "a", r#"{"file":2}"#)
    );
    let r = http
        .post(format!("{base}/v1/usage-metrics"))
        .bearer_auth(&token)
        .json(&rc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a machine must send a log processor");
    let bad = json!({"remediation_components": [{"utc_startup_timestamp": 1}]});
    let r = bouncer
        .post(format!("{base}/v1/usage-metrics"))
        .header("X-Api-Key", "fwkey")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(lapi.store.list_unpushed_metrics().await.unwrap().len(), 2);

    running.stop().await;
    assert!(
        http.get(format!("{base}/health")).send().await.is_err(),
        "listener closed after shutdown"
    );
}

struct Pki {
    ca: Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        Self { ca, ca_key }
    }

    /// A leaf signed by this CA; returns (cert PEM, key PEM).
    fn leaf(
        &self,
        cn: &str,
        ou: Option<&str>,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, String) {
        self.leaf_with_serial(cn, ou, sans, usage, 1)
    }

    /// Like [`Pki::leaf`] with a chosen serial number (what CRLs refer to).
    fn leaf_with_serial(
        &self,
        cn: &str,
        ou: Option<&str>,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
        serial: u64,
    ) -> (String, String) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(ou) = ou {
            params
                .distinguished_name
                .push(DnType::OrganizationalUnitName, ou);
        }
        params.extended_key_usages = vec![usage];
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn client(ca_pem: &str, identity: Option<&(String, String)>, ua: &str) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .user_agent(ua);
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn tls_with_client_certificates_for_agents_and_bouncers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("test ca");
    let (srv_cert, srv_key) = pki.leaf(
        "localhost",
        None,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let agent = pki.leaf(
        "agent1",
        Some("agent-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let fw = pki.leaf(
        "fw",
        Some("bouncer-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let stranger_ou = pki.leaf(
        "who",
        Some("other-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let other_ca = Pki::new("other ca");
    let forged = other_ca.leaf(
        "fw",
        Some("bouncer-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let ca_pem = pki.ca.pem();

    let mut tls = TlsOptions::new(
        write(dir.path(), "srv.pem", &srv_cert),
        write(dir.path(), "srv.key", &srv_key),
    );
    tls.ca_cert_path = Some(write(dir.path(), "ca.pem", &ca_pem));
    tls.client_verification = ClientVerification::VerifyClientCertIfGiven;
    let opts = ServerOptions {
        tls: Some(tls),
        ..ServerOptions::default()
    };
    let store = open_store(&dir).await;
    let server = Server::with_jwt_key(
        opts,
        store.clone(),
        Profiles::default_profiles(),
        JwtKey::new(vec![3; 64]),
    )
    .unwrap();
    store
        .create_bouncer(&cs_store::NewBouncer {
            name: "keyed".into(),
            api_key: "k1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let running = start(server, "https").await;
    let base = running.base.replace("127.0.0.1", "localhost");

    // A bouncer certificate authenticates without a key; the bouncer row is created on first use.
    let r = client(&ca_pem, Some(&fw), UA_BOUNCER)
        .get(format!("{base}/v1/decisions/stream?startup=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"deleted":null,"new":null}"#);
    let b = store.get_bouncer("fw@127.0.0.1").await.unwrap().unwrap();
    assert_eq!(b.auth_type, "tls");

    // An agent certificate logs in without a password and gets a validated machine.
    let agent_client = client(&ca_pem, Some(&agent), UA_AGENT);
    let r = agent_client
        .post(format!("{base}/v1/watchers/login"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = store
        .get_machine("agent1@127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert!(m.is_validated);
    assert_eq!(m.auth_type, "tls");
    let r = agent_client
        .get(format!("{base}/v1/heartbeat"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // No certificate: API keys still work over TLS; a certificate with an unknown OU is no credential.
    let r = client(&ca_pem, None, UA_BOUNCER)
        .get(format!("{base}/v1/decisions"))
        .header("X-Api-Key", "k1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client(&ca_pem, Some(&stranger_ou), UA_BOUNCER)
        .get(format!("{base}/v1/decisions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A certificate from another CA is refused during the handshake.
    let r = client(&ca_pem, Some(&forged), UA_BOUNCER)
        .get(format!("{base}/v1/decisions"))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    running.stop().await;
}

#[tokio::test]
async fn tls_configuration_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsOptions::new(dir.path().join("nope.pem"), dir.path().join("nope.key"));
    let opts = ServerOptions {
        tls: Some(missing),
        ..ServerOptions::default()
    };
    let err = Server::new(opts, open_store(&dir).await, Profiles::default_profiles()).unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[tokio::test]
async fn unix_socket_peers_count_as_local() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lapi.sock");
    let opts = ServerOptions {
        listen_uri: None,
        listen_socket: Some(socket.clone()),
        ..ServerOptions::default()
    };
    let server = Server::new(opts, open_store(&dir).await, Profiles::default_profiles()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = tokio::net::UnixStream::connect(&socket).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut stream = stream.expect("socket is listening");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: lapi\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    assert!(!socket.exists(), "the socket file is removed on shutdown");
}

#[tokio::test]
async fn serving_applies_the_flush_policy() {
    let lapi = Lapi::new().await;
    let token = lapi.agent("agent").await;
    for i in 0..3 {
        let mut alert = agent_alert(&format!("192.0.2.{i}"), "a/b");
        alert["remediation"] = json!(false);
        push(&lapi, &token, json!([alert])).await;
    }
    let policy = cs_store::FlushPolicy {
        max_items: Some(1),
        ..Default::default()
    };
    let opts = ServerOptions {
        flush: Some(policy),
        flush_interval: std::time::Duration::from_millis(50),
        ..ServerOptions::default()
    };
    let server = Server::with_jwt_key(
        opts,
        lapi.store.clone(),
        Profiles::default_profiles(),
        JwtKey::new(vec![5; 64]),
    )
    .unwrap();
    let running = start(server, "http").await;
    let mut left = u64::MAX;
    for _ in 0..100 {
        left = lapi.store.count_alerts().await.unwrap();
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, 1);
    running.stop().await;
}

#[tokio::test]
async fn tls_crl_rejects_revoked_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("crl ca");
    let (srv_cert, srv_key) = pki.leaf_with_serial(
        "localhost",
        None,
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
        10,
    );
    let good = pki.leaf_with_serial(
        "fw",
        Some("bouncer-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
        11,
    );
    let revoked = pki.leaf_with_serial(
        "old",
        Some("bouncer-ou"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
        12,
    );
    let crl = CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2024, 1, 1),
        next_update: rcgen::date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(12u64),
            revocation_time: rcgen::date_time_ymd(2024, 1, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&pki.ca, &pki.ca_key)
    .unwrap();
    let ca_pem = pki.ca.pem();
    let mut tls = TlsOptions::new(
        write(dir.path(), "s.pem", &srv_cert),
        write(dir.path(), "s.key", &srv_key),
    );
    tls.ca_cert_path = Some(write(dir.path(), "ca.pem", &ca_pem));
    tls.crl_path = Some(write(dir.path(), "crl.pem", &crl.pem().unwrap()));
    let opts = ServerOptions {
        tls: Some(tls),
        ..ServerOptions::default()
    };
    let server = Server::new(opts, open_store(&dir).await, Profiles::default_profiles()).unwrap();
    let running = start(server, "https").await;
    let base = running.base.replace("127.0.0.1", "localhost");
    let r = client(&ca_pem, Some(&good), UA_BOUNCER)
        .get(format!("{base}/v1/decisions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client(&ca_pem, Some(&revoked), UA_BOUNCER)
        .get(format!("{base}/v1/decisions"))
        .send()
        .await;
    assert!(r.is_err(), "revoked certificate accepted: {r:?}");
    running.stop().await;
}
