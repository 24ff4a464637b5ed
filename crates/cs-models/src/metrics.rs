//! Usage metrics (`POST /v1/usage-metrics`, `POST /v3/usage-metrics`) and the legacy
//! bouncer/agent info items of `POST /v3/metrics/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::nullable::{is_zero_i64, null_default};

/// Body of `POST /v1/usage-metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllMetrics {
    /// Metrics of the LAPI itself (only LAPI to CAPI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapi: Option<LapiMetrics>,
    /// Log processors (agents): a machine sends exactly one item.
    pub log_processors: Option<Vec<LogProcessorsMetrics>>,
    /// Remediation components (bouncers): a bouncer sends exactly one item.
    pub remediation_components: Option<Vec<RemediationComponentsMetrics>>,
}

/// Fields common to every usage metrics item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaseMetrics {
    /// Enabled feature flags.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub feature_flags: Vec<String>,
    /// Metric windows.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub metrics: Vec<DetailedMetrics>,
    /// Operating system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsVersion>,
    /// Start time of the component, Unix seconds (required).
    pub utc_startup_timestamp: Option<i64>,
    /// Component version (required).
    pub version: Option<String>,
}

/// Operating system description (`OSversion`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OsVersion {
    /// OS family.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub family: String,
    /// OS name (required).
    pub name: Option<String>,
    /// OS version (required).
    pub version: Option<String>,
}

/// One window of metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetailedMetrics {
    /// Metric values (required).
    pub items: Option<Vec<MetricsDetailItem>>,
    /// Window description (required).
    pub meta: Option<MetricsMeta>,
}

/// One metric value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsDetailItem {
    /// Labels of the metric.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub labels: BTreeMap<String, String>,
    /// Metric name (required).
    pub name: Option<String>,
    /// Unit (required).
    pub unit: Option<String>,
    /// Value (required).
    pub value: Option<f64>,
}

/// Window of a [`DetailedMetrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsMeta {
    /// End of the window, Unix seconds (required).
    pub utc_now_timestamp: Option<i64>,
    /// Window size in seconds (required).
    pub window_size_seconds: Option<i64>,
}

/// Usage metrics of a bouncer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemediationComponentsMetrics {
    /// Common fields.
    #[serde(flatten)]
    pub base: BaseMetrics,
    /// Last pull, Unix seconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub last_pull: i64,
    /// Bouncer name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Bouncer type.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub r#type: String,
}

/// Hub items per item type (`parsers`, `scenarios`...).
pub type HubItems = BTreeMap<String, Vec<HubItem>>;

/// One installed hub item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HubItem {
    /// Item name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// `official`, `custom`, `tainted`...
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub status: String,
    /// Item version.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub version: String,
}

/// Usage metrics of an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogProcessorsMetrics {
    /// Common fields.
    #[serde(flatten)]
    pub base: BaseMetrics,
    /// Number of datasources per type (required).
    #[serde(deserialize_with = "null_default")]
    pub datasources: BTreeMap<String, i64>,
    /// Installed hub items (required).
    #[serde(deserialize_with = "null_default")]
    pub hub_items: HubItems,
    /// Last push, Unix seconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub last_push: i64,
    /// Last update, Unix seconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub last_update: i64,
    /// Agent name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
}

/// Usage metrics of the LAPI (pushed to CAPI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LapiMetrics {
    /// Common fields.
    #[serde(flatten)]
    pub base: BaseMetrics,
    /// Enabled console options (`custom`, `tainted`, `manual`, `context`, ...).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub console_options: Vec<String>,
}

/// Bouncer entry of the legacy metrics push (`MetricsBouncerInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsBouncerInfo {
    /// Bouncer name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub custom_name: String,
    /// Last pull, RFC3339 or empty.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub last_pull: String,
    /// Bouncer type.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Bouncer version.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub version: String,
}

/// Agent entry of the legacy metrics push (`MetricsAgentInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsAgentInfo {
    /// Last push, RFC3339.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub last_push: String,
    /// Last update, RFC3339.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub last_update: String,
    /// Machine id.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Agent version.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bouncer_usage_metrics_parse() {
        let body = r#"{"remediation_components":[{"version":"v0.0.31","os":{"name":"debian","version":"12"},"type":"crowdsec-firewall-bouncer","name":"fw","utc_startup_timestamp":1700000000,"feature_flags":[],"metrics":[{"meta":{"window_size_seconds":1800,"utc_now_timestamp":1700001800},"items":[{"name":"dropped","value":12,"unit":"packet","labels":{"origin":"CAPI"}}]}]}]}"#;
        let m: AllMetrics = serde_json::from_str(body).unwrap();
        let rc = &m.remediation_components.as_ref().unwrap()[0];
        assert_eq!(rc.r#type, "crowdsec-firewall-bouncer");
        assert_eq!(rc.base.version.as_deref(), Some("v0.0.31"));
        let item = &rc.base.metrics[0].items.as_ref().unwrap()[0];
        assert_eq!(item.value, Some(12.0));
        assert_eq!(item.labels["origin"], "CAPI");
        assert!(m.log_processors.is_none());
        let again: AllMetrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }
}
