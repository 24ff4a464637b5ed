//! Expressions on `Alert` (profiles' `filters` and `duration_expr`), compiled with every CrowdSec helper,
//! including the `GetDecisionsCount` family backed by the LAPI database.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use chrono::{TimeDelta, Utc};
use cs_expr::{Environment, Program, Value};
use cs_models::Alert;
use cs_store::{DecisionFilter, Store};

/// The database behind the decision-count helpers, attached once the server has a store.
///
/// The helpers are synchronous, so they block on the store: profiles are evaluated on a blocking thread
/// (`spawn_blocking`), never on an async worker.
#[derive(Debug, Default)]
pub(crate) struct DecisionSource {
    store: OnceLock<Store>,
}

impl DecisionSource {
    pub(crate) fn attach(&self, store: Store) {
        // Profiles shared by several servers keep the first store, which is the one they were built for.
        let _ = self.store.set(store);
    }

    fn run<T, F>(&self, query: impl FnOnce(Store) -> F) -> Result<T, String>
    where
        F: Future<Output = cs_store::Result<T>>,
    {
        let store = self
            .store
            .get()
            .ok_or("no database attached to the profiles")?
            .clone();
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        handle.block_on(query(store)).map_err(|e| e.to_string())
    }
}

fn value_filter(value: &str) -> DecisionFilter {
    DecisionFilter {
        value: Some(value.to_owned()),
        include_simulated: true,
        ..DecisionFilter::default()
    }
}

impl cs_expr_helpers::resolver::DecisionCounter for DecisionSource {
    fn count(
        &self,
        value: &str,
        since_nanos: Option<i64>,
        active_only: bool,
    ) -> Result<i64, String> {
        let now = Utc::now();
        let f = value_filter(value);
        let mut records = self.run(|s| async move { s.list_decisions(&f, now).await })?;
        if !active_only {
            let f = value_filter(value);
            records.extend(
                self.run(|s| async move { s.list_expired_decisions(&f, None, now, false).await })?,
            );
        }
        if let Some(ns) = since_nanos {
            let since = now - TimeDelta::nanoseconds(ns);
            records.retain(|d| d.created_at > since);
        }
        Ok(i64::try_from(records.len()).unwrap_or(i64::MAX))
    }

    fn time_left(&self, value: &str) -> Result<i64, String> {
        let now = Utc::now();
        let f = value_filter(value);
        let records = self.run(|s| async move { s.list_decisions(&f, now).await })?;
        Ok(records
            .iter()
            .map(|d| d.remaining_ns(now))
            .max()
            .unwrap_or(0)
            .max(0))
    }
}

/// The `Alert` environment with the helpers registered, decision counts answered by `source`.
pub(crate) fn environment(source: Arc<DecisionSource>) -> Environment {
    let mut env = Environment::alert();
    cs_expr_helpers::Helpers::new()
        .with_decisions(source)
        .register(&mut env);
    env
}

/// A compile failure, located inside the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileFailure {
    /// Character offset of the error in the expression.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled expression over `Alert`.
#[derive(Debug)]
pub(crate) struct AlertExpr {
    program: Program,
}

impl AlertExpr {
    pub(crate) fn compile(source: &str, env: &Environment) -> Result<Self, CompileFailure> {
        cs_expr::compile(source, env)
            .map(|program| Self { program })
            .map_err(|e| {
                let byte = e.span().start.min(source.len());
                let offset = source.get(..byte).map_or(0, |s| s.chars().count());
                CompileFailure {
                    offset,
                    message: e.message().to_owned(),
                }
            })
    }

    /// Evaluates a filter, which must give a boolean.
    pub(crate) fn eval_bool(&self, alert: &Alert) -> Result<bool, String> {
        self.program
            .eval_bool(&[Value::object(alert)])
            .map_err(|e| e.to_string())
    }

    /// Evaluates and formats the result as Go's `%v` does.
    pub(crate) fn eval_text(&self, alert: &Alert) -> Result<String, String> {
        let value = self
            .program
            .eval(&[Value::object(alert)])
            .map_err(|e| e.to_string())?;
        Ok(cs_expr::format::format_v(&value))
    }
}

#[cfg(test)]
mod tests {
    use cs_expr_helpers::resolver::DecisionCounter as _;

    use super::*;

    #[tokio::test]
    async fn counts_come_from_the_attached_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&cs_store::StoreConfig::sqlite(dir.path().join("db")))
            .await
            .unwrap();
        let source = Arc::new(DecisionSource::default());
        let detached = source.clone();
        let err = tokio::task::spawn_blocking(move || detached.count("1.2.3.4", None, false))
            .await
            .unwrap();
        assert!(err.is_err(), "no store attached yet");
        let now = Utc::now().to_rfc3339();
        let alert = Alert {
            scenario: Some("s".into()),
            simulated: Some(false),
            start_at: Some(now.clone()),
            stop_at: Some(now),
            source: Some(cs_models::Source {
                scope: Some("Ip".into()),
                value: Some("1.2.3.4".into()),
                ..Default::default()
            }),
            decisions: Some(vec![cs_models::Decision {
                duration: Some("1h".into()),
                origin: Some("cscli".into()),
                scenario: Some("s".into()),
                scope: Some("Ip".into()),
                r#type: Some("ban".into()),
                value: Some("1.2.3.4".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        store.create_alerts(None, &[alert]).await.unwrap();
        source.attach(store);
        let (all, active, left) = tokio::task::spawn_blocking(move || {
            (
                source.count("1.2.3.4", None, false),
                source.count("1.2.3.4", Some(1), true),
                source.time_left("1.2.3.4"),
            )
        })
        .await
        .unwrap();
        assert_eq!(all, Ok(1));
        assert_eq!(active, Ok(0), "created more than 1ns ago");
        let left = left.unwrap();
        assert!(
            (3_500_000_000_000..=3_600_000_000_000).contains(&left),
            "{left}"
        );
    }
}
