//! [`Server`]: shared state, the router, and the accept loop (plain TCP, TLS, unix socket) with graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::config::ServerOptions;
use crate::error::{Error, Result};
use crate::jwt::JwtKey;
use crate::net::ConnInfo;
use crate::profiles::{Notifier, Profiles};

/// How long open connections get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// State shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: cs_store::Store,
    pub opts: ServerOptions,
    pub jwt: JwtKey,
    pub profiles: Profiles,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub notifier: Option<Arc<dyn Notifier>>,
}

/// The Local API server.
///
/// ```no_run
/// # async fn run(store: cs_store::Store, profiles: cs_lapi::Profiles) -> cs_lapi::Result<()> {
/// let server = cs_lapi::Server::new(cs_lapi::ServerOptions::default(), store, profiles)?;
/// server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    state: Arc<AppState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("opts", &self.state.opts)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Builds a server; the JWT secret comes from `CS_LAPI_SECRET` or is random. TLS files are loaded here
    /// so that configuration mistakes surface before listening.
    pub fn new(opts: ServerOptions, store: cs_store::Store, profiles: Profiles) -> Result<Self> {
        Self::with_jwt_key(opts, store, profiles, JwtKey::from_env_or_random())
    }

    /// Like [`Server::new`] with an explicit token key.
    pub fn with_jwt_key(
        opts: ServerOptions,
        store: cs_store::Store,
        profiles: Profiles,
        jwt: JwtKey,
    ) -> Result<Self> {
        let tls = opts
            .tls
            .as_ref()
            .map(crate::tls::server_config)
            .transpose()?;
        profiles.attach_store(store.clone());
        Ok(Self {
            state: Arc::new(AppState {
                store,
                opts,
                jwt,
                profiles,
                tls,
                notifier: None,
            }),
        })
    }

    /// Hands the alerts matching profiles with `notifications` to `notifier` once they are stored.
    #[must_use]
    pub fn with_notifier(self, notifier: Arc<dyn Notifier>) -> Self {
        let mut state = (*self.state).clone();
        state.notifier = Some(notifier);
        Self {
            state: Arc::new(state),
        }
    }

    /// The HTTP routes, for serving elsewhere or for `tower::ServiceExt::oneshot` in tests.
    ///
    /// Requests without a [`ConnInfo`] extension are treated as coming from a local unix socket.
    pub fn router(&self) -> Router {
        crate::routes::router(self.state.clone())
    }

    /// Binds `listen_uri` (and `listen_socket`) and serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let tcp = match &self.state.opts.listen_uri {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| Error::Listen {
                        addr: addr.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        self.serve_on(tcp, shutdown).await
    }

    /// Serves on an already bound TCP listener (tests bind port 0 and read the address first), plus
    /// `listen_socket` when configured.
    pub async fn serve_on(
        self,
        tcp: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let unix = match &self.state.opts.listen_socket {
            Some(path) => {
                // A stale socket file from a previous run would make bind fail.
                let _ = std::fs::remove_file(path);
                Some(
                    tokio::net::UnixListener::bind(path).map_err(|source| Error::Listen {
                        addr: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        if let Some(l) = &tcp {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(addr = %addr, tls = self.state.tls.is_some(), "CrowdSec Local API listening");
        }
        let router = self.router();
        let flusher = self.state.opts.flush.clone().map(|policy| {
            let store = self.state.store.clone();
            tokio::spawn(flush_loop(store, policy, self.state.opts.flush_interval))
        });
        let graceful = GracefulShutdown::new();
        let tls = self.state.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = accept_tcp(tcp.as_ref()) => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        spawn_conn(stream, Some(peer), tls.clone(), router.clone(), &graceful);
                    }
                    Err(e) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                accepted = accept_unix(unix.as_ref()) => match accepted {
                    Ok(stream) => spawn_conn(stream, None, None, router.clone(), &graceful),
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed on unix socket");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tracing::info!("CrowdSec Local API shutting down");
        if let Some(task) = flusher {
            task.abort();
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("some connections were still open after the grace period");
        }
        if let Some(path) = &self.state.opts.listen_socket {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

/// Applies the flush policy periodically (first run right away, as upstream does at start-up).
async fn flush_loop(store: cs_store::Store, policy: cs_store::FlushPolicy, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.flush(&policy, chrono::Utc::now()).await {
            Ok(report) => tracing::debug!(?report, "database flushed"),
            Err(e) => tracing::error!(error = %e, "database flush failed"),
        }
    }
}

async fn accept_tcp(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_unix(
    listener: Option<&tokio::net::UnixListener>,
) -> std::io::Result<tokio::net::UnixStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

fn spawn_conn<S>(
    stream: S,
    peer: Option<SocketAddr>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    graceful: &GracefulShutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        match tls {
            None => {
                let info = ConnInfo { peer, cert: None };
                serve_conn(stream, info, router, watcher).await;
            }
            Some(acceptor) => match acceptor.accept(stream).await {
                Ok(tls_stream) => {
                    let cert = tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .and_then(crate::tls::peer_identity);
                    let info = ConnInfo { peer, cert };
                    serve_conn(tls_stream, info, router, watcher).await;
                }
                Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
            },
        }
    });
}

async fn serve_conn<S>(
    stream: S,
    info: ConnInfo,
    router: Router,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(info.clone());
        router.clone().oneshot(req)
    });
    let builder = ConnBuilder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
