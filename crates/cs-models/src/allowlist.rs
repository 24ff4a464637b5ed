//! Allowlist bodies of `/v1/allowlists`.

use serde::{Deserialize, Serialize};

use crate::nullable::{is_false, null_default};

/// One allowlist (`GetAllowlistResponse`); dates are RFC3339 text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GetAllowlistResponse {
    /// Allowlist id (console id or generated).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub allowlist_id: String,
    /// Managed from the console.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub console_managed: bool,
    /// Creation date.
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
    /// Description.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    /// Items, only with `with_content=true`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub items: Vec<AllowlistItem>,
    /// Name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Last update date.
    #[serde(deserialize_with = "null_default")]
    pub updated_at: String,
}

/// One allowlist entry: an IP or a CIDR range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllowlistItem {
    /// Creation date.
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
    /// Comment.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    /// Expiry date (empty: never).
    #[serde(deserialize_with = "null_default")]
    pub expiration: String,
    /// IP or CIDR.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub value: String,
}

/// Answer of `GET /v1/allowlists/check/{ip_or_range}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckAllowlistResponse {
    /// Whether the value is allowlisted.
    #[serde(deserialize_with = "null_default")]
    pub allowlisted: bool,
    /// Item that matched.
    #[serde(deserialize_with = "null_default")]
    pub reason: String,
}

/// Body of `POST /v1/allowlists/check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkCheckAllowlistRequest {
    /// IPs or CIDR ranges to check (required, non-empty).
    pub targets: Option<Vec<String>>,
}

/// One allowlisted target of a bulk check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkCheckAllowlistResult {
    /// Matching entries described as text.
    #[serde(deserialize_with = "null_default")]
    pub allowlists: Vec<String>,
    /// The target that is allowlisted.
    #[serde(deserialize_with = "null_default")]
    pub target: String,
}

/// Answer of `POST /v1/allowlists/check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkCheckAllowlistResponse {
    /// Only the allowlisted targets.
    #[serde(deserialize_with = "null_default")]
    pub results: Vec<BulkCheckAllowlistResult>,
}
