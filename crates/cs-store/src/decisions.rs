//! Decisions: bouncer queries (`GET /v1/decisions`, the stream), deletion by filter (which
//! expires rows rather than deleting them, so bouncers see them in `deleted`), and purging.

use chrono::{DateTime, Utc};
use cs_models::scope;

use crate::db::{Pools, Row, Sql, Ty};
use crate::ip::IpRange;
use crate::time::{from_ns, to_ns};
use crate::{Error, Result, Store};

/// A stored decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    /// Row id.
    pub id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub until: DateTime<Utc>,
    /// Scenario or reason.
    pub scenario: String,
    /// `ban`, `captcha`...
    pub decision_type: String,
    /// `Ip`, `Range`...
    pub scope: String,
    /// IP, CIDR or custom value.
    pub value: String,
    /// `crowdsec`, `cscli`, `CAPI`...
    pub origin: String,
    /// From a simulated scenario.
    pub simulated: bool,
    /// UUID.
    pub uuid: String,
    /// Owning alert.
    pub alert_id: i64,
}

/// The fields of a decision that bouncers receive, borrowed from where the store read them:
/// what [`Store::encoded_decisions`] hands to its writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionRow<'a> {
    /// Row id.
    pub id: i64,
    /// Expiry.
    pub until: DateTime<Utc>,
    /// Scenario or reason.
    pub scenario: &'a str,
    /// `ban`, `captcha`...
    pub decision_type: &'a str,
    /// `Ip`, `Range`...
    pub scope: &'a str,
    /// IP, CIDR or custom value.
    pub value: &'a str,
    /// `crowdsec`, `cscli`, `CAPI`...
    pub origin: &'a str,
    /// UUID.
    pub uuid: &'a str,
}

impl DecisionRow<'_> {
    /// Remaining time at `now` in nanoseconds (negative once expired).
    pub fn remaining_ns(&self, now: DateTime<Utc>) -> i64 {
        to_ns(self.until).saturating_sub(to_ns(now))
    }
}

impl DecisionRecord {
    /// Remaining time at `now` in nanoseconds (negative once expired).
    pub fn remaining_ns(&self, now: DateTime<Utc>) -> i64 {
        self.as_row().remaining_ns(now)
    }

    /// The fields bouncers receive, borrowed.
    pub fn as_row(&self) -> DecisionRow<'_> {
        DecisionRow {
            id: self.id,
            until: self.until,
            scenario: &self.scenario,
            decision_type: &self.decision_type,
            scope: &self.scope,
            value: &self.value,
            origin: &self.origin,
            uuid: &self.uuid,
        }
    }

    /// The wire decision: `duration` is the remaining time at `now` as a Go duration string;
    /// `simulated` and `uuid` are included as in `GET /v1/alerts`.
    pub fn to_model(&self, now: DateTime<Utc>) -> cs_models::Decision {
        cs_models::Decision {
            duration: Some(cs_models::format_duration(self.remaining_ns(now))),
            id: self.id,
            origin: Some(self.origin.clone()),
            scenario: Some(self.scenario.clone()),
            scope: Some(self.scope.clone()),
            simulated: Some(self.simulated),
            r#type: Some(self.decision_type.clone()),
            until: String::new(),
            uuid: self.uuid.clone(),
            value: Some(self.value.clone()),
        }
    }

    /// The decision as bouncers receive it: no `simulated`, and `uuid` only when asked
    /// (the stream includes it, `GET /v1/decisions` does not).
    pub fn to_bouncer_model(&self, now: DateTime<Utc>, with_uuid: bool) -> cs_models::Decision {
        let mut d = self.to_model(now);
        d.simulated = None;
        if !with_uuid {
            d.uuid.clear();
        }
        d
    }
}

pub(crate) const COLS: &str = "d.id, d.created_at, d.until_at, d.scenario, d.type, d.scope, d.value, d.origin, d.simulated, d.uuid, d.alert_decisions";
pub(crate) const TYS: &[Ty] = &[
    Ty::Int,
    Ty::Int,
    Ty::Int,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
    Ty::Text,
    Ty::Int,
];

