//! expr-lang v1.17 builtins (`len`, `lower`, `split`, `any`, `map`, `duration`...) and the
//! methods of `time.Time` / `time.Duration`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, Timelike};
use cs_types::GoTime;

use crate::error::{RuntimeError, Span};
use crate::eval::{BuiltinFn, CallContext, Ex, Frame, Node, Pred, R, set_local};
use crate::format::{format_v, parse_duration};
use crate::ops;
use crate::types::{FieldDef, MethodDef, StructType, Type};
use crate::value::{List, Object, Value};

/// A builtin: name, accepted argument counts, static return type, implementation.
pub(crate) struct Builtin {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
    pub ret: Type,
    pub f: BuiltinFn,
}

const ANY_LIST: Type = Type::List(&Type::Any);
const STR_LIST: Type = Type::List(&Type::String);
const ANY_MAP: Type = Type::Map(&Type::Any);
const MANY: usize = usize::MAX;

macro_rules! b {
    ($name:expr, $min:expr, $max:expr, $ret:expr, $f:expr) => {
        Builtin {
            name: $name,
            min: $min,
            max: $max,
            ret: $ret,
            f: $f,
        }
    };
}

pub(crate) static BUILTINS: &[Builtin] = &[
    b!("len", 1, 1, Type::Int, len),
    b!("type", 1, 1, Type::String, type_of),
    b!("abs", 1, 1, Type::Any, abs),
    b!("ceil", 1, 1, Type::Float, |a, _| float_fn(
        a,
        "ceil",
        f64::ceil
    )),
    b!("floor", 1, 1, Type::Float, |a, _| float_fn(
        a,
        "floor",
        f64::floor
    )),
    b!("round", 1, 1, Type::Float, |a, _| float_fn(
        a,
        "round",
        f64::round
    )),
    b!("int", 1, 1, Type::Int, to_int),
    b!("float", 1, 1, Type::Float, to_float),
    b!("string", 1, 1, Type::String, |a, _| Ok(Value::string(
        format_v(&a[0])
    ))),
    b!("trim", 1, 2, Type::String, trim),
    b!("trimPrefix", 2, 2, Type::String, |a, _| {
        let (s, p) = (str_arg(a, 0, "trimPrefix")?, str_arg(a, 1, "trimPrefix")?);
        Ok(Value::string(s.strip_prefix(p).unwrap_or(s)))
    }),
    b!("trimSuffix", 2, 2, Type::String, |a, _| {
        let (s, p) = (str_arg(a, 0, "trimSuffix")?, str_arg(a, 1, "trimSuffix")?);
        Ok(Value::string(s.strip_suffix(p).unwrap_or(s)))
    }),
    b!("upper", 1, 1, Type::String, |a, _| Ok(Value::string(
        str_arg(a, 0, "upper")?.to_uppercase()
    ))),
    b!("lower", 1, 1, Type::String, |a, _| Ok(Value::string(
        str_arg(a, 0, "lower")?.to_lowercase()
    ))),
    b!("split", 2, 3, STR_LIST, |a, _| split(a, false)),
    b!("splitAfter", 2, 3, STR_LIST, |a, _| split(a, true)),
    b!("replace", 3, 3, Type::String, |a, _| {
        let s = str_arg(a, 0, "replace")?;
        Ok(Value::string(go_replace(
            s,
            str_arg(a, 1, "replace")?,
            str_arg(a, 2, "replace")?,
        )))
    }),
    b!("repeat", 2, 2, Type::String, |a, _| {
        let s = str_arg(a, 0, "repeat")?;
        let n = int_arg(a, 1, "repeat")?;
        if n < 0 || (s.len() as i64).saturating_mul(n) > 100_000_000 {
            return Err(RuntimeError::new("strings: invalid Repeat count"));
        }
        Ok(Value::string(s.repeat(n as usize)))
    }),
    b!("join", 1, 2, Type::String, join),
    b!("indexOf", 2, 2, Type::Int, |a, _| {
        let (s, sub) = (str_arg(a, 0, "indexOf")?, str_arg(a, 1, "indexOf")?);
        Ok(Value::Int(s.find(sub).map_or(-1, |i| i as i64)))
    }),
    b!("lastIndexOf", 2, 2, Type::Int, |a, _| {
        let (s, sub) = (str_arg(a, 0, "lastIndexOf")?, str_arg(a, 1, "lastIndexOf")?);
        Ok(Value::Int(s.rfind(sub).map_or(-1, |i| i as i64)))
    }),
    b!("hasPrefix", 2, 2, Type::Bool, |a, _| {
        Ok(Value::Bool(
            str_arg(a, 0, "hasPrefix")?.starts_with(str_arg(a, 1, "hasPrefix")?),
        ))
    }),
    b!("hasSuffix", 2, 2, Type::Bool, |a, _| {
        Ok(Value::Bool(str_arg(a, 0, "hasSuffix")?.ends_with(str_arg(
            a,
            1,
            "hasSuffix",
        )?)))
    }),
    b!("max", 1, MANY, Type::Any, |a, _| min_max(
        a,
        "max",
        std::cmp::Ordering::Greater
    )),
    b!("min", 1, MANY, Type::Any, |a, _| min_max(
        a,
        "min",
        std::cmp::Ordering::Less
    )),
    b!("mean", 1, MANY, Type::Float, mean),
    b!("median", 1, MANY, Type::Float, median),
    b!("toJSON", 1, 1, Type::String, |a, _| {
        serde_json::to_string_pretty(&a[0].to_json())
            .map(Value::string)
            .map_err(|e| RuntimeError::new(e.to_string()))
    }),
    b!("fromJSON", 1, 1, Type::Any, |a, _| {
        let v: serde_json::Value = serde_json::from_str(str_arg(a, 0, "fromJSON")?)
            .map_err(|e| RuntimeError::new(e.to_string()))?;
        Ok(json_to_owned(&v))
    }),
    b!("now", 0, 0, Type::Time, |_, cx| Ok(Value::Time(cx.now()))),
    b!("duration", 1, 1, Type::Duration, |a, _| {
        parse_duration(str_arg(a, 0, "duration")?)
            .map(Value::Duration)
            .map_err(RuntimeError::new)
    }),
    b!("date", 1, 3, Type::Time, date),
    b!("timezone", 1, 1, Type::Any, |a, _| {
        let tz = str_arg(a, 0, "timezone")?;
        if tz == "UTC" || tz == "Local" {
            Ok(Value::string(tz.to_string()))
        } else {
            Err(RuntimeError::new(format!("unknown time zone {tz}")))
        }
    }),
    b!("first", 1, 1, Type::Any, |a, _| Ok(list_arg(
        a, 0, "first"
    )?
    .get(0)
    .unwrap_or_default())),
    b!("last", 1, 1, Type::Any, |a, _| {
        let l = list_arg(a, 0, "last")?;
        Ok(l.len()
            .checked_sub(1)
            .and_then(|i| l.get(i))
            .unwrap_or_default())
    }),
    b!("get", 2, 2, Type::Any, get),
    b!("take", 2, 2, ANY_LIST, |a, _| {
        let l = list_arg(a, 0, "take")?;
        let n = int_arg(a, 1, "take")?.max(0) as usize;
        Ok(Value::list(l.iter().take(n).collect()))
    }),
    b!("keys", 1, 1, STR_LIST, |a, _| {
        let m = map_arg(a, 0, "keys")?;
        Ok(Value::string_list(m.keys().into_iter().map(str::to_string)))
    }),
    b!("values", 1, 1, ANY_LIST, |a, _| {
        let m = map_arg(a, 0, "values")?;
        Ok(Value::list(
            m.keys().into_iter().filter_map(|k| m.get(k)).collect(),
        ))
    }),
    b!("toPairs", 1, 1, ANY_LIST, |a, _| {
        let m = map_arg(a, 0, "toPairs")?;
        Ok(Value::list(
            m.keys()
                .into_iter()
                .map(|k| Value::list(vec![Value::string(k), m.get(k).unwrap_or_default()]))
                .collect(),
        ))
    }),
    b!("fromPairs", 1, 1, ANY_MAP, |a, _| {
        let mut out = BTreeMap::new();
        for pair in list_arg(a, 0, "fromPairs")?.iter() {
            let l = pair.as_list().filter(|l| l.len() == 2).ok_or_else(|| {
                RuntimeError::new("invalid pair in fromPairs: expected a list of two elements")
            })?;
            let k = l.get(0).unwrap_or_default();
            let key = k.as_str().map_or_else(|| format_v(&k), str::to_string);
            out.insert(key, l.get(1).unwrap_or_default());
        }
        Ok(Value::map(out))
    }),
    b!("reverse", 1, 1, ANY_LIST, |a, _| {
        let mut v: Vec<Value<'_>> = list_arg(a, 0, "reverse")?.iter().collect();
        v.reverse();
        Ok(Value::list(v))
    }),
    b!("uniq", 1, 1, ANY_LIST, |a, _| {
        let mut out: Vec<Value<'_>> = Vec::new();
        for v in list_arg(a, 0, "uniq")?.iter() {
            if !out.iter().any(|o| ops::equal(o, &v)) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    }),
    b!("concat", 1, MANY, ANY_LIST, |a, _| {
        let mut out = Vec::new();
        for i in 0..a.len() {
            out.extend(list_arg(a, i, "concat")?.iter());
        }
        Ok(Value::list(out))
    }),
    b!("flatten", 1, 1, ANY_LIST, |a, _| {
        let mut out = Vec::new();
        flatten_into(&a[0], &mut out, 0)?;
        Ok(Value::list(out))
    }),
    b!("sort", 1, 2, ANY_LIST, sort),
    b!("bitand", 2, 2, Type::Int, |a, _| bit2(
        a,
        "bitand",
        |x, y| x & y
    )),
    b!("bitor", 2, 2, Type::Int, |a, _| bit2(a, "bitor", |x, y| x
        | y)),
    b!("bitxor", 2, 2, Type::Int, |a, _| bit2(
        a,
        "bitxor",
        |x, y| x ^ y
    )),
    b!("bitnand", 2, 2, Type::Int, |a, _| bit2(
        a,
        "bitnand",
        |x, y| x & !y
    )),
    b!("bitnot", 1, 1, Type::Int, |a, _| Ok(Value::Int(!int_arg(
        a, 0, "bitnot"
    )?))),
    b!("bitshl", 2, 2, Type::Int, |a, _| bit2(
        a,
        "bitshl",
        |x, y| x.wrapping_shl(y as u32)
    )),
    b!("bitshr", 2, 2, Type::Int, |a, _| bit2(
        a,
        "bitshr",
        |x, y| x.wrapping_shr(y as u32)
    )),
    b!("bitushr", 2, 2, Type::Int, |a, _| {
        bit2(a, "bitushr", |x, y| {
            ((x as u64).wrapping_shr(y as u32)) as i64
        })
    }),
];

/// Looks up a builtin by name.
pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Parameter types of the builtins with typed signatures, checked at compile time when the
/// argument types are known (values of type any are checked at run time).
pub(crate) fn builtin_params(name: &str) -> &'static [Type] {
    const S: Type = Type::String;
    const I: Type = Type::Int;
    match name {
        "upper" | "lower" | "fromJSON" | "duration" | "date" => &[S, S, S],
        "trim" | "trimPrefix" | "trimSuffix" | "indexOf" | "lastIndexOf" | "hasPrefix"
        | "hasSuffix" => &[S, S],
        "split" | "splitAfter" => &[S, S, I],
        "replace" => &[S, S, S],
        "repeat" => &[S, I],
        "join" => &[Type::List(&Type::Any), S],
        "bitand" | "bitor" | "bitxor" | "bitnand" | "bitnot" | "bitshl" | "bitshr" | "bitushr" => {
            &[I, I]
        }
        "keys" | "values" | "toPairs" => &[Type::Map(&Type::Any)],
        "take" => &[Type::List(&Type::Any), I],
        _ => &[],
    }
}

