//! Operator semantics of expr-lang over Go values: equality, ordering, arithmetic, `in`.

use std::cmp::Ordering;

use crate::error::RuntimeError;
use crate::value::{Map, Obj, Value};

/// Go/expr `==`: numbers by value across kinds, strings/bools/times/durations by value, lists
/// and maps deeply, objects by identity, `nil == nil`; any other mix is `false`.
pub fn equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(x), Value::Float(y)) => (*x as f64) == *y,
        (Value::Float(x), Value::Int(y)) => *x == (*y as f64),
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.as_str() == y.as_str(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equal(&p, &q))
        }
        (Value::Map(x), Value::Map(y)) => {
            let kx = x.keys();
            kx == y.keys()
                && kx.iter().all(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => equal(&p, &q),
                    _ => false,
                })
        }
        (Value::Object(x), Value::Object(y)) => x.addr() == y.addr(),
        _ => false,
    }
}

/// Orders two operands of `<`, `>`, `<=`, `>=` (numbers across kinds, strings by bytes, times,
/// durations); `None` when unordered (a NaN operand), an error for other types.
pub fn compare(a: &Value<'_>, b: &Value<'_>, op: &str) -> Result<Option<Ordering>, RuntimeError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.as_str().cmp(y.as_str()))),
        (Value::Time(x), Value::Time(y)) => Ok(Some(x.cmp(y))),
        (Value::Duration(x), Value::Duration(y)) => Ok(Some(x.cmp(y))),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Ok(x.partial_cmp(&y)),
            _ => Err(mismatched(op, a, b)),
        },
    }
}

/// Applies a comparison operator; unordered operands (NaN) make it false, as in Go.
pub fn compare_op(a: &Value<'_>, b: &Value<'_>, op: &str) -> Result<bool, RuntimeError> {
    Ok(compare(a, b, op)?.is_some_and(|o| match op {
        "<" => o == Ordering::Less,
        ">" => o == Ordering::Greater,
        "<=" => o != Ordering::Greater,
        _ => o != Ordering::Less,
    }))
}

pub(crate) fn mismatched(op: &str, a: &Value<'_>, b: &Value<'_>) -> RuntimeError {
    RuntimeError::new(format!(
        "invalid operation: {} {op} {} (mismatched types {} and {})",
        a.type_name(),
        b.type_name(),
        a.type_name(),
        b.type_name()
    ))
}

/// Arithmetic `+ - * / % **` with Go rules: int op int stays int (wrapping), any float gives
/// float, `/` always float, `%` ints only, `+` concatenates strings.
pub fn arith<'a>(op: &str, a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, RuntimeError> {
    match (op, a, b) {
        ("+", Value::Str(x), Value::Str(y)) => {
            let mut s = String::with_capacity(x.as_str().len() + y.as_str().len());
            s.push_str(x.as_str());
            s.push_str(y.as_str());
            return Ok(Value::string(s));
        }
        ("+", Value::Time(t), Value::Duration(d)) | ("+", Value::Duration(d), Value::Time(t)) => {
            return Ok(Value::Time(*t + chrono::TimeDelta::nanoseconds(*d)));
        }
        ("-", Value::Time(t), Value::Duration(d)) => {
            return Ok(Value::Time(*t - chrono::TimeDelta::nanoseconds(*d)));
        }
        ("-", Value::Time(x), Value::Time(y)) => {
            return Ok(Value::Duration(
                (*x - *y).num_nanoseconds().unwrap_or(i64::MAX),
            ));
        }
        ("+", Value::Duration(x), Value::Duration(y)) => {
            return Ok(Value::Duration(x.wrapping_add(*y)));
        }
        ("-", Value::Duration(x), Value::Duration(y)) => {
            return Ok(Value::Duration(x.wrapping_sub(*y)));
        }
        _ => {}
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return match op {
            "+" => Ok(Value::Int(x.wrapping_add(*y))),
            "-" => Ok(Value::Int(x.wrapping_sub(*y))),
            "*" => Ok(Value::Int(x.wrapping_mul(*y))),
            "/" => Ok(Value::Float(*x as f64 / *y as f64)),
            "%" => {
                if *y == 0 {
                    Err(RuntimeError::new("integer divide by zero"))
                } else {
                    Ok(Value::Int(x.wrapping_rem(*y)))
                }
            }
            _ => Ok(Value::Float((*x as f64).powf(*y as f64))),
        };
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Err(mismatched(op, a, b));
    };
    match op {
        "+" => Ok(Value::Float(x + y)),
        "-" => Ok(Value::Float(x - y)),
        "*" => Ok(Value::Float(x * y)),
        "/" => Ok(Value::Float(x / y)),
        "%" => Err(mismatched(op, a, b)),
        _ => Ok(Value::Float(x.powf(y))),
    }
}

