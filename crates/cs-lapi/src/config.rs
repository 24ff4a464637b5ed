//! Runtime options of the server, compiled from the `api.server` section of `config.yaml`.

use std::path::PathBuf;

use ipnet::IpNet;

/// What the server needs from `api.server` (see upstream's `LocalApiServerCfg`).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `listen_uri` (`host:port`); `None` when only a unix socket is served.
    pub listen_uri: Option<String>,
    /// `listen_socket`: path of a unix socket to serve as well.
    pub listen_socket: Option<PathBuf>,
    /// `tls`: serve HTTPS (and accept client certificates) when set.
    pub tls: Option<TlsOptions>,
    /// `trusted_ips`: besides loopback, clients allowed to delete alerts.
    pub trusted_ips: Vec<IpNet>,
    /// `use_forwarded_for_headers`: honour `X-Forwarded-For` / `X-Real-IP` from trusted proxies.
    pub use_forwarded_for_headers: bool,
    /// `trusted_proxies`: peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `disable_remote_lapi_registration`: refuse `POST /v1/watchers` from non-local clients.
    pub disable_remote_lapi_registration: bool,
    /// `auto_registration`: machines registering with this token from these ranges are validated.
    pub auto_registration: Option<AutoRegistration>,
    /// Largest body accepted on unauthenticated endpoints (upstream: 2 MiB).
    pub max_body_unauthenticated: usize,
    /// Largest body accepted on authenticated endpoints (upstream: 50 MiB).
    pub max_body_authenticated: usize,
    /// `db_config.flush`: applied every [`ServerOptions::flush_interval`] while serving.
    pub flush: Option<cs_store::FlushPolicy>,
    /// How often the flush runs (upstream: every minute).
    pub flush_interval: std::time::Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen_uri: Some("127.0.0.1:8080".to_owned()),
            listen_socket: None,
            tls: None,
            trusted_ips: Vec::new(),
            use_forwarded_for_headers: false,
            trusted_proxies: Vec::new(),
            disable_remote_lapi_registration: false,
            auto_registration: None,
            max_body_unauthenticated: 2 << 20,
            max_body_authenticated: 50 << 20,
            flush: None,
            flush_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// `api.server.auto_registration`.
#[derive(Debug, Clone)]
pub struct AutoRegistration {
    /// Whether it is enabled.
    pub enabled: bool,
    /// Token machines must present (`registration_token`).
    pub token: String,
    /// Client ranges allowed to auto-register.
    pub allowed_ranges: Vec<IpNet>,
}

/// `api.server.tls.client_verification`, with Go's `tls.ClientAuthType` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientVerification {
    /// No client certificate is requested.
    NoClientCert,
    /// A certificate is requested; one that is given must verify (rustls cannot accept unverified ones).
    RequestClientCert,
    /// A verified certificate is required.
    RequireAnyClientCert,
    /// A certificate is optional and verified when given (upstream's default).
    #[default]
    VerifyClientCertIfGiven,
    /// A verified certificate is required.
    RequireAndVerifyClientCert,
}

impl ClientVerification {
    /// Parses upstream's names; `None` for unknown text.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "NoClientCert" => Self::NoClientCert,
            "RequestClientCert" => Self::RequestClientCert,
            "RequireAnyClientCert" => Self::RequireAnyClientCert,
            "VerifyClientCertIfGiven" | "" => Self::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => Self::RequireAndVerifyClientCert,
            _ => return None,
        })
    }
}

/// `api.server.tls`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM server certificate chain.
    pub cert_file: PathBuf,
    /// PEM server private key.
    pub key_file: PathBuf,
    /// PEM CA bundle that client certificates must chain to.
    pub ca_cert_path: Option<PathBuf>,
    /// PEM CRL file checked for client certificates.
    pub crl_path: Option<PathBuf>,
    /// Client certificate policy.
    pub client_verification: ClientVerification,
    /// OUs that identify agents (upstream default `agent-ou`).
    pub agents_allowed_ou: Vec<String>,
    /// OUs that identify bouncers (upstream default `bouncer-ou`).
    pub bouncers_allowed_ou: Vec<String>,
}

impl TlsOptions {
    /// Options with upstream's default OUs.
    #[must_use]
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> Self {
        Self {
            cert_file,
            key_file,
            agents_allowed_ou: vec!["agent-ou".to_owned()],
            bouncers_allowed_ou: vec!["bouncer-ou".to_owned()],
            ..Self::default()
        }
    }
}

