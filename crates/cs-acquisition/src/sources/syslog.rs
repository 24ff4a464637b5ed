//! The `syslog` datasource: a syslog server receiving RFC 3164 / RFC 5424 messages over UDP
//! (one message per datagram, as upstream) or TCP (octet-counted frames, RFC 6587, or one
//! message per line, chosen by the first byte of each connection). Each message becomes the
//! line upstream rebuilds ([`super::syslog_message::to_line`]); `Line.Src` is the client's IP
//! address. A message that is neither RFC is counted (`invalid`) and skipped; nothing a client
//! sends stops the server.
//!
//! Keys: `listen_addr` (default `127.0.0.1`), `listen_port` (default 514), `protocol`
//! (`udp`, the default and upstream's only transport, or `tcp`), `max_message_len` (default
//! 2048: longer datagrams are cut there as upstream does, longer TCP frames are skipped;
//! both are counted in `too_long`), `disable_rfc_parser` (only remove `<PRI>`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cs_config::yaml::{Diagnostic, Node};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::syslog_message::{self, Rfc};
use crate::config::{Mode, key_error};
use crate::error::{Error, Result};
use crate::live::{Counters, SourceCtx, Started};

/// Default `max_message_len`.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 2048;
/// TCP connections served at once; more are closed at once.
const MAX_TCP_CONNECTIONS: usize = 512;
/// Clients whose counters are cached per task before the cache is cleared.
const CLIENT_CACHE: usize = 4096;

/// Transport of a syslog server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// One message per datagram.
    #[default]
    Udp,
    /// A stream of framed messages.
    Tcp,
}

/// The `syslog` keys of an acquisition document.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogConfig {
    /// `listen_addr`.
    pub listen_addr: String,
    /// `listen_port`.
    pub listen_port: u16,
    /// `protocol`.
    pub protocol: Protocol,
    /// `max_message_len`.
    pub max_message_len: usize,
    /// `disable_rfc_parser`.
    pub disable_rfc_parser: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct SyslogDoc {
    listen_addr: String,
    listen_port: i64,
    protocol: String,
    max_message_len: i64,
    disable_rfc_parser: bool,
}

impl SyslogConfig {
    /// Decodes the module keys of a document.
    pub(crate) fn from_node(
        node: &Node,
        doc: &Node,
        _mode: Mode,
    ) -> Result<SyslogConfig, Vec<Diagnostic>> {
        let raw: SyslogDoc = node.decode("").map_err(|d| d.0)?;
        let listen_addr = if raw.listen_addr.is_empty() {
            "127.0.0.1".to_owned()
        } else {
            raw.listen_addr
        };
        if listen_addr.parse::<IpAddr>().is_err() {
            return Err(key_error(
                doc,
                "listen_addr",
                format!("invalid listen IP {listen_addr}"),
            ));
        }
        let port = if raw.listen_port == 0 {
            514
        } else {
            raw.listen_port
        };
        let listen_port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| key_error(doc, "listen_port", format!("invalid port {port}")))?;
        let protocol = match raw.protocol.to_ascii_lowercase().as_str() {
            "" | "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            other => {
                return Err(key_error(
                    doc,
                    "protocol",
                    format!("unsupported protocol {other:?} (supported: udp, tcp)"),
                ));
            }
        };
        let max_message_len = match raw.max_message_len {
            0 => DEFAULT_MAX_MESSAGE_LEN,
            n => usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                key_error(
                    doc,
                    "max_message_len",
                    format!("invalid max_message_len {n}"),
                )
            })?,
        };
        Ok(SyslogConfig {
            listen_addr,
            listen_port,
            protocol,
            max_message_len,
            disable_rfc_parser: raw.disable_rfc_parser,
        })
    }

    fn socket_addr(&self) -> SocketAddr {
        // Validated at load time; a config built by hand with a bad address listens nowhere
        // useful rather than panicking.
        let ip = self
            .listen_addr
            .parse()
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        SocketAddr::new(ip, self.listen_port)
    }
}

