//! `Alert`, `Event`, `Meta` and `Source`: the alert pushed by agents and returned by `GET /v1/alerts`.

use serde::{Deserialize, Serialize};

use crate::decision::Decision;
use crate::nullable::{is_false, is_zero_f32, is_zero_i64, null_default, null_default_f32};

/// One `{key, value}` pair of a [`Meta`] list (`MetaItems0` upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaItem {
    /// Meta key (`source_ip`, `log_type`, ...).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub key: String,
    /// Meta value.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub value: String,
}

impl MetaItem {
    /// Builds an item from a key and a value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A list of key/value pairs: alert context or the meta of one alert event.
pub type Meta = Vec<MetaItem>;

/// Returns the value of the first item named `key`, or `""` (upstream's `GetMeta`).
fn meta_get<'a>(meta: &'a [MetaItem], key: &str) -> &'a str {
    meta.iter()
        .find(|m| m.key == key)
        .map_or("", |m| m.value.as_str())
}

/// An event of an alert: its timestamp and the meta of the log event (`models.Event`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// Meta of the event, keys sorted ascending by the agent.
    #[serde(deserialize_with = "null_default")]
    pub meta: Meta,
    /// Event time: RFC3339 on input, Go `Time.String()` form on LAPI output.
    pub timestamp: Option<String>,
}

impl Event {
    /// Value of the meta `key`, or `""`.
    pub fn get_meta(&self, key: &str) -> &str {
        meta_get(&self.meta, key)
    }
}

/// Source of an alert (`models.Source`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    /// AS organisation name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub as_name: String,
    /// AS number.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub as_number: String,
    /// ISO country code.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub cn: String,
    /// Source IP (Ip and Range scopes).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub ip: String,
    /// Latitude from GeoIP enrichment.
    #[serde(
        skip_serializing_if = "is_zero_f32",
        deserialize_with = "null_default_f32"
    )]
    pub latitude: f32,
    /// Longitude from GeoIP enrichment.
    #[serde(
        skip_serializing_if = "is_zero_f32",
        deserialize_with = "null_default_f32"
    )]
    pub longitude: f32,
    /// CIDR of the source network.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub range: String,
    /// `Ip`, `Range`, or any custom scope (required).
    pub scope: Option<String>,
    /// The IP, CIDR or custom value (required).
    pub value: Option<String>,
}

impl Source {
    /// Scope, or `""` when absent.
    pub fn get_scope(&self) -> &str {
        self.scope.as_deref().unwrap_or("")
    }

    /// Value, or `""` when absent.
    pub fn get_value(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// `"<as_number> <as_name>"` as upstream's `GetAsNumberName` (a `0` AS number is omitted).
    pub fn get_as_number_name(&self) -> String {
        let mut ret = String::new();
        if self.as_number != "0" {
            ret.push_str(&self.as_number);
        }
        if !self.as_name.is_empty() {
            ret.push(' ');
            ret.push_str(&self.as_name);
        }
        ret
    }
}

/// An alert (`models.Alert`): what `POST /v1/alerts` receives and `GET /v1/alerts` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    /// Scenario capacity (required).
    pub capacity: Option<i32>,
    /// Creation time, RFC3339 (LAPI output only).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub created_at: String,
    /// Decisions attached to the alert; `null` when none.
    pub decisions: Option<Vec<Decision>>,
    /// Events that led to the overflow (required, `null` when absent).
    pub events: Option<Vec<Event>>,
    /// Number of events poured into the bucket (required).
    pub events_count: Option<i32>,
    /// Database id (LAPI output only).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub id: i64,
    /// Origin of the alert: `crowdsec`, `waf`, `capi`, `papi`, `cscli`...
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub kind: String,
    /// Free labels; `null` when none.
    pub labels: Option<Vec<String>>,
    /// Leak speed as a Go duration string (required).
    pub leakspeed: Option<String>,
    /// Owner machine, set by the LAPI.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub machine_id: String,
    /// Human readable message (required).
    pub message: Option<String>,
    /// Alert context.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub meta: Meta,
    /// Whether the scenario asks for a remediation.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub remediation: bool,
    /// Scenario name (required).
    pub scenario: Option<String>,
    /// sha256 of the scenario file (required).
    pub scenario_hash: Option<String>,
    /// Hub version of the scenario (required).
    pub scenario_version: Option<String>,
    /// Scenario in simulation mode (required).
    pub simulated: Option<bool>,
    /// Source of the alert (required).
    pub source: Option<Source>,
    /// Time of the first event (required).
    pub start_at: Option<String>,
    /// Overflow time (required).
    pub stop_at: Option<String>,
    /// UUID generated by the LAPI on insert.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub uuid: String,
}

