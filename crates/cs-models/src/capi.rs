//! Central API (`/v3`) bodies: registration, login, signals, decision stream, metrics.

use serde::{Deserialize, Serialize};

use crate::alert::MetaItem;
use crate::metrics::{MetricsAgentInfo, MetricsBouncerInfo};
use crate::nullable::{is_false, is_zero_i64, null_default};

/// Body of `POST /v3/watchers` (register).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterRequest {
    /// Machine id, `[a-zA-Z0-9]+` (required).
    pub machine_id: Option<String>,
    /// Password (required).
    pub password: Option<String>,
}

/// Body of `POST /v3/watchers/login`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginRequest {
    /// Machine id, 48 alphanumeric characters (required).
    pub machine_id: Option<String>,
    /// Password (required).
    pub password: Option<String>,
    /// Every scenario installed on the machines of this LAPI.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub scenarios: Vec<String>,
}

/// Answer of `POST /v3/watchers/login`.
pub type LoginResponse = crate::watcher::WatcherAuthResponse;

/// Body of `POST /v3/watchers/reset`.
pub type ResetPasswordRequest = RegisterRequest;

/// Body of `POST /v3/watchers/enroll`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnrollRequest {
    /// Key from the console account (required).
    pub attachment_key: Option<String>,
    /// Display name in the console.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Re-enroll an already enrolled instance.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub overwrite: bool,
    /// Console tags.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
}

/// Source of a signal: the same shape as an alert's [`crate::Source`] in the Central API contract.
pub type SignalSource = crate::Source;

/// Decision of a signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalDecision {
    /// Duration (required).
    pub duration: Option<String>,
    /// Local decision id (required).
    pub id: Option<i64>,
    /// Origin (required).
    pub origin: Option<String>,
    /// Scenario (required).
    pub scenario: Option<String>,
    /// Scope (required).
    pub scope: Option<String>,
    /// Simulated.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub simulated: bool,
    /// Type (required).
    pub r#type: Option<String>,
    /// Expiry date.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub until: String,
    /// Decision UUID.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub uuid: String,
    /// Value (required).
    pub value: Option<String>,
}

/// One signal of `POST /v3/signals` (`AddSignalsRequestItem`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddSignalsRequestItem {
    /// Local alert id.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub alert_id: i64,
    /// Alert context, only when context sharing is enabled.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub context: Vec<MetaItem>,
    /// Creation date.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub created_at: String,
    /// Decisions of the alert.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub decisions: Vec<SignalDecision>,
    /// Alert kind.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub kind: String,
    /// Local machine id.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub machine_id: String,
    /// Message (required).
    pub message: Option<String>,
    /// Scenario (required).
    pub scenario: Option<String>,
    /// Scenario hash (required).
    pub scenario_hash: Option<String>,
    /// `certified`, `tainted`, `custom` or `manual`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub scenario_trust: String,
    /// Scenario version (required).
    pub scenario_version: Option<String>,
    /// Source (required).
    pub source: Option<SignalSource>,
    /// Start date (required).
    pub start_at: Option<String>,
    /// Stop date (required).
    pub stop_at: Option<String>,
    /// Alert UUID.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub uuid: String,
}

/// Body of `POST /v3/signals`.
pub type AddSignalsRequest = Vec<AddSignalsRequestItem>;

/// Body of `POST /v3/decisions/delete`: decision UUIDs.
pub type DecisionsDeleteRequest = Vec<String>;

/// Answer of `GET /v3/decisions/stream`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GetDecisionsStreamResponse {
    /// Values to remove, grouped by scope.
    #[serde(deserialize_with = "null_default")]
    pub deleted: Vec<StreamDeletedItem>,
    /// Blocklist and allowlist links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<StreamLinks>,
    /// New decisions, grouped by scenario and scope.
    #[serde(deserialize_with = "null_default")]
    pub new: Vec<StreamNewItem>,
}

/// Group of new community decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamNewItem {
    /// Decisions (required).
    #[serde(deserialize_with = "null_default")]
    pub decisions: Vec<StreamNewDecision>,
    /// Scenario (required).
    pub scenario: Option<String>,
    /// Scope (required).
    pub scope: Option<String>,
}

/// One new community decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamNewDecision {
    /// Go duration (required).
    pub duration: Option<String>,
    /// Value (required).
    pub value: Option<String>,
}

/// Group of deleted community decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamDeletedItem {
    /// Deleted values (required).
    #[serde(deserialize_with = "null_default")]
    pub decisions: Vec<String>,
    /// Scope (required).
    pub scope: Option<String>,
}

/// Links of the CAPI decision stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamLinks {
    /// Allowlists to sync.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub allowlists: Vec<AllowlistLink>,
    /// Blocklists to download.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub blocklists: Vec<BlocklistLink>,
}

/// A subscribed blocklist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlocklistLink {
    /// Go duration of the decisions (required).
    pub duration: Option<String>,
    /// Blocklist name (required).
    pub name: Option<String>,
    /// Decision type (required).
    pub remediation: Option<String>,
    /// Decision scope (required).
    pub scope: Option<String>,
    /// Pre-signed download URL (required).
    pub url: Option<String>,
}

/// A subscribed allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllowlistLink {
    /// Creation date (required).
    pub created_at: Option<String>,
    /// Description (required).
    pub description: Option<String>,
    /// Allowlist id (required).
    pub id: Option<String>,
    /// Name (required).
    pub name: Option<String>,
    /// Last update date (required).
    pub updated_at: Option<String>,
    /// Download URL (required).
    pub url: Option<String>,
}

/// One JSON line of a downloaded allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllowlistContentLine {
    /// Creation date.
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
    /// Comment.
    #[serde(deserialize_with = "null_default")]
    pub description: String,
    /// Expiry date, empty for none.
    #[serde(deserialize_with = "null_default")]
    pub expiration: String,
    /// IP or CIDR.
    #[serde(deserialize_with = "null_default")]
    pub value: String,
}

/// Body of `POST /v3/metrics/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsRequest {
    /// LAPI version.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub apil_version: String,
    /// Bouncers (required).
    #[serde(deserialize_with = "null_default")]
    pub bouncers: Vec<MetricsBouncerInfo>,
    /// Machines (required).
    #[serde(deserialize_with = "null_default")]
    pub machines: Vec<MetricsAgentInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_stream_parses() {
        let body = r#"{"new":[{"scenario":"crowdsecurity/ssh-bf","scope":"ip","decisions":[{"value":"1.2.3.4","duration":"24h"}]}],"deleted":[{"scope":"ip","decisions":["5.6.7.8"]}],"links":{"blocklists":[{"name":"bl","url":"http://x","remediation":"ban","scope":"ip","duration":"24h"}]}}"#;
        let r: GetDecisionsStreamResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.new[0].decisions[0].value.as_deref(), Some("1.2.3.4"));
        assert_eq!(r.deleted[0].decisions, vec!["5.6.7.8".to_owned()]);
        assert_eq!(
            r.links.unwrap().blocklists[0].remediation.as_deref(),
            Some("ban")
        );
    }

    #[test]
    fn signal_serializes_required_fields() {
        let s = AddSignalsRequestItem {
            scenario: Some("s".into()),
            uuid: "u".into(),
            ..AddSignalsRequestItem::default()
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"message":null,"scenario":"s","scenario_hash":null,"scenario_version":null,"source":null,"start_at":null,"stop_at":null,"uuid":"u"}"#
        );
    }
}
