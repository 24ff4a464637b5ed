//! `config.yaml`: upstream's layout, `.local` override, `${ENV}` expansion, defaults.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::yaml::{self, Diagnostics, Node};
use crate::{credentials::ApiCredentials, simulation::SimulationConfig};

/// Default configuration file path.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/crowdsec/config.yaml";

/// The whole `config.yaml`. Decoded strictly: an unknown key anywhere is an error.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `common`: logging and daemon options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common: Option<CommonConfig>,
    /// `prometheus`: metrics endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusConfig>,
    /// `crowdsec_service`: the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crowdsec_service: Option<CrowdsecServiceConfig>,
    /// `cscli`: defaults of the command line tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cscli: Option<CscliConfig>,
    /// `db_config`: the LAPI database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_config: Option<DatabaseConfig>,
    /// `api`: LAPI client and server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiConfig>,
    /// `config_paths`: where everything else lives. Always filled after [`Config::load`].
    #[serde(default)]
    pub config_paths: ConfigPaths,
    /// `plugin_config`: user and group of notification plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_config: Option<PluginConfig>,
}

/// `common` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommonConfig {
    /// Ignored (systemd handles daemonization), accepted for compatibility.
    #[serde(default)]
    pub daemonize: bool,
    /// `file`, `stdout` or `syslog`.
    #[serde(default)]
    pub log_media: String,
    /// `trace`, `debug`, `info`, `warning`, `error`, `fatal`, `panic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Directory of `crowdsec.log` / `crowdsec_api.log` when `log_media: file`.
    #[serde(default)]
    pub log_dir: String,
    /// `text` or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// Log rotation size in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<u64>,
    /// Log rotation age in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_age: Option<u64>,
    /// Number of rotated files kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_files: Option<u64>,
    /// Compress rotated logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress_logs: Option<bool>,
    /// Colors even when not on a terminal.
    #[serde(default)]
    pub force_color_logs: bool,
    /// Deprecated, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_dir: Option<String>,
    /// Deprecated, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// `prometheus` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Serve metrics.
    #[serde(default)]
    pub enabled: bool,
    /// `full` or `aggregated`.
    #[serde(default)]
    pub level: String,
    /// Listen address (default `127.0.0.1`).
    #[serde(default)]
    pub listen_addr: String,
    /// Listen port (default 6060).
    #[serde(default)]
    pub listen_port: u16,
}

/// `crowdsec_service` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrowdsecServiceConfig {
    /// Run the agent (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// `acquis.yaml`.
    #[serde(default)]
    pub acquisition_path: String,
    /// Directory whose `*.yaml` files are acquisition files too.
    #[serde(default)]
    pub acquisition_dir: String,
    /// `console/context.yaml`.
    #[serde(default)]
    pub console_context_path: String,
    /// Max length of a context value sent with alerts (≤ 4000).
    #[serde(default)]
    pub console_context_value_length: usize,
    /// Parser workers; 0 or absent: one per CPU available to the process (upstream: 1).
    #[serde(default)]
    pub parser_routines: usize,
    /// Bucket workers (0 or absent: 1, as upstream).
    #[serde(default)]
    pub buckets_routines: usize,
    /// Output workers (0 or absent: 1, as upstream).
    #[serde(default)]
    pub output_routines: usize,
    /// Reverse-DNS cache of the enrichers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_cache: Option<DnsCacheConfig>,
    /// Older releases' console labels file, accepted for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_labels_path: Option<String>,
    /// Bucket state to restore at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_input_file: Option<String>,
    /// Directory where bucket state is dumped at shutdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_output_dir: Option<String>,
}

impl CrowdsecServiceConfig {
    /// The acquisition files: `acquisition_path`, then the `*.yaml` and `*.yml` files of
    /// `acquisition_dir` (each group sorted by name), all absolute.
    pub fn acquisition_files(&self) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        if !self.acquisition_path.is_empty() {
            files.push(absolute(Path::new(&self.acquisition_path)));
        }
        if !self.acquisition_dir.is_empty() {
            let dir = absolute(Path::new(&self.acquisition_dir));
            let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            for ext in ["yaml", "yml"] {
                files.extend(
                    found
                        .iter()
                        .filter(|p| p.extension().is_some_and(|e| e == ext))
                        .cloned(),
                );
            }
        }
        Ok(files)
    }
}

/// `crowdsec_service.dns_cache`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsCacheConfig {
    /// Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_ttl: Option<String>,
    /// Entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
}

