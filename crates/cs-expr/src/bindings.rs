//! Typed views of the CrowdSec model (`cs-types`, `cs-models`) with Go field and method names,
//! and the environments of each place expressions are used.

use std::sync::Arc;

use cs_models::{Alert, Decision, Event as AlertEvent, MetaItem, Source};
use cs_types::{AppsecEvent, Event, Leaky, Line, ParserResult, Queue, RuntimeAlert};

use crate::env::{Environment, Function, Signature};
use crate::error::RuntimeError;
use crate::eval::{CallContext, Effect, Effects, Program};
use crate::types::{FieldDef, MethodDef, StructType, Type};
use crate::value::{List, ListView, Map, Object, Value};

macro_rules! fields {
    ($($name:literal: $ty:expr),* $(,)?) => { &[$(FieldDef { name: $name, ty: $ty }),*] };
}

macro_rules! methods {
    ($($name:literal($($p:expr),*) -> $ret:expr),* $(,)?) => {
        &[$(MethodDef { name: $name, params: &[$($p),*], ret: $ret }),*]
    };
}

const S: Type = Type::String;
const STR_MAP: Type = Type::Map(&Type::String);
const STR_LIST: Type = Type::List(&Type::String);

/// `types.Event` (`evt`).
pub static EVENT: StructType = StructType {
    name: "types.Event",
    fields: fields! {
        "Type": Type::Int, "ExpectMode": Type::Int, "Whitelisted": Type::Bool, "WhitelistReason": S,
        "Stage": S, "Line": Type::Struct(&LINE), "Parsed": STR_MAP, "Enriched": STR_MAP,
        "Unmarshaled": Type::Map(&Type::Any), "Overflow": Type::Struct(&RUNTIME_ALERT), "Time": Type::Time,
        "StrTime": S, "StrTimeFormat": S, "MarshaledTime": S, "Process": Type::Bool,
        "Appsec": Type::Struct(&APPSEC), "Meta": STR_MAP,
    },
    methods: methods! {
        "GetMeta"(S) -> S, "SetMeta"(S, S) -> Type::Bool, "SetParsed"(S, S) -> Type::Bool,
        "GetType"() -> S, "ParseIPSources"() -> STR_LIST,
    },
};

/// `types.Line` (`evt.Line`).
pub static LINE: StructType = StructType {
    name: "types.Line",
    fields: fields! {
        "Raw": S, "Src": S, "Time": Type::Time, "Labels": STR_MAP, "Process": Type::Bool, "Module": S,
    },
    methods: &[],
};

/// `types.AppsecEvent` (`evt.Appsec`).
pub static APPSEC: StructType = StructType {
    name: "types.AppsecEvent",
    fields: fields! {
        "HasInBandMatches": Type::Bool, "HasOutBandMatches": Type::Bool,
        "MatchedRules": RULES, "Vars": STR_MAP,
    },
    methods: methods! {
        "GetVar"(S) -> S, "GetURI"() -> S, "GetHash"() -> S, "GetVersion"() -> S, "GetName"() -> S,
        "GetMethod"() -> S, "GetRuleIDs"() -> Type::List(&Type::Int), "Kinds"() -> STR_LIST,
        "GetMatchedZones"() -> STR_LIST, "GetField"(S) -> Type::List(&Type::Any),
        "ByID"(Type::Int) -> RULES, "ByKind"(S) -> RULES, "ByTag"(S) -> RULES,
        "ByTags"(STR_LIST) -> RULES, "ByTagRx"(S) -> RULES, "ByDisruptiveness"(Type::Bool) -> RULES,
        "BySeverity"(S) -> RULES, "ByAccuracy"(S) -> RULES,
    },
};

const RULES: Type = Type::List(&Type::Map(&Type::Any));

