//! Machine (watcher) side of the LAPI: login with JWT renewal and the JWT-authenticated
//! endpoints used by the agent and cscli.

use chrono::{DateTime, Utc};
use cs_models::{
    AddAlertsResponse, Alert, CheckAllowlistResponse, DeleteAlertsResponse, DeleteDecisionResponse,
    WatcherAuthRequest, WatcherAuthResponse, WatcherRegistrationRequest,
};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::http::{self, ClientOptions};

/// A JWT and when it stops being valid.
#[derive(Debug, Clone)]
struct Token {
    value: String,
    expire: DateTime<Utc>,
}

/// A machine logged in to a LAPI. Cheap to share behind an `Arc`; the token is renewed
/// transparently: before use when it expires within a minute (as upstream's client does),
/// and once more when the LAPI answers `401` (e.g. after a LAPI restart, which voids tokens).
#[derive(Debug)]
pub struct WatcherClient {
    http: reqwest::Client,
    base: Url,
    machine_id: String,
    password: String,
    scenarios: Option<Vec<String>>,
    token: Mutex<Option<Token>>,
}

/// Registers a new machine with `POST /v1/watchers` (it must then be validated, unless the
/// LAPI's auto-registration accepted `registration_token`).
pub async fn register_machine(
    opts: &ClientOptions,
    machine_id: &str,
    password: &str,
    registration_token: Option<&str>,
) -> Result<()> {
    let client = opts.build()?;
    let url = http::endpoint(&opts.base_url()?, "v1/watchers")?;
    let body = WatcherRegistrationRequest {
        machine_id: Some(machine_id.to_string()),
        password: Some(password.to_string()),
        registration_token: registration_token.unwrap_or_default().to_string(),
    };
    http::send(&Method::POST, &url, client.post(url.clone()).json(&body)).await?;
    Ok(())
}

impl WatcherClient {
    /// A client for machine `machine_id`; nothing is sent until the first call.
    pub fn new(opts: &ClientOptions, machine_id: &str, password: &str) -> Result<Self> {
        Ok(WatcherClient {
            http: opts.build()?,
            base: opts.base_url()?,
            machine_id: machine_id.to_string(),
            password: password.to_string(),
            scenarios: None,
            token: Mutex::new(None),
        })
    }

    /// Scenario names sent at login (the agent sends its installed scenarios; cscli none).
    #[must_use]
    pub fn with_scenarios(mut self, scenarios: Vec<String>) -> Self {
        self.scenarios = Some(scenarios);
        self
    }

    /// The machine id.
    pub fn machine_id(&self) -> &str {
        &self.machine_id
    }

    /// The LAPI base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Logs in now (`POST /v1/watchers/login`) and keeps the token.
    pub async fn login(&self) -> Result<()> {
        let mut guard = self.token.lock().await;
        *guard = Some(self.do_login().await?);
        Ok(())
    }