/// `cscli` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CscliConfig {
    /// Default output: `human`, `json` or `raw`.
    #[serde(default)]
    pub output: String,
    /// `yes`, `no` or `auto`.
    #[serde(default)]
    pub color: String,
    /// Hub branch.
    #[serde(default)]
    pub hub_branch: String,
    /// Where `cscli metrics` scrapes.
    #[serde(default)]
    pub prometheus_uri: String,
    /// Download the hub index with item contents.
    #[serde(default)]
    pub hub_with_content: bool,
    /// Hub URL template (`%s` = branch, then file).
    #[serde(default, rename = "__hub_url_template__")]
    pub hub_url_template: String,
}

/// `db_config` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite`, `mysql`, `postgres` or `pgx`.
    #[serde(default, rename = "type")]
    pub db_type: String,
    /// SQLite file.
    #[serde(default)]
    pub db_path: String,
    /// Server user.
    #[serde(default)]
    pub user: String,
    /// Server password.
    #[serde(default)]
    pub password: String,
    /// Database name.
    #[serde(default)]
    pub db_name: String,
    /// Server host.
    #[serde(default)]
    pub host: String,
    /// Server port.
    #[serde(default)]
    pub port: u16,
    /// PostgreSQL `sslmode`.
    #[serde(default)]
    pub sslmode: String,
    /// CA certificate for the server connection.
    #[serde(default)]
    pub ssl_ca_cert: String,
    /// Client certificate for the server connection.
    #[serde(default)]
    pub ssl_client_cert: String,
    /// Client key for the server connection.
    #[serde(default)]
    pub ssl_client_key: String,
    /// Connection pool size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_conns: Option<u32>,
    /// SQLite WAL mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_wal: Option<bool>,
    /// Decisions per bulk statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_bulk_size: Option<usize>,
    /// Log level of the database layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Periodic clean-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush: Option<FlushConfig>,
}

/// `db_config.flush`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlushConfig {
    /// Keep at most this many alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// Delete alerts older than this (Go duration, `d` allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Delete bouncers not seen for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bouncers_autodelete: Option<AutoDeleteConfig>,
    /// Delete machines not seen for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_autodelete: Option<AutoDeleteConfig>,
    /// Delete stored usage metrics older than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_max_age: Option<String>,
}

/// `bouncers_autodelete` / `agents_autodelete`: one duration per authentication type.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoDeleteConfig {
    /// TLS-authenticated entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// API-key bouncers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Password machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_password: Option<String>,
}

/// `plugin_config` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// User the plugins run as.
    #[serde(default)]
    pub user: String,
    /// Group the plugins run as.
    #[serde(default)]
    pub group: String,
}

/// `config_paths` section; every path is absolute after [`Config::load`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigPaths {
    /// Directory holding the enabled hub items (default: directory of config.yaml).
    #[serde(default)]
    pub config_dir: PathBuf,
    /// Data files and the SQLite database.
    #[serde(default)]
    pub data_dir: PathBuf,
    /// `simulation.yaml`.
    #[serde(default)]
    pub simulation_path: PathBuf,
    /// Hub download directory (default `<config_dir>/hub`).
    #[serde(default)]
    pub hub_dir: PathBuf,
    /// Hub index (default `<hub_dir>/.index.json`).
    #[serde(default)]
    pub index_path: PathBuf,
    /// Notification plugin configs (default `<config_dir>/notifications`).
    #[serde(default)]
    pub notification_dir: PathBuf,
    /// Notification plugin binaries.
    #[serde(default)]
    pub plugin_dir: PathBuf,
    /// Grok patterns (default `<config_dir>/patterns`).
    #[serde(default)]
    pub pattern_dir: PathBuf,
}

/// `api` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// How the agent and cscli reach the LAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ApiClientConfig>,
    /// The LAPI server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ApiServerConfig>,
    /// CTI lookups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cti: Option<CtiConfig>,
}

/// `api.client`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiClientConfig {
    /// `local_api_credentials.yaml`.
    #[serde(default)]
    pub credentials_path: PathBuf,
    /// Accept any server certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Delete the machine from the LAPI when the agent exits.
    #[serde(default)]
    pub unregister_on_exit: bool,
}