/// `types.RuntimeAlert` (`evt.Overflow`, `signal`).
pub static RUNTIME_ALERT: StructType = StructType {
    name: "types.RuntimeAlert",
    fields: fields! {
        "Mapkey": S, "BucketId": S, "Whitelisted": Type::Bool, "Reprocess": Type::Bool,
        "Sources": Type::Map(&SOURCE_T), "Alert": Type::Struct(&ALERT), "APIAlerts": Type::List(&ALERT_T),
    },
    methods: methods! { "GetSources"() -> STR_LIST },
};

static SOURCE_T: Type = Type::Struct(&SOURCE);
static ALERT_T: Type = Type::Struct(&ALERT);
static ALERT_EVENT_T: Type = Type::Struct(&ALERT_EVENT);
static META_ITEM_T: Type = Type::Struct(&META_ITEM);
static DECISION_T: Type = Type::Struct(&DECISION);
static EVENT_T: Type = Type::Struct(&EVENT);

/// `models.Alert` (`evt.Overflow.Alert`, profiles' `Alert`).
pub static ALERT: StructType = StructType {
    name: "models.Alert",
    fields: fields! {
        "Capacity": Type::Int, "CreatedAt": S, "Decisions": Type::List(&DECISION_T),
        "Events": Type::List(&ALERT_EVENT_T), "EventsCount": Type::Int, "ID": Type::Int, "Kind": S,
        "Labels": STR_LIST, "Leakspeed": S, "MachineID": S, "Message": S,
        "Meta": Type::List(&META_ITEM_T), "Remediation": Type::Bool, "Scenario": S, "ScenarioHash": S,
        "ScenarioVersion": S, "Simulated": Type::Bool, "Source": Type::Struct(&SOURCE), "StartAt": S,
        "StopAt": S, "UUID": S,
    },
    methods: methods! {
        "GetScope"() -> S, "GetValue"() -> S, "GetScenario"() -> S, "GetEventsCount"() -> Type::Int,
        "GetMeta"(S) -> S,
    },
};

/// `models.Source`.
pub static SOURCE: StructType = StructType {
    name: "models.Source",
    fields: fields! {
        "AsName": S, "AsNumber": S, "Cn": S, "IP": S, "Latitude": Type::Float, "Longitude": Type::Float,
        "Range": S, "Scope": S, "Value": S,
    },
    methods: methods! { "GetScope"() -> S, "GetValue"() -> S, "GetAsNumberName"() -> S },
};

/// `models.Event` (an alert's event).
pub static ALERT_EVENT: StructType = StructType {
    name: "models.Event",
    fields: fields! { "Meta": Type::List(&META_ITEM_T), "Timestamp": S },
    methods: methods! { "GetMeta"(S) -> S },
};

/// `models.MetaItems0`.
pub static META_ITEM: StructType = StructType {
    name: "models.MetaItems0",
    fields: fields! { "Key": S, "Value": S },
    methods: &[],
};

/// `models.Decision`.
pub static DECISION: StructType = StructType {
    name: "models.Decision",
    fields: fields! {
        "Duration": S, "ID": Type::Int, "Origin": S, "Scenario": S, "Scope": S, "Simulated": Type::Bool,
        "Type": S, "Until": S, "UUID": S, "Value": S,
    },
    methods: methods! { "GetScope"() -> S, "GetValue"() -> S, "GetType"() -> S, "GetOrigin"() -> S },
};

/// `parser.ParserResult` (hubtest `results[stage][node][i]`).
pub static PARSER_RESULT: StructType = StructType {
    name: "parser.ParserResult",
    fields: fields! { "Idx": Type::Int, "Evt": Type::Struct(&EVENT), "Success": Type::Bool },
    methods: &[],
};

/// `types.Queue` (`queue`).
pub static QUEUE: StructType = StructType {
    name: "types.Queue",
    fields: fields! { "Queue": Type::List(&EVENT_T), "L": Type::Int },
    methods: &[],
};

