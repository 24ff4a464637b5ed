//! Registration of every helper into an expression [`Environment`] with the typed signatures
//! upstream gives them (a statically mismatched argument is a compile error; a value of type
//! `any` is checked when called and a mismatch is a runtime error).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use cs_expr::{
    AsciiCase, CallContext, Environment, Function, RuntimeError, Signature, Str, Type, Value,
};

use crate::datafile::DataFiles;
use crate::geoip::GeoIp;
use crate::resolver::{DecisionCounter, NoResolver, Resolver};
use crate::stash::Stash;
use crate::xml::XmlPath;
use crate::{gofmt, json, kv, net, strings, time, url};

const STR: Type = Type::String;
const INT: Type = Type::Int;
const FLOAT: Type = Type::Float;
const BOOL: Type = Type::Bool;
const ANY: Type = Type::Any;
const DURATION: Type = Type::Duration;
const STR_LIST: Type = Type::List(&Type::String);
const ANY_LIST: Type = Type::List(&Type::Any);
const TIME_LIST: Type = Type::List(&Type::Time);
const ANY_MAP: Type = Type::Map(&Type::Any);
const QUERY_MAP: Type = Type::Map(&Type::List(&Type::String));

/// Compiled XML paths kept by [`Helpers`].
const MAX_CACHED_XML_PATHS: usize = 1024;

/// A key/value parser behind `ParseKV`/`ParseKVLax`.
type KvParser = fn(&str) -> Option<Vec<(String, String)>>;

/// Shared state the helpers read: data files, stash caches, GeoIP databases, the resolver and
/// (in LAPI profiles) the decision counter. Cheap to clone (everything is behind `Arc`).
#[derive(Clone, Debug)]
pub struct Helpers {
    data_files: Arc<DataFiles>,
    stash: Arc<Stash>,
    geoip: Arc<RwLock<Arc<GeoIp>>>,
    resolver: Arc<dyn Resolver>,
    decisions: Option<Arc<dyn DecisionCounter>>,
    xml_paths: Arc<RwLock<BTreeMap<String, Option<Arc<XmlPath>>>>>,
}

impl Default for Helpers {
    fn default() -> Self {
        Self::new()
    }
}

impl Helpers {
    /// Helpers with no data file, no stash cache, no GeoIP database, no resolver and no
    /// database.
    pub fn new() -> Self {
        Self {
            data_files: Arc::new(DataFiles::new()),
            stash: Arc::new(Stash::new()),
            geoip: Arc::new(RwLock::new(Arc::new(GeoIp::empty()))),
            resolver: Arc::new(NoResolver),
            decisions: None,
            xml_paths: Arc::new(RwLock::new(BTreeMap::new())),
        }
    }

    /// Use `resolver` for `LookupHost`.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Use `counter` for the `GetDecisionsCount` family (LAPI profiles).
    pub fn with_decisions(mut self, counter: Arc<dyn DecisionCounter>) -> Self {
        self.decisions = Some(counter);
        self
    }

    /// The data files `File`, `RegexpInFile`, `FileMap` and `LookupFile` read; load them with
    /// [`DataFiles::load`] (also after expressions were compiled).
    pub fn data_files(&self) -> &Arc<DataFiles> {
        &self.data_files
    }

    /// The stash caches (`GetFromStash`, `SetInStash`, parser `stash:` entries).
    pub fn stash(&self) -> &Arc<Stash> {
        &self.stash
    }

    /// The GeoIP databases currently in use.
    pub fn geoip(&self) -> Arc<GeoIp> {
        self.geoip
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace the GeoIP databases (at startup or on reload).
    pub fn set_geoip(&self, geoip: GeoIp) {
        *self
            .geoip
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(geoip);
    }

    /// The resolver.
    pub fn resolver(&self) -> &Arc<dyn Resolver> {
        &self.resolver
    }

    fn xml_path(&self, path: &str) -> Option<Arc<XmlPath>> {
        if let Some(p) = self
            .xml_paths
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path)
        {
            return p.clone();
        }
        let compiled = XmlPath::compile(path).map(Arc::new);
        if compiled.is_none() {
            tracing::error!(path, "could not compile XML path");
        }
        let mut cache = self
            .xml_paths
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Paths are constants in practice; a bound keeps paths built from event data from
        // growing the cache forever.
        if cache.len() >= MAX_CACHED_XML_PATHS {
            cache.clear();
        }
        cache.insert(path.to_owned(), compiled.clone());
        compiled
    }

    /// Register every helper into `env`.
    pub fn register(&self, env: &mut Environment) {
        register_strings(env);
        register_json(env);
        register_net(self, env);
        register_data(self, env);
        register_time(self, env);
        register_misc(self, env);
        for name in TIMELESS {
            env.set_timeless(name);
        }
    }
}

/// Helpers that are not pure but whose result depends only on their arguments and on data
/// loaded with the configuration (data files, GeoIP databases). Not among them: those that
/// read the clock, the network, the LAPI or the stash, or write to the log.
const TIMELESS: &[&str] = &[
    "Replace",
    "Join",
    "Get",
    "ToString",
    "B64Decode",
    "Atof",
    "FloatApproxEqual",
    "Sprintf",
    "ParseUri",
    "ParseQuery",
    "JsonExtractSlice",
    "JsonExtractObject",
    "ToJsonString",
    "UnmarshalJSON",
    "GeoIPEnrich",
    "GeoIPASNEnrich",
    "IPToCountry",
    "GeoIPRangeEnrich",
    "Distance",
    "File",
    "RegexpInFile",
    "FileMap",
    "LookupFile",
    "XMLGetNodeValue",
    "XMLGetAttributeValue",
    "JA4H",
    "KeyExists",
    "Flatten",
    "FlattenDistinct",
    "Distinct",
];

