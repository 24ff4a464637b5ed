//! Alert context (upstream `alertcontext`): values extracted from the bucket's events by the
//! expressions of `console/context.yaml` and installed `contexts/*.yaml`, sent as alert meta.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cs_models::{Meta, MetaItem};
use cs_types::Queue;

use crate::expr::{Compiler, Env, Expr};

/// Upstream's default and maximum `console_context_value_length`.
pub const MAX_CONTEXT_VALUE_LENGTH: usize = 4000;

/// Key → expressions, merged from several context files.
pub type ContextSources = BTreeMap<String, Vec<String>>;

/// Reads the context to send with alerts, as upstream's `LoadConsoleContext`: the `context:`
/// map of each installed `contexts/*.yaml` hub item, then the top-level map of
/// `console_context_path`, merged key by key without repeating an expression. A missing
/// console file is no error (the agent then sends only the hub items' context).
pub fn read_context_files(
    hub_items: &[PathBuf],
    console_context_path: Option<&Path>,
) -> crate::Result<ContextSources> {
    #[derive(serde::Deserialize)]
    struct HubItem {
        #[serde(default)]
        context: Option<ContextSources>,
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| crate::Error::ContextFile {
            path: path.to_owned(),
            message: e.to_string(),
        })
    };
    let bad = |path: &Path, d: cs_config::yaml::Diagnostics| crate::Error::ContextFile {
        path: path.to_owned(),
        message: d.to_string(),
    };
    let mut merged = ContextSources::new();
    for path in hub_items {
        let text = read(path)?;
        let item: HubItem = cs_config::yaml::from_str(&path.display().to_string(), &text)
            .map_err(|d| bad(path, d))?;
        match item.context {
            Some(context) if !context.is_empty() => merge(&mut merged, context),
            _ => tracing::error!(
                path = %path.display(),
                "context item without data: context expressions go under the 'context:' key"
            ),
        }
    }
    if let Some(path) = console_context_path {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => {
                let context: Option<ContextSources> =
                    cs_config::yaml::from_str(&path.display().to_string(), &text)
                        .map_err(|d| bad(path, d))?;
                merge(&mut merged, context.unwrap_or_default());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(crate::Error::ContextFile {
                    path: path.to_owned(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(merged)
}

/// Adds the expressions of `src` to `dest`, skipping those a key already has.
fn merge(dest: &mut ContextSources, src: ContextSources) {
    for (key, exprs) in src {
        let known = dest.entry(key).or_default();
        for e in exprs {
            if !known.contains(&e) {
                known.push(e);
            }
        }
    }
}

/// Compiled context expressions, by context key.
#[derive(Debug, Default)]
pub struct AlertContext {
    keys: BTreeMap<String, Vec<Expr>>,
    max_length: usize,
}

impl AlertContext {
    /// Number of context keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured (the agent then sends no alert meta).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Compiles `context` (key → expressions). `max_length` 0 (or above 4000) means 4000.
    pub fn compile(
        context: &BTreeMap<String, Vec<String>>,
        max_length: usize,
        compiler: &Compiler,
    ) -> Result<Self, crate::Error> {
        let mut keys = BTreeMap::new();
        for (key, sources) in context {
            let mut exprs = Vec::with_capacity(sources.len());
            for source in sources {
                let expr =
                    compiler
                        .compile(source, Env::Context)
                        .map_err(|e| crate::Error::Context {
                            key: key.clone(),
                            source: Box::new(e),
                        })?;
                exprs.push(expr);
            }
            keys.insert(key.clone(), exprs);
        }
        let max_length = if max_length == 0 || max_length > MAX_CONTEXT_VALUE_LENGTH {
            MAX_CONTEXT_VALUE_LENGTH
        } else {
            max_length
        };
        Ok(Self { keys, max_length })
    }

    /// The alert meta for the events of `queue`: distinct non-empty values per key in first-seen
    /// order, as a JSON array text cut down to the length limit; keys without values are omitted.
    pub(crate) fn evaluate(&self, queue: &Queue) -> Meta {
        let mut meta = Meta::new();
        for (key, exprs) in &self.keys {
            let mut values: Vec<String> = Vec::new();
            for evt in &queue.queue {
                for expr in exprs {
                    match expr.eval_context(evt) {
                        Ok(found) => {
                            for v in found {
                                if !v.is_empty() && !values.contains(&v) {
                                    values.push(v);
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!(key = %key, error = %e, "alert context expression failed")
                        }
                    }
                }
            }
            if values.is_empty() {
                continue;
            }
            meta.push(MetaItem::new(key, truncate(values, self.max_length)));
        }
        meta
    }
}

/// JSON-encodes `values`, dropping the last values (or halving the only one, marked `...`)
/// until the text fits in `max` bytes.
fn truncate(mut values: Vec<String>, max: usize) -> String {
    loop {
        let text = serde_json::to_string(&values).unwrap_or_default();
        if text.len() <= max || values.is_empty() {
            return text;
        }
        if values.len() > 1 {
            values.pop();
        } else {
            let only = &values[0];
            let mut cut = only.len() / 2;
            while !only.is_char_boundary(cut) {
                cut -= 1;
            }
            values[0] = format!("{}...", &only[..cut]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[&str], max: usize, expected: &str) {
        let got = truncate(values.iter().map(|s| (*s).to_owned()).collect(), max);
        assert_eq!(got, expected);
    }

    #[test]
    fn hub_items_then_console_file_are_merged_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let item = dir.path().join("item.yaml");
        std::fs::write(
            &item,
            "name: me/ctx\ndescription: d\ncontext:\n  user:\n  - evt.Meta.user\n  method:\n  - evt.Meta.http_verb\n",
        )
        .unwrap();
        let console = dir.path().join("context.yaml");
        std::fs::write(&console, "user:\n- evt.Meta.user\n- evt.Meta.target_user\n").unwrap();
        let got = read_context_files(std::slice::from_ref(&item), Some(&console)).unwrap();
        let expected: ContextSources = [
            ("method".to_owned(), vec!["evt.Meta.http_verb".to_owned()]),
            (
                "user".to_owned(),
                vec![
                    "evt.Meta.user".to_owned(),
                    "evt.Meta.target_user".to_owned(),
                ],
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, expected);
        let missing = dir.path().join("nope.yaml");
        assert_eq!(
            read_context_files(&[], Some(&missing)).unwrap(),
            ContextSources::new()
        );
        std::fs::write(&console, "user: [unclosed\n").unwrap();
        assert!(read_context_files(&[item], Some(&console)).is_err());
    }

    #[test]
    fn values_are_dropped_then_halved() {
        check(&["a", "b"], 100, r#"["a","b"]"#);
        check(&["aaaa", "bbbb"], 10, r#"["aaaa"]"#);
        check(&["aaaaaaaaaaaaaaaa"], 16, r#"["aaaaaaaa..."]"#);
        check(&["aaaaaaaaaaaaaaaa"], 12, r#"["aaaaa..."]"#);
    }
}
