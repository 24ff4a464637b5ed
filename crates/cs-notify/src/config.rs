//! `notifications/*.yaml` (one notification per YAML document) and the parts of `config.yaml`
//! the broker needs (`config_paths.notification_dir`, `config_paths.plugin_dir`,
//! `plugin_config`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cs_config::yaml::{self, Node, NodeKind};

use crate::{Error, Result};

/// Upstream's `timeout` when unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One notification document.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationConfig {
    /// `type`: the plugin serving it (`http`, `slack`, …).
    pub kind: String,
    /// `name`: what profiles list under `notifications:`.
    pub name: String,
    /// `group_wait`: collect alerts this long before sending them together (0: not by time).
    pub group_wait: Duration,
    /// `group_threshold`: send once this many alerts are pending (0: not by count).
    pub group_threshold: usize,
    /// `max_retry`: attempts per message (default 1).
    pub max_retry: u32,
    /// `timeout`: time given to the plugin per attempt (default 5s).
    pub timeout: Duration,
    /// `format`: the Go template rendering the alerts.
    pub format: String,
    /// The plugin-specific keys (every key but the ones above), as written.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The document as sent to the plugin's `Configure`: every key (plugin-specific ones
    /// included) re-encoded as YAML, `$VAR`/`${VAR}` expanded from the environment.
    pub plugin_yaml: String,
}

fn config_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn go_duration(node: &Node, key: &str) -> Result<Duration, String> {
    if node.is_null() {
        return Ok(Duration::ZERO);
    }
    let text = node.as_str().unwrap_or_default();
    // An integer is a number of nanoseconds, as when Go decodes a time.Duration.
    let nanos = match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) => cs_models::parse_duration(text).map_err(|e| format!("{key}: {e}"))?,
    };
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("{key}: negative duration {text}"))
}

fn scalar<T: serde::de::DeserializeOwned + Default>(node: &Node, key: &str) -> Result<T, String> {
    if node.is_null() {
        return Ok(T::default());
    }
    node.decode(key).map_err(|d| d.to_string())
}

/// Decodes one document; `None` for an empty one.
fn decode_doc(doc: &Node) -> Result<Option<NotificationConfig>, String> {
    let NodeKind::Map(entries) = &doc.kind else {
        return Err("a notification must be a mapping".into());
    };
    let mut kind = String::new();
    let mut name = String::new();
    let mut format = String::new();
    let mut group_wait = Duration::ZERO;
    let mut timeout = Duration::ZERO;
    let mut group_threshold: i64 = 0;
    let mut max_retry: i64 = 0;
    let mut extra = serde_json::Map::new();
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            return Err("keys must be strings".into());
        };
        match key {
            "type" => kind = scalar(v, key)?,
            "name" => name = scalar(v, key)?,
            "format" => format = scalar(v, key)?,
            "group_wait" => group_wait = go_duration(v, key)?,
            "timeout" => timeout = go_duration(v, key)?,
            "group_threshold" => group_threshold = scalar(v, key)?,
            "max_retry" => max_retry = scalar(v, key)?,
            _ => {
                let value: serde_json::Value = if v.is_null() {
                    serde_json::Value::Null
                } else {
                    v.decode(key).map_err(|d| d.to_string())?
                };
                extra.insert(key.to_owned(), value);
            }
        }
    }
    let empty = kind.is_empty()
        && name.is_empty()
        && format.is_empty()
        && group_wait.is_zero()
        && timeout.is_zero()
        && group_threshold == 0
        && max_retry == 0
        && extra.is_empty();
    if empty {
        return Ok(None);
    }
    if kind.is_empty() {
        return Err("missing required field 'type'".into());
    }
    let group_threshold = usize::try_from(group_threshold)
        .map_err(|_| format!("group_threshold: negative value {group_threshold}"))?;
    let max_retry = if max_retry == 0 {
        1
    } else {
        u32::try_from(max_retry).map_err(|_| format!("max_retry: invalid value {max_retry}"))?
    };
    if timeout.is_zero() {
        timeout = DEFAULT_TIMEOUT;
    }
    let mut doc = serde_json::Map::new();
    doc.insert("type".into(), kind.clone().into());
    doc.insert("name".into(), name.clone().into());
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    if !group_wait.is_zero() {
        doc.insert(
            "group_wait".into(),
            cs_models::format_duration(nanos(group_wait)).into(),
        );
    }
    if group_threshold != 0 {
        doc.insert("group_threshold".into(), group_threshold.into());
    }
    doc.insert("max_retry".into(), max_retry.into());
    doc.insert(
        "timeout".into(),
        cs_models::format_duration(nanos(timeout)).into(),
    );
    if !format.is_empty() {
        doc.insert("format".into(), format.clone().into());
    }
    for (k, v) in &extra {
        doc.insert(k.clone(), v.clone());
    }
    let plugin_yaml = yaml::to_string(&doc).map_err(|e| format!("re-encoding: {e}"))?;
    Ok(Some(NotificationConfig {
        kind,
        name,
        group_wait,
        group_threshold,
        max_retry,
        timeout,
        format,
        settings: extra,
        plugin_yaml: cs_config::env::expand(&plugin_yaml),
    }))
}

