//! Overflow → alert: the `RuntimeAlert` (sources, one `models.Alert` per source, events, message)
//! built from a bucket's queue, as upstream's `NewAlert`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use cs_models::{Alert, Event as AlertEvent, MetaItem, Source};
use cs_types::{Event, EventType, GoTime, Leaky, Queue, RuntimeAlert};
use ipnet::IpNet;

use crate::context::AlertContext;
use crate::expr::Outcome;
use crate::scenario::Scenario;

/// Why an overflow could not become an alert (the overflow is then lost, as upstream).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AlertError {
    #[error("scope is {scope} but Meta[source_ip] doesn't exist")]
    NoSourceIp { scope: String },
    #[error("scope is {scope} but '{value}' isn't a valid ip")]
    BadSourceIp { scope: String, value: String },
    #[error("declared range {range} of {ip} can't be parsed")]
    BadRange { range: String, ip: String },
    #[error("while running scope filter: {0}")]
    Scope(#[source] cs_expr::RuntimeError),
    #[error("empty scope information")]
    NoScope,
    #[error("event has multiple source types : {0} != {1}")]
    MixedScopes(String, String),
}

/// Evaluates `scope.expression` on an event: non-string results count as `""`.
fn scope_value(scenario: &Scenario, evt: &Event) -> Result<Option<String>, AlertError> {
    let Some(expr) = &scenario.scope.expression else {
        return Ok(None);
    };
    match expr.eval_event(evt).map_err(AlertError::Scope)? {
        Outcome::Str(s) => Ok(Some(s)),
        _ => Ok(Some(String::new())),
    }
}

/// Parses an `Enriched` coordinate as Go's `ParseFloat(v, 32)`; garbage gives 0.
fn coordinate(text: &str) -> f32 {
    text.parse::<f32>().unwrap_or_else(|_| {
        tracing::warn!(value = text, "bad coordinate");
        0.0
    })
}

/// The sources one queued event contributes (`SourceFromEvent`).
fn sources_of(scenario: &Scenario, evt: &Event) -> Result<Vec<(String, Source)>, AlertError> {
    let scope = scenario.scope.kind.as_str();
    if evt.r#type == EventType::Overflow {
        // An overflow poured again (reprocess): keep its sources, converted to our scope.
        let mut out = Vec::new();
        for (key, src) in &evt.overflow.sources {
            let src_scope = src.scope.as_deref().unwrap_or("");
            if src_scope == scope {
                out.push((key.clone(), src.clone()));
            } else if scope == "Range" && src_scope == "Ip" {
                let mut value = src.range.clone();
                if let Some(v) = scope_value(scenario, evt)? {
                    value = v;
                }
                if value.is_empty() {
                    tracing::warn!(
                        scenario = scenario.name(),
                        source = src.get_value(),
                        "bucket requires scope Range, but the source has no range"
                    );
                    continue;
                }
                let converted = Source {
                    as_name: src.as_name.clone(),
                    as_number: src.as_number.clone(),
                    cn: src.cn.clone(),
                    latitude: src.latitude,
                    longitude: src.longitude,
                    range: src.range.clone(),
                    scope: Some(scope.to_owned()),
                    value: Some(value.clone()),
                    ..Source::default()
                };
                out.push((value, converted));
            } else {
                tracing::warn!(
                    scenario = scenario.name(),
                    scope = src_scope,
                    source = src.get_value(),
                    "bucket scope cannot be derived from this source"
                );
            }
        }
        return Ok(out);
    }
    match scope {
        "Ip" | "Range" => {
            let Some(ip) = evt.meta.get("source_ip") else {
                return Err(AlertError::NoSourceIp {
                    scope: scope.to_owned(),
                });
            };
            if ip.parse::<IpAddr>().is_err() {
                return Err(AlertError::BadSourceIp {
                    scope: scope.to_owned(),
                    value: ip.to_string(),
                });
            }
            let mut src = Source {
                ip: ip.to_string(),
                scope: Some(scope.to_owned()),
                ..Source::default()
            };
            if let Some(v) = evt
                .enriched
                .get("ASNumber")
                .or_else(|| evt.enriched.get("ASNNumber"))
            {
                src.as_number = v.to_string();
            }
            if let Some(v) = evt.enriched.get("IsoCode") {
                src.cn = v.to_string();
            }
            if let Some(v) = evt.enriched.get("ASNOrg") {
                src.as_name = v.to_string();
            }
            if let Some(v) = evt.enriched.get("Latitude") {
                src.latitude = coordinate(v);
            }
            if let Some(v) = evt.enriched.get("Longitude") {
                src.longitude = coordinate(v);
            }
            if let Some(range) = evt.meta.get("SourceRange").filter(|r| !r.is_empty()) {
                let net: IpNet = range.parse().map_err(|_| AlertError::BadRange {
                    range: range.to_string(),
                    ip: ip.to_string(),
                })?;
                src.range = net.trunc().to_string();
            }
            let value = if scope == "Ip" {
                src.ip.clone()
            } else {
                scope_value(scenario, evt)?.unwrap_or_else(|| src.range.clone())
            };
            src.value = Some(value.clone());
            Ok(vec![(value, src)])
        }
        _ => {
            let value = scope_value(scenario, evt)?.ok_or(AlertError::NoScope)?;
            let src = Source {
                scope: Some(scope.to_owned()),
                value: Some(value.clone()),
                ..Source::default()
            };
            Ok(vec![(value, src)])
        }
    }
}

