//! The `format` of a notification: a Go text/template over the list of alerts, with the
//! functions upstream registers (a subset of sprig, `toJson`, `GetMeta`, `Hostname`, `HTMLEscape`).
//!
//! Alerts are seen by templates with the Go field names of `models.Alert` (`.Source.IP`,
//! `.Decisions`, `.MachineID`); every field is present with its Go zero value, and unset pointer
//! fields are nil. Each struct value also carries its wire JSON under a key templates cannot
//! spell, so that `toJson` prints exactly what the Local API would serve.

use std::collections::HashMap;

use cs_models::{Alert, Decision, Event, MetaItem, Source};
use gtmpl::{Context, Func, FuncError, Template, Value};

use crate::{Error, Result};

/// Key under which a struct value keeps its wire JSON (a NUL cannot appear in a field name).
const JSON_KEY: &str = "\u{0}json";

/// A compiled `format`.
pub struct Format {
    template: Template,
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format").finish_non_exhaustive()
    }
}

impl Format {
    /// Parses `text`; `name` (the notification name) is only used in errors.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut template = Template::default();
        template.add_funcs(FUNCS);
        template.parse(text).map_err(|e| Error::Template {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self { template })
    }

    /// Renders the template over `alerts`.
    pub fn render(&self, name: &str, alerts: &[Alert]) -> Result<String> {
        let data = Value::Array(alerts.iter().map(alert_value).collect());
        self.template
            .render(&Context::from(data))
            .map_err(|e| Error::Template {
                name: name.to_owned(),
                message: e.to_string(),
            })
    }
}

/// Functions available to templates, in addition to Go's built-ins.
const FUNCS: &[(&str, Func)] = &[
    ("toJson", to_json as Func),
    ("toPrettyJson", to_pretty_json as Func),
    ("toString", to_string as Func),
    ("upper", upper as Func),
    ("lower", lower as Func),
    ("trim", trim as Func),
    ("trimPrefix", trim_prefix as Func),
    ("trimSuffix", trim_suffix as Func),
    ("replace", replace as Func),
    ("contains", contains as Func),
    ("hasPrefix", has_prefix as Func),
    ("hasSuffix", has_suffix as Func),
    ("join", join as Func),
    ("split", split as Func),
    ("quote", quote as Func),
    ("squote", squote as Func),
    ("default", default as Func),
    ("empty", empty as Func),
    ("first", first as Func),
    ("last", last as Func),
    ("list", list as Func),
    ("cat", cat as Func),
    ("indent", indent as Func),
    ("title", title as Func),
    ("repeat", repeat as Func),
    ("trunc", trunc as Func),
    ("splitList", split_list as Func),
    ("b64enc", b64enc as Func),
    ("b64dec", b64dec as Func),
    ("sha256sum", sha256sum as Func),
    ("dict", dict as Func),
    ("get", get as Func),
    ("nindent", nindent as Func),
    ("GetMeta", get_meta as Func),
    ("Hostname", hostname as Func),
    ("HTMLEscape", html_escape as Func),
];

// ---- alerts as template values ----

fn object(fields: Vec<(&str, Value)>, json: serde_json::Result<String>) -> Value {
    let mut map: HashMap<String, Value> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if let Ok(json) = json {
        map.insert(JSON_KEY.to_owned(), Value::String(json));
    }
    Value::Object(map)
}

/// A Go `float32` prints its shortest decimal form: widen through that form, not bit for bit.
fn float32(f: f32) -> Value {
    Value::from(f.to_string().parse::<f64>().unwrap_or(f64::from(f)))
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Nil, |s| Value::from(s.clone()))
}

fn opt_i32(v: Option<i32>) -> Value {
    v.map_or(Value::Nil, |n| Value::from(i64::from(n)))
}

fn opt_bool(v: Option<bool>) -> Value {
    v.map_or(Value::Nil, Value::from)
}

fn str_list(v: &Option<Vec<String>>) -> Value {
    v.as_ref().map_or(Value::Nil, |l| {
        Value::Array(l.iter().map(|s| Value::from(s.clone())).collect())
    })
}

fn meta_value(meta: &[MetaItem]) -> Value {
    Value::Array(
        meta.iter()
            .map(|m| {
                object(
                    vec![
                        ("Key", Value::from(m.key.clone())),
                        ("Value", Value::from(m.value.clone())),
                    ],
                    serde_json::to_string(m),
                )
            })
            .collect(),
    )
}

