//! Compiled programs and their tree-walking evaluator.

use std::sync::Arc;

use regex::Regex;

use crate::env::{AsciiCase, Clock, NativeFn};
use crate::error::{RuntimeError, Span};
use crate::ops;
use crate::types::Type;
use crate::value::{List, Map, Str, Value};

/// A side effect requested by an expression (`evt.SetMeta`, `UnmarshalJSON` into
/// `evt.Unmarshaled`...), applied to the event after evaluation by [`Effects::apply`].
///
/// Effects are deferred because the evaluated data is borrowed while the expression runs; the
/// rest of the same expression still sees them, as map reads consult the pending writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `SetMeta(key, value)` on the event at address `target`.
    SetMeta {
        /// Address of the event.
        target: usize,
        /// Meta key.
        key: String,
        /// Value.
        value: String,
    },
    /// `SetParsed(key, value)` on the event at address `target`.
    SetParsed {
        /// Address of the event.
        target: usize,
        /// Parsed key.
        key: String,
        /// Value.
        value: String,
    },
    /// `map[key] = value` into the map at address `target` (e.g. `evt.Unmarshaled`).
    MapInsert {
        /// Address of the map.
        target: usize,
        /// Key.
        key: String,
        /// Value.
        value: serde_json::Value,
    },
}

/// Effects collected during one or more evaluations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects(pub Vec<Effect>);

impl Effects {
    /// No effect.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Whether no effect was requested.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latest pending write of `key` into the map at address `map`, as an owned value.
    fn pending(&self, map: usize, key: &str) -> Option<Value<'static>> {
        // `SetMeta`/`SetParsed` name the event; its maps sit at fixed offsets inside it.
        let meta = std::mem::offset_of!(cs_types::Event, meta);
        let parsed = std::mem::offset_of!(cs_types::Event, parsed);
        self.0.iter().rev().find_map(|e| match e {
            Effect::MapInsert {
                target,
                key: k,
                value,
            } if *target == map && k == key => Some(Value::from_json(value).into_static()),
            Effect::SetMeta {
                target,
                key: k,
                value,
            } if target + meta == map && k == key => Some(Value::string(value.as_str())),
            Effect::SetParsed {
                target,
                key: k,
                value,
            } if target + parsed == map && k == key => Some(Value::string(value.as_str())),
            _ => None,
        })
    }

    /// Applies the effects that target `evt` (its own address or that of its maps); effects
    /// aimed at other objects are dropped, as they would have been lost copies upstream.
    pub fn apply(self, evt: &mut cs_types::Event) {
        let evt_addr = std::ptr::from_ref::<cs_types::Event>(evt) as usize;
        let unmarshaled_addr = std::ptr::from_ref(&evt.unmarshaled) as usize;
        let meta_addr = std::ptr::from_ref(&evt.meta) as usize;
        let parsed_addr = std::ptr::from_ref(&evt.parsed) as usize;
        let enriched_addr = std::ptr::from_ref(&evt.enriched) as usize;
        for e in self.0 {
            match e {
                Effect::SetMeta { target, key, value } if target == evt_addr => {
                    evt.meta.insert(key.into(), value.into());
                }
                Effect::SetParsed { target, key, value } if target == evt_addr => {
                    evt.parsed.insert(key.into(), value.into());
                }
                Effect::MapInsert { target, key, value } => {
                    if target == unmarshaled_addr {
                        evt.unmarshaled.insert(key, value);
                    } else if let serde_json::Value::String(s) = value {
                        let map = if target == meta_addr {
                            &mut evt.meta
                        } else if target == parsed_addr {
                            &mut evt.parsed
                        } else if target == enriched_addr {
                            &mut evt.enriched
                        } else {
                            continue;
                        };
                        map.insert(key.into(), s.into());
                    }
                }
                _ => {}
            }
        }
    }
}

/// What native functions and methods get besides their arguments.
pub struct CallContext<'c> {
    pub(crate) effects: &'c mut Effects,
    pub(crate) clock: &'c dyn Clock,
}

impl CallContext<'_> {
    /// The environment's clock.
    pub fn now(&self) -> cs_types::GoTime {
        self.clock.now()
    }

    /// Records `target[key] = value` for a map argument borrowed from the evaluated data
    /// (e.g. `evt.Unmarshaled`), to be applied by [`Effects::apply`].
    pub fn insert_into(
        &mut self,
        target: &Value<'_>,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), RuntimeError> {
        match target.as_map().and_then(Map::addr) {
            Some(addr) => {
                self.effects.0.push(Effect::MapInsert {
                    target: addr,
                    key: key.to_string(),
                    value,
                });
                Ok(())
            }
            None => Err(RuntimeError::new(format!(
                "cannot assign into {}: not a map of the evaluated data",
                target.type_name()
            ))),
        }
    }

    /// A write of `key` into the map at address `map` requested earlier in this evaluation
    /// and not applied yet.
    pub fn pending(&self, map: usize, key: &str) -> Option<Value<'static>> {
        if self.effects.is_empty() {
            None
        } else {
            self.effects.pending(map, key)
        }
    }

    /// Records an effect (used by object methods such as `SetMeta`).
    pub fn push_effect(&mut self, effect: Effect) {
        self.effects.0.push(effect);
    }
}

/// Answers of event predicates (`evt.Meta.log_type in [...]`, `evt.Meta.service == 'http'`,
/// `Upper(evt.Meta.http_path) contains '/ADMIN'`...) kept across the evaluations of programs on
/// the same variables, such as the filters of every scenario on one event: each predicate is
/// then decided once for all the programs that test it. Pass it to [`Program::run_memo`] and
/// [`Memo::clear`] it whenever the variables change (a new event, or the event was modified).
///
/// Only predicates that read typed string maps of the variables (no function with state or
/// side effect) are memoised, and not while the evaluation has pending side effects (which the
/// reads would see).
#[derive(Debug, Clone, Default)]
pub struct Memo {
    /// By predicate id: 0 unknown, 1 false, 2 true.
    answers: Vec<u8>,
    /// By field id: the text of the field, once read.
    fields: Vec<Option<Arc<str>>>,
    /// The ids set since the last [`Memo::clear`] (ids are shared by every program of the
    /// process, a memo only sees a few of them).
    set: Vec<u32>,
}

impl Memo {
    /// No answer known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every answer.
    pub fn clear(&mut self) {
        for id in self.set.drain(..) {
            let i = id as usize;
            if let Some(a) = self.answers.get_mut(i) {
                *a = 0;
            }
            if let Some(f) = self.fields.get_mut(i) {
                *f = None;
            }
        }
    }

    fn field(&self, id: u32) -> Option<&Arc<str>> {
        self.fields.get(id as usize)?.as_ref()
    }

    fn set_field(&mut self, id: u32, text: &str) {
        let i = id as usize;
        if self.fields.len() <= i {
            self.fields.resize(i + 1, None);
        }
        self.fields[i] = Some(text.into());
        self.set.push(id);
    }

    fn get(&self, id: u32) -> Option<bool> {
        match self.answers.get(id as usize) {
            Some(1) => Some(false),
            Some(2) => Some(true),
            _ => None,
        }
    }

    fn set(&mut self, id: u32, answer: bool) {
        let i = id as usize;
        if self.answers.len() <= i {
            self.answers.resize(i + 1, 0);
        }
        self.answers[i] = 1 + u8::from(answer);
        self.set.push(id);
    }
}

