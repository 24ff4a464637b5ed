//! Alerts with their events, meta and decisions: insertion (one transaction per batch of 50
//! alerts), listing with upstream's filters, and deletion.

use chrono::{DateTime, Utc};
use cs_models::{Alert, MetaItem, scope};

use crate::db::{Row, Sql, Tx, Ty};
use crate::decisions::{self, DecisionRecord, parse_u64, push_range};
use crate::ip::IpRange;
use crate::time::{add_ns, from_ns, parse_rfc3339, to_ns};
use crate::{Error, Result, Store};

/// Alerts inserted per transaction.
const ALERT_BATCH: usize = 50;
/// Child rows per multi-row INSERT (well under every backend's bind-parameter limit).
const ROW_BATCH: usize = 200;
/// Longest stored `events.serialized`.
const MAX_SERIALIZED: usize = 8191;
/// Longest stored `meta.value`.
const MAX_META_VALUE: usize = 4095;

/// An event of a stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Event time.
    pub time: DateTime<Utc>,
    /// Event meta.
    pub meta: Vec<MetaItem>,
}

/// A stored alert with its children.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Row id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Insertion time.
    pub created_at: DateTime<Utc>,
    /// Scenario name.
    pub scenario: String,
    /// Message.
    pub message: String,
    /// Number of events.
    pub events_count: i32,
    /// First event time.
    pub started_at: DateTime<Utc>,
    /// Overflow time.
    pub stopped_at: DateTime<Utc>,
    /// Source (scope, value, ip, range, AS, country, coordinates).
    pub source: cs_models::Source,
    /// Bucket capacity.
    pub capacity: i32,
    /// Leak speed text.
    pub leak_speed: String,
    /// Scenario version.
    pub scenario_version: String,
    /// Scenario hash.
    pub scenario_hash: String,
    /// Simulated scenario.
    pub simulated: bool,
    /// Remediation requested.
    pub remediation: bool,
    /// Alert kind.
    pub kind: String,
    /// Owner machine, `None` for CAPI/console alerts.
    pub machine_id: Option<String>,
    /// Decisions, by id.
    pub decisions: Vec<DecisionRecord>,
    /// Events, by id.
    pub events: Vec<EventRecord>,
    /// Alert meta, by id.
    pub meta: Vec<MetaItem>,
}

/// Formats a time like Go's `time.Time.String()` in UTC: `2026-02-12 14:10:21.5 +0000 UTC`
/// (fraction without trailing zeros), the form upstream uses for event timestamps and, in
/// 1.4.x, for alert `start_at`/`stop_at`.
pub fn go_time_string(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        format!("{base} +0000 UTC")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{} +0000 UTC", frac.trim_end_matches('0'))
    }
}

/// RFC3339 in UTC with whole seconds (`2026-11-22T09:50:41Z`).
pub fn rfc3339_seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl AlertRecord {
    /// The wire alert as `GET /v1/alerts` returns it: times in RFC3339 (seconds), event
    /// timestamps in Go `Time.String()` form, decision durations remaining at `now`,
    /// `machine_id` `N/A` when there is no owner, empty lists as `null`.
    pub fn to_model(&self, now: DateTime<Utc>) -> Alert {
        Alert {
            capacity: Some(self.capacity),
            created_at: rfc3339_seconds(self.created_at),
            decisions: (!self.decisions.is_empty())
                .then(|| self.decisions.iter().map(|d| d.to_model(now)).collect()),
            events: (!self.events.is_empty()).then(|| {
                self.events
                    .iter()
                    .map(|e| cs_models::Event {
                        meta: e.meta.clone(),
                        timestamp: Some(go_time_string(e.time)),
                    })
                    .collect()
            }),
            events_count: Some(self.events_count),
            id: self.id,
            kind: self.kind.clone(),
            labels: None,
            leakspeed: Some(self.leak_speed.clone()),
            machine_id: self.machine_id.clone().unwrap_or_else(|| "N/A".to_owned()),
            message: Some(self.message.clone()),
            meta: self.meta.clone(),
            remediation: self.remediation,
            scenario: Some(self.scenario.clone()),
            scenario_hash: Some(self.scenario_hash.clone()),
            scenario_version: Some(self.scenario_version.clone()),
            simulated: Some(self.simulated),
            source: Some(self.source.clone()),
            start_at: Some(rfc3339_seconds(self.started_at)),
            stop_at: Some(rfc3339_seconds(self.stopped_at)),
            uuid: self.uuid.clone(),
        }
    }
}