/// Whether `len` accepts a value of static type `t`.
pub(crate) fn has_len(t: Type) -> bool {
    matches!(t, Type::Any | Type::String | Type::List(_) | Type::Map(_))
}

/// Looks up a predicate builtin by name with its accepted argument counts.
pub(crate) fn predicate_kind(name: &str) -> Option<(Pred, usize, usize)> {
    Some(match name {
        "all" => (Pred::All, 2, 2),
        "none" => (Pred::None, 2, 2),
        "any" => (Pred::Any, 2, 2),
        "one" => (Pred::One, 2, 2),
        "filter" => (Pred::Filter, 2, 2),
        "map" => (Pred::Map, 2, 2),
        "find" => (Pred::Find, 2, 2),
        "findIndex" => (Pred::FindIndex, 2, 2),
        "findLast" => (Pred::FindLast, 2, 2),
        "findLastIndex" => (Pred::FindLastIndex, 2, 2),
        "count" => (Pred::Count, 1, 2),
        "sum" => (Pred::Sum, 1, 2),
        "groupBy" => (Pred::GroupBy, 2, 2),
        "sortBy" => (Pred::SortBy, 2, 3),
        "reduce" => (Pred::Reduce, 2, 3),
        _ => return None,
    })
}

/// Static result type of a predicate builtin over a list of `elem`.
pub(crate) fn predicate_type(kind: Pred, list: Type, elem: Type) -> Type {
    match kind {
        Pred::All | Pred::None | Pred::Any | Pred::One => Type::Bool,
        Pred::Filter | Pred::SortBy => match list {
            Type::List(_) => list,
            _ => ANY_LIST,
        },
        Pred::Map => ANY_LIST,
        Pred::Find | Pred::FindLast => elem,
        Pred::FindIndex | Pred::FindLastIndex | Pred::Count => Type::Int,
        Pred::Sum | Pred::Reduce => Type::Any,
        Pred::GroupBy => ANY_MAP,
    }
}