/// Signature of a builtin implementation.
pub(crate) type BuiltinFn =
    for<'a> fn(&[Value<'a>], &mut CallContext<'_>) -> Result<Value<'a>, RuntimeError>;

/// Predicate builtins (closures over a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pred {
    All,
    None,
    Any,
    One,
    Filter,
    Map,
    Find,
    FindIndex,
    FindLast,
    FindLastIndex,
    Count,
    Sum,
    GroupBy,
    SortBy,
    Reduce,
}

/// How a native function argument is adapted to its declared parameter type at run time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Coerce {
    None,
    /// Int → Float for a float64 parameter.
    ToFloat,
    /// A value of static type any asserted against the parameter type.
    Assert(Type),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// The comparison of a [`CaseCmp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseOp {
    /// `contains`, `startsWith`, `endsWith`.
    Str(StrOp),
    /// `==`.
    Eq,
}

/// `F(arg) op needle`, where `F` is a pure function of one string that maps ASCII text with
/// `case` (`Upper`, `Lower`): an ASCII argument is compared byte by byte through the mapping,
/// without calling `F`; any other argument goes through `F`, as the plain comparison would.
#[derive(Clone)]
pub(crate) struct CaseCmp {
    pub op: CaseOp,
    pub case: AsciiCase,
    pub func: Arc<NativeFn>,
    pub arg: Node,
    pub coerce: Coerce,
    pub needle: Box<str>,
    /// Position of the call, for its errors.
    pub call_span: Span,
    /// Position of the comparison.
    pub span: Span,
}

impl CaseCmp {
    fn test(&self, fr: &mut Frame<'_, '_>) -> Result<bool, Ex> {
        let x = self.arg.eval(fr)?;
        let x = coerce_arg(x, self.coerce).map_err(|e| spanned(e, self.call_span))?;
        if let Value::Str(s) = &x
            && s.as_str().is_ascii()
        {
            return Ok(self.ascii(s.as_str().as_bytes()));
        }
        let v = (self.func)(std::slice::from_ref(&x), &mut fr.cx)
            .map_err(|e| spanned(e, self.call_span))?;
        let needle = &*self.needle;
        match (self.op, &v) {
            (CaseOp::Eq, _) => Ok(matches!(&v, Value::Str(s) if s.as_str() == needle)),
            (CaseOp::Str(_), Value::Nil) => Ok(false),
            (CaseOp::Str(op), Value::Str(s)) => Ok(match op {
                StrOp::Contains => s.as_str().contains(needle),
                StrOp::StartsWith => s.as_str().starts_with(needle),
                StrOp::EndsWith => s.as_str().ends_with(needle),
            }),
            (CaseOp::Str(op), _) => Err(spanned(
                ops::mismatched(op.name(), &v, &Value::str(needle)),
                self.span,
            )),
        }
    }

    /// The comparison of the mapped ASCII `text` with the needle (which may hold any UTF-8:
    /// non-ASCII bytes never match).
    fn ascii(&self, text: &[u8]) -> bool {
        let needle = self.needle.as_bytes();
        let case = self.case;
        let same = |part: &[u8]| part.iter().zip(needle).all(|(&a, &b)| case.map(a) == b);
        match self.op {
            CaseOp::Eq => text.len() == needle.len() && same(text),
            CaseOp::Str(StrOp::StartsWith) => {
                text.len() >= needle.len() && same(&text[..needle.len()])
            }
            CaseOp::Str(StrOp::EndsWith) => {
                text.len() >= needle.len() && same(&text[text.len() - needle.len()..])
            }
            CaseOp::Str(StrOp::Contains) => match needle.first() {
                None => true,
                Some(&first) => {
                    text.len() >= needle.len()
                        && (0..=text.len() - needle.len())
                            .any(|i| case.map(text[i]) == first && same(&text[i..i + needle.len()]))
                }
            },
        }
    }
}

impl StrOp {
    /// The operator as written.
    fn name(self) -> &'static str {
        match self {
            StrOp::Contains => "contains",
            StrOp::StartsWith => "startsWith",
            StrOp::EndsWith => "endsWith",
        }
    }
}

/// Where a fused path starts: an environment variable or a local (closure element, `let`).
#[derive(Clone, Copy)]
pub(crate) enum Root {
    Var(usize),
    Local(usize),
}

/// One statically resolved step of a [`Node::Path`].
#[derive(Clone)]
pub(crate) struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Clone)]
pub(crate) enum StepKind {
    /// Struct field by index (name kept for messages).
    Field(usize, &'static str),
    /// Map key; a missing key yields the map's zero value.
    Key(Box<str>),
}

/// A compiled expression node.
#[derive(Clone)]
pub(crate) enum Node {
    Const(Value<'static>),
    Var(usize),
    Local(usize),
    /// Statically resolved struct fields and map keys applied to `base` in turn.
    Path {
        base: Box<Node>,
        steps: Vec<Step>,
    },
    Member {
        base: Box<Node>,
        name: Box<str>,
        optional: bool,
        span: Span,
    },
    Index {
        base: Box<Node>,
        index: Box<Node>,
        optional: bool,
        span: Span,
    },
    Slice {
        base: Box<Node>,
        from: Option<Box<Node>>,
        to: Option<Box<Node>>,
        span: Span,
    },
    Method {
        base: Box<Node>,
        index: usize,
        args: Vec<Node>,
        optional: bool,
        span: Span,
    },
    DynMethod {
        base: Box<Node>,
        name: Box<str>,
        args: Vec<Node>,
        optional: bool,
        span: Span,
    },
    Call {
        func: Arc<NativeFn>,
        args: Vec<(Node, Coerce)>,
        /// The function is pure (see [`crate::Function::pure`]).
        pure: bool,
        /// Its ASCII case mapping, for a function of one argument (see
        /// [`crate::Function::ascii_case`]).
        ascii_case: Option<AsciiCase>,
        span: Span,
    },
    Builtin {
        f: BuiltinFn,
        args: Vec<Node>,
        span: Span,
    },
    Predicate {
        kind: Pred,
        list: Box<Node>,
        body: Option<Box<Node>>,
        slot: usize,
        extra: Option<Box<Node>>,
        /// `any(LIST, {X op F(#)})` answered from an index when LIST is a data list.
        fast: Option<Arc<crate::datalist::FastAny>>,
        span: Span,
    },
    Not(Box<Node>, Span),
    Neg(Box<Node>, Span),
    Plus(Box<Node>, Span),
    And(Vec<Node>, Span),
    Or(Vec<Node>, Span),
    Eq(Box<Node>, Box<Node>),
    EqConst(Box<Node>, Value<'static>),
    /// `x == "literal"`: only a string equals a string.
    EqStr(Box<Node>, Box<str>),
    /// `root.Field.key` for a `map[string]string` field of a typed struct (`evt.Meta.x`).
    StrMapKey {
        root: Root,
        index: usize,
        key: Box<str>,
        span: Span,
    },
    /// `root.Field.key == "literal"`, the most frequent filter shape.
    StrMapKeyEq {
        root: Root,
        index: usize,
        key: Box<str>,
        value: Box<str>,
        span: Span,
    },
    Cmp(&'static str, Box<Node>, Box<Node>, Span),
    Arith(&'static str, Box<Node>, Box<Node>, Span),
    In(Box<Node>, Box<Node>, Span),
    /// `x in ["a", "b"]`: a constant list of strings, which only a string can be equal to.
    InStrs(Box<Node>, Box<[Box<str>]>),
    /// `Upper(x) contains "CONST"` and the like.
    CaseCmp(Box<CaseCmp>),
    /// A predicate of the variables whose answer is kept in the evaluation's [`Memo`] under
    /// this id (the same for the same predicate in every program).
    Memo(u32, Box<Node>),
    /// A string field of the variables ([`Node::StrMapKey`]) whose text is kept in the
    /// evaluation's [`Memo`] under this id.
    MemoStr(u32, Box<Node>),
    StrOp(StrOp, Box<Node>, Box<Node>, Span),
    Matches(Box<Node>, Box<Node>, Span),
    MatchesConst(Box<Node>, Arc<Regex>, Span),
    Range(Box<Node>, Box<Node>, Span),
    Coalesce(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>, Span),
    Let {
        slot: usize,
        value: Box<Node>,
        body: Box<Node>,
    },
    Sequence(Vec<Node>),
    Chain(Box<Node>),
    Array(Vec<Node>),
    MapLit(Vec<(Node, Node)>),
}

/// Internal evaluation outcome: an error, or the `?.` short-circuit of a nil chain.
pub(crate) enum Ex {
    Err(RuntimeError),
    NilChain,
}

impl From<RuntimeError> for Ex {
    fn from(e: RuntimeError) -> Self {
        Ex::Err(e)
    }
}

pub(crate) type R<'a> = Result<Value<'a>, Ex>;

/// Evaluation state: variables, locals (let bindings and closure pointers) and the context.
pub(crate) struct Frame<'a, 'c> {
    pub vars: &'c [Value<'a>],
    pub locals: Vec<Value<'a>>,
    pub cx: CallContext<'c>,
    pub memo: Option<&'c mut Memo>,
}

fn err_at(msg: impl Into<String>, span: Span) -> Ex {
    Ex::Err(RuntimeError::new(msg).with_span(span))
}

fn spanned(e: RuntimeError, span: Span) -> Ex {
    Ex::Err(e.with_span(span))
}

fn expect_bool(v: &Value<'_>, what: &str, span: Span) -> Result<bool, Ex> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(err_at(
            format!(
                "invalid operation: {what} (non-bool value of type {})",
                other.type_name()
            ),
            span,
        )),
    }
}

/// Member access by name at run time: map key (zero value if missing), struct field by name,
/// error on nil and other types.
pub(crate) fn fetch<'a>(base: &Value<'a>, name: &str) -> Result<Value<'a>, RuntimeError> {
    match base {
        Value::Map(m) => Ok(m.get_or_zero(name)),
        Value::Object(o) => ops::object_field(o, name),
        Value::Nil => Err(RuntimeError::new(format!("cannot fetch {name} from <nil>"))),
        other => Err(RuntimeError::new(format!(
            "cannot fetch {name} from {}",
            other.type_name()
        ))),
    }
}

