//! Run-time values: Go-like scalars, lists, maps and typed objects, borrowing from the
//! environment where possible.

use std::collections::BTreeMap;
use std::sync::Arc;

use cs_types::GoTime;

use crate::datalist::DataList;
use crate::error::RuntimeError;
use crate::eval::CallContext;
use crate::types::{StructType, Type};

/// A string, borrowed from the environment or shared.
#[derive(Clone, Debug)]
pub enum Str<'a> {
    /// Borrowed from the evaluated data (no copy).
    Borrowed(&'a str),
    /// Computed or constant text.
    Shared(Arc<str>),
}

impl Str<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

/// A list value (Go slice).
#[derive(Clone)]
pub enum List<'a> {
    /// Elements computed during evaluation or constants.
    Values(Arc<Vec<Value<'a>>>),
    /// A borrowed `[]string`.
    Strings(&'a [String]),
    /// A borrowed JSON array (`[]any` decoded from JSON).
    Json(&'a [serde_json::Value]),
    /// A borrowed typed list (e.g. `[]models.Event`).
    View(&'a dyn ListView),
    /// A long-lived shared list (data file contents) on which `any` caches indexes.
    Data(Arc<DataList>),
}

/// A map value (`map[string]T`).
#[derive(Clone)]
pub enum Map<'a> {
    /// Entries computed during evaluation; a missing key is `nil`.
    Values(Arc<BTreeMap<String, Value<'a>>>),
    /// Entries with the value a missing key yields (Go's zero value of the element type, e.g.
    /// an empty list for a `map[string][]T`).
    WithZero(Arc<(BTreeMap<String, Value<'a>>, Value<'a>)>),
    /// A borrowed `map[string]string`; a missing key is `""`.
    Strings(&'a cs_types::StrMap),
    /// A borrowed `map[string]any` decoded from JSON; a missing key is `nil`.
    Json(&'a serde_json::Map<String, serde_json::Value>),
    /// A borrowed typed map (e.g. `map[string]models.Source`).
    View(&'a dyn MapView),
}

/// A struct value exposed through [`Object`].
#[derive(Clone)]
pub enum Obj<'a> {
    /// Borrowed from the evaluated data.
    Ref(&'a dyn Object),
    /// Created during evaluation (e.g. by a function).
    Shared(Arc<dyn Object>),
}

/// A value seen by expressions.
#[derive(Clone, Default)]
pub enum Value<'a> {
    /// Go `nil` (also nil pointers, slices and maps).
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// Go integers of every kind.
    Int(i64),
    /// `float64` (and `float32`).
    Float(f64),
    /// `string`.
    Str(Str<'a>),
    /// `time.Time`.
    Time(GoTime),
    /// `time.Duration` in nanoseconds.
    Duration(i64),
    /// A slice.
    List(List<'a>),
    /// A map with string keys.
    Map(Map<'a>),
    /// A struct (Go field and method names).
    Object(Obj<'a>),
}

/// A typed list that is not converted element by element: elements are produced on access.
pub trait ListView: Send + Sync {
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether the list is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `index` (`index < len()`).
    fn get(&self, index: usize) -> Value<'_>;
}

/// A typed map that is not converted entry by entry.
pub trait MapView: Send + Sync {
    /// Number of entries.
    fn len(&self) -> usize;
    /// Whether the map is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value of `key`, if present.
    fn get(&self, key: &str) -> Option<Value<'_>>;
    /// Keys, sorted.
    fn keys(&self) -> Vec<&str>;
}

/// A struct visible to expressions with its Go field and method names.
///
/// `field(i)` and `call_method(i, ..)` use the indexes of [`StructType::fields`] and
/// [`StructType::methods`], resolved when the expression is compiled.
pub trait Object: Send + Sync {
    /// Field and method description.
    fn struct_type(&self) -> &'static StructType;
    /// Value of field `index`.
    fn field(&self, index: usize) -> Value<'_>;
    /// Calls method `index`; arguments were checked against the method's parameter types.
    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        cx: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError>;
    /// An owned copy, used when a value must outlive the data it borrows from.
    fn to_shared(&self) -> Arc<dyn Object>;
    /// Fast path for `map[string]string` fields (`evt.Meta`, `evt.Parsed`...): the borrowed map
    /// of field `index`, or `None` when that field is not such a map.
    fn str_map_field(&self, index: usize) -> Option<&cs_types::StrMap> {
        let _ = index;
        None
    }
}

impl<'a> Obj<'a> {
    /// The object.
    pub fn get(&self) -> &dyn Object {
        match self {
            Obj::Ref(o) => *o,
            Obj::Shared(o) => o.as_ref(),
        }
    }

    /// Field `index`, detached from a shared object when needed.
    pub fn field(&self, index: usize) -> Value<'a> {
        match self {
            Obj::Ref(o) => o.field(index),
            Obj::Shared(o) => o.field(index).into_static(),
        }
    }

    /// Calls method `index`.
    pub fn call_method(
        &self,
        index: usize,
        args: &[Value<'a>],
        cx: &mut CallContext<'_>,
    ) -> Result<Value<'a>, RuntimeError> {
        match self {
            Obj::Ref(o) => o.call_method(index, args, cx),
            Obj::Shared(o) => {
                let owned: Vec<Value<'static>> =
                    args.iter().map(|a| a.clone().into_static()).collect();
                Ok(o.call_method(index, &owned, cx)?.into_static())
            }
        }
    }

    /// The `map[string]string` field `index` of a borrowed object (see
    /// [`Object::str_map_field`]).
    pub(crate) fn ref_str_map(&self, index: usize) -> Option<&'a cs_types::StrMap> {
        match self {
            Obj::Ref(o) => o.str_map_field(index),
            Obj::Shared(_) => None,
        }
    }

    /// Identity of the object (its address), used for pointer equality.
    pub fn addr(&self) -> usize {
        (self.get() as *const dyn Object).cast::<()>() as usize
    }
}

impl<'a> List<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            List::Values(v) => v.len(),
            List::Strings(v) => v.len(),
            List::Json(v) => v.len(),
            List::View(v) => v.len(),
            List::Data(v) => v.items().len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index`, if in range.
    pub fn get(&self, index: usize) -> Option<Value<'a>> {
        if index >= self.len() {
            return None;
        }
        Some(match self {
            List::Values(v) => v[index].clone(),
            List::Strings(v) => Value::Str(Str::Borrowed(&v[index])),
            List::Json(v) => Value::from_json(&v[index]),
            List::View(v) => v.get(index),
            List::Data(v) => v.items()[index].clone(),
        })
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> impl Iterator<Item = Value<'a>> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

impl<'a> Map<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            Map::Values(m) => m.len(),
            Map::WithZero(m) => m.0.len(),
            Map::Strings(m) => m.len(),
            Map::Json(m) => m.len(),
            Map::View(m) => m.len(),
        }
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        match self {
            Map::Values(m) => m.get(key).cloned(),
            Map::WithZero(m) => m.0.get(key).cloned(),
            Map::Strings(m) => m.get(key).map(|s| Value::Str(Str::Borrowed(s))),
            Map::Json(m) => m.get(key).map(Value::from_json),
            Map::View(m) => m.get(key),
        }
    }

    /// The value of `key`, or the zero value of the map's element type when missing
    /// (`""` for `map[string]string`, `nil` otherwise).
    pub fn get_or_zero(&self, key: &str) -> Value<'a> {
        match self.get(key) {
            Some(v) => v,
            None => self.zero(),
        }
    }

    /// The value a missing key yields.
    pub fn zero(&self) -> Value<'a> {
        match self {
            Map::Strings(_) => Value::Str(Str::Borrowed("")),
            Map::WithZero(m) => m.1.clone(),
            _ => Value::Nil,
        }
    }

    /// Keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Map::Values(m) => m.keys().map(String::as_str).collect(),
            Map::WithZero(m) => m.0.keys().map(String::as_str).collect(),
            Map::Strings(m) => m.keys().map(cs_types::Text::as_str).collect(),
            Map::Json(m) => {
                let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
                keys.sort_unstable();
                keys
            }
            Map::View(m) => m.keys(),
        }
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        match self {
            Map::Values(m) => m.contains_key(key),
            Map::WithZero(m) => m.0.contains_key(key),
            Map::Strings(m) => m.contains_key(key),
            Map::Json(m) => m.contains_key(key),
            Map::View(m) => m.get(key).is_some(),
        }
    }

    /// Address of the borrowed map, identifying it as a mutation target.
    pub(crate) fn addr(&self) -> Option<usize> {
        match self {
            Map::Json(m) => {
                Some((*m as *const serde_json::Map<String, serde_json::Value>) as usize)
            }
            Map::Strings(m) => Some((*m as *const cs_types::StrMap) as usize),
            _ => None,
        }
    }
}

impl<'a> Value<'a> {
    /// A string borrowed for the evaluation.
    pub fn str(s: &'a str) -> Self {
        Value::Str(Str::Borrowed(s))
    }

    /// An owned string.
    pub fn string(s: impl Into<Arc<str>>) -> Self {
        Value::Str(Str::Shared(s.into()))
    }

    /// A list of values.
    pub fn list(items: Vec<Value<'a>>) -> Self {
        Value::List(List::Values(Arc::new(items)))
    }

    /// A long-lived list, such as the lines of a data file: `any(list, {X contains F(#)})`
    /// and similar closures over it are answered from indexes cached on the list.
    pub fn data_list(items: Vec<Value<'static>>) -> Self {
        Value::List(List::Data(Arc::new(DataList::new(items))))
    }

    /// A list of owned strings (Go `[]string`).
    pub fn string_list<S: Into<Arc<str>>>(items: impl IntoIterator<Item = S>) -> Self {
        Value::list(items.into_iter().map(Value::string).collect())
    }

    /// A map of values.
    pub fn map(entries: BTreeMap<String, Value<'a>>) -> Self {
        Value::Map(Map::Values(Arc::new(entries)))
    }

    /// A borrowed object.
    pub fn object(obj: &'a dyn Object) -> Self {
        Value::Object(Obj::Ref(obj))
    }

    /// A map whose missing keys yield `zero` (Go's zero value of a typed map's elements, e.g.
    /// an empty list so that `len(m["missing"])` is 0).
    pub fn map_with_zero(entries: BTreeMap<String, Value<'a>>, zero: Value<'a>) -> Self {
        Value::Map(Map::WithZero(Arc::new((entries, zero))))
    }

    /// An empty list.
    pub fn empty_list() -> Self {
        Value::List(List::Strings(&[]))
    }

    /// An owned object.
    pub fn shared_object(obj: Arc<dyn Object>) -> Self {
        Value::Object(Obj::Shared(obj))
    }

    /// A view of a JSON value as Go's `encoding/json` decodes it into `any` (numbers are
    /// `float64`).
    pub fn from_json(v: &'a serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            // Go decodes every JSON number into `any` as a float64.
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::List(List::Json(a)),
            serde_json::Value::Object(m) => Value::Map(Map::Json(m)),
        }
    }

    /// Whether the value is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The bool, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if the value is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as `f64`, if the value is an int or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The list, if the value is one.
    pub fn as_list(&self) -> Option<&List<'a>> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if the value is one.
    pub fn as_map(&self) -> Option<&Map<'a>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Go type name for error messages (`string`, `int`, `[]interface {}`, `<nil>`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
            Value::List(List::Strings(_)) => "[]string",
            Value::List(_) => "[]interface {}",
            Value::Map(Map::Strings(_)) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(o) => o.get().struct_type().name,
        }
    }

    /// The static type this value has.
    pub fn static_type(&self) -> Type {
        match self {
            Value::Nil => Type::Nil,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::Str(_) => Type::String,
            Value::Time(_) => Type::Time,
            Value::Duration(_) => Type::Duration,
            Value::List(List::Strings(_)) => Type::List(&Type::String),
            Value::List(_) => Type::List(&Type::Any),
            Value::Map(Map::Strings(_)) => Type::Map(&Type::String),
            Value::Map(_) => Type::Map(&Type::Any),
            Value::Object(o) => Type::Struct(o.get().struct_type()),
        }
    }

    /// A copy that borrows nothing.
    pub fn into_static(self) -> Value<'static> {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Time(t) => Value::Time(t),
            Value::Duration(d) => Value::Duration(d),
            Value::Str(Str::Shared(s)) => Value::Str(Str::Shared(s)),
            Value::Str(Str::Borrowed(s)) => Value::string(s),
            Value::List(l) => Value::list(l.iter().map(Value::into_static).collect()),
            Value::Map(m) => {
                let entries = m
                    .keys()
                    .into_iter()
                    .map(|k| (k.to_string(), m.get(k).unwrap_or_default().into_static()))
                    .collect();
                // Keep what a missing key yields (`""` for a `map[string]string`).
                match m.zero() {
                    Value::Nil => Value::map(entries),
                    zero => Value::map_with_zero(entries, zero.into_static()),
                }
            }
            Value::Object(Obj::Shared(o)) => Value::Object(Obj::Shared(o)),
            Value::Object(Obj::Ref(o)) => Value::Object(Obj::Shared(o.to_shared())),
        }
    }

    /// Converts to a JSON value (floats stay floats, objects become `null`, times are
    /// RFC3339, durations nanoseconds).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil | Value::Object(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.as_str().to_string()),
            Value::Time(t) => J::String(cs_types::format_rfc3339_nano(t)),
            Value::Duration(d) => J::from(*d),
            Value::List(l) => J::Array(l.iter().map(|v| v.to_json()).collect()),
            Value::Map(m) => J::Object(
                m.keys()
                    .into_iter()
                    .map(|k| (k.to_string(), m.get(k).unwrap_or_default().to_json()))
                    .collect(),
            ),
        }
    }
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{:?}", s.as_str()),
            other => f.write_str(&crate::format::format_v(other)),
        }
    }
}