/// Per-client counters and the client's `Src`.
struct Clients<'a> {
    ctx: &'a SourceCtx,
    map: HashMap<IpAddr, (Arc<str>, Arc<Counters>)>,
}

impl Clients<'_> {
    fn get(&mut self, ip: IpAddr) -> (Arc<str>, Arc<Counters>) {
        if self.map.len() >= CLIENT_CACHE && !self.map.contains_key(&ip) {
            self.map.clear();
        }
        self.map
            .entry(ip)
            .or_insert_with(|| {
                let src: Arc<str> = Arc::from(ip.to_string());
                let c = self
                    .ctx
                    .stats
                    .counters(self.ctx.module, &src, &self.ctx.acquis_type);
                (src, c)
            })
            .clone()
    }
}

/// Turns one received message into the line to deliver, counting it.
fn to_line(msg: &[u8], cfg: &SyslogConfig, src: &str, counters: &Counters) -> Option<String> {
    Counters::inc(&counters.hits);
    if cfg.disable_rfc_parser {
        return match syslog_message::strip_pri(msg) {
            Ok(rest) => Some(String::from_utf8_lossy(rest).into_owned()),
            Err(reason) => {
                Counters::inc(&counters.invalid);
                tracing::debug!(client = %src, reason, "invalid syslog message");
                None
            }
        };
    }
    match syslog_message::parse(msg) {
        Ok(m) => {
            Counters::inc(match m.rfc {
                Rfc::Rfc3164 => &counters.parsed_rfc3164,
                Rfc::Rfc5424 => &counters.parsed_rfc5424,
            });
            if std::str::from_utf8(m.message).is_err() {
                Counters::inc(&counters.invalid_utf8);
            }
            Some(syslog_message::to_line(&m, chrono::Utc::now().naive_utc()))
        }
        Err(e) => {
            Counters::inc(&counters.invalid);
            tracing::debug!(client = %src, error = %e, "invalid syslog message");
            None
        }
    }
}

/// Starts a `syslog` datasource: fails when the address cannot be bound.
pub(crate) async fn start_live(cfg: &SyslogConfig, ctx: SourceCtx) -> Result<Started> {
    let addr = cfg.socket_addr();
    let listen_err = |source| Error::Listen {
        addr: format!("{}/{addr}", protocol_name(cfg.protocol)),
        source,
    };
    let mut started = Started::default();
    let cfg = cfg.clone();
    match cfg.protocol {
        Protocol::Udp => {
            let socket = UdpSocket::bind(addr).await.map_err(listen_err)?;
            tracing::info!(%addr, "syslog server listening on UDP");
            started.tasks.push(tokio::spawn(
                async move { serve_udp(socket, cfg, ctx).await },
            ));
        }
        Protocol::Tcp => {
            let listener = TcpListener::bind(addr).await.map_err(listen_err)?;
            tracing::info!(%addr, "syslog server listening on TCP");
            started.tasks.push(tokio::spawn(
                async move { serve_tcp(listener, cfg, ctx).await },
            ));
        }
    }
    Ok(started)
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
    }
}

async fn serve_udp(socket: UdpSocket, cfg: SyslogConfig, ctx: SourceCtx) {
    // One byte more than the limit tells a datagram that was cut.
    let mut buf = vec![0u8; cfg.max_message_len + 1];
    let mut stop = ctx.stop.clone();
    let mut clients = Clients {
        ctx: &ctx,
        map: HashMap::new(),
    };
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors and the like: the socket itself still works.
                    tracing::debug!(error = %e, "syslog UDP receive error");
                    continue;
                }
            },
            () = crate::live::stopped(&mut stop) => return,
        };
        let (src, counters) = clients.get(peer.ip());
        let mut msg = &buf[..n];
        if n > cfg.max_message_len {
            Counters::inc(&counters.too_long);
            msg = &msg[..cfg.max_message_len];
        }
        if let Some(line) = to_line(msg, &cfg, &src, &counters)
            && !ctx.send(ctx.line(line, &src, None)).await
        {
            return;
        }
    }
}