fn arg_err(name: &str, v: &Value<'_>, want: &str) -> RuntimeError {
    RuntimeError::new(format!(
        "invalid argument for {name} (type {}, expected {want})",
        v.type_name()
    ))
}

fn str_arg<'v>(a: &'v [Value<'_>], i: usize, name: &str) -> Result<&'v str, RuntimeError> {
    match a.get(i) {
        Some(Value::Str(s)) => Ok(s.as_str()),
        Some(v) => Err(arg_err(name, v, "string")),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {name}"
        ))),
    }
}

fn int_arg(a: &[Value<'_>], i: usize, name: &str) -> Result<i64, RuntimeError> {
    match a.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(v) => Err(arg_err(name, v, "int")),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {name}"
        ))),
    }
}

fn list_arg<'a>(a: &[Value<'a>], i: usize, name: &str) -> Result<List<'a>, RuntimeError> {
    match a.get(i) {
        Some(Value::List(l)) => Ok(l.clone()),
        Some(Value::Nil) => Ok(List::Values(Arc::new(Vec::new()))),
        Some(v) => Err(arg_err(name, v, "array")),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {name}"
        ))),
    }
}

fn map_arg<'a>(
    a: &[Value<'a>],
    i: usize,
    name: &str,
) -> Result<crate::value::Map<'a>, RuntimeError> {
    match a.get(i) {
        Some(Value::Map(m)) => Ok(m.clone()),
        Some(v) => Err(arg_err(name, v, "map")),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {name}"
        ))),
    }
}

