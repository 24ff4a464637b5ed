//! `cscli metrics`: scrapes the daemon's Prometheus endpoint and shows upstream's tables
//! (acquisition, buckets, parsers, Local API routes, machines, bouncers, decisions, alerts,
//! parser stash), or the same maps as JSON (`-o json`) or YAML (`-o raw`).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use cs_metrics::text::Sample;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Ctx;
use crate::output::Table;

/// `cscli metrics` flags.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Prometheus url (http://<ip>:<port>/metrics)
    #[arg(short = 'u', long = "url")]
    pub url: Option<String>,
    /// Show the real number instead of formatted with units
    #[arg(long = "no-unit")]
    pub no_unit: bool,
}

/// How long a scrape may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `counter name → field → value` maps, as upstream builds them.
type Stats = BTreeMap<String, BTreeMap<String, i64>>;
/// `a → b → c → value`.
type Stats3 = BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>;

/// Per bouncer answers of `/decisions`.
#[derive(Debug, Default, Serialize)]
struct DecisionAnswers {
    #[serde(rename = "NonEmpty")]
    non_empty: i64,
    #[serde(rename = "Empty")]
    empty: i64,
}

/// A stash cache.
#[derive(Debug, Default, Serialize)]
struct Stash {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Count")]
    count: i64,
}

/// Everything `cscli metrics` shows.
#[derive(Debug, Default)]
struct Collected {
    acquis: Stats,
    parsers: Stats,
    buckets: Stats,
    lapi: Stats,
    lapi_machine: Stats3,
    lapi_bouncer: Stats3,
    lapi_decisions: BTreeMap<String, DecisionAnswers>,
    decisions: Stats3,
    alerts: BTreeMap<String, i64>,
    stash: BTreeMap<String, Stash>,
}

fn bump(map: &mut Stats, key: &str, field: &str, v: i64) {
    *map.entry(key.to_owned())
        .or_default()
        .entry(field.to_owned())
        .or_default() += v;
}

fn bump3(map: &mut Stats3, a: &str, b: &str, c: &str, v: i64) {
    *map.entry(a.to_owned())
        .or_default()
        .entry(b.to_owned())
        .or_default()
        .entry(c.to_owned())
        .or_default() += v;
}

/// Sorts the samples of a scrape into upstream's maps.
fn collect(samples: &[Sample]) -> Collected {
    let mut c = Collected::default();
    for s in samples.iter().filter(|s| s.name.starts_with("cs_")) {
        let l = |k: &str| s.label(k).unwrap_or("");
        // Go converts through float32 then int: values are truncated.
        let v = s.value as i64;
        let (name, source) = (l("name"), l("source"));
        match s.name.as_str() {
            "cs_bucket_created_total" => bump(&mut c.buckets, name, "instantiation", v),
            "cs_buckets" => bump(&mut c.buckets, name, "curr_count", v),
            "cs_bucket_overflowed_total" => bump(&mut c.buckets, name, "overflow", v),
            "cs_bucket_poured_total" => {
                bump(&mut c.buckets, name, "pour", v);
                bump(&mut c.acquis, source, "pour", v);
            }
            "cs_bucket_underflowed_total" => bump(&mut c.buckets, name, "underflow", v),
            "cs_parser_hits_total" => bump(&mut c.acquis, source, "reads", v),
            "cs_parser_hits_ok_total" => bump(&mut c.acquis, source, "parsed", v),
            "cs_parser_hits_ko_total" => bump(&mut c.acquis, source, "unparsed", v),
            "cs_node_hits_total" => bump(&mut c.parsers, name, "hits", v),
            "cs_node_hits_ok_total" => bump(&mut c.parsers, name, "parsed", v),
            "cs_node_hits_ko_total" => bump(&mut c.parsers, name, "unparsed", v),
            "cs_lapi_route_requests_total" => bump(&mut c.lapi, l("route"), l("method"), v),
            "cs_lapi_machine_requests_total" => {
                bump3(
                    &mut c.lapi_machine,
                    l("machine"),
                    l("route"),
                    l("method"),
                    v,
                );
            }
            "cs_lapi_bouncer_requests_total" => {
                bump3(
                    &mut c.lapi_bouncer,
                    l("bouncer"),
                    l("route"),
                    l("method"),
                    v,
                );
            }
            "cs_lapi_decisions_ko_total" => {
                c.lapi_decisions
                    .entry(l("bouncer").to_owned())
                    .or_default()
                    .empty += v;
            }
            "cs_lapi_decisions_ok_total" => {
                c.lapi_decisions
                    .entry(l("bouncer").to_owned())
                    .or_default()
                    .non_empty += v;
            }
            "cs_active_decisions" => {
                bump3(&mut c.decisions, l("reason"), l("origin"), l("action"), v);
            }
            "cs_alerts" => *c.alerts.entry(l("reason").to_owned()).or_default() += v,
            "cs_cache_size" => {
                c.stash.insert(
                    name.to_owned(),
                    Stash {
                        kind: l("type").to_owned(),
                        count: v,
                    },
                );
            }
            _ => {}
        }
    }
    c
}

