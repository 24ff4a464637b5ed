//! Allowlists: listing, one list, and checking whether IPs or ranges are allowlisted.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use cs_models::{
    AllowlistItem, BulkCheckAllowlistRequest, BulkCheckAllowlistResponse, BulkCheckAllowlistResult,
    CheckAllowlistResponse, GetAllowlistResponse,
};
use cs_store::{Allowlist, rfc3339_seconds};

use super::{Ctx, empty};
use crate::body::read_json;
use crate::error::{Error, Result, json};

fn to_model(l: &Allowlist) -> GetAllowlistResponse {
    GetAllowlistResponse {
        allowlist_id: l.allowlist_id.clone(),
        console_managed: l.from_console,
        created_at: rfc3339_seconds(l.created_at),
        description: l.description.clone(),
        items: l
            .items
            .iter()
            .map(|i| AllowlistItem {
                created_at: rfc3339_seconds(i.created_at),
                description: i.comment.clone(),
                expiration: i.expires_at.map(rfc3339_seconds).unwrap_or_default(),
                value: i.value.clone(),
            })
            .collect(),
        name: l.name.clone(),
        updated_at: rfc3339_seconds(l.updated_at),
    }
}

/// `GET /v1/allowlists[?with_content=true]`.
pub(crate) async fn list(ctx: Ctx) -> Result<Response> {
    ctx.machine()?;
    let with_content = ctx.query.bool("with_content", false)?;
    let lists = ctx.state.store.list_allowlists(with_content).await?;
    let body: Vec<GetAllowlistResponse> = lists.iter().map(to_model).collect();
    Ok(json(StatusCode::OK, &body))
}

/// `GET /v1/allowlists/{name}[?with_content=true]`.
pub(crate) async fn get_one(ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    ctx.machine()?;
    let with_content = ctx.query.bool("with_content", false)?;
    let list = ctx
        .state
        .store
        .get_allowlist(&name, with_content)
        .await?
        .ok_or_else(|| Error::NotFound(format!("allowlist '{name}' not found")))?;
    Ok(json(StatusCode::OK, &to_model(&list)))
}

/// `GET /v1/allowlists/check/{ip_or_range}`; `HEAD` answers 200 when allowlisted, else 204.
pub(crate) async fn check_one(ctx: Ctx, Path(target): Path<String>) -> Result<Response> {
    ctx.machine()?;
    let matches = ctx
        .state
        .store
        .check_allowlist(&target, Utc::now())
        .await
        .map_err(|e| match e {
            cs_store::Error::InvalidIp { .. } => Error::BadRequest(e.to_string()),
            other => other.into(),
        })?;
    if ctx.method == Method::HEAD {
        return Ok(empty(if matches.is_empty() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::OK
        }));
    }
    let body = CheckAllowlistResponse {
        allowlisted: !matches.is_empty(),
        reason: matches
            .first()
            .map(cs_store::AllowlistMatch::reason)
            .unwrap_or_default(),
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /v1/allowlists/check`: the allowlisted targets among those given.
pub(crate) async fn check_bulk(ctx: Ctx, body: Body) -> Result<Response> {
    ctx.machine()?;
    let req: BulkCheckAllowlistRequest = read_json(body, ctx.auth_limit()).await?;
    let targets = req.targets.filter(|t| !t.is_empty()).ok_or_else(|| {
        Error::BadRequest("targets in body is required and must not be empty".to_owned())
    })?;
    let now = Utc::now();
    let mut results = Vec::new();
    for target in targets {
        let matches = match ctx.state.store.check_allowlist(&target, now).await {
            Ok(m) => m,
            // Targets that are not IPs or ranges cannot be allowlisted.
            Err(cs_store::Error::InvalidIp { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if !matches.is_empty() {
            results.push(BulkCheckAllowlistResult {
                allowlists: matches
                    .iter()
                    .map(cs_store::AllowlistMatch::reason)
                    .collect(),
                target,
            });
        }
    }
    Ok(json(
        StatusCode::OK,
        &BulkCheckAllowlistResponse { results },
    ))
}
