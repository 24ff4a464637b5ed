//! Direct reads of a SQLite store, for answers of a million rows (the startup decision stream).
//!
//! sqlx decodes every row into owned values and hands it from its connection thread to the
//! async task, which costs several microseconds per row. Here the statement is stepped with
//! the SQLite library itself on the calling (blocking) thread, and each row is handed to the
//! caller borrowed from SQLite's buffers. The connections are read-only, opened on the same
//! file as the sqlx pools (same library, same WAL), and kept for the next read.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::db::{Arg, SQLITE_BUSY_TIMEOUT, Sql};
use crate::{Error, Result};

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        // Booleans are stored as integers 0/1, as sqlx binds them.
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Int(v) | Arg::OptInt(Some(v)) => ValueRef::Integer(*v),
            Arg::Float(v) => ValueRef::Real(*v),
            Arg::Bool(v) => ValueRef::Integer(i64::from(*v)),
            Arg::Text(v) | Arg::OptText(Some(v)) => ValueRef::Text(v.as_bytes()),
            Arg::OptInt(None) | Arg::OptText(None) => ValueRef::Null,
        }))
    }
}

/// Read-only connections on one SQLite file, opened on demand and kept once used.
#[derive(Debug)]
pub(crate) struct DirectReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn connection(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        Ok(c)
    }

    /// Runs `sql` (blocking) and calls `each` on every row in order until it returns `false`.
    pub(crate) fn for_each_row(
        &self,
        sql: &Sql,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        let conn = self.connection()?;
        let (text, args) = sql.parts();
        {
            let mut stmt = conn.prepare(text)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
            while let Some(row) = rows.next()? {
                if !each(row)? {
                    break;
                }
            }
        }
        // A connection is only kept after a statement that ran without error (and was reset
        // when `rows` was dropped), so the next read starts from a clean state.
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(())
    }
}

/// Column `i` of `row` as an integer.
pub(crate) fn int(row: &rusqlite::Row<'_>, i: usize) -> Result<i64> {
    row.get_ref(i)?.as_i64().map_err(|e| corrupt(row, i, &e))
}

/// Column `i` of `row` as text, borrowed from the row.
pub(crate) fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| corrupt(row, i, &e))
}

fn corrupt(row: &rusqlite::Row<'_>, i: usize, e: &rusqlite::types::FromSqlError) -> Error {
    let name = row.as_ref().column_name(i).unwrap_or("?");
    Error::Corrupt {
        what: format!("column {name}: {e}"),
    }
}
