//! The CrowdSec data layer: machines, bouncers, alerts, decisions, allowlists, config items,
//! locks and usage metrics over SQLite (embedded default), PostgreSQL or MySQL/MariaDB.
//!
//! Open a [`Store`] with a [`StoreConfig`]; migrations are applied at open. All methods are
//! async and take `&self`; a `Store` is cheap to clone and share between tasks.
//!
//! ```no_run
//! # async fn demo() -> cs_store::Result<()> {
//! use cs_store::{NewBouncer, Store, StoreConfig, generate_api_key, hash_api_key};
//!
//! let store = Store::open(&StoreConfig::sqlite("/var/lib/crowdsec/data/crowdsec.db")).await?;
//! let key = generate_api_key()?;
//! store.create_bouncer(&NewBouncer { name: "fw".into(), api_key: key.clone(), ..Default::default() }).await?;
//! let found = store.find_bouncers_by_key_hash(&hash_api_key(&key)).await?;
//! assert_eq!(found[0].name, "fw");
//! # Ok(()) }
//! ```
//!
//! # API map (what the LAPI and cscli use)
//!
//! * Machines: [`Store::create_machine`] ([`NewMachine`]), [`Store::get_machine`],
//!   [`Store::list_machines`], [`Store::check_machine_password`], [`Store::validate_machine`],
//!   [`Store::delete_machine`], [`Store::update_machine_login`] ([`MachineLogin`]),
//!   [`Store::update_machine_heartbeat`], [`Store::update_machine_last_push`],
//!   [`Store::update_machine_usage`], [`Store::delete_stale_machines`].
//! * Bouncers: [`Store::create_bouncer`] ([`NewBouncer`]), [`Store::get_bouncer`],
//!   [`Store::find_bouncers_by_key_hash`] with [`hash_api_key`], [`Store::list_bouncers`],
//!   [`Store::delete_bouncer`], [`Store::update_bouncer_last_pull`], [`Store::update_bouncer_ip`],
//!   [`Store::update_bouncer_type_version`], [`Store::update_bouncer_usage`],
//!   [`Store::delete_stale_bouncers`]; keys from [`generate_api_key`].
//! * Alerts: [`Store::create_alerts`] (takes `cs_models::Alert`s, returns ids),
//!   [`Store::list_alerts`] / [`Store::delete_alerts`] with [`AlertFilter`] (built from a query
//!   string by [`AlertFilter::from_query`]), [`Store::get_alert`], [`Store::delete_alert`];
//!   [`AlertRecord::to_model`] renders the wire alert.
//! * Decisions: [`Store::list_decisions`] (bouncer `GET /v1/decisions`),
//!   [`Store::list_active_decisions`], [`Store::list_decisions_created_since`],
//!   [`Store::list_expired_decisions`] (the stream, see [`StreamQuery`]),
//!   [`Store::encoded_decisions`] (the startup stream, written while it is read),
//!   [`Store::expire_decisions`] / [`Store::expire_decision_by_id`] (deletion = expiry),
//!   [`Store::delete_expired_decisions`], [`Store::count_active_decisions_by_reason`] and
//!   [`Store::count_alerts_by_scenario`] (metrics gauges); filters in [`DecisionFilter`] built by
//!   [`DecisionFilter::from_query`]; [`DecisionRecord::to_bouncer_model`] renders them.
//! * Housekeeping: [`Store::flush`] with [`FlushPolicy`]; [`Store::integrity_check`] after a crash.
//! * Allowlists: [`Store::create_allowlist`], [`Store::add_allowlist_items`],
//!   [`Store::list_allowlists`], [`Store::get_allowlist`], [`Store::delete_allowlist`],
//!   [`Store::remove_allowlist_items`], [`Store::check_allowlist`].
//! * Config items and locks: [`Store::get_config_item`], [`Store::set_config_item`],
//!   [`Store::delete_config_item`], [`Store::acquire_lock`], [`Store::release_lock`].
//! * Usage metrics: [`Store::insert_metrics`], [`Store::list_unpushed_metrics`],
//!   [`Store::mark_metrics_pushed`], [`Store::delete_metrics_before`].
//!
//! All times are UTC `chrono::DateTime`s; the store never reads the clock for values that a
//! caller passes as `now`, which keeps the stream semantics testable.

mod alerts;
mod allowlists;
mod bouncers;
mod config_items;
mod db;
mod decisions;
mod error;
mod flush;
mod integrity;
mod ip;
mod machines;
mod metrics;
mod schema;
mod sqlite_direct;
mod time;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