fn len<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    Ok(Value::Int(match &a[0] {
        Value::Str(s) => s.as_str().len() as i64,
        Value::List(l) => l.len() as i64,
        Value::Map(m) => m.len() as i64,
        v => {
            return Err(RuntimeError::new(format!(
                "invalid argument for len (type {})",
                v.type_name()
            )));
        }
    }))
}

fn type_of<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    Ok(Value::str(match &a[0] {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::Time(_) => "time.Time",
        Value::Duration(_) => "time.Duration",
        Value::List(_) => "array",
        Value::Map(_) => "map",
        Value::Object(_) => "struct",
    }))
}

fn abs<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(i.wrapping_abs())),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        v => Err(arg_err("abs", v, "number")),
    }
}

fn float_fn<'a>(a: &[Value<'a>], name: &str, f: fn(f64) -> f64) -> Result<Value<'a>, RuntimeError> {
    match a[0].as_f64() {
        Some(x) => Ok(Value::Float(f(x))),
        None => Err(arg_err(name, &a[0], "number")),
    }
}

fn to_int<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        // Go float → int conversion truncates toward zero; out-of-range saturates here.
        Value::Float(f) => Ok(Value::Int(*f as i64)),
        Value::Duration(d) => Ok(Value::Int(*d)),
        Value::Str(s) => go_atoi(s.as_str()).map(Value::Int),
        v => Err(RuntimeError::new(format!(
            "invalid operation: int({})",
            v.type_name()
        ))),
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, no spaces or underscores.
pub(crate) fn go_atoi(s: &str) -> Result<i64, RuntimeError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RuntimeError::new(format!(
            "strconv.Atoi: parsing {s:?}: invalid syntax"
        )));
    }
    s.parse::<i64>()
        .map_err(|_| RuntimeError::new(format!("strconv.Atoi: parsing {s:?}: value out of range")))
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms Go accepts (decimal, exponent, `inf`,
/// `nan`, underscores are rejected).
pub(crate) fn go_parse_float(s: &str) -> Result<f64, RuntimeError> {
    let err = || RuntimeError::new(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"));
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    if !special
        && (body.is_empty()
            || !body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')))
    {
        return Err(err());
    }
    s.parse::<f64>().map_err(|_| err())
}

fn to_float<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Str(s) => go_parse_float(s.as_str()).map(Value::Float),
        v => Err(RuntimeError::new(format!(
            "invalid operation: float({})",
            v.type_name()
        ))),
    }
}

fn trim<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let s = str_arg(a, 0, "trim")?;
    if a.len() == 1 {
        return Ok(Value::string(s.trim_matches(|c: char| c.is_whitespace())));
    }
    let cut = str_arg(a, 1, "trim")?;
    Ok(Value::string(s.trim_matches(|c: char| cut.contains(c))))
}

/// Go's `strings.Replace(s, old, new, -1)` including the empty `old` case (insert around
/// every UTF-8 sequence).
pub(crate) fn go_replace(s: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return s.replace(old, new);
    }
    let mut out = String::with_capacity(s.len() + new.len() * (s.len() + 1));
    out.push_str(new);
    for c in s.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `strings.SplitN` / `SplitAfterN` (n < 0: all; n == 0: nil; empty sep: UTF-8 chars).
pub fn go_split(s: &str, sep: &str, n: i64, after: bool) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && (n as usize) < chars.len() {
            let mut out: Vec<String> = chars[..n as usize - 1].to_vec();
            out.push(chars[n as usize - 1..].concat());
            return out;
        }
        return chars;
    }
    let mut out = Vec::new();
    let mut rest = s;
    while n < 0 || (out.len() as i64) < n - 1 {
        let Some(i) = rest.find(sep) else { break };
        let end = if after { i + sep.len() } else { i };
        out.push(rest[..end].to_string());
        rest = &rest[i + sep.len()..];
    }
    out.push(rest.to_string());
    out
}