fn source_value(s: &Source) -> Value {
    object(
        vec![
            ("AsName", Value::from(s.as_name.clone())),
            ("AsNumber", Value::from(s.as_number.clone())),
            ("Cn", Value::from(s.cn.clone())),
            ("IP", Value::from(s.ip.clone())),
            ("Latitude", float32(s.latitude)),
            ("Longitude", float32(s.longitude)),
            ("Range", Value::from(s.range.clone())),
            ("Scope", opt_str(&s.scope)),
            ("Value", opt_str(&s.value)),
        ],
        serde_json::to_string(s),
    )
}

fn decision_value(d: &Decision) -> Value {
    object(
        vec![
            ("Duration", opt_str(&d.duration)),
            ("ID", Value::from(d.id)),
            ("Origin", opt_str(&d.origin)),
            ("Scenario", opt_str(&d.scenario)),
            ("Scope", opt_str(&d.scope)),
            ("Simulated", opt_bool(d.simulated)),
            ("Type", opt_str(&d.r#type)),
            ("Until", Value::from(d.until.clone())),
            ("UUID", Value::from(d.uuid.clone())),
            ("Value", opt_str(&d.value)),
        ],
        serde_json::to_string(d),
    )
}

fn event_value(e: &Event) -> Value {
    object(
        vec![
            ("Meta", meta_value(&e.meta)),
            ("Timestamp", opt_str(&e.timestamp)),
        ],
        serde_json::to_string(e),
    )
}

/// One alert with `models.Alert`'s Go field names.
fn alert_value(a: &Alert) -> Value {
    object(
        vec![
            ("Capacity", opt_i32(a.capacity)),
            ("CreatedAt", Value::from(a.created_at.clone())),
            (
                "Decisions",
                a.decisions.as_ref().map_or(Value::Nil, |l| {
                    Value::Array(l.iter().map(decision_value).collect())
                }),
            ),
            (
                "Events",
                a.events.as_ref().map_or(Value::Nil, |l| {
                    Value::Array(l.iter().map(event_value).collect())
                }),
            ),
            ("EventsCount", opt_i32(a.events_count)),
            ("ID", Value::from(a.id)),
            ("Kind", Value::from(a.kind.clone())),
            ("Labels", str_list(&a.labels)),
            ("Leakspeed", opt_str(&a.leakspeed)),
            ("MachineID", Value::from(a.machine_id.clone())),
            ("Message", opt_str(&a.message)),
            ("Meta", meta_value(&a.meta)),
            ("Remediation", Value::from(a.remediation)),
            ("Scenario", opt_str(&a.scenario)),
            ("ScenarioHash", opt_str(&a.scenario_hash)),
            ("ScenarioVersion", opt_str(&a.scenario_version)),
            ("Simulated", opt_bool(a.simulated)),
            ("Source", a.source.as_ref().map_or(Value::Nil, source_value)),
            ("StartAt", opt_str(&a.start_at)),
            ("StopAt", opt_str(&a.stop_at)),
            ("UUID", Value::from(a.uuid.clone())),
        ],
        serde_json::to_string(a),
    )
}

// ---- JSON of template values ----

/// The JSON of a template value: structs print their wire JSON, maps their keys sorted (as Go).
fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => serde_json::Value::from(i),
            (None, Some(u), _) => serde_json::Value::from(u),
            (None, None, Some(f)) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            (None, None, None) => serde_json::Value::Null,
        },
        Value::Array(items) => serde_json::Value::Array(items.iter().map(json_of).collect()),
        Value::Object(map) | Value::Map(map) => {
            if let Some(Value::String(raw)) = map.get(JSON_KEY)
                && let Ok(parsed) = serde_json::from_str(raw)
            {
                return parsed;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), json_of(&map[k])))
                    .collect(),
            )
        }
    }
}

// ---- helpers for the functions ----

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::ExactlyXArgs(name.to_owned(), n))
    }
}

/// Go's `fmt.Sprint` of a scalar (what sprig's string functions convert their argument with).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::NoValue | Value::Nil => String::new(),
        Value::Object(_) | Value::Map(_) | Value::Array(_) => json_of(v).to_string(),
        other => other.to_string(),
    }
}

