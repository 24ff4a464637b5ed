//! `Event` (the pipeline event, `evt` in expressions), its `Line` and the overflow `RuntimeAlert`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::{GoTime, zero_time};
use cs_models::{Alert, Source};

pub use crate::strmap::StrMap;

/// A key or value of a [`StrMap`]: a string kept inline up to 24 bytes.
pub type Text = compact_str::CompactString;

/// Kind of event (`Type`): Go's `LOG`, `OVFLW` and `APPSEC` constants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A log line (0).
    #[default]
    Log,
    /// A bucket overflow (1).
    Overflow,
    /// An AppSec (WAF) event (2).
    Appsec,
}

impl EventType {
    /// The integer upstream stores in `Event.Type`.
    pub fn as_int(self) -> i64 {
        match self {
            Self::Log => 0,
            Self::Overflow => 1,
            Self::Appsec => 2,
        }
    }

    /// The type for an upstream integer; unknown values are `None`.
    pub fn from_int(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Log),
            1 => Some(Self::Overflow),
            2 => Some(Self::Appsec),
            _ => None,
        }
    }
}

/// How event time is interpreted (`ExpectMode`): live (wall clock) or time-machine (log time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExpectMode {
    /// Tailing live logs (0).
    #[default]
    Live,
    /// Replaying logs, buckets use log timestamps (1).
    TimeMachine,
}

impl ExpectMode {
    /// The integer upstream stores in `Event.ExpectMode`.
    pub fn as_int(self) -> i64 {
        match self {
            Self::Live => 0,
            Self::TimeMachine => 1,
        }
    }
}

macro_rules! int_serde {
    ($ty:ty, $from:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.as_int())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = i64::deserialize(d)?;
                let from: fn(i64) -> Option<$ty> = $from;
                from(v).ok_or_else(|| serde::de::Error::custom(format!("invalid value {v}")))
            }
        }
    };
}

int_serde!(EventType, EventType::from_int);
int_serde!(ExpectMode, |v| match v {
    0 => Some(ExpectMode::Live),
    1 => Some(ExpectMode::TimeMachine),
    _ => None,
});

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The acquisition part of an event (`Line`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    /// The raw log line, without trailing newline (`Raw`).
    #[serde(rename = "Raw", skip_serializing_if = "String::is_empty")]
    pub raw: String,
    /// Source identifier: file path, journal filter, syslog peer... (`Src`).
    #[serde(rename = "Src", skip_serializing_if = "String::is_empty")]
    pub src: String,
    /// Acquisition time (`Time`).
    #[serde(rename = "Time")]
    pub time: GoTime,
    /// Acquisition labels; `type` is the log type (`Labels`).
    #[serde(rename = "Labels", skip_serializing_if = "StrMap::is_empty")]
    pub labels: StrMap,
    /// Always true from acquisition (`Process`).
    #[serde(rename = "Process", skip_serializing_if = "is_default")]
    pub process: bool,
    /// Datasource name: `file`, `journalctl`, `syslog`... (`Module`).
    #[serde(rename = "Module", skip_serializing_if = "String::is_empty")]
    pub module: String,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            raw: String::new(),
            src: String::new(),
            time: zero_time(),
            labels: StrMap::new(),
            process: false,
            module: String::new(),
        }
    }
}

/// WAF data of an AppSec event (`Appsec`); only the parts expressions read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppsecEvent {
    /// Whether an in-band rule matched (`HasInBandMatches`).
    #[serde(rename = "HasInBandMatches", skip_serializing_if = "is_default")]
    pub has_in_band_matches: bool,
    /// Whether an out-of-band rule matched (`HasOutBandMatches`).
    #[serde(rename = "HasOutBandMatches", skip_serializing_if = "is_default")]
    pub has_out_band_matches: bool,
    /// Matched rules, each a map of rule attributes (`MatchedRules`).
    #[serde(rename = "MatchedRules", skip_serializing_if = "Vec::is_empty")]
    pub matched_rules: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Transaction variables (`Vars`).
    #[serde(rename = "Vars", skip_serializing_if = "StrMap::is_empty")]
    pub vars: StrMap,
}

