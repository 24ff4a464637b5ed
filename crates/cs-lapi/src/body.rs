//! Request input: JSON bodies with a size limit (bad JSON ⇒ 400 with the reason) and query strings
//! parsed into ordered key/value pairs (some filters may repeat).

use axum::body::Body;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Reads the whole (already decompressed) body, refusing more than `limit` bytes.
pub(crate) async fn read_bytes(body: Body, limit: usize) -> Result<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            Error::PayloadTooLarge
        } else {
            Error::BadRequest(format!("reading request body: {e}"))
        }
    })
}

/// Reads and decodes a JSON body.
pub(crate) async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T> {
    let bytes = read_bytes(body, limit).await?;
    decode_json(&bytes)
}

/// Decodes JSON, reporting the position and reason of a failure.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::BadRequest(format!("invalid JSON body: {e}")))
}

/// Query parameters in request order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (`None` ⇒ empty).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// First value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses `key` as a Go `strconv.ParseBool` value; `default` when absent.
    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_go_bool(v).ok_or_else(|| {
                Error::BadRequest(format!(
                    "invalid value {v:?} for parameter '{key}': not a boolean"
                ))
            }),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_order_and_repeats() {
        let q = Query::parse(Some(
            "uuid=a&uuid=b&ip=1.2.3.4&contains=false&scopes=ip%2Crange",
        ));
        assert_eq!(q.get("uuid"), Some("a"));
        assert_eq!(q.0.iter().filter(|(k, _)| k == "uuid").count(), 2);
        assert_eq!(q.get("scopes"), Some("ip,range"));
        assert!(!q.bool("contains", true).unwrap());
        assert!(q.bool("missing", true).unwrap());
        assert!(
            Query::parse(Some("startup=yes"))
                .bool("startup", false)
                .is_err()
        );
    }

    #[tokio::test]
    async fn oversized_and_malformed_bodies() {
        let err = read_json::<serde_json::Value>(Body::from(vec![b' '; 100]), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge));
        let err = read_json::<Vec<u32>>(Body::from("[1,"), 100)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::BadRequest(ref m) if m.contains("EOF")),
            "{err:?}"
        );
    }
}