fn str_fn(name: &str, args: &[Value], f: impl Fn(&str) -> String) -> Result<Value, FuncError> {
    arity(name, args, 1)?;
    Ok(Value::from(f(&text(&args[0]))))
}

fn is_empty(v: &Value) -> bool {
    !gtmpl_truthy(v)
}

fn gtmpl_truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
        Value::Map(m) => !m.is_empty(),
        Value::Function(_) => true,
        Value::NoValue | Value::Nil => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
    }
}

// ---- the functions ----

fn to_json(args: &[Value]) -> Result<Value, FuncError> {
    arity("toJson", args, 1)?;
    Ok(Value::from(json_of(&args[0]).to_string()))
}

fn to_pretty_json(args: &[Value]) -> Result<Value, FuncError> {
    arity("toPrettyJson", args, 1)?;
    serde_json::to_string_pretty(&json_of(&args[0]))
        .map(Value::from)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

fn to_string(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("toString", args, str::to_owned)
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("upper", args, str::to_uppercase)
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("lower", args, str::to_lowercase)
}

fn trim(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("trim", args, |s| s.trim().to_owned())
}

/// `trimPrefix PREFIX S` (sprig puts the subject last so that it pipes).
fn trim_prefix(args: &[Value]) -> Result<Value, FuncError> {
    arity("trimPrefix", args, 2)?;
    let (p, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::from(s.strip_prefix(&p).unwrap_or(&s).to_owned()))
}

fn trim_suffix(args: &[Value]) -> Result<Value, FuncError> {
    arity("trimSuffix", args, 2)?;
    let (p, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::from(s.strip_suffix(&p).unwrap_or(&s).to_owned()))
}

/// `replace OLD NEW S`.
fn replace(args: &[Value]) -> Result<Value, FuncError> {
    arity("replace", args, 3)?;
    Ok(Value::from(
        text(&args[2]).replace(&text(&args[0]), &text(&args[1])),
    ))
}

/// `contains SUBSTR S`.
fn contains(args: &[Value]) -> Result<Value, FuncError> {
    arity("contains", args, 2)?;
    Ok(Value::from(text(&args[1]).contains(&text(&args[0]))))
}

fn has_prefix(args: &[Value]) -> Result<Value, FuncError> {
    arity("hasPrefix", args, 2)?;
    Ok(Value::from(text(&args[1]).starts_with(&text(&args[0]))))
}

fn has_suffix(args: &[Value]) -> Result<Value, FuncError> {
    arity("hasSuffix", args, 2)?;
    Ok(Value::from(text(&args[1]).ends_with(&text(&args[0]))))
}

/// `join SEP LIST`.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    arity("join", args, 2)?;
    let sep = text(&args[0]);
    let joined = match &args[1] {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(&sep),
        other => text(other),
    };
    Ok(Value::from(joined))
}

/// `split SEP S`: sprig answers a map `_0`, `_1`, …
fn split(args: &[Value]) -> Result<Value, FuncError> {
    arity("split", args, 2)?;
    let (sep, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::Map(
        s.split(sep.as_str())
            .enumerate()
            .map(|(i, part)| (format!("_{i}"), Value::from(part.to_owned())))
            .collect(),
    ))
}

fn quote_with(args: &[Value], q: char) -> Value {
    let parts: Vec<String> = args
        .iter()
        .filter(|a| !matches!(a, Value::Nil | Value::NoValue))
        .map(|a| {
            if q == '"' {
                serde_json::Value::String(text(a)).to_string()
            } else {
                format!("'{}'", text(a))
            }
        })
        .collect();
    Value::from(parts.join(" "))
}

fn quote(args: &[Value]) -> Result<Value, FuncError> {
    Ok(quote_with(args, '"'))
}

fn squote(args: &[Value]) -> Result<Value, FuncError> {
    Ok(quote_with(args, '\''))
}

/// `default DEFAULT VALUE`: VALUE unless it is empty.
fn default(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [d] => Ok(d.clone()),
        [d, v] => Ok(if is_empty(v) { d.clone() } else { v.clone() }),
        _ => Err(FuncError::AtLeastXArgs("default".to_owned(), 1)),
    }
}