/// An overflow (`Overflow`, JSON key `Alert`): the alert(s) a bucket produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeAlert {
    /// Bucket key (hex sha1) (`Mapkey`).
    #[serde(rename = "MapKey", skip_serializing_if = "String::is_empty")]
    pub mapkey: String,
    /// Unused upstream, kept for shape compatibility (`BucketId`).
    #[serde(rename = "BucketId", skip_serializing_if = "String::is_empty")]
    pub bucket_id: String,
    /// Set when a postoverflow whitelist matched (`Whitelisted`).
    #[serde(rename = "Whitelisted", skip_serializing_if = "is_default")]
    pub whitelisted: bool,
    /// Copied from the scenario's `reprocess` (`Reprocess`).
    #[serde(rename = "Reprocess", skip_serializing_if = "is_default")]
    pub reprocess: bool,
    /// Sources keyed by their value (IP, range or scope-expression result) (`Sources`).
    #[serde(rename = "Sources", skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, Source>,
    /// The alert: upstream points it at `APIAlerts[0]`; `None` on log events (`Alert`).
    #[serde(rename = "Alert", skip_serializing_if = "Option::is_none")]
    pub alert: Option<Box<Alert>>,
    /// One alert per source, identical except for `Source` (`APIAlerts`).
    #[serde(rename = "APIAlerts", skip_serializing_if = "Vec::is_empty")]
    pub api_alerts: Vec<Alert>,
}

impl RuntimeAlert {
    /// Keys of `Sources` (upstream's `GetSources`).
    pub fn get_sources(&self) -> Vec<&str> {
        self.sources.keys().map(String::as_str).collect()
    }
}

/// The pipeline event (`evt` in expressions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// LOG, OVFLW or APPSEC (`Type`).
    #[serde(rename = "Type", skip_serializing_if = "is_default")]
    pub r#type: EventType,
    /// LIVE or TIMEMACHINE (`ExpectMode`).
    #[serde(rename = "ExpectMode", skip_serializing_if = "is_default")]
    pub expect_mode: ExpectMode,
    /// Set by a whitelist node (`Whitelisted`).
    #[serde(rename = "Whitelisted", skip_serializing_if = "is_default")]
    pub whitelisted: bool,
    /// Reason of the first whitelist that matched (`WhitelistReason`).
    #[serde(rename = "whitelist_reason", skip_serializing_if = "String::is_empty")]
    pub whitelist_reason: String,
    /// Current parser stage (`Stage`).
    #[serde(rename = "Stage", skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// Acquisition data (`Line`).
    #[serde(rename = "Line")]
    pub line: Line,
    /// Grok captures and `parsed:` statics (`Parsed`).
    #[serde(rename = "Parsed", skip_serializing_if = "StrMap::is_empty")]
    pub parsed: StrMap,
    /// Enricher outputs and `enriched:` statics (`Enriched`).
    #[serde(rename = "Enriched", skip_serializing_if = "StrMap::is_empty")]
    pub enriched: StrMap,
    /// Decoded JSON / key-value structures (`Unmarshaled`).
    #[serde(
        rename = "Unmarshaled",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub unmarshaled: serde_json::Map<String, serde_json::Value>,
    /// The overflow, for OVFLW events (`Overflow`, JSON `Alert`).
    #[serde(rename = "Alert")]
    pub overflow: RuntimeAlert,
    /// Event time: wall clock at parse start, or the log date in time-machine mode (`Time`).
    #[serde(rename = "Time")]
    pub time: GoTime,
    /// Raw date text extracted by a parser (`StrTime`).
    #[serde(rename = "StrTime", skip_serializing_if = "String::is_empty")]
    pub str_time: String,
    /// Go layout tried first by `ParseDate` (`StrTimeFormat`).
    #[serde(rename = "StrTimeFormat", skip_serializing_if = "String::is_empty")]
    pub str_time_format: String,
    /// RFC3339 text of the log date (`MarshaledTime`).
    #[serde(rename = "MarshaledTime", skip_serializing_if = "String::is_empty")]
    pub marshaled_time: String,
    /// False ⇒ dropped (`Process`).
    #[serde(rename = "Process", skip_serializing_if = "is_default")]
    pub process: bool,
    /// WAF data (`Appsec`).
    #[serde(rename = "Appsec")]
    pub appsec: AppsecEvent,
    /// Normalised fields, the only per-event data sent to the LAPI (`Meta`).
    #[serde(rename = "Meta", skip_serializing_if = "StrMap::is_empty")]
    pub meta: StrMap,
}

