//! HTTP client construction (TLS options) and the request/answer plumbing shared by the
//! watcher and bouncer clients.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// User-Agent of the agent and cscli; the LAPI stores the part after `/` as the version.
pub const DEFAULT_USER_AGENT: &str = concat!("crowdsec/v", env!("CARGO_PKG_VERSION"), "-rs");

/// How to reach a LAPI.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `http://127.0.0.1:8080/` (a missing trailing `/` is added).
    pub url: String,
    /// User-Agent header.
    pub user_agent: String,
    /// Extra CA bundle (PEM) to trust.
    pub ca_cert_path: Option<PathBuf>,
    /// Client certificate (PEM) for TLS authentication.
    pub cert_path: Option<PathBuf>,
    /// Client key (PEM) for TLS authentication.
    pub key_path: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ClientOptions {
    /// Options for `url` with the default User-Agent, no client certificate, 30 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ClientOptions {
            url: url.into(),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            ca_cert_path: None,
            cert_path: None,
            key_path: None,
            insecure_skip_verify: false,
            timeout: Duration::from_secs(30),
        }
    }

    /// The base URL, with a trailing `/` so that `v1/...` joins below it.
    pub(crate) fn base_url(&self) -> Result<Url> {
        let mut s = self.url.clone();
        if !s.ends_with('/') {
            s.push('/');
        }
        let url = Url::parse(&s).map_err(|e| Error::Url {
            url: self.url.clone(),
            message: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Url {
                url: self.url.clone(),
                message: "scheme must be http or https".into(),
            });
        }
        Ok(url)
    }

    /// Builds the reqwest client.
    pub(crate) fn build(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .timeout(self.timeout)
            .use_rustls_tls()
            .danger_accept_invalid_certs(self.insecure_skip_verify);
        if let Some(ca) = &self.ca_cert_path {
            let pem = read(ca)?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Tls {
                path: ca.clone(),
                message: e.to_string(),
            })? {
                b = b.add_root_certificate(cert);
            }
        }
        match (&self.cert_path, &self.key_path) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| Error::Tls {
                    path: cert.clone(),
                    message: e.to_string(),
                })?;
                b = b.identity(id);
            }
            (Some(p), None) | (None, Some(p)) => {
                return Err(Error::Tls {
                    path: p.clone(),
                    message: "client certificate and key must be given together".into(),
                });
            }
            (None, None) => {}
        }
        b.build().map_err(Error::Client)
    }
}

fn read(p: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|source| Error::Io {
        path: p.clone(),
        source,
    })
}

/// Joins `path` (e.g. `v1/alerts`) below `base`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url> {
    base.join(path).map_err(|e| Error::Url {
        url: format!("{base}{path}"),
        message: e.to_string(),
    })
}

/// Sends `req` and returns the status and body, mapping non-success statuses to
/// [`Error::Status`] with the `message` of the JSON error body when there is one.
pub(crate) async fn send(method: &Method, url: &Url, req: RequestBuilder) -> Result<Vec<u8>> {
    let transport = |source| Error::Transport {
        method: method.to_string(),
        url: url.to_string(),
        source,
    };
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(transport)?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    #[derive(serde::Deserialize)]
    struct ErrBody {
        #[serde(default)]
        message: String,
    }
    let message = serde_json::from_slice::<ErrBody>(&body)
        .ok()
        .map(|b| b.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    Err(Error::Status {
        method: method.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        message,
    })
}

/// Decodes a JSON answer.
pub(crate) fn decode<T: DeserializeOwned>(method: &Method, url: &Url, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        method: method.to_string(),
        url: url.to_string(),
        source,
    })
}
