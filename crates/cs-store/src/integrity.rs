//! Consistency check of an open database, for after a crash or an unclean shutdown.

use crate::db::{Dialect, Ty};
use crate::{Result, Store};

/// Child tables and the column referencing `alerts.id`.
const ALERT_CHILDREN: &[(&str, &str)] = &[
    ("decisions", "alert_decisions"),
    ("events", "alert_events"),
    ("meta", "alert_metas"),
];

impl Store {
    /// Checks the database and returns the problems found (empty when it is sound).
    ///
    /// On SQLite this runs `PRAGMA integrity_check` (page structure, indexes) and
    /// `PRAGMA foreign_key_check`; on every backend it counts decisions, events and meta rows
    /// whose alert is missing.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        if self.dialect() == Dialect::Sqlite {
            for mut row in self
                .db
                .fetch(self.sql("PRAGMA integrity_check"), &[Ty::Text])
                .await?
            {
                let line = row.text();
                if line != "ok" {
                    problems.push(format!("integrity_check: {line}"));
                }
            }
            let broken = self
                .db
                .fetch_int(self.sql("SELECT COUNT(*) FROM pragma_foreign_key_check"))
                .await?;
            if broken > 0 {
                problems.push(format!("foreign_key_check: {broken} rows"));
            }
        }
        for (table, column) in ALERT_CHILDREN {
            let sql = self.sql(&format!(
                "SELECT COUNT(*) FROM {table} WHERE NOT EXISTS \
                 (SELECT 1 FROM alerts WHERE alerts.id = {table}.{column})"
            ));
            let orphans = self.db.fetch_int(sql).await?;
            if orphans > 0 {
                problems.push(format!("{orphans} {table} rows without their alert"));
            }
        }
        Ok(problems)
    }
}