impl Root {
    fn get<'f, 'a>(self, fr: &'f Frame<'a, '_>) -> &'f Value<'a> {
        static NIL: Value<'static> = Value::Nil;
        match self {
            Root::Var(i) => fr.vars.get(i).unwrap_or(&NIL),
            Root::Local(i) => fr.locals.get(i).unwrap_or(&NIL),
        }
    }
}

/// `m[key]`, seeing the writes of this evaluation that are not applied yet (`UnmarshalJSON`
/// into `evt.Unmarshaled`, `evt.SetMeta`...), as Go sees its map writes at once.
fn map_get<'a>(m: &Map<'a>, key: &str, fx: &Effects) -> Value<'a> {
    if !fx.is_empty()
        && let Some(addr) = m.addr()
        && let Some(v) = fx.pending(addr, key)
    {
        return v;
    }
    m.get_or_zero(key)
}

/// `base.Field.key` through the generic object interface, for objects without the
/// `str_map_field` fast path, or when writes are pending (and to produce the same errors as a
/// plain path).
fn slow_str_map_key<'a>(
    base: &Value<'a>,
    index: usize,
    key: &str,
    span: Span,
    fx: &Effects,
) -> R<'a> {
    match base {
        Value::Object(o) => match o.field(index) {
            Value::Map(m) => Ok(map_get(&m, key, fx)),
            other => fetch(&other, key).map_err(|e| spanned(e, span)),
        },
        other => Err(err_at(
            format!("cannot fetch {key} from {}", other.type_name()),
            span,
        )),
    }
}

fn list_index(len: usize, i: i64) -> Option<usize> {
    let idx = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&idx).then_some(idx as usize)
}

/// `base[index]` at run time.
pub(crate) fn index_value<'a>(
    base: &Value<'a>,
    index: &Value<'_>,
) -> Result<Value<'a>, RuntimeError> {
    match base {
        Value::Map(m) => ops::map_index(m, index),
        Value::List(l) => {
            let Some(i) = index.as_int() else {
                return Err(RuntimeError::new(format!(
                    "invalid index type {} for list",
                    index.type_name()
                )));
            };
            match list_index(l.len(), i) {
                Some(idx) => Ok(l.get(idx).unwrap_or_default()),
                None => Err(RuntimeError::new(format!(
                    "index out of range: {i} (array length is {})",
                    l.len()
                ))),
            }
        }
        Value::Str(s) => {
            let Some(i) = index.as_int() else {
                return Err(RuntimeError::new(format!(
                    "invalid index type {} for string",
                    index.type_name()
                )));
            };
            let bytes = s.as_str().as_bytes();
            match list_index(bytes.len(), i) {
                Some(idx) => Ok(Value::Int(i64::from(bytes[idx]))),
                None => Err(RuntimeError::new(format!(
                    "index out of range: {i} (array length is {})",
                    bytes.len()
                ))),
            }
        }
        Value::Object(o) => match index {
            Value::Str(name) => ops::object_field(o, name.as_str()),
            other => Err(RuntimeError::new(format!(
                "invalid field name type {}",
                other.type_name()
            ))),
        },
        Value::Nil => Err(RuntimeError::new(format!(
            "cannot fetch {} from <nil>",
            crate::format::format_v(index)
        ))),
        other => Err(RuntimeError::new(format!(
            "cannot fetch {} from {}",
            crate::format::format_v(index),
            other.type_name()
        ))),
    }
}

/// Clamps slice bounds as expr does (never an error).
fn clamp(len: usize, from: Option<i64>, to: Option<i64>) -> (usize, usize) {
    let norm = |v: i64| -> usize {
        let v = if v < 0 { v + len as i64 } else { v };
        v.clamp(0, len as i64) as usize
    };
    let a = from.map_or(0, norm);
    let b = to.map_or(len, norm);
    (a, b.max(a))
}

/// Calls a time or duration method by name.
fn value_method<'a>(
    base: &Value<'a>,
    name: &str,
    args: &[Value<'a>],
) -> Result<Value<'a>, RuntimeError> {
    match base {
        Value::Time(t) => crate::builtins::time_method(t, name, args),
        Value::Duration(d) => crate::builtins::duration_method(*d, name, args),
        Value::Nil => Err(RuntimeError::new(format!(
            "cannot call method {name} on <nil>"
        ))),
        other => Err(RuntimeError::new(format!(
            "type {} has no method {name}",
            other.type_name()
        ))),
    }
}

