//! serde `Deserializer` over a positioned [`Node`] tree, turning serde errors into
//! [`Diagnostic`]s that point at the offending node.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::diagnostic::{Diagnostic, closest};
use super::{Node, NodeKind, ScalarStyle, is_null_text};

/// Decodes `node` into `T`; `path` is the key path of `node` itself.
pub(super) fn decode<T: DeserializeOwned>(node: &Node, path: &str) -> Result<T, Box<Diagnostic>> {
    T::deserialize(De {
        node,
        path: path.to_string(),
    })
    .map_err(|e| e.into_diagnostic(node, path))
}

/// Error while decoding: the message, plus where it happened once known.
#[derive(Debug)]
pub(super) struct Error {
    message: String,
    hint: Option<String>,
    located: Option<Box<Diagnostic>>,
}

impl Error {
    fn new(message: String) -> Self {
        Error {
            message,
            hint: None,
            located: None,
        }
    }

    /// Gives the error the position of `node` unless a deeper node already claimed it.
    fn locate(mut self, node: &Node, path: &str) -> Self {
        if self.located.is_none() {
            let mut d = node.diagnostic(path, self.message.clone());
            d.hint = self.hint.take();
            self.located = Some(Box::new(d));
        }
        self
    }

    fn into_diagnostic(self, node: &Node, path: &str) -> Box<Diagnostic> {
        let message = self.message.clone();
        self.locate(node, path)
            .located
            .unwrap_or_else(|| Box::new(node.diagnostic(path, message)))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = Error::new(format!("unknown field `{field}`"));
        e.hint = match closest(field, expected.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None if expected.is_empty() => Some("no field is accepted here".to_string()),
            None => Some(format!("expected one of {}", quote_list(expected))),
        };
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = Error::new(format!("unknown value `{variant}`"));
        e.hint = match closest(variant, expected.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None => Some(format!("expected one of {}", quote_list(expected))),
        };
        e
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::new(format!("duplicate field `{field}`"))
    }
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializer for one node.
struct De<'a> {
    node: &'a Node,
    path: String,
}

impl<'a> De<'a> {
    fn child(&self, node: &'a Node, seg: Segment<'_>) -> De<'a> {
        let path = match seg {
            Segment::Key(k) if self.path.is_empty() => k.to_string(),
            Segment::Key(k) => format!("{}.{k}", self.path),
            Segment::Index(i) => format!("{}[{i}]", self.path),
        };
        De { node, path }
    }

    fn scalar(&self) -> Option<(&'a str, ScalarStyle)> {
        match &self.node.kind {
            NodeKind::Scalar(s, st) => Some((s.as_str(), *st)),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.node.is_null()
    }

    fn kind_name(&self) -> &'static str {
        match &self.node.kind {
            NodeKind::Scalar(s, ScalarStyle::Plain) if is_null_text(s) => "null",
            NodeKind::Scalar(..) => "a scalar",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }

    fn invalid(&self, expected: &str) -> Error {
        let got = match self.scalar() {
            Some((s, _)) if !self.is_null() => format!("`{s}`"),
            _ => self.kind_name().to_string(),
        };
        Error::new(format!("expected {expected}, found {got}"))
    }

    fn int<T: std::str::FromStr>(&self, what: &str) -> Result<Option<T>, Error> {
        if self.is_null() {
            return Ok(None);
        }
        match self.scalar() {
            Some((s, ScalarStyle::Plain)) => parse_int(s)
                .and_then(|v| T::from_str(&v.to_string()).ok())
                .map(Some)
                .ok_or_else(|| self.invalid(what)),
            _ => Err(self.invalid(what)),
        }
    }
}

enum Segment<'k> {
    Key(&'k str),
    Index(usize),
}

