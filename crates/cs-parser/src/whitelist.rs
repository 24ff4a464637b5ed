//! IP and CIDR whitelists of parser nodes (expressions are evaluated by the node).

use std::net::IpAddr;

use cs_types::{Event, EventType};
use ipnet::IpNet;

/// The `ip:` and `cidr:` entries of a node's whitelist.
#[derive(Debug, Clone, Default)]
pub struct IpWhitelist {
    ips: Vec<IpAddr>,
    cidrs: Vec<IpNet>,
}

/// A whitelist entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// Index in its list.
    pub index: usize,
    /// `ip` or `cidr`.
    pub list: &'static str,
    /// Why it was rejected.
    pub message: String,
}

impl IpWhitelist {
    /// Parses the entries; every bad one is reported.
    pub fn new(ips: &[String], cidrs: &[String]) -> Result<Self, Vec<BadEntry>> {
        let mut errors = Vec::new();
        let mut out = Self::default();
        for (index, ip) in ips.iter().enumerate() {
            match ip.parse::<IpAddr>() {
                Ok(a) => out.ips.push(a),
                Err(_) => errors.push(BadEntry {
                    index,
                    list: "ip",
                    message: format!("invalid IP address `{ip}`"),
                }),
            }
        }
        for (index, cidr) in cidrs.iter().enumerate() {
            match cidr.parse::<IpNet>() {
                Ok(n) => out.cidrs.push(n),
                Err(_) => errors.push(BadEntry {
                    index,
                    list: "cidr",
                    message: format!("invalid CIDR `{cidr}` (expected address/prefix)"),
                }),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Whether there is at least one entry.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.cidrs.is_empty()
    }

    /// Whether one of the event's sources is listed. Sources are `Meta.source_ip` for
    /// logs and the keys of `Overflow.Sources` for overflows. Addresses compare as Go's
    /// `netip` does: an IPv4-mapped IPv6 address is not the IPv4 address.
    pub fn matches(&self, evt: &Event) -> bool {
        if self.is_empty() {
            return false;
        }
        let hit = |ip: IpAddr| self.ips.contains(&ip) || self.cidrs.iter().any(|n| n.contains(&ip));
        match evt.r#type {
            EventType::Log => evt
                .meta
                .get("source_ip")
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(hit),
            EventType::Overflow => evt
                .overflow
                .sources
                .keys()
                .filter_map(|k| k.parse::<IpAddr>().ok())
                .any(hit),
            EventType::Appsec => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl() -> IpWhitelist {
        IpWhitelist::new(&["1.1.1.1".into(), "::1".into()], &["1.2.3.0/24".into()])
            .unwrap_or_default()
    }

    fn check(source_ip: &str, expected: bool) {
        let mut evt = Event::default();
        evt.set_meta("source_ip", source_ip);
        assert_eq!(wl().matches(&evt), expected, "{source_ip}");
    }

    #[test]
    fn log_sources() {
        check("1.1.1.1", true);
        check("1.2.3.4", true);
        check("::1", true);
        check("2.2.3.4", false);
        check("::ffff:1.2.3.4", false);
        check("garbage", false);
        assert!(!wl().matches(&Event::default()));
    }

    #[test]
    fn overflow_sources() {
        let mut evt = Event {
            r#type: EventType::Overflow,
            ..Event::default()
        };
        evt.overflow
            .sources
            .insert("5.5.5.5".into(), Default::default());
        assert!(!wl().matches(&evt));
        evt.overflow
            .sources
            .insert("1.2.3.9".into(), Default::default());
        assert!(wl().matches(&evt));
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let err = IpWhitelist::new(&["1.1.1".into()], &["1.2.3.4".into(), "x/8".into()]);
        let lists: Vec<_> = err
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| (e.list, e.index))
            .collect();
        assert_eq!(lists, [("ip", 0), ("cidr", 0), ("cidr", 1)]);
    }
}