fn empty(args: &[Value]) -> Result<Value, FuncError> {
    arity("empty", args, 1)?;
    Ok(Value::from(is_empty(&args[0])))
}

fn first(args: &[Value]) -> Result<Value, FuncError> {
    arity("first", args, 1)?;
    Ok(match &args[0] {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    })
}

fn last(args: &[Value]) -> Result<Value, FuncError> {
    arity("last", args, 1)?;
    Ok(match &args[0] {
        Value::Array(items) => items.last().cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    })
}

fn list(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Array(args.to_vec()))
}

fn cat(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> = args
        .iter()
        .filter(|a| !matches!(a, Value::Nil | Value::NoValue))
        .map(text)
        .collect();
    Ok(Value::from(parts.join(" ")))
}

fn indent_by(args: &[Value], name: &str) -> Result<String, FuncError> {
    arity(name, args, 2)?;
    let n = match &args[0] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        other => text(other).parse().unwrap_or(0),
    };
    let pad = " ".repeat(usize::try_from(n).unwrap_or(0));
    Ok(text(&args[1])
        .split('\n')
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n"))
}

fn indent(args: &[Value]) -> Result<Value, FuncError> {
    indent_by(args, "indent").map(Value::from)
}

fn nindent(args: &[Value]) -> Result<Value, FuncError> {
    indent_by(args, "nindent").map(|s| Value::from(format!("\n{s}")))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("title", args, |s| {
        let mut out = String::with_capacity(s.len());
        let mut start = true;
        for c in s.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        out
    })
}

fn count_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        other => text(other).parse().ok(),
    }
}

/// `repeat COUNT S`.
fn repeat(args: &[Value]) -> Result<Value, FuncError> {
    arity("repeat", args, 2)?;
    let n = count_arg(&args[0]).unwrap_or(0).clamp(0, 10_000);
    Ok(Value::from(
        text(&args[1]).repeat(usize::try_from(n).unwrap_or(0)),
    ))
}

/// `trunc N S`: the first N characters (the last -N when negative).
fn trunc(args: &[Value]) -> Result<Value, FuncError> {
    arity("trunc", args, 2)?;
    let n = count_arg(&args[0]).unwrap_or(0);
    let chars: Vec<char> = text(&args[1]).chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let out: String = if n >= 0 {
        chars
            .iter()
            .take(usize::try_from(n.min(len)).unwrap_or(0))
            .collect()
    } else {
        chars
            .iter()
            .skip(usize::try_from((len + n).max(0)).unwrap_or(0))
            .collect()
    };
    Ok(Value::from(out))
}

/// `splitList SEP S`.
fn split_list(args: &[Value]) -> Result<Value, FuncError> {
    arity("splitList", args, 2)?;
    let (sep, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::from(p.to_owned()))
            .collect(),
    ))
}

fn b64enc(args: &[Value]) -> Result<Value, FuncError> {
    use base64::Engine as _;
    str_fn("b64enc", args, |s| {
        base64::engine::general_purpose::STANDARD.encode(s)
    })
}

/// `b64dec S`: sprig answers the error text when S is not base64.
fn b64dec(args: &[Value]) -> Result<Value, FuncError> {
    use base64::Engine as _;
    str_fn(
        "b64dec",
        args,
        |s| match base64::engine::general_purpose::STANDARD.decode(s) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => e.to_string(),
        },
    )
}

fn sha256sum(args: &[Value]) -> Result<Value, FuncError> {
    use sha2::Digest as _;
    str_fn("sha256sum", args, |s| hex::encode(sha2::Sha256::digest(s)))
}

/// `dict K1 V1 K2 V2 …`.
fn dict(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Map(
        args.chunks(2)
            .map(|kv| (text(&kv[0]), kv.get(1).cloned().unwrap_or(Value::from(""))))
            .collect(),
    ))
}

/// `get MAP KEY`: the value, or "" when absent.
fn get(args: &[Value]) -> Result<Value, FuncError> {
    arity("get", args, 2)?;
    let key = text(&args[1]);
    Ok(match &args[0] {
        Value::Map(m) => m.get(&key).cloned().unwrap_or(Value::from("")),
        _ => Value::from(""),
    })
}