/// `needle in haystack`: list membership, map key, struct field name; `nil` haystack is false.
pub fn contains_elem(needle: &Value<'_>, haystack: &Value<'_>) -> Result<bool, RuntimeError> {
    match haystack {
        Value::Nil => Ok(false),
        Value::List(l) => Ok(l.iter().any(|v| equal(needle, &v))),
        Value::Map(m) => match needle {
            Value::Str(k) => Ok(m.contains_key(k.as_str())),
            Value::Nil => Ok(false),
            other => Err(RuntimeError::new(format!(
                "cannot use {} as type string in map key",
                other.type_name()
            ))),
        },
        Value::Object(o) => match needle {
            Value::Str(k) => Ok(o.get().struct_type().field_index(k.as_str()).is_some()),
            other => Err(RuntimeError::new(format!(
                "cannot use {} as field name of {}",
                other.type_name(),
                o.get().struct_type().name
            ))),
        },
        other => Err(RuntimeError::new(format!(
            "operator \"in\" not defined on {}",
            other.type_name()
        ))),
    }
}

/// Map element lookup by a dynamic key with Go's zero value for missing keys.
pub fn map_index<'a>(m: &Map<'a>, key: &Value<'_>) -> Result<Value<'a>, RuntimeError> {
    match key {
        Value::Str(k) => Ok(m.get_or_zero(k.as_str())),
        other => Err(RuntimeError::new(format!(
            "cannot use {} as type string in map key",
            other.type_name()
        ))),
    }
}

/// Member `name` of an object, by name at run time (typed accesses resolve at compile time).
pub fn object_field<'a>(o: &Obj<'a>, name: &str) -> Result<Value<'a>, RuntimeError> {
    match o.get().struct_type().field_index(name) {
        Some(i) => Ok(o.field(i)),
        None => Err(RuntimeError::new(format!(
            "type {} has no field {name}",
            o.get().struct_type().name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: &str, a: Value<'_>, b: Value<'_>, expected: &str) {
        let got = match op {
            "==" => Ok(Value::Bool(equal(&a, &b))),
            "<" | ">" | "<=" | ">=" => compare_op(&a, &b, op).map(Value::Bool),
            "in" => contains_elem(&a, &b).map(Value::Bool),
            _ => arith(op, &a, &b),
        };
        let got = match got {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {}", e.message()),
        };
        assert_eq!(got, expected, "{a:?} {op} {b:?}");
    }

    #[test]
    fn equality_follows_go() {
        check("==", Value::Int(200), Value::Float(200.0), "true");
        check("==", Value::str("1"), Value::Int(1), "false");
        check("==", Value::Nil, Value::Nil, "true");
        check("==", Value::Nil, Value::str(""), "false");
        check(
            "==",
            Value::string_list(["a"]),
            Value::string_list(["a"]),
            "true",
        );
    }

    #[test]
    fn arithmetic_follows_go() {
        check(
            "+",
            Value::Int(i64::MAX),
            Value::Int(1),
            "-9223372036854775808",
        );
        check("/", Value::Int(7), Value::Int(2), "3.5");
        check("/", Value::Int(1), Value::Int(0), "+Inf");
        check(
            "%",
            Value::Int(7),
            Value::Int(0),
            "error: integer divide by zero",
        );
        check(
            "%",
            Value::Float(7.0),
            Value::Int(2),
            "error: invalid operation: float64 % int (mismatched types float64 and int)",
        );
        check("+", Value::str("a"), Value::str("b"), "\"ab\"");
        check(
            "+",
            Value::str("a"),
            Value::Int(1),
            "error: invalid operation: string + int (mismatched types string and int)",
        );
        check("**", Value::Int(2), Value::Int(10), "1024");
        check("*", Value::Int(3), Value::Float(0.5), "1.5");
    }

    #[test]
    fn ordering_and_membership() {
        check("<", Value::Int(1), Value::Float(1.5), "true");
        check(">=", Value::str("b"), Value::str("a"), "true");
        check("<", Value::Float(f64::NAN), Value::Int(1), "false");
        check(
            "<",
            Value::str("a"),
            Value::Int(1),
            "error: invalid operation: string < int (mismatched types string and int)",
        );
        check(
            "in",
            Value::Int(2),
            Value::list(vec![Value::Float(2.0)]),
            "true",
        );
        check("in", Value::str("x"), Value::Nil, "false");
        check(
            "in",
            Value::str("x"),
            Value::Int(3),
            "error: operator \"in\" not defined on int",
        );
    }
}
