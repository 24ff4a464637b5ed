//! Enrichment methods called by statics (`method: GeoIpCity`...): dates, GeoIP, ASN,
//! IP ranges, reverse DNS and JSON decoding.
//!
//! The MaxMind readers are the ones the expression helpers use (opened once, shared
//! through an `Arc`); reverse DNS goes through the injected helpers' resolver so the
//! engine itself never touches the network.

pub mod date;
mod dns;
mod geoip;
pub mod gotime;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cs_expr_helpers::geoip::GeoIp;
use cs_expr_helpers::resolver::Resolver;
use cs_types::{Event, ExpectMode};

pub use dns::DnsCache;

/// An enrichment method a static can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `ParseDate`.
    ParseDate,
    /// `GeoIpCity`.
    GeoIpCity,
    /// `GeoIpASN`.
    GeoIpAsn,
    /// `IpToRange`.
    IpToRange,
    /// `reverse_dns`.
    ReverseDns,
    /// `UnmarshalJSON`.
    UnmarshalJson,
}

impl Method {
    /// The method for its upstream name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ParseDate" => Self::ParseDate,
            "GeoIpCity" => Self::GeoIpCity,
            "GeoIpASN" => Self::GeoIpAsn,
            "IpToRange" => Self::IpToRange,
            "reverse_dns" => Self::ReverseDns,
            "UnmarshalJSON" => Self::UnmarshalJson,
            _ => return None,
        })
    }

    /// The upstream name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ParseDate => "ParseDate",
            Self::GeoIpCity => "GeoIpCity",
            Self::GeoIpAsn => "GeoIpASN",
            Self::IpToRange => "IpToRange",
            Self::ReverseDns => "reverse_dns",
            Self::UnmarshalJson => "UnmarshalJSON",
        }
    }
}

/// The enrichment context shared by all nodes of a parser set.
#[derive(Clone, Default)]
pub struct Enrichers {
    geoip: Arc<GeoIp>,
    dns: Option<Arc<DnsCache>>,
}

impl std::fmt::Debug for Enrichers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrichers")
            .field("geoip", &*self.geoip)
            .field("reverse_dns", &self.dns.is_some())
            .finish()
    }
}

impl Enrichers {
    /// Enrichers over the GeoIP databases `geoip` (a missing database only disables the
    /// methods that need it, as upstream). `reverse_dns` is off until a resolver is given.
    pub fn new(geoip: Arc<GeoIp>) -> Self {
        Self { geoip, dns: None }
    }

    /// Uses `resolver` for `reverse_dns`, caching up to `cache_size` answers.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>, cache_size: usize) -> Self {
        self.dns = Some(Arc::new(DnsCache::new(resolver, cache_size)));
        self
    }

    /// Whether `method` can run (its database or resolver is available).
    pub fn is_available(&self, method: Method) -> bool {
        match method {
            Method::ParseDate | Method::UnmarshalJson => true,
            Method::GeoIpCity => self.geoip.has_city(),
            Method::GeoIpAsn | Method::IpToRange => self.geoip.has_asn(),
            Method::ReverseDns => self.dns.is_some(),
        }
    }

    /// Runs `method` on `value` and merges its output into `evt.Enriched`.
    pub fn apply(&self, method: Method, value: &str, evt: &mut Event, now: DateTime<Utc>) {
        match method {
            Method::ParseDate => {
                let parsed = date::parse_date(value, &evt.str_time_format, now);
                if evt.expect_mode == ExpectMode::TimeMachine
                    && let Some(t) = parsed.time
                {
                    evt.time = t;
                }
                evt.enriched
                    .insert("MarshaledTime".into(), parsed.marshaled.into());
            }
            Method::GeoIpCity => geoip::city(&self.geoip, value, &mut evt.enriched),
            Method::GeoIpAsn => geoip::asn(&self.geoip, value, &mut evt.enriched),
            Method::IpToRange => geoip::range(&self.geoip, value, &mut evt.enriched),
            Method::ReverseDns => {
                if let Some(dns) = &self.dns
                    && let Some(name) = dns.reverse(value)
                {
                    evt.enriched.insert("reverse_dns".into(), name.into());
                }
            }
            Method::UnmarshalJson => unmarshal_json(evt),
        }
    }
}

/// Decodes `Line.Raw` as a JSON object into `Unmarshaled` (merging, as Go's
/// `json.Unmarshal` into an existing map does). The value handed to the method is ignored.
fn unmarshal_json(evt: &mut Event) {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&evt.line.raw) {
        Ok(map) => evt
            .unmarshaled
            .extend(map.into_iter().map(|(k, v)| (k, go_numbers(v)))),
        Err(e) => tracing::trace!(error = %e, "UnmarshalJSON: line is not a JSON object"),
    }
}

/// Go decodes every JSON number into `float64`; expressions must see the same type.
fn go_numbers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(go_numbers).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, go_numbers(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: &str, raw: &str, value: &str, key: &str, expected: Option<&str>) {
        let m = Method::from_name(method).unwrap_or(Method::ParseDate);
        let mut evt = Event::new_log(raw, "file");
        Enrichers::default().apply(m, value, &mut evt, Utc::now());
        assert_eq!(evt.enriched.get(key).map(cs_types::Text::as_str), expected);
    }

    #[test]
    fn methods() {
        check(
            "ParseDate",
            "",
            "2012/11/01",
            "MarshaledTime",
            Some("2012-11-01T00:00:00Z"),
        );
        check("reverse_dns", "", "1.1.1.1", "reverse_dns", None);
        check("GeoIpCity", "", "1.1.1.1", "IsoCode", None);
        assert_eq!(
            Method::from_name("GeoIpASN").map(Method::name),
            Some("GeoIpASN")
        );
        assert_eq!(Method::from_name("Nope"), None);
    }

    #[test]
    fn unmarshal_merges_objects_and_ignores_garbage() {
        let mut evt = Event::new_log(r#"{"foo": "bar", "n": 42}"#, "file");
        unmarshal_json(&mut evt);
        assert_eq!(evt.unmarshaled.get("foo"), Some(&serde_json::json!("bar")));
        assert_eq!(evt.unmarshaled.get("n"), Some(&serde_json::json!(42.0)));
        let mut evt = Event::new_log("not json", "file");
        unmarshal_json(&mut evt);
        assert!(evt.unmarshaled.is_empty());
    }

    #[test]
    fn time_machine_sets_event_time() {
        let mut evt = Event::new_log("", "file");
        evt.expect_mode = ExpectMode::TimeMachine;
        Enrichers::default().apply(Method::ParseDate, "2012/11/01", &mut evt, Utc::now());
        assert_eq!(evt.time.to_rfc3339(), "2012-11-01T00:00:00+00:00");
    }
}
