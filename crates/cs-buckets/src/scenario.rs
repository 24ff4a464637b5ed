//! Compiled scenarios ("holders" upstream): validated settings and compiled expressions.

use std::path::{Path, PathBuf};

use cs_config::SimulationConfig;
use cs_config::yaml::{self, Diagnostic, Node};
use sha2::{Digest, Sha256};

use crate::config::ScenarioConfig;
use crate::expr::{Compiler, Env, Expr};

/// The five bucket algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketKind {
    /// Token bucket: overflows when more than `capacity` events arrive faster than the leak.
    Leaky,
    /// Overflows on every event.
    Trigger,
    /// Counts events for `duration` (wall clock), then overflows with all of them.
    Counter,
    /// Overflows when `condition` holds after a pour.
    Conditional,
    /// Overflows when the posterior of its conditions exceeds the threshold.
    Bayesian,
}

impl BucketKind {
    fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "leaky" => Self::Leaky,
            "trigger" => Self::Trigger,
            "counter" => Self::Counter,
            "conditional" => Self::Conditional,
            "bayesian" => Self::Bayesian,
            _ => return None,
        })
    }

    /// The YAML name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leaky => "leaky",
            Self::Trigger => "trigger",
            Self::Counter => "counter",
            Self::Conditional => "conditional",
            Self::Bayesian => "bayesian",
        }
    }
}

/// One compiled `bayesian_conditions` entry.
#[derive(Debug)]
pub(crate) struct BayesianCondition {
    pub(crate) condition: Expr,
    pub(crate) prob_given_evil: f32,
    pub(crate) prob_given_benign: f32,
    pub(crate) guillotine: bool,
}

/// Bayesian settings of a scenario.
#[derive(Debug)]
pub(crate) struct Bayesian {
    pub(crate) prior: f32,
    pub(crate) threshold: f32,
    pub(crate) conditions: Vec<BayesianCondition>,
}

/// The `scope` of a scenario's alerts.
#[derive(Debug)]
pub(crate) struct Scope {
    /// `Ip`, `Range` or a custom scope.
    pub(crate) kind: String,
    pub(crate) expression: Option<Expr>,
}

/// Where scenario files come from and how they are loaded.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// `simulation.yaml`.
    pub simulation: SimulationConfig,
    /// Directory of the data files listed under `data:` (upstream's `data_dir`).
    pub data_dir: PathBuf,
}

/// A compiled scenario: everything needed to create and run its buckets.
#[derive(Debug)]
pub struct Scenario {
    pub(crate) config: ScenarioConfig,
    pub(crate) kind: BucketKind,
    pub(crate) filter: Expr,
    pub(crate) groupby: Option<Expr>,
    pub(crate) distinct: Option<Expr>,
    pub(crate) cancel_on: Option<Expr>,
    pub(crate) overflow_filter: Option<Expr>,
    pub(crate) condition: Option<Expr>,
    pub(crate) bayesian: Option<Bayesian>,
    pub(crate) scope: Scope,
    /// Nanoseconds; 0 when unset.
    pub(crate) leakspeed: i64,
    /// Nanoseconds; 0 when unset.
    pub(crate) duration: i64,
    /// Nanoseconds; `None` when no blackhole.
    pub(crate) blackhole: Option<i64>,
    pub(crate) remediation: bool,
    pub(crate) simulated: bool,
    pub(crate) hash: String,
    pub(crate) version: String,
    pub(crate) file: PathBuf,
}

/// The format versions upstream accepts: `>= 1.0, <= 3.0`.
fn format_supported(format: &str) -> bool {
    let mut parts = format.trim_start_matches('v').split('.');
    let major: Option<u64> = parts.next().and_then(|p| p.parse().ok());
    let minor: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    match major {
        Some(1 | 2) => true,
        Some(3) => minor == 0 && parts.all(|p| p.chars().all(|c| c == '0')),
        _ => false,
    }
}

/// Parses a Go duration as `time.ParseDuration` does (no `d` unit, unlike decision durations).
fn go_duration(text: &str) -> Option<i64> {
    if text.contains('d') {
        return None;
    }
    cs_models::parse_duration(text).ok()
}

