//! Type checking and lowering of the syntax tree into evaluable nodes.

use std::sync::Arc;

use crate::builtins::{self, DURATION_METHODS, TIME_METHODS};
use crate::env::{Environment, Signature};
use crate::error::{CompileError, Span};
use crate::eval::{CaseCmp, CaseOp, Coerce, Node, Program, Root, Step, StepKind, StrOp};
use crate::parser::{self, Expr, ExprKind};
use crate::types::{MethodDef, Type};
use crate::value::Value;

/// Compiles `source` against `env`: parses, checks names and types, and resolves struct field
/// accesses to indexes.
///
/// Errors carry the source, the position and what was expected.
pub fn compile(source: &str, env: &Environment) -> Result<Program, CompileError> {
    let ast = parser::parse(source)?;
    let mut c = Compiler {
        env,
        src: source,
        scopes: Vec::new(),
        next_slot: 0,
        timeless: true,
    };
    let (root, result_type) = c.expr(&ast)?;
    Ok(Program {
        root,
        source: source.into(),
        result_type,
        var_count: env.vars.len(),
        local_count: c.next_slot,
        clock: env.clock.clone(),
        timeless: c.timeless,
    })
}

enum Scope {
    Let { name: String, slot: usize, ty: Type },
    Closure { slot: usize, elem: Type },
}

struct Compiler<'e> {
    env: &'e Environment,
    src: &'e str,
    scopes: Vec<Scope>,
    next_slot: usize,
    /// No call so far depends on the clock or on outside state.
    timeless: bool,
}

type C = Result<(Node, Type), CompileError>;

const ANY_LIST: Type = Type::List(&Type::Any);

fn comparable(a: Type, b: Type) -> bool {
    a.is_any()
        || b.is_any()
        || matches!(a, Type::Nil)
        || matches!(b, Type::Nil)
        || (a.is_number() && b.is_number())
        || a.same_kind(b)
}

/// Appends a statically resolved step to a path, so that `evt.Meta.x` is one node evaluated
/// in a loop rather than nested nodes.
fn path(base: Node, kind: StepKind, span: Span) -> Node {
    let step = Step { kind, span };
    match base {
        Node::Path { base, mut steps } => {
            steps.push(step);
            Node::Path { base, steps }
        }
        other => Node::Path {
            base: Box::new(other),
            steps: vec![step],
        },
    }
}

/// `root.Field.key` on a `map[string]string` field becomes [`Node::StrMapKey`], which reads the
/// map without building intermediate values.
fn str_map_key(base: Node, key: &str, span: Span) -> Node {
    match base {
        Node::Path { base: root, steps } if steps.len() == 1 => {
            let r = match *root {
                Node::Var(i) => Some(Root::Var(i)),
                Node::Local(i) => Some(Root::Local(i)),
                _ => None,
            };
            match (r, &steps[0].kind) {
                (Some(r), StepKind::Field(index, _)) => Node::StrMapKey {
                    root: r,
                    index: *index,
                    key: key.into(),
                    span,
                },
                _ => path(
                    Node::Path { base: root, steps },
                    StepKind::Key(key.into()),
                    span,
                ),
            }
        }
        other => path(other, StepKind::Key(key.into()), span),
    }
}

fn key_step(base: Node, elem: Type, key: &str, span: Span) -> Node {
    if matches!(elem, Type::String) {
        str_map_key(base, key, span)
    } else {
        path(base, StepKind::Key(key.into()), span)
    }
}

/// The elements of a constant list when they are all strings (`x in ['GET', 'HEAD']`).
fn const_strs(list: &Value<'_>) -> Option<Box<[Box<str>]>> {
    let list = list.as_list()?;
    list.iter()
        .map(|v| match v {
            Value::Str(s) => Some(s.as_str().into()),
            _ => None,
        })
        .collect()
}

/// `F(x) op "const"` where `F` declares its [ASCII case mapping](crate::Function::ascii_case),
/// as [`Node::CaseCmp`].
fn case_cmp(op: CaseOp, call: &Node, other: &Node, span: Span) -> Option<Node> {
    match (call, other) {
        (
            Node::Call {
                func,
                args,
                ascii_case: Some(case),
                span: call_span,
                ..
            },
            Node::Const(Value::Str(needle)),
        ) if args.len() == 1 => Some(Node::CaseCmp(Box::new(CaseCmp {
            op,
            case: *case,
            func: func.clone(),
            arg: args[0].0.clone(),
            coerce: args[0].1,
            needle: needle.as_str().into(),
            call_span: *call_span,
            span,
        }))),
        _ => None,
    }
}

/// `root.Field.key` of a variable (`evt.Meta.x`) as [`Node::MemoStr`]; other nodes as is.
pub(crate) fn memo_field(node: Node) -> Node {
    match node {
        Node::StrMapKey {
            root: Root::Var(i),
            index,
            ref key,
            ..
        } => {
            let id = memo_id(format!("${i}.{index}[{key:?}]"));
            Node::MemoStr(id, Box::new(node))
        }
        other => other,
    }
}

/// A predicate that reads a typed string map of a variable (`evt.Meta.x`) and compares it with
/// constants becomes [`Node::Memo`], under an id shared by every program with the same
/// predicate, and the field it reads a [`Node::MemoStr`] (several predicates read the same
/// field); other nodes are returned as is.
fn memoize(node: Node) -> Node {
    fn field(n: &Node) -> Option<String> {
        match n {
            Node::StrMapKey {
                root: Root::Var(i),
                index,
                key,
                ..
            } => Some(format!("${i}.{index}[{key:?}]")),
            _ => None,
        }
    }
    let key = match &node {
        Node::StrMapKeyEq {
            root: Root::Var(i),
            index,
            key,
            value,
            ..
        } => format!("${i}.{index}[{key:?}] == {value:?}"),
        Node::InStrs(a, strs) => match field(a) {
            Some(f) => format!("{f} in {strs:?}"),
            None => return node,
        },
        Node::StrOp(op, a, b, _) => match (field(a), &**b) {
            (Some(f), Node::Const(Value::Str(c))) => format!("{f} {op:?} {:?}", c.as_str()),
            _ => return node,
        },
        Node::MatchesConst(a, re, _) => match field(a) {
            Some(f) => format!("{f} matches {:?}", re.as_str()),
            None => return node,
        },
        Node::CaseCmp(c) => match (field(&c.arg), c.coerce) {
            // The function is told apart by its address: it is kept alive by the program, and
            // programs sharing a memo are alive together.
            (Some(f), Coerce::None) => format!(
                "{:?}/{:?}/{:p}({f}) {:?}",
                c.op,
                c.case,
                Arc::as_ptr(&c.func).cast::<u8>(),
                c.needle
            ),
            _ => return node,
        },
        _ => return node,
    };
    let node = match node {
        Node::InStrs(a, strs) => Node::InStrs(Box::new(memo_field(*a)), strs),
        Node::StrOp(op, a, b, span) => Node::StrOp(op, Box::new(memo_field(*a)), b, span),
        Node::MatchesConst(a, re, span) => Node::MatchesConst(Box::new(memo_field(*a)), re, span),
        Node::CaseCmp(mut c) => {
            c.arg = memo_field(std::mem::replace(&mut c.arg, Node::Const(Value::Nil)));
            Node::CaseCmp(c)
        }
        other => other,
    };
    Node::Memo(memo_id(key), Box::new(node))
}

/// The id of a memoised predicate or field, the same for the same one across compilations.
fn memo_id(key: String) -> u32 {
    static IDS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, u32>>> =
        std::sync::LazyLock::new(Default::default);
    let mut ids = IDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    *ids.entry(key).or_insert(next)
}