fn split<'a>(a: &[Value<'a>], after: bool) -> Result<Value<'a>, RuntimeError> {
    let name = if after { "splitAfter" } else { "split" };
    let s = str_arg(a, 0, name)?;
    let sep = str_arg(a, 1, name)?;
    let n = if a.len() > 2 {
        int_arg(a, 2, name)?
    } else {
        -1
    };
    Ok(Value::string_list(go_split(s, sep, n, after)))
}

fn join<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let l = list_arg(a, 0, "join")?;
    let sep = if a.len() > 1 {
        str_arg(a, 1, "join")?
    } else {
        ""
    };
    let mut out = String::new();
    for (i, v) in l.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        match v.as_str() {
            Some(s) => out.push_str(s),
            None => return Err(arg_err("join", &v, "string elements")),
        }
    }
    Ok(Value::string(out))
}

fn numbers<'a>(a: &[Value<'a>], name: &str) -> Result<Vec<Value<'a>>, RuntimeError> {
    let mut out = Vec::new();
    for v in a {
        match v {
            Value::List(l) => {
                for item in l.iter() {
                    out.extend(numbers(&[item], name)?);
                }
            }
            Value::Int(_) | Value::Float(_) => out.push(v.clone()),
            other => return Err(arg_err(name, other, "number")),
        }
    }
    Ok(out)
}

fn min_max<'a>(
    a: &[Value<'a>],
    name: &str,
    want: std::cmp::Ordering,
) -> Result<Value<'a>, RuntimeError> {
    let nums = numbers(a, name)?;
    let mut best: Option<Value<'a>> = None;
    for v in nums {
        best = Some(match best {
            None => v,
            Some(b) => {
                if ops::compare(&v, &b, name)? == Some(want) {
                    v
                } else {
                    b
                }
            }
        });
    }
    Ok(best.unwrap_or_default())
}

fn mean<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let nums: Vec<f64> = numbers(a, "mean")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if nums.is_empty() {
        return Ok(Value::Float(0.0));
    }
    Ok(Value::Float(nums.iter().sum::<f64>() / nums.len() as f64))
}

fn median<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let mut nums: Vec<f64> = numbers(a, "median")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if nums.is_empty() {
        return Ok(Value::Float(0.0));
    }
    nums.sort_by(f64::total_cmp);
    let n = nums.len();
    Ok(Value::Float(if n.is_multiple_of(2) {
        (nums[n / 2 - 1] + nums[n / 2]) / 2.0
    } else {
        nums[n / 2]
    }))
}

/// An owned value decoded from JSON (numbers are float64, as Go decodes them).
fn json_to_owned(v: &serde_json::Value) -> Value<'static> {
    Value::from_json(v).into_static()
}

fn date<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let s = str_arg(a, 0, "date")?;
    if a.len() > 1 {
        return Err(RuntimeError::new("date: custom layouts are not supported"));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .map(|n| n.and_utc().fixed_offset())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .fixed_offset()
            })
        })
        .map_err(|_| RuntimeError::new(format!("cannot parse {s:?} as date")))?;
    Ok(Value::Time(parsed))
}

fn get<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    // `get` never fails: absent keys, out-of-range indexes and wrong types give nil.
    Ok(match (&a[0], &a[1]) {
        (Value::Map(m), Value::Str(k)) => m.get(k.as_str()).unwrap_or_default(),
        (Value::List(l), Value::Int(i)) => {
            let idx = if *i < 0 { *i + l.len() as i64 } else { *i };
            if idx < 0 {
                Value::Nil
            } else {
                l.get(idx as usize).unwrap_or_default()
            }
        }
        (Value::Object(o), Value::Str(k)) => ops::object_field(o, k.as_str()).unwrap_or_default(),
        _ => Value::Nil,
    })
}

fn flatten_into<'a>(
    v: &Value<'a>,
    out: &mut Vec<Value<'a>>,
    depth: usize,
) -> Result<(), RuntimeError> {
    if depth > 64 {
        return Err(RuntimeError::new("flatten: nesting too deep"));
    }
    match v {
        Value::List(l) => {
            for item in l.iter() {
                flatten_into(&item, out, depth + 1)?;
            }
            Ok(())
        }
        other if depth == 0 => Err(arg_err("flatten", other, "array")),
        other => {
            out.push(other.clone());
            Ok(())
        }
    }
}

fn sort_order(a: &[Value<'_>], i: usize, name: &str) -> Result<bool, RuntimeError> {
    match a.get(i) {
        None => Ok(false),
        Some(Value::Str(s)) if s.as_str() == "asc" => Ok(false),
        Some(Value::Str(s)) if s.as_str() == "desc" => Ok(true),
        Some(v) => Err(RuntimeError::new(format!(
            "{name}: unknown order {}",
            format_v(v)
        ))),
    }
}

fn sort_values<'a>(items: &mut [(Value<'a>, Value<'a>)], desc: bool) -> Result<(), RuntimeError> {
    let mut err = None;
    items.sort_by(|x, y| match ops::compare(&x.0, &y.0, "sort") {
        Ok(o) => {
            let o = o.unwrap_or(std::cmp::Ordering::Equal);
            if desc { o.reverse() } else { o }
        }
        Err(e) => {
            err.get_or_insert(e);
            std::cmp::Ordering::Equal
        }
    });
    err.map_or(Ok(()), Err)
}

