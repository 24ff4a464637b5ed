//! Machine (watcher) registration and login bodies, and the generic error/success bodies.

use serde::{Deserialize, Serialize};

use crate::nullable::null_default;

/// Body of `POST /v1/watchers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatcherRegistrationRequest {
    /// Machine name (required).
    pub machine_id: Option<String>,
    /// Password (required).
    pub password: Option<String>,
    /// Auto-registration token (32 to 255 characters).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub registration_token: String,
}

/// Body of `POST /v1/watchers/login`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatcherAuthRequest {
    /// Machine name (required).
    pub machine_id: Option<String>,
    /// Password (required).
    pub password: Option<String>,
    /// Scenarios installed on the agent; cscli sends `null`.
    pub scenarios: Option<Vec<String>>,
}

/// Successful login or token refresh: `{"code":200,"expire":"<RFC3339>","token":"<JWT>"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatcherAuthResponse {
    /// HTTP status, 200.
    #[serde(deserialize_with = "null_default")]
    pub code: i64,
    /// Token expiry, RFC3339 in UTC.
    #[serde(deserialize_with = "null_default")]
    pub expire: String,
    /// The JWT.
    #[serde(deserialize_with = "null_default")]
    pub token: String,
}

/// Error body of the LAPI: `{"message":"..."}` (`errors` only when details exist).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorResponse {
    /// Details on individual errors.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub errors: String,
    /// Error message.
    #[serde(deserialize_with = "null_default")]
    pub message: String,
}

impl ErrorResponse {
    /// Builds an error body with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            errors: String::new(),
            message: message.into(),
        }
    }
}

/// Error body of the JWT middleware: `{"code":401,"message":"..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtErrorResponse {
    /// HTTP status.
    #[serde(deserialize_with = "null_default")]
    pub code: i64,
    /// Error message.
    #[serde(deserialize_with = "null_default")]
    pub message: String,
}

/// Generic success body: `{"message":"..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuccessResponse {
    /// Message.
    #[serde(deserialize_with = "null_default")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cscli_login_with_null_scenarios() {
        let req: WatcherAuthRequest =
            serde_json::from_str(r#"{"machine_id":"m","password":"p","scenarios":null}"#).unwrap();
        assert_eq!(req.machine_id.as_deref(), Some("m"));
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"machine_id":"m","password":"p","scenarios":null}"#
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            serde_json::to_string(&ErrorResponse::new("access forbidden")).unwrap(),
            r#"{"message":"access forbidden"}"#
        );
        let jwt = JwtErrorResponse {
            code: 401,
            message: "incorrect Username or Password".into(),
        };
        assert_eq!(
            serde_json::to_string(&jwt).unwrap(),
            r#"{"code":401,"message":"incorrect Username or Password"}"#
        );
    }
}