impl ServerOptions {
    /// Compiles the `api.server` section of `config.yaml`.
    pub fn from_config(cfg: &cs_config::config::ApiServerConfig) -> crate::Result<Self> {
        let nets = |key: &str, list: &[String]| -> crate::Result<Vec<IpNet>> {
            list.iter()
                .map(|s| {
                    cs_config::config::parse_net(s).ok_or_else(|| crate::Error::Config {
                        path: format!("api.server.{key}"),
                        message: format!("invalid CIDR address: {s}"),
                    })
                })
                .collect()
        };
        // gin trusts every proxy unless told otherwise.
        let trusted_proxies = match &cfg.trusted_proxies {
            Some(list) => nets("trusted_proxies", list)?,
            None => vec![
                IpNet::new(std::net::IpAddr::from([0u8; 4]), 0).unwrap_or_default(),
                IpNet::new(std::net::IpAddr::from([0u16; 8]), 0).unwrap_or_default(),
            ],
        };
        let auto_registration = match &cfg.auto_registration {
            Some(a) if a.enabled && a.token.len() < 32 => {
                return Err(crate::Error::Config {
                    path: "api.server.auto_registration.token".to_owned(),
                    message: "must be at least 32 characters".to_owned(),
                });
            }
            Some(a) => Some(AutoRegistration {
                enabled: a.enabled,
                token: a.token.clone(),
                allowed_ranges: nets("auto_registration.allowed_ranges", &a.allowed_ranges)?,
            }),
            None => None,
        };
        let tls = match &cfg.tls {
            Some(t) if !t.cert_file.is_empty() || !t.key_file.is_empty() => {
                Some(TlsOptions::from_config(t)?)
            }
            _ => None,
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(Self {
            listen_uri: non_empty(&cfg.listen_uri),
            listen_socket: non_empty(&cfg.listen_socket).map(PathBuf::from),
            tls,
            trusted_ips: nets("trusted_ips", &cfg.trusted_ips)?,
            // Listing trusted proxies only makes sense with their headers honoured.
            use_forwarded_for_headers: cfg.use_forwarded_for_headers
                || cfg.trusted_proxies.is_some(),
            trusted_proxies,
            disable_remote_lapi_registration: cfg.disable_remote_lapi_registration,
            auto_registration,
            ..Self::default()
        })
    }
}

impl TlsOptions {
    /// Compiles `api.server.tls`; empty OU lists get upstream's defaults.
    pub fn from_config(cfg: &cs_config::config::TlsConfig) -> crate::Result<Self> {
        let client_verification =
            ClientVerification::parse(&cfg.client_verification).ok_or_else(|| {
                crate::Error::Config {
                    path: "api.server.tls.client_verification".to_owned(),
                    message: format!("unknown value {:?}", cfg.client_verification),
                }
            })?;
        let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        let mut opts = Self::new(PathBuf::from(&cfg.cert_file), PathBuf::from(&cfg.key_file));
        opts.ca_cert_path = path(&cfg.ca_cert_path);
        opts.crl_path = path(&cfg.crl_path);
        opts.client_verification = client_verification;
        if !cfg.agents_allowed_ou.is_empty() {
            opts.agents_allowed_ou.clone_from(&cfg.agents_allowed_ou);
        }
        if !cfg.bouncers_allowed_ou.is_empty() {
            opts.bouncers_allowed_ou
                .clone_from(&cfg.bouncers_allowed_ou);
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_the_api_server_section() {
        let cfg = cs_config::config::ApiServerConfig {
            listen_uri: "0.0.0.0:8080".into(),
            trusted_ips: vec!["10.0.0.0/8".into(), "192.0.2.1".into()],
            use_forwarded_for_headers: true,
            auto_registration: Some(cs_config::config::AutoRegistrationConfig {
                enabled: true,
                token: "t".repeat(32),
                allowed_ranges: vec!["127.0.0.1/32".into()],
            }),
            tls: Some(cs_config::config::TlsConfig {
                cert_file: "/c.pem".into(),
                key_file: "/k.pem".into(),
                bouncers_allowed_ou: vec!["fw-ou".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = ServerOptions::from_config(&cfg).unwrap();
        assert_eq!(opts.listen_uri.as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(opts.listen_socket, None);
        assert_eq!(opts.trusted_ips.len(), 2);
        assert!(crate::net::in_ranges(
            "203.0.113.1".parse().unwrap(),
            &opts.trusted_proxies
        ));
        assert!(crate::net::in_ranges(
            "2001:db8::1".parse().unwrap(),
            &opts.trusted_proxies
        ));
        let tls = opts.tls.unwrap();
        assert_eq!(
            tls.client_verification,
            ClientVerification::VerifyClientCertIfGiven
        );
        assert_eq!(
            (tls.agents_allowed_ou, tls.bouncers_allowed_ou),
            (vec!["agent-ou".to_owned()], vec!["fw-ou".to_owned()])
        );
        assert!(opts.auto_registration.unwrap().enabled);

        let proxies = cs_config::config::ApiServerConfig {
            trusted_proxies: Some(vec!["10.0.0.1".into()]),
            ..Default::default()
        };
        let opts = ServerOptions::from_config(&proxies).unwrap();
        assert!(opts.use_forwarded_for_headers);
        assert!(!crate::net::in_ranges(
            "203.0.113.1".parse().unwrap(),
            &opts.trusted_proxies
        ));
        let short = cs_config::config::ApiServerConfig {
            auto_registration: Some(cs_config::config::AutoRegistrationConfig {
                enabled: true,
                token: "short".into(),
                allowed_ranges: vec![],
            }),
            ..Default::default()
        };
        assert!(ServerOptions::from_config(&short).is_err());

        let bad = cs_config::config::ApiServerConfig {
            trusted_ips: vec!["nope".into()],
            ..Default::default()
        };
        assert!(
            ServerOptions::from_config(&bad)
                .unwrap_err()
                .to_string()
                .contains("trusted_ips")
        );
        let bad_tls = cs_config::config::TlsConfig {
            cert_file: "/c".into(),
            client_verification: "Sometimes".into(),
            ..Default::default()
        };
        assert!(TlsOptions::from_config(&bad_tls).is_err());
    }
}