/// Sort order of alert listings (by `created_at`, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Newest first (default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

/// Filters of `GET`/`DELETE /v1/alerts`; `None`/empty do not filter.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFilter {
    /// Source scope (normalised).
    pub scope: Option<String>,
    /// Source value.
    pub value: Option<String>,
    /// Alert scenario, or scenario of one of its decisions.
    pub scenario: Option<String>,
    /// Range matched against the alert's decisions.
    pub ip_range: Option<IpRange>,
    /// `true`: a decision contains `ip_range`; `false`: a decision is inside it.
    pub contains: bool,
    /// Started at or after.
    pub started_after: Option<DateTime<Utc>>,
    /// Started at or before.
    pub started_before: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_before: Option<DateTime<Utc>>,
    /// Has a decision of this type.
    pub decision_type: Option<String>,
    /// Has a decision of this origin.
    pub origin: Option<String>,
    /// `false` hides CAPI / blocklist alerts.
    pub include_capi: bool,
    /// `Some(true)`: has a decision active at query time; `Some(false)`: has no decision.
    pub has_active_decision: Option<bool>,
    /// Alert kind.
    pub kind: Option<String>,
    /// Exclude simulated alerts.
    pub exclude_simulated: bool,
    /// At most this many alerts (`None`: all). Ignored by deletion.
    pub limit: Option<u64>,
    /// Listing order.
    pub sort: SortOrder,
}

impl Default for AlertFilter {
    fn default() -> Self {
        Self {
            scope: None,
            value: None,
            scenario: None,
            ip_range: None,
            contains: true,
            started_after: None,
            started_before: None,
            created_before: None,
            decision_type: None,
            origin: None,
            include_capi: true,
            has_active_decision: None,
            kind: None,
            exclude_simulated: false,
            limit: None,
            sort: SortOrder::Desc,
        }
    }
}

fn bool_param(k: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::InvalidFilter {
            param: k.into(),
            value: v.into(),
            reason: "not a boolean".into(),
        }),
    }
}

fn ago(k: &str, v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let ns = cs_models::parse_duration(v).map_err(|e| Error::InvalidFilter {
        param: k.into(),
        value: v.into(),
        reason: e.to_string(),
    })?;
    Ok(from_ns(to_ns(now).saturating_sub(ns)))
}

impl AlertFilter {
    /// Parses the query string of `GET`/`DELETE /v1/alerts`. Durations (`since`, `until`,
    /// `created_before`) are relative to `now`. `limit` defaults to 100 and `0` means all.
    /// Unknown parameters are refused like upstream.
    pub fn from_query(params: &[(String, String)], now: DateTime<Utc>) -> Result<Self> {
        let mut f = AlertFilter {
            limit: Some(100),
            ..AlertFilter::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "scope" => f.scope = Some(scope::normalize(v).to_owned()),
                "value" => f.value = Some(v.clone()),
                "scenario" => f.scenario = Some(v.clone()),
                "ip" | "range" => f.ip_range = Some(IpRange::parse(v)?),
                "contains" => f.contains = bool_param(k, v)?,
                "since" => f.started_after = Some(ago(k, v, now)?),
                "until" => f.started_before = Some(ago(k, v, now)?),
                "created_before" => f.created_before = Some(ago(k, v, now)?),
                "decision_type" => f.decision_type = Some(v.clone()),
                "origin" => f.origin = Some(v.clone()),
                "include_capi" => f.include_capi = bool_param(k, v)?,
                "has_active_decision" => f.has_active_decision = Some(bool_param(k, v)?),
                "kind" => f.kind = Some(v.clone()),
                "simulated" => f.exclude_simulated = v == "false",
                "limit" => {
                    let l = parse_u64(k, v)?;
                    f.limit = (l != 0).then_some(l);
                }
                "sort" => {
                    f.sort = if v.eq_ignore_ascii_case("asc") {
                        SortOrder::Asc
                    } else {
                        SortOrder::Desc
                    }
                }
                "with_decisions" | "alert_source" => {}
                _ => {
                    return Err(Error::UnknownFilter {
                        param: k.clone(),
                        value: v.clone(),
                    });
                }
            }
        }
        // An origin filter implies CAPI alerts are wanted.
        if f.origin.is_some() {
            f.include_capi = true;
        }
        Ok(f)
    }
}

