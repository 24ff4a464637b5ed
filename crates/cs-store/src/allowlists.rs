//! Allowlists: named sets of IPs and ranges that LAPI never bans.

use chrono::{DateTime, Utc};

use crate::db::{Row, Ty};
use crate::ip::IpRange;
use crate::time::{from_ns, to_ns};
use crate::{Error, Result, Store};

/// An allowlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowlist {
    /// Row id.
    pub id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub updated_at: DateTime<Utc>,
    /// Unique name.
    pub name: String,
    /// Managed from the console.
    pub from_console: bool,
    /// Description.
    pub description: String,
    /// Console id (or empty).
    pub allowlist_id: String,
    /// Items, when loaded with content.
    pub items: Vec<AllowlistItemRecord>,
}

/// An allowlist entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowlistItemRecord {
    /// Row id.
    pub id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Comment.
    pub comment: String,
    /// IP or CIDR.
    pub value: String,
}

/// An entry to add.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAllowlistItem {
    /// IP or CIDR.
    pub value: String,
    /// Comment.
    pub comment: String,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An entry covering a checked value.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowlistMatch {
    /// Allowlist name.
    pub allowlist: String,
    /// Matching entry value.
    pub value: String,
    /// Entry comment.
    pub comment: String,
}

impl AllowlistMatch {
    /// Upstream's description of a match: `<value> from <list>` plus ` (<comment>)`.
    pub fn reason(&self) -> String {
        if self.comment.is_empty() {
            format!("{} from {}", self.value, self.allowlist)
        } else {
            format!("{} from {} ({})", self.value, self.allowlist, self.comment)
        }
    }
}

const COLS: &str =
    "l.id, l.created_at, l.updated_at, l.name, l.from_console, l.description, l.allowlist_id";
const TYS: &[Ty] = &[
    Ty::Int,
    Ty::Int,
    Ty::Int,
    Ty::Text,
    Ty::Bool,
    Ty::Text,
    Ty::Text,
];

fn allowlist(mut r: Row) -> Allowlist {
    Allowlist {
        id: r.int(),
        created_at: from_ns(r.int()),
        updated_at: from_ns(r.int()),
        name: r.text(),
        from_console: r.bool(),
        description: r.text(),
        allowlist_id: r.text(),
        items: Vec::new(),
    }
}

