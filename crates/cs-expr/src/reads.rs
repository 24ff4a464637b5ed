//! Which entries of the variables an expression reads, for callers that keep its answers
//! for events that agree on them.

use crate::eval::{Node, Program, Root};

/// An entry of a `map[string]string` field of a variable, as `evt.Meta.http_path` reads it:
/// the variable's slot, the field's index in its type and the key. A missing key reads as
/// `""` (Go's zero value), so only the text matters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRead {
    pub var: usize,
    pub field: usize,
    pub key: Box<str>,
}

impl Program {
    /// The entries of the variables the expression depends on (sorted, without repeats),
    /// when it reads the variables through nothing else (no whole variable, struct field or
    /// method), and is [timeless](Program::is_timeless): its result, error and side effects
    /// are then the same for any variables with the same text at these entries. `None`
    /// otherwise.
    pub fn field_reads(&self) -> Option<Vec<FieldRead>> {
        if !self.timeless {
            return None;
        }
        let mut reads = Vec::new();
        collect(&self.root, &mut reads)?;
        reads.sort();
        reads.dedup();
        Some(reads)
    }
}

/// Adds the entries `node` reads to `out`; `None` when it reads the variables otherwise.
fn collect(node: &Node, out: &mut Vec<FieldRead>) -> Option<()> {
    match node {
        Node::Var(_) => None,
        Node::StrMapKey {
            root, index, key, ..
        }
        | Node::StrMapKeyEq {
            root, index, key, ..
        } => {
            if let Root::Var(var) = root {
                out.push(FieldRead {
                    var: *var,
                    field: *index,
                    key: key.clone(),
                });
            }
            Some(())
        }
        // A method may write the event or read what a caller cannot see.
        Node::Method { .. } | Node::DynMethod { .. } => None,
        _ => node
            .children()
            .into_iter()
            .try_for_each(|child| collect(child, out)),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Environment, Function, Signature, Type, Value, compile};

    fn env() -> Environment {
        let mut env = Environment::event();
        env.add_function(
            Function::new(
                "Up",
                Signature::new([Type::String], Type::String),
                |args, _| {
                    Ok(Value::string(
                        args[0].as_str().unwrap_or_default().to_uppercase(),
                    ))
                },
            )
            .pure(),
        );
        env.add_function(Function::new(
            "Outside",
            Signature::new([Type::String], Type::String),
            |args, _| Ok(args[0].clone()),
        ));
        env
    }

    fn reads(src: &str) -> Option<Vec<String>> {
        let p = compile(src, &env()).unwrap_or_else(|e| panic!("{src}: {e}"));
        p.field_reads().map(|r| {
            r.iter()
                .map(|f| format!("{}.{}.{}", f.var, f.field, f.key))
                .collect()
        })
    }

    #[test]
    fn entries_read_through_maps_are_listed_and_other_reads_refuse() {
        let meta = |k: &str| format!("0.16.{k}");
        let parsed = |k: &str| format!("0.6.{k}");
        assert_eq!(
            reads("evt.Meta.log_type in ['a', 'b'] && Up(evt.Meta.path) contains 'X'"),
            Some(vec![meta("log_type"), meta("path")])
        );
        assert_eq!(
            reads(
                "any(['x', 'y'], {evt.Parsed.verb == # || evt.Meta.a == 'z'}) && evt.Meta.a != ''"
            ),
            Some(vec![parsed("verb"), meta("a")])
        );
        assert_eq!(
            reads("let u = Up(evt.Parsed.request); u endsWith '%3F' ? evt.Meta.x == '1' : false"),
            Some(vec![parsed("request"), meta("x")])
        );
        assert_eq!(reads("1 + 1 == 2"), Some(vec![]));
        // The whole event, a struct field, a method, the clock, a function with outside state.
        assert_eq!(reads("len(evt.Meta) > 0"), None);
        assert_eq!(reads("evt.Line.Raw contains 'x'"), None);
        assert_eq!(reads("evt.SetMeta('a', 'b') || true"), None);
        assert_eq!(reads("evt.Meta.a == 'x' && now().Year() > 2000"), None);
        assert_eq!(reads("Outside(evt.Meta.a) == 'x'"), None);
    }
}