pub use alerts::{
    AlertFilter, AlertRecord, EventRecord, SortOrder, go_time_string, rfc3339_seconds,
};
pub use allowlists::{Allowlist, AllowlistItemRecord, AllowlistMatch, NewAllowlistItem};
pub use bouncers::{AUTH_API_KEY, Bouncer, NewBouncer, generate_api_key, hash_api_key};
pub use db::Dialect;
pub use decisions::{
    ActiveDecisionCount, DecisionFilter, DecisionQueryKind, DecisionRecord, DecisionRow,
    StreamQuery,
};
pub use error::{Error, Result};
pub use flush::{FlushPolicy, FlushReport};
pub use ip::IpRange;
pub use machines::{AUTH_PASSWORD, AUTH_TLS, Machine, MachineLogin, MachineUsage, NewMachine};
pub use metrics::{MetricsRecord, MetricsSource};

use db::{Pools, SQLITE_BUSY_TIMEOUT, Sql};

/// Which database to open and how.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    /// SQLite file, created if missing. `use_wal` (default true) enables write-ahead logging
    /// so readers never block the writer; `max_readers` sizes the reader pool.
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Write-ahead logging.
        use_wal: bool,
        /// Reader connections.
        max_readers: u32,
    },
    /// PostgreSQL server.
    Postgres(ServerConfig),
    /// MySQL or MariaDB server.
    MySql(ServerConfig),
}

/// Connection settings of a database server (upstream's `db_config` keys).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerConfig {
    /// Full URL (`postgres://user@host:5432/db`, `mysql://root@host:3306/db`); when set, the
    /// other connection fields are ignored.
    pub url: Option<String>,
    /// Host name.
    pub host: String,
    /// Port (default 5432 / 3306).
    pub port: Option<u16>,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Database name.
    pub db_name: String,
    /// PostgreSQL `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
    pub sslmode: Option<String>,
    /// Pool size (`max_open_conns`, default 10).
    pub max_open_conns: Option<u32>,
}

impl StoreConfig {
    /// SQLite at `path` with WAL and four readers.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        StoreConfig::Sqlite {
            path: path.into(),
            use_wal: true,
            max_readers: 4,
        }
    }

    /// Parses `sqlite://PATH` (or a bare path), `postgres://...`/`postgresql://...` or
    /// `mysql://...`/`mariadb://...`.
    pub fn from_url(url: &str) -> Result<Self> {
        let server = |u: &str| ServerConfig {
            url: Some(u.to_owned()),
            ..ServerConfig::default()
        };
        if let Some(rest) = url.strip_prefix("sqlite://") {
            Ok(Self::sqlite(rest))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreConfig::Postgres(server(url)))
        } else if url.starts_with("mysql://") {
            Ok(StoreConfig::MySql(server(url)))
        } else if let Some(rest) = url.strip_prefix("mariadb://") {
            Ok(StoreConfig::MySql(server(&format!("mysql://{rest}"))))
        } else if url.contains("://") {
            Err(Error::Config {
                reason: format!("unsupported database URL scheme in {url:?}"),
            })
        } else {
            Ok(Self::sqlite(url))
        }
    }

    /// Builds a configuration from upstream's `db_config.type` (`sqlite`, `postgres`, `pgx`,
    /// `mysql`), the SQLite `db_path`, and the server settings.
    pub fn from_db_type(
        db_type: &str,
        db_path: Option<&Path>,
        use_wal: Option<bool>,
        server: ServerConfig,
    ) -> Result<Self> {
        match db_type {
            "sqlite" => {
                let path = db_path.ok_or_else(|| Error::Config {
                    reason: "db_path is required for sqlite".into(),
                })?;
                Ok(StoreConfig::Sqlite {
                    path: path.to_path_buf(),
                    use_wal: use_wal.unwrap_or(true),
                    max_readers: server.max_open_conns.unwrap_or(4).max(1),
                })
            }
            "postgres" | "pgx" | "postgresql" => Ok(StoreConfig::Postgres(server)),
            "mysql" | "mariadb" => Ok(StoreConfig::MySql(server)),
            other => Err(Error::Config {
                reason: format!("unknown database type {other:?}"),
            }),
        }
    }
}

/// Handle on an open database. Clones share the same connection pools.
#[derive(Debug, Clone)]
pub struct Store {
    db: Pools,
    /// Long streamed reads ([`Store::encoded_decisions`]) run under this semaphore, so that they
    /// queue for as long as needed instead of timing out on the pool, and leave connections
    /// free for the other requests. On SQLite, where they read on connections and threads of
    /// their own, it bounds how many run at once in the same way.
    streams: std::sync::Arc<tokio::sync::Semaphore>,
}

fn pg_options(c: &ServerConfig) -> Result<PgConnectOptions> {
    if let Some(url) = &c.url {
        return Ok(PgConnectOptions::from_str(url)?);
    }
    let mut o = PgConnectOptions::new()
        .host(&c.host)
        .port(c.port.unwrap_or(5432))
        .username(&c.user)
        .database(&c.db_name);
    if !c.password.is_empty() {
        o = o.password(&c.password);
    }
    if let Some(mode) = &c.sslmode {
        let m = PgSslMode::from_str(mode).map_err(|e| Error::Config {
            reason: format!("sslmode {mode:?}: {e}"),
        })?;
        o = o.ssl_mode(m);
    }
    Ok(o)
}

