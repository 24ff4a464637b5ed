//! CrowdSec's Prometheus metrics with upstream's names, labels and help texts, a registry that
//! renders the text exposition format, and a parser of that format for `cscli metrics`.
//!
//! Every process has one set of metrics, [`global()`]. A component resolves the label handles it
//! needs once (`global().parser_hits.with([source, kind])`) and increments them on the hot path
//! (one relaxed atomic add). Label sets are upstream 1.4's, the ones `cscli metrics` reads.

pub mod family;
mod process;
pub mod text;

use std::sync::{Mutex, OnceLock};

pub use family::{
    Collect, Counter, CounterVec, Desc, Family, Gauge, GaugeVec, Histogram, HistogramVec,
};

/// Which families are served (`prometheus.level` in `config.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Every family, with per-node, per-machine and per-bouncer detail.
    #[default]
    Full,
    /// Only the families upstream registers at `level: aggregated`.
    Aggregated,
}

impl Level {
    /// Parses `full` / `aggregated` (empty means `full`, upstream's default).
    pub fn parse(s: &str) -> Result<Level, Error> {
        match s {
            "" | "full" => Ok(Level::Full),
            "aggregated" => Ok(Level::Aggregated),
            other => Err(Error::Level(other.to_string())),
        }
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `prometheus.level` is neither `full` nor `aggregated`.
    #[error("invalid prometheus level '{0}': expected 'full' or 'aggregated'")]
    Level(String),
    /// A line of a scraped exposition could not be read.
    #[error("line {line}: {reason}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Upstream's buckets for the time spent parsing a line.
pub const PARSING_TIME_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01,
];
/// Upstream's buckets for the time spent pouring an event.
pub const POUR_TIME_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05];
/// Upstream's buckets for Local API response times.
pub const LAPI_TIME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
];

fn d(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    full_only: bool,
) -> Desc {
    Desc {
        name,
        help,
        labels,
        const_labels: Vec::new(),
        full_only,
    }
}

type Hook = Box<dyn Fn(&Metrics) + Send + Sync>;

/// All metric families of the daemon.
pub struct Metrics {
    // --- acquisition
    /// `cs_filesource_hits_total{source}`: lines read by the file datasource (source = path).
    pub file_hits: CounterVec<1>,
    /// `cs_journalctlsource_hits_total{source}`: lines read from journalctl.
    pub journalctl_hits: CounterVec<1>,
    /// `cs_syslogsource_hits_total{source}`: messages received by the syslog server
    /// (source = listen address:port).
    pub syslog_hits: CounterVec<1>,
    /// `cs_syslogsource_parsed_total{source,type}`: syslog messages parsed (type = rfc3164/rfc5424).
    pub syslog_parsed: CounterVec<2>,
    /// `cs_dockersource_hits_total{source}`: lines read from containers.
    pub docker_hits: CounterVec<1>,

    // --- parser
    /// `cs_parser_hits_total{source,type}`: events entering the parsers.
    pub parser_hits: CounterVec<2>,
    /// `cs_parser_hits_ok_total{source,type}`: events parsed.
    pub parser_hits_ok: CounterVec<2>,
    /// `cs_parser_hits_ko_total{source,type}`: events no parser took.
    pub parser_hits_ko: CounterVec<2>,
    /// `cs_node_hits_total{source,type,name}`: events entering a parser node (full level).
    pub node_hits: CounterVec<3>,
    /// `cs_node_hits_ok_total{source,type,name}` (full level).
    pub node_hits_ok: CounterVec<3>,
    /// `cs_node_hits_ko_total{source,type,name}` (full level).
    pub node_hits_ko: CounterVec<3>,
    /// `cs_node_wl_hits_total{source,type,name,reason}`: events a whitelist looked at (full level).
    pub node_wl_hits: CounterVec<4>,
    /// `cs_node_wl_hits_ok_total{source,type,name,reason}`: events whitelisted (full level).
    pub node_wl_hits_ok: CounterVec<4>,
    /// `cs_parsing_time_seconds{type,source}`.
    pub parsing_time: HistogramVec<2>,