impl PartialEq for Value<'_> {
    /// Go equality as expr's `==` applies it (numbers across kinds, deep lists and maps).
    fn eq(&self, other: &Self) -> bool {
        crate::ops::equal(self, other)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value<'_> {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::string(s)
    }
}

impl<T: Object> ListView for Vec<T> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn get(&self, index: usize) -> Value<'_> {
        self.as_slice()
            .get(index)
            .map_or(Value::Nil, |o| Value::object(o))
    }
}

/// A shared object reads as the object itself (bucket queues hold their events this way).
impl<T: Object + ?Sized> Object for Arc<T> {
    fn struct_type(&self) -> &'static StructType {
        (**self).struct_type()
    }

    fn field(&self, index: usize) -> Value<'_> {
        (**self).field(index)
    }

    fn call_method<'s>(
        &'s self,
        index: usize,
        args: &[Value<'s>],
        cx: &mut CallContext<'_>,
    ) -> Result<Value<'s>, RuntimeError> {
        (**self).call_method(index, args, cx)
    }

    fn to_shared(&self) -> Arc<dyn Object> {
        (**self).to_shared()
    }

    fn str_map_field(&self, index: usize) -> Option<&cs_types::StrMap> {
        (**self).str_map_field(index)
    }
}

impl<T: Object> MapView for BTreeMap<String, T> {
    fn len(&self) -> usize {
        BTreeMap::len(self)
    }

