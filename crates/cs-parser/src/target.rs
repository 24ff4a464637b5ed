//! `target:` destinations of statics: an event field named by its Go path
//! (`evt.StrTime`, `evt.Parsed.foo`, `evt.Overflow.Alert.Source.Value`).
//!
//! Upstream walks the Go structs by reflection at every event; here the path is resolved
//! once at load time into a [`Target`] and applying it is a plain field write.

use cs_types::{Event, StrMap};

/// A resolved `target:` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A string field of the event.
    Field(Field),
    /// An entry of one of the event's string maps (later path segments are ignored,
    /// as upstream stops at the first map).
    MapEntry(MapField, String),
    /// A path upstream cannot set (unknown field, non-string field, path ending on a
    /// map): applying it does nothing.
    Invalid(String),
}

/// String fields reachable by `target:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `StrTime`.
    StrTime,
    /// `StrTimeFormat`.
    StrTimeFormat,
    /// `MarshaledTime`.
    MarshaledTime,
    /// `WhitelistReason`.
    WhitelistReason,
    /// `Stage`.
    Stage,
    /// `Line.Raw`.
    LineRaw,
    /// `Line.Src`.
    LineSrc,
    /// `Line.Module`.
    LineModule,
    /// `Overflow.Mapkey`.
    OverflowMapkey,
    /// `Overflow.BucketId`.
    OverflowBucketId,
    /// `Overflow.Alert.Source.Value` (only when the alert and its source exist).
    AlertSourceValue,
    /// `Overflow.Alert.Source.Scope` (only when the alert and its source exist).
    AlertSourceScope,
    /// `Overflow.Alert.Source.IP`.
    AlertSourceIp,
    /// `Overflow.Alert.Source.Range`.
    AlertSourceRange,
}

/// String maps reachable by `target:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapField {
    /// `Parsed`.
    Parsed,
    /// `Enriched`.
    Enriched,
    /// `Meta`.
    Meta,
    /// `Line.Labels`.
    Labels,
}

impl Target {
    /// Resolves `path` (a leading `evt.` is dropped, as upstream does).
    pub fn parse(path: &str) -> Self {
        let trimmed = path.strip_prefix("evt.").unwrap_or(path);
        let segs: Vec<&str> = trimmed.split('.').collect();
        let map = |m: MapField, rest: &[&str]| match rest.first() {
            Some(key) => Target::MapEntry(m, (*key).to_owned()),
            None => Target::Invalid(path.to_owned()),
        };
        match segs.as_slice() {
            ["StrTime"] => Self::Field(Field::StrTime),
            ["StrTimeFormat"] => Self::Field(Field::StrTimeFormat),
            ["MarshaledTime"] => Self::Field(Field::MarshaledTime),
            ["WhitelistReason"] => Self::Field(Field::WhitelistReason),
            ["Stage"] => Self::Field(Field::Stage),
            ["Line", "Raw"] => Self::Field(Field::LineRaw),
            ["Line", "Src"] => Self::Field(Field::LineSrc),
            ["Line", "Module"] => Self::Field(Field::LineModule),
            ["Line", "Labels", rest @ ..] => map(MapField::Labels, rest),
            ["Parsed", rest @ ..] => map(MapField::Parsed, rest),
            ["Enriched", rest @ ..] => map(MapField::Enriched, rest),
            ["Meta", rest @ ..] => map(MapField::Meta, rest),
            ["Overflow", "Mapkey"] => Self::Field(Field::OverflowMapkey),
            ["Overflow", "BucketId"] => Self::Field(Field::OverflowBucketId),
            ["Overflow", "Alert", "Source", "Value"] => Self::Field(Field::AlertSourceValue),
            ["Overflow", "Alert", "Source", "Scope"] => Self::Field(Field::AlertSourceScope),
            ["Overflow", "Alert", "Source", "IP"] => Self::Field(Field::AlertSourceIp),
            ["Overflow", "Alert", "Source", "Range"] => Self::Field(Field::AlertSourceRange),
            _ => Self::Invalid(path.to_owned()),
        }
    }

