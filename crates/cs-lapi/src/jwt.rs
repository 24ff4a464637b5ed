//! Machine tokens: HS256 JWTs with upstream's claims (`id`, `exp`, `orig_iat`), lifetime and refresh window.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Token lifetime and maximum refresh window (both one hour upstream).
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Minimum secret length accepted from `CS_LAPI_SECRET`, as upstream.
pub const MIN_SECRET_LEN: usize = 64;

/// Encoded `{"alg":"HS256","typ":"JWT"}` header, identical for every token.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The claims upstream puts in a machine token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Machine id.
    pub id: String,
    /// Time of the original login, Unix seconds; refreshing keeps it.
    pub orig_iat: i64,
}

/// Why a token was refused; the text is what upstream's middleware answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token contains an invalid number of segments")]
    Malformed,
    #[error("signature is invalid")]
    BadSignature,
    #[error("Token is expired")]
    Expired,
}

/// HMAC key used to sign and verify tokens.
#[derive(Clone)]
pub struct JwtKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(..)")
    }
}

impl JwtKey {
    /// A key from an explicit secret.
    #[must_use]
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// The key upstream uses: `CS_LAPI_SECRET` when it is long enough, otherwise 64 random bytes, so
    /// tokens die when the process restarts.
    #[must_use]
    pub fn from_env_or_random() -> Self {
        if let Ok(secret) = std::env::var("CS_LAPI_SECRET") {
            if secret.len() >= MIN_SECRET_LEN {
                return Self::new(secret.into_bytes());
            }
            tracing::warn!(
                "CS_LAPI_SECRET is shorter than {MIN_SECRET_LEN} bytes, using a random secret"
            );
        }
        let mut secret = vec![0u8; MIN_SECRET_LEN];
        rand::fill(&mut secret[..]);
        Self::new(secret)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// Signs `claims` into a compact JWT.
    #[must_use]
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(200);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        let sig = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut token);
        token
    }

    /// A fresh token for `machine_id` issued at `now` (Unix seconds).
    #[must_use]
    pub fn issue(&self, machine_id: &str, now: i64) -> (String, Claims) {
        let claims = Claims {
            exp: now + TOKEN_LIFETIME_SECS,
            id: machine_id.to_owned(),
            orig_iat: now,
        };
        (self.sign(&claims), claims)
    }

    /// Checks the signature and returns the claims, without looking at the expiry.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed)?;
        let header_value: serde_json::Value =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header_value.get("alg").and_then(serde_json::Value::as_str) != Some("HS256") {
            return Err(TokenError::BadSignature);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&token.as_bytes()[..header.len() + 1 + payload.len()]);
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)
    }

    /// Checks signature and expiry at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.exp < now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// A refreshed token: allowed while the original login is less than the refresh window old, even if
    /// the token itself has expired. The original `orig_iat` is kept.
    pub fn refresh(&self, token: &str, now: i64) -> Result<(String, Claims), TokenError> {
        let claims = self.decode(token)?;
        if claims.orig_iat + TOKEN_LIFETIME_SECS < now {
            return Err(TokenError::Expired);
        }
        let claims = Claims {
            exp: now + TOKEN_LIFETIME_SECS,
            id: claims.id,
            orig_iat: claims.orig_iat,
        };
        Ok((self.sign(&claims), claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> JwtKey {
        JwtKey::new(b"0123456789012345678901234567890123456789012345678901234567890123".to_vec())
    }

    #[test]
    fn issued_token_verifies_with_upstream_claims() {
        let (token, claims) = key().issue("bench-agent", 1_795_341_031);
        assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"exp":1795344631,"id":"bench-agent","orig_iat":1795341031}"#
        );
        assert_eq!(key().verify(&token, 1_795_341_100), Ok(claims));
    }

    #[test]
    fn refuses_expired_tampered_and_foreign_tokens() {
        let (token, _) = key().issue("m", 1000);
        assert_eq!(
            key().verify(&token, 1000 + TOKEN_LIFETIME_SECS + 1),
            Err(TokenError::Expired)
        );
        let other = JwtKey::new(vec![7; 64]);
        assert_eq!(other.verify(&token, 1000), Err(TokenError::BadSignature));
        let mut tampered = token.clone();
        tampered.insert(40, 'A');
        assert!(key().verify(&tampered, 1000).is_err());
        assert_eq!(key().verify("abc", 1000), Err(TokenError::Malformed));
        assert_eq!(key().verify("a.b.c.d", 1000), Err(TokenError::Malformed));
    }

    #[test]
    fn refresh_keeps_orig_iat_within_window() {
        let (token, _) = key().issue("m", 1000);
        let (fresh, claims) = key().refresh(&token, 1000 + 1800).unwrap();
        assert_eq!(
            claims,
            Claims {
                exp: 1000 + 1800 + TOKEN_LIFETIME_SECS,
                id: "m".into(),
                orig_iat: 1000
            }
        );
        assert!(key().verify(&fresh, 1000 + 1800).is_ok());
        assert_eq!(
            key()
                .refresh(&token, 1000 + TOKEN_LIFETIME_SECS + 1)
                .unwrap_err(),
            TokenError::Expired
        );
    }
}