pub(crate) fn decision(mut r: Row) -> DecisionRecord {
    DecisionRecord {
        id: r.int(),
        created_at: from_ns(r.int()),
        until: from_ns(r.int()),
        scenario: r.text(),
        decision_type: r.text(),
        scope: r.text(),
        value: r.text(),
        origin: r.text(),
        simulated: r.bool(),
        uuid: r.text(),
        alert_id: r.int(),
    }
}

/// The columns of [`DecisionRow`], in the order [`direct_row`] reads them.
const ROW_COLS: &str = "d.id, d.until_at, d.scenario, d.type, d.scope, d.value, d.origin, d.uuid";

fn direct_row<'r>(r: &'r rusqlite::Row<'_>) -> Result<DecisionRow<'r>> {
    use crate::sqlite_direct::{int, text};
    Ok(DecisionRow {
        id: int(r, 0)?,
        until: from_ns(int(r, 1)?),
        scenario: text(r, 2)?,
        decision_type: text(r, 3)?,
        scope: text(r, 4)?,
        value: text(r, 5)?,
        origin: text(r, 6)?,
        uuid: text(r, 7)?,
    })
}

/// Rows read per batch from a database server for [`Store::encoded_decisions`].
const FETCH_BATCH: usize = 1024;
/// Room left after `size` in a buffer of [`Chunks`], so that the row crossing it rarely
/// reallocates.
const ROW_SLACK: usize = 4096;

/// Decisions written into buffers that are handed out once they hold `size` bytes.
struct Chunks<W> {
    buf: Vec<u8>,
    size: usize,
    write: W,
}

impl<W: FnMut(&mut Vec<u8>, &DecisionRow<'_>)> Chunks<W> {
    /// Writes one decision; returns the buffer when it is full.
    fn push(&mut self, row: &DecisionRow<'_>) -> Option<Vec<u8>> {
        if self.buf.capacity() == 0 {
            self.buf.reserve(self.size.saturating_add(ROW_SLACK));
        }
        (self.write)(&mut self.buf, row);
        (self.buf.len() >= self.size).then(|| std::mem::take(&mut self.buf))
    }

    /// What was written since the last full buffer, if anything.
    fn rest(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf))
    }
}

/// Filters of the decision endpoints. Empty lists and `None` do not filter.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionFilter {
    /// Scopes (normalised), any of.
    pub scopes: Vec<String>,
    /// Exact value.
    pub value: Option<String>,
    /// Values, any of (bulk operations such as CAPI deletions; not a query parameter).
    /// Each value is one bind parameter: keep lists to a few thousand per call.
    pub values: Vec<String>,
    /// Exact type.
    pub decision_type: Option<String>,
    /// Origins, any of.
    pub origins: Vec<String>,
    /// Exact scenario.
    pub scenario: Option<String>,
    /// Keep decisions whose scenario contains any of these words (case-insensitive).
    pub scenarios_containing: Vec<String>,
    /// Drop decisions whose scenario contains any of these words (case-insensitive).
    pub scenarios_not_containing: Vec<String>,
    /// IP or range given with `ip=`/`range=`.
    pub ip_range: Option<IpRange>,
    /// `true`: decisions whose range contains `ip_range`; `false`: decisions inside it.
    pub contains: bool,
    /// Include simulated decisions.
    pub include_simulated: bool,
    /// UUIDs, any of.
    pub uuids: Vec<String>,
    /// Only ids greater than this.
    pub id_gt: Option<i64>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skip this many rows.
    pub offset: Option<u64>,
}

impl Default for DecisionFilter {
    fn default() -> Self {
        Self {
            scopes: Vec::new(),
            value: None,
            values: Vec::new(),
            decision_type: None,
            origins: Vec::new(),
            scenario: None,
            scenarios_containing: Vec::new(),
            scenarios_not_containing: Vec::new(),
            ip_range: None,
            contains: true,
            include_simulated: false,
            uuids: Vec::new(),
            id_gt: None,
            limit: None,
            offset: None,
        }
    }
}

