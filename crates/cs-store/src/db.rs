//! Backend plumbing: one SQL text and argument list, executed on SQLite, PostgreSQL or MySQL.
//!
//! Every query of the crate is written once with [`Sql`], which emits the placeholder syntax
//! of the target dialect (`?` or `$n`). Rows are decoded into [`Val`]s according to the column
//! types the caller announces, so the rest of the crate never names a sqlx database type.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row as _};

use crate::{Error, Result};

/// SQL dialect of the connected server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded, the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

/// A bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    Bool(bool),
    Text(String),
    OptText(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::OptText(v.map(str::to_owned))
    }
}

/// Expected type of a result column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Int,
    OptInt,
    Float,
    Bool,
    Text,
    OptText,
}

/// A decoded column value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    Bool(bool),
    Text(String),
    OptText(Option<String>),
}

/// Sequential reader over one decoded row; the column order is the `SELECT` order.
pub(crate) struct Row(std::vec::IntoIter<Val>);

impl Row {
    // The getters fall back to the zero value on a type mismatch: the column types are fixed
    // by the queries of this crate and covered by the backend test suite.
    pub(crate) fn int(&mut self) -> i64 {
        match self.0.next() {
            Some(Val::Int(v)) => v,
            Some(Val::OptInt(v)) => v.unwrap_or(0),
            _ => 0,
        }
    }
    pub(crate) fn opt_int(&mut self) -> Option<i64> {
        match self.0.next() {
            Some(Val::OptInt(v)) => v,
            Some(Val::Int(v)) => Some(v),
            _ => None,
        }
    }
    pub(crate) fn float(&mut self) -> f64 {
        match self.0.next() {
            Some(Val::Float(v)) => v,
            _ => 0.0,
        }
    }
    pub(crate) fn bool(&mut self) -> bool {
        match self.0.next() {
            Some(Val::Bool(v)) => v,
            _ => false,
        }
    }
    pub(crate) fn text(&mut self) -> String {
        match self.0.next() {
            Some(Val::Text(v)) => v,
            Some(Val::OptText(v)) => v.unwrap_or_default(),
            _ => String::new(),
        }
    }
    pub(crate) fn opt_text(&mut self) -> Option<String> {
        match self.0.next() {
            Some(Val::OptText(v)) => v,
            Some(Val::Text(v)) => Some(v),
            _ => None,
        }
    }
}

/// A statement under construction.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect, text: &str) -> Self {
        Self {
            dialect,
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends a static SQL fragment (never user data).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        match self.dialect {
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
            Dialect::Sqlite | Dialect::MySql => self.text.push('?'),
        }
        self
    }

    /// The SQL text and its arguments in placeholder order.
    pub(crate) fn parts(&self) -> (&str, &[Arg]) {
        (&self.text, &self.args)
    }

    /// The statement prefixed with `EXPLAIN QUERY PLAN` (SQLite), to check index use.
    #[cfg(test)]
    pub(crate) fn explain(mut self) -> Self {
        self.text.insert_str(0, "EXPLAIN QUERY PLAN ");
        self
    }

    /// Appends `(?, ?, ...)` bound to `args`.
    pub(crate) fn bind_list<A: Into<Arg>>(
        &mut self,
        args: impl IntoIterator<Item = A>,
    ) -> &mut Self {
        self.push("(");
        for (i, a) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(a);
        }
        self.push(")")
    }
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
            };
        }
        q
    }};
}

macro_rules! decode_row {
    ($r:expr, $tys:expr) => {{
        let r = $r;
        let mut vals = Vec::with_capacity($tys.len());
        for (i, ty) in $tys.iter().enumerate() {
            vals.push(match ty {
                Ty::Int => Val::Int(r.try_get::<i64, _>(i)?),
                Ty::OptInt => Val::OptInt(r.try_get::<Option<i64>, _>(i)?),
                Ty::Float => Val::Float(r.try_get::<f64, _>(i)?),
                Ty::Bool => Val::Bool(r.try_get::<bool, _>(i)?),
                Ty::Text => Val::Text(r.try_get::<String, _>(i)?),
                Ty::OptText => Val::OptText(r.try_get::<Option<String>, _>(i)?),
            });
        }
        Row(vals.into_iter())
    }};
}

macro_rules! decode_rows {
    ($rows:expr, $tys:expr) => {{
        let mut out = Vec::with_capacity($rows.len());
        for r in &$rows {
            out.push(decode_row!(r, $tys));
        }
        out
    }};
}