impl Node {
    /// The nodes this one evaluates, for analyses made at compile time (a closure's body and
    /// a binding's body included; the indexes of a [`Node::Predicate`]'s fast path are built
    /// from its body, so they are not listed again).
    pub(crate) fn children(&self) -> Vec<&Node> {
        match self {
            Node::Const(_)
            | Node::Var(_)
            | Node::Local(_)
            | Node::StrMapKey { .. }
            | Node::StrMapKeyEq { .. } => Vec::new(),
            Node::Path { base, .. } | Node::Member { base, .. } => vec![&**base],
            Node::Index { base, index, .. } => vec![&**base, &**index],
            Node::Slice { base, from, to, .. } => std::iter::once(&**base)
                .chain(from.as_deref())
                .chain(to.as_deref())
                .collect(),
            Node::Method { base, args, .. } | Node::DynMethod { base, args, .. } => {
                std::iter::once(&**base).chain(args).collect()
            }
            Node::Call { args, .. } => args.iter().map(|(a, _)| a).collect(),
            Node::Builtin { args, .. } => args.iter().collect(),
            Node::Predicate {
                list, body, extra, ..
            } => std::iter::once(&**list)
                .chain(body.as_deref())
                .chain(extra.as_deref())
                .collect(),
            Node::Not(a, _)
            | Node::Neg(a, _)
            | Node::Plus(a, _)
            | Node::Chain(a)
            | Node::EqConst(a, _)
            | Node::EqStr(a, _)
            | Node::InStrs(a, _)
            | Node::MatchesConst(a, _, _)
            | Node::Memo(_, a)
            | Node::MemoStr(_, a) => vec![&**a],
            Node::CaseCmp(c) => vec![&c.arg],
            Node::And(items, _)
            | Node::Or(items, _)
            | Node::Array(items)
            | Node::Sequence(items) => items.iter().collect(),
            Node::Eq(a, b)
            | Node::Cmp(_, a, b, _)
            | Node::Arith(_, a, b, _)
            | Node::In(a, b, _)
            | Node::StrOp(_, a, b, _)
            | Node::Matches(a, b, _)
            | Node::Range(a, b, _)
            | Node::Coalesce(a, b)
            | Node::Let {
                value: a, body: b, ..
            } => vec![&**a, &**b],
            Node::Cond(c, a, b, _) => vec![&**c, &**a, &**b],
            Node::MapLit(entries) => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
        }
    }