    // --- buckets
    /// `cs_bucket_poured_total{source,type,name}`: events poured into a scenario (full level).
    pub bucket_poured: CounterVec<3>,
    /// `cs_bucket_overflowed_total{name}`.
    pub bucket_overflowed: CounterVec<1>,
    /// `cs_bucket_canceled_total{name}`.
    pub bucket_canceled: CounterVec<1>,
    /// `cs_bucket_underflowed_total{name}`: buckets that expired empty.
    pub bucket_underflowed: CounterVec<1>,
    /// `cs_bucket_created_total{name}`.
    pub bucket_created: CounterVec<1>,
    /// `cs_buckets{name}`: live buckets.
    pub buckets: GaugeVec<1>,
    /// `cs_bucket_evicted_total{name}`: buckets dropped by the memory bound (not in upstream).
    pub bucket_evicted: CounterVec<1>,
    /// `cs_bucket_pour_seconds{type,source}`.
    pub pour_time: HistogramVec<2>,

    // --- Local API
    /// `cs_lapi_route_requests_total{route,method}`.
    pub lapi_route: CounterVec<2>,
    /// `cs_lapi_machine_requests_total{machine,route,method}` (full level).
    pub lapi_machine: CounterVec<3>,
    /// `cs_lapi_bouncer_requests_total{bouncer,route,method}` (full level).
    pub lapi_bouncer: CounterVec<3>,
    /// `cs_lapi_decisions_ko_total{bouncer}`: `/decisions` calls answered with nothing (full level).
    pub lapi_decisions_ko: CounterVec<1>,
    /// `cs_lapi_decisions_ok_total{bouncer}`: `/decisions` calls answered with decisions (full level).
    pub lapi_decisions_ok: CounterVec<1>,
    /// `cs_lapi_request_duration_seconds{endpoint,method}` (full level).
    pub lapi_duration: HistogramVec<2>,

    // --- global
    /// `cs_info{version}`: always 1.
    pub info: GaugeVec<0>,
    /// `cs_active_decisions{reason,origin,action}` (full level; recomputed at scrape).
    pub active_decisions: GaugeVec<3>,
    /// `cs_alerts{reason}`: alerts by scenario, CAPI excluded (full level; recomputed at scrape).
    pub alerts: GaugeVec<1>,
    /// `cs_cache_size{name,type}`: entries per stash cache.
    pub cache_size: GaugeVec<2>,
    /// `cs_regexp_cache_size{name}`: entries per regexp cache of the helpers.
    pub regexp_cache_size: GaugeVec<1>,

    hooks: Mutex<Vec<Hook>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_VERSION"))
    }
}

const LINES_READ: &str = "Total lines that were read.";

