//! Loading parser files: the pattern host, expression environment and data files shared
//! by one parser set, node compilation with located errors, and stage assembly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cs_config::yaml;
use cs_expr_helpers::Helpers;
use cs_expr_helpers::geoip::GeoIp;

use crate::config::{self, GrokConfig, NodeConfig, StageFile, StaticConfig};
use crate::enrich::{Enrichers, Method};
use crate::error::{Diagnostic, Diagnostics, Error, Result};
use crate::expr::Expr;
use crate::metrics::NodeMetrics;
use crate::node::{GrokInput, GrokStep, Node, Whitelist};
use crate::pipeline::{Parsers, StagedNode};
use crate::stash::Stash;
use crate::statics::{Destination, Read, Static, ValueSource};
use crate::target::Target;
use crate::whitelist::IpWhitelist;

/// Everything parser files are compiled against: one per parser set (parsers and
/// postoverflows each have their own, as upstream gives each its own grok host).
/// Build it with [`LoaderBuilder`].
pub struct Loader {
    patterns: cs_grok::Patterns,
    env: cs_expr::Environment,
    data_dir: PathBuf,
    helpers: Helpers,
    enrichers: Enrichers,
    clock: Arc<dyn cs_expr::Clock>,
    metrics: Option<&'static cs_metrics::Metrics>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("patterns", &self.patterns)
            .field("data_dir", &self.data_dir)
            .field("enrichers", &self.enrichers)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Loader`].
///
/// ```no_run
/// use cs_parser::LoaderBuilder;
///
/// # fn main() -> Result<(), cs_parser::Error> {
/// let mut loader = LoaderBuilder::new("/var/lib/crowdsec/data")
///     .patterns_dir("/etc/crowdsec/patterns")?
///     .build();
/// let parsers = loader.load_dir("/etc/crowdsec/parsers".as_ref())?;
/// let mut evt = cs_types::Event::new_log("Feb 12 14:10:21 host sshd[1]: ...", "file");
/// parsers.parse(&mut evt)?;
/// # Ok(())
/// # }
/// ```
pub struct LoaderBuilder {
    data_dir: PathBuf,
    patterns: Option<cs_grok::Patterns>,
    helpers: Option<Helpers>,
    resolver: Option<Arc<dyn cs_expr_helpers::resolver::Resolver>>,
    dns_cache_size: usize,
    clock: Arc<dyn cs_expr::Clock>,
    metrics: Option<&'static cs_metrics::Metrics>,
}

impl LoaderBuilder {
    /// A builder reading data files and GeoIP databases from `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            patterns: None,
            helpers: None,
            resolver: None,
            dns_cache_size: 10_000,
            clock: Arc::new(cs_expr::SystemClock),
            metrics: Some(cs_metrics::global()),
        }
    }

    /// The grok pattern host (default: the grok library's built-in patterns).
    #[must_use]
    pub fn patterns(mut self, patterns: cs_grok::Patterns) -> Self {
        self.patterns = Some(patterns);
        self
    }

    /// Uses the grok library's base patterns plus every pattern file of `dir` (upstream's
    /// `config_paths.pattern_dir`).
    pub fn patterns_dir(mut self, dir: impl AsRef<Path>) -> Result<Self> {
        let mut patterns = cs_grok::Patterns::base();
        patterns.load_dir(dir).map_err(Error::Patterns)?;
        self.patterns = Some(patterns);
        Ok(self)
    }

    /// Shares `helpers` (data files, stash caches, GeoIP databases, resolver) with other
    /// expression users; by default the loader makes its own, with the GeoIP databases of
    /// the data directory.
    #[must_use]
    pub fn helpers(mut self, helpers: Helpers) -> Self {
        self.helpers = Some(helpers);
        self
    }

    /// Answers `reverse_dns` (and `LookupHost` when the helpers are the loader's own).
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn cs_expr_helpers::resolver::Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Number of reverse DNS answers kept (`crowdsec_service.dns_cache`).
    #[must_use]
    pub fn dns_cache_size(mut self, size: usize) -> Self {
        self.dns_cache_size = size;
        self
    }

    /// The time source (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn cs_expr::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the per-node counters (`cs_node_hits_total`, `_ok_total`, `_ko_total`) go:
    /// the process-wide [`cs_metrics::global`] by default, `None` to count nothing.
    #[must_use]
    pub fn node_metrics(mut self, metrics: Option<&'static cs_metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The loader.
    pub fn build(self) -> Loader {
        let helpers = match self.helpers {
            Some(h) => h,
            None => {
                let mut h = Helpers::new();
                if let Some(r) = &self.resolver {
                    h = h.with_resolver(r.clone());
                }
                let (geoip, errors) = GeoIp::open_data_dir(&self.data_dir);
                for e in errors {
                    tracing::warn!(error = %e, "GeoIP enrichment disabled");
                }
                h.set_geoip(geoip);
                h
            }
        };
        let resolver = self.resolver.unwrap_or_else(|| helpers.resolver().clone());
        let enrichers =
            Enrichers::new(helpers.geoip()).with_resolver(resolver, self.dns_cache_size);
        let mut env = cs_expr::Environment::event();
        env.set_clock(self.clock.clone());
        helpers.register(&mut env);
        Loader {
            patterns: self.patterns.unwrap_or_else(cs_grok::Patterns::builtin),
            env,
            data_dir: self.data_dir,
            helpers,
            enrichers,
            clock: self.clock,
            metrics: self.metrics,
        }
    }
}