fn sort<'a>(a: &[Value<'a>], _: &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError> {
    let l = list_arg(a, 0, "sort")?;
    let desc = sort_order(a, 1, "sort")?;
    let mut items: Vec<(Value<'a>, Value<'a>)> = l.iter().map(|v| (v.clone(), v)).collect();
    sort_values(&mut items, desc)?;
    Ok(Value::list(items.into_iter().map(|(_, v)| v).collect()))
}

fn bit2<'a>(
    a: &[Value<'a>],
    name: &str,
    f: fn(i64, i64) -> i64,
) -> Result<Value<'a>, RuntimeError> {
    Ok(Value::Int(f(int_arg(a, 0, name)?, int_arg(a, 1, name)?)))
}

pub(crate) fn pred_bool(v: Value<'_>, span: Span) -> Result<bool, Ex> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(Ex::Err(
            RuntimeError::new(format!(
                "predicate should return boolean, got {}",
                other.type_name()
            ))
            .with_span(span),
        )),
    }
}

/// Evaluates a predicate builtin: the closure body runs with `#` = element (slot),
/// `#index` = position (slot + 1) and `#acc` = accumulator (slot + 2).
pub(crate) fn predicate<'a>(
    kind: Pred,
    list: Value<'a>,
    body: Option<&Node>,
    slot: usize,
    extra: Option<&Node>,
    span: Span,
    fr: &mut Frame<'a, '_>,
) -> R<'a> {
    let l = match list {
        Value::List(l) => l,
        Value::Nil => List::Values(Arc::new(Vec::new())),
        other => {
            return Err(Ex::Err(
                RuntimeError::new(format!("cannot iterate over {}", other.type_name()))
                    .with_span(span),
            ));
        }
    };
    let n = l.len();
    let call = |fr: &mut Frame<'a, '_>, i: usize, item: Value<'a>| -> R<'a> {
        set_local(fr, slot, item.clone());
        set_local(fr, slot + 1, Value::Int(i as i64));
        match body {
            Some(b) => b.eval(fr),
            None => Ok(item),
        }
    };
    match kind {
        Pred::All | Pred::Any | Pred::None | Pred::One => {
            let mut count = 0usize;
            for (i, item) in l.iter().enumerate() {
                let r = pred_bool(call(fr, i, item)?, span)?;
                match kind {
                    Pred::All if !r => return Ok(Value::Bool(false)),
                    Pred::Any if r => return Ok(Value::Bool(true)),
                    Pred::None if r => return Ok(Value::Bool(false)),
                    Pred::One if r => {
                        count += 1;
                        if count > 1 {
                            return Ok(Value::Bool(false));
                        }
                    }
                    _ => {}
                }
            }
            Ok(Value::Bool(match kind {
                Pred::All | Pred::None => true,
                Pred::Any => false,
                _ => count == 1,
            }))
        }
        Pred::Filter => {
            let mut out = Vec::new();
            for (i, item) in l.iter().enumerate() {
                if pred_bool(call(fr, i, item.clone())?, span)? {
                    out.push(item);
                }
            }
            Ok(Value::list(out))
        }
        Pred::Map => {
            let mut out = Vec::with_capacity(n);
            for (i, item) in l.iter().enumerate() {
                out.push(call(fr, i, item)?);
            }
            Ok(Value::list(out))
        }
        Pred::Find | Pred::FindIndex => {
            for (i, item) in l.iter().enumerate() {
                if pred_bool(call(fr, i, item.clone())?, span)? {
                    return Ok(if kind == Pred::Find {
                        item
                    } else {
                        Value::Int(i as i64)
                    });
                }
            }
            Ok(if kind == Pred::Find {
                Value::Nil
            } else {
                Value::Int(-1)
            })
        }
        Pred::FindLast | Pred::FindLastIndex => {
            for i in (0..n).rev() {
                let item = l.get(i).unwrap_or_default();
                if pred_bool(call(fr, i, item.clone())?, span)? {
                    return Ok(if kind == Pred::FindLast {
                        item
                    } else {
                        Value::Int(i as i64)
                    });
                }
            }
            Ok(if kind == Pred::FindLast {
                Value::Nil
            } else {
                Value::Int(-1)
            })
        }
        Pred::Count => {
            let mut count = 0;
            for (i, item) in l.iter().enumerate() {
                if pred_bool(call(fr, i, item)?, span)? {
                    count += 1;
                }
            }
            Ok(Value::Int(count))
        }
        Pred::Sum => {
            let mut acc = Value::Int(0);
            for (i, item) in l.iter().enumerate() {
                let v = call(fr, i, item)?;
                acc = ops::arith("+", &acc, &v).map_err(|e| Ex::Err(e.with_span(span)))?;
            }
            Ok(acc)
        }
        Pred::GroupBy => {
            let mut groups: BTreeMap<String, Vec<Value<'a>>> = BTreeMap::new();
            for (i, item) in l.iter().enumerate() {
                let k = call(fr, i, item.clone())?;
                let key = k.as_str().map_or_else(|| format_v(&k), str::to_string);
                groups.entry(key).or_default().push(item);
            }
            Ok(Value::map(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::list(v)))
                    .collect(),
            ))
        }
        Pred::SortBy => {
            let desc = match extra {
                Some(e) => {
                    let order = e.eval(fr)?;
                    sort_order(&[order], 0, "sortBy").map_err(|e| Ex::Err(e.with_span(span)))?
                }
                None => false,
            };
            let mut items = Vec::with_capacity(n);
            for (i, item) in l.iter().enumerate() {
                items.push((call(fr, i, item.clone())?, item));
            }
            sort_values(&mut items, desc).map_err(|e| Ex::Err(e.with_span(span)))?;
            Ok(Value::list(items.into_iter().map(|(_, v)| v).collect()))
        }
        Pred::Reduce => {
            let (mut acc, start) = match extra {
                Some(e) => (e.eval(fr)?, 0),
                None => match l.get(0) {
                    Some(first) => (first, 1),
                    None => return Ok(Value::Nil),
                },
            };
            for i in start..n {
                set_local(fr, slot + 2, acc);
                let item = l.get(i).unwrap_or_default();
                acc = call(fr, i, item)?;
            }
            Ok(acc)
        }
    }
}

