//! CrowdSec Local API server (LAPI), wire-compatible with upstream's `/v1` API.
//!
//! Machines (agents, `cscli`) authenticate with a JWT obtained from `POST /v1/watchers/login`; bouncers
//! with an `X-Api-Key` (stored as its sha512) or a TLS client certificate. Alerts pushed without decisions
//! go through `profiles.yaml` ([`Profiles`]) to become decisions, which bouncers pull with
//! `GET /v1/decisions` or `GET /v1/decisions/stream`. Where upstream versions disagree on the wire,
//! `COMPAT.md` in this crate records the shape chosen. Requests are counted in `cs-metrics`'s
//! `cs_lapi_*` families; [`refresh_gauges`] recomputes `cs_active_decisions` and `cs_alerts` at scrape.
//!
//! ```no_run
//! # async fn run(store: cs_store::Store) -> Result<(), Box<dyn std::error::Error>> {
//! let profiles = cs_lapi::Profiles::load(std::path::Path::new("/etc/crowdsec/profiles.yaml"))?;
//! let server = cs_lapi::Server::new(cs_lapi::ServerOptions::default(), store, profiles)?;
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod alert_expr;
mod auth;
mod body;
pub mod config;
mod error;
pub mod jwt;
pub mod net;
pub mod profiles;
mod routes;
mod server;
pub mod stream;
mod telemetry;
pub mod tls;

pub use config::{AutoRegistration, ClientVerification, ServerOptions, TlsOptions};
pub use error::{Error, Result};
pub use jwt::JwtKey;
pub use net::{ConnInfo, PeerCert};
pub use profiles::{Notifier, Profiles};
pub use server::Server;
pub use telemetry::refresh_gauges;