impl Loader {
    /// The grok patterns (including every `pattern_syntax` loaded so far).
    pub fn patterns(&self) -> &cs_grok::Patterns {
        &self.patterns
    }

    /// Loads `<dir>/<stage>/*.yaml|yml` (`dir` is e.g. `<config_dir>/parsers`); the stage
    /// of a node is its directory name. Files are taken in full-path order, as upstream.
    pub fn load_dir(&mut self, dir: &Path) -> Result<Parsers> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let mut files = Vec::new();
        for stage_entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let stage_entry = stage_entry.map_err(io(dir))?;
            let stage_path = stage_entry.path();
            if !stage_path.is_dir() {
                continue;
            }
            let stage = stage_entry.file_name().to_string_lossy().into_owned();
            for entry in std::fs::read_dir(&stage_path).map_err(io(&stage_path))? {
                let path = entry.map_err(io(&stage_path))?.path();
                if path.is_dir() {
                    continue;
                }
                files.push(StageFile {
                    filename: path.to_string_lossy().into_owned(),
                    stage: stage.clone(),
                });
            }
        }
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        self.load_files(&files)
    }

    /// Loads the given files into their stages (upstream's `LoadStages`), in order.
    /// Files that are not `.yaml`/`.yml` are skipped.
    pub fn load_files(&mut self, files: &[StageFile]) -> Result<Parsers> {
        let mut diags = Vec::new();
        let mut loaded: Vec<(String, Node)> = Vec::new();
        for file in files {
            if !(file.filename.ends_with(".yaml") || file.filename.ends_with(".yml")) {
                tracing::warn!(file = %file.filename, "skipping non-YAML parser file");
                continue;
            }
            let text = std::fs::read_to_string(&file.filename).map_err(|source| Error::Io {
                path: PathBuf::from(&file.filename),
                source,
            })?;
            let docs = match config::parse_node_file(&file.filename, &text) {
                Ok(d) => d,
                Err(mut d) => {
                    diags.append(&mut d);
                    continue;
                }
            };
            for doc in docs {
                match format_supported(&doc.config.format) {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(
                            node = %doc.config.name,
                            format = %doc.config.format,
                            "parser format not supported (>= 1.0, <= 3.0), node skipped"
                        );
                        continue;
                    }
                    Err(msg) => {
                        diags.push(at(&doc.yaml, "format", msg));
                        continue;
                    }
                }
                let mut cx = CompileCx {
                    loader: self,
                    yaml: &doc.yaml,
                    diags: &mut diags,
                };
                if let Some(node) = cx.node(&doc.config, "", None) {
                    loaded.push((file.stage.clone(), node));
                }
                self.load_data(&doc.config);
            }
        }
        if !diags.is_empty() {
            return Err(Error::Config(Diagnostics(diags)));
        }
        let stages: Vec<Arc<str>> = loaded
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(Arc::from)
            .collect();
        let mut nodes: Vec<StagedNode> = loaded
            .into_iter()
            .map(|(stage, node)| StagedNode {
                stage: stages.iter().position(|s| **s == *stage).unwrap_or(0),
                node,
            })
            .collect();
        let metrics = self
            .metrics
            .map(|m| NodeMetrics::new(m, nodes.iter_mut().map(|n| &mut n.node)));
        Ok(Parsers {
            stages,
            nodes,
            enrichers: self.enrichers.clone(),
            clock: self.clock.clone(),
            metrics,
        })
    }

    /// Loads a node's `data:` files (errors are logged, not fatal, as upstream).
    fn load_data(&self, cfg: &NodeConfig) {
        for data in &cfg.data {
            if data.dest_file.is_empty() || data.kind.is_empty() {
                continue;
            }
            if let Err(e) =
                self.helpers
                    .data_files()
                    .load(&self.data_dir, &data.dest_file, &data.kind)
            {
                tracing::error!(file = %data.dest_file, error = %e, "cannot load data file");
            }
        }
        for child in &cfg.nodes {
            self.load_data(child);
        }
    }
}

