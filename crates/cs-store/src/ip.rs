//! Numeric encoding of IP addresses and ranges, so that "range contains address" becomes an
//! indexable comparison of integer columns.
//!
//! An address is split into two 64-bit halves: IPv4 puts its 32 bits in the first half and 0
//! in the second; IPv6 puts its high 64 bits in the first and low 64 bits in the second. Each
//! half is stored as a signed `BIGINT` by flipping the sign bit, which maps `0..2^64` onto
//! `i64::MIN..=i64::MAX` in order. `ip_size` (4 or 16) keeps the two families apart.
//! Range `a` contains range `b` when both have the same size and
//! `(a.start_ip, a.start_suffix) <= (b.start_ip, b.start_suffix)` and
//! `(a.end_ip, a.end_suffix) >= (b.end_ip, b.end_suffix)` lexicographically.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Error, Result};

/// An IP address or CIDR range in stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    /// 4 or 16.
    pub size: i64,
    /// First address, high half.
    pub start_ip: i64,
    /// First address, low half.
    pub start_suffix: i64,
    /// Last address, high half.
    pub end_ip: i64,
    /// Last address, low half.
    pub end_suffix: i64,
}

fn flip(u: u64) -> i64 {
    i64::from_ne_bytes((u ^ (1 << 63)).to_ne_bytes())
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are treated as IPv4, as upstream does.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl IpRange {
    /// Parses an address (`192.0.2.1`, `2001:db8::1`) or a CIDR (`198.51.100.0/24`).
    /// A CIDR with host bits set covers its whole network.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::InvalidIp {
            value: text.to_owned(),
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let ip: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        let ip = canonical(ip);
        match ip {
            IpAddr::V4(v4) => {
                // A mapped address with a prefix counts the prefix over 128 bits.
                let prefix = match prefix {
                    Some(p) if mapped => p.checked_sub(96).ok_or_else(bad)?,
                    Some(p) => p,
                    None => 32,
                };
                if prefix > 32 {
                    return Err(bad());
                }
                let v = u64::from(u32::from(v4));
                let host = if prefix == 32 {
                    0
                } else {
                    u64::from(u32::MAX >> prefix)
                };
                Ok(Self {
                    size: 4,
                    start_ip: flip(v & !host),
                    start_suffix: flip(0),
                    end_ip: flip(v | host),
                    end_suffix: flip(0),
                })
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                if prefix > 128 {
                    return Err(bad());
                }
                let v = u128::from(v6);
                let host = if prefix == 128 {
                    0
                } else {
                    u128::MAX >> prefix
                };
                let (s, e) = (v & !host, v | host);
                let hi = |x: u128| u64::try_from(x >> 64).unwrap_or(u64::MAX);
                let lo = |x: u128| u64::try_from(x & u128::from(u64::MAX)).unwrap_or(u64::MAX);
                Ok(Self {
                    size: 16,
                    start_ip: flip(hi(s)),
                    start_suffix: flip(lo(s)),
                    end_ip: flip(hi(e)),
                    end_suffix: flip(lo(e)),
                })
            }
        }
    }

    /// First address of the range.
    pub fn first_address(&self) -> IpAddr {
        let unflip = |v: i64| u64::from_ne_bytes(v.to_ne_bytes()) ^ (1 << 63);
        if self.size == 4 {
            IpAddr::V4(Ipv4Addr::from(
                u32::try_from(unflip(self.start_ip)).unwrap_or(0),
            ))
        } else {
            let v =
                (u128::from(unflip(self.start_ip)) << 64) | u128::from(unflip(self.start_suffix));
            IpAddr::V6(Ipv6Addr::from(v))
        }
    }

    /// Whether `self` contains all of `other`.
    pub fn contains(&self, other: &IpRange) -> bool {
        self.size == other.size
            && (self.start_ip, self.start_suffix) <= (other.start_ip, other.start_suffix)
            && (self.end_ip, self.end_suffix) >= (other.end_ip, other.end_suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outer: &str, inner: &str, expected: bool) {
        let o = IpRange::parse(outer).unwrap();
        let i = IpRange::parse(inner).unwrap();
        assert_eq!(o.contains(&i), expected, "{outer} contains {inner}");
    }

    #[test]
    fn containment() {
        check("198.51.100.0/24", "198.51.100.77", true);
        check("198.51.100.0/24", "198.51.101.1", false);
        check("198.51.100.0/24", "198.51.100.0/25", true);
        check("198.51.100.0/25", "198.51.100.0/24", false);
        check("0.0.0.0/0", "255.255.255.255", true);
        check("192.0.2.1", "192.0.2.1", true);
        check("192.0.2.1", "::ffff:192.0.2.1", true);
        check("2001:db8::/32", "2001:db8::1", true);
        check("2001:db8::/32", "2001:db9::1", false);
        check("2001:db8::/64", "2001:db8:0:0:ffff:ffff:ffff:ffff", true);
        check("2001:db8::/64", "2001:db8:0:1::", false);
        check("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true);
        check("::/0", "1.2.3.4", false);
        check("10.0.0.0/8", "::a00:1", false);
    }

    #[test]
    fn encoding_is_order_preserving() {
        let a = IpRange::parse("0.0.0.0").unwrap();
        let b = IpRange::parse("127.255.255.255").unwrap();
        let c = IpRange::parse("128.0.0.0").unwrap();
        let d = IpRange::parse("255.255.255.255").unwrap();
        assert!(a.start_ip < b.start_ip && b.start_ip < c.start_ip && c.start_ip < d.start_ip);
        assert_eq!(
            IpRange::parse("10.1.2.3/8")
                .unwrap()
                .first_address()
                .to_string(),
            "10.0.0.0"
        );
        assert_eq!(
            IpRange::parse("2001:db8::5/120")
                .unwrap()
                .first_address()
                .to_string(),
            "2001:db8::"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4/33",
            "::1/129",
            "abc",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "::ffff:1.2.3.4/95",
        ] {
            assert!(IpRange::parse(bad).is_err(), "{bad:?}");
        }
    }
}
