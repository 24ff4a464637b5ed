//! What every command needs: the loaded configuration, the output format, and on demand a
//! LAPI client (as a machine) or the database.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use cs_apiclient::{ClientOptions, WatcherClient};
use cs_config::{ApiCredentials, Config};

use crate::cli::OutputFormat;

/// Loaded configuration and global flags.
pub struct Ctx {
    /// The configuration.
    pub cfg: Config,
    /// Effective output format (`-o`, else `cscli.output`).
    pub output: OutputFormat,
}

impl Ctx {
    /// Loads the configuration.
    pub fn load(config_path: PathBuf, output: Option<OutputFormat>) -> Result<Ctx> {
        let cfg = Config::load(&config_path).with_context(|| {
            format!("while loading configuration file {}", config_path.display())
        })?;
        let output = output.unwrap_or(match cfg.cscli.as_ref().map(|c| c.output.as_str()) {
            Some("json") => OutputFormat::Json,
            Some("raw") => OutputFormat::Raw,
            _ => OutputFormat::Human,
        });
        Ok(Ctx { cfg, output })
    }

    /// `local_api_credentials.yaml`.
    pub fn credentials(&self) -> Result<ApiCredentials> {
        self.cfg.client_credentials().context("loading api client")
    }

    /// A LAPI client logged in as the machine of `local_api_credentials.yaml`.
    pub fn lapi(&self) -> Result<(WatcherClient, ApiCredentials)> {
        let creds = self.credentials()?;
        let client = WatcherClient::new(
            &client_options(&self.cfg, &creds),
            &creds.login,
            &creds.password,
        )
        .context("creating api client")?;
        Ok((client, creds))
    }

    /// The database of `db_config`.
    pub async fn store(&self) -> Result<cs_store::Store> {
        let db = self.cfg.db().context("no database configuration")?;
        crate::store::open(db).await
    }
}

/// Client options from the credentials file and `api.client.insecure_skip_verify`.
pub fn client_options(cfg: &Config, creds: &ApiCredentials) -> ClientOptions {
    let mut opts = ClientOptions::new(creds.url.clone());
    let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
    opts.ca_cert_path = path(&creds.ca_cert_path);
    opts.cert_path = path(&creds.cert_path);
    opts.key_path = path(&creds.key_path);
    opts.insecure_skip_verify = cfg
        .api
        .as_ref()
        .and_then(|a| a.client.as_ref())
        .and_then(|c| c.insecure_skip_verify)
        .unwrap_or(false);
    opts
}
