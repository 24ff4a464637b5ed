//! The `transform` of an acquisition datasource: an expression on `evt` (the event the line
//! makes, only `Line` set) run on each line before parsing. As upstream: a string replaces
//! `Line.Raw`; a list makes one line per element (a non-string element sends the line as it
//! was, an empty list drops it); an error, `nil` or another type is logged and the line is sent
//! as it was.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use cs_acquisition::{LineTransform, LiveLine};
use cs_expr::{Environment, Program, Value};
use cs_expr_helpers::Helpers;

/// A compiled `transform`.
pub struct ExprTransform {
    program: Program,
    /// The datasource, for messages.
    datasource: String,
}

impl ExprTransform {
    /// Compiles `source`, the `transform` of the datasource defined at `origin` (`file:line`).
    pub fn compile(source: &str, origin: &str, datasource: String) -> Result<ExprTransform> {
        let mut env = Environment::event();
        Helpers::new().register(&mut env);
        let program = cs_expr::compile(source, &env).map_err(|e| {
            anyhow!("{origin}: transform: cannot compile expression {source:?}: {e}")
        })?;
        Ok(ExprTransform {
            program,
            datasource,
        })
    }

    /// The compiled transform, shareable by the datasource's threads.
    pub fn shared(self) -> Arc<dyn LineTransform> {
        Arc::new(self)
    }
}

impl LineTransform for ExprTransform {
    fn apply(&self, line: &LiveLine) -> Option<Vec<String>> {
        let evt = super::processor::event_of(line.clone());
        let out = match self.program.eval(&[Value::object(&evt)]) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(datasource = %self.datasource, error = %e, "transform failed, sending the line as is");
                return None;
            }
        };
        if let Some(s) = out.as_str() {
            return Some(vec![s.to_owned()]);
        }
        if let Some(list) = out.as_list() {
            return Some(
                list.iter()
                    .map(|item| match item.as_str() {
                        Some(s) => s.to_owned(),
                        None => {
                            tracing::error!(datasource = %self.datasource, item = item.type_name(), "transform returned a list element that is not a string, sending the line as is");
                            line.raw.clone()
                        }
                    })
                    .collect(),
            );
        }
        tracing::error!(datasource = %self.datasource, returned = out.type_name(), "transform did not return a string or a list of strings, sending the line as is");
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(raw: &str) -> LiveLine {
        let mut labels = cs_acquisition::Labels::new();
        labels.insert("type".into(), "syslog".into());
        LiveLine {
            raw: raw.into(),
            src: Arc::from("/var/log/x.log"),
            module: "file",
            labels: Arc::new(labels),
            time: None,
            use_time_machine: false,
            source_index: 0,
            counts_as_read: true,
        }
    }

    fn check(expr: &str, raw: &str, expected: Option<&[&str]>) {
        let t = ExprTransform::compile(expr, "acquis.yaml:1", "test".into()).unwrap();
        let got = t.apply(&line(raw));
        let expected = expected.map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(got, expected, "{expr}");
    }

    #[test]
    fn strings_replace_lists_split_and_the_rest_keeps_the_line() {
        check(
            "lower(evt.Line.Raw)",
            "Failed PASSWORD",
            Some(&["failed password"]),
        );
        check(
            "split(evt.Line.Raw, '|')",
            "one|two|three",
            Some(&["one", "two", "three"]),
        );
        check(
            "evt.Line.Labels.type + ':' + evt.Line.Src + ':' + evt.Line.Module",
            "x",
            Some(&["syslog:/var/log/x.log:file"]),
        );
        check("['a', 1]", "orig", Some(&["a", "orig"]));
        check("[]", "dropped", Some(&[]));
        check("nil", "kept", None);
        check("42", "kept", None);
        check("len(evt.Line.Raw) % 0", "kept", None);
    }

    #[test]
    fn bad_expressions_name_the_datasource_file() {
        let err = ExprTransform::compile("evt.Nope", "/etc/crowdsec/acquis.yaml:4", "x".into())
            .err()
            .expect("an error");
        let msg = format!("{err:#}");
        assert!(
            msg.starts_with("/etc/crowdsec/acquis.yaml:4: transform: cannot compile expression"),
            "{msg}"
        );
        assert!(msg.contains("has no field Nope"), "{msg}");
    }
}
