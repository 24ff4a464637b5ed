//! Guards: a cheap necessary condition read off an expression's source, so that a caller
//! evaluating many expressions on the same event can skip those that cannot be true.
//!
//! An expression `evt.Meta.log_type == "ssh_failed-auth" && ...` (or `evt.Meta.log_type in
//! ["a", "b"] and ...`) is false, without error or side effect, whenever the first operand of
//! its top-level `&&` chain is false: the guard is that operand, a comparison of one string
//! field of the event with string literals.

use crate::parser::{Expr, ExprKind, parse};

/// The event maps a guard can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuardMap {
    /// `evt.Meta`.
    Meta,
    /// `evt.Parsed`.
    Parsed,
}

/// `evt.<map>.<key>` must be one of `values` for the guarded expression to be true.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Guard {
    /// The map read.
    pub map: GuardMap,
    /// The key read (a missing key reads as the empty string, as Go's map lookup).
    pub key: String,
    /// The values for which the expression may be true, sorted and deduplicated.
    pub values: Vec<String>,
}

impl Guard {
    /// The guard of the expression `src`, when its first top-level conjunct is such a
    /// comparison; `None` otherwise (and for a source that does not parse).
    #[must_use]
    pub fn of(src: &str) -> Option<Guard> {
        let expr = parse(src).ok()?;
        guard_of(&expr)
    }

    /// Whether the guarded expression may be true when the field holds `value`.
    #[must_use]
    pub fn admits(&self, value: &str) -> bool {
        self.values
            .binary_search_by(|v| v.as_str().cmp(value))
            .is_ok()
    }

    /// Whether the guarded field of `evt` is one of the values (a missing key reads as the
    /// empty string).
    pub fn admits_event(&self, evt: &cs_types::Event) -> bool {
        let map = match self.map {
            GuardMap::Meta => &evt.meta,
            GuardMap::Parsed => &evt.parsed,
        };
        self.admits(
            map.get(self.key.as_str())
                .map_or("", cs_types::Text::as_str),
        )
    }
}

fn guard_of(expr: &Expr) -> Option<Guard> {
    match &expr.kind {
        ExprKind::Logical("&&", items) => guard_of(items.first()?),
        ExprKind::Binary("&&", left, _) => guard_of(left),
        ExprKind::Binary("==", left, right) => {
            let (field, lit) = match (event_field(left), event_field(right)) {
                (Some(f), None) => (f, right),
                (None, Some(f)) => (f, left),
                _ => return None,
            };
            let ExprKind::Str(value) = &lit.kind else {
                return None;
            };
            Some(field.with(vec![value.clone()]))
        }
        ExprKind::Binary("in", left, right) => {
            let field = event_field(left)?;
            let ExprKind::Array(items) = &right.kind else {
                return None;
            };
            let values = items
                .iter()
                .map(|item| match &item.kind {
                    ExprKind::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(field.with(values))
        }
        _ => None,
    }
}

/// A field read `evt.Meta.key`, `evt.Parsed.key` or their `["key"]` forms.
struct Field {
    map: GuardMap,
    key: String,
}

impl Field {
    fn with(self, mut values: Vec<String>) -> Guard {
        values.sort();
        values.dedup();
        Guard {
            map: self.map,
            key: self.key,
            values,
        }
    }
}

fn event_field(expr: &Expr) -> Option<Field> {
    let (base, key) = match &expr.kind {
        ExprKind::Member {
            base,
            name,
            optional: false,
        } => (base, name.clone()),
        ExprKind::Index {
            base,
            index,
            optional: false,
        } => match &index.kind {
            ExprKind::Str(key) => (base, key.clone()),
            _ => return None,
        },
        _ => return None,
    };
    let ExprKind::Member {
        base: root,
        name: map,
        optional: false,
    } = &base.kind
    else {
        return None;
    };
    if !matches!(&root.kind, ExprKind::Ident(name) if name == "evt") {
        return None;
    }
    let map = match map.as_str() {
        "Meta" => GuardMap::Meta,
        "Parsed" => GuardMap::Parsed,
        _ => return None,
    };
    Some(Field { map, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(src: &str) -> Option<(GuardMap, String, Vec<&'static str>)> {
        Guard::of(src).map(|g| {
            let values = g
                .values
                .iter()
                .map(|v| &*Box::leak(v.clone().into_boxed_str()))
                .collect();
            (g.map, g.key, values)
        })
    }

    #[test]
    fn first_conjunct_comparisons_are_guards() {
        assert_eq!(
            guard("evt.Meta.log_type == 'ssh_failed-auth'"),
            Some((GuardMap::Meta, "log_type".into(), vec!["ssh_failed-auth"]))
        );
        assert_eq!(
            guard(
                "evt.Meta.log_type in ['http_access-log', 'http_error-log'] and Upper(evt.Meta.http_path) contains 'X'"
            ),
            Some((
                GuardMap::Meta,
                "log_type".into(),
                vec!["http_access-log", "http_error-log"]
            ))
        );
        assert_eq!(
            guard("'http' == evt.Meta.service && evt.Meta.sub_type == 'auth_fail' && true"),
            Some((GuardMap::Meta, "service".into(), vec!["http"]))
        );
        assert_eq!(
            guard("(evt.Parsed['verb'] == 'POST' && evt.Meta.x == 'y') && evt.Meta.z == ''"),
            Some((GuardMap::Parsed, "verb".into(), vec!["POST"]))
        );
    }

    #[test]
    fn anything_else_has_no_guard() {
        for src in [
            "evt.Meta.log_type == 'a' || evt.Meta.log_type == 'b'",
            "evt.Meta.log_type == 'a' && true || true",
            "evt.Meta.log_type == 'a' ? false : true",
            "!(evt.Meta.log_type == 'a') && true",
            "evt.Meta.log_type != 'a' && true",
            "evt.Meta.log_type in ['a', 1] && true",
            "evt.Meta.log_type in File('x.txt') && true",
            "evt.Meta?.log_type == 'a'",
            "evt.Line.Raw == 'a'",
            "Upper(evt.Meta.log_type) == 'A'",
            "true && evt.Meta.log_type == 'a'",
            "not valid ((",
        ] {
            assert_eq!(guard(src), None, "{src}");
        }
    }

    #[test]
    fn admits_exactly_the_listed_values() {
        let g = Guard::of("evt.Meta.log_type in ['b', 'a', 'b', ''] && 1 == 1").unwrap();
        assert_eq!(g.values, ["", "a", "b"]);
        assert!(g.admits("a") && g.admits("") && !g.admits("c") && !g.admits("A"));

        // On an event: the guarded map only, a missing key reading as "".
        let g = Guard::of("evt.Parsed.program == 'sshd'").unwrap();
        let mut evt = cs_types::Event::default();
        evt.set_meta("program", "sshd");
        assert!(!g.admits_event(&evt), "Meta is not the guarded map");
        evt.set_parsed("program", "sshd");
        assert!(g.admits_event(&evt));
        let empty = Guard::of("evt.Meta.absent in ['', 'x']").unwrap();
        assert!(empty.admits_event(&cs_types::Event::default()));
    }
}
