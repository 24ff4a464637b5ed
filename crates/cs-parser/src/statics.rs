//! Statics: values written into the event when a node (or its grok) succeeds.

use cs_types::Event;

use crate::enrich::Method;
use crate::expr::{Expr, Output};
use crate::node::RunContext;
use crate::target::Target;

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
    /// Neither `value` nor `expression`: the value is empty.
    Empty,
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
        let value: std::borrow::Cow<'_, str> = match &self.value {
            ValueSource::Constant(v) => v.as_str().into(),
            ValueSource::Empty => "".into(),
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
            Destination::Parsed(k) => set(&mut evt.parsed, k, &value),
            Destination::Meta(k) => set(&mut evt.meta, k, &value),
            Destination::Enriched(k) => set(&mut evt.enriched, k, &value),
            Destination::Target(t) => {
                if !t.set(evt, &value) {
                    tracing::trace!(target = ?t, "static target cannot be set");
                }
            }
        }
        Ok(())
    }
}

/// Inserts with a single tree search: keys are mostly new (fresh events), so the key is
/// allocated up front; an existing value reuses its allocation.
pub(crate) fn set(map: &mut cs_types::StrMap, key: &str, value: &str) {
    map.entry(key.to_owned())
        .and_modify(|slot| value.clone_into(slot))
        .or_insert_with(|| value.to_owned());
}
