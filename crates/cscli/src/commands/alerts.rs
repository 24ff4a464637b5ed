//! `cscli alerts`: list/inspect/delete through the LAPI, flush on the database.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use cs_models::Alert;

use super::decisions::{as_name, country};
use crate::cli::{AlertsCmd, ListFilters, OutputFormat};
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// Query parameters, sent sorted by name like Go's `url.Values.Encode`.
#[derive(Debug, Default)]
pub struct Query(BTreeMap<String, String>);

impl Query {
    /// Sets `key`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// Sets `key` when `value` is present and not empty.
    pub fn opt(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.set(key, v);
        }
    }

    /// The pairs to send.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Checks `--ip`/`--range` and normalises a scope name as upstream (`ip` → `Ip`...).
pub fn sanitize_scope(scope: &str, ip: &str, range: &str) -> Result<String> {
    if !range.is_empty() && range.parse::<ipnet::IpNet>().is_err() {
        bail!("{range} is not a valid range");
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        bail!("{ip} is not a valid ip");
    }
    Ok(match scope.to_ascii_lowercase().as_str() {
        "ip" => "Ip".to_string(),
        "range" => "Range".to_string(),
        "country" => "Country".to_string(),
        "as" => "AS".to_string(),
        _ => scope.to_string(),
    })
}

/// The alert filters shared by `alerts list/delete` and `decisions list`.
pub fn filters_query(f: &ListFilters) -> Result<Query> {
    let mut q = Query::default();
    let scope = sanitize_scope(
        f.scope.as_deref().unwrap_or(""),
        f.ip.as_deref().unwrap_or(""),
        f.range.as_deref().unwrap_or(""),
    )?;
    q.opt("scope", Some(scope));
    q.opt("value", f.value.clone());
    q.opt("scenario", f.scenario.clone());
    q.opt("ip", f.ip.clone());
    q.opt("range", f.range.clone());
    q.opt("origin", f.origin.clone());
    if let Some(s) = f.since.as_deref().filter(|s| !s.is_empty()) {
        q.set("since", crate::time::days_to_hours(s)?);
    }
    if let Some(s) = f.until.as_deref().filter(|s| !s.is_empty()) {
        q.set("until", crate::time::days_to_hours(s)?);
    }
    if f.contained {
        q.set("contains", "false");
    }
    Ok(q)
}

/// Runs `cscli alerts ...`.
pub async fn run(ctx: &Ctx, cmd: AlertsCmd) -> Result<()> {
    match cmd {
        AlertsCmd::List {
            all,
            decision_type,
            kind,
            limit,
            filters,
        } => {
            let mut q = filters_query(&filters)?;
            q.set("include_capi", all.to_string());
            q.set("limit", limit.to_string());
            q.opt("decision_type", decision_type);
            q.opt("kind", kind);
            let (client, _) = ctx.lapi()?;
            let alerts = client
                .alerts(&q.pairs())
                .await
                .context("unable to list alerts")?;
            print!("{}", render_list(ctx.output, &alerts, filters.machine)?);
            Ok(())
        }
        AlertsCmd::Inspect { ids, details } => {
            let (client, _) = ctx.lapi()?;
            for id in ids {
                let n: i64 = id
                    .parse()
                    .map_err(|_| anyhow::anyhow!("bad alert id {id}"))?;
                let alert = client
                    .alert(n)
                    .await
                    .with_context(|| format!("can't find alert with id {id}"))?;
                match ctx.output {
                    OutputFormat::Human => print!("{}", inspect_text(&alert, details)),
                    OutputFormat::Json => println!("{}", json_indent(&alert, "  ")?),
                    OutputFormat::Raw => print!(
                        "{}",
                        cs_config::yaml::to_string(&alert).map_err(anyhow::Error::msg)?
                    ),
                }
            }
            Ok(())
        }
        AlertsCmd::Delete { all, id, filters } => {
            let (client, _) = ctx.lapi()?;
            let deleted = if let Some(id) = id.filter(|s| !s.is_empty()) {
                let n: i64 = id
                    .parse()
                    .map_err(|_| anyhow::anyhow!("bad alert id {id}"))?;
                client
                    .delete_alert(n)
                    .await
                    .context("unable to delete alert")?
            } else {
                let q = filters_query(&filters)?;
                let pairs = q.pairs();
                if pairs.is_empty() && !all {
                    bail!("at least one filter or --all must be specified");
                }
                client
                    .delete_alerts(&pairs)
                    .await
                    .context("unable to delete alerts")?
            };
            tracing::info!("{deleted} alert(s) deleted");
            Ok(())
        }
        AlertsCmd::Flush { max_items, max_age } => {
            let age = crate::time::parse(&max_age)?;
            let store = ctx.store().await?;
            tracing::info!("Flushing alerts. !! This may take a long time !!");
            crate::store::flush_alerts(&store, age, max_items).await?;
            tracing::info!("Alerts flushed");
            Ok(())
        }
    }
}

