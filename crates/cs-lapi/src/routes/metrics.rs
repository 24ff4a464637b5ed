//! `POST /v1/usage-metrics`: usage reports of bouncers (API key) and agents (JWT), stored for CAPI.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use cs_models::{AllMetrics, BaseMetrics};
use cs_store::{MachineUsage, MetricsSource};

use super::{Ctx, empty};
use crate::body::read_json;
use crate::error::{Error, Result};

/// Who sent the report, decided from the headers as upstream does.
enum Reporter {
    Bouncer,
    Machine,
}

fn reporter(ctx: &Ctx) -> Reporter {
    let h = &ctx.headers;
    if h.contains_key("x-api-key") {
        return Reporter::Bouncer;
    }
    let ua = h
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if h.contains_key(header::AUTHORIZATION) || ua.starts_with("crowdsec/") {
        Reporter::Machine
    } else {
        Reporter::Bouncer
    }
}

fn check_base(base: &BaseMetrics) -> Result<()> {
    if base.version.as_deref().is_none_or(str::is_empty) {
        return Err(Error::Unprocessable(
            "version in body is required".to_owned(),
        ));
    }
    if base.utc_startup_timestamp.is_none() {
        return Err(Error::Unprocessable(
            "utc_startup_timestamp in body is required".to_owned(),
        ));
    }
    Ok(())
}

fn encode<T: serde::Serialize>(item: &T) -> Result<String> {
    serde_json::to_string(item).map_err(|e| Error::internal("encoding usage metrics", e))
}

/// Stores the single item of the caller's kind and records its OS details.
pub(crate) async fn usage(ctx: Ctx, body: Body) -> Result<Response> {
    let store = &ctx.state.store;
    match reporter(&ctx) {
        Reporter::Bouncer => {
            let bouncer = ctx.bouncer().await?;
            let metrics: AllMetrics = read_json(body, ctx.auth_limit()).await?;
            let items = metrics.remediation_components.unwrap_or_default();
            let [item] = items.as_slice() else {
                return Err(Error::BadRequest(
                    "exactly one remediation component must be sent".to_owned(),
                ));
            };
            check_base(&item.base)?;
            store
                .insert_metrics(
                    MetricsSource::RemediationComponent,
                    &bouncer.name,
                    Utc::now(),
                    &encode(item)?,
                )
                .await?;
            let os = item.base.os.clone().unwrap_or_default();
            store
                .update_bouncer_usage(
                    &bouncer.name,
                    os.name.as_deref().unwrap_or(""),
                    &os.family,
                    os.version.as_deref().unwrap_or(""),
                    &item.base.feature_flags.join(","),
                )
                .await?;
        }
        Reporter::Machine => {
            let machine_id = ctx.machine()?;
            let metrics: AllMetrics = read_json(body, ctx.auth_limit()).await?;
            let items = metrics.log_processors.unwrap_or_default();
            let [item] = items.as_slice() else {
                return Err(Error::BadRequest(
                    "exactly one log processor must be sent".to_owned(),
                ));
            };
            check_base(&item.base)?;
            store
                .insert_metrics(
                    MetricsSource::LogProcessor,
                    &machine_id,
                    Utc::now(),
                    &encode(item)?,
                )
                .await?;
            let os = item.base.os.clone().unwrap_or_default();
            let usage = MachineUsage {
                os_name: os.name.unwrap_or_default(),
                os_family: os.family,
                os_version: os.version.unwrap_or_default(),
                feature_flags: item.base.feature_flags.join(","),
                hub_state: encode(&item.hub_items)?,
                datasources: encode(&item.datasources)?,
            };
            store.update_machine_usage(&machine_id, &usage).await?;
        }
    }
    Ok(empty(StatusCode::CREATED))
}