async fn serve_tcp(listener: TcpListener, cfg: SyslogConfig, ctx: SourceCtx) {
    let cfg = Arc::new(cfg);
    let mut stop = ctx.stop.clone();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_TCP_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "syslog TCP accept error");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = crate::live::stopped(&mut stop) => break,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(client = %peer, "too many syslog TCP connections, closing");
            continue;
        };
        // Reap finished connections so the set does not grow.
        while conns.try_join_next().is_some() {}
        let (cfg, ctx) = (cfg.clone(), ctx.clone());
        conns.spawn(async move {
            serve_connection(stream, peer, &cfg, &ctx).await;
            drop(permit);
        });
    }
    conns.shutdown().await;
}

/// How a TCP connection frames its messages.
enum Framing {
    Unknown,
    OctetCounting,
    Lines,
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    cfg: &SyslogConfig,
    ctx: &SourceCtx,
) {
    let src: Arc<str> = Arc::from(peer.ip().to_string());
    let counters = ctx.stats.counters(ctx.module, &src, &ctx.acquis_type);
    let mut stop = ctx.stop.clone();
    let mut framing = Framing::Unknown;
    let mut pending: Vec<u8> = Vec::new();
    // Bytes of an oversized frame still to skip.
    let mut skip = 0usize;
    // Inside an oversized line, skipped up to its newline.
    let mut discard_line = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            },
            () = crate::live::stopped(&mut stop) => return,
        };
        let eof = n == 0;
        let mut data = &buf[..n];
        if skip > 0 {
            let k = skip.min(data.len());
            skip -= k;
            data = &data[k..];
        }
        if discard_line {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    data = &data[i + 1..];
                    discard_line = false;
                }
                None => data = &[],
            }
        }
        pending.extend_from_slice(data);
        if matches!(framing, Framing::Unknown) && !pending.is_empty() {
            framing = if pending[0].is_ascii_digit() {
                Framing::OctetCounting
            } else {
                Framing::Lines
            };
        }
        let mut messages: Vec<Vec<u8>> = Vec::new();
        let mut used = 0;
        match framing {
            Framing::Unknown => {}
            Framing::OctetCounting => loop {
                let rest = &pending[used..];
                let Some(sp) = rest.iter().take(12).position(|c| *c == b' ') else {
                    if rest.len() >= 12 || (eof && !rest.is_empty()) {
                        // Not a length: the stream is garbage; give up on it.
                        Counters::inc(&counters.invalid);
                        return;
                    }
                    break;
                };
                let Some(len) = std::str::from_utf8(&rest[..sp])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    Counters::inc(&counters.invalid);
                    return;
                };
                if len > cfg.max_message_len {
                    Counters::inc(&counters.too_long);
                    let available = rest.len() - sp - 1;
                    if available >= len {
                        used += sp + 1 + len;
                        continue;
                    }
                    skip = len - available;
                    used = pending.len();
                    break;
                }
                if rest.len() < sp + 1 + len {
                    break;
                }
                messages.push(rest[sp + 1..sp + 1 + len].to_vec());
                used += sp + 1 + len;
            },
            Framing::Lines => {
                while let Some(i) = memchr::memchr(b'\n', &pending[used..]) {
                    let line = &pending[used..used + i];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.len() > cfg.max_message_len {
                        Counters::inc(&counters.too_long);
                    } else if !line.is_empty() {
                        messages.push(line.to_vec());
                    }
                    used += i + 1;
                }
                let rest = pending.len() - used;
                if rest > cfg.max_message_len {
                    // An oversized line: drop what is buffered and the rest of the line.
                    Counters::inc(&counters.too_long);
                    used = pending.len();
                    discard_line = true;
                } else if eof && rest > 0 {
                    messages.push(pending[used..].to_vec());
                    used = pending.len();
                }
            }
        }
        pending.drain(..used.min(pending.len()));
        for msg in messages {
            if let Some(line) = to_line(&msg, cfg, &src, &counters)
                && !ctx.send(ctx.line(line, &src, None)).await
            {
                return;
            }
        }
        if eof {
            return;
        }
    }
}
