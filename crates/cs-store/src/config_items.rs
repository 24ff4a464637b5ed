//! Key/value configuration items (CAPI token, blocklist pull dates...) and named locks.

use chrono::{DateTime, Utc};

use crate::db::Ty;
use crate::time::to_ns;
use crate::{Result, Store};

impl Store {
    /// Value of a configuration item.
    pub async fn get_config_item(&self, name: &str) -> Result<Option<String>> {
        let mut sql = self.sql("SELECT value FROM config_items WHERE name = ");
        sql.bind(name);
        Ok(self
            .db
            .fetch_optional(sql, &[Ty::Text])
            .await?
            .map(|mut r| r.text()))
    }

    /// Creates or replaces a configuration item.
    pub async fn set_config_item(&self, name: &str, value: &str) -> Result<()> {
        let now = to_ns(Utc::now());
        let mut tx = self.db.begin().await?;
        let mut sql = self.sql("UPDATE config_items SET value = ");
        sql.bind(value)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE name = ")
            .bind(name);
        let mut exists = tx.execute(sql).await? > 0;
        if !exists {
            // MySQL reports 0 rows for an update that changes nothing.
            let mut sql = self.sql("SELECT COUNT(*) FROM config_items WHERE name = ");
            sql.bind(name);
            exists = tx
                .fetch(sql, &[Ty::Int])
                .await?
                .into_iter()
                .next()
                .is_some_and(|mut r| r.int() > 0);
        }
        if !exists {
            let mut sql =
                self.sql("INSERT INTO config_items (created_at, updated_at, name, value) VALUES (");
            sql.bind(now)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(name)
                .push(", ")
                .bind(value)
                .push(")");
            tx.execute(sql).await?;
        }
        tx.commit().await
    }

    /// Deletes a configuration item; returns whether it existed.
    pub async fn delete_config_item(&self, name: &str) -> Result<bool> {
        let mut sql = self.sql("DELETE FROM config_items WHERE name = ");
        sql.bind(name);
        Ok(self.db.execute(sql).await? > 0)
    }

    /// Takes the lock `name` unless another holder took it after `stale_before` (older locks
    /// are considered abandoned and taken over). Returns whether the lock is now held.
    pub async fn acquire_lock(
        &self,
        name: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool> {
        let mut sql = self.sql("DELETE FROM locks WHERE name = ");
        sql.bind(name)
            .push(" AND created_at < ")
            .bind(to_ns(stale_before));
        self.db.execute(sql).await?;
        let mut sql = self.sql("INSERT INTO locks (name, created_at) VALUES (");
        sql.bind(name).push(", ").bind(to_ns(now)).push(")");
        // The unique index on `name` makes the insert fail while someone holds the lock.
        match self.db.execute(sql).await {
            Ok(_) => Ok(true),
            Err(crate::Error::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Releases the lock `name`.
    pub async fn release_lock(&self, name: &str) -> Result<()> {
        let mut sql = self.sql("DELETE FROM locks WHERE name = ");
        sql.bind(name);
        self.db.execute(sql).await?;
        Ok(())
    }
}