fn stringish(t: Type) -> bool {
    matches!(t, Type::String | Type::Any | Type::Nil)
}

impl Compiler<'_> {
    fn err(&self, span: Span, msg: impl Into<String>) -> CompileError {
        CompileError::new(self.src, span, msg)
    }

    fn alloc(&mut self, n: usize) -> usize {
        let s = self.next_slot;
        self.next_slot += n;
        s
    }

    fn expr(&mut self, e: &Expr) -> C {
        let span = e.span;
        match &e.kind {
            ExprKind::Nil => Ok((Node::Const(Value::Nil), Type::Nil)),
            ExprKind::Bool(b) => Ok((Node::Const(Value::Bool(*b)), Type::Bool)),
            ExprKind::Int(i) => Ok((Node::Const(Value::Int(*i)), Type::Int)),
            ExprKind::Float(f) => Ok((Node::Const(Value::Float(*f)), Type::Float)),
            ExprKind::Str(s) => Ok((Node::Const(Value::string(s.as_str())), Type::String)),
            ExprKind::Ident(name) => self.ident(name, span),
            ExprKind::Pointer(name) => self.pointer(name, span),
            ExprKind::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for it in items {
                    nodes.push(self.expr(it)?.0);
                }
                // Constant lists (`x in ['a', 'b']`) are built once.
                if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                    let values = nodes
                        .into_iter()
                        .map(|n| {
                            if let Node::Const(v) = n {
                                v
                            } else {
                                Value::Nil
                            }
                        })
                        .collect();
                    return Ok((Node::Const(Value::list(values)), ANY_LIST));
                }
                Ok((Node::Array(nodes), ANY_LIST))
            }
            ExprKind::MapLit(entries) => {
                let mut nodes = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    nodes.push((self.expr(k)?.0, self.expr(v)?.0));
                }
                Ok((Node::MapLit(nodes), Type::Map(&Type::Any)))
            }
            ExprKind::Unary(op, a) => self.unary(op, a, span),
            ExprKind::Binary(op, a, b) => self.binary(op, a, b, span),
            ExprKind::Logical(op, items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for it in items {
                    let (n, t) = self.expr(it)?;
                    if !matches!(t, Type::Bool | Type::Any) {
                        return Err(self.err(
                            it.span,
                            format!("invalid operation: {op} (mismatched types {t} and bool)"),
                        ));
                    }
                    nodes.push(memoize(n));
                }
                let node = if *op == "&&" {
                    Node::And(nodes, span)
                } else {
                    Node::Or(nodes, span)
                };
                Ok((node, Type::Bool))
            }
            ExprKind::Member {
                base,
                name,
                optional,
            } => self.member(base, name, *optional, span),
            ExprKind::Index {
                base,
                index,
                optional,
            } => self.index(base, index, *optional, span),
            ExprKind::Slice { base, from, to } => {
                let (b, bt) = self.expr(base)?;
                let ty = match bt {
                    Type::List(_) | Type::String | Type::Any | Type::Nil => bt,
                    other => return Err(self.err(span, format!("cannot slice {other}"))),
                };
                let bound = |c: &mut Self,
                             x: &Option<Box<Expr>>|
                 -> Result<Option<Box<Node>>, CompileError> {
                    match x {
                        None => Ok(None),
                        Some(x) => {
                            let (n, t) = c.expr(x)?;
                            if !matches!(t, Type::Int | Type::Any) {
                                return Err(c.err(x.span, format!("invalid slice index type {t}")));
                            }
                            Ok(Some(Box::new(n)))
                        }
                    }
                };
                let from = bound(self, from)?;
                let to = bound(self, to)?;
                Ok((
                    Node::Slice {
                        base: Box::new(b),
                        from,
                        to,
                        span,
                    },
                    ty,
                ))
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, span),
            ExprKind::MethodCall {
                base,
                name,
                args,
                optional,
            } => self.method(base, name, args, *optional, span),
            ExprKind::Closure(_) => Err(self.err(span, "closure outside of a predicate builtin")),
            ExprKind::Cond(c, a, b) => {
                let (cn, ct) = self.expr(c)?;
                if !matches!(ct, Type::Bool | Type::Any) {
                    return Err(self.err(
                        c.span,
                        format!("non-bool expression (type {ct}) used as condition"),
                    ));
                }
                let (an, at) = self.expr(a)?;
                let (bn, bt) = self.expr(b)?;
                let ty = if at.same_kind(bt) { at } else { Type::Any };
                Ok((
                    Node::Cond(Box::new(cn), Box::new(an), Box::new(bn), span),
                    ty,
                ))
            }
            ExprKind::Let { name, value, body } => {
                let (vn, vt) = self.expr(value)?;
                let slot = self.alloc(1);
                self.scopes.push(Scope::Let {
                    name: name.clone(),
                    slot,
                    ty: vt,
                });
                let r = self.expr(body);
                self.scopes.pop();
                let (bn, bt) = r?;
                Ok((
                    Node::Let {
                        slot,
                        value: Box::new(vn),
                        body: Box::new(bn),
                    },
                    bt,
                ))
            }
            ExprKind::Sequence(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                let mut ty = Type::Nil;
                for it in items {
                    let (n, t) = self.expr(it)?;
                    nodes.push(n);
                    ty = t;
                }
                Ok((Node::Sequence(nodes), ty))
            }
            ExprKind::Chain(inner) => {
                let (n, t) = self.expr(inner)?;
                Ok((Node::Chain(Box::new(n)), t))
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> C {
        for s in self.scopes.iter().rev() {
            if let Scope::Let { name: n, slot, ty } = s
                && n == name
            {
                return Ok((Node::Local(*slot), *ty));
            }
        }
        if let Some(i) = self.env.vars.iter().position(|(n, _)| n == name) {
            return Ok((Node::Var(i), self.env.vars[i].1));
        }
        if name == "$env" {
            let entries = self
                .env
                .vars
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (Node::Const(Value::string(n.as_str())), Node::Var(i)))
                .collect();
            return Ok((Node::MapLit(entries), Type::Map(&Type::Any)));
        }
        Err(self.err(span, format!("unknown name {name}")))
    }

    fn pointer(&mut self, name: &str, span: Span) -> C {
        for s in self.scopes.iter().rev() {
            if let Scope::Closure { slot, elem } = s {
                return Ok(match name {
                    "" => (Node::Local(*slot), *elem),
                    "index" => (Node::Local(slot + 1), Type::Int),
                    _ => (Node::Local(slot + 2), Type::Any),
                });
            }
        }
        Err(self.err(span, "cannot use pointer accessor outside predicate"))
    }

    fn unary(&mut self, op: &str, a: &Expr, span: Span) -> C {
        let (n, t) = self.expr(a)?;
        match op {
            "!" => {
                if !matches!(t, Type::Bool | Type::Any) {
                    return Err(
                        self.err(span, format!("invalid operation: ! (mismatched type {t})"))
                    );
                }
                Ok((Node::Not(Box::new(n), span), Type::Bool))
            }
            _ => {
                if !matches!(t, Type::Int | Type::Float | Type::Duration | Type::Any) {
                    return Err(self.err(
                        span,
                        format!("invalid operation: {op} (mismatched type {t})"),
                    ));
                }
                let node = if op == "-" {
                    Node::Neg(Box::new(n), span)
                } else {
                    Node::Plus(Box::new(n), span)
                };
                Ok((node, t))
            }
        }
    }

    fn binary(&mut self, op: &'static str, a: &Expr, b: &Expr, span: Span) -> C {
        if op == "matches" {
            return self.matches(a, b, span);
        }
        let (an, at) = self.expr(a)?;
        let (bn, bt) = self.expr(b)?;
        let mismatch = |c: &Self| {
            c.err(
                span,
                format!("invalid operation: {op} (mismatched types {at} and {bt})"),
            )
        };
        let (a, b) = (Box::new(an), Box::new(bn));
        match op {
            "==" | "!=" => {
                if !comparable(at, bt) {
                    return Err(mismatch(self));
                }
                if let Some(node) = case_cmp(CaseOp::Eq, &a, &b, span)
                    .or_else(|| case_cmp(CaseOp::Eq, &b, &a, span))
                {
                    let node = if op == "==" {
                        node
                    } else {
                        Node::Not(Box::new(node), span)
                    };
                    return Ok((node, Type::Bool));
                }
                let eq = match (*a, *b) {
                    (
                        Node::StrMapKey {
                            root,
                            index,
                            key,
                            span,
                        },
                        Node::Const(Value::Str(c)),
                    )
                    | (
                        Node::Const(Value::Str(c)),
                        Node::StrMapKey {
                            root,
                            index,
                            key,
                            span,
                        },
                    ) => Node::StrMapKeyEq {
                        root,
                        index,
                        key,
                        value: c.as_str().into(),
                        span,
                    },
                    (x, Node::Const(Value::Str(c))) | (Node::Const(Value::Str(c)), x) => {
                        Node::EqStr(Box::new(x), c.as_str().into())
                    }
                    (x, Node::Const(c)) | (Node::Const(c), x) => Node::EqConst(Box::new(x), c),
                    (x, y) => Node::Eq(Box::new(x), Box::new(y)),
                };
                let node = if op == "==" {
                    eq
                } else {
                    Node::Not(Box::new(eq), span)
                };
                Ok((node, Type::Bool))
            }
            "<" | ">" | "<=" | ">=" => {
                let ok = at.is_any()
                    || bt.is_any()
                    || (at.is_number() && bt.is_number())
                    || (at.same_kind(bt)
                        && matches!(at, Type::String | Type::Time | Type::Duration));
                if !ok {
                    return Err(mismatch(self));
                }
                Ok((Node::Cmp(op, a, b, span), Type::Bool))
            }
            "+" | "-" | "*" | "/" | "%" | "**" => {
                let ty = match (at, bt) {
                    (Type::Any, _) | (_, Type::Any) => Type::Any,
                    (Type::Int, Type::Int) if op == "/" || op == "**" => Type::Float,
                    (Type::Int, Type::Int) => Type::Int,
                    (x, y) if x.is_number() && y.is_number() && op != "%" => Type::Float,
                    (Type::String, Type::String) if op == "+" => Type::String,
                    (Type::Time, Type::Duration) | (Type::Duration, Type::Time) if op == "+" => {
                        Type::Time
                    }
                    (Type::Time, Type::Duration) if op == "-" => Type::Time,
                    (Type::Time, Type::Time) if op == "-" => Type::Duration,
                    (Type::Duration, Type::Duration) if op == "+" || op == "-" => Type::Duration,
                    _ => return Err(mismatch(self)),
                };
                Ok((Node::Arith(op, a, b, span), ty))
            }
            "in" => {
                let ok = match bt {
                    Type::Any | Type::Nil | Type::List(_) | Type::Struct(_) => true,
                    Type::Map(_) => stringish(at),
                    _ => false,
                };
                if !ok {
                    return Err(mismatch(self));
                }
                if let Node::Const(list) = &*b
                    && let Some(strs) = const_strs(list)
                {
                    return Ok((Node::InStrs(a, strs), Type::Bool));
                }
                Ok((Node::In(a, b, span), Type::Bool))
            }
            "contains" | "startsWith" | "endsWith" => {
                if !stringish(at) || !stringish(bt) {
                    return Err(mismatch(self));
                }
                let sop = match op {
                    "contains" => StrOp::Contains,
                    "startsWith" => StrOp::StartsWith,
                    _ => StrOp::EndsWith,
                };
                match case_cmp(CaseOp::Str(sop), &a, &b, span) {
                    Some(node) => Ok((node, Type::Bool)),
                    None => Ok((Node::StrOp(sop, a, b, span), Type::Bool)),
                }
            }
            ".." => {
                if !matches!(at, Type::Int | Type::Any) || !matches!(bt, Type::Int | Type::Any) {
                    return Err(mismatch(self));
                }
                Ok((Node::Range(a, b, span), Type::List(&Type::Int)))
            }
            _ => {
                // `??`
                let ty = match (at, bt) {
                    (Type::Nil, t) => t,
                    (x, y) if x.same_kind(y) => x,
                    _ => Type::Any,
                };
                Ok((Node::Coalesce(a, b), ty))
            }
        }
    }

    fn matches(&mut self, a: &Expr, b: &Expr, span: Span) -> C {
        let (an, at) = self.expr(a)?;
        if !stringish(at) {
            return Err(self.err(
                span,
                format!("invalid operation: matches (mismatched types {at} and string)"),
            ));
        }
        if let ExprKind::Str(pattern) = &b.kind {
            let re = crate::goregex::compile(pattern).map_err(|e| {
                self.err(
                    b.span,
                    format!("invalid regular expression {pattern:?}: {e}"),
                )
            })?;
            return Ok((Node::MatchesConst(Box::new(an), re, span), Type::Bool));
        }
        let (bn, bt) = self.expr(b)?;
        if !stringish(bt) {
            return Err(self.err(
                span,
                format!("invalid operation: matches (mismatched types {at} and {bt})"),
            ));
        }
        // A pattern folded to a constant (`matches Upper('/x')`) is compiled once; an invalid
        // one stays an error of the evaluation, as written.
        if let Node::Const(Value::Str(pattern)) = &bn
            && let Ok(re) = crate::goregex::compile(pattern.as_str())
        {
            return Ok((Node::MatchesConst(Box::new(an), re, span), Type::Bool));
        }
        Ok((Node::Matches(Box::new(an), Box::new(bn), span), Type::Bool))
    }

    fn member(&mut self, base: &Expr, name: &str, optional: bool, span: Span) -> C {
        let (b, bt) = self.expr(base)?;
        let dynamic = |b: Node| Node::Member {
            base: Box::new(b),
            name: name.into(),
            optional,
            span,
        };
        match bt {
            Type::Struct(st) => match st.field_index(name) {
                Some(index) if !optional => {
                    let fname = st.fields[index].name;
                    Ok((
                        path(b, StepKind::Field(index, fname), span),
                        st.fields[index].ty,
                    ))
                }
                Some(index) => Ok((dynamic(b), st.fields[index].ty)),
                None => Err(self.err(span, format!("type {} has no field {name}", st.name))),
            },
            Type::Map(elem) if !optional => Ok((key_step(b, *elem, name, span), *elem)),
            Type::Map(elem) => Ok((dynamic(b), *elem)),
            Type::Any => Ok((dynamic(b), Type::Any)),
            other => Err(self.err(span, format!("type {other} has no field {name}"))),
        }
    }

    fn index(&mut self, base: &Expr, index: &Expr, optional: bool, span: Span) -> C {
        let (b, bt) = self.expr(base)?;
        let (i, it) = self.expr(index)?;
        let dynamic = |b: Node, i: Node| Node::Index {
            base: Box::new(b),
            index: Box::new(i),
            optional,
            span,
        };
        match bt {
            Type::Map(elem) => {
                if !stringish(it) {
                    return Err(self.err(
                        index.span,
                        format!("cannot use {it} as type string in map key"),
                    ));
                }
                match i {
                    Node::Const(Value::Str(k)) if !optional => {
                        Ok((key_step(b, *elem, k.as_str(), span), *elem))
                    }
                    i => Ok((dynamic(b, i), *elem)),
                }
            }
            Type::List(elem) => {
                if !matches!(it, Type::Int | Type::Any) {
                    return Err(self.err(index.span, format!("invalid index type {it} for list")));
                }
                Ok((dynamic(b, i), *elem))
            }
            Type::String => {
                if !matches!(it, Type::Int | Type::Any) {
                    return Err(self.err(index.span, format!("invalid index type {it} for string")));
                }
                Ok((dynamic(b, i), Type::Int))
            }
            Type::Struct(st) => match &i {
                Node::Const(Value::Str(k)) => match st.field_index(k.as_str()) {
                    Some(fi) if !optional => {
                        let fname = st.fields[fi].name;
                        Ok((path(b, StepKind::Field(fi, fname), span), st.fields[fi].ty))
                    }
                    Some(fi) => Ok((dynamic(b, i), st.fields[fi].ty)),
                    None => Err(self.err(
                        index.span,
                        format!("type {} has no field {}", st.name, k.as_str()),
                    )),
                },
                _ if it.is_any() || matches!(it, Type::String) => Ok((dynamic(b, i), Type::Any)),
                _ => Err(self.err(index.span, format!("invalid field name type {it}"))),
            },
            Type::Any | Type::Nil => Ok((dynamic(b, i), Type::Any)),
            other => Err(self.err(span, format!("cannot index {other}"))),
        }
    }

    fn args(&mut self, args: &[Expr]) -> Result<Vec<(Node, Type, Span)>, CompileError> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            let (n, t) = self.expr(a)?;
            out.push((n, t, a.span));
        }
        Ok(out)
    }

    /// Checks arguments against a method's parameters; values of type any are asserted at run
    /// time by the object itself.
    fn check_method_args(
        &self,
        owner: &str,
        m: &MethodDef,
        args: &[(Node, Type, Span)],
        span: Span,
    ) -> Result<(), CompileError> {
        if args.len() != m.params.len() {
            let what = if args.len() > m.params.len() {
                "too many"
            } else {
                "not enough"
            };
            return Err(self.err(span, format!("{what} arguments to call {owner}.{}", m.name)));
        }
        for ((_, t, s), p) in args.iter().zip(m.params) {
            if !t.assignable_to(*p) {
                return Err(self.err(
                    *s,
                    format!("cannot use {t} as argument (type {p}) to call {}", m.name),
                ));
            }
        }
        Ok(())
    }

    fn method(&mut self, base: &Expr, name: &str, args: &[Expr], optional: bool, span: Span) -> C {
        let (b, bt) = self.expr(base)?;
        let argv = self.args(args)?;
        let dynamic = |b: Node, argv: Vec<(Node, Type, Span)>| Node::DynMethod {
            base: Box::new(b),
            name: name.into(),
            args: argv.into_iter().map(|a| a.0).collect(),
            optional,
            span,
        };
        let table = |methods: &'static [MethodDef]| methods.iter().find(|m| m.name == name);
        match bt {
            Type::Struct(st) => {
                let Some(index) = st.method_index(name) else {
                    return Err(self.err(span, format!("type {} has no method {name}", st.name)));
                };
                let m = &st.methods[index];
                self.check_method_args(st.name, m, &argv, span)?;
                let args = argv.into_iter().map(|a| a.0).collect();
                Ok((
                    Node::Method {
                        base: Box::new(b),
                        index,
                        args,
                        optional,
                        span,
                    },
                    m.ret,
                ))
            }
            Type::Time | Type::Duration => {
                let (owner, methods) = if matches!(bt, Type::Time) {
                    ("time.Time", TIME_METHODS)
                } else {
                    ("time.Duration", DURATION_METHODS)
                };
                let Some(m) = table(methods) else {
                    return Err(self.err(span, format!("type {owner} has no method {name}")));
                };
                self.check_method_args(owner, m, &argv, span)?;
                Ok((dynamic(b, argv), m.ret))
            }
            Type::Any => Ok((dynamic(b, argv), Type::Any)),
            other => Err(self.err(span, format!("type {other} has no method {name}"))),
        }
    }

    fn call(&mut self, name: &str, name_span: Span, args: &[Expr], span: Span) -> C {
        if let Some(f) = self.env.functions.get(name) {
            let func = f.func.clone();
            let sigs = f.signatures.clone();
            let (pure, ascii_case) = (f.pure, f.ascii_case);
            self.timeless &= f.pure || f.timeless;
            let argv = self.args(args)?;
            let node = self.native_call(name, func, pure, &sigs, argv, span)?;
            return Ok(match node {
                (
                    Node::Call {
                        func,
                        args,
                        pure,
                        span,
                        ..
                    },
                    ty,
                ) if args.len() == 1 => (
                    Node::Call {
                        func,
                        args,
                        pure,
                        ascii_case,
                        span,
                    },
                    ty,
                ),
                other => other,
            });
        }
        if let Some((kind, min, max)) = builtins::predicate_kind(name) {
            return self.predicate(name, kind, min, max, args, span);
        }
        if let Some(b) = builtins::builtin(name) {
            self.timeless &= name != "now";
            if args.len() < b.min || args.len() > b.max {
                let what = if args.len() > b.max {
                    "too many"
                } else {
                    "not enough"
                };
                return Err(self.err(span, format!("{what} arguments to call {name}")));
            }
            let argv = self.args(args)?;
            let params = builtins::builtin_params(name);
            for (i, (_, t, s)) in argv.iter().enumerate() {
                if let Some(p) = params.get(i)
                    && !t.assignable_to(*p)
                {
                    return Err(self.err(
                        *s,
                        format!("cannot use {t} as argument (type {p}) to call {name}"),
                    ));
                }
            }
            if name == "len" && !builtins::has_len(argv[0].1) {
                return Err(self.err(
                    span,
                    format!("invalid argument for len (type {})", argv[0].1),
                ));
            }
            let args = argv.into_iter().map(|a| a.0).collect();
            return Ok((Node::Builtin { f: b.f, args, span }, b.ret));
        }
        Err(self.err(name_span, format!("unknown func {name}")))
    }

    fn native_call(
        &mut self,
        name: &str,
        func: Arc<crate::env::NativeFn>,
        pure: bool,
        sigs: &[Signature],
        argv: Vec<(Node, Type, Span)>,
        span: Span,
    ) -> C {
        let fits = |s: &Signature| {
            s.accepts_count(argv.len())
                && argv
                    .iter()
                    .enumerate()
                    .all(|(i, (_, t, _))| s.param(i).is_some_and(|p| t.assignable_to(p)))
        };
        let Some(sig) = sigs.iter().find(|s| fits(s)) else {
            let sig = &sigs[0];
            if !sig.accepts_count(argv.len()) {
                let what = if argv.len() > sig.params.len() {
                    "too many"
                } else {
                    "not enough"
                };
                return Err(self.err(span, format!("{what} arguments to call {name} {sig}")));
            }
            let (i, (_, t, s)) = argv
                .iter()
                .enumerate()
                .find(|(i, (_, t, _))| !sig.param(*i).is_some_and(|p| t.assignable_to(p)))
                .unwrap_or((0, &argv[0]));
            let p = sig.param(i).unwrap_or(Type::Any);
            return Err(self.err(
                *s,
                format!("cannot use {t} as argument (type {p}) to call {name}"),
            ));
        };
        let args = argv
            .into_iter()
            .enumerate()
            .map(|(i, (n, t, _))| {
                let p = sig.param(i).unwrap_or(Type::Any);
                let coerce = match (t, p) {
                    (_, Type::Any) => Coerce::None,
                    (Type::Any, p) => Coerce::Assert(p),
                    (Type::Int, Type::Float) => Coerce::ToFloat,
                    _ => Coerce::None,
                };
                (n, coerce)
            })
            .collect();
        let node = Node::Call {
            func,
            args,
            pure,
            ascii_case: None,
            span,
        };
        Ok((self.fold(node), sig.ret))
    }

    /// A pure function call whose arguments are all constants (`Upper('/admin')`) becomes its
    /// value; a call that fails is kept, so that the error surfaces when it is evaluated.
    fn fold(&self, node: Node) -> Node {
        let Node::Call {
            args, pure: true, ..
        } = &node
        else {
            return node;
        };
        if !args.iter().all(|(a, _)| matches!(a, Node::Const(_))) {
            return node;
        }
        let mut effects = crate::eval::Effects::new();
        let mut fr = crate::eval::Frame {
            vars: &[],
            locals: Vec::new(),
            cx: crate::eval::CallContext {
                effects: &mut effects,
                clock: self.env.clock.as_ref(),
            },
            memo: None,
        };
        match node.eval(&mut fr) {
            Ok(v) if effects.is_empty() => Node::Const(v.into_static()),
            _ => node,
        }
    }

    fn predicate(
        &mut self,
        name: &str,
        kind: crate::eval::Pred,
        min: usize,
        max: usize,
        args: &[Expr],
        span: Span,
    ) -> C {
        use crate::eval::Pred;
        if args.len() < min || args.len() > max {
            let what = if args.len() > max {
                "too many"
            } else {
                "not enough"
            };
            return Err(self.err(span, format!("{what} arguments to call {name}")));
        }
        let (list, lt) = self.expr(&args[0])?;
        let elem = match lt {
            Type::List(e) => *e,
            Type::Any | Type::Nil => Type::Any,
            other => {
                return Err(self.err(
                    args[0].span,
                    format!("builtin {name} takes only array (got {other})"),
                ));
            }
        };
        let slot = self.alloc(3);
        let body = match args.get(1) {
            Some(a) => {
                let inner = match &a.kind {
                    ExprKind::Closure(b) => b.as_ref(),
                    _ => a,
                };
                self.scopes.push(Scope::Closure { slot, elem });
                let r = self.expr(inner);
                self.scopes.pop();
                let (bn, bt) = r?;
                let needs_bool = matches!(
                    kind,
                    Pred::All
                        | Pred::None
                        | Pred::Any
                        | Pred::One
                        | Pred::Filter
                        | Pred::Find
                        | Pred::FindIndex
                        | Pred::FindLast
                        | Pred::FindLastIndex
                        | Pred::Count
                );
                if needs_bool && !matches!(bt, Type::Bool | Type::Any) {
                    return Err(self.err(
                        a.span,
                        format!("predicate should return boolean (got {bt})"),
                    ));
                }
                Some(Box::new(bn))
            }
            None => None,
        };
        let extra = match args.get(2) {
            Some(a) => Some(Box::new(self.expr(a)?.0)),
            None => None,
        };
        let ty = builtins::predicate_type(kind, lt, elem);
        let fast = match &body {
            Some(b) if kind == Pred::Any => crate::datalist::detect(b, slot)
                .or_else(|| crate::datalist::detect_guard(b, slot))
                .map(Arc::new),
            _ => None,
        };
        Ok((
            Node::Predicate {
                kind,
                list: Box::new(list),
                body,
                slot,
                extra,
                fast,
                span,
            },
            ty,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FixedClock;
    use cs_models::{Alert, Event as AlertEvent, MetaItem, Source};
    use cs_types::{Event, EventType, Leaky, Queue, RuntimeAlert};

    fn log_event() -> Event {
        let mut evt = Event::new_log("Feb 12 14:10:21 host sshd[2201]: Failed password", "file");
        evt.set_meta("log_type", "ssh_failed-auth");
        evt.set_meta("service", "ssh");
        evt.set_meta("source_ip", "1.2.3.4");
        evt.set_parsed("program", "sshd");
        evt.set_parsed("status", "200");
        evt.set_parsed("path", "/admin/login.php");
        evt.line.labels.insert("type".into(), "syslog".into());
        evt.line.src = "/var/log/auth.log".into();
        evt.unmarshaled =
            serde_json::from_str(r#"{"a": {"b": "c", "n": 1.5, "i": 3, "l": [1, "x"]}}"#).unwrap();
        evt.time = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21Z").unwrap();
        evt
    }

    fn overflow_event() -> Event {
        let events = vec![
            AlertEvent {
                meta: vec![MetaItem::new("x", "z")],
                timestamp: None,
            },
            AlertEvent {
                meta: vec![MetaItem::new("x", "y"), MetaItem::new("k", "v")],
                timestamp: None,
            },
        ];
        let source = Source {
            ip: "1.2.3.4".into(),
            scope: Some("Ip".into()),
            value: Some("1.2.3.4".into()),
            ..Source::default()
        };
        let alert = Alert {
            events: Some(events),
            events_count: Some(2),
            scenario: Some("crowdsecurity/ssh-bf".into()),
            remediation: true,
            source: Some(source.clone()),
            ..Alert::default()
        };
        let mut ovf = RuntimeAlert {
            alert: Some(Box::new(alert.clone())),
            api_alerts: vec![alert],
            ..RuntimeAlert::default()
        };
        ovf.sources.insert("1.2.3.4".into(), source);
        Event {
            r#type: EventType::Overflow,
            overflow: ovf,
            ..Event::default()
        }
    }

    fn render(r: Result<Value<'_>, crate::error::RuntimeError>) -> String {
        match r {
            Ok(Value::Str(s)) => format!("{:?}", s.as_str()),
            Ok(v) => crate::format::format_v(&v),
            Err(e) => format!("runtime error: {}", e.message()),
        }
    }

    /// Compiles `input` in the event environment and evaluates it on a LOG event.
    fn check(input: &str, expected: &str) {
        let mut env = Environment::event();
        env.set_clock(Arc::new(FixedClock(
            chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap(),
        )));
        let evt = log_event();
        let got = match compile(input, &env) {
            Ok(p) => render(p.eval_event(&evt)),
            Err(e) => format!("compile error: {}", e.message()),
        };
        assert_eq!(got, expected, "{input}");
    }

    fn check_overflow(input: &str, expected: &str) {
        let evt = overflow_event();
        let got = match compile(input, &Environment::event()) {
            Ok(p) => render(p.eval_event(&evt)),
            Err(e) => format!("compile error: {}", e.message()),
        };
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn event_fields_and_missing_keys() {
        check(
            "evt.Meta.log_type == 'ssh_failed-auth' && evt.Meta.service == 'ssh'",
            "true",
        );
        check("evt.Meta.nope", "\"\"");
        check("evt.Meta.nope == ''", "true");
        check("evt.Parsed['program']", "\"sshd\"");
        check("evt.Line.Labels.type", "\"syslog\"");
        check("evt.Line.Src", "\"/var/log/auth.log\"");
        check("evt.Unmarshaled.nope == nil", "true");
        check("evt.Unmarshaled.a.b", "\"c\"");
        check("evt.Unmarshaled.a.n", "1.5");
        check("evt.Unmarshaled.a.l[1]", "\"x\"");
        check(
            "evt.Unmarshaled.nope.b",
            "runtime error: cannot fetch b from <nil>",
        );
        check("evt.Unmarshaled.nope?.b", "<nil>");
        check("evt.Unmarshaled.nope?.b.c.d", "<nil>");
        check(
            "evt.Overflow.Alert.Scenario",
            "runtime error: cannot fetch Scenario from <nil>",
        );
        check("evt.Overflow.Alert?.Scenario", "<nil>");
        check("evt.Overflow.Alert == nil", "true");
        check(
            "evt.Foo",
            "compile error: type types.Event has no field Foo",
        );
        check("evt.Meta.x.y", "compile error: type string has no field y");
        check("evt.GetMeta('service')", "\"ssh\"");
        check(
            "evt.GetMeta()",
            "compile error: not enough arguments to call types.Event.GetMeta",
        );
        check(
            "evt.GetMeta(1)",
            "compile error: cannot use int as argument (type string) to call GetMeta",
        );
        check("evt.GetType()", "\"log\"");
        check("evt.Type", "0");
        check("evt.ParseIPSources()", "[1.2.3.4]");
        check("evt.Time.Hour()", "14");
        check("evt.Time.Weekday().String()", "\"Thursday\"");
        check("evt.Time.Month().String()", "\"February\"");
        check(
            "evt.Time.Nope()",
            "compile error: type time.Time has no method Nope",
        );
        check("evt.Line.Raw[0:3]", "\"Feb\"");
        check("evt.Meta.source_ip[4:]", "\"3.4\"");
        check("'abc'[10:]", "\"\"");
        check("'abc'[0]", "97");
        check(
            "'abc'[5]",
            "runtime error: index out of range: 5 (array length is 3)",
        );
        check("[1,2,3][-1]", "3");
        check("'ssh' in ['ssh', 'http']", "true");
        check("'service' in evt.Meta", "true");
        check("'Meta' in evt", "true");
        check("'x' in nil", "false");
        check("evt.Parsed.status not in ['200', '301']", "false");
    }

    #[test]
    fn operators_follow_go() {
        check("200 == 200.0", "true");
        check("int(evt.Parsed.status) == 200", "true");
        check(
            "evt.Parsed.status == 200",
            "compile error: invalid operation: == (mismatched types string and int)",
        );
        check("nil == nil", "true");
        check("7 / 2", "3.5");
        check("7 % 3", "1");
        check("2 ** 10", "1024");
        check("1 + 2 * 3 - 4", "3");
        check("-3 + +2", "-1");
        check("'a' + 'b'", "\"ab\"");
        check(
            "'a' + 1",
            "compile error: invalid operation: + (mismatched types string and int)",
        );
        check(
            "evt.Unmarshaled.a.b + 1",
            "runtime error: invalid operation: string + int (mismatched types string and int)",
        );
        check("evt.Unmarshaled.a.i + 1", "4");
        check(
            "evt.Unmarshaled.a.i % 2",
            "runtime error: invalid operation: float64 % int (mismatched types float64 and int)",
        );
        check("type(evt.Unmarshaled.a.i)", "\"float\"");
        check("evt.Unmarshaled.a.i / 2", "1.5");
        check("1 < 2 < 3", "true");
        check("'b' > 'a'", "true");
        check(
            "1 < 'a'",
            "compile error: invalid operation: < (mismatched types int and string)",
        );
        check("true && false || true", "true");
        check("not true", "false");
        check("!(1 == 1)", "false");
        check(
            "1 && true",
            "compile error: invalid operation: && (mismatched types int and bool)",
        );
        check(
            "evt.Unmarshaled.a.i && true",
            "runtime error: invalid operation: && operand (non-bool value of type float64)",
        );
        check("false && evt.Unmarshaled.nope.x", "false");
        check("true ? 'a' : 'b'", "\"a\"");
        check("false ? evt.Unmarshaled.nope.x : 'b'", "\"b\"");
        check("nil ?? 'x'", "\"x\"");
        check("'' ?? 'x'", "\"\"");
        check("evt.Unmarshaled.nope ?? 'd'", "\"d\"");
        check("1..3", "[1 2 3]");
        check("1.5 == 1.5", "true");
        check("0.1 + 0.2", "0.30000000000000004");
        check("1e6 * 1", "1e+06");
        check("string(1234567.8)", "\"1.2345678e+06\"");
    }

    #[test]
    fn string_operators() {
        check("evt.Parsed.path contains 'admin'", "true");
        check("evt.Parsed.path startsWith '/admin'", "true");
        check("evt.Parsed.path endsWith '.php'", "true");
        check("evt.Parsed.path not endsWith '.php'", "false");
        check("evt.Unmarshaled.nope contains 'x'", "false");
        check(
            "evt.Unmarshaled.a.i contains 'x'",
            "runtime error: invalid operation: float64 contains string (mismatched types float64 and string)",
        );
        check("evt.Parsed.path matches '^/admin/.*\\\\.php$'", "true");
        check(
            "evt.Parsed.path matches '('",
            "compile error: invalid regular expression \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group",
        );
        check("evt.Parsed.path matches evt.Meta.service", "false");
        check("'x1' matches '\\\\d'", "true");
    }

    #[test]
    fn builtins_and_closures() {
        check("len('héllo')", "6");
        check("len(evt.Meta)", "3");
        check(
            "len(evt.Unmarshaled.nope)",
            "runtime error: invalid argument for len (type <nil>)",
        );
        check("lower('ABC') + upper('def')", "\"abcDEF\"");
        check("trim('  x  ')", "\"x\"");
        check("trimSuffix('file.log', '.log')", "\"file\"");
        check("split('a,b,c', ',')", "[a b c]");
        check("split('a,b,c', ',')[1]", "\"b\"");
        check("indexOf('hello', 'l')", "2");
        check("lastIndexOf('hello', 'l')", "3");
        check("hasSuffix('abc', 'bc')", "true");
        check("int('42')", "42");
        check(
            "int('4.2')",
            "runtime error: strconv.Atoi: parsing \"4.2\": invalid syntax",
        );
        check("int(4.9)", "4");
        check("float('1.5')", "1.5");
        check("get(evt.Meta, 'nope')", "<nil>");
        check("get([1, 2], 5)", "<nil>");
        check("duration('20m')", "20m0s");
        check("duration('1h') > duration('59m')", "true");
        check(
            "duration('x')",
            "runtime error: time: invalid duration \"x\"",
        );
        check("now().Year()", "2026");
        check("any([1, 2, 3], # > 2)", "true");
        check("all([1, 2, 3], {# > 0})", "true");
        check("none([1, 2], # > 5)", "true");
        check("one([1, 2], # > 1)", "true");
        check("filter([1, 2, 3, 4], # % 2 == 0)", "[2 4]");
        check("map([1, 2], # * 10)", "[10 20]");
        check("map([1, 2], #index)", "[0 1]");
        check("count([1, 2, 3], # > 1)", "2");
        check("sum([1, 2, 3])", "6");
        check("sum([1, 2.5])", "3.5");
        check("find([1, 2, 3], # > 1)", "2");
        check("findIndex([1, 2, 3], # > 5)", "-1");
        check("findLast([1, 2, 3], # < 3)", "2");
        check("reduce([1, 2, 3], #acc + #, 10)", "16");
        check("reduce([1, 2, 3], #acc + #)", "6");
        check("sortBy([3, 1, 2], #)", "[1 2 3]");
        check("sort([3, 1, 2], 'desc')", "[3 2 1]");
        check("groupBy([1, 2, 3], # % 2)", "map[0:[2] 1:[1 3]]");
        check("map([{'a': 1}, {'a': 2}], .a)", "[1 2]");
        check("any([1], # == 'x')", "false");
        check(
            "map(1, #)",
            "compile error: builtin map takes only array (got int)",
        );
        check(
            "filter([1], 'x')",
            "compile error: predicate should return boolean (got string)",
        );
        check(
            "filter([1], # + 1)",
            "runtime error: predicate should return boolean, got int",
        );
        check("any([1, 2], {let x = #; x > 1})", "true");
        check("let x = 2; let y = x * 3; y + 1", "7");
        check("let x = 1; map([1, 2], # + x)", "[2 3]");
        check("if 1 > 2 { 'a' } else { 'b' }", "\"b\"");
        check("[1, 'a', nil]", "[1 a <nil>]");
        check("{'a': 1, b: 'x'}", "map[a:1 b:x]");
        check("{'a': 1}.a", "1");
        check("keys({'b': 1, 'a': 2})", "[a b]");
        check("max(1, 5, 3)", "5");
        check("min([4, 2.5])", "2.5");
        check("mean([1, 2])", "1.5");
        check("median([3, 1, 2])", "2");
        check("abs(-3)", "3");
        check("floor(2.7)", "2");
        check("first([])", "<nil>");
        check("last([1, 2])", "2");
        check("concat([1], [2, 3])", "[1 2 3]");
        check("flatten([1, [2, [3]]])", "[1 2 3]");
        check("uniq([1, 1, 2])", "[1 2]");
        check("reverse([1, 2])", "[2 1]");
        check("join(['a', 'b'], '-')", "\"a-b\"");
        check("replace('aaa', 'a', 'b')", "\"bbb\"");
        check("repeat('ab', 2)", "\"abab\"");
        check("bitand(6, 3) + bitor(4, 1) + bitshl(1, 4)", "23");
        check(
            "toJSON({'a': [1]})",
            "\"{\\n  \\\"a\\\": [\\n    1\\n  ]\\n}\"",
        );
        check("fromJSON('{\"a\": 1}').a", "1");
        check("type(fromJSON('[1]')[0])", "\"float\"");
        check("type(1.5)", "\"float\"");
        check("'a' | upper()", "\"A\"");
        check("nope(1)", "compile error: unknown func nope");
        check("len(1, 2)", "compile error: too many arguments to call len");
        check(
            "len(1)",
            "compile error: invalid argument for len (type int)",
        );
        check(
            "lower(1)",
            "compile error: cannot use int as argument (type string) to call lower",
        );
        check(
            "split('a', ',', 'x')",
            "compile error: cannot use string as argument (type int) to call split",
        );
        check("upper(evt.Unmarshaled.a.b)", "\"C\"");
        check("foo", "compile error: unknown name foo");
        check("$env.evt.Meta.service", "\"ssh\"");
    }

    #[test]
    fn string_map_fast_path_matches_the_generic_path() {
        let env = Environment::event();
        let evt = log_event();
        let shared = Value::shared_object(Arc::new(log_event()));
        for (src, expected) in [
            ("evt.Meta.service == 'ssh'", true),
            ("evt.Meta['service'] == 'ssh'", true),
            ("evt.Meta.nope == ''", true),
            ("'ssh' == evt.Meta.service", true),
            ("evt.Line.Labels.type == 'syslog'", true),
            ("evt.Parsed.program != 'sshd'", false),
            (
                "!(evt.Enriched.x == 'y') && evt.Meta.service == 'ssh' || false",
                true,
            ),
        ] {
            let p = compile(src, &env).unwrap();
            assert_eq!(
                p.eval_bool(&[Value::object(&evt)]).unwrap(),
                expected,
                "{src}"
            );
            assert_eq!(
                p.eval_bool(std::slice::from_ref(&shared)).unwrap(),
                expected,
                "{src} (shared)"
            );
            let generic = p.eval(&[Value::object(&evt)]).unwrap();
            assert_eq!(generic.as_bool(), Some(expected), "{src} (eval)");
        }
        let p = compile("evt.Meta.service", &env).unwrap();
        assert_eq!(render(p.eval(std::slice::from_ref(&shared))), "\"ssh\"");
        assert_eq!(
            render(p.eval(&[Value::Nil])),
            "runtime error: cannot fetch service from <nil>"
        );
        let p = compile("evt.Meta.service == 'ssh'", &env).unwrap();
        assert!(p.eval_bool(&[Value::Nil]).is_err());
    }

    #[test]
    fn overflow_views() {
        check_overflow(
            "evt.Overflow.Alert.GetScenario()",
            "\"crowdsecurity/ssh-bf\"",
        );
        check_overflow("evt.Overflow.Alert.Source.IP", "\"1.2.3.4\"");
        check_overflow("evt.Overflow.Alert.Remediation", "true");
        check_overflow("evt.Overflow.Alert.GetEventsCount()", "2");
        check_overflow("evt.Overflow.Alert.Events[1].GetMeta('x')", "\"y\"");
        check_overflow(
            "any(evt.Overflow.Alert.Events, {.GetMeta('x') == 'y'})",
            "true",
        );
        check_overflow("'1.2.3.4' in evt.Overflow.GetSources()", "true");
        check_overflow("evt.Overflow.Sources['1.2.3.4'].GetScope()", "\"Ip\"");
        check_overflow("evt.Overflow.Sources['9.9.9.9']", "<nil>");
        check_overflow("evt.GetMeta('k')", "\"v\"");
        check_overflow("evt.GetType()", "\"overflow\"");
        check_overflow("len(evt.Overflow.Alert.Labels)", "0");
        check_overflow(
            "evt.Overflow.Alert.Events[5]",
            "runtime error: index out of range: 5 (array length is 2)",
        );
        check_overflow(
            "evt.Overflow.Alert.Nope",
            "compile error: type models.Alert has no field Nope",
        );
    }

    #[test]
    fn errors_show_position_and_caret() {
        let e = compile("evt.Meta.x == )", &Environment::event()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected token \")\" (expected expression) (line 1, column 15)\n | evt.Meta.x == )\n |               ^"
        );
        let p = compile("evt.Unmarshaled.a.b.c", &Environment::event()).unwrap();
        let err = p.eval_event(&log_event()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot fetch c from string (line 1, column 1)\n | evt.Unmarshaled.a.b.c\n | ^^^^^^^^^^^^^^^^^^^^^"
        );
    }

    #[test]
    fn effects_are_applied_to_the_event() {
        let mut env = Environment::event();
        env.add_function(crate::env::Function::new(
            "Store",
            Signature::new([Type::Map(&Type::Any), Type::String], Type::Any),
            |args, cx| {
                cx.insert_into(
                    &args[0],
                    args[1].as_str().unwrap_or_default(),
                    serde_json::json!({"k": 1}),
                )?;
                Ok(Value::Nil)
            },
        ));
        let mut evt = log_event();
        let p = compile("Store(evt.Unmarshaled, 'new') == nil && evt.SetMeta('m', 'v') && evt.SetParsed('p', evt.Meta.service)", &env).unwrap();
        assert!(p.run_event_bool(&mut evt).unwrap());
        assert_eq!(evt.meta["m"], "v");
        assert_eq!(evt.parsed["p"], "ssh");
        assert_eq!(evt.unmarshaled["new"]["k"], 1);
        // Writes are visible to the rest of the expression, as Go's map writes are.
        let mut evt = log_event();
        let p = compile(
            "Store(evt.Unmarshaled, 'caddy') == nil && evt.Unmarshaled.caddy.k == 1 && evt.SetMeta('m', 'w') && evt.Meta.m == 'w' && evt.Meta['m'] == 'w' && evt.GetMeta('m') == 'w'",
            &env,
        )
        .unwrap();
        assert!(p.run_event_bool(&mut evt).unwrap());
        let p = compile("evt.SetParsed('p', 'x') ? evt.Parsed.p : ''", &env).unwrap();
        let v = p
            .run_event(&mut evt, |v| crate::format::format_v(&v))
            .unwrap();
        assert_eq!(v, "x");
        let other = compile("Store(evt.Meta.service, 'x')", &env).unwrap_err();
        assert_eq!(
            other.message(),
            "cannot use string as argument (type map[string]interface {}) to call Store"
        );
    }

    #[test]
    fn native_function_arguments_are_checked() {
        let mut env = Environment::event();
        env.add_function(crate::env::Function::new(
            "Half",
            Signature::new([Type::Float], Type::Float),
            |args, _| Ok(Value::Float(args[0].as_f64().unwrap_or_default() / 2.0)),
        ));
        let evt = log_event();
        let run = |src: &str| match compile(src, &env) {
            Ok(p) => render(p.eval_event(&evt)),
            Err(e) => format!("compile error: {}", e.message()),
        };
        assert_eq!(run("Half(3)"), "1.5");
        assert_eq!(
            run("Half('x')"),
            "compile error: cannot use string as argument (type float64) to call Half"
        );
        assert_eq!(
            run("Half()"),
            "compile error: not enough arguments to call Half (float64) float64"
        );
        assert_eq!(
            run("Half(evt.Unmarshaled.a.b)"),
            "runtime error: interface conversion: interface {} is string, not float64"
        );
        assert_eq!(run("Half(evt.Unmarshaled.a.i)"), "1.5");
    }

    #[test]
    fn scenario_environments() {
        let env = Environment::scenario_condition();
        let mut q = Queue::new(5);
        for _ in 0..3 {
            q.add(log_event());
        }
        let leaky = Leaky {
            total_count: 3,
            ..Leaky::default()
        };
        let evt = log_event();
        let p = compile(
            "len(queue.Queue) == 3 && count(queue.Queue, #.Meta.service == 'ssh') == leaky.Total_count && map(queue.Queue[-2:], {#.Time})[0] == evt.Time",
            &env,
        )
        .unwrap();
        assert!(
            p.eval_bool(&[
                Value::object(&evt),
                Value::object(&q),
                Value::object(&leaky)
            ])
            .unwrap()
        );
        let of = Environment::overflow_filter();
        let ovf = overflow_event();
        let p = compile(
            "signal.Alert.GetScenario() != '' && len(queue.Queue) > 0",
            &of,
        )
        .unwrap();
        assert!(
            p.eval_bool(&[
                Value::object(&q),
                Value::object(&ovf.overflow),
                Value::object(&leaky)
            ])
            .unwrap()
        );
        let alert_env = Environment::alert();
        let alert = ovf.overflow.alert.as_deref().unwrap();
        let p = compile(
            "Alert.Remediation == true && Alert.GetScope() == 'Ip'",
            &alert_env,
        )
        .unwrap();
        assert!(p.eval_bool(&[Value::object(alert)]).unwrap());
        assert!(
            p.eval_bool(&[]).is_err(),
            "wrong variable count is an error, not a panic"
        );
    }

    #[test]
    fn hubtest_parser_results() {
        use std::collections::BTreeMap;
        let records = vec![cs_types::ParserResult {
            idx: 1,
            evt: log_event(),
            success: true,
        }];
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "crowdsecurity/sshd-logs".to_string(),
            Value::List(crate::value::List::View(&records)),
        );
        let mut stages = BTreeMap::new();
        stages.insert(
            "s01-parse".to_string(),
            Value::map_with_zero(nodes, Value::empty_list()),
        );
        let results = Value::map_with_zero(
            stages,
            Value::map_with_zero(BTreeMap::new(), Value::empty_list()),
        );
        let env = Environment::hubtest();
        let run = |src: &str| {
            render(
                compile(src, &env)
                    .unwrap()
                    .eval(std::slice::from_ref(&results)),
            )
        };
        assert_eq!(
            run(
                r#"results["s01-parse"]["crowdsecurity/sshd-logs"][0].Evt.Parsed["program"] == "sshd""#
            ),
            "true"
        );
        assert_eq!(
            run(r#"results["s01-parse"]["crowdsecurity/sshd-logs"][0].Success"#),
            "true"
        );
        assert_eq!(
            run(
                r#"basename(results["s01-parse"]["crowdsecurity/sshd-logs"][0].Evt.Line.Src) == "auth.log""#
            ),
            "true"
        );
        assert_eq!(
            run(r#"results["s01-parse"]["crowdsecurity/sshd-logs"][0].Evt.Meta["timestamp"][4:]"#),
            "\"\""
        );
        assert_eq!(run(r#"len(results["s99"]["x"])"#), "0");
        assert_eq!(run("len(results)"), "1");
    }

    #[test]
    fn hubtest_environment() {
        let env = Environment::hubtest();
        let ovf = vec![overflow_event()];
        let results = Value::List(crate::value::List::View(&ovf));
        let run = |src: &str| {
            render(
                compile(src, &env)
                    .unwrap()
                    .eval(std::slice::from_ref(&results)),
            )
        };
        assert_eq!(
            run("results[0].Overflow.Alert.Events[1].GetMeta('x') == 'y'"),
            "true"
        );
        assert_eq!(run("'1.2.3.4' in results[0].Overflow.GetSources()"), "true");
        assert_eq!(run("len(results) == 1"), "true");
        assert_eq!(run("basename('/a/b/c.log')"), "\"c.log\"");
        assert_eq!(
            run("results[1]"),
            "runtime error: index out of range: 1 (array length is 1)"
        );
        assert_eq!(
            run("results[0].Overflow.Nope"),
            "runtime error: type types.RuntimeAlert has no field Nope"
        );
    }
}

#[cfg(test)]
mod timeless_tests {
    use super::*;
    use crate::env::Function;

    #[test]
    fn timeless_programs_call_nothing_that_depends_on_the_clock_or_outside_state() {
        let mut env = Environment::event();
        let str_fn = |name: &str| {
            Function::new(
                name,
                Signature::new([Type::String], Type::String),
                |a, _| Ok(a[0].clone()),
            )
        };
        env.add_function(str_fn("Pure").pure());
        env.add_function(str_fn("Data"));
        env.add_function(str_fn("Outside"));
        env.set_timeless("Data");
        env.set_timeless("NotRegistered");
        let timeless = |src: &str| compile(src, &env).unwrap().is_timeless();
        assert!(timeless("evt.Meta.log_type == 'x' && len(evt.Parsed) > 0"));
        assert!(timeless("Pure(evt.Meta.a) == 'x'"));
        assert!(timeless(
            "Data(evt.Meta.a) == 'x' || evt.GetMeta('b') == ''"
        ));
        assert!(
            timeless("evt.SetMeta('a', 'b') || true"),
            "effects are told apart by the caller"
        );
        assert!(!timeless("Outside(evt.Meta.a) == 'x'"));
        assert!(!timeless("evt.Meta.a == 'x' && Pure(Outside('y')) == 'y'"));
        assert!(!timeless("any([1], {now().Year() > 2000})"));
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    /// The deepest accepted expressions must compile and evaluate on a default 2 MiB test
    /// thread stack, in debug builds too.
    #[test]
    fn deepest_accepted_expressions_do_not_overflow_the_stack() {
        let env = Environment::event();
        let evt = cs_types::Event::default();
        let shapes: [fn(usize) -> String; 4] = [
            |n| format!("{}true{}", "any([1], ".repeat(n), ")".repeat(n)),
            |n| format!("{}true", "!".repeat(n)),
            |n| format!("{}evt.Meta.x{}", "(".repeat(n), ")".repeat(n)),
            |n| format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        ];
        for shape in shapes {
            let deepest = (1..=crate::parser::MAX_DEPTH)
                .rev()
                .find_map(|n| compile(&shape(n), &env).ok().map(|p| (n, p)));
            let (n, p) = deepest.expect("shallow nesting compiles");
            assert!(n >= 40, "{}: only {n} levels accepted", shape(1));
            let _ = p.eval(&[Value::object(&evt)]);
            assert!(compile(&shape(1000), &env).is_err());
        }
    }
}