/// Register every helper of `helpers` into `env` (same as [`Helpers::register`]).
pub fn register(env: &mut Environment, helpers: &Helpers) {
    helpers.register(env);
}

fn type_error(fname: &str, i: usize, want: &str, got: &Value<'_>) -> RuntimeError {
    RuntimeError::new(format!(
        "cannot use {} as argument {} (type {want}) to call {fname}",
        got.type_name(),
        i + 1
    ))
}

fn arg<'v, 'a>(
    args: &'v [Value<'a>],
    i: usize,
    fname: &str,
) -> Result<&'v Value<'a>, RuntimeError> {
    args.get(i)
        .ok_or_else(|| RuntimeError::new(format!("not enough arguments to call {fname}")))
}

fn s<'v>(args: &'v [Value<'_>], i: usize, fname: &str) -> Result<&'v str, RuntimeError> {
    let v = arg(args, i, fname)?;
    v.as_str().ok_or_else(|| type_error(fname, i, "string", v))
}

fn int(args: &[Value<'_>], i: usize, fname: &str) -> Result<i64, RuntimeError> {
    let v = arg(args, i, fname)?;
    v.as_int().ok_or_else(|| type_error(fname, i, "int", v))
}

fn float(args: &[Value<'_>], i: usize, fname: &str) -> Result<f64, RuntimeError> {
    let v = arg(args, i, fname)?;
    v.as_f64().ok_or_else(|| type_error(fname, i, "float64", v))
}

fn string_items(args: &[Value<'_>], i: usize, fname: &str) -> Result<Vec<String>, RuntimeError> {
    let v = arg(args, i, fname)?;
    let list = v
        .as_list()
        .ok_or_else(|| type_error(fname, i, "[]string", v))?;
    list.iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| type_error(fname, i, "[]string", v))
        })
        .collect()
}

/// Owned expression value of decoded JSON, with Go's `encoding/json` types: every number is a
/// `float64`.
pub fn json_to_value(v: serde_json::Value) -> Value<'static> {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::string(s),
        serde_json::Value::Array(a) => Value::list(a.into_iter().map(json_to_value).collect()),
        serde_json::Value::Object(m) => {
            Value::map(m.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
    }
}

/// Go's `json.Unmarshal` into `any` makes every number a `float64`: rewrite integers as floats
/// so that `evt.Unmarshaled` holds what upstream would hold (`type()` is "float", `%` fails).
pub fn go_json_numbers(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Number(n) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Number(n), serde_json::Value::Number),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(go_json_numbers).collect())
        }
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, go_json_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A `map[string][]string`: a missing key yields an empty list (Go's nil slice, of length 0).
fn query_map(values: url::QueryValues) -> Value<'static> {
    Value::map_with_zero(
        values
            .into_iter()
            .map(|(k, v)| (k, Value::string_list(v)))
            .collect(),
        Value::list(Vec::new()),
    )
}

/// Shorthand: a function of string arguments returning a string.
fn str_fn<const N: usize>(env: &mut Environment, name: &'static str, f: fn([&str; N]) -> String) {
    env.add_function(
        Function::new(name, Signature::new(vec![STR; N], STR), move |args, _cx| {
            let mut a = [""; N];
            for (i, slot) in a.iter_mut().enumerate() {
                *slot = s(args, i, name)?;
            }
            Ok(Value::string(f(a)))
        })
        .pure(),
    );
}

/// Shorthand: Go's `strings.ToUpper`/`ToLower` as `f`, which maps ASCII text with `case`.
fn case_fn(env: &mut Environment, name: &'static str, case: AsciiCase, f: fn(&str) -> String) {
    env.add_function(
        Function::new(name, Signature::new([STR], STR), move |args, _cx| {
            Ok(Value::string(f(s(args, 0, name)?)))
        })
        .ascii_case(case),
    );
}

/// Shorthand: a function of one string that often returns it unchanged (unescaping text
/// without escapes); the argument is then passed on instead of copied.
fn cow_fn(env: &mut Environment, name: &'static str, f: for<'x> fn(&'x str) -> Cow<'x, str>) {
    env.add_function(
        Function::new(name, Signature::new([STR], STR), move |args, _cx| {
            Ok(match arg(args, 0, name)? {
                Value::Str(Str::Borrowed(text)) => match f(text) {
                    Cow::Borrowed(part) => Value::Str(Str::Borrowed(part)),
                    Cow::Owned(out) => Value::string(out),
                },
                Value::Str(Str::Shared(text)) => match f(text) {
                    Cow::Borrowed(part) if part.len() == text.len() => {
                        Value::Str(Str::Shared(text.clone()))
                    }
                    out => Value::string(out.into_owned()),
                },
                other => return Err(type_error(name, 0, "string", other)),
            })
        })
        .pure(),
    );
}

/// Shorthand: a function returning a part of its first string argument (the optional second
/// one is a string too). The result borrows from the argument instead of copying it.
fn substr_fn(
    env: &mut Environment,
    name: &'static str,
    arity: usize,
    f: for<'x> fn(&'x str, &str) -> &'x str,
) {
    env.add_function(
        Function::new(
            name,
            Signature::new(vec![STR; arity], STR),
            move |args, _cx| {
                let second = if arity > 1 { s(args, 1, name)? } else { "" };
                Ok(match arg(args, 0, name)? {
                    Value::Str(Str::Borrowed(text)) => Value::Str(Str::Borrowed(f(text, second))),
                    Value::Str(Str::Shared(text)) => {
                        let part = f(text, second);
                        if part.len() == text.len() {
                            Value::Str(Str::Shared(text.clone()))
                        } else {
                            Value::string(part)
                        }
                    }
                    other => return Err(type_error(name, 0, "string", other)),
                })
            },
        )
        .pure(),
    );
}