/// Which decision endpoint a query string belongs to; they accept different parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionQueryKind {
    /// `GET /v1/decisions` (unknown parameters ignored).
    Bouncer,
    /// `GET /v1/decisions/stream` (unknown parameters ignored; `scopes` defaults to `ip,range`).
    Stream,
    /// `DELETE /v1/decisions` (unknown parameters refused).
    Delete,
}

/// Parsed `GET /v1/decisions/stream` query.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamQuery {
    /// Row filters.
    pub filter: DecisionFilter,
    /// `startup=true`: full state instead of a delta.
    pub startup: bool,
    /// Keep only the decision with the latest expiry per (value, type, scope) (default true).
    pub dedup: bool,
}

fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(param: &str, v: &str) -> Result<bool> {
    // Go's strconv.ParseBool.
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::InvalidFilter {
            param: param.into(),
            value: v.into(),
            reason: "not a boolean".into(),
        }),
    }
}

pub(crate) fn parse_u64(param: &str, v: &str) -> Result<u64> {
    v.parse().map_err(|_| Error::InvalidFilter {
        param: param.into(),
        value: v.into(),
        reason: "not a number".into(),
    })
}

impl DecisionFilter {
    /// Builds a filter from query parameters, with the rules of `kind`.
    pub fn from_query(params: &[(String, String)], kind: DecisionQueryKind) -> Result<Self> {
        let mut f = DecisionFilter::default();
        if kind == DecisionQueryKind::Stream {
            f.scopes = vec![scope::IP.to_owned(), scope::RANGE.to_owned()];
        }
        for (k, v) in params {
            match k.as_str() {
                "scope" | "scopes" => {
                    f.scopes = comma_list(v)
                        .iter()
                        .map(|s| scope::normalize(s).to_owned())
                        .collect();
                }
                "value" => f.value = Some(v.clone()),
                "type" => f.decision_type = Some(v.clone()),
                "origin" | "origins" => f.origins = comma_list(v),
                "scenario" if kind == DecisionQueryKind::Delete => f.scenario = Some(v.clone()),
                "scenarios_containing" if kind != DecisionQueryKind::Delete => {
                    f.scenarios_containing = comma_list(v);
                }
                "scenarios_not_containing" if kind != DecisionQueryKind::Delete => {
                    f.scenarios_not_containing = comma_list(v);
                }
                "ip" | "range" => f.ip_range = Some(IpRange::parse(v)?),
                "contains" => f.contains = parse_bool(k, v)?,
                "uuid" if kind == DecisionQueryKind::Delete => f.uuids.push(v.clone()),
                "simulated" if kind != DecisionQueryKind::Delete => {
                    f.include_simulated = parse_bool(k, v)?
                }
                "limit" if kind == DecisionQueryKind::Bouncer => f.limit = Some(parse_u64(k, v)?),
                "offset" if kind == DecisionQueryKind::Bouncer => f.offset = Some(parse_u64(k, v)?),
                "id_gt" if kind == DecisionQueryKind::Bouncer => {
                    f.id_gt = Some(i64::try_from(parse_u64(k, v)?).unwrap_or(i64::MAX));
                }
                _ if kind == DecisionQueryKind::Delete => {
                    return Err(Error::UnknownFilter {
                        param: k.clone(),
                        value: v.clone(),
                    });
                }
                _ => {}
            }
        }
        if kind == DecisionQueryKind::Delete {
            // Deletion acts on every matching decision, simulated or not.
            f.include_simulated = true;
        }
        Ok(f)
    }
}

impl StreamQuery {
    /// Parses the query string of `GET /v1/decisions/stream`.
    pub fn from_query(params: &[(String, String)]) -> Result<Self> {
        let mut startup = false;
        let mut dedup = true;
        for (k, v) in params {
            match k.as_str() {
                "startup" => startup = parse_bool(k, v)?,
                "dedup" => dedup = parse_bool(k, v)?,
                _ => {}
            }
        }
        let filter = DecisionFilter::from_query(params, DecisionQueryKind::Stream)?;
        Ok(Self {
            filter,
            startup,
            dedup,
        })
    }
}