/// Reads a row stream in batches of `$batch` decoded rows, each mapped with `$map` and handed to
/// `$sink`; stops quietly when the receiving side is gone.
macro_rules! send_batches {
    ($stream:expr, $tys:expr, $batch:expr, $map:expr, $sink:expr) => {{
        let mut stream = $stream;
        let mut batch = Vec::with_capacity($batch);
        while let Some(r) = stream.try_next().await? {
            batch.push($map(decode_row!(&r, $tys)));
            if batch.len() >= $batch {
                let full = std::mem::replace(&mut batch, Vec::with_capacity($batch));
                if $sink.send(Ok(full)).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = $sink.send(Ok(batch)).await;
        }
        Ok(())
    }};
}

/// Connection pools of one store.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// SQLite: one writer connection (writes queue on it, so "database is locked" cannot
    /// happen between our own writers) and a pool of readers working in parallel under WAL;
    /// `direct` serves the reads too large for sqlx's per-row cost.
    Sqlite {
        writer: sqlx::SqlitePool,
        reader: sqlx::SqlitePool,
        direct: std::sync::Arc<crate::sqlite_direct::DirectReader>,
    },
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// Open transaction on the writer.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Pools {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
            Pools::MySql(_) => Dialect::MySql,
        }
    }

    /// Runs a statement on the writer; returns the number of affected rows.
    pub(crate) async fn execute(&self, sql: Sql) -> Result<u64> {
        let text = sql.text;
        Ok(match self {
            Pools::Sqlite { writer, .. } => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(writer)
                .await?
                .rows_affected(),
            Pools::Postgres(p) => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(p)
                .await?
                .rows_affected(),
            Pools::MySql(p) => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a query on a reader and decodes its rows.
    pub(crate) async fn fetch(&self, sql: Sql, tys: &[Ty]) -> Result<Vec<Row>> {
        let text = sql.text;
        Ok(match self {
            Pools::Sqlite { reader, .. } => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(reader)
                    .await?;
                decode_rows!(rows, tys)
            }
            Pools::Postgres(p) => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(p)
                    .await?;
                decode_rows!(rows, tys)
            }
            Pools::MySql(p) => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(p)
                    .await?;
                decode_rows!(rows, tys)
            }
        })
    }

    /// Runs a query on a reader and sends its rows, mapped by `map`, to `sink` in batches of
    /// `batch` as they are read, so that a large answer is never held whole. Returns early
    /// (`Ok`) when the receiver is dropped.
    pub(crate) async fn fetch_batches<T>(
        &self,
        sql: Sql,
        tys: &[Ty],
        batch: usize,
        map: impl Fn(Row) -> T,
        sink: &tokio::sync::mpsc::Sender<Result<Vec<T>>>,
    ) -> Result<()> {
        use futures_util::TryStreamExt as _;
        let text = sql.text;
        let batch = batch.max(1);
        match self {
            Pools::Sqlite { reader, .. } => send_batches!(
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args).fetch(reader),
                tys,
                batch,
                map,
                sink
            ),
            Pools::Postgres(p) => send_batches!(
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args).fetch(p),
                tys,
                batch,
                map,
                sink
            ),
            Pools::MySql(p) => send_batches!(
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args).fetch(p),
                tys,
                batch,
                map,
                sink
            ),
        }
    }

    /// Like [`Pools::fetch`], returning the first row if any.
    pub(crate) async fn fetch_optional(&self, sql: Sql, tys: &[Ty]) -> Result<Option<Row>> {
        Ok(self.fetch(sql, tys).await?.into_iter().next())
    }

    /// Runs a `SELECT COUNT(*)`-like query returning one integer.
    pub(crate) async fn fetch_int(&self, sql: Sql) -> Result<i64> {
        Ok(self
            .fetch_optional(sql, &[Ty::Int])
            .await?
            .map_or(0, |mut r| r.int()))
    }

    /// Starts a transaction on the writer.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Pools::Sqlite { writer, .. } => Tx::Sqlite(writer.begin().await?),
            Pools::Postgres(p) => Tx::Postgres(p.begin().await?),
            Pools::MySql(p) => Tx::MySql(p.begin().await?),
        })
    }

    /// Inserts one row and returns its `id`.
    pub(crate) async fn insert(&self, sql: Sql) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = tx.insert(sql).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn close(&self) {
        match self {
            Pools::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(p) => p.close().await,
            Pools::MySql(p) => p.close().await,
        }
    }
}

impl Tx {
    pub(crate) async fn execute(&mut self, sql: Sql) -> Result<u64> {
        let text = sql.text;
        Ok(match self {
            Tx::Sqlite(t) => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::MySql(t) => bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch(&mut self, sql: Sql, tys: &[Ty]) -> Result<Vec<Row>> {
        let text = sql.text;
        Ok(match self {
            Tx::Sqlite(t) => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut **t)
                    .await?;
                decode_rows!(rows, tys)
            }
            Tx::Postgres(t) => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut **t)
                    .await?;
                decode_rows!(rows, tys)
            }
            Tx::MySql(t) => {
                let rows = bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut **t)
                    .await?;
                decode_rows!(rows, tys)
            }
        })
    }

    /// Inserts one row and returns its `id` (`RETURNING id` on PostgreSQL, the last insert id
    /// elsewhere, which MySQL 5.7 and old SQLite also support).
    pub(crate) async fn insert(&mut self, mut sql: Sql) -> Result<i64> {
        Ok(match self {
            Tx::Sqlite(t) => bind_args!(sqlx::query(AssertSqlSafe(sql.text)), sql.args)
                .execute(&mut **t)
                .await?
                .last_insert_rowid(),
            Tx::Postgres(t) => {
                sql.text.push_str(" RETURNING id");
                let row = bind_args!(sqlx::query(AssertSqlSafe(sql.text)), sql.args)
                    .fetch_one(&mut **t)
                    .await?;
                row.try_get::<i64, _>(0)?
            }
            Tx::MySql(t) => {
                let id = bind_args!(sqlx::query(AssertSqlSafe(sql.text)), sql.args)
                    .execute(&mut **t)
                    .await?
                    .last_insert_id();
                i64::try_from(id).map_err(|_| Error::Corrupt {
                    what: "insert id out of range".into(),
                })?
            }
        })
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
            Tx::MySql(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// How long a SQLite connection waits for a lock held by another process before failing.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
