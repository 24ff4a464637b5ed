//! Bouncers (remediation components) and their API keys, stored as sha512 hex digests.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha512};

use crate::db::{Row, Ty};
use crate::time::{from_ns, to_ns};
use crate::{Error, Result, Store};

/// `auth_type` of bouncers using an API key.
pub const AUTH_API_KEY: &str = "api-key";

/// A registered bouncer.
#[derive(Debug, Clone, PartialEq)]
pub struct Bouncer {
    /// Row id.
    pub id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub updated_at: DateTime<Utc>,
    /// Unique name.
    pub name: String,
    /// sha512 of the API key, lowercase hex.
    pub api_key_hash: String,
    /// Revoked keys are refused.
    pub revoked: bool,
    /// Client IP, set on first use.
    pub ip_address: String,
    /// Bouncer type from the User-Agent.
    pub bouncer_type: String,
    /// Version from the User-Agent.
    pub version: String,
    /// Last decision pull.
    pub last_pull: Option<DateTime<Utc>>,
    /// `api-key` or `tls`.
    pub auth_type: String,
    /// OS name from usage metrics.
    pub os_name: String,
    /// OS family from usage metrics.
    pub os_family: String,
    /// OS version from usage metrics.
    pub os_version: String,
    /// Comma-separated feature flags.
    pub feature_flags: String,
    /// Created automatically (`name@ip` rows, TLS bouncers).
    pub auto_created: bool,
}

/// A bouncer to create.
#[derive(Debug, Clone, Default)]
pub struct NewBouncer {
    /// Unique name.
    pub name: String,
    /// Clear-text API key; only its sha512 is stored.
    pub api_key: String,
    /// Client IP (empty until first use).
    pub ip_address: String,
    /// `api-key` (default when empty) or `tls`.
    pub auth_type: String,
    /// Created automatically.
    pub auto_created: bool,
}

/// sha512 of an API key as lowercase hex, the form stored in `bouncers.api_key`.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha512::digest(key.as_bytes()))
}

/// A new random API key: 32 random bytes, standard base64 without padding (43 characters),
/// as `cscli bouncers add` generates them.
pub fn generate_api_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Config {
        reason: format!("no randomness available: {e}"),
    })?;
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
}

const COLS: &str = "id, created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osfamily, osversion, featureflags, auto_created";
const TYS: &[Ty] = &[
    Ty::Int,
    Ty::Int,
    Ty::Int,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::OptInt,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
];

fn bouncer(mut r: Row) -> Bouncer {
    Bouncer {
        id: r.int(),
        created_at: from_ns(r.int()),
        updated_at: from_ns(r.int()),
        name: r.text(),
        api_key_hash: r.text(),
        revoked: r.bool(),
        ip_address: r.text(),
        bouncer_type: r.text(),
        version: r.text(),
        last_pull: r.opt_int().map(from_ns),
        auth_type: r.text(),
        os_name: r.text(),
        os_family: r.text(),
        os_version: r.text(),
        feature_flags: r.text(),
        auto_created: r.bool(),
    }
}