/// Escapes `%`, `_` and the escape character itself for `LIKE ... ESCAPE '!'`.
pub(crate) fn like_contains(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('%');
    for c in word.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Appends ` AND <range condition>` on the decision alias `t`.
pub(crate) fn push_range(sql: &mut Sql, t: &str, r: &IpRange, contains: bool) {
    sql.push(&format!(" AND {t}.ip_size = ")).bind(r.size);
    if contains {
        // decision.start <= query.start AND decision.end >= query.end
        sql.push(&format!(" AND ({t}.start_ip < ")).bind(r.start_ip);
        sql.push(&format!(" OR ({t}.start_ip = ")).bind(r.start_ip);
        sql.push(&format!(" AND {t}.start_suffix <= "))
            .bind(r.start_suffix)
            .push("))");
        sql.push(&format!(" AND ({t}.end_ip > ")).bind(r.end_ip);
        sql.push(&format!(" OR ({t}.end_ip = ")).bind(r.end_ip);
        sql.push(&format!(" AND {t}.end_suffix >= "))
            .bind(r.end_suffix)
            .push("))");
    } else {
        // decision.start >= query.start AND decision.end <= query.end
        sql.push(&format!(" AND ({t}.start_ip > ")).bind(r.start_ip);
        sql.push(&format!(" OR ({t}.start_ip = ")).bind(r.start_ip);
        sql.push(&format!(" AND {t}.start_suffix >= "))
            .bind(r.start_suffix)
            .push("))");
        sql.push(&format!(" AND ({t}.end_ip < ")).bind(r.end_ip);
        sql.push(&format!(" OR ({t}.end_ip = ")).bind(r.end_ip);
        sql.push(&format!(" AND {t}.end_suffix <= "))
            .bind(r.end_suffix)
            .push("))");
    }
}

/// Appends the filter's conditions on alias `d` (each prefixed with ` AND`).
fn push_filter(sql: &mut Sql, f: &DecisionFilter) {
    if !f.scopes.is_empty() {
        sql.push(" AND d.scope IN ").bind_list(f.scopes.iter());
    }
    if let Some(v) = &f.value {
        sql.push(" AND d.value = ").bind(v);
    }
    if !f.values.is_empty() {
        sql.push(" AND d.value IN ").bind_list(f.values.iter());
    }
    if let Some(t) = &f.decision_type {
        sql.push(" AND d.type = ").bind(t);
    }
    if !f.origins.is_empty() {
        sql.push(" AND d.origin IN ").bind_list(f.origins.iter());
    }
    if let Some(s) = &f.scenario {
        sql.push(" AND d.scenario = ").bind(s);
    }
    if !f.scenarios_containing.is_empty() {
        sql.push(" AND (");
        for (i, w) in f.scenarios_containing.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("LOWER(d.scenario) LIKE ")
                .bind(like_contains(w))
                .push(" ESCAPE '!'");
        }
        sql.push(")");
    }
    for w in &f.scenarios_not_containing {
        sql.push(" AND LOWER(d.scenario) NOT LIKE ")
            .bind(like_contains(w))
            .push(" ESCAPE '!'");
    }
    if let Some(r) = &f.ip_range {
        push_range(sql, "d", r, f.contains);
    }
    if !f.include_simulated {
        sql.push(" AND d.simulated = ").bind(false);
    }
    if !f.uuids.is_empty() {
        sql.push(" AND d.uuid IN ").bind_list(f.uuids.iter());
    }
    if let Some(id) = f.id_gt {
        sql.push(" AND d.id > ").bind(id);
    }
}

/// Excludes a decision when another row for the same (value, type, scope) expires later.
const DEDUP: &str = " AND NOT EXISTS (SELECT 1 FROM decisions d2 WHERE d2.value = d.value AND d2.type = d.type AND d2.scope = d.scope AND d2.until_at > d.until_at)";

fn push_page(sql: &mut Sql, f: &DecisionFilter) {
    // `+d.id` keeps SQLite from walking the primary key to avoid a sort, which would scan
    // every expired row; with it the planner uses the `until_at`/`created_at` indexes and
    // sorts the few matching rows. Other backends treat `+` as a no-op.
    sql.push(" ORDER BY +d.id");
    push_limit(sql, f);
}

