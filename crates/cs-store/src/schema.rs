//! Schema migrations for the three backends, applied in order when a store is opened.
//!
//! The tables follow upstream's (ent) schema: same table names and, where possible, column
//! names. Differences: times are `BIGINT` nanoseconds (see `time.rs`), `decisions.until` is
//! `until_at` and `meta.key` is `meta_key` (reserved words in MySQL), alerts keep the owner
//! machine name in `machine_id`, and allowlist items reference their list directly.

use crate::db::{Dialect, Pools, Sql, Ty};
use crate::{Error, Result};

/// Ordered migrations: (version, statements). Statements use the type tokens below.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE machines (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            last_push BIGINT NULL, last_heartbeat BIGINT NULL,
            machine_id {STR} NOT NULL, password {STR} NOT NULL, ip_address {STR} NOT NULL,
            scenarios {TEXT} NOT NULL, version {STR} NOT NULL, is_validated {BOOL} NOT NULL,
            auth_type {STR} NOT NULL, osname {STR} NOT NULL, osfamily {STR} NOT NULL,
            osversion {STR} NOT NULL, featureflags {TEXT} NOT NULL, hubstate {TEXT} NOT NULL,
            datasources {TEXT} NOT NULL) {TABLE}",
        "CREATE UNIQUE INDEX machines_machine_id ON machines (machine_id)",
        "CREATE TABLE bouncers (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            name {STR} NOT NULL, api_key {STR} NOT NULL, revoked {BOOL} NOT NULL,
            ip_address {STR} NOT NULL, type {STR} NOT NULL, version {STR} NOT NULL,
            last_pull BIGINT NULL, auth_type {STR} NOT NULL, osname {STR} NOT NULL,
            osfamily {STR} NOT NULL, osversion {STR} NOT NULL, featureflags {TEXT} NOT NULL,
            auto_created {BOOL} NOT NULL) {TABLE}",
        "CREATE UNIQUE INDEX bouncers_name ON bouncers (name)",
        "CREATE INDEX bouncers_api_key ON bouncers (api_key)",
        "CREATE TABLE alerts (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            scenario {STR} NOT NULL, bucket_id {STR} NOT NULL, message {TEXT} NOT NULL,
            events_count BIGINT NOT NULL, started_at BIGINT NOT NULL, stopped_at BIGINT NOT NULL,
            source_ip {STR} NOT NULL, source_range {STR} NOT NULL,
            source_as_number {STR} NOT NULL, source_as_name {STR} NOT NULL,
            source_country {STR} NOT NULL, source_latitude {DOUBLE} NOT NULL,
            source_longitude {DOUBLE} NOT NULL, source_scope {STR} NOT NULL,
            source_value {STR} NOT NULL, capacity BIGINT NOT NULL, leak_speed {STR} NOT NULL,
            scenario_version {STR} NOT NULL, scenario_hash {STR} NOT NULL,
            simulated {BOOL} NOT NULL, uuid {STR} NOT NULL, remediation {BOOL} NOT NULL,
            kind {STR} NOT NULL, machine_id {STR} NULL) {TABLE}",
        "CREATE INDEX alerts_uuid ON alerts (uuid)",
        "CREATE INDEX alerts_scenario ON alerts (scenario)",
        "CREATE INDEX alerts_created_at ON alerts (created_at)",
        "CREATE INDEX alerts_started_at ON alerts (started_at)",
        "CREATE INDEX alerts_source_value ON alerts (source_value)",
        "CREATE TABLE decisions (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            until_at BIGINT NOT NULL, scenario {STR} NOT NULL, type {STR} NOT NULL,
            start_ip BIGINT NOT NULL, end_ip BIGINT NOT NULL, start_suffix BIGINT NOT NULL,
            end_suffix BIGINT NOT NULL, ip_size BIGINT NOT NULL, scope {STR} NOT NULL,
            value {STR} NOT NULL, origin {STR} NOT NULL, simulated {BOOL} NOT NULL,
            uuid {STR} NOT NULL,
            alert_decisions BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE) {TABLE}",
        "CREATE INDEX decisions_range ON decisions (start_ip, end_ip)",
        "CREATE INDEX decisions_value_until ON decisions (value, until_at)",
        "CREATE INDEX decisions_until ON decisions (until_at)",
        "CREATE INDEX decisions_created_at ON decisions (created_at)",
        "CREATE INDEX decisions_alert ON decisions (alert_decisions)",
        "CREATE INDEX decisions_uuid ON decisions (uuid)",
        "CREATE TABLE events (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            time BIGINT NOT NULL, serialized {TEXT} NOT NULL,
            alert_events BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE) {TABLE}",
        "CREATE INDEX events_alert ON events (alert_events)",
        "CREATE TABLE meta (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            meta_key {STR} NOT NULL, value {TEXT} NOT NULL,
            alert_metas BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE) {TABLE}",
        "CREATE INDEX meta_alert ON meta (alert_metas)",
        "CREATE TABLE allow_lists (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            name {STR} NOT NULL, from_console {BOOL} NOT NULL, description {TEXT} NOT NULL,
            allowlist_id {STR} NOT NULL) {TABLE}",
        "CREATE UNIQUE INDEX allow_lists_name ON allow_lists (name)",
        "CREATE INDEX allow_lists_allowlist_id ON allow_lists (allowlist_id)",
        "CREATE TABLE allow_list_items (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            expires_at BIGINT NULL, comment {TEXT} NOT NULL, value {STR} NOT NULL,
            start_ip BIGINT NOT NULL, end_ip BIGINT NOT NULL, start_suffix BIGINT NOT NULL,
            end_suffix BIGINT NOT NULL, ip_size BIGINT NOT NULL,
            allow_list_id BIGINT NOT NULL REFERENCES allow_lists (id) ON DELETE CASCADE) {TABLE}",
        "CREATE INDEX allow_list_items_list ON allow_list_items (allow_list_id)",
        "CREATE INDEX allow_list_items_range ON allow_list_items (start_ip, end_ip)",
        "CREATE TABLE config_items (
            id {PK}, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            name {STR} NOT NULL, value {TEXT} NOT NULL) {TABLE}",
        "CREATE UNIQUE INDEX config_items_name ON config_items (name)",
        "CREATE TABLE locks (id {PK}, name {STR} NOT NULL, created_at BIGINT NOT NULL) {TABLE}",
        "CREATE UNIQUE INDEX locks_name ON locks (name)",
        "CREATE TABLE metrics (
            id {PK}, generated_type {STR} NOT NULL, generated_by {STR} NOT NULL,
            received_at BIGINT NOT NULL, pushed_at BIGINT NULL, payload {TEXT} NOT NULL) {TABLE}",
        "CREATE INDEX metrics_received_at ON metrics (received_at)",
    ],
)];

