//! `acquis.yaml` and `acquis.d/*.yaml`: one datasource per YAML document, decoded strictly.
//!
//! Each document holds the keys every datasource shares (`source`, `labels`, `mode`,
//! `log_level`, `name`, `use_time_machine`, `unique_id`, `transform`) next to the keys of its
//! module. Both halves are decoded with unknown keys refused, so a typo is reported with the
//! file, line, column, key path and a "did you mean" hint. As upstream does, a document
//! without `source` is a `file` source when it has `filename`/`filenames` and a `journalctl`
//! source when it has `journalctl_filter`; an empty document is skipped; `labels` is
//! required. Environment variables (`${VAR}`) are expanded in the text first.

use std::path::PathBuf;
use std::time::Duration;

use cs_config::yaml::{Diagnostic, Diagnostics, Node, NodeKind, closest};
use serde::Deserialize;

use crate::Labels;
use crate::error::{Error, Result};
use crate::sources::file::FileConfig;
use crate::sources::journalctl::JournalctlConfig;
use crate::sources::syslog::SyslogConfig;

/// The keys every datasource document accepts.
const COMMON_KEYS: [&str; 8] = [
    "source",
    "labels",
    "mode",
    "log_level",
    "name",
    "use_time_machine",
    "unique_id",
    "transform",
];

/// Datasources this build runs.
const SUPPORTED: [&str; 3] = ["file", "journalctl", "syslog"];

/// Datasources upstream has that this build does not run (yet).
const NOT_BUILT: [&str; 12] = [
    "docker",
    "cloudwatch",
    "kinesis",
    "kafka",
    "loki",
    "victorialogs",
    "s3",
    "http",
    "k8s-audit",
    "wineventlog",
    "appsec",
    "k8s-podlogs",
];

/// How a datasource reads (`mode:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Follow new data (`tail`, the default; `server` is an alias upstream logs differently).
    #[default]
    Tail,
    /// Read what is there once and stop (`cat`).
    Cat,
}

/// The keys shared by every datasource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommonConfig {
    /// The module name (`source:`), after backward-compatible detection.
    pub source: String,
    /// `mode:`.
    pub mode: Mode,
    /// `labels:`; `type` is the log type parsers filter on.
    pub labels: Labels,
    /// `log_level:` as written (the daemon decides what to do with it).
    pub log_level: Option<String>,
    /// `name:`.
    pub name: Option<String>,
    /// `use_time_machine:`: events of this source are processed in time-machine mode.
    pub use_time_machine: bool,
    /// `unique_id:`.
    pub unique_id: Option<String>,
    /// `transform:`: an expression on `evt` returning a string or a list of strings that
    /// replaces `Line.Raw`. Compiled by the agent into a [`crate::LineTransform`].
    pub transform: Option<String>,
}

/// The module-specific part of a datasource.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// `source: file`.
    File(FileConfig),
    /// `source: journalctl`.
    Journalctl(JournalctlConfig),
    /// `source: syslog`.
    Syslog(SyslogConfig),
}

/// One datasource of an acquisition file.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSourceConfig {
    /// Shared keys.
    pub common: CommonConfig,
    /// Module keys.
    pub kind: SourceKind,
    /// Where it was defined, `file:line`, for messages.
    pub origin: String,
}

impl DataSourceConfig {
    /// Upstream's module name (`Line.Module`).
    pub fn module(&self) -> &'static str {
        match self.kind {
            SourceKind::File(_) => "file",
            SourceKind::Journalctl(_) => "journalctl",
            SourceKind::Syslog(_) => "syslog",
        }
    }

    /// A short name for logs: `name:` if set, else the module and where it was defined.
    pub fn display_name(&self) -> String {
        match &self.common.name {
            Some(n) => n.clone(),
            None => format!("{} ({})", self.module(), self.origin),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct CommonDoc {
    source: String,
    labels: Labels,
    mode: String,
    log_level: Option<String>,
    name: String,
    use_time_machine: bool,
    unique_id: String,
    transform: String,
}

/// Loads every datasource of `files` (`acquisition_path` then the files of
/// `acquisition_dir`, as [`cs_config::config::CrowdsecServiceConfig::acquisition_files`] lists them). All problems
/// of all files are collected before failing.
pub fn load_acquisition(files: &[PathBuf]) -> Result<Vec<DataSourceConfig>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => match parse_acquisition(&name, &cs_config::env::expand(&text)) {
                Ok(mut v) => out.append(&mut v),
                Err(Diagnostics(mut d)) => errs.append(&mut d),
            },
            Err(e) => errs.push(Diagnostic::unlocated(&name, format!("cannot read: {e}"))),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(Error::Config(Diagnostics(errs)))
    }
}

