//! Prometheus instrumentation with `cs-metrics`: requests per route, machine and bouncer, live-mode
//! decision lookups, response times, and the gauges recomputed at scrape time.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;

use crate::error::Result;

/// gin's spelling of a route template (`/v1/alerts/:id`) from axum's (`/v1/alerts/{id}`), so that
/// dashboards built for upstream keep their label values.
fn gin_route(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// Middleware counting `cs_lapi_route_requests_total{route,method}` and observing
/// `cs_lapi_request_duration_seconds{endpoint,method}` for every matched route.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| gin_route(p.as_str()));
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    if let Some(route) = route {
        let m = cs_metrics::global();
        m.lapi_route.with([&route, method.as_str()]).inc();
        m.lapi_duration
            .with([&route, method.as_str()])
            .observe(start.elapsed().as_secs_f64());
    }
    resp
}

/// `cs_lapi_machine_requests_total{machine,route,method}` for an authenticated machine.
pub(crate) fn machine_request(machine: &str, path: &str, method: &str) {
    cs_metrics::global()
        .lapi_machine
        .with([machine, path, method])
        .inc();
}

/// `cs_lapi_bouncer_requests_total{bouncer,route,method}` for an authenticated bouncer.
pub(crate) fn bouncer_request(bouncer: &str, path: &str, method: &str) {
    cs_metrics::global()
        .lapi_bouncer
        .with([bouncer, path, method])
        .inc();
}

/// `cs_lapi_decisions_ok_total` / `cs_lapi_decisions_ko_total{bouncer}`: a live-mode lookup that
/// found decisions, or none.
pub(crate) fn decisions_lookup(bouncer: &str, found: bool) {
    let m = cs_metrics::global();
    let family = if found {
        &m.lapi_decisions_ok
    } else {
        &m.lapi_decisions_ko
    };
    family.with([bouncer]).inc();
}

/// Recomputes the gauges upstream computes when it is scraped: `cs_active_decisions{reason,origin,
/// action}` (active decisions per scenario, origin and type) and `cs_alerts{reason}` (alerts per
/// scenario, CAPI and blocklists excluded). The `/metrics` handler awaits this before rendering.
pub async fn refresh_gauges(store: &cs_store::Store, metrics: &cs_metrics::Metrics) -> Result<()> {
    let now = Utc::now();
    let decisions = store.count_active_decisions_by_reason(now).await?;
    let filter = cs_store::AlertFilter {
        include_capi: false,
        ..cs_store::AlertFilter::default()
    };
    let alerts = store.count_alerts_by_scenario(&filter, now).await?;
    metrics.active_decisions.reset();
    for d in decisions {
        metrics
            .active_decisions
            .with([&d.scenario, &d.origin, &d.decision_type])
            .set(i64::try_from(d.count).unwrap_or(i64::MAX));
    }
    metrics.alerts.reset();
    for (scenario, count) in alerts {
        metrics
            .alerts
            .with([&scenario])
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gin_route;

    #[test]
    fn routes_use_gin_parameters() {
        assert_eq!(gin_route("/v1/alerts/{id}"), "/v1/alerts/:id");
        assert_eq!(gin_route("/v1/decisions"), "/v1/decisions");
    }
}