fn push_limit(sql: &mut Sql, f: &DecisionFilter) {
    match (f.limit, f.offset) {
        (Some(l), o) => {
            sql.push(" LIMIT ")
                .bind(i64::try_from(l).unwrap_or(i64::MAX));
            if let Some(o) = o {
                sql.push(" OFFSET ")
                    .bind(i64::try_from(o).unwrap_or(i64::MAX));
            }
        }
        (None, Some(o)) => {
            // SQL needs a LIMIT before an OFFSET; the largest i64 means "no limit".
            sql.push(" LIMIT ")
                .bind(i64::MAX)
                .push(" OFFSET ")
                .bind(i64::try_from(o).unwrap_or(i64::MAX));
        }
        (None, None) => {}
    }
}

/// One group of [`Store::count_active_decisions_by_reason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveDecisionCount {
    /// Decision scenario (the reason).
    pub scenario: String,
    /// Decision origin.
    pub origin: String,
    /// Decision type (the action).
    pub decision_type: String,
    /// Number of active decisions.
    pub count: u64,
}

impl Store {
    async fn select_decisions(&self, sql: Sql) -> Result<Vec<DecisionRecord>> {
        Ok(self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(decision)
            .collect())
    }

    fn bouncer_sql(&self, f: &DecisionFilter, now: DateTime<Utc>) -> Sql {
        let mut sql = self.sql(&format!(
            "SELECT {COLS} FROM decisions d WHERE d.until_at >= "
        ));
        sql.bind(to_ns(now));
        push_filter(&mut sql, f);
        push_page(&mut sql, f);
        sql
    }

    fn active_sql(&self, f: &DecisionFilter, now: DateTime<Utc>, dedup: bool) -> Sql {
        let mut sql = self.sql(&format!(
            "SELECT {COLS} FROM decisions d WHERE d.until_at > "
        ));
        sql.bind(to_ns(now));
        push_filter(&mut sql, f);
        if dedup {
            sql.push(DEDUP);
        }
        push_page(&mut sql, f);
        sql
    }