/// Decision counts per type, e.g. `ban:2 (simul)captcha:1`.
fn decisions_summary(a: &Alert) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in a.decisions() {
        let k = if d.simulated.unwrap_or(false) {
            format!("(simul){}", d.get_type())
        } else {
            d.get_type().to_string()
        };
        *counts.entry(k).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn display_value(a: &Alert) -> String {
    let src = a.source.as_ref();
    let scope = src.map(|s| s.get_scope()).unwrap_or("");
    let value = src.map(|s| s.get_value()).unwrap_or("");
    if value.is_empty() {
        scope.to_string()
    } else {
        format!("{scope}:{value}")
    }
}

fn render_list(output: OutputFormat, alerts: &[Alert], print_machine: bool) -> Result<String> {
    Ok(match output {
        OutputFormat::Json => json_indent(&alerts, " ")?,
        OutputFormat::Raw => {
            let mut c = Csv::new();
            let mut header = vec![
                "id",
                "scope",
                "value",
                "reason",
                "country",
                "as",
                "decisions",
                "created_at",
            ];
            if print_machine {
                header.push("machine");
            }
            c.record(header);
            for a in alerts {
                let src = a.source.as_ref();
                let mut r = vec![
                    a.id.to_string(),
                    src.map(|s| s.get_scope().to_string()).unwrap_or_default(),
                    src.map(|s| s.get_value().to_string()).unwrap_or_default(),
                    a.get_scenario().to_string(),
                    country(a),
                    as_name(a),
                    decisions_summary(a),
                    a.created_at.clone(),
                ];
                if print_machine {
                    r.push(a.machine_id.clone());
                }
                c.record(r);
            }
            c.finish()
        }
        OutputFormat::Human => {
            if alerts.is_empty() {
                return Ok("No active alerts\n".to_string());
            }
            let mut header = vec![
                "ID",
                "value",
                "reason",
                "country",
                "as",
                "decisions",
                "created_at",
            ];
            if print_machine {
                header.push("machine");
            }
            let mut t = Table::new(header);
            for a in alerts {
                let mut r = vec![
                    a.id.to_string(),
                    display_value(a),
                    a.get_scenario().to_string(),
                    country(a),
                    as_name(a),
                    decisions_summary(a),
                    a.created_at.clone(),
                ];
                if print_machine {
                    r.push(a.machine_id.clone());
                }
                t.row(r);
            }
            t.render()
        }
    })
}

fn inspect_text(a: &Alert, details: bool) -> String {
    let mut s = String::from(
        "\n################################################################################################\n\n",
    );
    let src = a.source.as_ref();
    let field = |s: &mut String, k: &str, v: &str| s.push_str(&format!(" - {k:<12} : {v}\n"));
    field(&mut s, "ID", &a.id.to_string());
    field(&mut s, "Date", &a.created_at);
    field(&mut s, "Machine", &a.machine_id);
    field(&mut s, "Simulation", &a.is_simulated().to_string());
    field(&mut s, "Remediation", &a.remediation.to_string());
    field(&mut s, "Reason", a.get_scenario());
    field(&mut s, "Events Count", &a.get_events_count().to_string());
    field(&mut s, "Scope:Value", &display_value(a));
    field(&mut s, "Country", src.map(|x| x.cn.as_str()).unwrap_or(""));
    field(&mut s, "AS", &as_name(a));
    field(&mut s, "Begin", a.start_at.as_deref().unwrap_or(""));
    field(&mut s, "End", a.stop_at.as_deref().unwrap_or(""));
    field(&mut s, "UUID", &a.uuid);
    s.push('\n');
    if !a.meta.is_empty() {
        s.push_str(" - Context  :\n");
        let mut t = Table::new(["Key", "Value"]);
        for m in a.meta.iter() {
            t.row([m.key.clone(), m.value.clone()]);
        }
        s.push_str(&t.render());
        s.push('\n');
    }
    s.push_str(" - Active Decisions  :\n");
    let mut t = Table::new(["ID", "scope:value", "action", "expiration", "created_at"]);
    for d in a.decisions() {
        t.row([
            d.id.to_string(),
            format!("{}:{}", d.get_scope(), d.get_value()),
            d.get_type().to_string(),
            d.get_duration().to_string(),
            a.created_at.clone(),
        ]);
    }
    s.push_str(&t.render());
    if details {
        s.push_str("\n - Events  :\n");
        for e in a.events() {
            s.push_str(&format!(
                "\n- Date: {}\n",
                e.timestamp.as_deref().unwrap_or("")
            ));
            let mut t = Table::new(["Key", "Value"]);
            for m in e.meta.iter() {
                t.row([m.key.clone(), m.value.clone()]);
            }
            s.push_str(&t.render());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_normalised_and_values_checked() {
        assert_eq!(sanitize_scope("ip", "", "").unwrap(), "Ip");
        assert_eq!(sanitize_scope("RANGE", "", "").unwrap(), "Range");
        assert_eq!(sanitize_scope("username", "", "").unwrap(), "username");
        assert!(sanitize_scope("", "1.2.3", "").is_err());
        assert!(sanitize_scope("", "", "1.2.3.0/33").is_err());
    }

    #[test]
    fn query_is_sorted_like_go() {
        let f = ListFilters {
            ip: Some("1.2.3.4".into()),
            since: Some("1d".into()),
            ..ListFilters::default()
        };
        let mut q = filters_query(&f).unwrap();
        q.set("has_active_decision", "true");
        q.set("limit", "100");
        let s: Vec<String> = q.pairs().iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            s,
            [
                "has_active_decision=true",
                "ip=1.2.3.4",
                "limit=100",
                "since=24h"
            ]
        );
    }
}