fn mysql_options(c: &ServerConfig) -> Result<MySqlConnectOptions> {
    if let Some(url) = &c.url {
        return Ok(MySqlConnectOptions::from_str(url)?);
    }
    let mut o = MySqlConnectOptions::new()
        .host(&c.host)
        .port(c.port.unwrap_or(3306))
        .username(&c.user)
        .database(&c.db_name);
    if !c.password.is_empty() {
        o = o.password(&c.password);
    }
    Ok(o)
}

impl Store {
    /// Connects to the database and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = match config {
            StoreConfig::Sqlite {
                path,
                use_wal,
                max_readers,
            } => {
                let base = SqliteConnectOptions::new()
                    .filename(path)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .journal_mode(if *use_wal {
                        SqliteJournalMode::Wal
                    } else {
                        SqliteJournalMode::Delete
                    })
                    // NORMAL is durable in WAL mode for committed transactions across
                    // application crashes; FULL is kept for the rollback journal.
                    .synchronous(if *use_wal {
                        SqliteSynchronous::Normal
                    } else {
                        SqliteSynchronous::Full
                    });
                let writer = sqlx::pool::PoolOptions::new()
                    .max_connections(1)
                    .connect_with(base.clone().create_if_missing(true))
                    .await?;
                let reader = sqlx::pool::PoolOptions::new()
                    .max_connections((*max_readers).max(1))
                    .connect_with(base.read_only(true))
                    .await?;
                Pools::Sqlite {
                    writer,
                    reader,
                    direct: std::sync::Arc::new(sqlite_direct::DirectReader::new(path.clone())),
                }
            }
            StoreConfig::Postgres(c) => Pools::Postgres(
                sqlx::pool::PoolOptions::new()
                    .max_connections(c.max_open_conns.unwrap_or(10).max(1))
                    .connect_with(pg_options(c)?)
                    .await?,
            ),
            StoreConfig::MySql(c) => Pools::MySql(
                sqlx::pool::PoolOptions::new()
                    .max_connections(c.max_open_conns.unwrap_or(10).max(1))
                    .connect_with(mysql_options(c)?)
                    .await?,
            ),
        };
        schema::migrate(&db).await?;
        let connections = match config {
            StoreConfig::Sqlite { max_readers, .. } => *max_readers,
            StoreConfig::Postgres(c) | StoreConfig::MySql(c) => c.max_open_conns.unwrap_or(10),
        };
        // One connection of the pool (half of a server pool) stays free of streams.
        let streams = match config {
            StoreConfig::Sqlite { .. } => connections.saturating_sub(1),
            _ => connections / 2,
        }
        .max(1) as usize;
        Ok(Store {
            db,
            streams: std::sync::Arc::new(tokio::sync::Semaphore::new(streams)),
        })
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Closes every connection (waits for running queries).
    pub async fn close(&self) {
        self.db.close().await;
    }

    pub(crate) fn sql(&self, text: &str) -> Sql {
        Sql::new(self.db.dialect(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_url() {
        let check = |url: &str, expected: StoreConfig| {
            assert_eq!(StoreConfig::from_url(url).unwrap(), expected)
        };
        check(
            "sqlite:///var/lib/crowdsec/data/crowdsec.db",
            StoreConfig::sqlite("/var/lib/crowdsec/data/crowdsec.db"),
        );
        check("/tmp/x.db", StoreConfig::sqlite("/tmp/x.db"));
        let server = |u: &str| ServerConfig {
            url: Some(u.to_owned()),
            ..ServerConfig::default()
        };
        check(
            "postgres://u@h/db",
            StoreConfig::Postgres(server("postgres://u@h/db")),
        );
        check(
            "mariadb://root@h/db",
            StoreConfig::MySql(server("mysql://root@h/db")),
        );
        assert!(StoreConfig::from_url("redis://h").is_err());
    }

    #[test]
    fn config_from_db_type() {
        let c = StoreConfig::from_db_type(
            "sqlite",
            Some(Path::new("/d/c.db")),
            Some(false),
            ServerConfig::default(),
        );
        assert_eq!(
            c.unwrap(),
            StoreConfig::Sqlite {
                path: "/d/c.db".into(),
                use_wal: false,
                max_readers: 4
            }
        );
        assert!(StoreConfig::from_db_type("sqlite", None, None, ServerConfig::default()).is_err());
        assert!(matches!(
            StoreConfig::from_db_type("pgx", None, None, ServerConfig::default()),
            Ok(StoreConfig::Postgres(_))
        ));
        assert!(StoreConfig::from_db_type("oracle", None, None, ServerConfig::default()).is_err());
    }
}
