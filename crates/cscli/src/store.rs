//! Opening the database of `db_config`, and the database-side commands' helpers.

use std::path::Path;

use anyhow::{Context as _, Result};
use cs_config::config::DatabaseConfig;
use cs_store::{FlushPolicy, ServerConfig, Store, StoreConfig};

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

/// Opens (and migrates) the database.
pub async fn open(db: &DatabaseConfig) -> Result<Store> {
    let cfg = store_config(db)?;
    Store::open(&cfg)
        .await
        .context("unable to open the database (db_config)")
}

/// `cscli alerts flush`: alerts older than `max_age` or beyond the newest `max_items`, except
/// those still carrying an active decision.
pub async fn flush_alerts(store: &Store, max_age: chrono::Duration, max_items: u64) -> Result<()> {
    let policy = FlushPolicy {
        max_items: Some(max_items),
        max_age: Some(max_age),
        metrics_max_age: None,
    };
    let report = store
        .flush(&policy, chrono::Utc::now())
        .await
        .context("unable to flush alerts")?;
    tracing::debug!(
        too_old = report.alerts_too_old,
        over_limit = report.alerts_over_limit,
        "alerts flushed"
    );
    Ok(())
}
