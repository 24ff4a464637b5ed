//! Running the Local API from `config.yaml`: server options, database, profiles, and the
//! database flush scheduler (`db_config.flush`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cs_config::Config;
use cs_config::config::{ApiServerConfig, DatabaseConfig, FlushConfig};
use cs_lapi::{AutoRegistration, ClientVerification, Profiles, Server, ServerOptions, TlsOptions};
use cs_store::{FlushPolicy, ServerConfig, Store, StoreConfig};

/// How often the flush scheduler runs, as upstream.
const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// The store configuration of a `db_config` section.
pub fn store_config(db: &DatabaseConfig) -> Result<StoreConfig> {
    let server = ServerConfig {
        url: None,
        host: db.host.clone(),
        port: (db.port != 0).then_some(db.port),
        user: db.user.clone(),
        password: db.password.clone(),
        db_name: db.db_name.clone(),
        sslmode: (!db.sslmode.is_empty()).then(|| db.sslmode.clone()),
        max_open_conns: db.max_open_conns,
    };
    let path = (!db.db_path.is_empty()).then(|| Path::new(&db.db_path));
    Ok(StoreConfig::from_db_type(
        &db.db_type,
        path,
        db.use_wal,
        server,
    )?)
}

fn nets(key: &str, list: &[String]) -> Result<Vec<ipnet::IpNet>> {
    list.iter()
        .map(|s| {
            cs_config::config::parse_net(s)
                .with_context(|| format!("{key}: invalid IP or CIDR {s:?}"))
        })
        .collect()
}

fn opt_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// `api.server` → server options, with upstream's implied settings: trusted proxies imply
/// forwarded headers, and forwarded headers without proxies trust everyone.
pub fn server_options(cfg: &Config, s: &ApiServerConfig) -> Result<ServerOptions> {
    let mut o = ServerOptions {
        listen_uri: (!s.listen_uri.is_empty()).then(|| s.listen_uri.clone()),
        listen_socket: opt_path(&s.listen_socket),
        trusted_ips: cfg.trusted_ips()?,
        disable_remote_lapi_registration: s.disable_remote_lapi_registration,
        ..ServerOptions::default()
    };
    if o.listen_uri.is_none() && o.listen_socket.is_none() {
        bail!("no listen_uri or listen_socket specified");
    }
    match &s.trusted_proxies {
        Some(p) => {
            o.use_forwarded_for_headers = true;
            o.trusted_proxies = nets("api.server.trusted_proxies", p)?;
        }
        None if s.use_forwarded_for_headers => {
            o.use_forwarded_for_headers = true;
            o.trusted_proxies = nets(
                "api.server.trusted_proxies",
                &["0.0.0.0/0".into(), "::/0".into()],
            )?;
        }
        None => {}
    }
    if let Some(tls) = &s.tls
        && !tls.cert_file.is_empty()
    {
        let mut t = TlsOptions::new(PathBuf::from(&tls.cert_file), PathBuf::from(&tls.key_file));
        t.ca_cert_path = opt_path(&tls.ca_cert_path);
        t.crl_path = opt_path(&tls.crl_path);
        t.client_verification =
            ClientVerification::parse(&tls.client_verification).with_context(|| {
                format!(
                    "unknown TLS client verification {:?}",
                    tls.client_verification
                )
            })?;
        if !tls.agents_allowed_ou.is_empty() {
            t.agents_allowed_ou = tls.agents_allowed_ou.clone();
        }
        if !tls.bouncers_allowed_ou.is_empty() {
            t.bouncers_allowed_ou = tls.bouncers_allowed_ou.clone();
        }
        o.tls = Some(t);
    }
    if let Some(a) = &s.auto_registration
        && a.enabled
    {
        if a.token.len() < 32 {
            bail!("api.server.auto_registration.token must be at least 32 characters");
        }
        o.auto_registration = Some(AutoRegistration {
            enabled: true,
            token: a.token.clone(),
            allowed_ranges: nets(
                "api.server.auto_registration.allowed_ranges",
                &a.allowed_ranges,
            )?,
        });
    }
    Ok(o)
}

/// Everything the LAPI needs, loaded and checked (also used by `-t`).
pub struct Prepared {
    opts: ServerOptions,
    profiles: Profiles,
    db: DatabaseConfig,
    notify: Option<cs_notify::BrokerOptions>,
}

/// Hands the alerts of profiles with `notifications:` to the notification plugins.
struct PluginNotifier(cs_notify::Dispatcher);