    fn created_since_sql(
        &self,
        f: &DecisionFilter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Sql {
        let mut sql = self.sql(&format!(
            "SELECT {COLS} FROM decisions d WHERE d.created_at > "
        ));
        sql.bind(to_ns(since))
            .push(" AND d.until_at > ")
            .bind(to_ns(now));
        push_filter(&mut sql, f);
        if dedup {
            sql.push(DEDUP);
        }
        push_page(&mut sql, f);
        sql
    }

    fn expired_sql(
        &self,
        f: &DecisionFilter,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Sql {
        let mut sql = self.sql(&format!(
            "SELECT {COLS} FROM decisions d WHERE d.until_at < "
        ));
        sql.bind(to_ns(now));
        if let Some(s) = since {
            sql.push(" AND d.until_at > ").bind(to_ns(s));
        }
        push_filter(&mut sql, f);
        if dedup {
            sql.push(DEDUP);
        }
        push_page(&mut sql, f);
        sql
    }

    /// What [`Store::expired_sql`] (`expired`, no `since`) or [`Store::active_sql`] select, on
    /// SQLite, as [`DecisionRow`] columns. The ids come from the covering `until_at` index and
    /// the rows are then looked up in id order, so SQLite neither sorts the full rows (what
    /// `ORDER BY +d.id` costs on a million of them) nor walks the rows of the other list.
    fn startup_rows_sql(
        &self,
        f: &DecisionFilter,
        expired: bool,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Sql {
        let mut sql = self.sql(&format!(
            "SELECT {ROW_COLS} FROM decisions d WHERE d.id IN (SELECT id FROM decisions WHERE until_at {} ",
            if expired { "<" } else { ">" }
        ));
        sql.bind(to_ns(now)).push(")");
        push_filter(&mut sql, f);
        if dedup {
            sql.push(DEDUP);
        }
        sql.push(" ORDER BY d.id");
        push_limit(&mut sql, f);
        sql
    }

    /// `GET /v1/decisions`: decisions still active at `now` (`until >= now`), by id.
    pub async fn list_decisions(
        &self,
        f: &DecisionFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        self.select_decisions(self.bouncer_sql(f, now)).await
    }

    /// Stream, startup: every decision active at `now` (`until > now`), by id.
    pub async fn list_active_decisions(
        &self,
        f: &DecisionFilter,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Result<Vec<DecisionRecord>> {
        self.select_decisions(self.active_sql(f, now, dedup)).await
    }

    /// Stream, delta: decisions created after `since` and still active at `now`, by id.
    pub async fn list_decisions_created_since(
        &self,
        f: &DecisionFilter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Result<Vec<DecisionRecord>> {
        self.select_decisions(self.created_since_sql(f, since, now, dedup))
            .await
    }

    /// Stream `deleted` list: decisions that expired after `since` (all expired ones when
    /// `None`) and before `now`, by id. Uses the `until` index, so a delta pull stays cheap
    /// however many old expired rows the table holds.
    pub async fn list_expired_decisions(
        &self,
        f: &DecisionFilter,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        dedup: bool,
    ) -> Result<Vec<DecisionRecord>> {
        self.select_decisions(self.expired_sql(f, since, now, dedup))
            .await
    }

    /// Stream, startup, for large answers: the decisions [`Store::list_expired_decisions`]
    /// (`expired`, no `since`) or [`Store::list_active_decisions`] (`!expired`) would list, in the
    /// same order, each written by `write` at the end of a buffer. Buffers are sent on the
    /// returned channel as soon as they hold `chunk` bytes, while the query runs, so that memory
    /// stays bounded however many decisions there are; the last one may be shorter, and none is
    /// sent when no decision matches. A database error is sent as the last item.
    ///
    /// On SQLite the rows are read directly from the database file on a blocking thread (see
    /// `sqlite_direct.rs`); `write` then runs on that thread.
    pub fn encoded_decisions<W>(
        &self,
        f: &DecisionFilter,
        expired: bool,
        now: DateTime<Utc>,
        dedup: bool,
        chunk: usize,
        write: W,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>>>
    where
        W: FnMut(&mut Vec<u8>, &DecisionRow<'_>) + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let mut chunks = Chunks {
            buf: Vec::new(),
            size: chunk.max(1),
            write,
        };
        let db = self.db.clone();
        let streams = self.streams.clone();
        if let Pools::Sqlite { direct, .. } = &self.db {
            let sql = self.startup_rows_sql(f, expired, now, dedup);
            let direct = direct.clone();
            tokio::spawn(async move {
                // Never closed, so acquiring only waits.
                let Ok(permit) = streams.acquire_owned().await else {
                    return;
                };
                let read = move || {
                    let _permit = permit;
                    let res = direct.for_each_row(&sql, |r| {
                        Ok(match chunks.push(&direct_row(r)?) {
                            Some(full) => tx.blocking_send(Ok(full)).is_ok(),
                            None => true,
                        })
                    });
                    let last = match res {
                        Ok(()) => chunks.rest().map(Ok),
                        Err(e) => Some(Err(e)),
                    };
                    if let Some(last) = last {
                        let _ = tx.blocking_send(last);
                    }
                };
                let _ = tokio::task::spawn_blocking(read).await;
            });
            return rx;
        }
        let sql = if expired {
            self.expired_sql(f, None, now, dedup)
        } else {
            self.active_sql(f, now, dedup)
        };
        tokio::spawn(async move {
            let Ok(_permit) = streams.acquire_owned().await else {
                return;
            };
            let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel(2);
            let fetch = async move {
                if let Err(e) = db
                    .fetch_batches(sql, TYS, FETCH_BATCH, decision, &rows_tx)
                    .await
                {
                    let _ = rows_tx.send(Err(e)).await;
                }
            };
            // Owns the row receiver, so that the fetch stops when this ends early.
            let encode = async move {
                while let Some(batch) = rows_rx.recv().await {
                    let records = match batch {
                        Ok(records) => records,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    for r in &records {
                        if let Some(full) = chunks.push(&r.as_row())
                            && tx.send(Ok(full)).await.is_err()
                        {
                            return;
                        }
                    }
                }
                if let Some(rest) = chunks.rest() {
                    let _ = tx.send(Ok(rest)).await;
                }
            };
            tokio::join!(fetch, encode);
        });
        rx
    }

    /// One decision by id.
    pub async fn get_decision(&self, id: i64) -> Result<Option<DecisionRecord>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM decisions d WHERE d.id = "));
        sql.bind(id);
        Ok(self.db.fetch_optional(sql, TYS).await?.map(decision))
    }

    /// `DELETE /v1/decisions`: expires (`until := now`) the matching decisions still active,
    /// so that bouncers receive them in `deleted`. Returns the expired decisions.
    pub async fn expire_decisions(
        &self,
        f: &DecisionFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let mut select = self.sql(&format!(
            "SELECT {COLS} FROM decisions d WHERE d.until_at > "
        ));
        select.bind(to_ns(now));
        push_filter(&mut select, f);
        push_page(&mut select, f);
        let found = self.select_decisions(select).await?;
        self.expire_ids(found.iter().map(|d| d.id), now).await?;
        Ok(found)
    }

    /// `DELETE /v1/decisions/{id}`: expires one decision if it is active. Returns the number
    /// of decisions expired (0 when the id is unknown or already expired).
    pub async fn expire_decision_by_id(&self, id: i64, now: DateTime<Utc>) -> Result<u64> {
        let mut sql = self.sql("UPDATE decisions SET until_at = ");
        sql.bind(to_ns(now))
            .push(", updated_at = ")
            .bind(to_ns(now));
        sql.push(" WHERE id = ")
            .bind(id)
            .push(" AND until_at > ")
            .bind(to_ns(now));
        self.db.execute(sql).await
    }

    pub(crate) async fn expire_ids(
        &self,
        ids: impl Iterator<Item = i64>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let ids: Vec<i64> = ids.collect();
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let mut sql = self.sql("UPDATE decisions SET until_at = ");
            sql.bind(to_ns(now))
                .push(", updated_at = ")
                .bind(to_ns(now))
                .push(" WHERE id IN ");
            sql.bind_list(chunk.iter().copied());
            n += self.db.execute(sql).await?;
        }
        Ok(n)
    }

    /// Hard-deletes decisions that expired before `before`. Returns the count.
    pub async fn delete_expired_decisions(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut sql = self.sql("DELETE FROM decisions WHERE until_at < ");
        sql.bind(to_ns(before));
        self.db.execute(sql).await
    }

    /// Decisions active at `now` counted per (scenario, origin, type), the labels of the
    /// `cs_active_decisions{reason,origin,action}` gauge.
    pub async fn count_active_decisions_by_reason(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<ActiveDecisionCount>> {
        let mut sql =
            self.sql("SELECT scenario, origin, type, COUNT(*) FROM decisions WHERE until_at > ");
        sql.bind(to_ns(now))
            .push(" GROUP BY scenario, origin, type ORDER BY scenario, origin, type");
        Ok(self
            .db
            .fetch(sql, &[Ty::Text, Ty::Text, Ty::Text, Ty::Int])
            .await?
            .into_iter()
            .map(|mut r| ActiveDecisionCount {
                scenario: r.text(),
                origin: r.text(),
                decision_type: r.text(),
                count: u64::try_from(r.int()).unwrap_or(0),
            })
            .collect())
    }

    /// Number of decisions active at `now`, all origins and scopes.
    pub async fn count_active_decisions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut sql = self.sql("SELECT COUNT(*) FROM decisions WHERE until_at > ");
        sql.bind(to_ns(now));
        Ok(u64::try_from(self.db.fetch_int(sql).await?).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn stream_defaults_to_ip_and_range() {
        let s = StreamQuery::from_query(&q(&[])).unwrap();
        assert_eq!(s.filter.scopes, vec!["Ip", "Range"]);
        assert!(!s.startup && s.dedup);
        let s = StreamQuery::from_query(&q(&[
            ("startup", "true"),
            ("scopes", "ip"),
            ("dedup", "false"),
        ]))
        .unwrap();
        assert_eq!(s.filter.scopes, vec!["Ip"]);
        assert!(s.startup && !s.dedup);
    }

    #[test]
    fn delete_refuses_unknown_parameters() {
        let err = DecisionFilter::from_query(&q(&[("foo", "bar")]), DecisionQueryKind::Delete)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Filter parameter 'foo' is unknown (=bar): invalid filter"
        );
        let f =
            DecisionFilter::from_query(&q(&[("foo", "bar")]), DecisionQueryKind::Bouncer).unwrap();
        assert_eq!(f, DecisionFilter::default());
    }

    #[test]
    fn bad_values_are_errors() {
        for (k, v) in [("ip", "1.2.3"), ("contains", "maybe"), ("limit", "-1")] {
            assert!(
                DecisionFilter::from_query(&q(&[(k, v)]), DecisionQueryKind::Bouncer).is_err(),
                "{k}={v}"
            );
        }
    }

    /// Guards the `+d.id` ordering: without it SQLite walks the whole table in id order,
    /// which made a delta pull over a million expired decisions take 300 ms instead of 0.3 ms.
    #[tokio::test]
    async fn bouncer_queries_use_time_indexes_instead_of_scanning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::StoreConfig::sqlite(dir.path().join("plan.db")))
            .await
            .unwrap();
        let now = Utc::now();
        let since = now - chrono::Duration::minutes(1);
        let stream = StreamQuery::from_query(&[]).unwrap().filter;
        let by_ip =
            DecisionFilter::from_query(&q(&[("ip", "10.0.0.1")]), DecisionQueryKind::Bouncer)
                .unwrap();
        let cases = [
            (
                "startup",
                store.active_sql(&stream, now, true),
                "decisions_until",
            ),
            (
                "new",
                store.created_since_sql(&stream, since, now, true),
                "decisions_created_at",
            ),
            (
                "deleted",
                store.expired_sql(&stream, Some(since), now, true),
                "decisions_until",
            ),
            (
                "get by ip",
                store.bouncer_sql(&by_ip, now),
                "decisions_until",
            ),
        ];
        for (name, sql, index) in cases {
            let rows = store
                .db
                .fetch(sql.explain(), &[Ty::Int, Ty::Int, Ty::Int, Ty::Text])
                .await
                .unwrap();
            let plan: Vec<String> = rows
                .into_iter()
                .map(|mut r| {
                    let _ = (r.int(), r.int(), r.int());
                    r.text()
                })
                .collect();
            assert!(
                plan.iter()
                    .any(|p| p.starts_with("SEARCH d USING INDEX") && p.contains(index)),
                "{name}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|p| p.starts_with("SCAN d")),
                "{name}: {plan:?}"
            );
        }
    }

    /// Guards the plan of the startup stream on SQLite: ids from the covering `until_at` index,
    /// rows looked up in id order. Sorting a million full rows instead took seconds.
    #[tokio::test]
    async fn startup_rows_are_read_in_id_order_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::StoreConfig::sqlite(dir.path().join("plan.db")))
            .await
            .unwrap();
        let startup = StreamQuery::from_query(&q(&[("startup", "true")])).unwrap();
        let filtered = StreamQuery::from_query(&q(&[
            ("startup", "true"),
            ("origins", "cscli"),
            ("scenarios_containing", "ssh"),
        ]))
        .unwrap();
        for (f, expired, dedup) in [
            (&startup.filter, false, true),
            (&startup.filter, true, true),
            (&filtered.filter, false, false),
        ] {
            let sql = store.startup_rows_sql(f, expired, Utc::now(), dedup);
            let plan: Vec<String> = store
                .db
                .fetch(sql.explain(), &[Ty::Int, Ty::Int, Ty::Int, Ty::Text])
                .await
                .unwrap()
                .into_iter()
                .map(|mut r| {
                    let _ = (r.int(), r.int(), r.int());
                    r.text()
                })
                .collect();
            let has = |p: &str| plan.iter().any(|l| l.starts_with(p));
            assert!(has("SEARCH d USING INTEGER PRIMARY KEY"), "{plan:?}");
            assert!(
                has("SEARCH decisions USING COVERING INDEX decisions_until"),
                "{plan:?}"
            );
            assert!(!has("USE TEMP B-TREE") && !has("SCAN"), "{plan:?}");
        }
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_contains("SSH_bf%!"), "%ssh!_bf!%!!%");
    }
}