impl Store {
    /// Creates a bouncer; fails with [`Error::AlreadyExists`] if the name is taken.
    pub async fn create_bouncer(&self, b: &NewBouncer) -> Result<Bouncer> {
        if self.get_bouncer(&b.name).await?.is_some() {
            return Err(Error::AlreadyExists {
                kind: "bouncer",
                name: b.name.clone(),
            });
        }
        let now = to_ns(Utc::now());
        let auth_type = if b.auth_type.is_empty() {
            AUTH_API_KEY
        } else {
            b.auth_type.as_str()
        };
        let mut sql = self.sql("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, auth_type, osname, osfamily, osversion, featureflags, auto_created) VALUES (");
        sql.bind(now)
            .push(", ")
            .bind(now)
            .push(", ")
            .bind(&b.name)
            .push(", ");
        sql.bind(hash_api_key(&b.api_key))
            .push(", ")
            .bind(false)
            .push(", ")
            .bind(&b.ip_address);
        sql.push(", '', '', ")
            .bind(auth_type)
            .push(", '', '', '', '', ")
            .bind(b.auto_created)
            .push(")");
        if let Err(e) = self.db.execute(sql).await {
            if self.get_bouncer(&b.name).await?.is_some() {
                return Err(Error::AlreadyExists {
                    kind: "bouncer",
                    name: b.name.clone(),
                });
            }
            return Err(e);
        }
        self.get_bouncer(&b.name)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "bouncer",
                name: b.name.clone(),
            })
    }

    /// Looks a bouncer up by name.
    pub async fn get_bouncer(&self, name: &str) -> Result<Option<Bouncer>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM bouncers WHERE name = "));
        sql.bind(name);
        Ok(self.db.fetch_optional(sql, TYS).await?.map(bouncer))
    }

    /// Bouncers whose key hashes to `api_key_hash` (see [`hash_api_key`]), by id. Several rows
    /// share a hash when the same key is used from several IPs (`name@ip` rows).
    pub async fn find_bouncers_by_key_hash(&self, api_key_hash: &str) -> Result<Vec<Bouncer>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM bouncers WHERE api_key = "));
        sql.bind(api_key_hash).push(" ORDER BY id");
        Ok(self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(bouncer)
            .collect())
    }

    /// All bouncers, by id.
    pub async fn list_bouncers(&self) -> Result<Vec<Bouncer>> {
        let sql = self.sql(&format!("SELECT {COLS} FROM bouncers ORDER BY id"));
        Ok(self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(bouncer)
            .collect())
    }

    /// Deletes a bouncer by name.
    pub async fn delete_bouncer(&self, name: &str) -> Result<()> {
        let mut sql = self.sql("DELETE FROM bouncers WHERE name = ");
        sql.bind(name);
        self.expect_one("bouncer", name, sql).await
    }

    /// Sets `last_pull`.
    pub async fn update_bouncer_last_pull(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let mut sql = self.sql("UPDATE bouncers SET last_pull = ");
        sql.bind(to_ns(at)).push(" WHERE name = ").bind(name);
        self.expect_one("bouncer", name, sql).await
    }

    /// Sets the client IP.
    pub async fn update_bouncer_ip(&self, name: &str, ip_address: &str) -> Result<()> {
        let mut sql = self.sql("UPDATE bouncers SET ip_address = ");
        sql.bind(ip_address)
            .push(", updated_at = ")
            .bind(to_ns(Utc::now()));
        sql.push(" WHERE name = ").bind(name);
        self.expect_one("bouncer", name, sql).await
    }

    /// Sets the type and version parsed from the User-Agent.
    pub async fn update_bouncer_type_version(
        &self,
        name: &str,
        bouncer_type: &str,
        version: &str,
    ) -> Result<()> {
        let mut sql = self.sql("UPDATE bouncers SET type = ");
        sql.bind(bouncer_type).push(", version = ").bind(version);
        sql.push(", updated_at = ")
            .bind(to_ns(Utc::now()))
            .push(" WHERE name = ")
            .bind(name);
        self.expect_one("bouncer", name, sql).await
    }

    /// Stores the OS information of a bouncer's usage metrics.
    pub async fn update_bouncer_usage(
        &self,
        name: &str,
        os_name: &str,
        os_family: &str,
        os_version: &str,
        feature_flags: &str,
    ) -> Result<()> {
        let mut sql = self.sql("UPDATE bouncers SET osname = ");
        sql.bind(os_name)
            .push(", osfamily = ")
            .bind(os_family)
            .push(", osversion = ")
            .bind(os_version);
        sql.push(", featureflags = ")
            .bind(feature_flags)
            .push(", updated_at = ")
            .bind(to_ns(Utc::now()));
        sql.push(" WHERE name = ").bind(name);
        self.expect_one("bouncer", name, sql).await
    }

    /// Deletes bouncers of `auth_type` whose last pull (or creation, if they never pulled)
    /// is older than `before` (`cscli bouncers prune`, `bouncers_autodelete`). Returns the count.
    pub async fn delete_stale_bouncers(
        &self,
        auth_type: Option<&str>,
        before: DateTime<Utc>,
    ) -> Result<u64> {
        let mut sql = self.sql("DELETE FROM bouncers WHERE COALESCE(last_pull, created_at) < ");
        sql.bind(to_ns(before));
        if let Some(a) = auth_type {
            sql.push(" AND auth_type = ").bind(a);
        }
        self.db.execute(sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_hash_is_sha512_hex() {
        assert_eq!(
            hash_api_key("abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn generated_keys_are_43_base64_chars() {
        let k = generate_api_key().unwrap();
        assert_eq!(k.len(), 43);
        assert!(
            k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        );
        assert_ne!(k, generate_api_key().unwrap());
    }
}