    /// Writes `value`; `false` when the destination does not exist (invalid path, or an
    /// alert source that is absent, where upstream hits a nil pointer).
    pub fn set(&self, evt: &mut Event, value: &str) -> bool {
        match self {
            Self::Field(f) => set_field(*f, evt, value),
            Self::MapEntry(m, key) => {
                let map: &mut StrMap = match m {
                    MapField::Parsed => &mut evt.parsed,
                    MapField::Enriched => &mut evt.enriched,
                    MapField::Meta => &mut evt.meta,
                    MapField::Labels => &mut evt.line.labels,
                };
                map.insert(key.as_str().into(), value.into());
                true
            }
            Self::Invalid(_) => false,
        }
    }
}

fn set_field(f: Field, evt: &mut Event, value: &str) -> bool {
    let slot: &mut String = match f {
        Field::StrTime => &mut evt.str_time,
        Field::StrTimeFormat => &mut evt.str_time_format,
        Field::MarshaledTime => &mut evt.marshaled_time,
        Field::WhitelistReason => &mut evt.whitelist_reason,
        Field::Stage => &mut evt.stage,
        Field::LineRaw => &mut evt.line.raw,
        Field::LineSrc => &mut evt.line.src,
        Field::LineModule => &mut evt.line.module,
        Field::OverflowMapkey => &mut evt.overflow.mapkey,
        Field::OverflowBucketId => &mut evt.overflow.bucket_id,
        Field::AlertSourceValue
        | Field::AlertSourceScope
        | Field::AlertSourceIp
        | Field::AlertSourceRange => {
            let Some(source) = evt.overflow.alert.as_mut().and_then(|a| a.source.as_mut()) else {
                return false;
            };
            match f {
                Field::AlertSourceValue => {
                    source.value = Some(value.to_owned());
                }
                Field::AlertSourceScope => {
                    source.scope = Some(value.to_owned());
                }
                Field::AlertSourceIp => value.clone_into(&mut source.ip),
                _ => value.clone_into(&mut source.range),
            }
            return true;
        }
    };
    value.clone_into(slot);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        let mut evt = Event::default();
        let ok = Target::parse(path).set(&mut evt, "v");
        let got = format!(
            "{ok} str={} fmt={} mt={} parsed={:?} meta={:?}",
            evt.str_time, evt.str_time_format, evt.marshaled_time, evt.parsed, evt.meta
        );
        assert_eq!(got, expected, "{path}");
    }

    #[test]
    fn targets() {
        check("evt.StrTime", r#"true str=v fmt= mt= parsed={} meta={}"#);
        check("StrTimeFormat", r#"true str= fmt=v mt= parsed={} meta={}"#);
        check("MarshaledTime", r#"true str= fmt= mt=v parsed={} meta={}"#);
        check(
            "evt.Parsed.a.b",
            r#"true str= fmt= mt= parsed={"a": "v"} meta={}"#,
        );
        check(
            "evt.Meta.x",
            r#"true str= fmt= mt= parsed={} meta={"x": "v"}"#,
        );
        check("evt.Parsed", r#"false str= fmt= mt= parsed={} meta={}"#);
        check("evt.Nope", r#"false str= fmt= mt= parsed={} meta={}"#);
        check(
            "evt.Overflow.Alert.Source.Value",
            r#"false str= fmt= mt= parsed={} meta={}"#,
        );
    }

    #[test]
    fn alert_source() {
        let mut evt = Event::default();
        evt.overflow.alert = Some(Box::new(cs_types::Alert {
            source: Some(cs_types::Source::default()),
            ..cs_types::Alert::default()
        }));
        assert!(Target::parse("evt.Overflow.Alert.Source.Scope").set(&mut evt, "Range"));
        let scope = evt
            .overflow
            .alert
            .and_then(|a| a.source)
            .and_then(|s| s.scope);
        assert_eq!(scope.as_deref(), Some("Range"));
    }
}