impl Default for Event {
    fn default() -> Self {
        Self {
            r#type: EventType::Log,
            expect_mode: ExpectMode::Live,
            whitelisted: false,
            whitelist_reason: String::new(),
            stage: String::new(),
            line: Line::default(),
            parsed: StrMap::new(),
            enriched: StrMap::new(),
            unmarshaled: serde_json::Map::new(),
            overflow: RuntimeAlert::default(),
            time: zero_time(),
            str_time: String::new(),
            str_time_format: String::new(),
            marshaled_time: String::new(),
            process: false,
            appsec: AppsecEvent::default(),
            meta: StrMap::new(),
        }
    }
}

impl Event {
    /// A LOG event for a raw line read by datasource `module`, with `Process` set as
    /// acquisition does.
    pub fn new_log(raw: impl Into<String>, module: impl Into<String>) -> Self {
        Self {
            line: Line {
                raw: raw.into(),
                module: module.into(),
                process: true,
                ..Line::default()
            },
            process: true,
            ..Self::default()
        }
    }

    /// Upstream's `GetMeta`: LOG ⇒ `Meta[key]`; OVFLW ⇒ the first non-empty value of `key` in
    /// the events of `Overflow.APIAlerts`; otherwise `""`.
    pub fn get_meta(&self, key: &str) -> &str {
        match self.r#type {
            EventType::Log => self.meta.get(key).map_or("", Text::as_str),
            EventType::Overflow => self
                .overflow
                .api_alerts
                .iter()
                .flat_map(|alert| alert.events())
                .map(|event| event.get_meta(key))
                .find(|value| !value.is_empty())
                .unwrap_or(""),
            EventType::Appsec => "",
        }
    }

    /// Upstream's `SetMeta`: sets `Meta[key]` and returns `true`.
    pub fn set_meta(&mut self, key: impl Into<Text>, value: impl Into<Text>) -> bool {
        self.meta.insert(key.into(), value.into());
        true
    }

    /// Upstream's `SetParsed`: sets `Parsed[key]` and returns `true`.
    pub fn set_parsed(&mut self, key: impl Into<Text>, value: impl Into<Text>) -> bool {
        self.parsed.insert(key.into(), value.into());
        true
    }

    /// Upstream's `GetType`: `"log"`, `"overflow"`, or `"unknown"`.
    pub fn get_type(&self) -> &'static str {
        match self.r#type {
            EventType::Log => "log",
            EventType::Overflow => "overflow",
            EventType::Appsec => "unknown",
        }
    }

    /// Upstream's `ParseIPSources`: LOG ⇒ `Meta["source_ip"]` if it is an IP; OVFLW ⇒ the
    /// keys of `Overflow.Sources` that are IPs.
    pub fn parse_ip_sources(&self) -> Vec<IpAddr> {
        match self.r#type {
            EventType::Log => self
                .meta
                .get("source_ip")
                .and_then(|ip| ip.parse().ok())
                .into_iter()
                .collect(),
            EventType::Overflow => self
                .overflow
                .sources
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect(),
            EventType::Appsec => Vec::new(),
        }
    }
}