/// Shorthand: a function of string arguments returning a bool.
fn bool_fn<const N: usize>(env: &mut Environment, name: &'static str, f: fn([&str; N]) -> bool) {
    env.add_function(
        Function::new(
            name,
            Signature::new(vec![STR; N], BOOL),
            move |args, _cx| {
                let mut a = [""; N];
                for (i, slot) in a.iter_mut().enumerate() {
                    *slot = s(args, i, name)?;
                }
                Ok(Value::Bool(f(a)))
            },
        )
        .pure(),
    );
}

/// Shorthand: a function of string arguments returning a `[]string`.
fn list_fn<const N: usize>(
    env: &mut Environment,
    name: &'static str,
    f: fn([&str; N]) -> Vec<String>,
) {
    env.add_function(
        Function::new(
            name,
            Signature::new(vec![STR; N], STR_LIST),
            move |args, _cx| {
                let mut a = [""; N];
                for (i, slot) in a.iter_mut().enumerate() {
                    *slot = s(args, i, name)?;
                }
                Ok(Value::string_list(f(a)))
            },
        )
        .pure(),
    );
}

fn register_strings(env: &mut Environment) {
    case_fn(env, "Upper", AsciiCase::Upper, strings::upper);
    case_fn(env, "Lower", AsciiCase::Lower, strings::lower);
    substr_fn(env, "TrimSpace", 1, |x, _| strings::trim_space(x));
    substr_fn(env, "Trim", 2, strings::trim);
    substr_fn(env, "TrimLeft", 2, strings::trim_left);
    substr_fn(env, "TrimRight", 2, strings::trim_right);
    substr_fn(env, "TrimPrefix", 2, strings::trim_prefix);
    substr_fn(env, "TrimSuffix", 2, strings::trim_suffix);
    str_fn(env, "ReplaceAll", |[x, o, n]| x.replace(o, n));
    cow_fn(env, "QueryUnescape", url::query_unescape);
    cow_fn(env, "PathUnescape", url::path_unescape);
    str_fn(env, "QueryEscape", |[x]| url::query_escape(x));
    str_fn(env, "PathEscape", |[x]| url::path_escape(x));
    bool_fn(env, "Match", |[p, n]| strings::glob_match(p, n));
    list_fn(env, "Split", |[x, sep]| strings::split(x, sep));
    list_fn(env, "SplitAfter", |[x, sep]| strings::split_after(x, sep));
    list_fn(env, "Fields", |[x]| strings::fields(x));
    for (name, f) in [
        (
            "SplitN",
            strings::split_n as fn(&str, &str, i64) -> Vec<String>,
        ),
        ("SplitAfterN", strings::split_after_n),
    ] {
        env.add_function(Function::new(
            name,
            Signature::new([STR, STR, INT], STR_LIST),
            move |args, _cx| {
                Ok(Value::string_list(f(
                    s(args, 0, name)?,
                    s(args, 1, name)?,
                    int(args, 2, name)?,
                )))
            },
        ));
    }
    for (name, f) in [
        ("Index", strings::index as fn(&str, &str) -> i64),
        ("IndexAny", strings::index_any),
    ] {
        env.add_function(Function::new(
            name,
            Signature::new([STR, STR], INT),
            move |args, _cx| Ok(Value::Int(f(s(args, 0, name)?, s(args, 1, name)?))),
        ));
    }
    env.add_function(Function::new(
        "Replace",
        Signature::new([STR, STR, STR, INT], STR),
        |args, _cx| {
            let n = "Replace";
            Ok(Value::string(strings::replace(
                s(args, 0, n)?,
                s(args, 1, n)?,
                s(args, 2, n)?,
                int(args, 3, n)?,
            )))
        },
    ));
    env.add_function(Function::new(
        "Join",
        Signature::new([STR_LIST, STR], STR),
        |args, _cx| {
            Ok(Value::string(
                string_items(args, 0, "Join")?.join(s(args, 1, "Join")?),
            ))
        },
    ));
    env.add_function(Function::new(
        "Get",
        Signature::new([STR_LIST, INT], STR),
        |args, _cx| {
            let items = string_items(args, 0, "Get")?;
            let i = int(args, 1, "Get")?;
            match usize::try_from(i) {
                Ok(i) => Ok(Value::string(items.get(i).cloned().unwrap_or_default())),
                // Go indexes the slice with a negative number and panics.
                Err(_) => Err(RuntimeError::new(format!("index out of range [{i}]"))),
            }
        },
    ));
    env.add_function(Function::new(
        "ToString",
        Signature::new([ANY], STR),
        |args, _cx| {
            // Only strings convert; anything else gives "" (upstream's type assertion).
            Ok(match arg(args, 0, "ToString")? {
                Value::Str(x) => Value::Str(x.clone()),
                _ => Value::str(""),
            })
        },
    ));
    env.add_function(Function::new(
        "B64Decode",
        Signature::new([STR], STR),
        |args, _cx| {
            strings::b64_decode(s(args, 0, "B64Decode")?)
                .map(Value::string)
                .map_err(|e| RuntimeError::new(format!("illegal base64 data: {e}")))
        },
    ));
    env.add_function(Function::new(
        "Atof",
        Signature::new([STR], FLOAT),
        |args, _cx| {
            let x = s(args, 0, "Atof")?;
            let f = strings::parse_go_float(x).unwrap_or_else(|| {
                tracing::warn!(input = x, "Atof: can't convert float");
                0.0
            });
            Ok(Value::Float(f))
        },
    ));
    env.add_function(Function::new(
        "FloatApproxEqual",
        Signature::new([FLOAT, FLOAT], BOOL),
        |args, _cx| {
            let (a, b) = (
                float(args, 0, "FloatApproxEqual")?,
                float(args, 1, "FloatApproxEqual")?,
            );
            Ok(Value::Bool((a - b).abs() < 1e-6))
        },
    ));
    env.add_function(Function::new(
        "Sprintf",
        Signature::variadic([STR], ANY, STR),
        |args, _cx| {
            let format = s(args, 0, "Sprintf")?;
            Ok(Value::string(gofmt::sprintf(format, &args[1..])))
        },
    ));
    env.add_function(Function::new(
        "LogInfo",
        Signature::variadic([STR], ANY, BOOL),
        |args, _cx| {
            let format = s(args, 0, "LogInfo")?;
            tracing::info!("{}", gofmt::sprintf(format, &args[1..]));
            Ok(Value::Bool(true))
        },
    ));
    env.add_function(Function::new(
        "ParseUri",
        Signature::new([STR], QUERY_MAP),
        |args, _cx| Ok(query_map(url::parse_uri(s(args, 0, "ParseUri")?))),
    ));
    env.add_function(Function::new(
        "ParseQuery",
        Signature::new([STR], QUERY_MAP),
        |args, _cx| Ok(query_map(url::parse_query(s(args, 0, "ParseQuery")?))),
    ));
    list_fn(env, "ExtractQueryParam", |[u, p]| {
        url::extract_query_param(u, p)
    });
}