/// `leakybucket.Leaky` (`leaky`), exposed fields.
pub static LEAKY: StructType = StructType {
    name: "leakybucket.Leaky",
    fields: fields! {
        "Name": S, "Mapkey": S, "Uuid": S, "First_ts": Type::Time, "Last_ts": Type::Time,
        "Ovflw_ts": Type::Time, "Total_count": Type::Int, "Capacity": Type::Int,
        "Leakspeed": Type::Duration, "Duration": Type::Duration, "Mode": Type::Int,
    },
    methods: &[],
};

fn opt_str(s: &Option<String>) -> Value<'_> {
    s.as_deref().map_or(Value::Nil, Value::str)
}

/// A Go slice field: a nil slice is shown as an empty list so that `len()` is 0, as for Go's
/// typed nil slices.
fn opt_list<T: Object>(v: &Option<Vec<T>>) -> Value<'_> {
    v.as_ref()
        .map_or_else(Value::empty_list, |v| Value::List(List::View(v)))
}

fn string_param(args: &[Value<'_>], i: usize, method: &str) -> Result<String, RuntimeError> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.as_str().to_string()),
        Some(v) => Err(RuntimeError::new(format!(
            "{method}: cannot use {} as type string in argument {}",
            v.type_name(),
            i + 1
        ))),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {method}"
        ))),
    }
}

fn no_method(st: &StructType, index: usize) -> RuntimeError {
    RuntimeError::new(format!("type {} has no method #{index}", st.name))
}

fn addr<T>(v: &T) -> usize {
    std::ptr::from_ref(v) as usize
}