    /// Evaluates a node that must produce a bool without materialising a [`Value`] for the
    /// boolean operators; `what` and `span` describe the operand for error messages.
    pub(crate) fn test<'a>(
        &self,
        fr: &mut Frame<'a, '_>,
        what: &str,
        span: Span,
    ) -> Result<bool, Ex> {
        match self {
            Node::StrMapKeyEq {
                root,
                index,
                key,
                value,
                span,
            } => {
                let base = root.get(fr);
                if let Value::Object(o) = base
                    && let Some(m) = o.ref_str_map(*index)
                    && fr.cx.effects.is_empty()
                {
                    return Ok(m.get(&**key).map_or("", cs_types::Text::as_str) == &**value);
                }
                let v = slow_str_map_key(base, *index, key, *span, fr.cx.effects)?;
                Ok(matches!(&v, Value::Str(s) if s.as_str() == &**value))
            }
            Node::Not(a, span) => Ok(!a.test(fr, "! operand", *span)?),
            Node::And(items, span) => {
                for it in items {
                    if !it.test_item(fr, "&& operand", *span)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items, span) => {
                for it in items {
                    if it.test_item(fr, "|| operand", *span)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Const(Value::Bool(b)) => Ok(*b),
            Node::CaseCmp(c) => c.test(fr),
            Node::Memo(..) => self.test_item(fr, what, span),
            Node::InStrs(a, strs) => Ok(match a.eval(fr)? {
                Value::Str(s) => strs.iter().any(|c| **c == *s.as_str()),
                _ => false,
            }),
            other => {
                let v = other.eval(fr)?;
                expect_bool(&v, what, span)
            }
        }
    }

    /// [`Node::test`] of an operand of `&&`/`||`, where [`Node::Memo`] is found: its answer is
    /// looked up here rather than one call deeper.
    #[inline(always)]
    fn test_item<'a>(&self, fr: &mut Frame<'a, '_>, what: &str, span: Span) -> Result<bool, Ex> {
        let Node::Memo(id, inner) = self else {
            return self.test(fr, what, span);
        };
        let Some(memo) = fr.memo.as_deref() else {
            return inner.test(fr, what, span);
        };
        if fr.cx.effects.is_empty()
            && let Some(answer) = memo.get(*id)
        {
            return Ok(answer);
        }
        let answer = inner.test(fr, what, span)?;
        if fr.cx.effects.is_empty()
            && let Some(memo) = fr.memo.as_deref_mut()
        {
            memo.set(*id, answer);
        }
        Ok(answer)
    }

    /// Evaluates the node. Frequent nodes are handled here; the others live in
    /// [`Node::eval_cold`] so that this recursive function keeps a small stack frame.
    pub(crate) fn eval<'a>(&self, fr: &mut Frame<'a, '_>) -> R<'a> {
        match self {
            Node::Const(v) => Ok(v.clone()),
            Node::Var(i) => Ok(fr.vars.get(*i).cloned().unwrap_or_default()),
            Node::Local(i) => Ok(fr.locals.get(*i).cloned().unwrap_or_default()),
            Node::Path { base, steps } => {
                let mut cur = match &**base {
                    Node::Var(i) => fr.vars.get(*i).cloned().unwrap_or_default(),
                    other => other.eval(fr)?,
                };
                for step in steps {
                    cur = match (&step.kind, cur) {
                        (StepKind::Field(i, _), Value::Object(o)) => o.field(*i),
                        (StepKind::Field(_, name), other) => {
                            return Err(err_at(
                                format!("cannot fetch {name} from {}", other.type_name()),
                                step.span,
                            ));
                        }
                        (StepKind::Key(k), Value::Map(m)) => map_get(&m, k, fr.cx.effects),
                        (StepKind::Key(k), other) => {
                            fetch(&other, k).map_err(|e| spanned(e, step.span))?
                        }
                    };
                }
                Ok(cur)
            }
            Node::Predicate {
                kind,
                list,
                body,
                slot,
                extra,
                fast,
                span,
            } => {
                let l = list.eval(fr)?;
                if let (Some(fast), Value::List(List::Data(data))) = (fast, &l) {
                    let found = match body {
                        Some(body) if fast.guard => {
                            fast.guarded_any(data, body, *slot, *span, fr)?
                        }
                        _ => fast.eval(data, fr)?,
                    };
                    if let Some(found) = found {
                        return Ok(Value::Bool(found));
                    }
                }
                crate::builtins::predicate(
                    *kind,
                    l,
                    body.as_deref(),
                    *slot,
                    extra.as_deref(),
                    *span,
                    fr,
                )
            }
            Node::Not(..)
            | Node::And(..)
            | Node::Or(..)
            | Node::StrMapKeyEq { .. }
            | Node::CaseCmp(_)
            | Node::Memo(..)
            | Node::InStrs(..) => self.test(fr, "", Span::default()).map(Value::Bool),
            Node::StrMapKey {
                root,
                index,
                key,
                span,
            } => {
                let base = root.get(fr);
                if let Value::Object(o) = base
                    && let Some(m) = o.ref_str_map(*index)
                    && fr.cx.effects.is_empty()
                {
                    return Ok(Value::Str(Str::Borrowed(
                        m.get(&**key).map_or("", cs_types::Text::as_str),
                    )));
                }
                slow_str_map_key(base, *index, key, *span, fr.cx.effects)
            }
            Node::Eq(a, b) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                Ok(Value::Bool(ops::equal(&x, &y)))
            }
            Node::EqConst(a, c) => {
                let x = a.eval(fr)?;
                Ok(Value::Bool(ops::equal(&x, c)))
            }
            Node::EqStr(a, c) => {
                let x = a.eval(fr)?;
                Ok(Value::Bool(
                    matches!(&x, Value::Str(s) if s.as_str() == &**c),
                ))
            }
            Node::In(a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                ops::contains_elem(&x, &y)
                    .map(Value::Bool)
                    .map_err(|e| spanned(e, *span))
            }
            Node::StrOp(op, a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                match (&x, &y) {
                    (Value::Nil, _) | (_, Value::Nil) => Ok(Value::Bool(false)),
                    (Value::Str(s), Value::Str(t)) => {
                        let (s, t) = (s.as_str(), t.as_str());
                        Ok(Value::Bool(match op {
                            StrOp::Contains => s.contains(t),
                            StrOp::StartsWith => s.starts_with(t),
                            StrOp::EndsWith => s.ends_with(t),
                        }))
                    }
                    _ => Err(spanned(ops::mismatched(op.name(), &x, &y), *span)),
                }
            }
            Node::MatchesConst(a, re, span) => match a.eval(fr)? {
                Value::Nil => Ok(Value::Bool(false)),
                Value::Str(s) => Ok(Value::Bool(re.is_match(s.as_str()))),
                other => Err(err_at(
                    format!(
                        "invalid operation: {} matches string (mismatched types {} and string)",
                        other.type_name(),
                        other.type_name()
                    ),
                    *span,
                )),
            },
            Node::Coalesce(a, b) => match a.eval(fr) {
                Ok(Value::Nil) | Err(Ex::NilChain) => b.eval(fr),
                other => other,
            },
            Node::Cond(c, a, b, span) => {
                if c.test(fr, "ternary condition", *span)? {
                    a.eval(fr)
                } else {
                    b.eval(fr)
                }
            }
            Node::Chain(inner) => match inner.eval(fr) {
                Err(Ex::NilChain) => Ok(Value::Nil),
                other => other,
            },
            Node::MemoStr(id, inner) => {
                if !fr.cx.effects.is_empty() {
                    return inner.eval(fr);
                }
                if let Some(text) = fr.memo.as_deref().and_then(|m| m.field(*id)) {
                    return Ok(Value::Str(Str::Shared(text.clone())));
                }
                let v = inner.eval(fr)?;
                if let (Some(memo), Value::Str(s)) = (fr.memo.as_deref_mut(), &v) {
                    memo.set_field(*id, s.as_str());
                }
                Ok(v)
            }
            _ => self.eval_cold(fr),
        }
    }

    #[inline(never)]
    fn eval_cold<'a>(&self, fr: &mut Frame<'a, '_>) -> R<'a> {
        match self {
            Node::Member {
                base,
                name,
                optional,
                span,
            } => {
                let b = base.eval(fr)?;
                if *optional && b.is_nil() {
                    return Err(Ex::NilChain);
                }
                if let Value::Map(m) = &b {
                    return Ok(map_get(m, name, fr.cx.effects));
                }
                fetch(&b, name).map_err(|e| spanned(e, *span))
            }
            Node::Index {
                base,
                index,
                optional,
                span,
            } => {
                let b = base.eval(fr)?;
                if *optional && b.is_nil() {
                    return Err(Ex::NilChain);
                }
                let i = index.eval(fr)?;
                if let (Value::Map(m), Value::Str(k)) = (&b, &i) {
                    return Ok(map_get(m, k.as_str(), fr.cx.effects));
                }
                index_value(&b, &i).map_err(|e| spanned(e, *span))
            }
            Node::Slice {
                base,
                from,
                to,
                span,
            } => {
                let b = base.eval(fr)?;
                let mut bound = |n: &Option<Box<Node>>| -> Result<Option<i64>, Ex> {
                    match n {
                        None => Ok(None),
                        Some(n) => match n.eval(fr)? {
                            Value::Int(i) => Ok(Some(i)),
                            other => Err(err_at(
                                format!("invalid slice index type {}", other.type_name()),
                                *span,
                            )),
                        },
                    }
                };
                let (f, t) = (bound(from)?, bound(to)?);
                match &b {
                    Value::Str(s) => {
                        let text = s.as_str();
                        let (a, z) = clamp(text.len(), f, t);
                        let part = text.as_bytes().get(a..z).unwrap_or_default();
                        let sliced = match s {
                            Str::Borrowed(bs)
                                if bs.is_char_boundary(a) && bs.is_char_boundary(z) =>
                            {
                                return Ok(Value::str(&bs[a..z]));
                            }
                            _ => String::from_utf8_lossy(part).into_owned(),
                        };
                        Ok(Value::string(sliced))
                    }
                    Value::List(l) => {
                        let (a, z) = clamp(l.len(), f, t);
                        Ok(match l {
                            List::Strings(v) => Value::List(List::Strings(&v[a..z])),
                            List::Json(v) => Value::List(List::Json(&v[a..z])),
                            _ => Value::list((a..z).filter_map(|i| l.get(i)).collect()),
                        })
                    }
                    Value::Nil => Ok(Value::Nil),
                    other => Err(err_at(format!("cannot slice {}", other.type_name()), *span)),
                }
            }
            Node::Method {
                base,
                index,
                args,
                optional,
                span,
            } => {
                let b = base.eval(fr)?;
                let argv = small_args(args.len(), |i| args[i].eval(fr))?;
                match b {
                    Value::Object(o) => o
                        .call_method(*index, &argv, &mut fr.cx)
                        .map_err(|e| spanned(e, *span)),
                    Value::Nil if *optional => Err(Ex::NilChain),
                    other => Err(err_at(
                        format!("cannot call method on {}", other.type_name()),
                        *span,
                    )),
                }
            }
            Node::DynMethod {
                base,
                name,
                args,
                optional,
                span,
            } => {
                let b = base.eval(fr)?;
                if *optional && b.is_nil() {
                    return Err(Ex::NilChain);
                }
                let argv = small_args(args.len(), |i| args[i].eval(fr))?;
                match &b {
                    Value::Object(o) => match o.get().struct_type().method_index(name) {
                        Some(i) => o
                            .call_method(i, &argv, &mut fr.cx)
                            .map_err(|e| spanned(e, *span)),
                        None => Err(err_at(
                            format!("type {} has no method {name}", b.type_name()),
                            *span,
                        )),
                    },
                    _ => value_method(&b, name, &argv).map_err(|e| spanned(e, *span)),
                }
            }
            Node::Call {
                func, args, span, ..
            } => {
                let argv = small_args(args.len(), |i| {
                    let v = args[i].0.eval(fr)?;
                    coerce_arg(v, args[i].1).map_err(|e| spanned(e, *span))
                })?;
                func(&argv, &mut fr.cx).map_err(|e| spanned(e, *span))
            }
            Node::Builtin { f, args, span } => {
                let argv = small_args(args.len(), |i| args[i].eval(fr))?;
                f(&argv, &mut fr.cx).map_err(|e| spanned(e, *span))
            }
            Node::Neg(a, span) => match a.eval(fr)? {
                Value::Int(i) => Ok(Value::Int(i.wrapping_neg())),
                Value::Float(f) => Ok(Value::Float(-f)),
                Value::Duration(d) => Ok(Value::Duration(d.wrapping_neg())),
                other => Err(err_at(
                    format!("invalid operation: - {}", other.type_name()),
                    *span,
                )),
            },
            Node::Plus(a, span) => match a.eval(fr)? {
                v @ (Value::Int(_) | Value::Float(_) | Value::Duration(_)) => Ok(v),
                other => Err(err_at(
                    format!("invalid operation: + {}", other.type_name()),
                    *span,
                )),
            },
            Node::Cmp(op, a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                ops::compare_op(&x, &y, op)
                    .map(Value::Bool)
                    .map_err(|e| spanned(e, *span))
            }
            Node::Arith(op, a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                ops::arith(op, &x, &y).map_err(|e| spanned(e, *span))
            }
            Node::Matches(a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                match (&x, &y) {
                    (Value::Nil, _) | (_, Value::Nil) => Ok(Value::Bool(false)),
                    (Value::Str(s), Value::Str(p)) => {
                        let re = crate::goregex::compile(p.as_str()).map_err(|e| {
                            err_at(format!("invalid regular expression: {e}"), *span)
                        })?;
                        Ok(Value::Bool(re.is_match(s.as_str())))
                    }
                    _ => Err(spanned(ops::mismatched("matches", &x, &y), *span)),
                }
            }
            Node::Range(a, b, span) => {
                let x = a.eval(fr)?;
                let y = b.eval(fr)?;
                match (x, y) {
                    (Value::Int(lo), Value::Int(hi)) => {
                        if hi.saturating_sub(lo) > 1_000_000 {
                            return Err(err_at("range too large", *span));
                        }
                        Ok(Value::list((lo..=hi).map(Value::Int).collect()))
                    }
                    (x, y) => Err(spanned(ops::mismatched("..", &x, &y), *span)),
                }
            }
            Node::Let { slot, value, body } => {
                let v = value.eval(fr)?;
                set_local(fr, *slot, v);
                body.eval(fr)
            }
            Node::Sequence(items) => {
                let mut last = Value::Nil;
                for it in items {
                    last = it.eval(fr)?;
                }
                Ok(last)
            }
            Node::Array(items) => Ok(Value::list(eval_args(items, fr)?)),
            Node::MapLit(entries) => {
                let mut m = std::collections::BTreeMap::new();
                for (k, v) in entries {
                    let key = match k.eval(fr)? {
                        Value::Str(s) => s.as_str().to_string(),
                        other => crate::format::format_v(&other),
                    };
                    m.insert(key, v.eval(fr)?);
                }
                Ok(Value::map(m))
            }
            // Handled by `eval`; listed so that a new node kind must be placed explicitly.
            Node::Const(_)
            | Node::Var(_)
            | Node::Local(_)
            | Node::Path { .. }
            | Node::Predicate { .. }
            | Node::Not(..)
            | Node::And(..)
            | Node::Or(..)
            | Node::StrMapKey { .. }
            | Node::StrMapKeyEq { .. }
            | Node::Eq(..)
            | Node::EqConst(..)
            | Node::EqStr(..)
            | Node::In(..)
            | Node::InStrs(..)
            | Node::CaseCmp(_)
            | Node::Memo(..)
            | Node::MemoStr(..)
            | Node::StrOp(..)
            | Node::MatchesConst(..)
            | Node::Coalesce(..)
            | Node::Cond(..)
            | Node::Chain(_) => self.eval(fr),
        }
    }
}

