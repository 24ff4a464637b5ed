//! Events written in YAML the way upstream's fixtures write them (Go field names:
//! `Line: {Raw, Labels}`, `Meta`, `Parsed`, `Process`...), decoded strictly.

use cs_config::yaml::{Node, NodeKind};
use cs_types::{Event, EventType, ExpectMode, StrMap};

/// A decoding problem, with the key path where it happened.
pub type DecodeError = String;

fn scalar<'a>(node: &'a Node, path: &str) -> Result<&'a str, DecodeError> {
    if node.is_null() {
        return Ok("");
    }
    node.as_str()
        .ok_or_else(|| format!("{path}: expected a scalar"))
}

fn boolean(node: &Node, path: &str) -> Result<bool, DecodeError> {
    match scalar(node, path)? {
        "true" | "True" | "TRUE" | "yes" | "on" => Ok(true),
        "false" | "False" | "FALSE" | "no" | "off" | "" => Ok(false),
        other => Err(format!("{path}: expected a boolean, got `{other}`")),
    }
}

fn entries<'a>(node: &'a Node, path: &str) -> Result<&'a [(Node, Node)], DecodeError> {
    match &node.kind {
        NodeKind::Map(e) => Ok(e),
        _ if node.is_null() => Ok(&[]),
        _ => Err(format!("{path}: expected a mapping")),
    }
}

/// A `map[string]string`: scalar values keep their text, null becomes `""`.
fn str_map(node: &Node, path: &str) -> Result<StrMap, DecodeError> {
    let mut out = StrMap::new();
    for (k, v) in entries(node, path)? {
        let key = scalar(k, path)?;
        out.insert(key.into(), scalar(v, &format!("{path}.{key}"))?.into());
    }
    Ok(out)
}

/// Decodes one event; unknown keys are errors, as upstream decodes test files strictly.
pub fn decode(node: &Node, path: &str) -> Result<Event, DecodeError> {
    let mut evt = Event::default();
    for (k, v) in entries(node, path)? {
        let key = scalar(k, path)?;
        let p = format!("{path}.{key}");
        match key {
            "Line" => {
                for (lk, lv) in entries(v, &p)? {
                    let lkey = scalar(lk, &p)?;
                    let lp = format!("{p}.{lkey}");
                    match lkey {
                        "Raw" => evt.line.raw = scalar(lv, &lp)?.to_owned(),
                        "Src" => evt.line.src = scalar(lv, &lp)?.to_owned(),
                        "Module" => evt.line.module = scalar(lv, &lp)?.to_owned(),
                        "Labels" => evt.line.labels = str_map(lv, &lp)?,
                        "Process" | "process" => evt.line.process = boolean(lv, &lp)?,
                        other => return Err(format!("{p}: unknown field `{other}`")),
                    }
                }
            }
            "Parsed" => evt.parsed = str_map(v, &p)?,
            "Meta" => evt.meta = str_map(v, &p)?,
            "Enriched" => evt.enriched = str_map(v, &p)?,
            // Accepted for its shape only: upstream's runner does not compare it.
            "Unmarshaled" => {
                entries(v, &p)?;
            }
            "StrTime" => evt.str_time = scalar(v, &p)?.to_owned(),
            "StrTimeFormat" => evt.str_time_format = scalar(v, &p)?.to_owned(),
            "MarshaledTime" => evt.marshaled_time = scalar(v, &p)?.to_owned(),
            "Stage" => evt.stage = scalar(v, &p)?.to_owned(),
            "WhitelistReason" => evt.whitelist_reason = scalar(v, &p)?.to_owned(),
            "Whitelisted" => evt.whitelisted = boolean(v, &p)?,
            "Process" => evt.process = boolean(v, &p)?,
            "Type" => {
                evt.r#type = match scalar(v, &p)? {
                    "0" | "" => EventType::Log,
                    "1" => EventType::Overflow,
                    "2" => EventType::Appsec,
                    other => return Err(format!("{p}: unknown event type `{other}`")),
                }
            }
            "ExpectMode" => {
                evt.expect_mode = match scalar(v, &p)? {
                    "0" | "" => ExpectMode::Live,
                    "1" => ExpectMode::TimeMachine,
                    other => return Err(format!("{p}: unknown expect mode `{other}`")),
                }
            }
            other => return Err(format!("{path}: unknown field `{other}`")),
        }
    }
    Ok(evt)
}

/// Decodes a sequence of events (`lines:` / `results:`).
pub fn decode_list(node: Option<&Node>, path: &str) -> Result<Vec<Event>, DecodeError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| decode(n, &format!("{path}[{i}]")))
            .collect(),
        _ if node.is_null() => Ok(Vec::new()),
        _ => Err(format!("{path}: expected a sequence")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, expected: &str) {
        let docs = cs_config::yaml::parse("t.yaml", yaml).unwrap_or_default();
        let got = match docs.first().map(|d| decode(d, "")) {
            Some(Ok(e)) => format!(
                "raw={} labels={:?} meta={:?} process={} wl={}",
                e.line.raw, e.line.labels, e.meta, e.process, e.whitelisted
            ),
            Some(Err(e)) => format!("error: {e}"),
            None => "no document".to_owned(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn events() {
        check(
            "Line:\n  Raw: x y\n  Labels: {type: t}\nMeta:\n  a: true\n  b:\nProcess: true\n",
            r#"raw=x y labels={"type": "t"} meta={"a": "true", "b": ""} process=true wl=false"#,
        );
        check("Nope: 1\n", "error: : unknown field `Nope`");
        check(
            "Whitelisted: maybe\n",
            "error: .Whitelisted: expected a boolean, got `maybe`",
        );
    }
}