/// Upstream's short number format: `1.50k`, `2.00M`; plain below 1000.
fn format_number(n: i64, no_unit: bool) -> String {
    const UNITS: [(i64, &str); 6] = [
        (1_000_000_000_000_000_000, "E"),
        (1_000_000_000_000_000, "P"),
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    if no_unit {
        return n.to_string();
    }
    match UNITS.iter().find(|(v, _)| n >= *v) {
        None => n.to_string(),
        Some((v, sym)) => {
            let r = (n as f64 / *v as f64 * 100.0).round() / 100.0;
            format!("{r:.2}{sym}")
        }
    }
}

fn stats_table(
    title: &str,
    headers: &[&str],
    stats: &Stats,
    keys: &[&str],
    no_unit: bool,
) -> String {
    let mut t = Table::new(headers.iter().copied());
    for (label, fields) in stats {
        let mut row = vec![label.clone()];
        for k in keys {
            row.push(match fields.get(*k) {
                Some(v) if *v != 0 => format_number(*v, no_unit),
                _ => "-".to_owned(),
            });
        }
        t.row(row);
    }
    titled(title, &t, !stats.is_empty())
}

fn titled(title: &str, t: &Table, any: bool) -> String {
    if any {
        format!("\n{title}:\n{}", t.render())
    } else {
        String::new()
    }
}

fn table3(title: &str, first: &str, stats: &Stats3) -> String {
    let mut t = Table::new([first, "Route", "Method", "Hits"]);
    for (a, routes) in stats {
        for (route, methods) in routes {
            for (method, v) in methods {
                let hits = if *v == 0 {
                    "-".to_owned()
                } else {
                    v.to_string()
                };
                t.row([a.clone(), route.clone(), method.clone(), hits]);
            }
        }
    }
    titled(title, &t, !stats.is_empty())
}

fn human(c: &Collected, no_unit: bool) -> String {
    let mut out = String::new();
    out += &stats_table(
        "Acquisition Metrics",
        &[
            "Source",
            "Lines read",
            "Lines parsed",
            "Lines unparsed",
            "Lines poured to bucket",
        ],
        &c.acquis,
        &["reads", "parsed", "unparsed", "pour"],
        no_unit,
    );
    out += &stats_table(
        "Bucket Metrics",
        &[
            "Bucket",
            "Current Count",
            "Overflows",
            "Instantiated",
            "Poured",
            "Expired",
        ],
        &c.buckets,
        &[
            "curr_count",
            "overflow",
            "instantiation",
            "pour",
            "underflow",
        ],
        no_unit,
    );
    out += &stats_table(
        "Parser Metrics",
        &["Parsers", "Hits", "Parsed", "Unparsed"],
        &c.parsers,
        &["hits", "parsed", "unparsed"],
        no_unit,
    );
    let mut t = Table::new(["Route", "Method", "Hits"]);
    for (route, methods) in &c.lapi {
        for (method, v) in methods {
            t.row([route.clone(), method.clone(), v.to_string()]);
        }
    }
    out += &titled("Local API Metrics", &t, !c.lapi.is_empty());
    out += &table3("Local API Machines Metrics", "Machine", &c.lapi_machine);
    out += &table3("Local API Bouncers Metrics", "Bouncer", &c.lapi_bouncer);
    let mut t = Table::new(["Bouncer", "Empty answers", "Non-empty answers"]);
    for (b, a) in &c.lapi_decisions {
        t.row([b.clone(), a.empty.to_string(), a.non_empty.to_string()]);
    }
    out += &titled(
        "Local API Bouncers Decisions",
        &t,
        !c.lapi_decisions.is_empty(),
    );
    let mut t = Table::new(["Reason", "Origin", "Action", "Count"]);
    for (reason, origins) in &c.decisions {
        for (origin, actions) in origins {
            for (action, v) in actions {
                t.row([
                    reason.clone(),
                    origin.clone(),
                    action.clone(),
                    v.to_string(),
                ]);
            }
        }
    }
    out += &titled("Local API Decisions", &t, !c.decisions.is_empty());
    let mut t = Table::new(["Reason", "Count"]);
    for (reason, v) in &c.alerts {
        t.row([reason.clone(), v.to_string()]);
    }
    out += &titled("Local API Alerts", &t, !c.alerts.is_empty());
    let mut t = Table::new(["Name", "Type", "Items"]);
    for (name, s) in &c.stash {
        t.row([name.clone(), s.kind.clone(), s.count.to_string()]);
    }
    out += &titled("Parser Stash Metrics", &t, !c.stash.is_empty());
    out
}

/// The maps in upstream's order, each serialized on its own like upstream's `-o json`/`raw`.
fn sections(c: &Collected) -> Vec<serde_json::Value> {
    let v = |x: serde_json::Result<serde_json::Value>| x.unwrap_or(serde_json::Value::Null);
    vec![
        v(serde_json::to_value(&c.acquis)),
        v(serde_json::to_value(&c.parsers)),
        v(serde_json::to_value(&c.buckets)),
        v(serde_json::to_value(&c.lapi)),
        v(serde_json::to_value(&c.lapi_bouncer)),
        v(serde_json::to_value(&c.lapi_machine)),
        v(serde_json::to_value(&c.lapi_decisions)),
        v(serde_json::to_value(&c.decisions)),
        v(serde_json::to_value(&c.alerts)),
        v(serde_json::to_value(&c.stash)),
    ]
}

/// The scrape URL: `--url`, else `cscli.prometheus_uri`, else the `prometheus` section;
/// `/metrics` is appended unless present.
fn url(ctx: &Ctx, args: &MetricsArgs) -> Result<String> {
    let base = match &args.url {
        Some(u) => u.clone(),
        None => {
            let from_cscli = ctx
                .cfg
                .cscli
                .as_ref()
                .map(|c| c.prometheus_uri.clone())
                .filter(|u| !u.is_empty());
            match from_cscli {
                Some(u) => u,
                None => {
                    let p = ctx.cfg.prometheus.clone().unwrap_or_default();
                    if !p.enabled {
                        bail!("prometheus is not enabled, can't show metrics");
                    }
                    format!("http://{}:{}", p.listen_addr, p.listen_port)
                }
            }
        }
    };
    let base = base.trim_end_matches('/');
    Ok(if base.ends_with("/metrics") {
        base.to_owned()
    } else {
        format!("{base}/metrics")
    })
}

/// One HTTP GET of a `http://host:port/path` URL; the body when the status is 200.
fn fetch(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("unsupported prometheus url {url:?}: only http:// is served"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&addr)
        .with_context(|| format!("failed to fetch prometheus metrics: connecting to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .context("failed to fetch prometheus metrics: reading the answer")?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("failed to fetch prometheus metrics: malformed HTTP answer")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("failed to fetch prometheus metrics from {url}: {status}");
    }
    Ok(body.to_owned())
}

/// Runs `cscli metrics`.
pub fn run(ctx: &Ctx, args: &MetricsArgs) -> Result<()> {
    let url = url(ctx, args)?;
    let body = fetch(&url)?;
    let samples = cs_metrics::text::parse(&body)
        .with_context(|| format!("failed to read prometheus metrics from {url}"))?;
    let c = collect(&samples);
    let mut out = std::io::stdout().lock();
    match ctx.output {
        OutputFormat::Human => out.write_all(human(&c, args.no_unit).as_bytes())?,
        OutputFormat::Json => {
            for v in sections(&c) {
                out.write_all(crate::output::json_indent(&v, " ")?.as_bytes())?;
            }
        }
        OutputFormat::Raw => {
            for v in sections(&c) {
                out.write_all(serde_yaml::to_string(&v)?.as_bytes())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: i64, expected: &str) {
        assert_eq!(format_number(n, false), expected);
    }

    #[test]
    fn numbers_use_upstream_units() {
        check(999, "999");
        check(1000, "1.00k");
        check(1_534, "1.53k");
        check(2_500_000, "2.50M");
        assert_eq!(format_number(2_500_000, true), "2500000");
    }

    #[test]
    fn samples_land_in_upstream_maps() {
        let text = "cs_parser_hits_total{source=\"/var/log/auth.log\",type=\"syslog\"} 10\n\
                    cs_parser_hits_ok_total{source=\"/var/log/auth.log\",type=\"syslog\"} 7\n\
                    cs_bucket_poured_total{name=\"crowdsecurity/ssh-bf\",source=\"/var/log/auth.log\",type=\"syslog\"} 4\n\
                    cs_lapi_decisions_ko_total{bouncer=\"fw\"} 3\n\
                    cs_active_decisions{action=\"ban\",origin=\"crowdsec\",reason=\"crowdsecurity/ssh-bf\"} 2\n\
                    go_goroutines 12\n";
        let c = collect(&cs_metrics::text::parse(text).unwrap());
        let a = &c.acquis["/var/log/auth.log"];
        assert_eq!((a["reads"], a["parsed"], a["pour"]), (10, 7, 4));
        assert_eq!(c.buckets["crowdsecurity/ssh-bf"]["pour"], 4);
        assert_eq!(c.lapi_decisions["fw"].empty, 3);
        assert_eq!(c.decisions["crowdsecurity/ssh-bf"]["crowdsec"]["ban"], 2);
        let h = human(&c, false);
        assert!(h.contains("\nAcquisition Metrics:\n"), "{h}");
        assert!(h.contains("│ /var/log/auth.log │ 10         │ 7            │ -              │ 4                      │"), "{h}");
        assert!(!h.contains("Parser Metrics"), "{h}");
    }
}