/// Parses the notification documents of one file.
pub(crate) fn parse_notifications(path: &Path, text: &str) -> Result<Vec<NotificationConfig>> {
    let name = path.display().to_string();
    let docs = yaml::parse(&name, text).map_err(|d| config_err(path, d.to_string()))?;
    let mut out = Vec::new();
    for (idx, doc) in docs.iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        match decode_doc(doc) {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {}
            Err(e) => return Err(config_err(path, format!("document {idx}: {e}"))),
        }
    }
    Ok(out)
}

/// Every notification of `dir` (`*.yaml` and `*.yml`, not recursing), in file-name order; a
/// name defined twice keeps its last definition, with a warning, as upstream.
pub fn load_notification_dir(dir: &Path) -> Result<Vec<NotificationConfig>> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Read { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let entry = entry.map_err(read_err(dir))?;
        let path = entry.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && !entry.file_type().map_err(read_err(&path))?.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    let mut out: Vec<NotificationConfig> = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
        for c in parse_notifications(&path, &text)? {
            if let Some(pos) = out.iter().position(|o| o.name == c.name) {
                tracing::warn!(name = %c.name, "notification '{}' is defined multiple times", c.name);
                out.remove(pos);
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// What the broker needs from `config.yaml`, plus the notification names the profiles use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerOptions {
    /// `config_paths.notification_dir`.
    pub notification_dir: PathBuf,
    /// `config_paths.plugin_dir`.
    pub plugin_dir: PathBuf,
    /// `plugin_config.user`.
    pub user: String,
    /// `plugin_config.group`.
    pub group: String,
    /// Notification names listed by the profiles (`notifications:`).
    pub used: Vec<String>,
}

impl BrokerOptions {
    /// The broker settings of `cfg` when `used` (the names the profiles list) is not empty;
    /// `None` otherwise, since upstream only starts plugins when a profile notifies.
    pub fn from_config(cfg: &cs_config::Config, used: &[String]) -> Result<Option<Self>> {
        if used.is_empty() {
            return Ok(None);
        }
        let Some(pc) = &cfg.plugin_config else {
            return Err(Error::Setup(
                "plugins are enabled, but the plugin_config section is missing in the configuration".into(),
            ));
        };
        let paths = &cfg.config_paths;
        if paths.notification_dir.as_os_str().is_empty() {
            return Err(Error::Setup(
                "plugins are enabled, but config_paths.notification_dir is not defined".into(),
            ));
        }
        if paths.plugin_dir.as_os_str().is_empty() {
            return Err(Error::Setup(
                "plugins are enabled, but config_paths.plugin_dir is not defined".into(),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for n in used {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        Ok(Some(Self {
            notification_dir: paths.notification_dir.clone(),
            plugin_dir: paths.plugin_dir.clone(),
            user: pc.user.clone(),
            group: pc.group.clone(),
            used: names,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<NotificationConfig>> {
        parse_notifications(Path::new("n.yaml"), text)
    }

    #[test]
    fn defaults_and_plugin_specific_keys() {
        let text = "type: http\nname: http_default\nlog_level: info\nformat: |\n  {{.|toJson}}\nurl: http://127.0.0.1:1/x\nmethod: POST\nheaders:\n  Authorization: token 1\n---\n# nothing but a comment\n---\ntype: slack\nname: s\ngroup_wait: 30s\ngroup_threshold: 10\nmax_retry: 3\ntimeout: 20s\nwebhook: http://w\n";
        let got = parse(text).unwrap();
        assert_eq!(got.len(), 2);
        let h = &got[0];
        assert_eq!((h.kind.as_str(), h.name.as_str()), ("http", "http_default"));
        assert_eq!(
            (h.group_wait, h.group_threshold, h.max_retry, h.timeout),
            (Duration::ZERO, 0, 1, Duration::from_secs(5))
        );
        assert_eq!(h.format, "{{.|toJson}}\n");
        let back: serde_json::Value = cs_config::yaml::from_str("x", &h.plugin_yaml).unwrap();
        assert_eq!(back["url"], "http://127.0.0.1:1/x");
        assert_eq!(back["headers"]["Authorization"], "token 1");
        assert_eq!(back["log_level"], "info");
        assert_eq!(back["timeout"], "5s");
        assert_eq!(back["format"], "{{.|toJson}}\n");
        let keys: Vec<&str> = h.settings.keys().map(String::as_str).collect();
        assert_eq!(keys, ["headers", "log_level", "method", "url"]);
        let s = &got[1];
        assert_eq!(
            (s.group_wait, s.group_threshold, s.max_retry, s.timeout),
            (Duration::from_secs(30), 10, 3, Duration::from_secs(20))
        );
    }

    #[test]
    fn errors_name_file_and_document() {
        let err = parse("name: x\n").unwrap_err().to_string();
        assert!(
            err.contains("n.yaml") && err.contains("document 0") && err.contains("'type'"),
            "{err}"
        );
        let err = parse("type: a\n---\ntype: b\ngroup_wait: soon\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("document 1") && err.contains("group_wait"),
            "{err}"
        );
        let err = parse("- a\n").unwrap_err().to_string();
        assert!(err.contains("mapping"), "{err}");
    }

    #[test]
    fn environment_is_expanded_in_plugin_yaml() {
        let home = std::env::var("HOME").unwrap_or_default();
        let got = parse("type: dummy\nname: d\noutput_file: ${HOME}/x\n").unwrap();
        assert!(
            got[0]
                .plugin_yaml
                .contains(&format!("output_file: {home}/x")),
            "{}",
            got[0].plugin_yaml
        );
    }

    #[test]
    fn directory_last_definition_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "type: http\nname: n\n").unwrap();
        std::fs::write(dir.path().join("b.yml"), "type: slack\nname: n\n").unwrap();
        std::fs::write(dir.path().join("c.txt"), "not: yaml: at all").unwrap();
        let got = load_notification_dir(dir.path()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, "slack");
    }

    #[test]
    fn options_need_plugin_config_and_dirs() {
        let mut cfg = cs_config::Config::default();
        assert_eq!(BrokerOptions::from_config(&cfg, &[]).unwrap(), None);
        let used = vec!["n".to_owned(), "n".to_owned()];
        let err = BrokerOptions::from_config(&cfg, &used).unwrap_err();
        assert!(err.to_string().contains("plugin_config"), "{err}");
        cfg.plugin_config = Some(cs_config::config::PluginConfig {
            user: "nobody".into(),
            group: "nogroup".into(),
        });
        let err = BrokerOptions::from_config(&cfg, &used).unwrap_err();
        assert!(err.to_string().contains("notification_dir"), "{err}");
        cfg.config_paths.notification_dir = "/n".into();
        let err = BrokerOptions::from_config(&cfg, &used).unwrap_err();
        assert!(err.to_string().contains("plugin_dir"), "{err}");
        cfg.config_paths.plugin_dir = "/p".into();
        let opts = BrokerOptions::from_config(&cfg, &used).unwrap().unwrap();
        assert_eq!(opts.used, vec!["n".to_owned()]);
        assert_eq!(opts.user, "nobody");
    }
}