/// Substitutes the type tokens of a statement for `dialect`.
fn render(stmt: &str, dialect: Dialect) -> String {
    let (pk, str_, text, bool_, double, table) = match dialect {
        Dialect::Sqlite => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "TEXT",
            "BOOLEAN",
            "REAL",
            "",
        ),
        Dialect::Postgres => (
            "BIGSERIAL PRIMARY KEY",
            "TEXT",
            "TEXT",
            "BOOLEAN",
            "DOUBLE PRECISION",
            "",
        ),
        // Binary collation gives the exact, case-sensitive comparisons of the other backends.
        Dialect::MySql => (
            "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "VARCHAR(255)",
            "LONGTEXT",
            "BOOLEAN",
            "DOUBLE",
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
    };
    stmt.replace("{PK}", pk)
        .replace("{STR}", str_)
        .replace("{TEXT}", text)
        .replace("{BOOL}", bool_)
        .replace("{DOUBLE}", double)
        .replace("{TABLE}", table)
}

/// Creates the bookkeeping table and applies the migrations not yet recorded in it.
pub(crate) async fn migrate(db: &Pools) -> Result<()> {
    let d = db.dialect();
    db.execute(Sql::new(
        d,
        "CREATE TABLE IF NOT EXISTS cs_schema_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
    ))
    .await?;
    let applied: Vec<i64> = db
        .fetch(
            Sql::new(d, "SELECT version FROM cs_schema_migrations"),
            &[Ty::Int],
        )
        .await?
        .into_iter()
        .map(|mut r| r.int())
        .collect();
    for (version, stmts) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, "applying database migration");
        for stmt in *stmts {
            db.execute(Sql::new(d, &render(stmt, d)))
                .await
                .map_err(|e| match e {
                    Error::Database(source) => Error::Migration {
                        version: *version,
                        source,
                    },
                    other => other,
                })?;
        }
        let mut sql = Sql::new(
            d,
            "INSERT INTO cs_schema_migrations (version, applied_at) VALUES (",
        );
        sql.bind(*version)
            .push(", ")
            .bind(crate::time::to_ns(chrono::Utc::now()))
            .push(")");
        db.execute(sql).await?;
    }
    Ok(())
}
