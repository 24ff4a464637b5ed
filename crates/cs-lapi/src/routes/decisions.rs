//! Decisions: the bouncer endpoints (`GET /v1/decisions`, `GET /v1/decisions/stream`) and deletion by
//! machines (which expires decisions so that bouncers see them in `deleted`).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use cs_models::DeleteDecisionResponse;
use cs_store::{DecisionFilter, DecisionQueryKind, DecisionRecord, StreamQuery};

use super::{Ctx, empty};
use crate::error::{Error, Result, json, json_bytes};

/// `GET /v1/decisions` refreshes `last_pull` at most this often, to spare the database.
const LAST_PULL_MIN_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// Deleted decisions are looked up from a little before the last pull, so that a decision expiring
/// while the previous pull was being answered is not missed.
const DELETED_LOOKBACK: TimeDelta = TimeDelta::seconds(2);

/// `GET /v1/decisions`: active decisions matching the filters, or `null`.
pub(crate) async fn list(ctx: Ctx) -> Result<Response> {
    let bouncer = ctx.bouncer().await?;
    let now = Utc::now();
    let filter = DecisionFilter::from_query(&ctx.query.0, DecisionQueryKind::Bouncer)?;
    let records = ctx.state.store.list_decisions(&filter, now).await?;
    crate::telemetry::decisions_lookup(&bouncer.name, !records.is_empty());
    if ctx.method != Method::HEAD
        && bouncer
            .last_pull
            .is_none_or(|t| now - t >= LAST_PULL_MIN_INTERVAL)
    {
        ctx.state
            .store
            .update_bouncer_last_pull(&bouncer.name, now)
            .await?;
    }
    let decisions: Option<Vec<_>> = (!records.is_empty()).then(|| {
        records
            .iter()
            .map(|r| r.to_bouncer_model(now, false))
            .collect()
    });
    Ok(json(StatusCode::OK, &decisions))
}

/// `GET /v1/decisions/stream`: the full state at startup, then what changed since the bouncer's last pull.
pub(crate) async fn stream(ctx: Ctx) -> Result<Response> {
    let bouncer = ctx.bouncer().await?;
    if ctx.method == Method::HEAD {
        return Ok(empty(StatusCode::OK));
    }
    let now = Utc::now();
    let query = StreamQuery::from_query(&ctx.query.0)?;
    let Some(since) = bouncer.last_pull.filter(|_| !query.startup) else {
        // The full state can be huge: it is streamed from the database to the client.
        ctx.state
            .store
            .update_bouncer_last_pull(&bouncer.name, now)
            .await?;
        return Ok(crate::stream::startup_response(
            ctx.state.store.clone(),
            query.filter,
            query.dedup,
            now,
        ));
    };
    let (new, deleted) = stream_delta(&ctx, &query, since, now).await?;
    ctx.state
        .store
        .update_bouncer_last_pull(&bouncer.name, now)
        .await?;
    let body = crate::stream::encode(&new, &deleted, now);
    Ok(json_bytes(StatusCode::OK, body))
}

/// A delta pull: decisions created since the last pull, and those expired since (a little before) it.
async fn stream_delta(
    ctx: &Ctx,
    query: &StreamQuery,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Vec<DecisionRecord>, Vec<DecisionRecord>)> {
    let store = &ctx.state.store;
    let f = &query.filter;
    let new = store
        .list_decisions_created_since(f, since, now, query.dedup)
        .await?;
    let deleted = store
        .list_expired_decisions(f, Some(since - DELETED_LOOKBACK), now, query.dedup)
        .await?;
    Ok((new, deleted))
}

/// `DELETE /v1/decisions`: expires the active decisions matching the filters.
pub(crate) async fn delete_many(ctx: Ctx) -> Result<Response> {
    let machine = ctx.machine()?;
    let filter = DecisionFilter::from_query(&ctx.query.0, DecisionQueryKind::Delete)?;
    let expired = ctx
        .state
        .store
        .expire_decisions(&filter, Utc::now())
        .await?;
    tracing::info!(machine = %machine, count = expired.len(), "decisions deleted");
    Ok(json(
        StatusCode::OK,
        &DeleteDecisionResponse::new(expired.len() as u64),
    ))
}

/// `DELETE /v1/decisions/{id}`.
pub(crate) async fn delete_one(ctx: Ctx, Path(id): Path<String>) -> Result<Response> {
    let machine = ctx.machine()?;
    let id: i64 = id
        .parse()
        .map_err(|_| Error::BadRequest("decision_id must be valid integer".to_owned()))?;
    let count = ctx
        .state
        .store
        .expire_decision_by_id(id, Utc::now())
        .await?;
    if count == 0 {
        return Err(Error::NotFound(format!(
            "decision with id '{id}' doesn't exist: unable to delete"
        )));
    }
    tracing::info!(machine = %machine, id, "decision deleted");
    Ok(json(StatusCode::OK, &DeleteDecisionResponse::new(count)))
}