pub(crate) fn set_local<'a>(fr: &mut Frame<'a, '_>, slot: usize, v: Value<'a>) {
    if fr.locals.len() <= slot {
        fr.locals.resize(slot + 1, Value::Nil);
    }
    fr.locals[slot] = v;
}

/// Evaluated call arguments, on the stack for the usual small counts (no allocation per call).
enum Args<'a> {
    Inline([Value<'a>; 4], usize),
    Heap(Vec<Value<'a>>),
}

impl<'a> std::ops::Deref for Args<'a> {
    type Target = [Value<'a>];

    fn deref(&self) -> &[Value<'a>] {
        match self {
            Args::Inline(buf, n) => &buf[..*n],
            Args::Heap(v) => v,
        }
    }
}

fn small_args<'a>(
    n: usize,
    mut next: impl FnMut(usize) -> Result<Value<'a>, Ex>,
) -> Result<Args<'a>, Ex> {
    if n <= 4 {
        let mut buf = [Value::Nil, Value::Nil, Value::Nil, Value::Nil];
        for (i, slot) in buf.iter_mut().enumerate().take(n) {
            *slot = next(i)?;
        }
        Ok(Args::Inline(buf, n))
    } else {
        (0..n)
            .map(next)
            .collect::<Result<Vec<_>, _>>()
            .map(Args::Heap)
    }
}

pub(crate) fn eval_args<'a>(args: &[Node], fr: &mut Frame<'a, '_>) -> Result<Vec<Value<'a>>, Ex> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        out.push(a.eval(fr)?);
    }
    Ok(out)
}

/// Checks a dynamically typed argument against a parameter type, as Go's reflection-based
/// call would (int → float64 is converted; nil is accepted only for lists, maps and structs).
pub(crate) fn coerce_arg(v: Value<'_>, c: Coerce) -> Result<Value<'_>, RuntimeError> {
    match c {
        Coerce::None => Ok(v),
        Coerce::ToFloat => Ok(match v {
            Value::Int(i) => Value::Float(i as f64),
            other => other,
        }),
        Coerce::Assert(ty) => {
            let ok = match (ty, &v) {
                (Type::Any, _) => true,
                (Type::String, Value::Str(_))
                | (Type::Bool, Value::Bool(_))
                | (Type::Int, Value::Int(_)) => true,
                (Type::Float, Value::Float(_)) => true,
                (Type::Float, Value::Int(i)) => return Ok(Value::Float(*i as f64)),
                (Type::Int, Value::Float(f)) if f.fract() == 0.0 => {
                    return Ok(Value::Int(*f as i64));
                }
                (Type::Time, Value::Time(_)) | (Type::Duration, Value::Duration(_)) => true,
                (Type::List(_) | Type::Map(_) | Type::Struct(_), Value::Nil) => true,
                (Type::List(_), Value::List(_)) | (Type::Map(_), Value::Map(_)) => true,
                (Type::Struct(st), Value::Object(o)) => std::ptr::eq(st, o.get().struct_type()),
                _ => false,
            };
            if ok {
                Ok(v)
            } else {
                Err(RuntimeError::new(format!(
                    "interface conversion: interface {{}} is {}, not {ty}",
                    v.type_name()
                )))
            }
        }
    }
}

/// A compiled expression, reusable and shareable across threads.
pub struct Program {
    pub(crate) root: Node,
    pub(crate) source: Arc<str>,
    pub(crate) result_type: Type,
    pub(crate) var_count: usize,
    pub(crate) local_count: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) timeless: bool,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("source", &self.source)
            .field("result_type", &self.result_type)
            .finish_non_exhaustive()
    }
}

impl Program {
    /// Whether the result depends only on the variables: no call reads the clock (`now()`) or
    /// a function not declared [pure](crate::Function::pure) or
    /// [timeless](crate::Environment::set_timeless). Such an expression gives the same answer
    /// whenever and wherever it is evaluated, its side effects (see [`Effects`]) aside.
    pub fn is_timeless(&self) -> bool {
        self.timeless
    }

    /// The expression text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The statically known result type (`interface {}` when only known at run time).
    pub fn result_type(&self) -> Type {
        self.result_type
    }