impl Metrics {
    /// A fresh set; `version` goes into `cs_info`.
    pub fn new(version: &str) -> Self {
        let mut info_desc = d("cs_info", "Information about Crowdsec.", &[], false);
        info_desc.const_labels = vec![("version", version.to_string())];
        let m = Metrics {
            file_hits: Family::new(d(
                "cs_filesource_hits_total",
                LINES_READ,
                &["source"],
                false,
            )),
            journalctl_hits: Family::new(d(
                "cs_journalctlsource_hits_total",
                LINES_READ,
                &["source"],
                false,
            )),
            syslog_hits: Family::new(d(
                "cs_syslogsource_hits_total",
                "Total lines that were received.",
                &["source"],
                false,
            )),
            syslog_parsed: Family::new(d(
                "cs_syslogsource_parsed_total",
                "Total lines that were successfully parsed",
                &["source", "type"],
                false,
            )),
            docker_hits: Family::new(d(
                "cs_dockersource_hits_total",
                LINES_READ,
                &["source"],
                false,
            )),
            parser_hits: Family::new(d(
                "cs_parser_hits_total",
                "Total events entered the parser.",
                &["source", "type"],
                false,
            )),
            parser_hits_ok: Family::new(d(
                "cs_parser_hits_ok_total",
                "Total events were successfully parsed.",
                &["source", "type"],
                false,
            )),
            parser_hits_ko: Family::new(d(
                "cs_parser_hits_ko_total",
                "Total events were unsuccessfully parsed.",
                &["source", "type"],
                false,
            )),
            node_hits: Family::new(d(
                "cs_node_hits_total",
                "Total events entered node.",
                &["source", "type", "name"],
                true,
            )),
            node_hits_ok: Family::new(d(
                "cs_node_hits_ok_total",
                "Total events successfully exited node.",
                &["source", "type", "name"],
                true,
            )),
            node_hits_ko: Family::new(d(
                "cs_node_hits_ko_total",
                "Total events unsuccessfully exited node.",
                &["source", "type", "name"],
                true,
            )),
            node_wl_hits: Family::new(d(
                "cs_node_wl_hits_total",
                "Total events processed by whitelist node.",
                &["source", "type", "name", "reason"],
                true,
            )),
            node_wl_hits_ok: Family::new(d(
                "cs_node_wl_hits_ok_total",
                "Total events successfully whitelisted by node.",
                &["source", "type", "name", "reason"],
                true,
            )),
            parsing_time: Family::with_buckets(
                d(
                    "cs_parsing_time_seconds",
                    "Time spent parsing a line",
                    &["type", "source"],
                    false,
                ),
                PARSING_TIME_BUCKETS,
            ),
            bucket_poured: Family::new(d(
                "cs_bucket_poured_total",
                "Total events were poured in bucket.",
                &["source", "type", "name"],
                true,
            )),
            bucket_overflowed: Family::new(d(
                "cs_bucket_overflowed_total",
                "Total buckets overflowed.",
                &["name"],
                false,
            )),
            bucket_canceled: Family::new(d(
                "cs_bucket_canceled_total",
                "Total buckets canceled.",
                &["name"],
                false,
            )),
            bucket_underflowed: Family::new(d(
                "cs_bucket_underflowed_total",
                "Total buckets underflowed.",
                &["name"],
                false,
            )),
            bucket_created: Family::new(d(
                "cs_bucket_created_total",
                "Total buckets were instantiated.",
                &["name"],
                false,
            )),
            buckets: Family::new(d(
                "cs_buckets",
                "Number of buckets that currently exist.",
                &["name"],
                false,
            )),
            bucket_evicted: Family::new(d(
                "cs_bucket_evicted_total",
                "Total buckets dropped to keep bucket memory bounded.",
                &["name"],
                false,
            )),
            pour_time: Family::with_buckets(
                d(
                    "cs_bucket_pour_seconds",
                    "Time spent pouring an event to buckets.",
                    &["type", "source"],
                    false,
                ),
                POUR_TIME_BUCKETS,
            ),
            lapi_route: Family::new(d(
                "cs_lapi_route_requests_total",
                "Number of calls to each route per method.",
                &["route", "method"],
                false,
            )),
            lapi_machine: Family::new(d(
                "cs_lapi_machine_requests_total",
                "Number of calls to each route per method grouped by machines.",
                &["machine", "route", "method"],
                true,
            )),
            lapi_bouncer: Family::new(d(
                "cs_lapi_bouncer_requests_total",
                "Number of calls to each route per method grouped by bouncers.",
                &["bouncer", "route", "method"],
                true,
            )),
            lapi_decisions_ko: Family::new(d(
                "cs_lapi_decisions_ko_total",
                "Number of calls to /decisions that returned nil result.",
                &["bouncer"],
                true,
            )),
            lapi_decisions_ok: Family::new(d(
                "cs_lapi_decisions_ok_total",
                "Number of calls to /decisions that returned non-nil result.",
                &["bouncer"],
                true,
            )),
            lapi_duration: Family::with_buckets(
                d(
                    "cs_lapi_request_duration_seconds",
                    "Response time of LAPI",
                    &["endpoint", "method"],
                    true,
                ),
                LAPI_TIME_BUCKETS,
            ),
            info: Family::new(info_desc),
            active_decisions: Family::new(d(
                "cs_active_decisions",
                "Number of active decisions.",
                &["reason", "origin", "action"],
                true,
            )),
            alerts: Family::new(d(
                "cs_alerts",
                "Number of alerts (excluding CAPI).",
                &["reason"],
                true,
            )),
            cache_size: Family::new(d(
                "cs_cache_size",
                "Entries per cache.",
                &["name", "type"],
                false,
            )),
            regexp_cache_size: Family::new(d(
                "cs_regexp_cache_size",
                "Entries per regexp cache.",
                &["name"],
                false,
            )),
            hooks: Mutex::new(Vec::new()),
        };
        m.info.with([]).set(1);
        m
    }

