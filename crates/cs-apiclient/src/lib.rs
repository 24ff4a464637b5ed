//! Client of the CrowdSec Local API (LAPI).
//!
//! * [`WatcherClient`]: a machine (agent or cscli) logged in with a JWT that is renewed before
//!   it expires and after a `401`; alerts push/list/inspect/delete, decisions delete.
//! * [`AlertPusher`]: batches alerts pushed by the agent, retries with exponential backoff
//!   while the LAPI is unreachable, and keeps undelivered batches in a bounded on-disk
//!   [`Spool`] so a restart does not lose them.
//! * [`BouncerClient`] / [`DecisionStream`]: the bouncer side (`X-Api-Key`),
//!   `GET /v1/decisions` and the `/v1/decisions/stream` startup + delta protocol.
//!
//! Transport is reqwest over rustls, with optional CA bundle and client certificate
//! ([`ClientOptions`]).

mod bouncer;
mod error;
mod http;
mod pusher;
mod spool;
mod watcher;

pub use bouncer::{BouncerClient, DecisionStream};
pub use error::{Error, Result};
pub use http::{ClientOptions, DEFAULT_USER_AGENT};
pub use pusher::{AlertPusher, PushStats, PusherConfig};
pub use spool::Spool;
pub use watcher::{WatcherClient, register_machine};