/// Appends the filter's conditions on alias `a` (each prefixed with ` AND`).
fn push_filter(sql: &mut Sql, f: &AlertFilter, now: DateTime<Utc>) {
    let has_decision = |sql: &mut Sql| {
        sql.push(" AND EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id");
    };
    if let Some(s) = &f.scope {
        sql.push(" AND a.source_scope = ").bind(s);
    }
    if let Some(v) = &f.value {
        sql.push(" AND a.source_value = ").bind(v);
    }
    if let Some(s) = &f.scenario {
        sql.push(" AND (a.scenario = ").bind(s);
        sql.push(" OR EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id AND d.scenario = ");
        sql.bind(s).push("))");
    }
    if let Some(r) = &f.ip_range {
        has_decision(sql);
        push_range(sql, "d", r, f.contains);
        sql.push(")");
    }
    if let Some(t) = f.started_after {
        sql.push(" AND a.started_at >= ").bind(to_ns(t));
    }
    if let Some(t) = f.started_before {
        sql.push(" AND a.started_at <= ").bind(to_ns(t));
    }
    if let Some(t) = f.created_before {
        sql.push(" AND a.created_at <= ").bind(to_ns(t));
    }
    if let Some(t) = &f.decision_type {
        has_decision(sql);
        sql.push(" AND d.type = ").bind(t).push(")");
    }
    if let Some(o) = &f.origin {
        has_decision(sql);
        sql.push(" AND d.origin = ").bind(o).push(")");
    }
    if !f.include_capi {
        sql.push(" AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id AND d.origin IN ");
        sql.bind_list([scope::ORIGIN_CAPI, scope::ORIGIN_LISTS])
            .push(")");
        sql.push(" AND NOT (NOT EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id) AND (a.source_scope LIKE ");
        sql.bind("lists:%")
            .push(" OR a.source_scope = ")
            .bind(scope::COMMUNITY_BLOCKLIST)
            .push("))");
    }
    match f.has_active_decision {
        Some(true) => {
            has_decision(sql);
            sql.push(" AND d.until_at >= ").bind(to_ns(now)).push(")");
        }
        Some(false) => {
            sql.push(" AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.alert_decisions = a.id)");
        }
        None => {}
    }
    if let Some(k) = &f.kind {
        sql.push(" AND a.kind = ").bind(k);
    }
    if f.exclude_simulated {
        sql.push(" AND a.simulated = ").bind(false);
    }
}

const COLS: &str = "a.id, a.uuid, a.created_at, a.scenario, a.message, a.events_count, a.started_at, a.stopped_at, a.source_ip, a.source_range, a.source_as_number, a.source_as_name, a.source_country, a.source_latitude, a.source_longitude, a.source_scope, a.source_value, a.capacity, a.leak_speed, a.scenario_version, a.scenario_hash, a.simulated, a.remediation, a.kind, a.machine_id";
const TYS: &[Ty] = &[
    Ty::Int,
    Ty::Text,
    Ty::Int,
    Ty::Text,
    Ty::Text,
    Ty::Int,
    Ty::Int,
    Ty::Int,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Float,
    Ty::Float,
    Ty::Text,
    Ty::Text,
    Ty::Int,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
    Ty::Bool,
    Ty::Text,
    Ty::OptText,
];

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

// Coordinates are stored as f64 from f32 input, so the narrowing is exact.
#[allow(clippy::cast_possible_truncation)]
fn to_f32(v: f64) -> f32 {
    v as f32
}

fn alert(mut r: Row) -> AlertRecord {
    let id = r.int();
    let uuid = r.text();
    let created_at = from_ns(r.int());
    let scenario = r.text();
    let message = r.text();
    let events_count = clamp_i32(r.int());
    let started_at = from_ns(r.int());
    let stopped_at = from_ns(r.int());
    let source = cs_models::Source {
        ip: r.text(),
        range: r.text(),
        as_number: r.text(),
        as_name: r.text(),
        cn: r.text(),
        latitude: to_f32(r.float()),
        longitude: to_f32(r.float()),
        scope: Some(r.text()),
        value: Some(r.text()),
    };
    AlertRecord {
        id,
        uuid,
        created_at,
        scenario,
        message,
        events_count,
        started_at,
        stopped_at,
        source,
        capacity: clamp_i32(r.int()),
        leak_speed: r.text(),
        scenario_version: r.text(),
        scenario_hash: r.text(),
        simulated: r.bool(),
        remediation: r.bool(),
        kind: r.text(),
        machine_id: r.opt_text(),
        decisions: Vec::new(),
        events: Vec::new(),
        meta: Vec::new(),
    }
}