    fn families(&self) -> [&dyn Collect; 33] {
        [
            &self.file_hits,
            &self.journalctl_hits,
            &self.syslog_hits,
            &self.syslog_parsed,
            &self.docker_hits,
            &self.parser_hits,
            &self.parser_hits_ok,
            &self.parser_hits_ko,
            &self.node_hits,
            &self.node_hits_ok,
            &self.node_hits_ko,
            &self.node_wl_hits,
            &self.node_wl_hits_ok,
            &self.parsing_time,
            &self.bucket_poured,
            &self.bucket_overflowed,
            &self.bucket_canceled,
            &self.bucket_underflowed,
            &self.bucket_created,
            &self.buckets,
            &self.bucket_evicted,
            &self.pour_time,
            &self.lapi_route,
            &self.lapi_machine,
            &self.lapi_bouncer,
            &self.lapi_decisions_ko,
            &self.lapi_decisions_ok,
            &self.lapi_duration,
            &self.info,
            &self.active_decisions,
            &self.alerts,
            &self.cache_size,
            &self.regexp_cache_size,
        ]
    }

    /// Registers a function run before each rendering (to refresh gauges computed on demand,
    /// like upstream's active decisions and alerts).
    pub fn on_scrape(&self, hook: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// The text exposition (format 0.0.4) of the families served at `level`, sorted by name
    /// like the Go client, followed by the process families (`process_*`).
    pub fn render(&self, level: Level) -> String {
        for hook in self.hooks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            hook(self);
        }
        let mut fams: Vec<&dyn Collect> = self
            .families()
            .into_iter()
            .filter(|f| level == Level::Full || !f.describe().full_only)
            .collect();
        fams.sort_by_key(|f| f.describe().name);
        let mut out = String::with_capacity(8192);
        for f in fams {
            f.render(&mut out);
        }
        process::render(&mut out);
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(Metrics::default)
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_filters_detail_families_and_names_are_upstreams() {
        let m = Metrics::new("v9.9.9");
        m.parser_hits.with(["/var/log/auth.log", "syslog"]).inc();
        m.node_hits
            .with(["/var/log/auth.log", "syslog", "crowdsecurity/sshd-logs"])
            .inc();
        m.file_hits.with(["/var/log/auth.log"]).inc_by(5);
        let full = m.render(Level::Full);
        assert!(full.contains(
            "# HELP cs_node_hits_total Total events entered node.\n# TYPE cs_node_hits_total counter\n\
             cs_node_hits_total{name=\"crowdsecurity/sshd-logs\",source=\"/var/log/auth.log\",type=\"syslog\"} 1\n"
        ));
        assert!(full.contains("cs_filesource_hits_total{source=\"/var/log/auth.log\"} 5\n"));
        assert!(full.contains("cs_info{version=\"v9.9.9\"} 1\n"));
        assert!(full.contains("process_resident_memory_bytes "));
        let agg = m.render(Level::Aggregated);
        assert!(!agg.contains("cs_node_hits_total"));
        assert!(
            agg.contains("cs_parser_hits_total{source=\"/var/log/auth.log\",type=\"syslog\"} 1\n")
        );
        // Families are sorted by name.
        let f = full.find("# HELP cs_filesource_hits_total").unwrap();
        let i = full.find("# HELP cs_info").unwrap();
        let p = full.find("# HELP cs_parser_hits_total").unwrap();
        assert!(f < i && i < p);
    }

    #[test]
    fn scrape_hooks_refresh_gauges() {
        let m = Metrics::new("x");
        m.on_scrape(|m| {
            m.alerts.reset();
            m.alerts.with(["crowdsecurity/ssh-bf"]).set(2);
        });
        m.alerts.with(["stale"]).set(7);
        let out = m.render(Level::Full);
        assert!(out.contains("cs_alerts{reason=\"crowdsecurity/ssh-bf\"} 2\n"));
        assert!(!out.contains("stale"));
    }

    #[test]
    fn level_parsing() {
        assert_eq!(Level::parse("").unwrap(), Level::Full);
        assert_eq!(Level::parse("aggregated").unwrap(), Level::Aggregated);
        assert!(Level::parse("none").is_err());
    }
}
