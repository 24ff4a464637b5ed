//! Test databases: a SQLite file in a temporary directory, or a fresh database created on the
//! PostgreSQL / MariaDB test servers and dropped afterwards (even when the test panics).

use std::sync::atomic::{AtomicU32, Ordering};

use cs_store::{Store, StoreConfig};
use sqlx::{AssertSqlSafe, Connection};

/// Default PostgreSQL server (override with `CS_TEST_POSTGRES_URL`).
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MariaDB/MySQL server (override with `CS_TEST_MYSQL_URL`).
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

/// Replaces the database name of a server URL, keeping any query string.
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

fn server_url(kind: Kind) -> String {
    match kind {
        Kind::Postgres => {
            std::env::var("CS_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned())
        }
        Kind::MySql => std::env::var("CS_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.to_owned()),
        Kind::Sqlite => String::new(),
    }
}

async fn admin_exec(kind: Kind, stmt: String) {
    let url = server_url(kind);
    let result = match kind {
        Kind::Postgres => match sqlx::PgConnection::connect(&url).await {
            Ok(mut c) => sqlx::query(AssertSqlSafe(stmt))
                .execute(&mut c)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        Kind::MySql => match sqlx::MySqlConnection::connect(&url).await {
            Ok(mut c) => sqlx::query(AssertSqlSafe(stmt))
                .execute(&mut c)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        Kind::Sqlite => Ok(()),
    };
    if let Err(e) = result {
        panic!(
            "{kind:?} test server at {url} is not usable ({e}); start it or point {} at one",
            match kind {
                Kind::Postgres => "CS_TEST_POSTGRES_URL",
                _ => "CS_TEST_MYSQL_URL",
            }
        );
    }
}

/// A store on a throw-away database.
pub struct TestDb {
    pub store: Store,
    pub config: StoreConfig,
    kind: Kind,
    db_name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let config = StoreConfig::sqlite(dir.path().join("crowdsec.db"));
                let store = Store::open(&config).await.expect("open sqlite store");
                TestDb {
                    store,
                    config,
                    kind,
                    db_name: String::new(),
                    _dir: Some(dir),
                }
            }
            Kind::Postgres | Kind::MySql => {
                let db_name = format!(
                    "cs_store_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    chrono::Utc::now().timestamp_subsec_nanos()
                );
                admin_exec(kind, format!("CREATE DATABASE {db_name}")).await;
                let url = with_db(&server_url(kind), &db_name);
                let config = StoreConfig::from_url(&url).expect("url");
                let store = Store::open(&config).await.expect("open store");
                TestDb {
                    store,
                    config,
                    kind,
                    db_name,
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.db_name.is_empty() {
            return;
        }
        let (kind, stmt) = match self.kind {
            Kind::Postgres => (
                self.kind,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name),
            ),
            _ => (
                self.kind,
                format!("DROP DATABASE IF EXISTS {}", self.db_name),
            ),
        };
        // Drop cannot await; run the cleanup on a private runtime in its own thread.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(admin_exec(kind, stmt));
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("could not drop test database {}", self.db_name);
        }
    }
}

/// Declares each listed `async fn(&Store)` as a test on SQLite, PostgreSQL and MySQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = $crate::support::TestDb::new($crate::support::Kind::Sqlite).await;
                super::$name(&db.store).await;
                db.store.close().await;
                // Opening the now populated database again must find its schema current.
                cs_store::Store::open(&db.config).await.expect("reopen").close().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = $crate::support::TestDb::new($crate::support::Kind::Postgres).await;
                super::$name(&db.store).await;
                db.store.close().await;
                // Opening the now populated database again must find its schema current.
                cs_store::Store::open(&db.config).await.expect("reopen").close().await;
            })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = $crate::support::TestDb::new($crate::support::Kind::MySql).await;
                super::$name(&db.store).await;
                db.store.close().await;
                // Opening the now populated database again must find its schema current.
                cs_store::Store::open(&db.config).await.expect("reopen").close().await;
            })*
        }
    };
}

#[test]
fn database_name_replacement() {
    assert_eq!(
        with_db("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_db("mysql://root@h:3306/test?ssl-mode=disabled", "x"),
        "mysql://root@h:3306/x?ssl-mode=disabled"
    );
    assert_eq!(with_db("postgres://h", "x"), "postgres://h/x");
}