    fn get(&self, key: &str) -> Option<Value<'_>> {
        BTreeMap::get(self, key).map(|o| Value::object(o))
    }

    fn keys(&self) -> Vec<&str> {
        BTreeMap::keys(self).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value<'_>, expected_type: &str, expected_json: &str) {
        assert_eq!(v.type_name(), expected_type);
        assert_eq!(v.to_json().to_string(), expected_json);
        let owned = v.clone().into_static();
        assert!(owned == v, "into_static keeps the value");
    }

    #[test]
    fn json_views_and_conversions() {
        let j: serde_json::Value =
            serde_json::from_str(r#"{"a":[1.0,2.5,"x",null,true],"b":{"c":"d"}}"#).unwrap();
        let v = Value::from_json(&j);
        check(
            v.clone(),
            "map[string]interface {}",
            r#"{"a":[1.0,2.5,"x",null,true],"b":{"c":"d"}}"#,
        );
        let m = v.as_map().unwrap();
        assert!(m.get_or_zero("nope").is_nil());
        let a = m.get("a").unwrap();
        assert_eq!(a.as_list().unwrap().len(), 5);
        assert_eq!(a.as_list().unwrap().get(0).unwrap().as_f64(), Some(1.0));
        assert!(matches!(a.as_list().unwrap().get(0), Some(Value::Float(_))));
        assert!(a.as_list().unwrap().get(5).is_none());
    }

    #[test]
    fn maps_with_zero_values() {
        let mut entries = BTreeMap::new();
        entries.insert("s00-raw".to_string(), Value::Int(1));
        let m = Value::map_with_zero(entries, Value::empty_list());
        let zero = m.as_map().unwrap().get_or_zero("s99");
        assert_eq!(zero.as_list().map(List::len), Some(0));
        check(m, "map[string]interface {}", r#"{"s00-raw":1}"#);
    }

    #[test]
    fn string_maps_yield_empty_string_for_missing_keys() {
        let mut m = cs_types::StrMap::new();
        m.insert("k".into(), "v".into());
        let v = Value::Map(Map::Strings(&m));
        assert_eq!(v.as_map().unwrap().get_or_zero("nope").as_str(), Some(""));
        check(v, "map[string]string", r#"{"k":"v"}"#);
        check(
            Value::string_list(["a", "b"]),
            "[]interface {}",
            r#"["a","b"]"#,
        );
        check(Value::Nil, "<nil>", "null");
        check(Value::Float(1.5), "float64", "1.5");
    }
}
