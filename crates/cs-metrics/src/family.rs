//! Metric families (counters, gauges, histograms with a fixed label set) and the handles the
//! hot path keeps: resolving a label set takes a lock once, incrementing a handle is one atomic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Name, help, label names and kind of a family.
#[derive(Debug)]
pub struct Desc {
    /// Metric name (`cs_parser_hits_total`).
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label names, in the order values are given to `with`.
    pub labels: &'static [&'static str],
    /// Labels with a fixed value on every series (`cs_info{version=…}`).
    pub const_labels: Vec<(&'static str, String)>,
    /// Served only at `level: full` (upstream does not register it at `aggregated`).
    pub full_only: bool,
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (integer: every gauge CrowdSec serves counts things).
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// Adds `n` (may be negative).
    #[inline]
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct HistogramCore {
    bounds: &'static [f64],
    /// Per bucket (not cumulative) counts; the last slot is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
    count: AtomicU64,
}

/// Observations sorted into fixed buckets (seconds, like upstream's timing histograms).
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }))
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        let core = &self.0;
        let idx = core
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(core.bounds.len());
        core.counts[idx].fetch_add(1, Ordering::Relaxed);
        core.count.fetch_add(1, Ordering::Relaxed);
        let mut cur = core.sum_bits.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + v).to_bits();
            match core.sum_bits.compare_exchange_weak(
                cur,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

/// What a family holds per label set.
pub trait Series: Clone + Send + Sync {
    /// `# TYPE` of the family.
    const KIND: &'static str;
    /// A fresh series for a family with these histogram bounds (ignored by counters and gauges).
    fn create(bounds: &'static [f64]) -> Self;
    /// Writes the sample lines of one series; `labels` is the rendered `k="v",…` list.
    fn write(&self, out: &mut String, name: &str, labels: &str);
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    value: &dyn std::fmt::Display,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

impl Series for Counter {
    const KIND: &'static str = "counter";
    fn create(_: &'static [f64]) -> Self {
        Counter::default()
    }
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        write_sample(out, name, "", labels, &self.get());
    }
}

impl Series for Gauge {
    const KIND: &'static str = "gauge";
    fn create(_: &'static [f64]) -> Self {
        Gauge::default()
    }
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        write_sample(out, name, "", labels, &self.get());
    }
}

impl Series for Histogram {
    const KIND: &'static str = "histogram";
    fn create(bounds: &'static [f64]) -> Self {
        Histogram::new(bounds)
    }
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let core = &self.0;
        let mut cumulative = 0u64;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, slot) in core.counts.iter().enumerate() {
            cumulative += slot.load(Ordering::Relaxed);
            let le = match core.bounds.get(i) {
                Some(b) => format!("{b}"),
                None => "+Inf".to_string(),
            };
            let l = format!("{labels}{sep}le=\"{le}\"");
            write_sample(out, name, "_bucket", &l, &cumulative);
        }
        let sum = f64::from_bits(core.sum_bits.load(Ordering::Relaxed));
        write_sample(out, name, "_sum", labels, &sum);
        write_sample(
            out,
            name,
            "_count",
            labels,
            &core.count.load(Ordering::Relaxed),
        );
    }
}

/// A family of series of kind `T`, one per distinct tuple of `N` label values.
#[derive(Debug)]
pub struct Family<T, const N: usize> {
    desc: Desc,
    bounds: &'static [f64],
    /// Keyed by the label values joined with NUL, so iteration is sorted by label values.
    series: RwLock<BTreeMap<String, ([String; N], T)>>,
}

/// Counters by label values.
pub type CounterVec<const N: usize> = Family<Counter, N>;
/// Gauges by label values.
pub type GaugeVec<const N: usize> = Family<Gauge, N>;
/// Histograms by label values.
pub type HistogramVec<const N: usize> = Family<Histogram, N>;

impl<T: Series, const N: usize> Family<T, N> {
    /// A family; `desc.labels` must have `N` names.
    pub fn new(desc: Desc) -> Self {
        Self::with_buckets(desc, &[])
    }

    /// A histogram family with these bucket upper bounds.
    pub fn with_buckets(desc: Desc, bounds: &'static [f64]) -> Self {
        debug_assert_eq!(desc.labels.len(), N, "{}: label count", desc.name);
        Family {
            desc,
            bounds,
            series: RwLock::new(BTreeMap::new()),
        }
    }

