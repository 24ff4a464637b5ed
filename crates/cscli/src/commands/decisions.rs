//! `cscli decisions`: list/add/delete/import through the LAPI, as a machine.

use std::collections::HashSet;
use std::io::{IsTerminal as _, Read as _};

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use cs_models::{Alert, Decision, Source};
use serde::Deserialize;

use super::alerts::{Query, filters_query, sanitize_scope};
use crate::cli::{DecisionsAdd, DecisionsCmd, DecisionsDelete, DecisionsImport, OutputFormat};
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// Runs `cscli decisions ...`.
pub async fn run(ctx: &Ctx, cmd: DecisionsCmd) -> Result<()> {
    match cmd {
        DecisionsCmd::List {
            all,
            decision_type,
            limit,
            no_simu,
            filters,
        } => {
            let mut q = filters_query(&filters)?;
            q.set("has_active_decision", "true");
            q.set("include_capi", all.to_string());
            // Central API lists hold many decisions: listing them all ignores the limit.
            q.set("limit", if all { 0 } else { limit }.to_string());
            if let Some(t) = decision_type.filter(|t| !t.is_empty()) {
                q.set("decision_type", t);
            }
            if no_simu {
                q.set("simulated", "false");
            }
            let (client, _) = ctx.lapi()?;
            let alerts = client
                .alerts(&q.pairs())
                .await
                .context("unable to retrieve decisions")?;
            print!("{}", render(ctx.output, alerts, filters.machine)?);
            Ok(())
        }
        DecisionsCmd::Add(args) => add(ctx, args).await,
        DecisionsCmd::Delete(args) => delete(ctx, args).await,
        DecisionsCmd::Import(args) => import(ctx, args).await,
    }
}

/// Renders the decisions of `alerts` (one line per decision, duplicates skipped in tables).
fn render(output: OutputFormat, mut alerts: Vec<Alert>, print_machine: bool) -> Result<String> {
    // Same (simulated, type, scope, value) seen in an earlier alert: shown once.
    let mut seen = HashSet::new();
    let mut skipped = 0;
    for a in &mut alerts {
        if let Some(ds) = a.decisions.as_mut() {
            ds.retain(|d| {
                let key = format!(
                    "{}:{}:{}:{}",
                    d.simulated.unwrap_or(false),
                    d.get_type(),
                    d.get_scope(),
                    d.get_value()
                );
                let fresh = seen.insert(key);
                if !fresh {
                    skipped += 1;
                }
                fresh
            });
        }
    }
    let rows = || {
        alerts
            .iter()
            .flat_map(|a| a.decisions().iter().map(move |d| (a, d)))
    };
    Ok(match output {
        OutputFormat::Json => json_indent(&alerts, " ")?,
        OutputFormat::Raw => {
            let mut c = Csv::new();
            let mut header = vec![
                "id",
                "source",
                "ip",
                "reason",
                "action",
                "country",
                "as",
                "events_count",
                "expiration",
                "simulated",
                "alert_id",
            ];
            if print_machine {
                header.push("machine");
            }
            c.record(header);
            for (a, d) in rows() {
                let mut r = vec![
                    d.id.to_string(),
                    d.get_origin().to_string(),
                    format!("{}:{}", d.get_scope(), d.get_value()),
                    d.get_scenario().to_string(),
                    d.get_type().to_string(),
                    country(a),
                    as_name(a),
                    a.get_events_count().to_string(),
                    d.get_duration().to_string(),
                    d.simulated.unwrap_or(false).to_string(),
                    a.id.to_string(),
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
                return Ok("No active decisions\n".to_string());
            }
            let mut header = vec![
                "ID",
                "Source",
                "Scope:Value",
                "Reason",
                "Action",
                "Country",
                "AS",
                "Events",
                "expiration",
                "Alert ID",
            ];
            if print_machine {
                header.push("Machine");
            }
            let mut t = Table::new(header);
            for (a, d) in rows() {
                let action = if a.is_simulated() {
                    format!("(simul){}", d.get_type())
                } else {
                    d.get_type().to_string()
                };
                let mut r = vec![
                    d.id.to_string(),
                    d.get_origin().to_string(),
                    format!("{}:{}", d.get_scope(), d.get_value()),
                    d.get_scenario().to_string(),
                    action,
                    country(a),
                    as_name(a),
                    a.get_events_count().to_string(),
                    d.get_duration().to_string(),
                    a.id.to_string(),
                ];
                if print_machine {
                    r.push(a.machine_id.clone());
                }
                t.row(r);
            }
            let mut out = t.render();
            if skipped > 0 {
                out.push_str(&format!("{skipped} duplicated entries skipped\n"));
            }
            out
        }
    })
}

pub(super) fn country(a: &Alert) -> String {
    a.source.as_ref().map(|s| s.cn.clone()).unwrap_or_default()
}

pub(super) fn as_name(a: &Alert) -> String {
    a.source
        .as_ref()
        .map(Source::get_as_number_name)
        .unwrap_or_default()
}

fn now() -> String {
    crate::time::rfc3339(Utc::now())
}

async fn add(ctx: &Ctx, args: DecisionsAdd) -> Result<()> {
    let mut scope = sanitize_scope(
        &args.scope,
        args.ip.as_deref().unwrap_or(""),
        args.range.as_deref().unwrap_or(""),
    )?;
    let value = if let Some(ip) = args.ip.filter(|s| !s.is_empty()) {
        scope = "Ip".into();
        ip
    } else if let Some(r) = args.range.filter(|s| !s.is_empty()) {
        scope = "Range".into();
        r
    } else {
        match args.value.filter(|s| !s.is_empty()) {
            Some(v) => v,
            None => bail!(
                "missing arguments, a value is required (--ip, --range or --scope and --value)"
            ),
        }
    };
    crate::time::parse(&args.duration)
        .with_context(|| format!("invalid duration '{}'", args.duration))?;
    let (client, creds) = ctx.lapi()?;
    let reason = args
        .reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| format!("manual '{}' from '{}'", args.decision_type, creds.login));

    if !args.bypass_allowlist && (scope == "Ip" || scope == "Range") {
        match client.allowlist_check(&value).await {
            Ok(Some(reason)) => bail!(
                "{value} is allowlisted by item {reason}, use --bypass-allowlist to add the decision anyway"
            ),
            Ok(None) => {}
            Err(e) => tracing::error!("Cannot check if {value} is in allowlist: {e}"),
        }
    }

    let alert = Alert {
        capacity: Some(0),
        created_at: now(),
        decisions: Some(vec![Decision {
            duration: Some(args.duration),
            origin: Some("cscli".into()),
            scenario: Some(reason.clone()),
            scope: Some(scope.clone()),
            r#type: Some(args.decision_type),
            value: Some(value.clone()),
            ..Decision::default()
        }]),
        events: Some(Vec::new()),
        events_count: Some(1),
        leakspeed: Some("0".into()),
        message: Some(reason.clone()),
        remediation: true,
        scenario: Some(reason),
        scenario_hash: Some(String::new()),
        scenario_version: Some(String::new()),
        simulated: Some(false),
        source: Some(Source {
            ip: value.clone(),
            scope: Some(scope),
            value: Some(value),
            ..Source::default()
        }),
        start_at: Some(now()),
        stop_at: Some(now()),
        ..Alert::default()
    };
    client.push_alerts(&[alert]).await?;
    tracing::info!("Decision successfully added");
    Ok(())
}