/// `api.server`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiServerConfig {
    /// Serve the LAPI (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// `host:port`.
    #[serde(default)]
    pub listen_uri: String,
    /// Unix socket path.
    #[serde(default)]
    pub listen_socket: String,
    /// HTTPS and client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Central API connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_client: Option<OnlineClientConfig>,
    /// `profiles.yaml`.
    #[serde(default)]
    pub profiles_path: PathBuf,
    /// `console.yaml`.
    #[serde(default)]
    pub console_path: PathBuf,
    /// Log level of the LAPI (inherits `common.log_level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Log level of PAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub papi_log_level: Option<String>,
    /// Honour `X-Forwarded-For` from trusted proxies.
    #[serde(default)]
    pub use_forwarded_for_headers: bool,
    /// Proxies whose forwarding headers are believed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    /// Addresses or CIDRs allowed on admin endpoints.
    #[serde(default)]
    pub trusted_ips: Vec<String>,
    /// Refuse `POST /v1/watchers` from non-local clients.
    #[serde(default)]
    pub disable_remote_lapi_registration: bool,
    /// Deprecated CAPI whitelist file.
    #[serde(default)]
    pub capi_whitelists_path: String,
    /// Machine auto-registration with a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_registration: Option<AutoRegistrationConfig>,
    /// Do not forward usage metrics to CAPI.
    #[serde(default)]
    pub disable_usage_metrics_export: bool,
}

/// `api.server.tls`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Server certificate (PEM).
    #[serde(default)]
    pub cert_file: String,
    /// Server key (PEM).
    #[serde(default)]
    pub key_file: String,
    /// CA used to verify client certificates.
    #[serde(default)]
    pub ca_cert_path: String,
    /// `NoClientCert`, `RequestClientCert`, `RequireAnyClientCert`,
    /// `VerifyClientCertIfGiven` (default) or `RequireAndVerifyClientCert`.
    #[serde(default)]
    pub client_verification: String,
    /// Expected server name.
    #[serde(default)]
    pub server_name: String,
    /// OUs accepted for machines.
    #[serde(default)]
    pub agents_allowed_ou: Vec<String>,
    /// OUs accepted for bouncers.
    #[serde(default)]
    pub bouncers_allowed_ou: Vec<String>,
    /// Certificate revocation list.
    #[serde(default)]
    pub crl_path: String,
    /// How long revocation results are cached (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_expiration: Option<String>,
}

/// `api.server.online_client`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OnlineClientConfig {
    /// `online_api_credentials.yaml`.
    #[serde(default)]
    pub credentials_path: PathBuf,
    /// Send signals to CAPI (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<bool>,
    /// What to pull from CAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<CapiPullConfig>,
}

/// `api.server.online_client.pull`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapiPullConfig {
    /// Community blocklist (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<bool>,
    /// Subscribed blocklists (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocklists: Option<bool>,
}

/// `api.server.auto_registration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoRegistrationConfig {
    /// Feature switch.
    #[serde(default)]
    pub enabled: bool,
    /// Shared token (32..255 chars).
    #[serde(default)]
    pub token: String,
    /// Client CIDRs allowed to self-register.
    #[serde(default)]
    pub allowed_ranges: Vec<String>,
}

/// `api.cti`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CtiConfig {
    /// API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_timeout: Option<String>,
    /// Entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_size: Option<usize>,
    /// Feature switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

const LOG_LEVELS: &[&str] = &[
    "panic", "fatal", "error", "warn", "warning", "info", "debug", "trace",
];

/// Reads `path` and, when it exists, `path.local` merged over it (upstream's `.local`
/// override), each text going through `expand` first.
pub fn read_merged(path: &Path, expand: impl Fn(&str) -> String) -> Result<Node> {
    let base = read_node(path, &expand)?.ok_or_else(|| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
    })?;
    let mut local = path.as_os_str().to_owned();
    local.push(".local");
    let local = PathBuf::from(local);
    Ok(match read_node(&local, &expand)? {
        Some(patch) => yaml::merge(base, patch),
        None => base,
    })
}

/// The first document of a YAML file (null for an empty file), `None` if it does not exist.
fn read_node(path: &Path, expand: &impl Fn(&str) -> String) -> Result<Option<Node>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let name = path.display().to_string();
    let mut docs = yaml::parse(&name, &expand(&text)).map_err(Error::Yaml)?;
    if docs.is_empty() {
        docs = yaml::parse(&name, "~").map_err(Error::Yaml)?;
    }
    Ok(Some(docs.swap_remove(0)))
}

impl Config {
    /// Loads `path` as upstream does: merge `path.local`, expand environment variables, decode
    /// strictly, then fill defaults and make paths absolute.
    pub fn load(path: &Path) -> Result<Config> {
        Self::load_with_env(path, crate::env::expand)
    }