impl Scenario {
    /// Validates and compiles one decoded document. `node` is the document the config was decoded
    /// from, used to locate errors; `Ok(None)` means the scenario is skipped (unsupported format).
    pub fn compile(
        config: ScenarioConfig,
        node: &Node,
        file: &Path,
        file_hash: &str,
        compiler: &Compiler,
        options: &LoadOptions,
    ) -> Result<Option<Self>, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let at = |key: &str, message: String| match node.lookup(key) {
            Some(n) => n.diagnostic(key, message),
            None => node.diagnostic("", message),
        };
        if config.name.is_empty() {
            return Err(vec![node.diagnostic(
                "",
                "scenario has no name (nameless buckets are not loaded)",
            )]);
        }
        let format = if config.format.is_empty() {
            "1.0"
        } else {
            config.format.as_str()
        };
        if !format_supported(format) {
            tracing::error!(scenario = %config.name, format, "scenario format is not >= 1.0, <= 3.0, skipped");
            return Ok(None);
        }
        if config.description.is_empty() {
            errors.push(at("description", "description is mandatory".to_owned()));
        }
        let kind = BucketKind::parse(&config.kind);
        if kind.is_none() {
            errors.push(
                at("type", format!("unknown bucket type '{}'", config.kind)).with_hint(
                    "expected one of `leaky`, `trigger`, `counter`, `conditional`, `bayesian`",
                ),
            );
        }
        let mut duration_of = |key: &str, text: &str| -> i64 {
            if text.is_empty() {
                return 0;
            }
            go_duration(text).unwrap_or_else(|| {
                errors.push(
                    at(key, format!("invalid duration '{text}'"))
                        .with_hint("a Go duration such as `10s`, `1m30s`"),
                );
                0
            })
        };
        let leakspeed = duration_of("leakspeed", &config.leakspeed);
        let duration = duration_of("duration", &config.duration);
        let blackhole =
            (!config.blackhole.is_empty()).then(|| duration_of("blackhole", &config.blackhole));
        if let Some(kind) = kind
            && let Err((key, message)) = validate_kind(kind, &config, leakspeed, duration)
        {
            errors.push(at(
                key,
                format!("invalid {} bucket: {message}", kind.as_str()),
            ));
        }
        let scope_kind = if config.scope.kind.is_empty() {
            "Ip".to_owned()
        } else {
            config.scope.kind.clone()
        };
        if scope_kind == "Ip" && !config.scope.expression.is_empty() {
            errors.push(at(
                "scope.expression",
                "scope Ip does not take an expression".to_owned(),
            ));
        }
        if scope_kind != "Ip" && scope_kind != "Range" && config.scope.expression.is_empty() {
            errors.push(at(
                "scope",
                format!("scope {scope_kind} needs an expression"),
            ));
        }
        if config.filter.is_empty() {
            errors.push(at("filter", "bucket without filter directive".to_owned()));
        }
        for data in &config.data {
            if let Err(e) = compiler.load_data_file(&options.data_dir, &data.dest_file, &data.kind)
            {
                errors.push(at(
                    "data",
                    format!("cannot load data file {}: {e}", data.dest_file),
                ));
            }
        }