/// Methods of `time.Time` visible to expressions, for static checks.
pub(crate) static TIME_METHODS: &[MethodDef] = &[
    MethodDef {
        name: "Hour",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Minute",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Second",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Nanosecond",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Day",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Month",
        params: &[],
        ret: Type::Struct(&MONTH),
    },
    MethodDef {
        name: "Year",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "YearDay",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Weekday",
        params: &[],
        ret: Type::Struct(&WEEKDAY),
    },
    MethodDef {
        name: "Unix",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "UnixMilli",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "UnixNano",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "UTC",
        params: &[],
        ret: Type::Time,
    },
    MethodDef {
        name: "Local",
        params: &[],
        ret: Type::Time,
    },
    MethodDef {
        name: "String",
        params: &[],
        ret: Type::String,
    },
    MethodDef {
        name: "IsZero",
        params: &[],
        ret: Type::Bool,
    },
    MethodDef {
        name: "Before",
        params: &[Type::Time],
        ret: Type::Bool,
    },
    MethodDef {
        name: "After",
        params: &[Type::Time],
        ret: Type::Bool,
    },
    MethodDef {
        name: "Equal",
        params: &[Type::Time],
        ret: Type::Bool,
    },
    MethodDef {
        name: "Sub",
        params: &[Type::Time],
        ret: Type::Duration,
    },
    MethodDef {
        name: "Add",
        params: &[Type::Duration],
        ret: Type::Time,
    },
];

/// Methods of `time.Duration` visible to expressions.
pub(crate) static DURATION_METHODS: &[MethodDef] = &[
    MethodDef {
        name: "Hours",
        params: &[],
        ret: Type::Float,
    },
    MethodDef {
        name: "Minutes",
        params: &[],
        ret: Type::Float,
    },
    MethodDef {
        name: "Seconds",
        params: &[],
        ret: Type::Float,
    },
    MethodDef {
        name: "Milliseconds",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Microseconds",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "Nanoseconds",
        params: &[],
        ret: Type::Int,
    },
    MethodDef {
        name: "String",
        params: &[],
        ret: Type::String,
    },
];

static NAMED_INT_METHODS: &[MethodDef] = &[MethodDef {
    name: "String",
    params: &[],
    ret: Type::String,
}];
static NAMED_INT_FIELDS: &[FieldDef] = &[];

/// `time.Weekday`.
pub(crate) static WEEKDAY: StructType = StructType {
    name: "time.Weekday",
    fields: NAMED_INT_FIELDS,
    methods: NAMED_INT_METHODS,
};
/// `time.Month`.
pub(crate) static MONTH: StructType = StructType {
    name: "time.Month",
    fields: NAMED_INT_FIELDS,
    methods: NAMED_INT_METHODS,
};

/// A Go named integer type with a `String()` method (`time.Weekday`, `time.Month`).
struct NamedInt {
    ty: &'static StructType,
    name: &'static str,
}