fn register_json(env: &mut Environment) {
    env.add_function(
        Function::new(
            "JsonExtract",
            Signature::new([STR, STR], STR),
            |args, _cx| {
                Ok(Value::string(json::json_extract(
                    s(args, 0, "JsonExtract")?,
                    s(args, 1, "JsonExtract")?,
                )))
            },
        )
        .pure(),
    );
    for (name, f) in [
        (
            "JsonExtractUnescape",
            json::json_extract_unescape as fn(&str, &[&str]) -> String,
        ),
        ("JsonExtractLib", json::json_extract_lib),
    ] {
        env.add_function(Function::new(
            name,
            Signature::variadic([STR], STR, STR),
            move |args, _cx| {
                let doc = s(args, 0, name)?;
                let keys = (1..args.len())
                    .map(|i| s(args, i, name))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::string(f(doc, &keys)))
            },
        ));
    }
    env.add_function(Function::new(
        "JsonExtractSlice",
        Signature::new([STR, STR], ANY_LIST),
        |args, _cx| {
            let n = "JsonExtractSlice";
            Ok(
                json::json_extract_decoded(s(args, 0, n)?, s(args, 1, n)?, json::JsonKind::Array)
                    .map_or(Value::Nil, json_to_value),
            )
        },
    ));
    env.add_function(Function::new(
        "JsonExtractObject",
        Signature::new([STR, STR], ANY_MAP),
        |args, _cx| {
            let n = "JsonExtractObject";
            Ok(
                json::json_extract_decoded(s(args, 0, n)?, s(args, 1, n)?, json::JsonKind::Object)
                    .map_or(Value::Nil, json_to_value),
            )
        },
    ));
    env.add_function(Function::new(
        "ToJsonString",
        Signature::new([ANY], STR),
        |args, _cx| {
            let v = arg(args, 0, "ToJsonString")?;
            Ok(Value::string(gofmt::to_json(v).unwrap_or_else(|| {
                tracing::error!("ToJsonString: unsupported value");
                String::new()
            })))
        },
    ));
    env.add_function(Function::new(
        "UnmarshalJSON",
        Signature::new([STR, ANY_MAP, STR], ANY),
        |args, cx| {
            let n = "UnmarshalJSON";
            let (doc, key) = (s(args, 0, n)?, s(args, 2, n)?);
            let decoded: serde_json::Value = serde_json::from_str(doc)
                .map_err(|e| RuntimeError::new(format!("UnmarshalJSON: {e}")))?;
            cx.insert_into(arg(args, 1, n)?, key, go_json_numbers(decoded))?;
            Ok(Value::Nil)
        },
    ));
    for (name, parse) in [
        (
            "ParseKV",
            kv::parse_kv as fn(&str) -> Option<Vec<(String, String)>>,
        ),
        ("ParseKVLax", kv::parse_kv_lax),
    ] {
        env.add_function(Function::new(
            name,
            Signature::new([STR, ANY_MAP, STR], ANY),
            move |args, cx| parse_kv_into(name, parse, args, cx),
        ));
    }
}