        let mut compile = |key: &str, source: &str, env: Env| -> Option<Expr> {
            if source.is_empty() {
                return None;
            }
            match compiler.compile(source, env) {
                Ok(e) => Some(e),
                Err(e) => {
                    errors.push(compile_diagnostic(node, key, &e));
                    None
                }
            }
        };
        let filter = compile("filter", &config.filter, Env::Event);
        let groupby = compile("groupby", &config.groupby, Env::Event);
        let distinct = compile("distinct", &config.distinct, Env::Event);
        let cancel_on = compile("cancel_on", &config.cancel_on, Env::Event);
        let overflow_filter = compile(
            "overflow_filter",
            &config.overflow_filter,
            Env::OverflowFilter,
        );
        let condition = compile("condition", &config.condition, Env::Condition);
        let scope_expression = compile("scope.expression", &config.scope.expression, Env::Event);
        let mut conditions = Vec::new();
        for (i, c) in config.bayesian_conditions.iter().enumerate() {
            let key = format!("bayesian_conditions[{i}].condition");
            if let Some(condition) = compile(&key, &c.condition, Env::Condition) {
                conditions.push(BayesianCondition {
                    condition,
                    prob_given_evil: c.prob_given_evil,
                    prob_given_benign: c.prob_given_benign,
                    guillotine: c.guillotine,
                });
            }
        }
        let (Some(kind), Some(filter), true) = (kind, filter, errors.is_empty()) else {
            return Err(errors);
        };
        let bayesian = (config.bayesian_threshold != 0.0).then(|| Bayesian {
            prior: config.bayesian_prior,
            threshold: config.bayesian_threshold,
            conditions,
        });
        let remediation = config.labels.get("remediation") == Some(&serde_json::Value::Bool(true));
        Ok(Some(Self {
            kind,
            filter,
            groupby,
            distinct,
            cancel_on,
            overflow_filter,
            condition,
            bayesian,
            scope: Scope {
                kind: scope_kind,
                expression: scope_expression,
            },
            leakspeed,
            duration,
            blackhole,
            remediation,
            simulated: options.simulation.is_simulated(&config.name),
            hash: file_hash.to_owned(),
            version: config.version.clone(),
            file: file.to_owned(),
            config,
        }))
    }

    /// The scenario name, e.g. `crowdsecurity/ssh-bf`.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The bucket algorithm.
    pub fn kind(&self) -> BucketKind {
        self.kind
    }

    /// The YAML this scenario was compiled from.
    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }

    /// The file the scenario was loaded from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// `scenario_hash` of its alerts: sha256 of the scenario file.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// `scenario_version` of its alerts.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Replaces the version, as upstream does with the installed hub item's version (`?` when
    /// the local file is tainted).
    pub fn set_version(&mut self, version: impl Into<String>) {
        self.version = version.into();
    }

    /// Whether its alerts are simulated.
    pub fn simulated(&self) -> bool {
        self.simulated
    }

    /// Changes the simulation flag (`cscli simulation enable` followed by a reload).
    pub fn set_simulated(&mut self, simulated: bool) {
        self.simulated = simulated;
    }

    /// Whether overflows are re-injected into the buckets.
    pub fn reprocess(&self) -> bool {
        self.config.reprocess
    }

    /// Queue size of its buckets: `capacity`, or `cache_size` when it is smaller (or when the
    /// capacity is unbounded).
    pub(crate) fn queue_size(&self) -> i64 {
        let capacity = self.config.capacity;
        let cache = self.config.cache_size;
        if cache > 0 && (cache <= capacity || capacity == -1) {
            cache
        } else {
            capacity
        }
    }

    /// Inactivity lifetime of a bucket (`Duration` upstream) and whether it is a timed overflow.
    pub(crate) fn lifetime(&self) -> (i64, bool) {
        let capacity = self.config.capacity;
        let mut lifetime = 0;
        if capacity > 0 && self.leakspeed != 0 {
            lifetime = (capacity + 1).saturating_mul(self.leakspeed);
        }
        let timed = self.duration != 0;
        if timed {
            lifetime = self.duration;
        }
        if matches!(self.kind, BucketKind::Conditional | BucketKind::Bayesian) {
            lifetime = self.leakspeed;
        }
        (lifetime, timed)
    }
}

