//! Name resolution for `LookupHost` and reverse lookups, behind a trait so that the engine does
//! no network I/O by itself: the daemon plugs a real resolver in, tests a fixed table.

use std::collections::HashMap;
use std::net::IpAddr;

/// Forward and reverse DNS lookups.
pub trait Resolver: Send + Sync + std::fmt::Debug {
    /// Addresses of `host` (A and AAAA records) as text; empty when the lookup fails.
    fn lookup_host(&self, host: &str) -> Vec<String>;
    /// PTR names of `ip`; empty when the lookup fails.
    fn lookup_addr(&self, ip: IpAddr) -> Vec<String>;
}

/// A resolver that knows nothing: every lookup fails (the default, and the right choice
/// where no DNS is reachable).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn lookup_host(&self, _host: &str) -> Vec<String> {
        Vec::new()
    }

    fn lookup_addr(&self, _ip: IpAddr) -> Vec<String> {
        Vec::new()
    }
}

/// A resolver answering from fixed tables.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<String>>,
    ptrs: HashMap<IpAddr, Vec<String>>,
}

impl StaticResolver {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `addrs` for `host`.
    pub fn with_host(mut self, host: &str, addrs: &[&str]) -> Self {
        self.hosts.insert(
            host.to_owned(),
            addrs.iter().map(|s| (*s).to_owned()).collect(),
        );
        self
    }

    /// Answer `names` for the reverse lookup of `ip`.
    pub fn with_ptr(mut self, ip: IpAddr, names: &[&str]) -> Self {
        self.ptrs
            .insert(ip, names.iter().map(|s| (*s).to_owned()).collect());
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup_host(&self, host: &str) -> Vec<String> {
        self.hosts.get(host).cloned().unwrap_or_default()
    }

    fn lookup_addr(&self, ip: IpAddr) -> Vec<String> {
        self.ptrs.get(&ip).cloned().unwrap_or_default()
    }
}

/// Decision counts from the Local API database (`GetDecisionsCount` and friends), available
/// where a database is configured (LAPI profiles).
pub trait DecisionCounter: Send + Sync + std::fmt::Debug {
    /// Decisions (any state) whose value is `value`; `since` restricts to those created after
    /// that many nanoseconds ago; `active_only` to those not expired.
    fn count(
        &self,
        value: &str,
        since_nanos: Option<i64>,
        active_only: bool,
    ) -> Result<i64, String>;
    /// Nanoseconds left on the longest active decision for `value` (0 when none).
    fn time_left(&self, value: &str) -> Result<i64, String>;
}