impl Object for Event {
    fn struct_type(&self) -> &'static StructType {
        &EVENT
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::Int(self.r#type.as_int()),
            1 => Value::Int(self.expect_mode.as_int()),
            2 => Value::Bool(self.whitelisted),
            3 => Value::str(&self.whitelist_reason),
            4 => Value::str(&self.stage),
            5 => Value::object(&self.line),
            6 => Value::Map(Map::Strings(&self.parsed)),
            7 => Value::Map(Map::Strings(&self.enriched)),
            8 => Value::Map(Map::Json(&self.unmarshaled)),
            9 => Value::object(&self.overflow),
            10 => Value::Time(self.time),
            11 => Value::str(&self.str_time),
            12 => Value::str(&self.str_time_format),
            13 => Value::str(&self.marshaled_time),
            14 => Value::Bool(self.process),
            15 => Value::object(&self.appsec),
            16 => Value::Map(Map::Strings(&self.meta)),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        cx: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => {
                let key = string_param(args, 0, "GetMeta")?;
                if self.r#type == cs_types::EventType::Log
                    && let Some(v) = cx.pending(addr(&self.meta), &key)
                {
                    return Ok(v);
                }
                Ok(Value::str(self.get_meta(&key)))
            }
            1 | 2 => {
                let name = if index == 1 { "SetMeta" } else { "SetParsed" };
                let key = string_param(args, 0, name)?;
                let value = string_param(args, 1, name)?;
                let target = addr(self);
                cx.push_effect(if index == 1 {
                    Effect::SetMeta { target, key, value }
                } else {
                    Effect::SetParsed { target, key, value }
                });
                Ok(Value::Bool(true))
            }
            3 => Ok(Value::str(self.get_type())),
            4 => Ok(Value::string_list(
                self.parse_ip_sources().iter().map(|ip| ip.to_string()),
            )),
            _ => Err(no_method(&EVENT, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }

    fn str_map_field(&self, index: usize) -> Option<&cs_types::StrMap> {
        match index {
            6 => Some(&self.parsed),
            7 => Some(&self.enriched),
            16 => Some(&self.meta),
            _ => None,
        }
    }
}

impl Object for Line {
    fn struct_type(&self) -> &'static StructType {
        &LINE
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::str(&self.raw),
            1 => Value::str(&self.src),
            2 => Value::Time(self.time),
            3 => Value::Map(Map::Strings(&self.labels)),
            4 => Value::Bool(self.process),
            5 => Value::str(&self.module),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Err(no_method(&LINE, index))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }

    fn str_map_field(&self, index: usize) -> Option<&cs_types::StrMap> {
        (index == 3).then_some(&self.labels)
    }
}

impl Object for AppsecEvent {
    fn struct_type(&self) -> &'static StructType {
        &APPSEC
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::Bool(self.has_in_band_matches),
            1 => Value::Bool(self.has_out_band_matches),
            2 => Value::List(List::View(&self.matched_rules)),
            3 => Value::Map(Map::Strings(&self.vars)),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        type Rule = serde_json::Map<String, serde_json::Value>;
        let rules = &self.matched_rules;
        // Upstream asserts the attribute types of the first rule; a failed assertion is a
        // run-time error there too.
        let first_str = |key: &str| -> Result<Value<'s>, RuntimeError> {
            match rules.first().map(|r| r.get(key)) {
                None => Ok(Value::str("")),
                Some(Some(serde_json::Value::String(v))) => Ok(Value::str(v)),
                Some(_) => Err(RuntimeError::new(format!(
                    "interface conversion: matched rule {key} is not a string"
                ))),
            }
        };
        let tags = |r: &'s Rule| -> Vec<&'s str> {
            r.get("tags")
                .and_then(|t| t.as_array())
                .map_or_else(Vec::new, |t| t.iter().filter_map(|v| v.as_str()).collect())
        };
        let filter = |pred: &dyn Fn(&'s Rule) -> bool| {
            Value::list(
                rules
                    .iter()
                    .filter(|r| pred(r))
                    .map(|r| Value::Map(Map::Json(r)))
                    .collect(),
            )
        };
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let eq_attr = |key: &'static str, want: Value<'s>| {
            move |r: &'s Rule| {
                r.get(key)
                    .is_some_and(|v| crate::ops::equal(&Value::from_json(v), &want))
            }
        };
        match index {
            0 => {
                let name = string_param(args, 0, "GetVar")?;
                Ok(Value::str(
                    self.vars
                        .get(name.as_str())
                        .map_or("", cs_types::Text::as_str),
                ))
            }
            1 => first_str("uri"),
            2 => first_str("hash"),
            3 => first_str("version"),
            4 => first_str("name"),
            5 => first_str("method"),
            6 => Ok(Value::list(
                rules
                    .iter()
                    .map(|r| r.get("id").map_or(Value::Nil, Value::from_json))
                    .collect(),
            )),
            7 | 8 => {
                let mut out: Vec<&'s str> = Vec::new();
                for r in rules {
                    let items: Vec<&'s str> = if index == 7 {
                        r.get("kind").and_then(|k| k.as_str()).into_iter().collect()
                    } else {
                        r.get("matched_zones")
                            .and_then(|z| z.as_array())
                            .map_or_else(Vec::new, |z| {
                                z.iter().filter_map(|v| v.as_str()).collect()
                            })
                    };
                    for it in items {
                        if !out.contains(&it) {
                            out.push(it);
                        }
                    }
                }
                Ok(Value::list(out.into_iter().map(Value::str).collect()))
            }
            9 => {
                let key = string_param(args, 0, "GetField")?;
                Ok(Value::list(
                    rules
                        .iter()
                        .map(|r| r.get(&key).map_or(Value::Nil, Value::from_json))
                        .collect(),
                ))
            }
            10 => Ok(filter(&eq_attr("id", arg(0)))),
            11 => Ok(filter(&eq_attr("kind", arg(0)))),
            12 => {
                let tag = string_param(args, 0, "ByTag")?;
                Ok(filter(&|r| tags(r).contains(&tag.as_str())))
            }
            13 => {
                let wanted: Vec<String> = arg(0).as_list().map_or_else(Vec::new, |l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
                Ok(filter(&|r| {
                    tags(r).iter().any(|t| wanted.iter().any(|w| w == t))
                }))
            }
            14 => {
                let rx = string_param(args, 0, "ByTagRx")?;
                let re = crate::goregex::compile(&rx)
                    .map_err(|e| RuntimeError::new(format!("ByTagRx: {e}")))?;
                Ok(filter(&|r| tags(r).iter().any(|t| re.is_match(t))))
            }
            15 => Ok(filter(&eq_attr("disruptive", arg(0)))),
            16 => Ok(filter(&eq_attr("severity", arg(0)))),
            17 => Ok(filter(&eq_attr("accuracy", arg(0)))),
            _ => Err(no_method(&APPSEC, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for RuntimeAlert {
    fn struct_type(&self) -> &'static StructType {
        &RUNTIME_ALERT
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::str(&self.mapkey),
            1 => Value::str(&self.bucket_id),
            2 => Value::Bool(self.whitelisted),
            3 => Value::Bool(self.reprocess),
            4 => Value::Map(Map::View(&self.sources)),
            5 => self
                .alert
                .as_deref()
                .map_or(Value::Nil, |a| Value::object(a)),
            6 => Value::List(List::View(&self.api_alerts)),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => Ok(Value::list(
                self.sources.keys().map(|k| Value::str(k)).collect(),
            )),
            _ => Err(no_method(&RUNTIME_ALERT, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for Alert {
    fn struct_type(&self) -> &'static StructType {
        &ALERT
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => self
                .capacity
                .map_or(Value::Nil, |c| Value::Int(i64::from(c))),
            1 => Value::str(&self.created_at),
            2 => opt_list(&self.decisions),
            3 => opt_list(&self.events),
            4 => self
                .events_count
                .map_or(Value::Nil, |c| Value::Int(i64::from(c))),
            5 => Value::Int(self.id),
            6 => Value::str(&self.kind),
            7 => self
                .labels
                .as_ref()
                .map_or_else(Value::empty_list, |l| Value::List(List::Strings(l))),
            8 => opt_str(&self.leakspeed),
            9 => Value::str(&self.machine_id),
            10 => opt_str(&self.message),
            11 => Value::List(List::View(&self.meta)),
            12 => Value::Bool(self.remediation),
            13 => opt_str(&self.scenario),
            14 => opt_str(&self.scenario_hash),
            15 => opt_str(&self.scenario_version),
            16 => self.simulated.map_or(Value::Nil, Value::Bool),
            17 => self
                .source
                .as_ref()
                .map_or(Value::Nil, |s| Value::object(s)),
            18 => opt_str(&self.start_at),
            19 => opt_str(&self.stop_at),
            20 => Value::str(&self.uuid),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => Ok(Value::str(self.get_scope())),
            1 => Ok(Value::str(self.get_value())),
            2 => Ok(Value::str(self.get_scenario())),
            3 => Ok(Value::Int(i64::from(self.get_events_count()))),
            4 => Ok(Value::str(
                self.get_meta(&string_param(args, 0, "GetMeta")?),
            )),
            _ => Err(no_method(&ALERT, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for Source {
    fn struct_type(&self) -> &'static StructType {
        &SOURCE
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::str(&self.as_name),
            1 => Value::str(&self.as_number),
            2 => Value::str(&self.cn),
            3 => Value::str(&self.ip),
            4 => Value::Float(f64::from(self.latitude)),
            5 => Value::Float(f64::from(self.longitude)),
            6 => Value::str(&self.range),
            7 => opt_str(&self.scope),
            8 => opt_str(&self.value),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => Ok(Value::str(self.get_scope())),
            1 => Ok(Value::str(self.get_value())),
            2 => Ok(Value::string(self.get_as_number_name())),
            _ => Err(no_method(&SOURCE, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for AlertEvent {
    fn struct_type(&self) -> &'static StructType {
        &ALERT_EVENT
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::List(List::View(&self.meta)),
            1 => opt_str(&self.timestamp),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => match args.first() {
                Some(Value::Str(k)) => Ok(Value::str(self.get_meta(k.as_str()))),
                _ => Err(RuntimeError::new("GetMeta: argument 1 must be a string")),
            },
            _ => Err(no_method(&ALERT_EVENT, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for MetaItem {
    fn struct_type(&self) -> &'static StructType {
        &META_ITEM
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::str(&self.key),
            1 => Value::str(&self.value),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Err(no_method(&META_ITEM, index))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for Decision {
    fn struct_type(&self) -> &'static StructType {
        &DECISION
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => opt_str(&self.duration),
            1 => Value::Int(self.id),
            2 => opt_str(&self.origin),
            3 => opt_str(&self.scenario),
            4 => opt_str(&self.scope),
            5 => self.simulated.map_or(Value::Nil, Value::Bool),
            6 => opt_str(&self.r#type),
            7 => Value::str(&self.until),
            8 => Value::str(&self.uuid),
            9 => opt_str(&self.value),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        match index {
            0 => Ok(Value::str(self.get_scope())),
            1 => Ok(Value::str(self.get_value())),
            2 => Ok(Value::str(self.get_type())),
            3 => Ok(Value::str(self.get_origin())),
            _ => Err(no_method(&DECISION, index)),
        }
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for Queue {
    fn struct_type(&self) -> &'static StructType {
        &QUEUE
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::List(List::View(&self.queue)),
            1 => Value::Int(self.l),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Err(no_method(&QUEUE, index))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl Object for ParserResult {
    fn struct_type(&self) -> &'static StructType {
        &PARSER_RESULT
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::Int(self.idx),
            1 => Value::object(&self.evt),
            2 => Value::Bool(self.success),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Err(no_method(&PARSER_RESULT, index))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Object for Leaky {
    fn struct_type(&self) -> &'static StructType {
        &LEAKY
    }

    fn field(&self, index: usize) -> Value<'_> {
        match index {
            0 => Value::str(&self.name),
            1 => Value::str(&self.mapkey),
            2 => Value::str(&self.uuid),
            3 => Value::Time(self.first_ts),
            4 => Value::Time(self.last_ts),
            5 => Value::Time(self.ovflw_ts),
            6 => Value::Int(self.total_count),
            7 => Value::Int(self.capacity),
            8 => Value::Duration(nanos(self.leakspeed)),
            9 => Value::Duration(nanos(self.duration)),
            10 => Value::Int(self.mode),
            _ => Value::Nil,
        }
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        _: &[Value<'s>],
        _: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Err(no_method(&LEAKY, index))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
}

impl ListView for Vec<serde_json::Map<String, serde_json::Value>> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn get(&self, index: usize) -> Value<'_> {
        self.as_slice()
            .get(index)
            .map_or(Value::Nil, |m| Value::Map(Map::Json(m)))
    }
}

/// Go's `filepath.Base`: last element of a slash-separated path, `.` for an empty path.
pub fn basename(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

impl Environment {
    /// `evt` (*Event): parser filters, statics, whitelists, stash, scenario `filter`,
    /// `groupby`, `distinct`, `cancel_on`, `scope.expression`, acquisition `transform`.
    pub fn event() -> Self {
        let mut env = Self::new();
        env.add_variable("evt", Type::Struct(&EVENT));
        env
    }

    /// `evt`, `queue`, `leaky` (in this slot order): scenario `condition` and bayesian
    /// conditions.
    pub fn scenario_condition() -> Self {
        let mut env = Self::event();
        env.add_variable("queue", Type::Struct(&QUEUE));
        env.add_variable("leaky", Type::Struct(&LEAKY));
        env
    }

    /// `queue`, `signal`, `leaky` (in this slot order): scenario `overflow_filter`.
    pub fn overflow_filter() -> Self {
        let mut env = Self::new();
        env.add_variable("queue", Type::Struct(&QUEUE));
        env.add_variable("signal", Type::Struct(&RUNTIME_ALERT));
        env.add_variable("leaky", Type::Struct(&LEAKY));
        env
    }

    /// `Alert` (*models.Alert): LAPI profiles `filters` and `duration_expr`.
    pub fn alert() -> Self {
        let mut env = Self::new();
        env.add_variable("Alert", Type::Struct(&ALERT));
        env
    }

    /// `results` (any) plus `basename(string) string`: hubtest asserts.
    pub fn hubtest() -> Self {
        let mut env = Self::new();
        env.add_variable("results", Type::Any);
        env.add_function(Function::new(
            "basename",
            Signature::new([Type::String], Type::String),
            |args, _| match &args[0] {
                Value::Str(crate::value::Str::Borrowed(s)) => Ok(Value::str(basename(s))),
                Value::Str(s) => Ok(Value::string(basename(s.as_str()))),
                other => Err(RuntimeError::new(format!(
                    "basename: expected string, got {}",
                    other.type_name()
                ))),
            },
        ));
        env
    }
}

impl Program {
    /// Evaluates an expression of the [`Environment::event`] environment on `evt`, ignoring
    /// side effects.
    pub fn eval_event<'a>(&self, evt: &'a Event) -> Result<Value<'a>, RuntimeError> {
        self.eval(&[Value::object(evt)])
    }

    /// Evaluates on `evt`, hands the result to `f`, then applies side effects (`SetMeta`,
    /// `UnmarshalJSON` into `evt.Unmarshaled`...) to `evt`.
    pub fn run_event<T>(
        &self,
        evt: &mut Event,
        f: impl FnOnce(Value<'_>) -> T,
    ) -> Result<T, RuntimeError> {
        let mut fx = Effects::new();
        let out = {
            let v = self.run(&[Value::object(&*evt)], &mut fx)?;
            f(v)
        };
        fx.apply(evt);
        Ok(out)
    }

    /// Like [`Program::run_event`] for expressions that must return a bool (filters).
    pub fn run_event_bool(&self, evt: &mut Event) -> Result<bool, RuntimeError> {
        let r = self.run_event(evt, |v| v.as_bool().ok_or_else(|| v.type_name()))?;
        r.map_err(|t| {
            RuntimeError::new(format!(
                "expression {:?} returned {t} instead of bool",
                self.source()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        assert_eq!(basename(path), expected, "{path}");
    }

    #[test]
    fn basename_like_go() {
        check("/var/log/auth.log", "auth.log");
        check("auth.log", "auth.log");
        check("/a/b/", "b");
        check("", ".");
        check("///", "/");
    }

    #[test]
    fn appsec_rules() {
        let rules: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(
            r#"[{"id": 1, "name": "r1", "kind": "crowdsec", "tags": ["CVE", "x"], "uri": "/a"},
                {"id": 2, "name": "r2", "kind": "crowdsec", "tags": ["y"]}]"#,
        )
        .unwrap();
        let evt = Event {
            appsec: AppsecEvent {
                matched_rules: rules,
                ..AppsecEvent::default()
            },
            ..Event::default()
        };
        let env = Environment::event();
        let check = |src: &str, expected: &str| {
            let v = crate::compile(src, &env)
                .unwrap()
                .eval_event(&evt)
                .map(|v| crate::format::format_v(&v));
            assert_eq!(v.unwrap_or_else(|e| e.to_string()), expected, "{src}");
        };
        check("evt.Appsec.GetName()", "r1");
        check("evt.Appsec.GetURI()", "/a");
        check("evt.Appsec.GetRuleIDs()", "[1 2]");
        check("evt.Appsec.Kinds()", "[crowdsec]");
        check("len(evt.Appsec.ByTag('CVE'))", "1");
        check("len(evt.Appsec.ByTagRx('^[xy]$'))", "2");
        check("evt.Appsec.ByID(2)[0].name", "r2");
        check("evt.Appsec.GetVar('nope')", "");
    }

    #[test]
    fn struct_descriptions_match_field_counts() {
        let evt = Event::default();
        assert!(matches!(evt.field(EVENT.fields.len()), Value::Nil));
        assert!(matches!(evt.field(EVENT.fields.len() - 1), Value::Map(_)));
        let alert = Alert::default();
        assert!(matches!(alert.field(ALERT.fields.len() - 1), Value::Str(_)));
        assert!(matches!(alert.field(ALERT.fields.len()), Value::Nil));
    }
}
