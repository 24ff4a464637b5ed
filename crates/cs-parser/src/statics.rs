//! Statics: values written into the event when a node (or its grok) succeeds.

use std::borrow::Cow;

use cs_types::{Event, Text};

use crate::enrich::Method;
use crate::expr::{Expr, Output};
use crate::node::RunContext;
use crate::target::{MapField, Target};

/// Where a static writes, resolved at load time (`method` > `parsed` > `meta` >
/// `enriched` > `target`, as upstream picks the first one set).
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// An enrichment method; `None` when the name is unknown (then nothing happens).
    Method(Option<Method>, String),
    Parsed(String),
    Meta(String),
    Enriched(String),
    Target(Target),
}

/// The source of a static's value.
#[derive(Debug)]
pub(crate) enum ValueSource {
    Constant(String),
    Expr(Expr),
    /// An expression that only reads a string of the event, evaluated without the
    /// expression engine (the expression was compiled all the same, to report errors).
    Read(Read),
    /// Neither `value` nor `expression`: the value is empty.
    Empty,
}

/// A string of the event named by an expression of the form `evt.StrTime`,
/// `evt.Line.Src`, `evt.Parsed.<key>`, `evt.Meta.<key>`, `evt.Enriched.<key>` or
/// `evt.Line.Labels.<key>`.
#[derive(Debug, Clone)]
pub(crate) enum Read {
    Field(fn(&Event) -> &str),
    /// A missing key reads as `""`, as the expression does.
    MapEntry(MapField, String),
}

impl Read {
    /// Recognises `source` (an expression that compiled), `None` for anything else.
    pub(crate) fn parse(source: &str) -> Option<Self> {
        let segs: Vec<&str> = source.trim().strip_prefix("evt.")?.split('.').collect();
        let key = |k: &str| {
            let mut chars = k.chars();
            let ident = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            ident.then(|| k.to_owned())
        };
        Some(match segs.as_slice() {
            ["StrTime"] => Self::Field(|e| &e.str_time),
            ["StrTimeFormat"] => Self::Field(|e| &e.str_time_format),
            ["MarshaledTime"] => Self::Field(|e| &e.marshaled_time),
            ["WhitelistReason"] => Self::Field(|e| &e.whitelist_reason),
            ["Stage"] => Self::Field(|e| &e.stage),
            ["Line", "Raw"] => Self::Field(|e| &e.line.raw),
            ["Line", "Src"] => Self::Field(|e| &e.line.src),
            ["Line", "Module"] => Self::Field(|e| &e.line.module),
            ["Parsed", k] => Self::MapEntry(MapField::Parsed, key(k)?),
            ["Meta", k] => Self::MapEntry(MapField::Meta, key(k)?),
            ["Enriched", k] => Self::MapEntry(MapField::Enriched, key(k)?),
            ["Line", "Labels", k] => Self::MapEntry(MapField::Labels, key(k)?),
            _ => return None,
        })
    }

    fn read<'e>(&self, evt: &'e Event) -> &'e str {
        match self {
            Self::Field(field) => field(evt),
            Self::MapEntry(m, key) => {
                let map = match m {
                    MapField::Parsed => &evt.parsed,
                    MapField::Enriched => &evt.enriched,
                    MapField::Meta => &evt.meta,
                    MapField::Labels => &evt.line.labels,
                };
                map.get(key.as_str()).map_or("", Text::as_str)
            }
        }
    }
}

/// A compiled static.
#[derive(Debug)]
pub(crate) struct Static {
    pub(crate) destination: Destination,
    pub(crate) value: ValueSource,
}

impl Destination {
    /// A short label for errors and traces (`.Meta[log_type]`, `evt.StrTime`...).
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Method(_, name) => name.clone(),
            Self::Parsed(k) => format!(".Parsed[{k}]"),
            Self::Meta(k) => format!(".Meta[{k}]"),
            Self::Enriched(k) => format!(".Enriched[{k}]"),
            Self::Target(Target::Invalid(p)) => p.clone(),
            Self::Target(t) => format!("{t:?}"),
        }
    }
}

/// Why a static stopped the event's parsing.
#[derive(Debug)]
pub(crate) struct UnsupportedValue {
    pub(crate) target: String,
    pub(crate) kind: &'static str,
}