async fn delete(ctx: &Ctx, args: DecisionsDelete) -> Result<()> {
    let some = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
    let any_filter = [
        &args.ip,
        &args.range,
        &args.decision_type,
        &args.value,
        &args.scope,
        &args.scenario,
        &args.origin,
        &args.id,
    ]
    .into_iter()
    .any(some);
    if !args.all && !any_filter {
        bail!("at least one filter or --all must be specified");
    }
    let (client, _) = ctx.lapi()?;
    let deleted = match args.id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => {
            let id: i64 = id
                .parse()
                .map_err(|e| anyhow::anyhow!("id '{id}' is not an integer: {e}"))?;
            client
                .delete_decision(id)
                .await
                .context("unable to delete decision")?
        }
        None => {
            let scope = sanitize_scope(
                args.scope.as_deref().unwrap_or(""),
                args.ip.as_deref().unwrap_or(""),
                args.range.as_deref().unwrap_or(""),
            )?;
            let mut q = Query::default();
            q.opt("scopes", Some(scope));
            q.opt("value", args.value);
            q.opt("type", args.decision_type);
            q.opt("ip", args.ip);
            q.opt("range", args.range);
            q.opt("scenario", args.scenario);
            q.opt("origin", args.origin);
            if args.contained {
                q.set("contains", "false");
            }
            client
                .delete_decisions(&q.pairs())
                .await
                .context("unable to delete decisions")?
        }
    };
    tracing::info!("{deleted} decision(s) deleted");
    Ok(())
}

/// A decision as written in an import file; absent fields take the command line defaults.
#[derive(Debug, Default, Deserialize)]
struct RawDecision {
    #[serde(default)]
    duration: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    scope: String,
    #[serde(default, rename = "type")]
    decision_type: String,
    #[serde(default)]
    value: String,
}