/// `ParseKV`/`ParseKVLax`: `target[prefix]` becomes the string map of the pairs, merged into
/// an existing string map; an existing entry of another type is an error.
fn parse_kv_into<'a>(
    name: &str,
    parse: KvParser,
    args: &[Value<'a>],
    cx: &mut CallContext<'_>,
) -> Result<Value<'a>, RuntimeError> {
    let blob = s(args, 0, name)?;
    let target = arg(args, 1, name)?;
    let prefix = s(args, 2, name)?;
    let pairs =
        parse(blob).ok_or_else(|| RuntimeError::new(format!("{name}: invalid input format")))?;
    let mut merged = serde_json::Map::new();
    if let Some(existing) = target.as_map().and_then(|m| m.get(prefix)) {
        let not_strings =
            || RuntimeError::new(format!("{name}: target is not a map[string]string"));
        let m = existing.as_map().ok_or_else(not_strings)?;
        for k in m.keys() {
            let v = m.get(k).unwrap_or_default();
            let v = v.as_str().ok_or_else(not_strings)?;
            merged.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
    }
    for (k, v) in pairs {
        merged.insert(k, serde_json::Value::String(v));
    }
    cx.insert_into(target, prefix, serde_json::Value::Object(merged))?;
    Ok(Value::Nil)
}