    /// [`Config::load`] with a custom variable expansion (tests).
    pub fn load_with_env(path: &Path, expand: impl Fn(&str) -> String) -> Result<Config> {
        let node = read_merged(path, expand)?;
        let mut cfg: Config = node.decode("").map_err(Error::Yaml)?;
        cfg.finish(path, &node)?;
        Ok(cfg)
    }

    fn invalid(path: &Path, node: &Node, key: &str, message: String) -> Error {
        match node.lookup(key) {
            Some(n) => Error::Yaml(Diagnostics(vec![n.diagnostic(key, message)])),
            None => Error::Invalid {
                path: path.to_path_buf(),
                key: key.to_string(),
                message,
            },
        }
    }

    /// Defaults and checks applied after decoding.
    fn finish(&mut self, path: &Path, node: &Node) -> Result<()> {
        let base_dir = absolute(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let p = &mut self.config_paths;
        if p.config_dir.as_os_str().is_empty() {
            p.config_dir = base_dir.clone();
        }
        p.config_dir = absolute(&p.config_dir);
        if p.data_dir.as_os_str().is_empty() {
            return Err(Self::invalid(
                path,
                node,
                "config_paths",
                "please provide a data directory with the 'data_dir' directive in the 'config_paths' section".into(),
            ));
        }
        p.data_dir = absolute(&p.data_dir);
        let cd = p.config_dir.clone();
        fill(&mut p.simulation_path, || cd.join("simulation.yaml"));
        fill(&mut p.hub_dir, || cd.join("hub"));
        let hub = absolute(&p.hub_dir);
        fill(&mut p.index_path, || hub.join(".index.json"));
        fill(&mut p.notification_dir, || cd.join("notifications"));
        fill(&mut p.pattern_dir, || cd.join("patterns"));
        for q in [
            &mut p.simulation_path,
            &mut p.hub_dir,
            &mut p.index_path,
            &mut p.notification_dir,
            &mut p.pattern_dir,
        ] {
            *q = absolute(q);
        }
        if !p.plugin_dir.as_os_str().is_empty() {
            p.plugin_dir = absolute(&p.plugin_dir);
        }

        let prom = self.prometheus.get_or_insert_with(Default::default);
        if prom.listen_addr.is_empty() {
            prom.listen_addr = "127.0.0.1".into();
        }
        if prom.listen_port == 0 {
            prom.listen_port = 6060;
        }
        if prom.level.is_empty() {
            prom.level = "full".into();
        }

        let common = self.common.get_or_insert_with(Default::default);
        if common.log_media.is_empty() {
            common.log_media = "stdout".into();
        }
        let levels = [
            ("common.log_level", common.log_level.clone()),
            (
                "api.server.log_level",
                self.api
                    .as_ref()
                    .and_then(|a| a.server.as_ref())
                    .and_then(|s| s.log_level.clone()),
            ),
            (
                "db_config.log_level",
                self.db_config.as_ref().and_then(|d| d.log_level.clone()),
            ),
        ];
        for (key, level) in levels {
            if let Some(l) = level
                && !LOG_LEVELS.contains(&l.to_ascii_lowercase().as_str())
            {
                return Err(Self::invalid(
                    path,
                    node,
                    key,
                    format!("not a valid logrus Level: \"{l}\""),
                ));
            }
        }

        let cscli = self.cscli.get_or_insert_with(Default::default);
        if cscli.output.is_empty() {
            cscli.output = "human".into();
        }
        if !matches!(cscli.output.as_str(), "human" | "json" | "raw") {
            return Err(Self::invalid(
                path,
                node,
                "cscli.output",
                format!(
                    "output format '{}' is not supported: use human, json or raw",
                    cscli.output
                ),
            ));
        }
        if cscli.color.is_empty() {
            cscli.color = "auto".into();
        }
        if cscli.hub_url_template.is_empty() {
            cscli.hub_url_template = "https://cdn-hub.crowdsec.net/crowdsecurity/%s/%s".into();
        }

        if let Some(cs) = &mut self.crowdsec_service {
            if cs.parser_routines == 0 {
                cs.parser_routines = auto_parser_routines();
            }
            for n in [&mut cs.buckets_routines, &mut cs.output_routines] {
                *n = (*n).max(1);
            }
            if cs.console_context_value_length > 4000 {
                return Err(Self::invalid(
                    path,
                    node,
                    "crowdsec_service.console_context_value_length",
                    "must be at most 4000".into(),
                ));
            }
            if cs.console_context_path.is_empty() {
                cs.console_context_path = cd
                    .join("console")
                    .join("context.yaml")
                    .display()
                    .to_string();
            }
        }

        if let Some(db) = &mut self.db_config {
            if db.db_type.is_empty() {
                db.db_type = "sqlite".into();
            }
            if !matches!(
                db.db_type.as_str(),
                "sqlite" | "mysql" | "postgres" | "postgresql" | "pgx"
            ) {
                return Err(Self::invalid(
                    path,
                    node,
                    "db_config.type",
                    format!("unknown database type '{}'", db.db_type),
                ));
            }
            if db.db_type == "sqlite" && db.db_path.is_empty() {
                db.db_path = self
                    .config_paths
                    .data_dir
                    .join("crowdsec.db")
                    .display()
                    .to_string();
            }
        }

        if let Some(server) = self.api.as_mut().and_then(|a| a.server.as_mut()) {
            if server.profiles_path.as_os_str().is_empty() {
                server.profiles_path = cd.join("profiles.yaml");
            }
            if server.console_path.as_os_str().is_empty() {
                server.console_path = cd.join("console.yaml");
            }
        }
        Ok(())
    }

    /// Is the LAPI server enabled (`api.server` present and `enable` not false)?
    pub fn api_server_enabled(&self) -> bool {
        self.api
            .as_ref()
            .and_then(|a| a.server.as_ref())
            .is_some_and(|s| s.enable != Some(false))
    }

    /// Is the agent enabled (`crowdsec_service` present and `enable` not false)?
    pub fn agent_enabled(&self) -> bool {
        self.crowdsec_service
            .as_ref()
            .is_some_and(|c| c.enable != Some(false))
    }

    /// The `api.server` section, or an error naming the key.
    pub fn api_server(&self) -> Result<&ApiServerConfig> {
        self.api
            .as_ref()
            .and_then(|a| a.server.as_ref())
            .ok_or_else(|| Error::Invalid {
                path: PathBuf::new(),
                key: "api.server".into(),
                message: "no api.server section in configuration".into(),
            })
    }

    /// The `db_config` section, or an error naming the key.
    pub fn db(&self) -> Result<&DatabaseConfig> {
        self.db_config.as_ref().ok_or_else(|| Error::Invalid {
            path: PathBuf::new(),
            key: "db_config".into(),
            message: "no db_config section in configuration".into(),
        })
    }

    /// Path of `local_api_credentials.yaml` from `api.client.credentials_path`.
    pub fn client_credentials_path(&self) -> Result<&Path> {
        self.api
            .as_ref()
            .and_then(|a| a.client.as_ref())
            .map(|c| c.credentials_path.as_path())
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or_else(|| Error::Invalid {
                path: PathBuf::new(),
                key: "api.client.credentials_path".into(),
                message: "no API client section in configuration".into(),
            })
    }

    /// Loads `local_api_credentials.yaml` (with its `.local` override).
    pub fn client_credentials(&self) -> Result<ApiCredentials> {
        ApiCredentials::load(self.client_credentials_path()?)
    }

    /// Loads `simulation.yaml`; a missing file means "no simulation".
    pub fn simulation(&self) -> Result<SimulationConfig> {
        SimulationConfig::load(&self.config_paths.simulation_path)
    }

    /// `api.server.trusted_ips` as networks; a bare address means a single host.
    pub fn trusted_ips(&self) -> Result<Vec<ipnet::IpNet>> {
        let Ok(server) = self.api_server() else {
            return Ok(Vec::new());
        };
        server
            .trusted_ips
            .iter()
            .map(|s| {
                parse_net(s).ok_or_else(|| Error::Invalid {
                    path: PathBuf::new(),
                    key: "api.server.trusted_ips".into(),
                    message: format!("invalid CIDR address: {s}"),
                })
            })
            .collect()
    }
}

/// Parses `a.b.c.d`, `a.b.c.d/n`, IPv6 or IPv6/n into a network.
pub fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    if s.contains('/') {
        s.parse::<ipnet::IpNet>().ok().map(|n| n.trunc())
    } else {
        s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from)
    }
}

/// Parser workers when `parser_routines` is 0 or absent: one per CPU the process may use
/// (its affinity mask and cgroup quota included), at least one.
pub fn auto_parser_routines() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn fill(p: &mut PathBuf, default: impl FnOnce() -> PathBuf) {
    if p.as_os_str().is_empty() {
        *p = default();
    }
}

/// Makes `p` absolute against the current directory and removes `.`/`..` components
/// lexically (no symlink resolution), like Go's `filepath.Abs`.
pub fn absolute(p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