/// Truncates to at most `max` characters.
fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// JSON of an event's meta list, shortened to fit `events.serialized`: values are cut
/// shorter and shorter, and the meta is dropped if even that does not fit.
fn serialize_event_meta(meta: &[MetaItem]) -> String {
    let full = serde_json::to_string(meta).unwrap_or_else(|_| "[]".to_owned());
    if full.chars().count() <= MAX_SERIALIZED {
        return full;
    }
    for max in [1024, 256, 64, 16] {
        let cut: Vec<MetaItem> = meta
            .iter()
            .map(|m| MetaItem::new(m.key.clone(), truncate_chars(&m.value, max)))
            .collect();
        let s = serde_json::to_string(&cut).unwrap_or_else(|_| "[]".to_owned());
        if s.chars().count() <= MAX_SERIALIZED {
            return s;
        }
    }
    tracing::warn!("event meta too large, dropped");
    "[]".to_owned()
}

/// A decision ready for insertion.
struct NewDecision {
    until: i64,
    scenario: String,
    decision_type: String,
    range: Option<IpRange>,
    scope: String,
    value: String,
    origin: String,
    simulated: bool,
    uuid: String,
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Prepares the decisions of an alert: `until = stop_at + duration`; Ip/Range decisions
/// whose value does not parse are skipped, as upstream does.
fn prepare_decisions(a: &Alert, stop_ns: i64) -> Result<Vec<NewDecision>> {
    let mut out = Vec::with_capacity(a.decisions().len());
    for d in a.decisions() {
        let dur = cs_models::parse_duration(d.get_duration()).map_err(|e| Error::InvalidAlert {
            reason: format!("decision duration: {e}"),
        })?;
        let sc = scope::normalize(d.get_scope()).to_owned();
        let range = if sc == scope::IP || sc == scope::RANGE {
            match IpRange::parse(d.get_value()) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(value = d.get_value(), error = %e, "invalid ip in decision, skipped");
                    continue;
                }
            }
        } else {
            None
        };
        out.push(NewDecision {
            until: add_ns(stop_ns, dur),
            scenario: d.get_scenario().to_owned(),
            decision_type: d.get_type().to_owned(),
            range,
            scope: sc,
            value: d.get_value().to_owned(),
            origin: d.get_origin().to_owned(),
            // A decision is simulated when its alert is, or when a profile made it so.
            simulated: a.is_simulated() || d.simulated.unwrap_or(false),
            uuid: if d.uuid.is_empty() {
                new_uuid()
            } else {
                d.uuid.clone()
            },
        });
    }
    Ok(out)
}

impl Store {
    /// Stores alerts with their events, meta and decisions (batches of 50 alerts per
    /// transaction) and returns the new ids in input order. `machine_id` owns the alerts
    /// (its `last_push` is updated). Empty UUIDs are generated; decision `until` is
    /// `stop_at + duration`; a decision is stored simulated when it or its alert is; dates
    /// that do not parse as RFC3339 become now. An alert whose decisions are all invalid
    /// IPs is dropped and gets no id.
    pub async fn create_alerts(
        &self,
        machine_id: Option<&str>,
        alerts: &[Alert],
    ) -> Result<Vec<i64>> {
        let now = Utc::now();
        let mut ids = Vec::with_capacity(alerts.len());
        for batch in alerts.chunks(ALERT_BATCH) {
            let mut tx = self.db.begin().await?;
            for a in batch {
                if let Some(id) = self.insert_alert(&mut tx, machine_id, a, now).await? {
                    ids.push(id);
                }
            }
            tx.commit().await?;
        }
        if let Some(m) = machine_id
            && self.get_machine(m).await?.is_some()
        {
            self.update_machine_last_push(m, now).await?;
        }
        Ok(ids)
    }