impl Store {
    /// Creates an empty allowlist; fails with [`Error::AlreadyExists`] if the name is taken.
    pub async fn create_allowlist(
        &self,
        name: &str,
        description: &str,
        allowlist_id: &str,
        from_console: bool,
    ) -> Result<Allowlist> {
        if self.get_allowlist(name, false).await?.is_some() {
            return Err(Error::AlreadyExists {
                kind: "allowlist",
                name: name.to_owned(),
            });
        }
        let now = to_ns(Utc::now());
        let mut sql = self.sql("INSERT INTO allow_lists (created_at, updated_at, name, from_console, description, allowlist_id) VALUES (");
        sql.bind(now)
            .push(", ")
            .bind(now)
            .push(", ")
            .bind(name)
            .push(", ")
            .bind(from_console);
        sql.push(", ")
            .bind(description)
            .push(", ")
            .bind(allowlist_id)
            .push(")");
        self.db.insert(sql).await?;
        self.get_allowlist(name, false)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "allowlist",
                name: name.to_owned(),
            })
    }

    /// One allowlist by name, with its items when `with_content`.
    pub async fn get_allowlist(&self, name: &str, with_content: bool) -> Result<Option<Allowlist>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM allow_lists l WHERE l.name = "));
        sql.bind(name);
        let Some(mut l) = self.db.fetch_optional(sql, TYS).await?.map(allowlist) else {
            return Ok(None);
        };
        if with_content {
            l.items = self.allowlist_items(l.id).await?;
        }
        Ok(Some(l))
    }

    /// All allowlists by name, with their items when `with_content`.
    pub async fn list_allowlists(&self, with_content: bool) -> Result<Vec<Allowlist>> {
        let sql = self.sql(&format!("SELECT {COLS} FROM allow_lists l ORDER BY l.name"));
        let mut lists: Vec<Allowlist> = self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(allowlist)
            .collect();
        if with_content {
            for l in &mut lists {
                l.items = self.allowlist_items(l.id).await?;
            }
        }
        Ok(lists)
    }

    async fn allowlist_items(&self, list_id: i64) -> Result<Vec<AllowlistItemRecord>> {
        let mut sql = self.sql("SELECT id, created_at, expires_at, comment, value FROM allow_list_items WHERE allow_list_id = ");
        sql.bind(list_id).push(" ORDER BY id");
        let rows = self
            .db
            .fetch(sql, &[Ty::Int, Ty::Int, Ty::OptInt, Ty::Text, Ty::Text])
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| AllowlistItemRecord {
                id: r.int(),
                created_at: from_ns(r.int()),
                expires_at: r.opt_int().map(from_ns),
                comment: r.text(),
                value: r.text(),
            })
            .collect())
    }

    /// Deletes an allowlist and its items.
    pub async fn delete_allowlist(&self, name: &str) -> Result<()> {
        let l = self
            .get_allowlist(name, false)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "allowlist",
                name: name.to_owned(),
            })?;
        let mut tx = self.db.begin().await?;
        let mut sql = self.sql("DELETE FROM allow_list_items WHERE allow_list_id = ");
        sql.bind(l.id);
        tx.execute(sql).await?;
        let mut sql = self.sql("DELETE FROM allow_lists WHERE id = ");
        sql.bind(l.id);
        tx.execute(sql).await?;
        tx.commit().await
    }

    /// Adds entries to an allowlist; every value must be an IP or a CIDR. Returns the number
    /// of entries added.
    pub async fn add_allowlist_items(&self, name: &str, items: &[NewAllowlistItem]) -> Result<u64> {
        let l = self
            .get_allowlist(name, false)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "allowlist",
                name: name.to_owned(),
            })?;
        let now = to_ns(Utc::now());
        let mut tx = self.db.begin().await?;
        let mut n = 0;
        for it in items {
            let r = IpRange::parse(&it.value)?;
            let mut sql = self.sql("INSERT INTO allow_list_items (created_at, updated_at, expires_at, comment, value, start_ip, end_ip, start_suffix, end_suffix, ip_size, allow_list_id) VALUES (");
            sql.bind(now)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(it.expires_at.map(to_ns))
                .push(", ");
            sql.bind(&it.comment)
                .push(", ")
                .bind(&it.value)
                .push(", ")
                .bind(r.start_ip)
                .push(", ");
            sql.bind(r.end_ip)
                .push(", ")
                .bind(r.start_suffix)
                .push(", ")
                .bind(r.end_suffix)
                .push(", ");
            sql.bind(r.size).push(", ").bind(l.id).push(")");
            n += tx.execute(sql).await?;
        }
        let mut sql = self.sql("UPDATE allow_lists SET updated_at = ");
        sql.bind(now).push(" WHERE id = ").bind(l.id);
        tx.execute(sql).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Removes the entries with these values from an allowlist; returns how many were removed.
    pub async fn remove_allowlist_items(&self, name: &str, values: &[String]) -> Result<u64> {
        let l = self
            .get_allowlist(name, false)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "allowlist",
                name: name.to_owned(),
            })?;
        if values.is_empty() {
            return Ok(0);
        }
        let mut sql = self.sql("DELETE FROM allow_list_items WHERE allow_list_id = ");
        sql.bind(l.id)
            .push(" AND value IN ")
            .bind_list(values.iter());
        self.db.execute(sql).await
    }

    /// Entries (of any allowlist) covering `value` (an IP or a range) that have not expired
    /// at `now`. A range is covered only by an entry containing all of it.
    pub async fn check_allowlist(
        &self,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<AllowlistMatch>> {
        let r = IpRange::parse(value)?;
        let mut sql = self.sql("SELECT l.name, i.value, i.comment FROM allow_list_items i JOIN allow_lists l ON l.id = i.allow_list_id WHERE (i.expires_at IS NULL OR i.expires_at > ");
        sql.bind(to_ns(now)).push(")");
        crate::decisions::push_range(&mut sql, "i", &r, true);
        sql.push(" ORDER BY l.name, i.id");
        let rows = self.db.fetch(sql, &[Ty::Text, Ty::Text, Ty::Text]).await?;
        Ok(rows
            .into_iter()
            .map(|mut r| AllowlistMatch {
                allowlist: r.text(),
                value: r.text(),
                comment: r.text(),
            })
            .collect())
    }
}