    async fn do_login(&self) -> Result<Token> {
        let url = http::endpoint(&self.base, "v1/watchers/login")?;
        let body = WatcherAuthRequest {
            machine_id: Some(self.machine_id.clone()),
            password: Some(self.password.clone()),
            scenarios: self.scenarios.clone(),
        };
        let req = self.http.post(url.clone()).json(&body);
        let raw = http::send(&Method::POST, &url, req).await?;
        let resp: WatcherAuthResponse = http::decode(&Method::POST, &url, &raw)?;
        // An unparsable expiry is treated as "valid for an hour", the LAPI's token lifetime.
        let expire = DateTime::parse_from_rfc3339(&resp.expire)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::hours(1));
        tracing::debug!(machine_id = %self.machine_id, expire = %resp.expire, "logged in to LAPI");
        Ok(Token {
            value: resp.token,
            expire,
        })
    }

    /// A valid token, logging in when there is none or it expires within a minute.
    async fn token(&self) -> Result<String> {
        let mut guard = self.token.lock().await;
        let fresh = guard
            .as_ref()
            .is_some_and(|t| t.expire - chrono::Duration::minutes(1) > Utc::now());
        if !fresh {
            *guard = Some(self.do_login().await?);
        }
        Ok(guard.as_ref().map(|t| t.value.clone()).unwrap_or_default())
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Sends an authenticated request, re-logging in once on `401`.
    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&B>,
    ) -> Result<Vec<u8>> {
        let url = http::endpoint(&self.base, path)?;
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            match http::send(&method, &url, req).await {
                Err(Error::Status { status: 401, .. }) if !retried => {
                    retried = true;
                    self.forget_token().await;
                }
                other => return other,
            }
        }
    }

    async fn call_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&B>,
    ) -> Result<T> {
        let raw = self.call(method.clone(), path, query, body).await?;
        let url = http::endpoint(&self.base, path)?;
        http::decode(&method, &url, &raw)
    }

    /// `POST /v1/alerts`: returns the new alert ids.
    pub async fn push_alerts(&self, alerts: &[Alert]) -> Result<AddAlertsResponse> {
        self.call_json(Method::POST, "v1/alerts", &[], Some(alerts))
            .await
    }

    /// `GET /v1/alerts` with upstream's filter parameters; `null` gives an empty list.
    pub async fn alerts(&self, query: &[(String, String)]) -> Result<Vec<Alert>> {
        let list: Option<Vec<Alert>> = self
            .call_json(Method::GET, "v1/alerts", query, None::<&()>)
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /v1/alerts/{id}`.
    pub async fn alert(&self, id: i64) -> Result<Alert> {
        self.call_json(Method::GET, &format!("v1/alerts/{id}"), &[], None::<&()>)
            .await
    }

    /// `DELETE /v1/alerts` with filters; returns the number deleted.
    pub async fn delete_alerts(&self, query: &[(String, String)]) -> Result<u64> {
        let r: DeleteAlertsResponse = self
            .call_json(Method::DELETE, "v1/alerts", query, None::<&()>)
            .await?;
        Ok(r.nb_deleted.parse().unwrap_or(0))
    }

    /// `DELETE /v1/alerts/{id}`.
    pub async fn delete_alert(&self, id: i64) -> Result<u64> {
        let r: DeleteAlertsResponse = self
            .call_json(Method::DELETE, &format!("v1/alerts/{id}"), &[], None::<&()>)
            .await?;
        Ok(r.nb_deleted.parse().unwrap_or(0))
    }

    /// `DELETE /v1/decisions` with filters; returns the number expired.
    pub async fn delete_decisions(&self, query: &[(String, String)]) -> Result<u64> {
        let r: DeleteDecisionResponse = self
            .call_json(Method::DELETE, "v1/decisions", query, None::<&()>)
            .await?;
        Ok(r.nb_deleted.parse().unwrap_or(0))
    }

    /// `DELETE /v1/decisions/{id}`.
    pub async fn delete_decision(&self, id: i64) -> Result<u64> {
        let r: DeleteDecisionResponse = self
            .call_json(
                Method::DELETE,
                &format!("v1/decisions/{id}"),
                &[],
                None::<&()>,
            )
            .await?;
        Ok(r.nb_deleted.parse().unwrap_or(0))
    }

    /// `GET /v1/allowlists/check/{value}`: the reason when `value` (an IP or range) is
    /// allowlisted. A LAPI without allowlist support (`404`) allowlists nothing.
    pub async fn allowlist_check(&self, value: &str) -> Result<Option<String>> {
        let path = format!("v1/allowlists/check/{}", value.replace('/', "%2F"));
        match self
            .call_json::<CheckAllowlistResponse, ()>(Method::GET, &path, &[], None)
            .await
        {
            Ok(r) if r.allowlisted => Ok(Some(r.reason)),
            Ok(_) => Ok(None),
            Err(Error::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/heartbeat`.
    pub async fn heartbeat(&self) -> Result<()> {
        self.call(Method::GET, "v1/heartbeat", &[], None::<&()>)
            .await
            .map(drop)
    }

    /// `DELETE /v1/watchers/self`: unregisters this machine.
    pub async fn delete_self(&self) -> Result<()> {
        self.call(Method::DELETE, "v1/watchers/self", &[], None::<&()>)
            .await
            .map(drop)
    }
}