/// `GetMeta ALERT KEY`: the values of meta `KEY` over the alert's events.
fn get_meta(args: &[Value]) -> Result<Value, FuncError> {
    arity("GetMeta", args, 2)?;
    let key = text(&args[1]);
    let mut out = Vec::new();
    if let Value::Object(alert) = &args[0]
        && let Some(Value::Array(events)) = alert.get("Events")
    {
        for event in events {
            if let Value::Object(event) = event
                && let Some(Value::Array(meta)) = event.get("Meta")
            {
                for m in meta {
                    if let Value::Object(m) = m
                        && m.get("Key").map(text).as_deref() == Some(key.as_str())
                    {
                        out.push(m.get("Value").cloned().unwrap_or(Value::Nil));
                    }
                }
            }
        }
    }
    Ok(Value::Array(out))
}

fn hostname(_args: &[Value]) -> Result<Value, FuncError> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| FuncError::Generic(format!("Hostname: {e}")))?;
    Ok(Value::from(name.trim_end().to_owned()))
}

/// Go's `html.EscapeString`.
fn html_escape(args: &[Value]) -> Result<Value, FuncError> {
    str_fn("HTMLEscape", args, |s| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '\'' => out.push_str("&#39;"),
                '"' => out.push_str("&#34;"),
                c => out.push(c),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        let json = r#"{"capacity":5,"created_at":"2026-11-22T10:00:00Z","decisions":[{"duration":"4h","origin":"crowdsec","scenario":"crowdsecurity/ssh-bf","scope":"Ip","type":"ban","value":"1.2.3.4"}],"events":[{"meta":[{"key":"service","value":"ssh"},{"key":"target_user","value":"root"}],"timestamp":"2026-11-22T09:59:00Z"},{"meta":[{"key":"target_user","value":"admin"}],"timestamp":"2026-11-22T09:59:30Z"}],"events_count":2,"labels":null,"leakspeed":"10s","machine_id":"host-1","message":"Ip 1.2.3.4 performed 'crowdsecurity/ssh-bf' (2 events over 30s)","remediation":true,"scenario":"crowdsecurity/ssh-bf","scenario_hash":"abc","scenario_version":"0.1","simulated":false,"source":{"cn":"FR","ip":"1.2.3.4","scope":"Ip","value":"1.2.3.4"},"start_at":"2026-11-22T09:59:00Z","stop_at":"2026-11-22T09:59:30Z"}"#;
        serde_json::from_str(json).unwrap()
    }

    fn check(format: &str, alerts: &[Alert], expected: &str) {
        let f = Format::parse("t", format).unwrap();
        assert_eq!(f.render("t", alerts).unwrap(), expected, "format: {format}");
    }

    #[test]
    fn slack_default_format() {
        let format = "{{range . -}}\n{{$alert := . -}}\n{{range .Decisions -}}\n{{if $alert.Source.Cn -}}\n:flag-{{$alert.Source.Cn}}: <https://www.whois.com/whois/{{.Value}}|{{.Value}}> will get {{.Type}} for next {{.Duration}} for triggering {{.Scenario}} on machine '{{$alert.MachineID}}'. <https://app.crowdsec.net/cti/{{.Value}}|CrowdSec CTI>{{end}}\n{{if not $alert.Source.Cn -}}\n:pirate_flag: <https://www.whois.com/whois/{{.Value}}|{{.Value}}> will get {{.Type}} for next {{.Duration}} for triggering {{.Scenario}} on machine '{{$alert.MachineID}}'.  <https://app.crowdsec.net/cti/{{.Value}}|CrowdSec CTI>{{end}}\n{{end -}}\n{{end -}}\n";
        check(
            format,
            &[alert()],
            ":flag-FR: <https://www.whois.com/whois/1.2.3.4|1.2.3.4> will get ban for next 4h for triggering crowdsecurity/ssh-bf on machine 'host-1'. <https://app.crowdsec.net/cti/1.2.3.4|CrowdSec CTI>\n\n",
        );
        let mut no_cn = alert();
        no_cn.source.as_mut().unwrap().cn.clear();
        check(
            format,
            &[no_cn],
            "\n:pirate_flag: <https://www.whois.com/whois/1.2.3.4|1.2.3.4> will get ban for next 4h for triggering crowdsecurity/ssh-bf on machine 'host-1'.  <https://app.crowdsec.net/cti/1.2.3.4|CrowdSec CTI>\n",
        );
    }

    #[test]
    fn email_default_format() {
        let format = "<html><body>\n{{range . -}}\n  {{$alert := . -}}\n  {{range .Decisions -}}\n    <p><a href=https://www.whois.com/whois/{{.Value}}>{{.Value}}</a> will get <b>{{.Type}}</b> for next <b>{{.Duration}}</b> for triggering <b>{{.Scenario}}</b> on machine <b>{{$alert.MachineID}}</b>.</p> <p><a href=https://app.crowdsec.net/cti/{{.Value}}>CrowdSec CTI</a></p>\n  {{end -}}\n{{end -}}\n</body></html>\n";
        check(
            format,
            &[alert()],
            "<html><body>\n<p><a href=https://www.whois.com/whois/1.2.3.4>1.2.3.4</a> will get <b>ban</b> for next <b>4h</b> for triggering <b>crowdsecurity/ssh-bf</b> on machine <b>host-1</b>.</p> <p><a href=https://app.crowdsec.net/cti/1.2.3.4>CrowdSec CTI</a></p>\n  </body></html>\n",
        );
    }

    #[test]
    fn to_json_prints_the_wire_json() {
        let a = alert();
        let expected = format!("[{}]\n", serde_json::to_string(&a).unwrap());
        check("{{.|toJson}}\n", std::slice::from_ref(&a), &expected);
        check(
            "{{(index . 0).Source | toJson}}",
            &[a],
            r#"{"cn":"FR","ip":"1.2.3.4","scope":"Ip","value":"1.2.3.4"}"#,
        );
    }

    #[test]
    fn go_names_zero_values_and_nil_pointers() {
        let mut a = alert();
        a.scenario_hash = None;
        check(
            "{{range .}}{{.Source.AsName}}|{{.ID}}|{{.Remediation}}|{{if .ScenarioHash}}set{{else}}unset{{end}}|{{.EventsCount}}|{{len .Events}}{{end}}",
            &[a],
            "|0|true|unset|2|2",
        );
    }

    #[test]
    fn helpers_and_sprig() {
        let a = alert();
        check(
            r#"{{range .}}{{range GetMeta . "target_user"}}{{.}},{{end}}{{end}}"#,
            std::slice::from_ref(&a),
            "root,admin,",
        );
        check(
            r#"{{HTMLEscape "<a href='x'>&</a>"}}"#,
            &[],
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;",
        );
        check(
            r#"{{ "a-b" | upper | replace "-" "_" }} {{ list "x" "y" | join "," }} {{ "" | default "dflt" }} {{ "v" | quote }} {{ trimPrefix "crowdsecurity/" "crowdsecurity/ssh-bf" }}"#,
            &[],
            r#"A_B x,y dflt "v" ssh-bf"#,
        );
        check(
            "{{range $i, $a := .}}{{$i}}:{{$a.Scenario}} {{printf \"%s/%d\" $a.MachineID $a.ID}}{{end}}",
            &[a],
            "0:crowdsecurity/ssh-bf host-1/0",
        );
    }

    #[test]
    fn more_sprig() {
        check(
            r#"{{ title "hello world" }}|{{ repeat 3 "ab" }}|{{ trunc 3 "abcdef" }}|{{ trunc -2 "abcdef" }}|{{ range splitList "," "a,b" }}[{{.}}]{{end}}|{{ b64enc "hi" }}|{{ b64dec "aGk=" }}|{{ $d := dict "k" "v" }}{{ get $d "k" }}{{ get $d "x" }}"#,
            &[],
            "Hello World|ababab|abc|ef|[a][b]|aGk=|hi|v",
        );
        check(
            r#"{{ sha256sum "abc" }}"#,
            &[],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        let mut a = alert();
        a.source.as_mut().unwrap().latitude = 48.8566;
        check("{{range .}}{{.Source.Latitude}}{{end}}", &[a], "48.8566");
    }

    #[test]
    fn template_errors_name_the_notification() {
        let err = Format::parse("slack_default", "{{range .}}").unwrap_err();
        assert!(err.to_string().contains("slack_default"), "{err}");
        let f = Format::parse("n", "{{nosuchfunc .}}");
        assert!(f.is_err());
    }
}
