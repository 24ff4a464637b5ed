//! `reverse_dns`: PTR lookups through an injected resolver, with a bounded cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use cs_expr_helpers::resolver::Resolver;

/// A resolver plus a cache of answers (failures included), bounded to `capacity`
/// entries. When full, the cache is emptied: lookups are rare next to parsing and a
/// simple bound keeps memory flat whatever the attacker-chosen addresses.
pub struct DnsCache {
    resolver: Arc<dyn Resolver>,
    capacity: usize,
    entries: Mutex<HashMap<IpAddr, Option<String>>>,
}

impl DnsCache {
    /// A cache of up to `capacity` answers (at least one).
    pub fn new(resolver: Arc<dyn Resolver>, capacity: usize) -> Self {
        Self {
            resolver,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The first PTR name of `value`, if it is an IP that resolves.
    pub fn reverse(&self, value: &str) -> Option<String> {
        let ip: IpAddr = value.parse().ok()?;
        if let Ok(entries) = self.entries.lock()
            && let Some(hit) = entries.get(&ip)
        {
            return hit.clone();
        }
        let answer = self.resolver.lookup_addr(ip).into_iter().next();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(ip, answer.clone());
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counting(AtomicUsize);

    impl Resolver for Counting {
        fn lookup_host(&self, _host: &str) -> Vec<String> {
            Vec::new()
        }

        fn lookup_addr(&self, ip: IpAddr) -> Vec<String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if ip.to_string() == "1.1.1.1" {
                vec!["one.one.one.one.".to_owned()]
            } else {
                Vec::new()
            }
        }
    }

    #[test]
    fn caches_answers_and_failures() {
        let resolver = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = DnsCache::new(resolver.clone(), 10);
        assert_eq!(
            cache.reverse("1.1.1.1").as_deref(),
            Some("one.one.one.one.")
        );
        assert_eq!(
            cache.reverse("1.1.1.1").as_deref(),
            Some("one.one.one.one.")
        );
        assert_eq!(cache.reverse("1.2.3.4"), None);
        assert_eq!(cache.reverse("1.2.3.4"), None);
        assert_eq!(cache.reverse("not-an-ip"), None);
        assert_eq!(resolver.0.load(Ordering::SeqCst), 2);
    }
}