/// Integer forms Go's yaml accepts: decimal with sign and `_`, `0x`, `0o`, `0b`.
fn parse_int(s: &str) -> Option<i128> {
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else if !body.is_empty() && body.bytes().all(|c| c.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => {
            let t = s.replace('_', "");
            // Rust also parses "inf"/"nan", which YAML treats as strings.
            if t.bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
                && t.bytes().any(|c| c.is_ascii_digit())
            {
                t.parse().ok()
            } else {
                None
            }
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

macro_rules! de_int {
    ($name:ident, $visit:ident, $t:ty, $what:expr) => {
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let n: $t = self.int($what)?.unwrap_or_default();
            v.$visit(n)
        }
    };
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Scalar(s, ScalarStyle::Plain) => {
                if is_null_text(s) {
                    v.visit_unit()
                } else if let Some(b) = match s.as_str() {
                    "true" | "True" | "TRUE" => Some(true),
                    "false" | "False" | "FALSE" => Some(false),
                    _ => None,
                } {
                    v.visit_bool(b)
                } else if let Some(i) = parse_int(s) {
                    if let Ok(i) = i64::try_from(i) {
                        v.visit_i64(i)
                    } else if let Ok(u) = u64::try_from(i) {
                        v.visit_u64(u)
                    } else {
                        v.visit_str(s)
                    }
                } else if let Some(f) = parse_float(s) {
                    v.visit_f64(f)
                } else {
                    v.visit_str(s)
                }
            }
            NodeKind::Scalar(s, ScalarStyle::Quoted) => v.visit_str(s),
            NodeKind::Seq(_) => self.deserialize_seq(v),
            NodeKind::Map(_) => self.deserialize_map(v),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            return v.visit_bool(false);
        }
        match self.scalar() {
            Some((s, ScalarStyle::Plain)) => match parse_bool(s) {
                Some(b) => v.visit_bool(b),
                None => Err(self.invalid("a boolean")),
            },
            _ => Err(self.invalid("a boolean")),
        }
    }

    de_int!(deserialize_i8, visit_i8, i8, "an integer");
    de_int!(deserialize_i16, visit_i16, i16, "an integer");
    de_int!(deserialize_i32, visit_i32, i32, "an integer");
    de_int!(deserialize_i64, visit_i64, i64, "an integer");
    de_int!(deserialize_u8, visit_u8, u8, "a non-negative integer");
    de_int!(deserialize_u16, visit_u16, u16, "a non-negative integer");
    de_int!(deserialize_u32, visit_u32, u32, "a non-negative integer");
    de_int!(deserialize_u64, visit_u64, u64, "a non-negative integer");

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            return v.visit_f64(0.0);
        }
        match self.scalar() {
            Some((s, ScalarStyle::Plain)) => match parse_float(s) {
                Some(f) => v.visit_f64(f),
                None => Err(self.invalid("a number")),
            },
            _ => Err(self.invalid("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            return v.visit_str("");
        }
        match self.scalar() {
            Some((s, _)) => v.visit_str(s),
            None => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some((s, _)) => v.visit_bytes(s.as_bytes()),
            None => Err(self.invalid("a string")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            v.visit_unit()
        } else {
            Err(self.invalid("null"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => v.visit_seq(Seq {
                parent: &self,
                items,
                pos: 0,
            }),
            _ if self.is_null() => v.visit_seq(Seq {
                parent: &self,
                items: &[],
                pos: 0,
            }),
            _ => Err(self.invalid("a sequence")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => v.visit_map(Map {
                parent: &self,
                entries,
                pos: 0,
            }),
            _ if self.is_null() => v.visit_map(Map {
                parent: &self,
                entries: &[],
                pos: 0,
            }),
            _ => Err(self.invalid("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Scalar(..) => v.visit_enum(Enum {
                de: &self,
                tag: self.node,
                value: None,
            }),
            NodeKind::Map(entries) if entries.len() == 1 => v.visit_enum(Enum {
                de: &self,
                tag: &entries[0].0,
                value: Some(&entries[0].1),
            }),
            _ => Err(self.invalid("a value or a single-key mapping")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

struct Seq<'p, 'a> {
    parent: &'p De<'a>,
    items: &'a [Node],
    pos: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.get(self.pos) else {
            return Ok(None);
        };
        let child = self.parent.child(node, Segment::Index(self.pos));
        self.pos += 1;
        let path = child.path.clone();
        seed.deserialize(child)
            .map(Some)
            .map_err(|e| e.locate(node, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.pos)
    }
}

struct Map<'p, 'a> {
    parent: &'p De<'a>,
    entries: &'a [(Node, Node)],
    pos: usize,
}

impl<'de> MapAccess<'de> for Map<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, _)) = self.entries.get(self.pos) else {
            return Ok(None);
        };
        let key_text = key.as_str().unwrap_or("?");
        let child = self.parent.child(key, Segment::Key(key_text));
        let path = child.path.clone();
        seed.deserialize(child)
            .map(Some)
            .map_err(|e| e.locate(key, &path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, value)) = self.entries.get(self.pos) else {
            return Err(Error::new("value without key".to_string()));
        };
        self.pos += 1;
        let child = self
            .parent
            .child(value, Segment::Key(key.as_str().unwrap_or("?")));
        let path = child.path.clone();
        seed.deserialize(child).map_err(|e| {
            // Unknown fields in a flattened or nested map are raised while visiting the value;
            // they still belong to the value node.
            e.locate(value, &path)
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.pos)
    }
}

struct Enum<'p, 'a> {
    de: &'p De<'a>,
    tag: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'p, 'a> EnumAccess<'de> for Enum<'p, 'a> {
    type Error = Error;
    type Variant = Variant<'p, 'a>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Error> {
        let name = self.tag.as_str().unwrap_or("");
        let tag: de::value::StrDeserializer<'_, Error> = name.into_deserializer();
        let v = seed
            .deserialize(tag)
            .map_err(|e| e.locate(self.tag, &self.de.path))?;
        Ok((
            v,
            Variant {
                de: self.de,
                value: self.value,
                name: self.tag.as_str().unwrap_or(""),
            },
        ))
    }
}

struct Variant<'p, 'a> {
    de: &'p De<'a>,
    value: Option<&'a Node>,
    name: &'a str,
}

impl<'de> VariantAccess<'de> for Variant<'_, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(v) if v.is_null() => Ok(()),
            Some(v) => {
                Err(Error::new(format!("`{}` takes no value", self.name)).locate(v, &self.de.path))
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(v) => {
                let child = self.de.child(v, Segment::Key(self.name));
                let path = child.path.clone();
                seed.deserialize(child).map_err(|e| e.locate(v, &path))
            }
            None => Err(Error::new(format!("`{}` needs a value", self.name))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        match self.value {
            Some(n) => {
                de::Deserializer::deserialize_seq(self.de.child(n, Segment::Key(self.name)), v)
            }
            None => Err(Error::new(format!("`{}` needs a sequence", self.name))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(n) => {
                de::Deserializer::deserialize_map(self.de.child(n, Segment::Key(self.name)), v)
            }
            None => Err(Error::new(format!("`{}` needs a mapping", self.name))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_resolve_like_go_yaml() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-1_000"), Some(-1000));
        assert_eq!(parse_int("12a"), None);
        assert_eq!(parse_float("1.5e3"), Some(1500.0));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}