impl cs_lapi::Notifier for PluginNotifier {
    fn notify(&self, _profile: &str, plugins: &[String], alert: &cs_models::Alert) {
        self.0.dispatch(plugins, alert);
    }
}

/// Loads and checks the LAPI's configuration without opening sockets.
pub fn prepare(cfg: &Config) -> Result<Prepared> {
    let s = cfg.api_server()?;
    let opts = server_options(cfg, s)?;
    let profiles = Profiles::load(&s.profiles_path)
        .map_err(|d| anyhow::anyhow!("{d}"))
        .with_context(|| {
            format!(
                "while loading profiles for LAPI ({})",
                s.profiles_path.display()
            )
        })?;
    let db = cfg.db()?.clone();
    store_config(&db)?;
    let used: Vec<String> = profiles
        .iter()
        .flat_map(|p| p.notifications().iter().cloned())
        .collect();
    let notify = cs_notify::BrokerOptions::from_config(cfg, &used)?;
    Ok(Prepared {
        opts,
        profiles,
        db,
        notify,
    })
}

/// Opens the database and serves until `shutdown` resolves.
pub async fn run(
    p: Prepared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Started first: dropping the broker on a later error stops the plugins.
    let broker = match p.notify {
        Some(o) => Some(
            cs_notify::Broker::start(o)
                .await
                .context("while loading notification plugins")?,
        ),
        None => None,
    };
    let store = Store::open(&store_config(&p.db)?)
        .await
        .context("unable to open the database (db_config)")?;
    let flush =
        p.db.flush
            .clone()
            .map(|f| tokio::spawn(flush_loop(store.clone(), f)));
    tracing::info!(listen = ?p.opts.listen_uri, "CrowdSec Local API listening");
    let mut server =
        Server::new(p.opts, store.clone(), p.profiles).context("starting local API")?;
    if let Some(b) = &broker {
        server = server.with_notifier(std::sync::Arc::new(PluginNotifier(b.dispatcher())));
    }
    let result = server.serve(shutdown).await.context("local API server");
    if let Some(b) = broker {
        b.shutdown().await;
    }
    if let Some(h) = flush {
        h.abort();
    }
    store.close().await;
    result
}

fn duration(key: &str, s: &Option<String>) -> Option<chrono::Duration> {
    let s = s.as_deref().filter(|s| !s.is_empty())?;
    match cs_models::parse_duration(s) {
        Ok(ns) => Some(chrono::Duration::nanoseconds(ns)),
        Err(e) => {
            tracing::error!(error = %e, "db_config.flush.{key}: ignored");
            None
        }
    }
}

/// Every minute: alerts beyond `max_items`/older than `max_age`, old usage metrics, and
/// bouncers/machines not seen for their `*_autodelete` duration.
async fn flush_loop(store: Store, f: FlushConfig) {
    let policy = FlushPolicy {
        max_items: f.max_items,
        max_age: duration("max_age", &f.max_age),
        metrics_max_age: duration("metrics_max_age", &f.metrics_max_age)
            .or(Some(chrono::Duration::days(7))),
    };
    let bouncers = f.bouncers_autodelete.clone().unwrap_or_default();
    let agents = f.agents_autodelete.clone().unwrap_or_default();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        match store.flush(&policy, now).await {
            Ok(r) => tracing::debug!(
                too_old = r.alerts_too_old,
                over_limit = r.alerts_over_limit,
                metrics = r.metrics,
                "database flushed"
            ),
            Err(e) => tracing::error!(error = %e, "database flush failed"),
        }
        for (auth, d) in [
            (
                cs_store::AUTH_API_KEY,
                duration("bouncers_autodelete.api_key", &bouncers.api_key),
            ),
            (
                cs_store::AUTH_TLS,
                duration("bouncers_autodelete.cert", &bouncers.cert),
            ),
        ] {
            if let Some(d) = d
                && let Err(e) = store.delete_stale_bouncers(Some(auth), now - d).await
            {
                tracing::error!(error = %e, "bouncers autodelete failed");
            }
        }
        for (auth, d) in [
            (
                cs_store::AUTH_PASSWORD,
                duration("agents_autodelete.login_password", &agents.login_password),
            ),
            (
                cs_store::AUTH_TLS,
                duration("agents_autodelete.cert", &agents.cert),
            ),
        ] {
            if let Some(d) = d
                && let Err(e) = store.delete_stale_machines(auth, now - d).await
            {
                tracing::error!(error = %e, "agents autodelete failed");
            }
        }
    }
}