/// The per-type rules of upstream's `buckettype.go`.
fn validate_kind(
    kind: BucketKind,
    c: &ScenarioConfig,
    leakspeed: i64,
    duration: i64,
) -> Result<(), (&'static str, String)> {
    let fail = |key: &'static str, message: String| Err((key, message));
    match kind {
        BucketKind::Leaky if c.capacity <= 0 => fail(
            "capacity",
            format!("invalid capacity '{}': must be > 0", c.capacity),
        ),
        BucketKind::Leaky | BucketKind::Conditional if c.leakspeed.is_empty() => {
            fail("type", "leakspeed is required".into())
        }
        BucketKind::Leaky | BucketKind::Conditional if leakspeed <= 0 => fail(
            "leakspeed",
            format!("invalid leakspeed '{}': must be > 0", c.leakspeed),
        ),
        BucketKind::Trigger if c.capacity != 0 => fail(
            "capacity",
            format!("invalid capacity '{}': must be 0", c.capacity),
        ),
        BucketKind::Counter if c.capacity != -1 => fail(
            "capacity",
            format!("invalid capacity '{}': must be -1", c.capacity),
        ),
        BucketKind::Counter if c.duration.is_empty() => fail("type", "duration is required".into()),
        BucketKind::Counter if duration <= 0 => fail(
            "duration",
            format!("invalid duration '{}': must be > 0", c.duration),
        ),
        BucketKind::Conditional if c.condition.is_empty() => {
            fail("type", "a condition is required".into())
        }
        BucketKind::Bayesian if c.bayesian_conditions.is_empty() => {
            fail("type", "bayesian conditions are required".into())
        }
        BucketKind::Bayesian if c.bayesian_prior <= 0.0 || c.bayesian_prior > 1.0 => fail(
            "bayesian_prior",
            "invalid prior: must be > 0 and <= 1".into(),
        ),
        BucketKind::Bayesian if c.bayesian_threshold == 0.0 || c.bayesian_threshold > 1.0 => fail(
            "bayesian_threshold",
            "invalid threshold: must be > 0 and <= 1".into(),
        ),
        BucketKind::Bayesian if c.capacity != -1 => fail("capacity", "capacity must be -1".into()),
        BucketKind::Conditional if c.capacity != -1 => {
            tracing::warn!(scenario = %c.name, "capacity other than -1 on a conditional bucket may cause unexpected overflows");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Maps an expression compile error back into the YAML line of `key`.
fn compile_diagnostic(node: &Node, key: &str, e: &cs_expr::CompileError) -> Diagnostic {
    let message = format!("invalid {key}: {}", e.message());
    let Some(value) = node.lookup(key) else {
        return node.diagnostic(key, message);
    };
    let span = e.span();
    let source = e.source_text();
    let offset = source.get(..span.start).map_or(0, |s| s.chars().count());
    let width = source
        .get(span.start..span.end)
        .map_or(1, |s| s.chars().count().max(1));
    value.diagnostic_at_offset(key, offset, width, message)
}

/// Loads every scenario of a YAML text (one per document), collecting all errors.
pub fn load_str(
    name: &str,
    text: &str,
    compiler: &Compiler,
    options: &LoadOptions,
) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let docs = yaml::parse(name, text).map_err(|d| d.0)?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let file = Path::new(name);
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        let config: ScenarioConfig = match doc.decode("") {
            Ok(c) => c,
            Err(e) => {
                errors.extend(e.0);
                continue;
            }
        };
        match Scenario::compile(config, doc, file, &hash, compiler, options) {
            Ok(Some(s)) => scenarios.push(s),
            Ok(None) => {}
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// Loads a scenario file. Files not ending in `.yaml`/`.yml` are skipped, as upstream does.
pub fn load_file(
    path: &Path,
    compiler: &Compiler,
    options: &LoadOptions,
) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let name = path.display().to_string();
    if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::unlocated(
            &name,
            format!("cannot read scenario file: {e}"),
        )]
    })?;
    load_str(&name, &text, compiler, options)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cs_expr::SystemClock;
    use cs_expr_helpers::Helpers;
    use expect_test::{Expect, expect};

    use super::*;

    /// Loads `yaml` and shows the scenarios' names and kinds, or the rendered errors.
    fn check(yaml: &str, expected: Expect) {
        let compiler = Compiler::new(Helpers::new(), Arc::new(SystemClock));
        let got = match load_str("s.yaml", yaml, &compiler, &LoadOptions::default()) {
            Ok(scenarios) => scenarios
                .iter()
                .map(|s| format!("{} {}\n", s.name(), s.kind().as_str()))
                .collect(),
            Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect::<String>(),
        };
        expected.assert_eq(&got);
    }

    #[test]
    fn multi_document_files_and_skipped_formats() {
        check(
            "type: trigger\nname: a/b\ndescription: d\nfilter: 'true'\n---\n\
             type: counter\nname: a/c\ndescription: d\nfilter: 'true'\ncapacity: -1\nduration: 1m\n---\n\
             type: trigger\nname: a/future\nformat: 4.0\ndescription: d\nfilter: 'true'\n",
            expect![[r#"
                a/b trigger
                a/c counter
            "#]],
        );
    }

    #[test]
    fn unknown_keys_are_located_with_a_hint() {
        check(
            "type: leaky\nname: a/b\ndescription: d\nfilter: 'true'\ncapacity: 5\nleakspeed: 10s\ngroup_by: x\n",
            expect![[r#"
                error: unknown field `group_by`
                 --> s.yaml:7:1
                  |
                7 | group_by: x
                  | ^^^^^^^^
                   = at: group_by
                   = hint: did you mean `groupby`?
            "#]],
        );
    }

    #[test]
    fn every_error_of_a_document_is_reported() {
        check(
            "type: leaky\nname: a/b\ndescription: d\nfilter: evt.Meta.x ==\ncapacity: 0\nleakspeed: 10d\n\
             scope:\n  type: Ip\n  expression: evt.Meta.x\n",
            expect![[r#"
                error: invalid duration '10d'
                 --> s.yaml:6:12
                  |
                6 | leakspeed: 10d
                  |            ^^^
                   = at: leakspeed
                   = hint: a Go duration such as `10s`, `1m30s`
                error: invalid leaky bucket: invalid capacity '0': must be > 0
                 --> s.yaml:5:11
                  |
                5 | capacity: 0
                  |           ^
                   = at: capacity
                error: scope Ip does not take an expression
                 --> s.yaml:9:15
                  |
                9 |   expression: evt.Meta.x
                  |               ^^^^^^^^^^
                   = at: scope.expression
                error: invalid filter: unexpected end of expression (expected expression)
                 --> s.yaml:4:22
                  |
                4 | filter: evt.Meta.x ==
                  |                      ^
                   = at: filter
            "#]],
        );
    }

    #[test]
    fn type_rules() {
        check(
            "type: leeky\nname: a/b\ndescription: d\nfilter: 'true'\n---\n\
             type: bayesian\nname: a/c\ndescription: d\nfilter: 'true'\ncapacity: -1\nbayesian_prior: 0.5\n\
             bayesian_threshold: 2\nbayesian_conditions:\n- condition: 'true'\n  prob_given_evil: 0.5\n  prob_given_benign: 0.5\n---\n\
             type: trigger\ndescription: d\nfilter: 'true'\n",
            expect![[r#"
                error: unknown bucket type 'leeky'
                 --> s.yaml:1:7
                  |
                1 | type: leeky
                  |       ^^^^^
                   = at: type
                   = hint: expected one of `leaky`, `trigger`, `counter`, `conditional`, `bayesian`
                error: invalid bayesian bucket: invalid threshold: must be > 0 and <= 1
                  --> s.yaml:12:21
                   |
                12 | bayesian_threshold: 2
                   |                     ^
                   = at: bayesian_threshold
                error: scenario has no name (nameless buckets are not loaded)
                  --> s.yaml:18:1
                   |
                18 | type: trigger
                   | ^
            "#]],
        );
    }

    #[test]
    fn scenario_format_constraint() {
        for (format, ok) in [
            ("1.0", true),
            ("2.0", true),
            ("3.0", true),
            ("3.1", false),
            ("4.0", false),
            ("0.9", false),
            ("x", false),
        ] {
            assert_eq!(format_supported(format), ok, "{format}");
        }
    }

    #[test]
    fn go_durations_without_days() {
        assert_eq!(go_duration("10s"), Some(10_000_000_000));
        assert_eq!(go_duration("0.5s"), Some(500_000_000));
        assert_eq!(go_duration("1d"), None);
        assert_eq!(go_duration("10"), None);
    }
}
