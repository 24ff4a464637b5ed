//! Named key/value caches behind parser `stash:` entries, `GetFromStash` and `SetInStash`
//! (upstream `pkg/cache`): bounded size, per-entry TTL. The caller passes "now" (the
//! expression environment's clock), so expiry follows an injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};

/// Eviction strategy when a cache is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Least recently used (the default).
    #[default]
    Lru,
    /// Least frequently used.
    Lfu,
    /// Adaptive replacement; approximated by LRU, which keeps the same bound on size.
    Arc,
}

impl Strategy {
    /// Parse upstream's names (`LRU`, `LFU`, `ARC`); empty means the default.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "" | "LRU" => Some(Self::Lru),
            "LFU" => Some(Self::Lfu),
            "ARC" => Some(Self::Arc),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: String,
    expires: Option<DateTime<Utc>>,
    last_used: u64,
    hits: u64,
}

#[derive(Debug)]
struct Cache {
    size: usize,
    ttl: Option<Duration>,
    strategy: Strategy,
    tick: u64,
    entries: HashMap<String, Entry>,
}

impl Cache {
    fn evict_one(&mut self, now: DateTime<Utc>) {
        // Expired entries go first; then the strategy's victim.
        let expired = self
            .entries
            .iter()
            .find(|(_, e)| e.expires.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone());
        let victim = expired.or_else(|| {
            self.entries
                .iter()
                .min_by_key(|(_, e)| match self.strategy {
                    Strategy::Lfu => (e.hits, e.last_used),
                    Strategy::Lru | Strategy::Arc => (e.last_used, 0),
                })
                .map(|(k, _)| k.clone())
        });
        if let Some(k) = victim {
            self.entries.remove(&k);
        }
    }
}

/// All named caches of one agent.
#[derive(Debug, Default)]
pub struct Stash {
    caches: RwLock<HashMap<String, Arc<Mutex<Cache>>>>,
}

impl Stash {
    /// No cache yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create the cache `name` (upstream `CacheInit`) unless it exists. `size` 0 means the
    /// upstream default of 100 entries; `ttl` is the default lifetime of an entry.
    pub fn init_cache(
        &self,
        name: &str,
        size: usize,
        ttl: Option<Duration>,
        strategy: &str,
    ) -> Result<()> {
        let strategy = Strategy::parse(strategy).ok_or_else(|| Error::Stash {
            name: name.to_owned(),
            reason: format!("unknown strategy '{strategy}' (LRU, LFU or ARC)"),
        })?;
        let mut caches = self
            .caches
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Mutex::new(Cache {
                size: if size == 0 { 100 } else { size },
                ttl,
                strategy,
                tick: 0,
                entries: HashMap::new(),
            }))
        });
        Ok(())
    }

    fn cache(&self, name: &str) -> Option<Arc<Mutex<Cache>>> {
        self.caches
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// `GetFromStash(cache, key)`: the value, or `None` when the cache or key is unknown or
    /// the entry expired.
    pub fn get(&self, name: &str, key: &str, now: DateTime<Utc>) -> Option<String> {
        let cache = self.cache(name)?;
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.tick += 1;
        let tick = cache.tick;
        let entry = cache.entries.get_mut(key)?;
        if entry.expires.is_some_and(|t| t <= now) {
            cache.entries.remove(key);
            return None;
        }
        entry.last_used = tick;
        entry.hits += 1;
        Some(entry.value.clone())
    }

    /// `SetInStash(cache, key, value, ttl)`: store `value`; `ttl` overrides the cache's default.
    /// Returns false when the cache does not exist (upstream only logs a warning).
    pub fn set(
        &self,
        name: &str,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(cache) = self.cache(name) else {
            tracing::warn!(cache = name, "stash cache not found");
            return false;
        };
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.tick += 1;
        let tick = cache.tick;
        let expires = ttl.or(cache.ttl).map(|d| now + d);
        if !cache.entries.contains_key(key) && cache.entries.len() >= cache.size {
            cache.evict_one(now);
        }
        cache.entries.insert(
            key.to_owned(),
            Entry {
                value: value.to_owned(),
                expires,
                last_used: tick,
                hits: 0,
            },
        );
        true
    }

    /// Number of live entries in `name` (for metrics).
    pub fn len(&self, name: &str, now: DateTime<Utc>) -> usize {
        self.cache(name).map_or(0, |c| {
            let c = c.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            c.entries
                .values()
                .filter(|e| e.expires.is_none_or(|t| t > now))
                .count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn ttl_expiry() {
        let stash = Stash::new();
        let now = t0();
        stash
            .init_cache("c", 10, Some(Duration::seconds(60)), "LRU")
            .expect("valid");
        assert!(stash.set("c", "k", "v", None, now));
        assert_eq!(stash.get("c", "k", now).as_deref(), Some("v"));
        assert_eq!(
            stash.get("c", "k", now + Duration::seconds(59)).as_deref(),
            Some("v")
        );
        assert_eq!(stash.get("c", "k", now + Duration::seconds(60)), None);
        assert!(stash.set("c", "k2", "v2", Some(Duration::seconds(5)), now));
        assert_eq!(stash.get("c", "k2", now + Duration::seconds(6)), None);
        assert_eq!(stash.get("nope", "k", now), None);
        assert!(!stash.set("nope", "k", "v", None, now));
    }

    #[test]
    fn size_bound() {
        let stash = Stash::new();
        let now = t0();
        stash.init_cache("lru", 2, None, "").expect("valid");
        stash.set("lru", "a", "1", None, now);
        stash.set("lru", "b", "2", None, now);
        assert!(stash.get("lru", "a", now).is_some());
        stash.set("lru", "c", "3", None, now);
        assert!(
            stash.get("lru", "b", now).is_none(),
            "least recently used entry evicted"
        );
        assert!(stash.get("lru", "a", now).is_some());
        assert_eq!(stash.len("lru", now), 2);

        stash.init_cache("lfu", 2, None, "LFU").expect("valid");
        stash.set("lfu", "a", "1", None, now);
        stash.set("lfu", "b", "2", None, now);
        stash.get("lfu", "a", now);
        stash.get("lfu", "a", now);
        stash.get("lfu", "b", now);
        stash.set("lfu", "c", "3", None, now);
        assert!(
            stash.get("lfu", "b", now).is_none(),
            "least frequently used entry evicted"
        );
        assert!(stash.init_cache("x", 1, None, "FIFO").is_err());
    }
}
