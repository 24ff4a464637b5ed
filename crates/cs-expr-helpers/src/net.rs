//! IP helpers with Go `net` semantics (`IpInRange`, `IpToRange`, `IsIP`, `IsIPV4`, `IsIPV6`).
//!
//! Go's `net.IP` treats an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as the IPv4 address it
//! maps, which the helpers reproduce; parser whitelists use `netip` rules instead and do not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Go `net.ParseIP`: dotted IPv4 (no leading zeros) or IPv6 without a zone.
pub fn parse_go_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        // Rust accepts exactly RFC 4291 text (with an embedded IPv4 tail), like Go.
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_v4(s).map(IpAddr::V4)
    }
}

fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    // Byte by byte: this runs for every IpInRange call on the hot path.
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value: u16 = 0;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            value = value * 10 + u16::from(d - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let len = i - start;
        // Go 1.17+ rejects leading zeros (they used to mean octal).
        if len == 0 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// Go `IP.To4()`: the IPv4 form of an IPv4 or IPv4-mapped IPv6 address.
fn to4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

/// A CIDR parsed with Go `net.ParseCIDR`, matched with `IPNet.Contains` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoIpNet {
    /// Network address (already masked) as Go stores it: IPv4 when the text was IPv4.
    ip: IpAddr,
    /// Prefix length in bits of the mask Go builds (32-bit mask for IPv4 text, 128-bit else).
    bits: u8,
}

impl GoIpNet {
    /// Go `net.ParseCIDR`: `addr/len` with a decimal length in range for the address family.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, len) = s.split_once('/')?;
        let ip = parse_go_ip(addr)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let bits: u8 = len.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return None;
        }
        let ip = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(bits))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(bits))),
        };
        Some(Self { ip, bits })
    }

    /// Go `IPNet.Contains`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match to4(self.ip) {
            Some(net4) => {
                let mask = match self.ip {
                    IpAddr::V4(_) => mask32(self.bits),
                    // A 16-byte mask applied to an IPv4 network keeps only its last 4 bytes.
                    IpAddr::V6(_) => mask128(self.bits) as u32,
                };
                to4(ip).is_some_and(|ip4| u32::from(ip4) & mask == u32::from(net4) & mask)
            }
            None => match (ip, self.ip) {
                (IpAddr::V6(v6), IpAddr::V6(net6)) if v6.to_ipv4_mapped().is_none() => {
                    let mask = mask128(self.bits);
                    u128::from(v6) & mask == u128::from(net6) & mask
                }
                _ => false,
            },
        }
    }
}

fn mask32(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

fn mask128(bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    }
}

/// CrowdSec `IpInRange(ip, cidr)`: false when either side does not parse.
pub fn ip_in_range(ip: &str, cidr: &str) -> bool {
    match (parse_go_ip(ip), GoIpNet::parse(cidr)) {
        (Some(ip), Some(net)) => net.contains(ip),
        _ => false,
    }
}

/// CrowdSec `IsIP`.
pub fn is_ip(ip: &str) -> bool {
    parse_go_ip(ip).is_some()
}

/// CrowdSec `IsIPV4`: true for IPv4 and IPv4-mapped IPv6 addresses (Go `To4() != nil`).
pub fn is_ipv4(ip: &str) -> bool {
    parse_go_ip(ip).and_then(to4).is_some()
}

/// CrowdSec `IsIPV6`: a valid IP that has no IPv4 form.
pub fn is_ipv6(ip: &str) -> bool {
    parse_go_ip(ip).is_some_and(|ip| to4(ip).is_none())
}

/// Go `netip.ParseAddr`: like `net.ParseIP`, but IPv6 may carry a `%zone` and an IPv4-mapped
/// address stays IPv6.
fn parse_netip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        let addr = match s.split_once('%') {
            Some((addr, zone)) if !zone.is_empty() => addr,
            Some(_) => return None,
            None => s,
        };
        addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_v4(s).map(IpAddr::V4)
    }
}

/// CrowdSec `IpToRange(ip, mask)`: the prefix of `ip` with `mask` bits (the mask may start
/// with `/`), in canonical text (`1.2.3.0/24`, `2001:db8::/64`); `""` on any error.
pub fn ip_to_range(ip: &str, mask: &str) -> String {
    let mask = mask.strip_prefix('/').unwrap_or(mask);
    let Some(bits) = parse_go_atoi(mask) else {
        return String::new();
    };
    let Some(addr) = parse_netip(ip) else {
        return String::new();
    };
    match addr {
        IpAddr::V4(v4) if (0..=32).contains(&bits) => {
            let net = Ipv4Addr::from(u32::from(v4) & mask32(bits as u8));
            format!("{net}/{bits}")
        }
        IpAddr::V6(v6) if (0..=128).contains(&bits) => {
            let net = Ipv6Addr::from(u128::from(v6) & mask128(bits as u8));
            format!("{net}/{bits}")
        }
        _ => String::new(),
    }
}

