//! A tiny DNS server answering PTR questions on loopback, and a resolver that asks it,
//! so that `reverse_dns` cases go through real DNS messages without leaving the machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cs_expr_helpers::resolver::Resolver;

/// The `in-addr.arpa` / `ip6.arpa` name of an address.
fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

fn encode_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
}

/// Reads a (possibly compressed) name at `pos`; returns it with a trailing dot and the
/// position after it.
fn decode_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            return Some((name, end.unwrap_or(pos + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let ptr = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            pos = ptr;
            continue;
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        name.push_str(std::str::from_utf8(label).ok()?);
        name.push('.');
        pos += 1 + len;
    }
    None
}

/// A PTR-only DNS server on `127.0.0.1`, stopped when dropped.
pub struct PtrServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PtrServer {
    /// Starts a server answering `records` (address → name) and NXDOMAIN otherwise.
    pub fn start(records: &[(IpAddr, &str)]) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = socket.local_addr()?;
        let table: HashMap<String, String> = records
            .iter()
            .map(|(ip, name)| (format!("{}.", ptr_name(*ip)), (*name).to_owned()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&buf[..n], &table) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for PtrServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Builds the reply to one query: the PTR record when known, else NXDOMAIN.
fn answer(query: &[u8], table: &HashMap<String, String>) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let (qname, after) = decode_name(query, 12)?;
    let question = query.get(12..after + 4)?;
    let found = table.get(&qname);
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&query[0..2]);
    // Response, recursion available; RCODE 3 (NXDOMAIN) when unknown.
    out.extend_from_slice(&[0x81, if found.is_some() { 0x80 } else { 0x83 }]);
    out.extend_from_slice(&[0, 1, 0, u8::from(found.is_some()), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(name) = found {
        out.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
        let mut rdata = Vec::new();
        encode_name(&mut rdata, name);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

/// A resolver sending PTR queries to one DNS server over UDP.
#[derive(Debug, Clone)]
pub struct UdpResolver {
    server: SocketAddr,
}

impl UdpResolver {
    /// Asks `server`.
    pub fn new(server: SocketAddr) -> Self {
        Self { server }
    }

    fn query(&self, ip: IpAddr) -> Option<Vec<String>> {
        let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
        socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        encode_name(&mut msg, &ptr_name(ip));
        msg.extend_from_slice(&[0, 12, 0, 1]);
        socket.send_to(&msg, self.server).ok()?;
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).ok()?;
        let reply = &buf[..n];
        if reply.len() < 12 || reply[0..2] != [0x12, 0x34] || reply[3] & 0x0f != 0 {
            return None;
        }
        let answers = u16::from_be_bytes([reply[6], reply[7]]);
        let (_, mut pos) = decode_name(reply, 12)?;
        pos += 4;
        let mut names = Vec::new();
        for _ in 0..answers {
            let (_, after) = decode_name(reply, pos)?;
            let rtype = u16::from_be_bytes([*reply.get(after)?, *reply.get(after + 1)?]);
            let rdlen = u16::from_be_bytes([*reply.get(after + 8)?, *reply.get(after + 9)?]);
            let rdata = after + 10;
            if rtype == 12 {
                names.push(decode_name(reply, rdata)?.0);
            }
            pos = rdata + rdlen as usize;
        }
        Some(names)
    }
}

impl Resolver for UdpResolver {
    fn lookup_host(&self, _host: &str) -> Vec<String> {
        Vec::new()
    }

    fn lookup_addr(&self, ip: IpAddr) -> Vec<String> {
        self.query(ip).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(server: &PtrServer, ip: &str, expected: &[&str]) {
        let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(UdpResolver::new(server.addr()).lookup_addr(ip), expected);
    }

    #[test]
    fn ptr_round_trip() -> std::io::Result<()> {
        let server = PtrServer::start(&[
            (IpAddr::from([1, 1, 1, 1]), "one.one.one.one"),
            (
                "2001:db8::1".parse().unwrap_or(IpAddr::from([0; 16])),
                "six.example",
            ),
        ])?;
        check(&server, "1.1.1.1", &["one.one.one.one."]);
        check(&server, "2001:db8::1", &["six.example."]);
        check(&server, "1.2.3.4", &[]);
        Ok(())
    }
}
