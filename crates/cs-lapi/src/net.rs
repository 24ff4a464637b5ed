//! Who is calling: the peer of the connection, its TLS client certificate, and the client IP as gin's
//! `ClientIP()` computes it (forwarding headers only from trusted proxies).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Identity carried by a verified TLS client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// Subject common name.
    pub common_name: String,
    /// Subject organizational units.
    pub organizational_units: Vec<String>,
}

/// Facts about the connection a request arrived on, inserted as a request extension by [`crate::Server`].
///
/// Requests without it (for example sent with `tower::ServiceExt::oneshot` in tests) are treated as coming
/// from a local unix socket.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// TCP peer; `None` for a unix socket.
    pub peer: Option<SocketAddr>,
    /// Verified client certificate, when TLS is on and one was presented.
    pub cert: Option<PeerCert>,
}

/// The client as the handlers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Client IP (`None` for a unix-socket peer).
    pub ip: Option<IpAddr>,
}

impl Client {
    /// The IP as text, as stored in the database (`127.0.0.1` for unix sockets, as upstream).
    #[must_use]
    pub fn ip_string(&self) -> String {
        self.ip
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .to_string()
    }

    /// Loopback or unix socket.
    #[must_use]
    pub fn is_local(&self) -> bool {
        self.ip.is_none_or(|ip| to_canonical(ip).is_loopback())
    }

    /// Local, or inside one of `ranges`.
    #[must_use]
    pub fn is_trusted(&self, ranges: &[IpNet]) -> bool {
        self.is_local() || self.ip.is_some_and(|ip| in_ranges(ip, ranges))
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn to_canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` is in any of `ranges`.
#[must_use]
pub fn in_ranges(ip: IpAddr, ranges: &[IpNet]) -> bool {
    let ip = to_canonical(ip);
    ranges.iter().any(|r| r.contains(&ip))
}

/// Resolves the client IP of a request.
///
/// Like gin: forwarding headers are read only when enabled and the peer is a trusted proxy;
/// `X-Forwarded-For` is walked from the right, skipping trusted proxies; `X-Real-IP` is the fallback.
#[must_use]
pub fn client_ip(
    conn: &ConnInfo,
    headers: &HeaderMap,
    use_forwarded: bool,
    trusted_proxies: &[IpNet],
) -> Client {
    let Some(peer) = conn.peer else {
        return Client { ip: None };
    };
    let peer_ip = to_canonical(peer.ip());
    if use_forwarded && in_ranges(peer_ip, trusted_proxies) {
        if let Some(xff) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            let hops: Vec<Option<IpAddr>> = xff.split(',').map(|h| h.trim().parse().ok()).collect();
            for (i, hop) in hops.iter().enumerate().rev() {
                let Some(ip) = *hop else { break };
                if i == 0 || !in_ranges(ip, trusted_proxies) {
                    return Client {
                        ip: Some(to_canonical(ip)),
                    };
                }
            }
        }
        if let Some(ip) = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
        {
            return Client {
                ip: Some(to_canonical(ip)),
            };
        }
    }
    Client { ip: Some(peer_ip) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(peer: &str, headers: &[(&'static str, &str)], use_forwarded: bool, expected: &str) {
        let conn = ConnInfo {
            peer: Some(peer.parse().unwrap()),
            cert: None,
        };
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(&conn, &map, use_forwarded, &proxies).ip_string(),
            expected
        );
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        check(
            "10.1.1.1:5000",
            &[("x-forwarded-for", "203.0.113.7")],
            true,
            "203.0.113.7",
        );
        check(
            "10.1.1.1:5000",
            &[("x-forwarded-for", "203.0.113.7")],
            false,
            "10.1.1.1",
        );
        check(
            "192.0.2.1:5000",
            &[("x-forwarded-for", "203.0.113.7")],
            true,
            "192.0.2.1",
        );
        check(
            "10.1.1.1:5000",
            &[("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.2.2.2")],
            true,
            "203.0.113.7",
        );
        check(
            "10.1.1.1:5000",
            &[("x-real-ip", "198.51.100.9")],
            true,
            "198.51.100.9",
        );
        check("[::ffff:127.0.0.1]:5000", &[], false, "127.0.0.1");
    }

    #[test]
    fn trust_rules() {
        let ranges: Vec<IpNet> = vec!["192.168.0.0/16".parse().unwrap()];
        assert!(Client { ip: None }.is_trusted(&[]));
        assert!(
            Client {
                ip: Some("::1".parse().unwrap())
            }
            .is_trusted(&[])
        );
        assert!(
            Client {
                ip: Some("192.168.3.4".parse().unwrap())
            }
            .is_trusted(&ranges)
        );
        assert!(
            !Client {
                ip: Some("192.0.2.1".parse().unwrap())
            }
            .is_trusted(&ranges)
        );
    }
}
