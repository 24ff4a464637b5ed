//! Alert context (upstream `alertcontext`): values extracted from the bucket's events by the
//! expressions of `console/context.yaml` and installed `contexts/*.yaml`, sent as alert meta.

use std::collections::BTreeMap;

use cs_models::{Meta, MetaItem};
use cs_types::Queue;

use crate::expr::{Compiler, Env, Expr};

/// Upstream's default and maximum `console_context_value_length`.
pub const MAX_CONTEXT_VALUE_LENGTH: usize = 4000;

/// Compiled context expressions, by context key.
#[derive(Debug, Default)]
pub struct AlertContext {
    keys: BTreeMap<String, Vec<Expr>>,
    max_length: usize,
}

impl AlertContext {
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
    fn values_are_dropped_then_halved() {
        check(&["a", "b"], 100, r#"["a","b"]"#);
        check(&["aaaa", "bbbb"], 10, r#"["aaaa"]"#);
        check(&["aaaaaaaaaaaaaaaa"], 16, r#"["aaaaaaaa..."]"#);
        check(&["aaaaaaaaaaaaaaaa"], 12, r#"["aaaaa..."]"#);
    }
}