/// The IP argument of the `GeoIP*Enrich` helpers: upstream hands Go's nil IP of an unparsable
/// address to the reader, which fails the expression.
fn geo_ip(fname: &str, args: &[Value<'_>]) -> Result<IpAddr, RuntimeError> {
    let text = s(args, 0, fname)?;
    net::parse_go_ip(text)
        .ok_or_else(|| RuntimeError::new(format!("{fname}: invalid IP address {text:?}")))
}

fn city_value(rec: crate::geoip::CityRecord) -> Value<'static> {
    let m = |pairs: Vec<(&str, Value<'static>)>| {
        Value::map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let names = |name: String| {
        m(if name.is_empty() {
            vec![]
        } else {
            vec![("en", Value::string(name))]
        })
    };
    let country = |iso: String, eu: bool| {
        m(vec![
            ("IsoCode", Value::string(iso)),
            ("IsInEuropeanUnion", Value::Bool(eu)),
        ])
    };
    m(vec![
        ("City", m(vec![("Names", names(rec.city_name))])),
        (
            "Continent",
            m(vec![("Code", Value::string(rec.continent_code))]),
        ),
        (
            "Country",
            country(rec.country_iso_code, rec.country_is_in_eu),
        ),
        (
            "RegisteredCountry",
            country(
                rec.registered_country_iso_code,
                rec.registered_country_is_in_eu,
            ),
        ),
        (
            "RepresentedCountry",
            country(
                rec.represented_country_iso_code,
                rec.represented_country_is_in_eu,
            ),
        ),
        (
            "Location",
            m(vec![
                ("Latitude", Value::Float(rec.latitude)),
                ("Longitude", Value::Float(rec.longitude)),
                ("AccuracyRadius", Value::Int(i64::from(rec.accuracy_radius))),
                ("TimeZone", Value::string(rec.time_zone)),
            ]),
        ),
        ("Postal", m(vec![("Code", Value::string(rec.postal_code))])),
    ])
}

fn register_net(h: &Helpers, env: &mut Environment) {
    bool_fn(env, "IpInRange", |[ip, cidr]| net::ip_in_range(ip, cidr));
    bool_fn(env, "IsIP", |[ip]| net::is_ip(ip));
    bool_fn(env, "IsIPV4", |[ip]| net::is_ipv4(ip));
    bool_fn(env, "IsIPV6", |[ip]| net::is_ipv6(ip));
    str_fn(env, "IpToRange", |[ip, mask]| net::ip_to_range(ip, mask));
    let resolver = h.resolver.clone();
    env.add_function(Function::new(
        "LookupHost",
        Signature::new([STR], STR_LIST),
        move |args, _cx| {
            Ok(Value::string_list(resolver.lookup_host(s(
                args,
                0,
                "LookupHost",
            )?)))
        },
    ));
    let geo = h.geoip.clone();
    let current = move || {
        geo.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    let g = current.clone();
    env.add_function(Function::new(
        "GeoIPEnrich",
        Signature::new([STR], ANY),
        move |args, _cx| {
            let ip = geo_ip("GeoIPEnrich", args)?;
            Ok(g().city(ip).map_or(Value::Nil, city_value))
        },
    ));
    let g = current.clone();
    env.add_function(Function::new(
        "GeoIPASNEnrich",
        Signature::new([STR], ANY),
        move |args, _cx| {
            let ip = geo_ip("GeoIPASNEnrich", args)?;
            Ok(g().asn(ip).map_or(Value::Nil, |rec| {
                let mut m = BTreeMap::new();
                m.insert(
                    "AutonomousSystemNumber".to_owned(),
                    Value::Int(i64::from(rec.number)),
                );
                m.insert(
                    "AutonomousSystemOrganization".to_owned(),
                    Value::string(rec.organization),
                );
                Value::map(m)
            }))
        },
    ));
    let g = current.clone();
    env.add_function(Function::new(
        "IPToCountry",
        Signature::new([STR], STR),
        move |args, _cx| {
            let ip = net::parse_go_ip(s(args, 0, "IPToCountry")?);
            let rec = ip.and_then(|ip| g().city(ip)).unwrap_or_default();
            Ok(Value::string(rec.iso_code()))
        },
    ));
    let g = current;
    env.add_function(Function::new(
        "GeoIPRangeEnrich",
        Signature::new([STR], ANY),
        move |args, _cx| {
            let ip = geo_ip("GeoIPRangeEnrich", args)?;
            Ok(g().asn_network(ip).map_or(Value::Nil, Value::string))
        },
    ));
    env.add_function(Function::new(
        "Distance",
        Signature::new([STR, STR, STR, STR], FLOAT),
        |args, _cx| {
            let n = "Distance";
            time::distance(
                s(args, 0, n)?,
                s(args, 1, n)?,
                s(args, 2, n)?,
                s(args, 3, n)?,
            )
            .map(Value::Float)
            .map_err(RuntimeError::new)
        },
    ));
}

fn register_data(h: &Helpers, env: &mut Environment) {
    let files = h.data_files.clone();
    env.add_function(Function::new(
        "File",
        Signature::new([STR], STR_LIST),
        move |args, _cx| {
            let name = s(args, 0, "File")?;
            Ok(match files.strings(name) {
                Some(list) => list.value(),
                None => {
                    tracing::error!(file = name, "file (type:string) not found in expr library");
                    Value::list(Vec::new())
                }
            })
        },
    ));
    let files = h.data_files.clone();
    env.add_function(Function::new(
        "RegexpInFile",
        Signature::new([STR, STR], BOOL),
        move |args, _cx| {
            let (data, name) = (s(args, 0, "RegexpInFile")?, s(args, 1, "RegexpInFile")?);
            Ok(Value::Bool(match files.regexes(name) {
                Some(list) => list.is_match(data),
                None => {
                    tracing::error!(file = name, "file (type:regexp) not found in expr library");
                    false
                }
            }))
        },
    ));
    let files = h.data_files.clone();
    env.add_function(Function::new(
        "FileMap",
        Signature::new([STR], Type::List(&Type::Map(&Type::String))),
        move |args, _cx| {
            let name = s(args, 0, "FileMap")?;
            Ok(match files.map(name) {
                Some(map) => Value::list(
                    map.rows()
                        .iter()
                        .map(|row| {
                            Value::map(
                                row.iter()
                                    .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
                                    .collect(),
                            )
                        })
                        .collect(),
                ),
                None => {
                    tracing::error!(file = name, "file (type:map) not found in expr library");
                    Value::list(Vec::new())
                }
            })
        },
    ));
    let files = h.data_files.clone();
    env.add_function(Function::new(
        "LookupFile",
        Signature::new([STR, STR], STR),
        move |args, _cx| {
            let (haystack, name) = (s(args, 0, "LookupFile")?, s(args, 1, "LookupFile")?);
            Ok(match files.map(name) {
                Some(map) => Value::string(map.lookup(haystack).unwrap_or("")),
                None => {
                    tracing::error!(file = name, "file (type:map) not found in expr library");
                    Value::str("")
                }
            })
        },
    ));
    let stash = h.stash.clone();
    env.add_function(Function::new(
        "GetFromStash",
        Signature::new([STR, STR], STR),
        move |args, cx| {
            let (cache, key) = (s(args, 0, "GetFromStash")?, s(args, 1, "GetFromStash")?);
            Ok(Value::string(
                stash.get(cache, key, cx.now().to_utc()).unwrap_or_default(),
            ))
        },
    ));
    let stash = h.stash.clone();
    env.add_function(Function::new(
        "SetInStash",
        Signature::new([STR, STR, STR, ANY], ANY),
        move |args, cx| {
            let n = "SetInStash";
            let ttl = match arg(args, 3, n)? {
                Value::Nil => None,
                Value::Duration(d) => Some(chrono::Duration::nanoseconds(*d)),
                other => return Err(type_error(n, 3, "*time.Duration", other)),
            };
            stash.set(
                s(args, 0, n)?,
                s(args, 1, n)?,
                s(args, 2, n)?,
                ttl,
                cx.now().to_utc(),
            );
            Ok(Value::Nil)
        },
    ));
    let this = h.clone();
    env.add_function(Function::new(
        "XMLGetNodeValue",
        Signature::new([STR, STR], STR),
        move |args, _cx| {
            let (doc, path) = (
                s(args, 0, "XMLGetNodeValue")?,
                s(args, 1, "XMLGetNodeValue")?,
            );
            Ok(Value::string(
                this.xml_path(path)
                    .map_or_else(String::new, |p| crate::xml::get_node_value(doc, &p)),
            ))
        },
    ));
    let this = h.clone();
    env.add_function(Function::new(
        "XMLGetAttributeValue",
        Signature::new([STR, STR, STR], STR),
        move |args, _cx| {
            let n = "XMLGetAttributeValue";
            let (doc, path, attr) = (s(args, 0, n)?, s(args, 1, n)?, s(args, 2, n)?);
            Ok(Value::string(
                this.xml_path(path).map_or_else(String::new, |p| {
                    crate::xml::get_attribute_value(doc, &p, attr)
                }),
            ))
        },
    ));
}

fn times(args: &[Value<'_>], fname: &str) -> Result<Vec<cs_types::GoTime>, RuntimeError> {
    let v = arg(args, 0, fname)?;
    let list = v
        .as_list()
        .ok_or_else(|| RuntimeError::new(format!("{fname} expects a slice of times")))?;
    list.iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Time(t) => Ok(t),
            _ => Err(RuntimeError::new(format!(
                "element at index {i} is not a time.Time"
            ))),
        })
        .collect()
}

fn register_time(h: &Helpers, env: &mut Environment) {
    for (name, f, what) in [
        (
            "AverageInterval",
            time::average_interval as fn(Vec<cs_types::GoTime>) -> Option<i64>,
            "an average interval",
        ),
        ("MedianInterval", time::median_interval, "a median"),
    ] {
        env.add_function(
            Function::new(
                name,
                Signature::new([TIME_LIST], DURATION),
                move |args, _cx| {
                    f(times(args, name)?).map(Value::Duration).ok_or_else(|| {
                        RuntimeError::new(format!("need at least two times to calculate {what}"))
                    })
                },
            )
            .with_overload(Signature::new([ANY_LIST], DURATION)),
        );
    }
    env.add_function(Function::new(
        "TimeNow",
        Signature::new([], STR),
        |_args, cx| {
            Ok(Value::string(
                cx.now()
                    .to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ))
        },
    ));
    str_fn(env, "ParseUnix", |[x]| time::parse_unix(x));
    let decisions = h.decisions.clone();
    let count = move |fname: &str,
                      value: &str,
                      since: Option<i64>,
                      active: bool|
          -> Result<i64, RuntimeError> {
        match &decisions {
            None => {
                tracing::error!("no database config to call {fname}()");
                Ok(0)
            }
            Some(db) => Ok(db.count(value, since, active).unwrap_or_else(|e| {
                tracing::error!(value, error = %e, "failed to count decisions");
                0
            })),
        }
    };
    let c = count.clone();
    env.add_function(Function::new(
        "GetDecisionsCount",
        Signature::new([STR], INT),
        move |args, _cx| {
            Ok(Value::Int(c(
                "GetDecisionsCount",
                s(args, 0, "GetDecisionsCount")?,
                None,
                false,
            )?))
        },
    ));
    let c = count.clone();
    env.add_function(Function::new(
        "GetActiveDecisionsCount",
        Signature::new([STR], INT),
        move |args, _cx| {
            Ok(Value::Int(c(
                "GetActiveDecisionsCount",
                s(args, 0, "GetActiveDecisionsCount")?,
                None,
                true,
            )?))
        },
    ));
    let c = count;
    env.add_function(Function::new(
        "GetDecisionsSinceCount",
        Signature::new([STR, STR], INT),
        move |args, _cx| {
            let n = "GetDecisionsSinceCount";
            let (value, since) = (s(args, 0, n)?, s(args, 1, n)?);
            match parse_duration_with_days(since) {
                Some(nanos) => Ok(Value::Int(c(n, value, Some(nanos), false)?)),
                None => {
                    tracing::error!(since, "failed to parse since parameter");
                    Ok(Value::Int(0))
                }
            }
        },
    ));
    let decisions = h.decisions.clone();
    env.add_function(Function::new(
        "GetActiveDecisionsTimeLeft",
        Signature::new([STR], DURATION),
        move |args, _cx| {
            let value = s(args, 0, "GetActiveDecisionsTimeLeft")?;
            match &decisions {
                None => Ok(Value::Duration(0)),
                Some(db) => db
                    .time_left(value)
                    .map(Value::Duration)
                    .map_err(RuntimeError::new),
            }
        },
    ));
}

/// Go duration with an extra `d` (24h) unit, as CrowdSec's `ParseDurationWithDays`.
pub fn parse_duration_with_days(s: &str) -> Option<i64> {
    if let Some(days) = s.strip_suffix('d') {
        let days: i64 = days.parse().ok()?;
        return days.checked_mul(24 * 3_600_000_000_000);
    }
    cs_expr::format::parse_duration(s).ok()
}

fn flatten_into<'a>(out: &mut Vec<Value<'a>>, v: &Value<'a>, depth: usize) {
    match v {
        Value::List(l) if depth < 64 => {
            for item in l.iter() {
                flatten_into(out, &item, depth + 1);
            }
        }
        other => out.push(other.clone()),
    }
}

