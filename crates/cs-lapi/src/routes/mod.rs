//! The `/v1` routes and `/health`, and the request context every handler receives.

mod alerts;
mod allowlists;
mod decisions;
mod metrics;
mod watchers;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::decompression::RequestDecompressionLayer;

use crate::auth;
use crate::body::Query;
use crate::net::{Client, ConnInfo, client_ip};
use crate::server::AppState;

/// Builds the router over shared state.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/watchers", post(watchers::register))
        .route("/watchers/login", post(watchers::login))
        .route("/watchers/self", delete(watchers::delete_self))
        .route("/refresh_token", get(watchers::refresh_token))
        .route("/heartbeat", get(watchers::heartbeat))
        .route(
            "/alerts",
            post(alerts::push)
                .get(alerts::list)
                .delete(alerts::delete_many),
        )
        .route(
            "/alerts/{id}",
            get(alerts::get_one).delete(alerts::delete_one),
        )
        .route(
            "/decisions",
            get(decisions::list).delete(decisions::delete_many),
        )
        .route("/decisions/stream", get(decisions::stream))
        .route("/decisions/{id}", delete(decisions::delete_one))
        .route("/usage-metrics", post(metrics::usage))
        .route("/allowlists", get(allowlists::list))
        .route("/allowlists/check", post(allowlists::check_bulk))
        .route("/allowlists/check/{target}", get(allowlists::check_one))
        .route("/allowlists/{name}", get(allowlists::get_one));
    Router::new()
        .route("/health", get(health))
        .nest("/v1", v1)
        .route_layer(axum::middleware::from_fn(crate::telemetry::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(RequestDecompressionLayer::new())
        .with_state(state)
}

/// Liveness probe: 200 with an empty body.
async fn health() -> StatusCode {
    StatusCode::OK
}

/// Unknown routes answer 404 with an empty body, as gin does.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Known routes with the wrong method answer 405 with an empty body.
async fn method_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

/// Everything a handler needs to know about the request besides its body.
pub(crate) struct Ctx {
    pub state: Arc<AppState>,
    pub conn: ConnInfo,
    pub client: Client,
    pub method: Method,
    /// Request path, the `route` label of the per-machine and per-bouncer counters.
    pub path: String,
    pub headers: HeaderMap,
    pub query: Query,
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let conn = parts
            .extensions
            .get::<ConnInfo>()
            .cloned()
            .unwrap_or_default();
        let opts = &state.opts;
        let client = client_ip(
            &conn,
            &parts.headers,
            opts.use_forwarded_for_headers,
            &opts.trusted_proxies,
        );
        Ok(Self {
            state: state.clone(),
            conn,
            client,
            method: parts.method.clone(),
            // Nested routes see their path without `/v1`; the original URI keeps it.
            path: parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or_else(|| parts.uri.path(), |u| u.0.path())
                .to_owned(),
            headers: parts.headers.clone(),
            query: Query::parse(parts.uri.query()),
        })
    }
}

impl Ctx {
    /// The authenticated machine id (JWT).
    pub(crate) fn machine(&self) -> crate::Result<String> {
        let id = auth::machine_from_jwt(&self.state, &self.headers, self.query.get("token"))?;
        crate::telemetry::machine_request(&id, &self.path, self.method.as_str());
        Ok(id)
    }

    /// The authenticated bouncer.
    pub(crate) async fn bouncer(&self) -> crate::Result<cs_store::Bouncer> {
        let bouncer = auth::bouncer(
            &self.state,
            &self.conn,
            self.client,
            &self.method,
            &self.headers,
        )
        .await?;
        crate::telemetry::bouncer_request(&bouncer.name, &self.path, self.method.as_str());
        Ok(bouncer)
    }

    /// Refuses callers that are neither local nor in `trusted_ips`.
    pub(crate) fn require_trusted_ip(&self) -> crate::Result<()> {
        if self.client.is_trusted(&self.state.opts.trusted_ips) {
            return Ok(());
        }
        Err(crate::Error::Forbidden(format!(
            "access forbidden from this IP ({})",
            self.client.ip_string()
        )))
    }

    /// Body limit of authenticated endpoints.
    pub(crate) fn auth_limit(&self) -> usize {
        self.state.opts.max_body_authenticated
    }

    /// Body limit of unauthenticated endpoints.
    pub(crate) fn anon_limit(&self) -> usize {
        self.state.opts.max_body_unauthenticated
    }
}

/// An empty response with a status.
pub(crate) fn empty(status: StatusCode) -> Response {
    status.into_response()
}
