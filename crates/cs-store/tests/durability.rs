//! Committed data survives closing the store, reopening it (migrations are not re-applied
//! destructively), and the end of the process that wrote it.

mod support;

use std::process::Command;

use chrono::Utc;
use cs_store::{NewBouncer, NewMachine, Store, StoreConfig};
use support::{Kind, TestDb};

/// Environment variable naming the SQLite file the child process writes to.
const CHILD_DB: &str = "CS_STORE_DURABILITY_CHILD_DB";

async fn write_sample(store: &Store) {
    store
        .create_machine(&NewMachine {
            machine_id: "m".into(),
            password: "p".into(),
            ..NewMachine::default()
        })
        .await
        .unwrap();
    store
        .create_bouncer(&NewBouncer {
            name: "b".into(),
            api_key: "k".into(),
            ..NewBouncer::default()
        })
        .await
        .unwrap();
    store.set_config_item("apic_token", "tok").await.unwrap();
}

async fn check_sample(store: &Store) {
    assert!(
        store
            .check_machine_password("m", "p")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.list_bouncers().await.unwrap()[0].name, "b");
    assert_eq!(
        store
            .get_config_item("apic_token")
            .await
            .unwrap()
            .as_deref(),
        Some("tok")
    );
}

async fn reopen(kind: Kind) {
    let db = TestDb::new(kind).await;
    write_sample(&db.store).await;
    db.store.close().await;
    let again = Store::open(&db.config).await.unwrap();
    check_sample(&again).await;
    assert_eq!(again.integrity_check().await.unwrap(), Vec::<String>::new());
    again.close().await;
}

#[tokio::test]
async fn sqlite_reopen_keeps_data() {
    reopen(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_reopen_keeps_data() {
    reopen(Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_reopen_keeps_data() {
    reopen(Kind::MySql).await;
}

/// Writes the sample into the SQLite file named by [`CHILD_DB`] and exits the process
/// without closing the store. Run as a child of `sqlite_data_survives_the_writing_process`;
/// when run directly it writes to a temporary file and checks it in-process instead.
#[tokio::test]
async fn durability_child_writer() {
    match std::env::var(CHILD_DB) {
        Ok(path) => {
            let store = Store::open(&StoreConfig::sqlite(path)).await.unwrap();
            write_sample(&store).await;
            // Leave abruptly: no pool close, no WAL checkpoint.
            std::process::exit(0);
        }
        Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&StoreConfig::sqlite(dir.path().join("d.db")))
                .await
                .unwrap();
            write_sample(&store).await;
            check_sample(&store).await;
        }
    }
}

#[tokio::test]
async fn sqlite_data_survives_the_writing_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "durability_child_writer", "--test-threads=1"])
        .env(CHILD_DB, &path)
        .status()
        .unwrap();
    assert!(status.success(), "child writer failed: {status}");
    let store = Store::open(&StoreConfig::sqlite(&path)).await.unwrap();
    check_sample(&store).await;
    // The reopened store keeps working for writes too.
    store
        .update_machine_heartbeat("m", Utc::now())
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn sqlite_without_wal_works_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Sqlite {
        path: dir.path().join("nowal.db"),
        use_wal: false,
        max_readers: 2,
    };
    let store = Store::open(&config).await.unwrap();
    write_sample(&store).await;
    store.close().await;
    let again = Store::open(&config).await.unwrap();
    check_sample(&again).await;
    again.close().await;
}

#[tokio::test]
async fn integrity_check_reports_rows_without_their_alert() {
    use sqlx::{ConnectOptions, Connection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orphans.db");
    let store = Store::open(&StoreConfig::sqlite(&path)).await.unwrap();
    write_sample(&store).await;
    assert_eq!(store.integrity_check().await.unwrap(), Vec::<String>::new());
    store.close().await;

    // A row the store itself would refuse: written behind its back with the foreign keys off.
    let mut raw = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO decisions (created_at, updated_at, until_at, scenario, type, start_ip, end_ip,
         start_suffix, end_suffix, ip_size, scope, value, origin, simulated, uuid, alert_decisions)
         VALUES (0, 0, 0, 's', 'ban', 0, 0, 0, 0, 4, 'Ip', '192.0.2.1', 'cscli', false, 'u', 4242)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();

    let again = Store::open(&StoreConfig::sqlite(&path)).await.unwrap();
    let problems = again.integrity_check().await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("foreign_key_check")),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"1 decisions rows without their alert".to_owned()),
        "{problems:?}"
    );
    again.close().await;
}