impl Object for NamedInt {
    fn struct_type(&self) -> &'static StructType {
        self.ty
    }

    fn field(&self, _index: usize) -> Value<'_> {
        Value::Nil
    }

    fn call_method<'s>(
        &'s self,
        _index: usize,
        _args: &[Value<'s>],
        _cx: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        Ok(Value::str(self.name))
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        Arc::new(NamedInt {
            ty: self.ty,
            name: self.name,
        })
    }
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn time_arg(args: &[Value<'_>], name: &str) -> Result<GoTime, RuntimeError> {
    match args.first() {
        Some(Value::Time(t)) => Ok(*t),
        Some(v) => Err(arg_err(name, v, "time.Time")),
        None => Err(RuntimeError::new(format!(
            "not enough arguments to call {name}"
        ))),
    }
}

pub(crate) fn time_method<'a>(
    t: &GoTime,
    name: &str,
    args: &[Value<'a>],
) -> Result<Value<'a>, RuntimeError> {
    Ok(match name {
        "Hour" => Value::Int(i64::from(t.hour())),
        "Minute" => Value::Int(i64::from(t.minute())),
        "Second" => Value::Int(i64::from(t.second())),
        "Nanosecond" => Value::Int(i64::from(t.nanosecond())),
        "Day" => Value::Int(i64::from(t.day())),
        "Month" => Value::shared_object(Arc::new(NamedInt {
            ty: &MONTH,
            name: MONTHS[t.month0() as usize],
        })),
        "Year" => Value::Int(i64::from(t.year())),
        "YearDay" => Value::Int(i64::from(t.ordinal())),
        "Weekday" => Value::shared_object(Arc::new(NamedInt {
            ty: &WEEKDAY,
            name: WEEKDAYS[t.weekday().num_days_from_sunday() as usize],
        })),
        "Unix" => Value::Int(t.timestamp()),
        "UnixMilli" => Value::Int(t.timestamp_millis()),
        "UnixNano" => Value::Int(t.timestamp_nanos_opt().unwrap_or(i64::MIN)),
        "UTC" | "Local" => Value::Time(t.to_utc().fixed_offset()),
        "String" => Value::string(crate::format::format_time(t)),
        "IsZero" => Value::Bool(*t == cs_types::zero_time()),
        "Before" => Value::Bool(*t < time_arg(args, name)?),
        "After" => Value::Bool(*t > time_arg(args, name)?),
        "Equal" => Value::Bool(*t == time_arg(args, name)?),
        "Sub" => Value::Duration(
            (*t - time_arg(args, name)?)
                .num_nanoseconds()
                .unwrap_or(i64::MAX),
        ),
        "Add" => match args.first() {
            Some(Value::Duration(d)) => Value::Time(*t + chrono::TimeDelta::nanoseconds(*d)),
            Some(v) => return Err(arg_err(name, v, "time.Duration")),
            None => return Err(RuntimeError::new("not enough arguments to call Add")),
        },
        _ => {
            return Err(RuntimeError::new(format!(
                "type time.Time has no method {name}"
            )));
        }
    })
}

pub(crate) fn duration_method<'a>(
    d: i64,
    name: &str,
    _args: &[Value<'a>],
) -> Result<Value<'a>, RuntimeError> {
    Ok(match name {
        "Hours" => Value::Float(d as f64 / 3.6e12),
        "Minutes" => Value::Float(d as f64 / 6e10),
        "Seconds" => Value::Float(d as f64 / 1e9),
        "Milliseconds" => Value::Int(d / 1_000_000),
        "Microseconds" => Value::Int(d / 1_000),
        "Nanoseconds" => Value::Int(d),
        "String" => Value::string(crate::format::format_duration(d)),
        _ => {
            return Err(RuntimeError::new(format!(
                "type time.Duration has no method {name}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, sep: &str, n: i64, expected: &[&str]) {
        assert_eq!(
            go_split(input, sep, n, false),
            expected,
            "split({input:?}, {sep:?}, {n})"
        );
    }

    #[test]
    fn split_like_go() {
        check("a,b,c", ",", -1, &["a", "b", "c"]);
        check("", ",", -1, &[""]);
        check("a,b,c", ",", 2, &["a", "b,c"]);
        check("abc", "", -1, &["a", "b", "c"]);
        check("a,b", ",", 0, &[]);
        assert_eq!(go_split("a,b", ",", -1, true), vec!["a,", "b"]);
    }

    #[test]
    fn conversions_like_go() {
        assert_eq!(go_atoi("-12").unwrap(), -12);
        assert!(go_atoi(" 1").is_err());
        assert!(go_atoi("1.0").is_err());
        assert!(go_atoi("1_000").is_err());
        assert_eq!(go_parse_float("1e3").unwrap(), 1000.0);
        assert!(go_parse_float("1_0").is_err());
        assert!(go_parse_float("").is_err());
        assert_eq!(go_replace("ab", "", "-"), "-a-b-");
    }
}