/// Go `strconv.Atoi`: optional sign and decimal digits, 64-bit range.
pub fn parse_go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ip() {
        assert!(is_ip("1.2.3.4"));
        assert!(!is_ip("01.2.3.4"));
        assert!(!is_ip("1.2.3.256"));
        assert!(!is_ip("1.2.3"));
        assert!(is_ip("::1"));
        assert!(!is_ip("fe80::1%eth0"));
        assert!(is_ipv4("::ffff:1.2.3.4"));
        assert!(!is_ipv6("::ffff:1.2.3.4"));
        assert!(is_ipv6("2001:db8::1"));
        assert!(!is_ipv4("foo"));
    }

    #[test]
    fn in_range() {
        assert!(ip_in_range("1.2.3.4", "1.2.3.0/24"));
        assert!(!ip_in_range("1.2.4.4", "1.2.3.0/24"));
        assert!(ip_in_range("::ffff:1.2.3.4", "1.2.3.0/24"));
        assert!(ip_in_range("1.2.3.4", "::ffff:1.2.3.0/120"));
        assert!(!ip_in_range("::ffff:1.2.3.4", "::/0"));
        assert!(ip_in_range("1.2.3.4", "0.0.0.0/0"));
        assert!(ip_in_range("2001:db8::1", "2001:db8::/32"));
        assert!(!ip_in_range("1.2.3.4", "1.2.3.0/33"));
        assert!(!ip_in_range("1.2.3.4", "1.2.3.0"));
        assert!(ip_in_range("1.2.3.4", "1.2.3.4/032"));
    }

    proptest::proptest! {
        #[test]
        fn an_ip_is_in_its_own_range(a: u32, bits in 0u8..=32) {
            let ip = Ipv4Addr::from(a).to_string();
            let range = ip_to_range(&ip, &bits.to_string());
            proptest::prop_assert!(ip_in_range(&ip, &range), "{ip} not in {range}");
            // Go's net treats the IPv4-mapped form as the same address.
            let mapped = format!("::ffff:{ip}");
            proptest::prop_assert!(ip_in_range(&mapped, &range), "{mapped} not in {range}");
            // The prefix of a prefix is itself.
            let net = range.split('/').next().unwrap_or_default().to_owned();
            proptest::prop_assert_eq!(ip_to_range(&net, &bits.to_string()), range);
        }

        #[test]
        fn ranges_agree_with_prefix_arithmetic(a: u32, b: u32, bits in 0u8..=32) {
            let range = ip_to_range(&Ipv4Addr::from(a).to_string(), &format!("/{bits}"));
            let same = bits == 0 || (a ^ b) >> (32 - u32::from(bits)) == 0;
            proptest::prop_assert_eq!(ip_in_range(&Ipv4Addr::from(b).to_string(), &range), same);
        }

        #[test]
        fn v6_ranges_agree_with_prefix_arithmetic(a: u128, b: u128, bits in 0u8..=128) {
            let (ia, ib) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            // IPv4-mapped addresses follow the IPv4 rules tested above.
            proptest::prop_assume!(ia.to_ipv4_mapped().is_none() && ib.to_ipv4_mapped().is_none());
            let range = ip_to_range(&ia.to_string(), &bits.to_string());
            let same = bits == 0 || (a ^ b) >> (128 - u32::from(bits)) == 0;
            proptest::prop_assert_eq!(ip_in_range(&ib.to_string(), &range), same);
        }
    }

    #[test]
    fn to_range() {
        assert_eq!(ip_to_range("1.2.3.4", "/24"), "1.2.3.0/24");
        assert_eq!(ip_to_range("1.2.3.4", "16"), "1.2.0.0/16");
        assert_eq!(ip_to_range("2001:db8::1", "/64"), "2001:db8::/64");
        assert_eq!(ip_to_range("::ffff:1.2.3.4", "/120"), "::ffff:1.2.3.0/120");
        assert_eq!(ip_to_range("fe80::1%eth0", "/64"), "fe80::/64");
        assert_eq!(ip_to_range("1.2.3.4", "/33"), "");
        assert_eq!(ip_to_range("1.2.3.4", "abc"), "");
        assert_eq!(ip_to_range("nope", "/24"), "");
    }
}