fn distinct<'a>(items: Vec<Value<'a>>) -> Value<'a> {
    let mut out: Vec<Value<'a>> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Value::list(out)
}

fn register_misc(_h: &Helpers, env: &mut Environment) {
    // Only the AppSec console context calls JA4H, on the HTTP request of a WAF event. There is
    // no such request here, so the helper exists for those context files to load, and calling
    // it fails like any helper given an unusable argument.
    env.add_function(Function::new(
        "JA4H",
        Signature::new([ANY], STR),
        |_args, _cx| {
            Err(RuntimeError::new(
                "JA4H: needs an AppSec HTTP request, which this build does not provide",
            ))
        },
    ));
    env.add_function(Function::new(
        "KeyExists",
        Signature::new([STR, ANY_MAP], BOOL),
        |args, _cx| {
            let key = s(args, 0, "KeyExists")?;
            let v = arg(args, 1, "KeyExists")?;
            let m = v
                .as_map()
                .ok_or_else(|| type_error("KeyExists", 1, "map[string]interface {}", v))?;
            Ok(Value::Bool(m.contains_key(key)))
        },
    ));
    env.add_function(Function::new(
        "Hostname",
        Signature::new([], STR),
        |_args, _cx| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|h| Value::string(h.trim()))
                .map_err(|e| RuntimeError::new(format!("hostname: {e}")))
        },
    ));
    env.add_function(Function::new(
        "Flatten",
        Signature::variadic([], ANY, ANY_LIST),
        |args, _cx| {
            let mut out = Vec::new();
            for a in args {
                flatten_into(&mut out, a, 0);
            }
            Ok(Value::list(out))
        },
    ));
    env.add_function(Function::new(
        "FlattenDistinct",
        Signature::variadic([], ANY, ANY_LIST),
        |args, _cx| {
            let mut out = Vec::new();
            for a in args {
                flatten_into(&mut out, a, 0);
            }
            Ok(distinct(out))
        },
    ));
    env.add_function(Function::new(
        "Distinct",
        Signature::variadic([], ANY, ANY),
        |args, _cx| {
            Ok(match args.first() {
                Some(Value::List(l)) => distinct(l.iter().collect()),
                Some(_) => Value::Nil,
                None => return Err(RuntimeError::new("not enough arguments to call Distinct")),
            })
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeless_helpers_are_registered_impure_ones() {
        let mut env = Environment::event();
        Helpers::new().register(&mut env);
        for name in TIMELESS {
            let f = env
                .function(name)
                .unwrap_or_else(|| panic!("{name} is not registered"));
            assert!(!f.is_pure(), "{name} is pure, hence timeless already");
        }
        let timeless = |src: &str| cs_expr::compile(src, &env).unwrap().is_timeless();
        assert!(timeless("any(File('x.txt'), {evt.Meta.a contains #})"));
        assert!(timeless("RegexpInFile(Upper(evt.Meta.a), 'x.txt')"));
        assert!(!timeless("len(LookupHost(evt.Meta.source_ip)) > 0"));
        assert!(!timeless("GetDecisionsCount(evt.Meta.source_ip) > 0"));
        assert!(!timeless("GetFromStash('cache', evt.Meta.a) == ''"));
    }

    /// Every helper of upstream's registry (`pkg/exprhelpers/expr_lib.go`) except those the
    /// crate documents as left out.
    const UPSTREAM: &[&str] = &[
        "Flatten",
        "Distinct",
        "FlattenDistinct",
        "Distance",
        "GetFromStash",
        "Atof",
        "JsonExtract",
        "JsonExtractUnescape",
        "JsonExtractLib",
        "JsonExtractSlice",
        "JsonExtractObject",
        "ToJsonString",
        "File",
        "RegexpInFile",
        "Upper",
        "Lower",
        "IpInRange",
        "TimeNow",
        "ParseUri",
        "ParseQuery",
        "ExtractQueryParam",
        "PathUnescape",
        "QueryUnescape",
        "PathEscape",
        "QueryEscape",
        "XMLGetAttributeValue",
        "XMLGetNodeValue",
        "IpToRange",
        "IsIPV6",
        "IsIPV4",
        "IsIP",
        "LookupHost",
        "GetDecisionsCount",
        "GetActiveDecisionsCount",
        "GetActiveDecisionsTimeLeft",
        "GetDecisionsSinceCount",
        "Sprintf",
        "ParseUnix",
        "SetInStash",
        "Fields",
        "Index",
        "IndexAny",
        "Join",
        "Split",
        "SplitAfter",
        "SplitAfterN",
        "SplitN",
        "Replace",
        "ReplaceAll",
        "Trim",
        "TrimLeft",
        "TrimRight",
        "TrimSpace",
        "TrimPrefix",
        "TrimSuffix",
        "Get",
        "ToString",
        "Match",
        "KeyExists",
        "LogInfo",
        "B64Decode",
        "UnmarshalJSON",
        "ParseKV",
        "ParseKVLax",
        "Hostname",
        "FloatApproxEqual",
        "GeoIPEnrich",
        "GeoIPASNEnrich",
        "GeoIPRangeEnrich",
        "JA4H",
        "AverageInterval",
        "MedianInterval",
        "FileMap",
        "LookupFile",
    ];

    fn check(name: &str, registered: bool) {
        let mut env = Environment::new();
        Helpers::new().register(&mut env);
        assert_eq!(env.function(name).is_some(), registered, "{name}");
    }

    #[test]
    fn registers_upstream_helpers() {
        for name in UPSTREAM {
            check(name, true);
        }
        for left_out in [
            "CrowdsecCTI",
            "LibInjectionIsSQLI",
            "LibInjectionIsXSS",
            "IsAnomalous",
        ] {
            check(left_out, false);
        }
    }

    #[test]
    fn days_in_durations() {
        assert_eq!(
            parse_duration_with_days("2d"),
            Some(2 * 24 * 3_600_000_000_000)
        );
        assert_eq!(parse_duration_with_days("90m"), Some(90 * 60_000_000_000));
        assert_eq!(parse_duration_with_days("x"), None);
    }

    #[test]
    fn json_numbers_become_floats() {
        let v = go_json_numbers(serde_json::json!({"a": [1, 2.5, {"b": -3}], "s": "1"}));
        assert_eq!(
            v,
            serde_json::json!({"a": [1.0, 2.5, {"b": -3.0}], "s": "1"})
        );
        assert!(v["a"][0].is_f64());
    }
}