/// The alert events of a queue: meta sorted by key, timestamp from `MarshaledTime` or `Time`.
fn alert_events(queue: &Queue) -> Vec<AlertEvent> {
    queue
        .queue
        .iter()
        // Upstream skips events whose Meta map is nil; an empty map is the closest equivalent.
        .filter(|evt| !evt.meta.is_empty())
        .map(|evt| {
            let timestamp = if !evt.marshaled_time.is_empty() {
                Some(evt.marshaled_time.clone())
            } else if !is_zero(&evt.time) {
                Some(cs_types::format_rfc3339_nano(&evt.time))
            } else {
                tracing::warn!("event has no parsed time, no runtime timestamp");
                None
            };
            AlertEvent {
                meta: evt
                    .meta
                    .iter()
                    .map(|(k, v)| MetaItem::new(k.as_str(), v.as_str()))
                    .collect(),
                timestamp,
            }
        })
        .collect()
}

/// Go's `Time.IsZero`.
pub(crate) fn is_zero(t: &GoTime) -> bool {
    t.timestamp() == -62_135_596_800 && t.timestamp_subsec_nanos() == 0
}

/// Builds the overflow of a bucket. On error the caller emits an alert-less overflow, as upstream.
pub(crate) fn build(
    scenario: &Scenario,
    leaky: &Leaky,
    queue: &Queue,
    context: Option<&AlertContext>,
) -> Result<RuntimeAlert, AlertError> {
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let mut source_scope: Option<String> = None;
    for evt in &queue.queue {
        for (key, src) in sources_of(scenario, evt)? {
            let scope = src.scope.clone().unwrap_or_default();
            match &source_scope {
                None => source_scope = Some(scope),
                Some(s) if *s != scope => return Err(AlertError::MixedScopes(scope, s.clone())),
                Some(_) => {}
            }
            sources.insert(key, src);
        }
    }
    let source_text = match sources.len() {
        0 => "UNKNOWN".to_owned(),
        1 => sources.keys().next().cloned().unwrap_or_default(),
        n => format!("{n} sources"),
    };
    let elapsed = leaky
        .ovflw_ts
        .signed_duration_since(leaky.first_ts)
        .num_nanoseconds()
        .unwrap_or(i64::MAX);
    let message = format!(
        "{} {} performed '{}' ({} events over {}) at {}",
        source_scope.as_deref().unwrap_or(""),
        source_text,
        scenario.name(),
        leaky.total_count,
        cs_models::format_duration(elapsed),
        cs_expr::format::format_time(&leaky.last_ts),
    );
    let template = Alert {
        capacity: Some(clamp_i32(scenario.config.capacity)),
        events: Some(alert_events(queue)),
        events_count: Some(clamp_i32(leaky.total_count)),
        kind: "crowdsec".to_owned(),
        leakspeed: Some(cs_models::format_duration(scenario.leakspeed)),
        message: Some(message),
        meta: context.map(|c| c.evaluate(queue)).unwrap_or_default(),
        remediation: scenario.remediation,
        scenario: Some(scenario.name().to_owned()),
        scenario_hash: Some(scenario.hash.clone()),
        scenario_version: Some(scenario.version.clone()),
        simulated: Some(scenario.simulated),
        start_at: Some(cs_types::format_rfc3339_nano(&leaky.first_ts)),
        stop_at: Some(cs_types::format_rfc3339_nano(&leaky.ovflw_ts)),
        ..Alert::default()
    };
    // One alert per source: the template is copied for all but the last, which takes it.
    let mut others = sources.values();
    let last = others.next_back();
    let mut api_alerts: Vec<Alert> = others
        .map(|src| Alert {
            source: Some(src.clone()),
            ..template.clone()
        })
        .collect();
    api_alerts.extend(last.map(|src| Alert {
        source: Some(src.clone()),
        ..template
    }));
    Ok(RuntimeAlert {
        mapkey: leaky.mapkey.clone(),
        reprocess: scenario.reprocess(),
        sources,
        alert: api_alerts.first().cloned().map(Box::new),
        api_alerts,
        ..RuntimeAlert::default()
    })
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}
