//! Machines (watchers: agents and cscli) and their bcrypt passwords.

use chrono::{DateTime, Utc};

use crate::db::{Row, Sql, Ty};
use crate::time::{from_ns, to_ns};
use crate::{Error, Result, Store};

/// Cost of bcrypt password hashes, upstream's `bcrypt.DefaultCost`.
const BCRYPT_COST: u32 = 10;

/// `auth_type` of machines logging in with a password.
pub const AUTH_PASSWORD: &str = "password";
/// `auth_type` of machines and bouncers authenticated by a TLS client certificate.
pub const AUTH_TLS: &str = "tls";

/// A registered machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Row id.
    pub id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub updated_at: DateTime<Utc>,
    /// Last alert push.
    pub last_push: Option<DateTime<Utc>>,
    /// Last heartbeat.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Machine name (login).
    pub machine_id: String,
    /// bcrypt hash of the password.
    pub password_hash: String,
    /// Last known client IP.
    pub ip_address: String,
    /// Comma-separated scenarios reported at login.
    pub scenarios: String,
    /// Version from the User-Agent.
    pub version: String,
    /// Whether the machine may log in.
    pub is_validated: bool,
    /// `password` or `tls`.
    pub auth_type: String,
    /// OS name from usage metrics.
    pub os_name: String,
    /// OS family from usage metrics.
    pub os_family: String,
    /// OS version from usage metrics.
    pub os_version: String,
    /// Comma-separated feature flags.
    pub feature_flags: String,
    /// Hub state (JSON) from usage metrics.
    pub hub_state: String,
    /// Datasources (JSON) from usage metrics.
    pub datasources: String,
}

/// A machine to create.
#[derive(Debug, Clone, Default)]
pub struct NewMachine {
    /// Machine name.
    pub machine_id: String,
    /// Clear-text password, hashed with bcrypt before storage.
    pub password: String,
    /// Client IP.
    pub ip_address: String,
    /// Created already validated (cscli, auto-registration, TLS).
    pub is_validated: bool,
    /// `password` (default when empty) or `tls`.
    pub auth_type: String,
    /// Replace the password of an existing machine instead of failing (`cscli machines add --force`).
    pub force: bool,
}

/// Fields updated at login; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct MachineLogin {
    /// Comma-joined scenario list.
    pub scenarios: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Version from the User-Agent.
    pub version: Option<String>,
}

/// OS and hub information from usage metrics.
#[derive(Debug, Clone, Default)]
pub struct MachineUsage {
    /// OS name.
    pub os_name: String,
    /// OS family.
    pub os_family: String,
    /// OS version.
    pub os_version: String,
    /// Comma-separated feature flags.
    pub feature_flags: String,
    /// Hub items, JSON.
    pub hub_state: String,
    /// Datasource counts, JSON.
    pub datasources: String,
}

const COLS: &str = "id, created_at, updated_at, last_push, last_heartbeat, machine_id, password, ip_address, scenarios, version, is_validated, auth_type, osname, osfamily, osversion, featureflags, hubstate, datasources";
const TYS: &[Ty] = &[
    Ty::Int,
    Ty::Int,
    Ty::Int,
    Ty::OptInt,
    Ty::OptInt,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
];

fn machine(mut r: Row) -> Machine {
    Machine {
        id: r.int(),
        created_at: from_ns(r.int()),
        updated_at: from_ns(r.int()),
        last_push: r.opt_int().map(from_ns),
        last_heartbeat: r.opt_int().map(from_ns),
        machine_id: r.text(),
        password_hash: r.text(),
        ip_address: r.text(),
        scenarios: r.text(),
        version: r.text(),
        is_validated: r.bool(),
        auth_type: r.text(),
        os_name: r.text(),
        os_family: r.text(),
        os_version: r.text(),
        feature_flags: r.text(),
        hub_state: r.text(),
        datasources: r.text(),
    }
}

/// Hashes a password with bcrypt off the async runtime.
async fn hash_password(password: String) -> Result<String> {
    Ok(tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST)).await??)
}