/// Decodes the datasources of one acquisition file's text; `name` is used in diagnostics.
pub fn parse_acquisition(
    name: &str,
    text: &str,
) -> std::result::Result<Vec<DataSourceConfig>, Diagnostics> {
    let docs = cs_config::yaml::parse(name, text)?;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        match decode_document(doc) {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {}
            Err(mut d) => errs.append(&mut d),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(errs))
    }
}

/// Splits a document's mapping into the shared keys and the module keys.
fn split(doc: &Node) -> std::result::Result<(Node, Node), Vec<Diagnostic>> {
    let NodeKind::Map(entries) = &doc.kind else {
        return Err(vec![doc.diagnostic(
            "",
            "a datasource must be a mapping of keys to values",
        )]);
    };
    let (common, module): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|(k, _)| k.as_str().is_some_and(|k| COMMON_KEYS.contains(&k)));
    let mk = |e| Node {
        kind: NodeKind::Map(e),
        mark: doc.mark.clone(),
    };
    Ok((mk(common), mk(module)))
}

fn decode_document(doc: &Node) -> std::result::Result<Option<DataSourceConfig>, Vec<Diagnostic>> {
    let (common_node, module_node) = split(doc)?;
    let raw: CommonDoc = common_node.decode("").map_err(|d| d.0)?;
    let mut source = raw.source.clone();
    // Backward compatibility: `source` used to be optional.
    if module_node.get("filename").is_some() || module_node.get("filenames").is_some() {
        source = "file".to_owned();
    } else if module_node.get("journalctl_filter").is_some() {
        source = "journalctl".to_owned();
    }
    let origin = format!("{}:{}", doc.mark.source.name, doc.mark.line);
    if raw.labels.is_empty() {
        if source.is_empty() {
            // An item with neither labels nor source is skipped, as upstream does.
            return Ok(None);
        }
        let at = doc.get("labels").unwrap_or(doc);
        return Err(vec![at.diagnostic(
            "labels",
            "missing labels: a datasource needs `labels` (at least `type`)",
        )]);
    }
    if source.is_empty() {
        return Err(vec![doc.diagnostic(
            "source",
            "data source type is empty: set `source` (file, journalctl, syslog…)",
        )]);
    }
    let source_at = doc.get("source").unwrap_or(doc);
    if !SUPPORTED.contains(&source.as_str()) {
        let d = if NOT_BUILT.contains(&source.as_str()) {
            source_at.diagnostic(
                "source",
                format!("data source {source} is not built in this version"),
            )
        } else {
            let d = source_at.diagnostic("source", format!("unknown data source {source}"));
            match closest(&source, SUPPORTED.iter().copied()) {
                Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                None => d,
            }
        };
        return Err(vec![d]);
    }
    let mode = match raw.mode.as_str() {
        "" | "tail" | "server" => Mode::Tail,
        "cat" => Mode::Cat,
        other => {
            let at = doc.get("mode").unwrap_or(doc);
            return Err(vec![at.diagnostic(
                "mode",
                format!("unsupported mode {other:?} (supported: tail, cat)"),
            )]);
        }
    };
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let common = CommonConfig {
        source: source.clone(),
        mode,
        labels: raw.labels,
        log_level: raw.log_level,
        name: non_empty(raw.name),
        use_time_machine: raw.use_time_machine,
        unique_id: non_empty(raw.unique_id),
        transform: non_empty(raw.transform),
    };
    let kind = match source.as_str() {
        "file" => SourceKind::File(FileConfig::from_node(&module_node, doc)?),
        "journalctl" => SourceKind::Journalctl(JournalctlConfig::from_node(&module_node, doc)?),
        _ => SourceKind::Syslog(SyslogConfig::from_node(&module_node, doc, mode)?),
    };
    Ok(Some(DataSourceConfig {
        common,
        kind,
        origin,
    }))
}