/// `format` must satisfy `>= 1.0, <= 3.0` (empty means `1.0`).
fn format_supported(format: &str) -> Result<bool, String> {
    if format.is_empty() {
        return Ok(true);
    }
    let mut parts = [0u64; 3];
    let segs: Vec<&str> = format.trim_start_matches('v').split('.').collect();
    if segs.len() > 3 {
        return Err(format!("invalid format version `{format}`"));
    }
    for (i, seg) in segs.iter().enumerate() {
        parts[i] = seg
            .parse()
            .map_err(|_| format!("invalid format version `{format}`"))?;
    }
    Ok(([1, 0, 0]..=[3, 0, 0]).contains(&parts))
}

/// A diagnostic at key path `path` of `doc` (or at the document when the key is absent).
fn at(doc: &yaml::Node, path: &str, message: impl Into<String>) -> Diagnostic {
    doc.lookup(path).unwrap_or(doc).diagnostic(path, message)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

struct CompileCx<'a> {
    loader: &'a mut Loader,
    yaml: &'a yaml::Node,
    diags: &'a mut Vec<Diagnostic>,
}

impl CompileCx<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.diags.push(at(self.yaml, path, message));
    }

    /// Compiles an expression found at `path`, reporting errors inside the YAML value.
    fn expr(&mut self, path: &str, source: &str) -> Option<Expr> {
        match Expr::compile(source, &self.loader.env) {
            Ok(e) => Some(e),
            Err(e) => {
                let node = self.yaml.lookup(path).unwrap_or(self.yaml);
                self.diags.push(node.diagnostic_at_offset(
                    path,
                    e.offset,
                    e.width,
                    format!("invalid expression: {}", e.message),
                ));
                None
            }
        }
    }

    fn node(&mut self, cfg: &NodeConfig, path: &str, parent: Option<&str>) -> Option<Node> {
        let errors_before = self.diags.len();
        let name: Arc<str> = match (cfg.name.is_empty(), parent) {
            (true, Some(p)) => Arc::from(format!("child-{p}")),
            _ => Arc::from(cfg.name.as_str()),
        };
        let next_stage = match cfg.onsuccess.as_str() {
            "next_stage" => true,
            "continue" | "" => false,
            other => {
                self.error(
                    &join(path, "onsuccess"),
                    format!("onsuccess `{other}` is not `continue` or `next_stage`"),
                );
                false
            }
        };
        let filter = if cfg.filter.is_empty() {
            None
        } else {
            self.expr(&join(path, "filter"), &cfg.filter)
        };

        for (pname, pattern) in &cfg.pattern_syntax {
            match self.loader.patterns.add(pname, pattern) {
                Ok(()) => {}
                Err(cs_grok::Error::Duplicate { .. }) => {
                    tracing::warn!(pattern = %pname, "grok pattern already registered, first definition kept");
                }
                Err(e) => self.error(
                    &join(path, &format!("pattern_syntax.{pname}")),
                    format!("invalid grok pattern: {e}"),
                ),
            }
        }

        let mut valid = false;
        let grok = if cfg.grok.is_set() {
            valid = true;
            self.grok(&cfg.grok, &join(path, "grok"))
        } else {
            None
        };

        let mut stashes = Vec::new();
        for (i, s) in cfg.stash.iter().enumerate() {
            let spath = format!("{}[{i}]", join(path, "stash"));
            if let Some(st) = self.stash(s, &spath) {
                stashes.push(st);
            }
        }

        let mut children = Vec::new();
        for (i, child) in cfg.nodes.iter().enumerate() {
            valid = true;
            let cpath = format!("{}[{i}]", join(path, "nodes"));
            if let Some(c) = self.node(child, &cpath, Some(&cfg.name)) {
                children.push(c);
            }
        }

        let mut statics = Vec::new();
        for (i, s) in cfg.statics.iter().enumerate() {
            valid = true;
            let spath = format!("{}[{i}]", join(path, "statics"));
            if let Err(msg) = validate_static(s) {
                self.error(&spath, msg);
                continue;
            }
            if let Some(st) = self.static_(s, &spath) {
                statics.push(st);
            }
        }

        let whitelist = self.whitelist(cfg, path);
        valid |= !whitelist.is_empty();

        if !valid {
            self.error(
                path,
                "node is empty: it needs a grok, child nodes, statics or whitelist entries",
            );
        }
        if self.diags.len() > errors_before {
            return None;
        }
        Some(Node {
            name,
            next_stage,
            filter,
            whitelist,
            grok,
            stashes,
            children,
            statics,
            metric: 0,
        })
    }

    fn grok(&mut self, cfg: &GrokConfig, path: &str) -> Option<GrokStep> {
        let compiled = if cfg.name.is_empty() {
            if cfg.pattern.is_empty() {
                self.error(path, "grok needs `name` or `pattern`");
                return None;
            }
            self.loader.patterns.compile(&cfg.pattern)
        } else {
            self.loader.patterns.compile_named(&cfg.name)
        };
        let grok = match compiled {
            Ok(g) => g,
            Err(e) => {
                let (key, offset) = if cfg.name.is_empty() {
                    ("pattern", grok_error_offset(&e))
                } else {
                    ("name", None)
                };
                let kpath = join(path, key);
                let node = self.yaml.lookup(&kpath).unwrap_or(self.yaml);
                self.diags.push(node.diagnostic_at_offset(
                    &kpath,
                    offset.unwrap_or(0),
                    0,
                    format!("invalid grok pattern: {e}"),
                ));
                return None;
            }
        };
        // The expression is compiled (and checked) even when `apply_on` takes precedence.
        let expression = if cfg.expression.is_empty() {
            None
        } else {
            Some(self.expr(&join(path, "expression"), &cfg.expression)?)
        };
        let input = match (cfg.apply_on.as_str(), expression) {
            ("Line.Raw", _) => GrokInput::LineRaw,
            ("", Some(e)) => GrokInput::Expr(e),
            ("", None) => {
                self.error(path, "grok requires `expression` or `apply_on`");
                return None;
            }
            (key, _) => GrokInput::Parsed {
                key: key.to_owned(),
                captured: grok.fields().iter().any(|f| **f == *key),
            },
        };
        let mut statics = Vec::new();
        for (i, s) in cfg.statics.iter().enumerate() {
            let spath = format!("{}[{i}]", join(path, "statics"));
            if let Some(st) = self.static_(s, &spath) {
                statics.push(st);
            }
        }
        Some(GrokStep {
            grok,
            input,
            statics,
        })
    }

    fn static_(&mut self, cfg: &StaticConfig, path: &str) -> Option<Static> {
        let destination = if !cfg.method.is_empty() {
            let method = Method::from_name(&cfg.method);
            match method {
                None => tracing::warn!(method = %cfg.method, "unknown enrichment method"),
                Some(m) if !self.loader.enrichers.is_available(m) => {
                    tracing::warn!(method = %cfg.method, "enrichment method not initialized");
                }
                Some(_) => {}
            }
            Destination::Method(method, cfg.method.clone())
        } else if !cfg.parsed.is_empty() {
            Destination::Parsed(cfg.parsed.clone())
        } else if !cfg.meta.is_empty() {
            Destination::Meta(cfg.meta.clone())
        } else if !cfg.enriched.is_empty() {
            Destination::Enriched(cfg.enriched.clone())
        } else {
            let target = Target::parse(&cfg.target);
            if let Target::Invalid(p) = &target {
                tracing::warn!(target = %p, "static target cannot be set");
            }
            Destination::Target(target)
        };
        let value = if !cfg.value.is_empty() {
            ValueSource::Constant(cfg.value.clone())
        } else if !cfg.expression.is_empty() {
            let expr = self.expr(&join(path, "expression"), &cfg.expression)?;
            match Read::parse(&cfg.expression) {
                Some(read) => ValueSource::Read(read),
                None => ValueSource::Expr(expr),
            }
        } else {
            ValueSource::Empty
        };
        Some(Static { destination, value })
    }

    fn stash(&mut self, cfg: &config::StashConfig, path: &str) -> Option<Stash> {
        if cfg.name.is_empty() {
            self.error(path, "stash needs a `name`");
            return None;
        }
        if cfg.key.is_empty() || cfg.value.is_empty() {
            self.error(path, "stash needs `key` and `value` expressions");
            return None;
        }
        let ttl = match cs_expr::format::parse_duration(&cfg.ttl) {
            Ok(nanos) if nanos > 0 => chrono::TimeDelta::nanoseconds(nanos),
            _ => {
                self.error(
                    &join(path, "ttl"),
                    format!(
                        "stash needs a positive Go duration `ttl`, got `{}`",
                        cfg.ttl
                    ),
                );
                return None;
            }
        };
        let strategy = if cfg.strategy.is_empty() {
            "LRU"
        } else {
            &cfg.strategy
        };
        if let Err(e) =
            self.loader
                .helpers
                .stash()
                .init_cache(&cfg.name, cfg.size, Some(ttl), strategy)
        {
            self.error(&join(path, "strategy"), e.to_string());
            return None;
        }
        let key = self.expr(&join(path, "key"), &cfg.key);
        let value = self.expr(&join(path, "value"), &cfg.value);
        Some(Stash {
            store: self.loader.helpers.stash().clone(),
            name: cfg.name.clone(),
            key: key?,
            value: value?,
            ttl,
        })
    }

    fn whitelist(&mut self, cfg: &NodeConfig, path: &str) -> Whitelist {
        let wpath = join(path, "whitelist");
        let ips = match IpWhitelist::new(&cfg.whitelist.ip, &cfg.whitelist.cidr) {
            Ok(w) => w,
            Err(bad) => {
                for b in bad {
                    self.error(&format!("{wpath}.{}[{}]", b.list, b.index), b.message);
                }
                IpWhitelist::default()
            }
        };
        let mut exprs = Vec::new();
        for (i, e) in cfg.whitelist.expression.iter().enumerate() {
            if let Some(x) = self.expr(&format!("{wpath}.expression[{i}]"), e) {
                exprs.push(x);
            }
        }
        Whitelist {
            reason: cfg.whitelist.reason.clone(),
            ips,
            exprs,
        }
    }
}

