//! Usage metrics payloads received on `/v1/usage-metrics`, kept until pushed to CAPI.

use chrono::{DateTime, Utc};

use crate::db::Ty;
use crate::time::{from_ns, to_ns};
use crate::{Result, Store};

/// Who sent a usage metrics payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSource {
    /// A log processor (machine), stored as `LP`.
    LogProcessor,
    /// A remediation component (bouncer), stored as `RC`.
    RemediationComponent,
}

impl MetricsSource {
    fn as_str(self) -> &'static str {
        match self {
            MetricsSource::LogProcessor => "LP",
            MetricsSource::RemediationComponent => "RC",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "RC" {
            MetricsSource::RemediationComponent
        } else {
            MetricsSource::LogProcessor
        }
    }
}

/// A stored usage metrics payload.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRecord {
    /// Row id.
    pub id: i64,
    /// Sender kind.
    pub source: MetricsSource,
    /// Machine id or bouncer name.
    pub generated_by: String,
    /// Reception time.
    pub received_at: DateTime<Utc>,
    /// When it was forwarded to CAPI.
    pub pushed_at: Option<DateTime<Utc>>,
    /// The JSON item as received.
    pub payload: String,
}

impl Store {
    /// Stores a payload; returns its id.
    pub async fn insert_metrics(
        &self,
        source: MetricsSource,
        generated_by: &str,
        received_at: DateTime<Utc>,
        payload: &str,
    ) -> Result<i64> {
        let mut sql = self.sql(
            "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES (",
        );
        sql.bind(source.as_str())
            .push(", ")
            .bind(generated_by)
            .push(", ")
            .bind(to_ns(received_at));
        sql.push(", ").bind(payload).push(")");
        self.db.insert(sql).await
    }

    /// Payloads not yet pushed to CAPI, oldest first.
    pub async fn list_unpushed_metrics(&self) -> Result<Vec<MetricsRecord>> {
        let sql = self.sql("SELECT id, generated_type, generated_by, received_at, pushed_at, payload FROM metrics WHERE pushed_at IS NULL ORDER BY id");
        let rows = self
            .db
            .fetch(
                sql,
                &[Ty::Int, Ty::Text, Ty::Text, Ty::Int, Ty::OptInt, Ty::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| MetricsRecord {
                id: r.int(),
                source: MetricsSource::parse(&r.text()),
                generated_by: r.text(),
                received_at: from_ns(r.int()),
                pushed_at: r.opt_int().map(from_ns),
                payload: r.text(),
            })
            .collect())
    }

    /// Marks payloads as pushed at `at`.
    pub async fn mark_metrics_pushed(&self, ids: &[i64], at: DateTime<Utc>) -> Result<u64> {
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let mut sql = self.sql("UPDATE metrics SET pushed_at = ");
            sql.bind(to_ns(at))
                .push(" WHERE id IN ")
                .bind_list(chunk.iter().copied());
            n += self.db.execute(sql).await?;
        }
        Ok(n)
    }

    /// Deletes payloads received before `before` (`db_config.flush.metrics_max_age`).
    pub async fn delete_metrics_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut sql = self.sql("DELETE FROM metrics WHERE received_at < ");
        sql.bind(to_ns(before));
        self.db.execute(sql).await
    }
}