/// Parses a Go duration (`30s`, `1m30s`, `250ms`); `None` when malformed.
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A located error about key `key` of a document (at the key's value, or the document).
pub(crate) fn key_error(doc: &Node, key: &str, message: impl Into<String>) -> Vec<Diagnostic> {
    vec![doc.get(key).unwrap_or(doc).diagnostic(key, message)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(text: &str, expected: &[&str]) {
        let err = parse_acquisition("acquis.yaml", text).expect_err("an error");
        let got: Vec<String> = err.0.iter().map(Diagnostic::short).collect();
        assert_eq!(got, expected, "{err}");
    }

    #[test]
    fn documents_decode_with_legacy_detection_and_empty_items_skipped() {
        let text = "\
filenames:
  - /var/log/auth.log
  - /var/log/syslog
labels:
  type: syslog
---
# empty
---
journalctl_filter:
  - _SYSTEMD_UNIT=ssh.service
labels:
  type: syslog
use_time_machine: true
transform: 'evt.Line.Raw'
---
source: syslog
listen_port: 4242
labels:
  type: syslog
name: remote
";
        let got = parse_acquisition("acquis.yaml", text).unwrap();
        assert_eq!(got.len(), 3);
        let SourceKind::File(f) = &got[0].kind else {
            panic!("{:?}", got[0].kind)
        };
        assert_eq!(f.filenames, ["/var/log/auth.log", "/var/log/syslog"]);
        assert_eq!(got[0].common.source, "file");
        assert_eq!(got[0].origin, "acquis.yaml:1");
        assert_eq!(got[1].module(), "journalctl");
        assert!(got[1].common.use_time_machine);
        assert_eq!(got[1].common.transform.as_deref(), Some("evt.Line.Raw"));
        assert_eq!(got[1].origin, "acquis.yaml:9");
        let SourceKind::Syslog(s) = &got[2].kind else {
            panic!("{:?}", got[2].kind)
        };
        assert_eq!(s.listen_port, 4242);
        assert_eq!(s.listen_addr, "127.0.0.1");
        assert_eq!(got[2].display_name(), "remote");
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        check_err(
            "filename: /x.log\nlabels:\n  type: syslog\nfilenme: /y\n",
            &["acquis.yaml:4:1: filenme: unknown field `filenme`"],
        );
        check_err(
            "source: sylog\nlabels:\n  type: syslog\n",
            &["acquis.yaml:1:9: source: unknown data source sylog"],
        );
        check_err(
            "source: docker\nlabels:\n  type: nginx\n---\nsource: file\n",
            &[
                "acquis.yaml:1:9: source: data source docker is not built in this version",
                "acquis.yaml:5:1: labels: missing labels: a datasource needs `labels` (at least `type`)",
            ],
        );
        check_err(
            "labels:\n  type: syslog\n",
            &[
                "acquis.yaml:1:1: source: data source type is empty: set `source` (file, journalctl, syslog…)",
            ],
        );
        check_err(
            "source: syslog\nlisten_port: 70000\nlabels: {type: syslog}\n",
            &["acquis.yaml:2:14: listen_port: invalid port 70000"],
        );
        check_err(
            "source: file\nlabels: {type: syslog}\nmode: follow\n",
            &["acquis.yaml:3:7: mode: unsupported mode \"follow\" (supported: tail, cat)"],
        );
        check_err(
            "source: file\nlabels: {type: syslog}\n",
            &["acquis.yaml:1:1: filenames: no filename or filenames configuration provided"],
        );
    }

    #[test]
    fn typo_hints_are_given() {
        let err = parse_acquisition("a.yaml", "source: syslg\nlabels: {type: x}\n").unwrap_err();
        assert_eq!(err.0[0].hint.as_deref(), Some("did you mean `syslog`?"));
    }

    #[test]
    fn files_and_env_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("acquis.yaml");
        std::fs::write(
            &a,
            "filename: ${CS_ACQ_TEST_DIR_UNSET_X}/auth.log\nlabels:\n  type: syslog\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.yaml");
        let err = load_acquisition(&[a.clone(), missing.clone()]).unwrap_err();
        let Error::Config(d) = &err else {
            panic!("{err}")
        };
        assert_eq!(d.0.len(), 1);
        assert!(d.0[0].file.ends_with("missing.yaml"), "{err}");
        let ok = load_acquisition(&[a]).unwrap();
        let SourceKind::File(f) = &ok[0].kind else {
            panic!()
        };
        assert_eq!(f.filenames, ["${CS_ACQ_TEST_DIR_UNSET_X}/auth.log"]);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("x"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