impl Alert {
    /// Source scope, or `""`.
    pub fn get_scope(&self) -> &str {
        self.source.as_ref().map_or("", Source::get_scope)
    }

    /// Source value, or `""`.
    pub fn get_value(&self) -> &str {
        self.source.as_ref().map_or("", Source::get_value)
    }

    /// Scenario, or `""`.
    pub fn get_scenario(&self) -> &str {
        self.scenario.as_deref().unwrap_or("")
    }

    /// Number of events, or 0.
    pub fn get_events_count(&self) -> i32 {
        self.events_count.unwrap_or(0)
    }

    /// Value of the alert meta `key`, or `""`.
    pub fn get_meta(&self, key: &str) -> &str {
        meta_get(&self.meta, key)
    }

    /// Events, or an empty slice.
    pub fn events(&self) -> &[Event] {
        self.events.as_deref().unwrap_or(&[])
    }

    /// Decisions, or an empty slice.
    pub fn decisions(&self) -> &[Decision] {
        self.decisions.as_deref().unwrap_or(&[])
    }

    /// Whether the alert is simulated (`false` when absent).
    pub fn is_simulated(&self) -> bool {
        self.simulated.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(alert: &Alert, expected: &str) {
        assert_eq!(serde_json::to_string(alert).unwrap(), expected);
        let back: Alert = serde_json::from_str(expected).unwrap();
        assert_eq!(&back, alert);
    }

    #[test]
    fn empty_alert_writes_required_fields_as_null() {
        check(
            &Alert::default(),
            r#"{"capacity":null,"decisions":null,"events":null,"events_count":null,"labels":null,"leakspeed":null,"message":null,"scenario":null,"scenario_hash":null,"scenario_version":null,"simulated":null,"source":null,"start_at":null,"stop_at":null}"#,
        );
    }

    #[test]
    fn coordinates_beyond_float32_are_refused() {
        let ok: Source = serde_json::from_str(r#"{"latitude":48.85,"longitude":null}"#).unwrap();
        assert!((ok.latitude - 48.85).abs() < 1e-4);
        assert_eq!(ok.longitude, 0.0);
        let err = serde_json::from_str::<Source>(r#"{"longitude":1e300}"#).unwrap_err();
        assert!(err.to_string().contains("overflows float32"), "{err}");
    }

    #[test]
    fn agent_alert_round_trips() {
        let body = r#"{"capacity":5,"decisions":null,"events":[{"meta":[{"key":"log_type","value":"ssh_failed-auth"},{"key":"source_ip","value":"35.188.49.176"}],"timestamp":"2026-02-12T14:10:21Z"}],"events_count":6,"labels":null,"leakspeed":"10s","message":"Ip 35.188.49.176 performed 'crowdsecurity/ssh-bf' (6 events over 1s)","remediation":true,"scenario":"crowdsecurity/ssh-bf","scenario_hash":"4441dcff","scenario_version":"0.1","simulated":false,"source":{"ip":"35.188.49.176","scope":"Ip","value":"35.188.49.176"},"start_at":"2026-02-12T14:10:21Z","stop_at":"2026-02-12T14:10:22Z"}"#;
        let alert: Alert = serde_json::from_str(body).unwrap();
        assert_eq!(alert.get_scope(), "Ip");
        assert_eq!(alert.get_value(), "35.188.49.176");
        assert_eq!(alert.events()[0].get_meta("log_type"), "ssh_failed-auth");
        assert_eq!(alert.events()[0].get_meta("missing"), "");
        check(&alert, body);
    }

    #[test]
    fn null_and_unknown_fields_are_accepted_on_input() {
        let alert: Alert = serde_json::from_str(
            r#"{"id":null,"meta":null,"kind":null,"source":{"latitude":null,"scope":"Ip","value":"1.2.3.4"},"future_field":[1]}"#,
        )
        .unwrap();
        assert_eq!(alert.id, 0);
        assert!(alert.meta.is_empty());
        assert_eq!(alert.get_value(), "1.2.3.4");
    }

    #[test]
    fn as_number_name_skips_zero_as() {
        let mut s = Source {
            as_number: "0".into(),
            as_name: "Org".into(),
            ..Source::default()
        };
        assert_eq!(s.get_as_number_name(), " Org");
        s.as_number = "15169".into();
        assert_eq!(s.get_as_number_name(), "15169 Org");
    }
}
