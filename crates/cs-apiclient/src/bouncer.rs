//! Bouncer side of the LAPI: API-key authenticated decision queries and the stream protocol.

use std::time::Duration;

use cs_models::{Decision, DecisionsStreamResponse};
use reqwest::{Method, Url};

use crate::error::Result;
use crate::http::{self, ClientOptions};

/// A bouncer (remediation component) talking to a LAPI with its API key.
#[derive(Debug, Clone)]
pub struct BouncerClient {
    http: reqwest::Client,
    base: Url,
    api_key: String,
}

impl BouncerClient {
    /// A client using `api_key` (`X-Api-Key` header).
    pub fn new(opts: &ClientOptions, api_key: &str) -> Result<Self> {
        Ok(BouncerClient {
            http: opts.build()?,
            base: opts.base_url()?,
            api_key: api_key.to_string(),
        })
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Vec<u8>> {
        let url = http::endpoint(&self.base, path)?;
        let mut req = self
            .http
            .get(url.clone())
            .header("X-Api-Key", &self.api_key);
        if !query.is_empty() {
            req = req.query(query);
        }
        http::send(&Method::GET, &url, req).await
    }

    /// `GET /v1/decisions` (live mode); `null` gives an empty list.
    pub async fn decisions(&self, query: &[(String, String)]) -> Result<Vec<Decision>> {
        let raw = self.get("v1/decisions", query).await?;
        let url = http::endpoint(&self.base, "v1/decisions")?;
        let list: Option<Vec<Decision>> = http::decode(&Method::GET, &url, &raw)?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /v1/decisions/stream`: everything active/expired when `startup`, else the
    /// changes since this key's previous pull. `extra` adds filters (`scopes`, `origins`...).
    pub async fn stream(
        &self,
        startup: bool,
        extra: &[(String, String)],
    ) -> Result<DecisionsStreamResponse> {
        let mut query = vec![("startup".to_string(), startup.to_string())];
        query.extend(extra.iter().cloned());
        let raw = self.get("v1/decisions/stream", &query).await?;
        let url = http::endpoint(&self.base, "v1/decisions/stream")?;
        http::decode(&Method::GET, &url, &raw)
    }
}

/// Polls the decision stream as upstream bouncers do: a `startup=true` pull first (repeated
/// until it succeeds, so a bouncer started before its LAPI still gets the full state), then
/// a delta pull every `interval`.
#[derive(Debug)]
pub struct DecisionStream {
    client: BouncerClient,
    interval: Duration,
    extra: Vec<(String, String)>,
    started: bool,
    first: bool,
}

impl DecisionStream {
    /// A stream over `client`, polling every `interval` with the extra filters `extra`.
    pub fn new(client: BouncerClient, interval: Duration, extra: Vec<(String, String)>) -> Self {
        DecisionStream {
            client,
            interval,
            extra,
            started: false,
            first: true,
        }
    }

    /// Waits for the next poll time (none before the very first pull) and pulls. An error
    /// leaves the stream usable: the next call retries, with `startup=true` if the startup
    /// pull has not succeeded yet.
    pub async fn next(&mut self) -> Result<DecisionsStreamResponse> {
        if !self.first {
            tokio::time::sleep(self.interval).await;
        }
        self.first = false;
        let resp = self.client.stream(!self.started, &self.extra).await?;
        self.started = true;
        Ok(resp)
    }
}