/// Upstream's static validation (node statics only; grok statics are not validated).
fn validate_static(s: &StaticConfig) -> Result<(), String> {
    if !s.method.is_empty() {
        if s.value.is_empty() && s.expression.is_empty() {
            return Err("a static with `method` needs `value` or `expression`".to_owned());
        }
        return Ok(());
    }
    if s.meta.is_empty() && s.parsed.is_empty() && s.target.is_empty() {
        return Err("a static needs one of `meta`, `parsed` or `target`".to_owned());
    }
    if s.value.is_empty() && s.expression.is_empty() {
        return Err("a static needs `value` or `expression`".to_owned());
    }
    Ok(())
}

/// Byte offset of a grok error inside the pattern text, when the error has one.
fn grok_error_offset(e: &cs_grok::Error) -> Option<usize> {
    match e.root() {
        cs_grok::Error::UnknownPattern { offset, .. } | cs_grok::Error::Syntax { offset, .. } => {
            Some(*offset)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_versions() {
        assert_eq!(format_supported(""), Ok(true));
        assert_eq!(format_supported("1.0"), Ok(true));
        assert_eq!(format_supported("2.0"), Ok(true));
        assert_eq!(format_supported("3.0"), Ok(true));
        assert_eq!(format_supported("3.1"), Ok(false));
        assert_eq!(format_supported("0.9"), Ok(false));
        assert!(format_supported("one").is_err());
    }

    #[test]
    fn static_validation() {
        let s = |meta: &str, value: &str, method: &str, enriched: &str| StaticConfig {
            meta: meta.into(),
            value: value.into(),
            method: method.into(),
            enriched: enriched.into(),
            ..StaticConfig::default()
        };
        assert!(validate_static(&s("a", "b", "", "")).is_ok());
        assert!(validate_static(&s("", "b", "", "x")).is_err());
        assert!(validate_static(&s("a", "", "", "")).is_err());
        assert!(validate_static(&s("", "", "ParseDate", "")).is_err());
        assert!(validate_static(&s("", "x", "ParseDate", "")).is_ok());
    }
}
