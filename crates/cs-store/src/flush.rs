//! Periodic housekeeping (`db_config.flush`): old and surplus alerts, usage metrics.

use chrono::{DateTime, Duration, Utc};

use crate::db::Ty;
use crate::time::to_ns;
use crate::{Result, Store};

/// What [`Store::flush`] removes; `None` disables a rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlushPolicy {
    /// Keep at most this many alerts (newest by id).
    pub max_items: Option<u64>,
    /// Delete alerts created longer ago than this.
    pub max_age: Option<Duration>,
    /// Delete usage metrics received longer ago than this.
    pub metrics_max_age: Option<Duration>,
}

/// What a flush removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Alerts deleted because of `max_age`.
    pub alerts_too_old: u64,
    /// Alerts deleted because of `max_items`.
    pub alerts_over_limit: u64,
    /// Usage metrics rows deleted.
    pub metrics: u64,
}

/// Alerts holding a decision still active at the bound time are never flushed.
const NO_ACTIVE_DECISION: &str =
    " AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id AND d.until_at >= ";

impl Store {
    /// Applies the flush policy at `now`. Alerts that still carry an active decision are kept
    /// whatever their age or rank, so flushing never lifts a ban.
    pub async fn flush(&self, policy: &FlushPolicy, now: DateTime<Utc>) -> Result<FlushReport> {
        let mut report = FlushReport::default();
        if let Some(age) = policy.max_age {
            let mut sql = self.sql("SELECT a.id FROM alerts a WHERE a.created_at < ");
            sql.bind(to_ns(now - age))
                .push(NO_ACTIVE_DECISION)
                .bind(to_ns(now))
                .push(")");
            let ids: Vec<i64> = self
                .db
                .fetch(sql, &[Ty::Int])
                .await?
                .into_iter()
                .map(|mut r| r.int())
                .collect();
            report.alerts_too_old = self.delete_alert_ids(&ids).await?;
        }
        if let Some(max) = policy.max_items {
            // The id of the newest alert beyond the limit; it and older ones go.
            let mut sql = self.sql("SELECT a.id FROM alerts a ORDER BY a.id DESC LIMIT 1 OFFSET ");
            sql.bind(i64::try_from(max).unwrap_or(i64::MAX));
            if let Some(mut row) = self.db.fetch_optional(sql, &[Ty::Int]).await? {
                let mut sql = self.sql("SELECT a.id FROM alerts a WHERE a.id <= ");
                sql.bind(row.int())
                    .push(NO_ACTIVE_DECISION)
                    .bind(to_ns(now))
                    .push(")");
                let ids: Vec<i64> = self
                    .db
                    .fetch(sql, &[Ty::Int])
                    .await?
                    .into_iter()
                    .map(|mut r| r.int())
                    .collect();
                report.alerts_over_limit = self.delete_alert_ids(&ids).await?;
            }
        }
        if let Some(age) = policy.metrics_max_age {
            report.metrics = self.delete_metrics_before(now - age).await?;
        }
        if report.alerts_too_old + report.alerts_over_limit > 0 {
            tracing::info!(
                too_old = report.alerts_too_old,
                over_limit = report.alerts_over_limit,
                "flushed alerts"
            );
        }
        Ok(report)
    }
}