impl Static {
    /// Applies the static (upstream's `RuntimeStatic.Apply`).
    pub(crate) fn apply(
        &self,
        evt: &mut Event,
        cx: &RunContext<'_>,
    ) -> Result<(), UnsupportedValue> {
        let value: Cow<'_, str> = match &self.value {
            ValueSource::Constant(v) => v.as_str().into(),
            ValueSource::Empty => "".into(),
            ValueSource::Read(r) => match r.read(evt) {
                "" => "".into(),
                v => v.to_owned().into(),
            },
            ValueSource::Expr(e) => match e.eval(evt) {
                Ok(Output::Str(s)) => s.into(),
                Ok(Output::Int(i)) => i.to_string().into(),
                Ok(Output::Float(f)) => format!("{f:.6}").into(),
                // Maps, lists and nil leave the value empty (upstream warns and goes on).
                Ok(Output::Nil | Output::Map | Output::List) => "".into(),
                Ok(Output::Bool(_)) => {
                    return Err(UnsupportedValue {
                        target: self.destination.label(),
                        kind: "bool",
                    });
                }
                Ok(Output::Other(kind)) => {
                    return Err(UnsupportedValue {
                        target: self.destination.label(),
                        kind,
                    });
                }
                Err(e) => {
                    tracing::trace!(error = %e, "static expression failed, skipped");
                    return Ok(());
                }
            },
        };
        let is_parse_date = matches!(
            self.destination,
            Destination::Method(Some(Method::ParseDate), _)
        );
        if value.is_empty() && !is_parse_date {
            return Ok(());
        }
        match &self.destination {
            Destination::Method(Some(m), _) => {
                if cx.enrichers.is_available(*m) {
                    cx.enrichers.apply(*m, &value, evt, cx.now);
                }
            }
            Destination::Method(None, _) => {}
            Destination::Parsed(k) => evt.parsed.set(k, value),
            Destination::Meta(k) => evt.meta.set(k, value),
            Destination::Enriched(k) => evt.enriched.set(k, value),
            Destination::Target(t) => {
                if !t.set(evt, &value) {
                    tracing::trace!(target = ?t, "static target cannot be set");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Read` makes of `source` on a sample event (`None`: left to the expression).
    fn check(source: &str, expected: Option<&str>) {
        let mut evt = Event::new_log("raw line", "file");
        evt.str_time = "Mar  2 00:00:09".to_owned();
        evt.line.src = "/var/log/auth.log".to_owned();
        evt.line.labels.insert("type".into(), "syslog".into());
        evt.parsed.insert("program".into(), "sshd".into());
        evt.meta.insert("source_ip".into(), "192.0.2.1".into());
        let got = Read::parse(source).map(|r| r.read(&evt).to_owned());
        assert_eq!(got.as_deref(), expected, "{source:?}");
        if let Some(read) = got {
            // The same value as the expression engine, for which nil is "".
            let expr = Expr::compile(source, &cs_expr::Environment::event())
                .unwrap_or_else(|e| panic!("{source:?}: {}", e.message));
            let value = match expr.eval(&mut evt) {
                Ok(Output::Str(s)) => s,
                Ok(Output::Nil) => String::new(),
                other => panic!("{source:?}: {other:?}"),
            };
            assert_eq!(read, value, "{source:?}");
        }
    }

    #[test]
    fn plain_reads() {
        check("evt.StrTime", Some("Mar  2 00:00:09"));
        check(" evt.Line.Src ", Some("/var/log/auth.log"));
        check("evt.Line.Raw", Some("raw line"));
        check("evt.Line.Module", Some("file"));
        check("evt.Line.Labels.type", Some("syslog"));
        check("evt.Parsed.program", Some("sshd"));
        check("evt.Meta.source_ip", Some("192.0.2.1"));
        check("evt.Parsed.missing", Some(""));
        check("evt.Enriched.MarshaledTime", Some(""));
    }

    #[test]
    fn anything_else_is_an_expression() {
        check("evt.Parsed", None);
        check("evt.Parsed.a.b", None);
        check("evt.Parsed.file_frag + evt.Parsed.file_ext", None);
        check("len(evt.Parsed.http_args)", None);
        check("evt.Parsed['program']", None);
        check("evt.Parsed.1x", None);
        check("evt.Line.Time", None);
        check("evt.Overflow.Alert.Source.Value", None);
        check("Parsed.program", None);
    }
}