    /// The family's description.
    pub fn desc(&self) -> &Desc {
        &self.desc
    }

    /// The handle of the series with these label values, created at zero on first use. Keep the
    /// handle on the hot path: this call allocates and locks.
    pub fn with(&self, values: [&str; N]) -> T {
        let key = values.join("\0");
        if let Some((_, s)) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return s.clone();
        }
        let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
        map.entry(key)
            .or_insert_with(|| (values.map(str::to_string), T::create(self.bounds)))
            .1
            .clone()
    }

    /// Drops every series (gauges recomputed from scratch at each scrape). Handles taken before
    /// keep working but are no longer served.
    pub fn reset(&self) {
        self.series
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no series exists yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Escapes a label value for the text format.
pub(crate) fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes a help text for the text format.
fn escape_help(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A family the registry can render, whatever its kind and label count.
pub trait Collect: Send + Sync {
    /// The description.
    fn describe(&self) -> &Desc;
    /// Appends the family (`# HELP`, `# TYPE`, samples) in the text format; nothing when it has
    /// no series, as the Go client does.
    fn render(&self, out: &mut String);
}

impl<T: Series, const N: usize> Collect for Family<T, N> {
    fn describe(&self) -> &Desc {
        &self.desc
    }

    fn render(&self, out: &mut String) {
        let map = self.series.read().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return;
        }
        let d = &self.desc;
        let _ = write!(out, "# HELP {} ", d.name);
        escape_help(d.help, out);
        let _ = writeln!(out, "\n# TYPE {} {}", d.name, T::KIND);
        let mut labels = String::new();
        for (values, series) in map.values() {
            labels.clear();
            // The Go client sorts label pairs by name, constant labels included.
            let mut pairs: Vec<(&str, &str)> = d
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .chain(d.const_labels.iter().map(|(k, v)| (*k, v.as_str())))
                .collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    labels.push(',');
                }
                labels.push_str(k);
                labels.push_str("=\"");
                escape_label(v, &mut labels);
                labels.push('"');
            }
            series.write(out, d.name, &labels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &'static str, labels: &'static [&'static str]) -> Desc {
        Desc {
            name,
            help: "Help \\ text.\nsecond",
            labels,
            const_labels: vec![],
            full_only: false,
        }
    }

    fn check<C: Collect>(c: &C, expected: &str) {
        let mut out = String::new();
        c.render(&mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn counters_share_state_between_handles_and_render_sorted() {
        let f: CounterVec<2> = Family::new(desc("x_total", &["source", "type"]));
        check(&f, "");
        let a = f.with(["/b", "syslog"]);
        a.inc();
        f.with(["/b", "syslog"]).inc_by(2);
        f.with(["/a\"q", "x\ny"]).inc();
        assert_eq!(a.get(), 3);
        check(
            &f,
            "# HELP x_total Help \\\\ text.\\nsecond\n# TYPE x_total counter\n\
             x_total{source=\"/a\\\"q\",type=\"x\\ny\"} 1\n\
             x_total{source=\"/b\",type=\"syslog\"} 3\n",
        );
        f.reset();
        check(&f, "");
    }

    #[test]
    fn gauges_go_down_and_const_labels_sort_with_the_others() {
        let mut d = desc("g", &["name"]);
        d.const_labels = vec![("a", "1".into())];
        let f: GaugeVec<1> = Family::new(d);
        let g = f.with(["s"]);
        g.inc();
        g.inc();
        g.dec();
        g.add(-3);
        check(
            &f,
            "# HELP g Help \\\\ text.\\nsecond\n# TYPE g gauge\ng{a=\"1\",name=\"s\"} -2\n",
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let f: HistogramVec<1> = Family::with_buckets(desc("h", &["type"]), &[0.5, 1.0]);
        let h = f.with(["t"]);
        h.observe(0.25);
        h.observe(1.0);
        h.observe(3.0);
        assert_eq!(h.count(), 3);
        let mut out = String::new();
        f.render(&mut out);
        assert!(out.contains("h_bucket{type=\"t\",le=\"0.5\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{type=\"t\",le=\"1\"} 2\n"), "{out}");
        assert!(
            out.contains("h_bucket{type=\"t\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("h_sum{type=\"t\"} 4.25\nh_count{type=\"t\"} 3\n"),
            "{out}"
        );
    }
}