    /// Evaluates with the variables in the environment's slot order, discarding side effects
    /// (use [`Program::run`] for expressions that may mutate the event).
    pub fn eval<'a>(&self, vars: &[Value<'a>]) -> Result<Value<'a>, RuntimeError> {
        let mut fx = Effects::new();
        self.run(vars, &mut fx)
    }

    /// Evaluates and collects side effects into `effects`.
    pub fn run<'a>(
        &self,
        vars: &[Value<'a>],
        effects: &mut Effects,
    ) -> Result<Value<'a>, RuntimeError> {
        self.run_with(vars, effects, None)
    }

    /// [`Program::run`] reusing and completing the answers of `memo`, which holds those of
    /// earlier evaluations on the same variables.
    pub fn run_memo<'a>(
        &self,
        vars: &[Value<'a>],
        effects: &mut Effects,
        memo: &mut Memo,
    ) -> Result<Value<'a>, RuntimeError> {
        self.run_with(vars, effects, Some(memo))
    }

    fn run_with<'a>(
        &self,
        vars: &[Value<'a>],
        effects: &mut Effects,
        memo: Option<&mut Memo>,
    ) -> Result<Value<'a>, RuntimeError> {
        if vars.len() != self.var_count {
            return Err(RuntimeError::new(format!(
                "expression expects {} variables, got {}",
                self.var_count,
                vars.len()
            )));
        }
        let mut fr = Frame {
            vars,
            locals: Vec::with_capacity(self.local_count),
            cx: CallContext {
                effects,
                clock: self.clock.as_ref(),
            },
            memo,
        };
        match self.root.eval(&mut fr) {
            Ok(v) => Ok(v),
            Err(Ex::NilChain) => Ok(Value::Nil),
            Err(Ex::Err(e)) => Err(e.with_source(&self.source)),
        }
    }

    /// Evaluates an expression that must return a bool (filters, conditions).
    pub fn eval_bool(&self, vars: &[Value<'_>]) -> Result<bool, RuntimeError> {
        if matches!(
            self.root,
            Node::And(..)
                | Node::Or(..)
                | Node::Not(..)
                | Node::StrMapKeyEq { .. }
                | Node::CaseCmp(_)
                | Node::InStrs(..)
        ) && vars.len() == self.var_count
        {
            let mut fx = Effects::new();
            let mut fr = Frame {
                vars,
                locals: Vec::new(),
                cx: CallContext {
                    effects: &mut fx,
                    clock: self.clock.as_ref(),
                },
                memo: None,
            };
            return match self.root.test(&mut fr, "", Span::default()) {
                Ok(b) => Ok(b),
                Err(Ex::NilChain) => Ok(false),
                Err(Ex::Err(e)) => Err(e.with_source(&self.source)),
            };
        }
        match self.eval(vars)? {
            Value::Bool(b) => Ok(b),
            other => Err(RuntimeError::new(format!(
                "expression {:?} returned {} instead of bool",
                &*self.source,
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(base: Value<'_>, index: Value<'_>, expected: &str) {
        let got = match index_value(&base, &index) {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {}", e.message()),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn programs_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Program>();
    }

    mod fast_paths {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use super::*;
        use crate::env::{Environment, Function, Signature};

        /// Go's per-rune simple case mapping, which turns some non-ASCII runes into ASCII
        /// (`ı` → `I`, `ſ` → `S`, the Kelvin sign → `k`).
        fn map_runes<'a>(args: &[Value<'a>], upper: bool) -> Result<Value<'a>, RuntimeError> {
            let text = args[0]
                .as_str()
                .ok_or_else(|| RuntimeError::new("not a string"))?;
            Ok(Value::string(
                text.chars()
                    .map(|c| {
                        let mut m: Vec<char> = if upper {
                            c.to_uppercase().collect()
                        } else {
                            c.to_lowercase().collect()
                        };
                        if m.len() == 1 { m.remove(0) } else { c }
                    })
                    .collect::<String>(),
            ))
        }

        /// Variables `x` (string) and `a` (any). `Up`/`Low` declare their ASCII case mapping
        /// and count their calls; `PlainUp`/`PlainLow` are the same functions, only pure.
        fn env(calls: &Arc<AtomicUsize>) -> Environment {
            let mut env = Environment::new();
            env.add_variable("x", Type::String);
            env.add_variable("a", Type::Any);
            for (name, upper, case) in [
                ("Up", true, Some(AsciiCase::Upper)),
                ("Low", false, Some(AsciiCase::Lower)),
                ("PlainUp", true, None),
                ("PlainLow", false, None),
            ] {
                let calls = calls.clone();
                let f = Function::new(
                    name,
                    Signature::new([Type::String], Type::String),
                    move |args, _| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        map_runes(args, upper)
                    },
                );
                env.add_function(match case {
                    Some(case) => f.ascii_case(case),
                    None => f.pure(),
                });
            }
            env
        }

        fn render(r: Result<Value<'_>, RuntimeError>) -> String {
            match r {
                Ok(v) => crate::format::format_v(&v),
                Err(e) => format!("error: {}", e.message()),
            }
        }

        /// `src` evaluated on `vars`, checking that [`Program::eval_bool`] agrees.
        fn run(env: &Environment, src: &str, vars: &[Value<'_>]) -> String {
            let p = crate::compile(src, env).unwrap_or_else(|e| panic!("{src}: {e}"));
            let value = render(p.eval(vars));
            let test = match p.eval_bool(vars) {
                Ok(b) => b.to_string(),
                Err(e) => format!("error: {}", e.message()),
            };
            assert_eq!(
                value, test,
                "{src} on {vars:?}: eval and eval_bool disagree"
            );
            value
        }

        #[test]
        fn case_comparisons_answer_what_the_call_answers() {
            let calls = Arc::new(AtomicUsize::new(0));
            let env = env(&calls);
            let shapes = [
                "F(x) contains N",
                "F(x) startsWith N",
                "F(x) endsWith N",
                "F(x) == N",
                "N == F(x)",
                "F(x) != N",
                "F(a) contains N",
                "F(a) == N",
                "!(F(x) endsWith N) && F(x) startsWith N",
            ];
            let needles = [
                "", "ADMIN", "admin", "/ADMIN/", "/wp-", "I", "S", "K", "k", "é", "É", "İ",
                "/ADMIN/X", "Ab",
            ];
            let texts = [
                "",
                "/admin/",
                "/Admin/x",
                "/ADMIN/x?y=1",
                "/wp-login.php",
                "ı",
                "ſ",
                "\u{212a}",
                "/admın/",
                "/adminé/",
                "é",
                "É",
                "ab",
                "AB",
                "İ",
                "admi",
            ];
            let anys = [
                Value::Nil,
                Value::Int(3),
                Value::str("/admin/"),
                Value::str("ſ"),
            ];
            let mut checked = 0;
            for (fast_f, plain_f) in [("Up", "PlainUp"), ("Low", "PlainLow")] {
                for shape in shapes {
                    for needle in needles {
                        let lit = format!("{needle:?}");
                        let fast = shape.replace('F', fast_f).replace('N', &lit);
                        let plain = shape.replace('F', plain_f).replace('N', &lit);
                        for text in texts {
                            for a in &anys {
                                let vars = [Value::str(text), a.clone()];
                                assert_eq!(
                                    run(&env, &fast, &vars),
                                    run(&env, &plain, &vars),
                                    "{fast} on x={text:?} a={a:?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
            assert_eq!(checked, 2 * 9 * 14 * 16 * 4);
        }

        #[test]
        fn ascii_arguments_skip_the_call() {
            let calls = Arc::new(AtomicUsize::new(0));
            let env = env(&calls);
            let p = crate::compile("Up(x) contains '/ADMIN' || Low(x) == 'x'", &env).unwrap();
            for (x, expected, called) in [
                ("/admin/login", true, 0),
                ("/blog", false, 0),
                // Non-ASCII text goes through the function: `ı` is upper-cased to `I`.
                ("/admın", true, 1),
                ("/blög", false, 2),
            ] {
                calls.store(0, Ordering::Relaxed);
                assert_eq!(
                    p.eval_bool(&[Value::str(x), Value::Nil]).unwrap(),
                    expected,
                    "{x}"
                );
                assert_eq!(calls.load(Ordering::Relaxed), called, "{x}");
            }
            // The call keeps its own span in errors.
            let p = crate::compile("Up(a) contains 'A'", &env).unwrap();
            let err = p.eval(&[Value::str(""), Value::Int(1)]).unwrap_err();
            assert_eq!(
                err.message(),
                "interface conversion: interface {} is int, not string"
            );
            assert_eq!(calls.load(Ordering::Relaxed), 2);
        }

        #[test]
        fn folded_patterns_are_compiled_once() {
            let calls = Arc::new(AtomicUsize::new(0));
            let env = env(&calls);
            let p = crate::compile("x matches Up('^/a.c')", &env).unwrap();
            assert!(matches!(p.root, Node::MatchesConst(..)));
            assert_eq!(
                run(
                    &env,
                    "x matches Up('^/a.c')",
                    &[Value::str("/ABC"), Value::Nil]
                ),
                "true"
            );
            assert_eq!(
                run(
                    &env,
                    "a matches Up('^/a.c')",
                    &[Value::str(""), Value::Int(1)]
                ),
                "error: invalid operation: int matches string (mismatched types int and string)"
            );
            // An invalid folded pattern is an error when evaluated, not when compiling.
            let p = crate::compile("x matches Up('(')", &env).unwrap();
            assert!(matches!(p.root, Node::Matches(..)));
            assert!(
                run(&env, "x matches Up('(')", &[Value::str("("), Value::Nil])
                    .starts_with("error: invalid regular expression")
            );
        }

        #[test]
        fn memos_share_predicates_across_programs() {
            let mut env = Environment::event();
            env.add_function(
                Function::new(
                    "Up",
                    Signature::new([Type::String], Type::String),
                    |args, _| map_runes(args, true),
                )
                .ascii_case(AsciiCase::Upper),
            );
            let ids = |src: &str| -> Vec<u32> {
                match crate::compile(src, &env).unwrap().root {
                    Node::And(items, _) | Node::Or(items, _) => items
                        .iter()
                        .filter_map(|n| match n {
                            Node::Memo(id, _) => Some(*id),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            };
            let a = ids("evt.Meta.log_type in ['a', 'b'] && Up(evt.Meta.p) contains '/X'");
            let b = ids("evt.Meta.log_type in ['a','b'] and evt.Parsed.v == 'GET'");
            let c = ids(
                "evt.Meta.log_type in ['a'] && evt.Meta.p matches 'x' && evt.Meta.p startsWith 'y'",
            );
            assert_eq!((a.len(), b.len(), c.len()), (2, 2, 3));
            assert_eq!(a[0], b[0]);
            assert!(!a.contains(&c[0]) && !b.contains(&c[0]));
            // Calls on computed values and methods are not memoised.
            assert!(ids("Up(evt.Meta.p + 'x') contains 'X' && evt.SetMeta('a', 'b')").is_empty());

            let first = crate::compile("evt.Meta.log_type in ['a', 'b'] && true", &env).unwrap();
            let second = crate::compile(
                "evt.Meta.log_type in ['a','b'] && Up(evt.Meta.p) contains '/X'",
                &env,
            )
            .unwrap();
            let written = crate::compile(
                "evt.SetMeta('log_type', 'z') && evt.Meta.log_type in ['a','b']",
                &env,
            )
            .unwrap();
            let mut memo = Memo::new();
            let mut evt = cs_types::Event::new_log("", "file");
            evt.set_meta("log_type", "a");
            evt.set_meta("p", "/x/y");
            fn run(p: &Program, evt: &cs_types::Event, memo: &mut Memo) -> bool {
                let mut fx = Effects::new();
                let v = p.run_memo(&[Value::object(evt)], &mut fx, memo).unwrap();
                v.as_bool().unwrap()
            }
            assert!(run(&first, &evt, &mut memo));
            assert!(run(&second, &evt, &mut memo));
            // Pending writes are read instead of the memo.
            assert!(!run(&written, &evt, &mut memo));
            // The memo answers for the variables it was filled on until it is cleared.
            let mut other = evt.clone();
            other.set_meta("log_type", "c");
            assert!(run(&second, &other, &mut memo));
            // Fields read by memoised predicates are shared too.
            let third = crate::compile("evt.Meta.p endsWith '/y' && true", &env).unwrap();
            other.set_meta("p", "/z");
            assert!(run(&third, &other, &mut memo));
            memo.clear();
            assert!(!run(&third, &other, &mut memo));
            assert!(!run(&second, &other, &mut memo));
            assert!(!run(&first, &other, &mut memo));
        }

        #[test]
        fn membership_in_constant_string_lists() {
            let calls = Arc::new(AtomicUsize::new(0));
            let mut env = env(&calls);
            env.add_variable("s", Type::String);
            for (src, node_is_strs) in [
                ("a in ['GET', 'HEAD', '']", true),
                ("x in ['GET', 'HEAD', '']", true),
                ("a in ['GET', 3, 'HEAD']", false),
                ("a in [s, 'HEAD', '']", false),
                ("!(x in ['GET'])", false),
            ] {
                let p = crate::compile(src, &env).unwrap();
                assert_eq!(matches!(p.root, Node::InStrs(..)), node_is_strs, "{src}");
            }
            // The constant-list shape answers what the same list built at run time answers.
            for a in [
                Value::str("GET"),
                Value::str("HEAD"),
                Value::str("get"),
                Value::str(""),
                Value::Nil,
                Value::Int(3),
                Value::Float(3.0),
                Value::list(vec![Value::str("GET")]),
            ] {
                for x in ["GET", "", "POST"] {
                    let vars = [Value::str(x), a.clone(), Value::str("GET")];
                    assert_eq!(
                        run(&env, "a in ['GET', 'HEAD', ''] || x in ['GET']", &vars),
                        run(&env, "a in [s, 'HEAD', ''] || x in [s]", &vars),
                        "x={x:?} a={a:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn indexing() {
        let l = Value::list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        check(l.clone(), Value::Int(-1), "3");
        check(
            l.clone(),
            Value::Int(3),
            "error: index out of range: 3 (array length is 3)",
        );
        check(
            l,
            Value::str("a"),
            "error: invalid index type string for list",
        );
        check(Value::str("abc"), Value::Int(0), "97");
        check(
            Value::Nil,
            Value::str("x"),
            "error: cannot fetch x from <nil>",
        );
        assert_eq!(clamp(5, Some(4), None), (4, 5));
        assert_eq!(clamp(5, Some(7), Some(2)), (5, 5));
        assert_eq!(clamp(5, Some(-2), None), (3, 5));
    }
}