impl Store {
    /// Creates a machine (password hashed with bcrypt). Fails with
    /// [`Error::AlreadyExists`] if the name is taken, unless `force` is set, in which case
    /// the password (and validation flag, if set) of the existing machine are replaced.
    pub async fn create_machine(&self, m: &NewMachine) -> Result<Machine> {
        let hash = hash_password(m.password.clone()).await?;
        let now = to_ns(Utc::now());
        let auth_type = if m.auth_type.is_empty() {
            AUTH_PASSWORD
        } else {
            m.auth_type.as_str()
        };
        if let Some(existing) = self.get_machine(&m.machine_id).await? {
            if !m.force {
                return Err(Error::AlreadyExists {
                    kind: "machine",
                    name: m.machine_id.clone(),
                });
            }
            let mut sql = self.sql("UPDATE machines SET password = ");
            sql.bind(hash).push(", updated_at = ").bind(now);
            if m.is_validated {
                sql.push(", is_validated = ").bind(true);
            }
            sql.push(" WHERE id = ").bind(existing.id);
            self.db.execute(sql).await?;
        } else {
            let mut sql = self.sql("INSERT INTO machines (created_at, updated_at, machine_id, password, ip_address, scenarios, version, is_validated, auth_type, osname, osfamily, osversion, featureflags, hubstate, datasources) VALUES (");
            sql.bind(now)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(&m.machine_id)
                .push(", ")
                .bind(hash);
            sql.push(", ")
                .bind(&m.ip_address)
                .push(", '', '', ")
                .bind(m.is_validated)
                .push(", ");
            sql.bind(auth_type).push(", '', '', '', '', '', '')");
            if let Err(e) = self.db.execute(sql).await {
                // A concurrent registration of the same name loses on the unique index.
                if self.get_machine(&m.machine_id).await?.is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "machine",
                        name: m.machine_id.clone(),
                    });
                }
                return Err(e);
            }
        }
        self.get_machine(&m.machine_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "machine",
                name: m.machine_id.clone(),
            })
    }

    /// Looks a machine up by name.
    pub async fn get_machine(&self, machine_id: &str) -> Result<Option<Machine>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM machines WHERE machine_id = "));
        sql.bind(machine_id);
        Ok(self.db.fetch_optional(sql, TYS).await?.map(machine))
    }

    /// All machines, by id.
    pub async fn list_machines(&self) -> Result<Vec<Machine>> {
        let sql = self.sql(&format!("SELECT {COLS} FROM machines ORDER BY id"));
        Ok(self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(machine)
            .collect())
    }

    /// Returns the machine if it exists and `password` matches its bcrypt hash. Validation
    /// and `auth_type` are left to the caller, which reports them differently.
    pub async fn check_machine_password(
        &self,
        machine_id: &str,
        password: &str,
    ) -> Result<Option<Machine>> {
        let Some(m) = self.get_machine(machine_id).await? else {
            return Ok(None);
        };
        let (pw, hash) = (password.to_owned(), m.password_hash.clone());
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false)).await?;
        Ok(ok.then_some(m))
    }

    /// Marks a machine as validated.
    pub async fn validate_machine(&self, machine_id: &str) -> Result<()> {
        let mut sql = self.sql("UPDATE machines SET is_validated = ");
        sql.bind(true)
            .push(", updated_at = ")
            .bind(to_ns(Utc::now()));
        sql.push(" WHERE machine_id = ").bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Deletes a machine; its alerts are kept.
    pub async fn delete_machine(&self, machine_id: &str) -> Result<()> {
        let mut sql = self.sql("DELETE FROM machines WHERE machine_id = ");
        sql.bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Records login information.
    pub async fn update_machine_login(&self, machine_id: &str, login: &MachineLogin) -> Result<()> {
        let mut sql = self.sql("UPDATE machines SET updated_at = ");
        sql.bind(to_ns(Utc::now()));
        if let Some(s) = &login.scenarios {
            sql.push(", scenarios = ").bind(s);
        }
        if let Some(ip) = &login.ip_address {
            sql.push(", ip_address = ").bind(ip);
        }
        if let Some(v) = &login.version {
            sql.push(", version = ").bind(v);
        }
        sql.push(" WHERE machine_id = ").bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Sets `last_heartbeat`.
    pub async fn update_machine_heartbeat(
        &self,
        machine_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut sql = self.sql("UPDATE machines SET last_heartbeat = ");
        sql.bind(to_ns(at))
            .push(" WHERE machine_id = ")
            .bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Sets `last_push`.
    pub async fn update_machine_last_push(
        &self,
        machine_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut sql = self.sql("UPDATE machines SET last_push = ");
        sql.bind(to_ns(at))
            .push(" WHERE machine_id = ")
            .bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Stores the OS / hub information of a machine's usage metrics.
    pub async fn update_machine_usage(&self, machine_id: &str, u: &MachineUsage) -> Result<()> {
        let mut sql = self.sql("UPDATE machines SET osname = ");
        sql.bind(&u.os_name)
            .push(", osfamily = ")
            .bind(&u.os_family);
        sql.push(", osversion = ")
            .bind(&u.os_version)
            .push(", featureflags = ")
            .bind(&u.feature_flags);
        sql.push(", hubstate = ")
            .bind(&u.hub_state)
            .push(", datasources = ")
            .bind(&u.datasources);
        sql.push(", updated_at = ").bind(to_ns(Utc::now()));
        sql.push(" WHERE machine_id = ").bind(machine_id);
        self.expect_one("machine", machine_id, sql).await
    }

    /// Deletes machines of `auth_type` whose last heartbeat (or creation, if they never sent
    /// one) is older than `before` (`db_config.flush.agents_autodelete`). Returns the count.
    pub async fn delete_stale_machines(
        &self,
        auth_type: &str,
        before: DateTime<Utc>,
    ) -> Result<u64> {
        let mut sql = self.sql("DELETE FROM machines WHERE auth_type = ");
        sql.bind(auth_type)
            .push(" AND COALESCE(last_heartbeat, created_at) < ")
            .bind(to_ns(before));
        self.db.execute(sql).await
    }

    /// Runs an UPDATE/DELETE that must touch exactly one named row.
    pub(crate) async fn expect_one(&self, kind: &'static str, name: &str, sql: Sql) -> Result<()> {
        if self.db.execute(sql).await? == 0 {
            // MySQL reports 0 affected rows when the new values equal the old ones, so check
            // existence before reporting a missing row.
            if kind == "machine" && self.get_machine(name).await?.is_some() {
                return Ok(());
            }
            if kind == "bouncer" && self.get_bouncer(name).await?.is_some() {
                return Ok(());
            }
            return Err(Error::NotFound {
                kind,
                name: name.to_owned(),
            });
        }
        Ok(())
    }
}