/// One record of the parser dump (`results[stage][node][i]` in hubtest asserts): the event as
/// it left a top-level node and whether the node succeeded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParserResult {
    /// 1-based order of first appearance of the node in its stage (`Idx`).
    #[serde(rename = "Idx")]
    pub idx: i64,
    /// Copy of the event after the node (`Evt`).
    #[serde(rename = "Evt")]
    pub evt: Event,
    /// Whether the node succeeded (`Success`).
    #[serde(rename = "Success")]
    pub success: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cs_models::{Event as AlertEvent, MetaItem};

    fn overflow_with_events(metas: &[&[(&str, &str)]]) -> Event {
        let events = metas
            .iter()
            .map(|m| AlertEvent {
                meta: m.iter().map(|(k, v)| MetaItem::new(*k, *v)).collect(),
                timestamp: None,
            })
            .collect();
        let alert = Alert {
            events: Some(events),
            ..Alert::default()
        };
        Event {
            r#type: EventType::Overflow,
            overflow: RuntimeAlert {
                alert: Some(Box::new(alert.clone())),
                api_alerts: vec![alert],
                ..RuntimeAlert::default()
            },
            ..Event::default()
        }
    }

    fn check(evt: &Event, key: &str, expected: &str) {
        assert_eq!(evt.get_meta(key), expected, "GetMeta({key})");
    }

    #[test]
    fn get_meta_on_log_reads_meta() {
        let mut evt = Event::new_log("x", "file");
        evt.set_meta("service", "ssh");
        check(&evt, "service", "ssh");
        check(&evt, "nope", "");
    }

    #[test]
    fn get_meta_on_overflow_returns_first_non_empty() {
        let evt = overflow_with_events(&[&[("a", "")], &[("a", "2"), ("b", "3")], &[("a", "4")]]);
        check(&evt, "a", "2");
        check(&evt, "b", "3");
        check(&evt, "c", "");
    }

    #[test]
    fn appsec_events_have_no_meta_and_unknown_type() {
        let mut evt = Event {
            r#type: EventType::Appsec,
            ..Event::default()
        };
        evt.meta.insert("a".into(), "b".into());
        check(&evt, "a", "");
        assert_eq!(evt.get_type(), "unknown");
    }

    #[test]
    fn parse_ip_sources_by_type() {
        let mut evt = Event::new_log("x", "file");
        assert!(evt.parse_ip_sources().is_empty());
        evt.set_meta("source_ip", "1.2.3.4");
        assert_eq!(
            evt.parse_ip_sources(),
            vec!["1.2.3.4".parse::<IpAddr>().unwrap()]
        );
        let mut ovf = overflow_with_events(&[]);
        ovf.overflow.sources.insert("::1".into(), Source::default());
        ovf.overflow
            .sources
            .insert("user:bob".into(), Source::default());
        assert_eq!(
            ovf.parse_ip_sources(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(ovf.overflow.get_sources(), vec!["::1", "user:bob"]);
    }

    #[test]
    fn json_uses_upstream_keys_and_int_types() {
        let mut evt = Event::new_log("line", "file");
        evt.set_parsed("program", "sshd");
        let json = serde_json::to_value(&evt).unwrap();
        assert_eq!(json["Line"]["Raw"], "line");
        assert_eq!(json["Parsed"]["program"], "sshd");
        assert_eq!(json["Process"], true);
        assert!(
            json.get("Type").is_none(),
            "LOG is the zero value and omitted"
        );
        let ovf = Event {
            r#type: EventType::Overflow,
            ..Event::default()
        };
        let json = serde_json::to_value(&ovf).unwrap();
        assert_eq!(json["Type"], 1);
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back.r#type, EventType::Overflow);
    }
}
