//! Alerts: push (with profiles turning decision-less alerts into decisions), search, get, delete.

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use cs_models::{Alert, DeleteAlertsResponse, scope};
use cs_store::AlertFilter;

use super::Ctx;
use crate::body::read_json;
use crate::error::{Error, Result, json};

/// `POST /v1/alerts`: stores the alerts and answers their ids as strings (201).
pub(crate) async fn push(ctx: Ctx, body: Body) -> Result<Response> {
    let machine_id = ctx.machine()?;
    let alerts: Vec<Alert> = read_json(body, ctx.auth_limit()).await?;
    validate(&alerts)?;
    let now = Utc::now();
    let mut kept = Vec::with_capacity(alerts.len());
    let mut notifications = Vec::new();
    for mut alert in alerts {
        normalize_scopes(&mut alert);
        if alert.decisions().is_empty() && is_ip_scope(alert.get_scope()) {
            let matches = ctx
                .state
                .store
                .check_allowlist(alert.get_value(), now)
                .await;
            // A value the allowlist code cannot parse is not allowlisted; the alert goes on.
            if let Ok(m) = matches
                && let Some(first) = m.first()
            {
                tracing::info!(value = %alert.get_value(), reason = %first.reason(), "alert skipped: allowlisted");
                continue;
            }
        }
        alert.machine_id.clone_from(&machine_id);
        alert.uuid = uuid::Uuid::new_v4().to_string();
        let generate = alert.decisions().is_empty();
        // Profile helpers may query the database synchronously: keep them off the async workers.
        let profiles = ctx.state.profiles.clone();
        let (returned, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = profiles.evaluate(&alert, generate);
            (alert, outcome)
        })
        .await
        .map_err(|e| Error::internal("evaluating profiles", e))?;
        alert = returned;
        let outcome = outcome.map_err(|e| Error::Server(e.to_string()))?;
        if generate && !outcome.decisions.is_empty() {
            alert.decisions = Some(outcome.decisions);
        }
        for d in alert.decisions.iter_mut().flatten() {
            d.uuid = uuid::Uuid::new_v4().to_string();
        }
        if generate {
            for d in alert.decisions() {
                tracing::info!(
                    machine = %machine_id,
                    scenario = %alert.get_scenario(),
                    "{} {} on {} {}",
                    d.get_duration(),
                    d.get_type(),
                    d.get_scope(),
                    d.get_value()
                );
            }
        }
        notifications.push(outcome.notify);
        kept.push(alert);
    }
    let ids = ctx
        .state
        .store
        .create_alerts(Some(&machine_id), &kept)
        .await?;
    if let Some(notifier) = &ctx.state.notifier {
        for (alert, profiles) in kept.iter().zip(&notifications) {
            for profile in profiles.iter().filter_map(|&i| ctx.state.profiles.get(i)) {
                notifier.notify(profile.name(), profile.notifications(), alert);
            }
        }
    }
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    Ok(json(StatusCode::CREATED, &ids))
}

fn is_ip_scope(s: &str) -> bool {
    s == scope::IP || s == scope::RANGE
}

fn normalize_scopes(alert: &mut Alert) {
    if let Some(src) = alert.source.as_mut()
        && let Some(s) = src.scope.as_mut()
    {
        *s = scope::normalize(s).to_owned();
    }
    for d in alert.decisions.iter_mut().flatten() {
        if let Some(s) = d.scope.as_mut() {
            *s = scope::normalize(s).to_owned();
        }
    }
}

/// Checks the fields the swagger model requires; upstream answers such failures with a 500.
fn validate(alerts: &[Alert]) -> Result<()> {
    let mut missing = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        let mut need = |present: bool, field: &str| {
            if !present {
                missing.push(format!("{i}.{field} in body is required"));
            }
        };
        need(a.capacity.is_some(), "capacity");
        need(a.events.is_some(), "events");
        need(a.events_count.is_some(), "events_count");
        need(a.leakspeed.is_some(), "leakspeed");
        need(a.message.is_some(), "message");
        need(a.scenario.is_some(), "scenario");
        need(a.scenario_hash.is_some(), "scenario_hash");
        need(a.scenario_version.is_some(), "scenario_version");
        need(a.simulated.is_some(), "simulated");
        need(a.start_at.is_some(), "start_at");
        need(a.stop_at.is_some(), "stop_at");
        match &a.source {
            None => need(false, "source"),
            Some(s) => {
                need(s.scope.is_some(), "source.scope");
                need(s.value.is_some(), "source.value");
            }
        }
        for (j, d) in a.decisions().iter().enumerate() {
            for (present, field) in [
                (d.duration.is_some(), "duration"),
                (d.origin.is_some(), "origin"),
                (d.scenario.is_some(), "scenario"),
                (d.scope.is_some(), "scope"),
                (d.r#type.is_some(), "type"),
                (d.value.is_some(), "value"),
            ] {
                need(present, &format!("decisions.{j}.{field}"));
            }
        }
        for (j, e) in a.events().iter().enumerate() {
            need(e.timestamp.is_some(), &format!("events.{j}.timestamp"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "validation failure list:\n{}",
            missing.join("\n")
        )))
    }
}

/// `GET /v1/alerts`: alerts matching upstream's filters, or `null`.
pub(crate) async fn list(ctx: Ctx) -> Result<Response> {
    ctx.machine()?;
    let now = Utc::now();
    let filter = AlertFilter::from_query(&ctx.query.0, now)?;
    let records = ctx.state.store.list_alerts(&filter, now).await?;
    let alerts: Option<Vec<Alert>> =
        (!records.is_empty()).then(|| records.iter().map(|r| r.to_model(now)).collect());
    Ok(json(StatusCode::OK, &alerts))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse()
        .map_err(|_| Error::BadRequest("alert_id must be valid integer".to_owned()))
}

/// `GET /v1/alerts/{id}`.
pub(crate) async fn get_one(ctx: Ctx, Path(id): Path<String>) -> Result<Response> {
    ctx.machine()?;
    let id = parse_id(&id)?;
    let record = ctx
        .state
        .store
        .get_alert(id)
        .await?
        .ok_or_else(|| Error::NotFound("object not found".to_owned()))?;
    Ok(json(StatusCode::OK, &record.to_model(Utc::now())))
}

/// `DELETE /v1/alerts/{id}` (trusted IPs only).
pub(crate) async fn delete_one(ctx: Ctx, Path(id): Path<String>) -> Result<Response> {
    let machine = ctx.machine()?;
    ctx.require_trusted_ip()?;
    let id = parse_id(&id)?;
    let count = ctx.state.store.delete_alert(id).await?;
    if count == 0 {
        return Err(Error::NotFound("object not found".to_owned()));
    }
    tracing::info!(machine = %machine, id, "alert deleted");
    Ok(json(StatusCode::OK, &DeleteAlertsResponse::new(count)))
}

/// `DELETE /v1/alerts` (trusted IPs only): deletes the matching alerts with their decisions.
pub(crate) async fn delete_many(ctx: Ctx) -> Result<Response> {
    let machine = ctx.machine()?;
    ctx.require_trusted_ip()?;
    let now = Utc::now();
    let filter = AlertFilter::from_query(&ctx.query.0, now)?;
    let count = ctx.state.store.delete_alerts(&filter, now).await?;
    tracing::info!(machine = %machine, count, "alerts deleted");
    Ok(json(StatusCode::OK, &DeleteAlertsResponse::new(count)))
}