    async fn insert_alert(
        &self,
        tx: &mut Tx,
        machine_id: Option<&str>,
        a: &Alert,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let now_ns = to_ns(now);
        let parse = |s: &Option<String>| s.as_deref().and_then(parse_rfc3339).map_or(now_ns, to_ns);
        let (start_ns, stop_ns) = (parse(&a.start_at), parse(&a.stop_at));
        let decisions = prepare_decisions(a, stop_ns)?;
        if decisions.is_empty() && !a.decisions().is_empty() {
            tracing::warn!(
                scenario = a.get_scenario(),
                "all decisions of the alert are invalid, alert dropped"
            );
            return Ok(None);
        }
        let src = a.source.clone().unwrap_or_default();
        let mut sql = self.sql("INSERT INTO alerts (created_at, updated_at, scenario, bucket_id, message, events_count, started_at, stopped_at, source_ip, source_range, source_as_number, source_as_name, source_country, source_latitude, source_longitude, source_scope, source_value, capacity, leak_speed, scenario_version, scenario_hash, simulated, uuid, remediation, kind, machine_id) VALUES (");
        sql.bind(now_ns)
            .push(", ")
            .bind(now_ns)
            .push(", ")
            .bind(a.get_scenario())
            .push(", '', ");
        sql.bind(a.message.as_deref().unwrap_or(""))
            .push(", ")
            .bind(i64::from(a.get_events_count()));
        sql.push(", ")
            .bind(start_ns)
            .push(", ")
            .bind(stop_ns)
            .push(", ")
            .bind(&src.ip);
        sql.push(", ")
            .bind(&src.range)
            .push(", ")
            .bind(&src.as_number)
            .push(", ")
            .bind(&src.as_name);
        sql.push(", ")
            .bind(&src.cn)
            .push(", ")
            .bind(f64::from(src.latitude));
        sql.push(", ").bind(f64::from(src.longitude));
        sql.push(", ")
            .bind(scope::normalize(src.get_scope()))
            .push(", ")
            .bind(src.get_value());
        sql.push(", ").bind(i64::from(a.capacity.unwrap_or(0)));
        sql.push(", ").bind(a.leakspeed.as_deref().unwrap_or(""));
        sql.push(", ")
            .bind(a.scenario_version.as_deref().unwrap_or(""));
        sql.push(", ")
            .bind(a.scenario_hash.as_deref().unwrap_or(""));
        sql.push(", ").bind(a.is_simulated()).push(", ");
        sql.bind(if a.uuid.is_empty() {
            new_uuid()
        } else {
            a.uuid.clone()
        });
        sql.push(", ")
            .bind(a.remediation)
            .push(", ")
            .bind(&a.kind)
            .push(", ")
            .bind(machine_id)
            .push(")");
        let id = tx.insert(sql).await?;

        for chunk in a.events().chunks(ROW_BATCH) {
            let mut sql = self.sql("INSERT INTO events (created_at, updated_at, time, serialized, alert_events) VALUES ");
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                let t = e
                    .timestamp
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .map_or(now_ns, to_ns);
                sql.push("(")
                    .bind(now_ns)
                    .push(", ")
                    .bind(now_ns)
                    .push(", ")
                    .bind(t)
                    .push(", ");
                sql.bind(serialize_event_meta(&e.meta))
                    .push(", ")
                    .bind(id)
                    .push(")");
            }
            tx.execute(sql).await?;
        }
        for chunk in a.meta.chunks(ROW_BATCH) {
            let mut sql = self.sql(
                "INSERT INTO meta (created_at, updated_at, meta_key, value, alert_metas) VALUES ",
            );
            for (i, m) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(now_ns)
                    .push(", ")
                    .bind(now_ns)
                    .push(", ")
                    .bind(truncate_chars(&m.key, 255));
                sql.push(", ")
                    .bind(truncate_chars(&m.value, MAX_META_VALUE))
                    .push(", ")
                    .bind(id)
                    .push(")");
            }
            tx.execute(sql).await?;
        }
        for chunk in decisions.chunks(ROW_BATCH) {
            let mut sql = self.sql("INSERT INTO decisions (created_at, updated_at, until_at, scenario, type, start_ip, end_ip, start_suffix, end_suffix, ip_size, scope, value, origin, simulated, uuid, alert_decisions) VALUES ");
            for (i, d) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                let r = d.range.unwrap_or(IpRange {
                    size: 0,
                    start_ip: 0,
                    start_suffix: 0,
                    end_ip: 0,
                    end_suffix: 0,
                });
                sql.push("(")
                    .bind(now_ns)
                    .push(", ")
                    .bind(now_ns)
                    .push(", ")
                    .bind(d.until)
                    .push(", ");
                sql.bind(&d.scenario)
                    .push(", ")
                    .bind(&d.decision_type)
                    .push(", ")
                    .bind(r.start_ip);
                sql.push(", ")
                    .bind(r.end_ip)
                    .push(", ")
                    .bind(r.start_suffix)
                    .push(", ")
                    .bind(r.end_suffix);
                sql.push(", ")
                    .bind(r.size)
                    .push(", ")
                    .bind(&d.scope)
                    .push(", ")
                    .bind(&d.value);
                sql.push(", ")
                    .bind(&d.origin)
                    .push(", ")
                    .bind(d.simulated)
                    .push(", ")
                    .bind(&d.uuid);
                sql.push(", ").bind(id).push(")");
            }
            tx.execute(sql).await?;
        }
        Ok(Some(id))
    }

    /// Lists alerts matching `f` with their decisions, events and meta.
    pub async fn list_alerts(
        &self,
        f: &AlertFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM alerts a WHERE 1 = 1"));
        push_filter(&mut sql, f, now);
        sql.push(match f.sort {
            SortOrder::Desc => " ORDER BY a.created_at DESC, a.id DESC",
            SortOrder::Asc => " ORDER BY a.created_at ASC, a.id ASC",
        });
        if let Some(l) = f.limit {
            sql.push(" LIMIT ")
                .bind(i64::try_from(l).unwrap_or(i64::MAX));
        }
        let mut alerts: Vec<AlertRecord> = self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(alert)
            .collect();
        self.load_children(&mut alerts).await?;
        Ok(alerts)
    }

    /// One alert by id, with its children.
    pub async fn get_alert(&self, id: i64) -> Result<Option<AlertRecord>> {
        let mut sql = self.sql(&format!("SELECT {COLS} FROM alerts a WHERE a.id = "));
        sql.bind(id);
        let mut alerts: Vec<AlertRecord> = self
            .db
            .fetch(sql, TYS)
            .await?
            .into_iter()
            .map(alert)
            .collect();
        self.load_children(&mut alerts).await?;
        Ok(alerts.pop())
    }

    async fn load_children(&self, alerts: &mut [AlertRecord]) -> Result<()> {
        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
        let index: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        // Children are ordered with `+id` so that SQLite looks them up through the alert
        // foreign-key indexes instead of walking the whole table in primary-key order.
        for chunk in ids.chunks(500) {
            let mut sql = self.sql(&format!(
                "SELECT {} FROM decisions d WHERE d.alert_decisions IN ",
                decisions::COLS
            ));
            sql.bind_list(chunk.iter().copied()).push(" ORDER BY +d.id");
            for d in self
                .db
                .fetch(sql, decisions::TYS)
                .await?
                .into_iter()
                .map(decisions::decision)
            {
                if let Some(&i) = index.get(&d.alert_id) {
                    alerts[i].decisions.push(d);
                }
            }
            let mut sql = self.sql("SELECT e.alert_events, e.time, e.serialized FROM events e WHERE e.alert_events IN ");
            sql.bind_list(chunk.iter().copied()).push(" ORDER BY +e.id");
            for mut r in self.db.fetch(sql, &[Ty::Int, Ty::Int, Ty::Text]).await? {
                let (aid, time, ser) = (r.int(), from_ns(r.int()), r.text());
                let meta: Vec<MetaItem> = serde_json::from_str(&ser).unwrap_or_default();
                if let Some(&i) = index.get(&aid) {
                    alerts[i].events.push(EventRecord { time, meta });
                }
            }
            let mut sql = self.sql(
                "SELECT m.alert_metas, m.meta_key, m.value FROM meta m WHERE m.alert_metas IN ",
            );
            sql.bind_list(chunk.iter().copied()).push(" ORDER BY +m.id");
            for mut r in self.db.fetch(sql, &[Ty::Int, Ty::Text, Ty::Text]).await? {
                let (aid, key, value) = (r.int(), r.text(), r.text());
                if let Some(&i) = index.get(&aid) {
                    alerts[i].meta.push(MetaItem { key, value });
                }
            }
        }
        Ok(())
    }

    /// Deletes the alerts matching `f` (ignoring its limit) with their children; returns
    /// how many were deleted.
    pub async fn delete_alerts(&self, f: &AlertFilter, now: DateTime<Utc>) -> Result<u64> {
        let mut sql = self.sql("SELECT a.id FROM alerts a WHERE 1 = 1");
        push_filter(&mut sql, f, now);
        let ids: Vec<i64> = self
            .db
            .fetch(sql, &[Ty::Int])
            .await?
            .into_iter()
            .map(|mut r| r.int())
            .collect();
        self.delete_alert_ids(&ids).await
    }

    /// Deletes one alert with its children; returns 1, or 0 if it did not exist.
    pub async fn delete_alert(&self, id: i64) -> Result<u64> {
        self.delete_alert_ids(&[id]).await
    }

    pub(crate) async fn delete_alert_ids(&self, ids: &[i64]) -> Result<u64> {
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let mut tx = self.db.begin().await?;
            // Children are deleted explicitly so that the result does not depend on the
            // backend enforcing ON DELETE CASCADE.
            for (table, fk) in [
                ("decisions", "alert_decisions"),
                ("events", "alert_events"),
                ("meta", "alert_metas"),
            ] {
                let mut sql = self.sql(&format!("DELETE FROM {table} WHERE {fk} IN "));
                sql.bind_list(chunk.iter().copied());
                tx.execute(sql).await?;
            }
            let mut sql = self.sql("DELETE FROM alerts WHERE id IN ");
            sql.bind_list(chunk.iter().copied());
            n += tx.execute(sql).await?;
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Alerts matching `f` counted per scenario (the `cs_alerts{reason}` gauge), by scenario.
    pub async fn count_alerts_by_scenario(
        &self,
        f: &AlertFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>> {
        let mut sql = self.sql("SELECT a.scenario, COUNT(*) FROM alerts a WHERE 1 = 1");
        push_filter(&mut sql, f, now);
        sql.push(" GROUP BY a.scenario ORDER BY a.scenario");
        Ok(self
            .db
            .fetch(sql, &[Ty::Text, Ty::Int])
            .await?
            .into_iter()
            .map(|mut r| (r.text(), u64::try_from(r.int()).unwrap_or(0)))
            .collect())
    }

    /// Number of stored alerts.
    pub async fn count_alerts(&self) -> Result<u64> {
        Ok(u64::try_from(
            self.db
                .fetch_int(self.sql("SELECT COUNT(*) FROM alerts"))
                .await?,
        )
        .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_time_format() {
        let t = Utc.with_ymd_and_hms(2026, 2, 12, 14, 10, 21).unwrap();
        assert_eq!(go_time_string(t), "2026-02-12 14:10:21 +0000 UTC");
        let t = t + chrono::Duration::nanoseconds(500_000_000);
        assert_eq!(go_time_string(t), "2026-02-12 14:10:21.5 +0000 UTC");
        assert_eq!(rfc3339_seconds(t), "2026-02-12T14:10:21Z");
    }

    #[test]
    fn alert_query_parsing() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let q = |pairs: &[(&str, &str)]| {
            let v: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
            AlertFilter::from_query(&v, now)
        };
        let f = q(&[
            ("has_active_decision", "true"),
            ("include_capi", "false"),
            ("limit", "100"),
        ])
        .unwrap();
        assert_eq!(f.has_active_decision, Some(true));
        assert!(!f.include_capi);
        assert_eq!(f.limit, Some(100));
        assert_eq!(q(&[("limit", "0")]).unwrap().limit, None);
        let f = q(&[
            ("since", "1h"),
            ("scope", "ip"),
            ("origin", "CAPI"),
            ("include_capi", "false"),
        ])
        .unwrap();
        assert_eq!(f.started_after, Some(now - chrono::Duration::hours(1)));
        assert_eq!(f.scope.as_deref(), Some("Ip"));
        assert!(f.include_capi);
        assert!(
            q(&[("bogus", "1")])
                .unwrap_err()
                .to_string()
                .contains("'bogus' is unknown")
        );
        assert!(q(&[("since", "yesterday")]).is_err());
    }

    #[test]
    fn oversized_event_meta_is_shortened() {
        let big = "x".repeat(10_000);
        let s = serialize_event_meta(&[MetaItem::new("k", big)]);
        assert!(s.len() <= MAX_SERIALIZED);
        let back: Vec<MetaItem> = serde_json::from_str(&s).unwrap();
        assert_eq!(back[0].value.len(), 1024);
    }
}