fn parse_import(content: &str, format: &str) -> Result<Vec<RawDecision>> {
    match format {
        "values" => Ok(content
            .lines()
            .map(|l| RawDecision {
                value: l.trim().to_string(),
                ..RawDecision::default()
            })
            .collect()),
        "json" => serde_json::from_str(content).context("unable to parse json"),
        "csv" => {
            let mut rows = parse_csv(content).into_iter();
            let Some(header) = rows.next() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in rows {
                let mut d = RawDecision::default();
                for (h, v) in header.iter().zip(row) {
                    match h.as_str() {
                        "duration" => d.duration = v,
                        "reason" => d.reason = v,
                        "scope" => d.scope = v,
                        "type" => d.decision_type = v,
                        "value" => d.value = v,
                        _ => {}
                    }
                }
                out.push(d);
            }
            Ok(out)
        }
        other => bail!("invalid format '{other}', expected one of 'json', 'csv', 'values'"),
    }
}

/// RFC 4180 CSV records (quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

async fn import(ctx: &Ctx, args: DecisionsImport) -> Result<()> {
    for (v, what) in [
        (&args.duration, "duration"),
        (&args.scope, "scope"),
        (&args.reason, "reason"),
        (&args.decision_type, "type"),
    ] {
        if v.is_empty() {
            bail!("default {what} cannot be empty");
        }
    }
    let format = match args.format.clone().filter(|f| !f.is_empty()) {
        Some(f) => f,
        None if args.input.ends_with(".json") => "json".into(),
        None if args.input.ends_with(".csv") => "csv".into(),
        None => bail!(
            "unable to guess format from file extension, please provide a format with --format flag"
        ),
    };
    let (content, input) = if args.input == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("unable to read from stdin")?;
        (s, "stdin".to_string())
    } else {
        let s = std::fs::read_to_string(&args.input)
            .with_context(|| format!("unable to open {}", args.input))?;
        (s, args.input.clone())
    };
    let raw = parse_import(&content, &format)?;
    let mut decisions = Vec::with_capacity(raw.len());
    for (i, d) in raw.into_iter().enumerate() {
        if d.value.is_empty() {
            bail!("item {i}: missing 'value'");
        }
        let or = |s: String, default: &str| if s.is_empty() { default.to_string() } else { s };
        decisions.push(Decision {
            duration: Some(or(d.duration, &args.duration)),
            origin: Some("cscli-import".into()),
            scenario: Some(or(d.reason, &args.reason)),
            scope: Some(or(d.scope, &args.scope)),
            simulated: Some(false),
            r#type: Some(or(d.decision_type, &args.decision_type)),
            value: Some(d.value),
            ..Decision::default()
        });
    }
    if decisions.len() > 1000 {
        tracing::info!(
            "You are about to add {} decisions, this may take a while",
            decisions.len()
        );
    }
    let total = decisions.len();
    let (client, _) = ctx.lapi()?;
    let batch = if args.batch == 0 {
        total.max(1)
    } else {
        args.batch
    };
    // A progress bar only makes sense for a person watching a terminal.
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} decisions ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut rest = decisions;
    while !rest.is_empty() {
        let tail = rest.split_off(batch.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        let n = chunk.len();
        let alert = Alert {
            capacity: Some(0),
            created_at: now(),
            decisions: Some(chunk),
            events: Some(Vec::new()),
            events_count: Some(i32::try_from(n).unwrap_or(i32::MAX)),
            leakspeed: Some(String::new()),
            message: Some(String::new()),
            scenario: Some(format!("import {input}: {n} IPs")),
            scenario_hash: Some(String::new()),
            scenario_version: Some(String::new()),
            simulated: Some(false),
            source: Some(Source {
                scope: Some(String::new()),
                value: Some(String::new()),
                ..Source::default()
            }),
            start_at: Some(now()),
            stop_at: Some(now()),
            ..Alert::default()
        };
        client.push_alerts(&[alert]).await?;
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    tracing::info!("Imported {total} decisions");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_formats_parse() {
        let v = parse_import("1.2.3.4\n5.6.7.8\n", "values").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].value, "5.6.7.8");
        let c = parse_import(
            "duration,scope,value\n24h,ip,1.2.3.4\n,\"range\",\"10.0.0.0/8\"\n",
            "csv",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].duration.as_str(), c[0].value.as_str()),
            ("24h", "1.2.3.4")
        );
        assert_eq!(
            (c[1].scope.as_str(), c[1].value.as_str()),
            ("range", "10.0.0.0/8")
        );
        let j = parse_import(
            r#"[{"duration":"4h","reason":"r","value":"1.1.1.1"}]"#,
            "json",
        )
        .unwrap();
        assert_eq!(j[0].reason, "r");
        assert!(parse_import("x", "yaml").is_err());
    }

    #[test]
    fn csv_quotes_and_line_breaks() {
        assert_eq!(
            parse_csv("a,\"b,\"\"c\"\"\"\r\n\nd,e"),
            vec![
                vec!["a".to_string(), "b,\"c\"".to_string()],
                vec!["d".to_string(), "e".to_string()]
            ]
        );
    }
}
