//! Static types used by the checker: scalar kinds, lists, maps and described structs.

use std::fmt;

/// The static type of an expression or of a function parameter.
///
/// Types are `Copy` and built from `'static` parts so that struct descriptions and helper
/// signatures can be constants (`Type::List(&Type::String)`).
#[derive(Clone, Copy)]
pub enum Type {
    /// Unknown until run time (Go `any`/`interface{}`): no static checks.
    Any,
    /// The `nil` literal.
    Nil,
    /// `bool`.
    Bool,
    /// Any Go integer kind.
    Int,
    /// `float64`.
    Float,
    /// `string`.
    String,
    /// `time.Time`.
    Time,
    /// `time.Duration`.
    Duration,
    /// A slice with the given element type.
    List(&'static Type),
    /// A `map[string]T`; a missing key yields the zero value of `T`.
    Map(&'static Type),
    /// A Go struct (or pointer to one) with named fields and methods.
    Struct(&'static StructType),
}

impl Type {
    /// Whether a value of type `self` may be passed where `param` is expected.
    pub fn assignable_to(self, param: Type) -> bool {
        match (self, param) {
            (Type::Any, _) | (_, Type::Any) => true,
            // A nil may stand for any pointer, slice or map; Go rejects it for scalars.
            (Type::Nil, p) => !matches!(p, Type::Bool | Type::Int | Type::Float | Type::String),
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => true,
            (Type::List(a), Type::List(b)) | (Type::Map(a), Type::Map(b)) => {
                a.assignable_to(*b) || b.assignable_to(*a)
            }
            (Type::Struct(a), Type::Struct(b)) => std::ptr::eq(a, b),
            (a, b) => a.kind() == b.kind(),
        }
    }

    /// True for `Int` and `Float`.
    pub fn is_number(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// True when the value is only known at run time.
    pub fn is_any(self) -> bool {
        matches!(self, Type::Any)
    }

    fn kind(self) -> u8 {
        match self {
            Type::Any => 0,
            Type::Nil => 1,
            Type::Bool => 2,
            Type::Int => 3,
            Type::Float => 4,
            Type::String => 5,
            Type::Time => 6,
            Type::Duration => 7,
            Type::List(_) => 8,
            Type::Map(_) => 9,
            Type::Struct(_) => 10,
        }
    }

    /// Whether `self` and `other` are the same kind (element types ignored).
    pub fn same_kind(self, other: Type) -> bool {
        self.kind() == other.kind()
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("interface {}"),
            Type::Nil => f.write_str("nil"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Float => f.write_str("float64"),
            Type::String => f.write_str("string"),
            Type::Time => f.write_str("time.Time"),
            Type::Duration => f.write_str("time.Duration"),
            Type::List(t) => write!(f, "[]{t}"),
            Type::Map(t) => write!(f, "map[string]{t}"),
            Type::Struct(s) => f.write_str(s.name),
        }
    }
}

/// Description of a struct exposed to expressions: Go field and method names.
#[derive(Debug)]
pub struct StructType {
    /// Go type name, used in messages (`types.Event`).
    pub name: &'static str,
    /// Fields, in the order [`crate::Object::field`] indexes them.
    pub fields: &'static [FieldDef],
    /// Methods, in the order [`crate::Object::call_method`] indexes them.
    pub methods: &'static [MethodDef],
}

impl StructType {
    /// Index of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Index of the method called `name`.
    pub fn method_index(&self, name: &str) -> Option<usize> {
        self.methods.iter().position(|m| m.name == name)
    }
}

/// A struct field.
#[derive(Debug)]
pub struct FieldDef {
    /// Go field name.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
}

/// A struct method.
#[derive(Debug)]
pub struct MethodDef {
    /// Go method name.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [Type],
    /// Return type.
    pub ret: Type,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(arg: Type, param: Type, expected: bool) {
        assert_eq!(arg.assignable_to(param), expected, "{arg} -> {param}");
    }

    #[test]
    fn assignability() {
        check(Type::String, Type::String, true);
        check(Type::Int, Type::String, false);
        check(Type::Any, Type::String, true);
        check(Type::Int, Type::Float, true);
        check(Type::Nil, Type::String, false);
        check(Type::Nil, Type::Map(&Type::Any), true);
        check(Type::List(&Type::String), Type::List(&Type::Any), true);
        check(Type::Map(&Type::String), Type::List(&Type::Any), false);
        assert_eq!(
            Type::Map(&Type::List(&Type::String)).to_string(),
            "map[string][]string"
        );
    }
}
