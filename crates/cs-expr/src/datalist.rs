//! Long-lived lists (data file contents) and the indexes built over them for the scenario
//! filter shapes `any(File("x.txt"), {X op F(#)})` and `any(File("x.txt"), {X contains F(#) ?
//! THEN : false})`.
//!
//! A [`DataList`] carries the indexes computed from its elements: for a pure function `F` of
//! the element and constants (or none) and an operator, `F` is applied to every element once
//! and the results are turned into an Aho-Corasick automaton (`contains`), a hash set (`==`), a
//! list of strings (`startsWith`, `endsWith`) or compiled regexes (`matches`). `any` then
//! evaluates `X` once per call and asks the index, instead of evaluating the closure for every
//! element. When `X` is `Upper(y)` or `Lower(y)` (see [`crate::Function::ascii_case`]), an ASCII
//! `y` is looked up in an ASCII case-insensitive automaton without computing `X`. With a guard
//! (`? THEN : false`), the index tells which elements pass it, and only those run `THEN`. The
//! answer is the one the closure loop gives, errors and side effects included; shapes the index
//! cannot answer exactly fall back to the loop.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::env::{AsciiCase, NativeFn};
use crate::error::Span;
use crate::eval::{Coerce, Ex, Frame, Node};
use crate::value::Value;

/// A list that lives as long as the data it was read from (a data file), shared by every
/// evaluation. Indexes derived from it by `any(...)` are cached on it, so they are dropped
/// with it when the data is reloaded.
pub struct DataList {
    items: Vec<Value<'static>>,
    derived: RwLock<Vec<Derived>>,
}

impl std::fmt::Debug for DataList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataList")
            .field("len", &self.items.len())
            .finish_non_exhaustive()
    }
}

/// Indexes kept per list (a few (function, operator) pairs are used in practice).
const MAX_DERIVED: usize = 32;

struct Derived {
    /// The function applied to the elements (kept alive so that pointer identity is sound).
    func: Option<ElemFn>,
    op: ElemOp,
    /// The case mapping of `X` the index also answers for (see [`FastAny::case`]).
    case: Option<AsciiCase>,
    index: Arc<Index>,
}

impl DataList {
    /// A list of `items`.
    pub fn new(items: Vec<Value<'static>>) -> Self {
        Self {
            items,
            derived: RwLock::new(Vec::new()),
        }
    }

    /// The elements.
    pub fn items(&self) -> &[Value<'static>] {
        &self.items
    }

    /// The index of `op` over the elements mapped through `func`, built on first use.
    fn index(
        &self,
        func: Option<&ElemFn>,
        op: ElemOp,
        case: Option<AsciiCase>,
        fr: &mut Frame<'_, '_>,
    ) -> Arc<Index> {
        let same = |d: &Derived| {
            d.op == op
                && d.case == case
                && match (&d.func, func) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.same(b),
                    _ => false,
                }
        };
        let cached = self
            .derived
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|d| same(d))
            .map(|d| d.index.clone());
        if let Some(index) = cached {
            return index;
        }
        let index = Arc::new(Index::build(&self.items, func, op, case, fr));
        let mut derived = self
            .derived
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = derived.iter().find(|d| same(d)) {
            return d.index.clone();
        }
        // Entries of functions from environments dropped since (reloads) are never asked for
        // again: a bound keeps them from piling up.
        if derived.len() >= MAX_DERIVED {
            derived.clear();
        }
        derived.push(Derived {
            func: func.cloned(),
            op,
            case,
            index: index.clone(),
        });
        index
    }
}

/// The comparison in `X op E`, where `E` is the (mapped) element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElemOp {
    /// `X contains E`.
    Contains,
    /// `X startsWith E`.
    StartsWith,
    /// `X endsWith E`.
    EndsWith,
    /// `X == E` or `E == X`.
    Eq,
    /// `X matches E`.
    Matches,
}

/// What an index answers from.
enum Index {
    /// Some element is not a string once mapped (or the function failed on it): the closure
    /// loop gives the exact result and error.
    Unsupported,
    /// `contains`: an automaton of the non-empty elements; an empty element matches every
    /// string.
    Contains {
        ac: Option<AhoCorasick>,
        has_empty: bool,
        /// Position in the list of the element of each pattern of the automata.
        pattern_elems: Vec<usize>,
        /// Positions of the empty elements.
        empty_elems: Vec<usize>,
        /// For `F(x) contains E` where `F` maps ASCII text with a case mapping that leaves every
        /// element unchanged: an ASCII case-insensitive automaton of the elements, which finds
        /// them in `F(x)` by reading `x` when it is ASCII.
        nocase: Option<AhoCorasick>,
    },
    /// `startsWith` / `endsWith`: the elements.
    Affixes(Affixes),
    /// `==`: the elements.
    Set(HashSet<Box<str>>),
    /// `matches`: each element compiled as a Go regex, or the error it gives, in list order.
    Regexes(Vec<Result<Arc<Regex>, String>>),
}

/// Prefixes or suffixes, by the byte they start or end with (the one the subject must have
/// at the same end for them to match).
struct Affixes {
    /// An empty element: every string starts and ends with it.
    has_empty: bool,
    by_byte: Box<[Vec<Box<str>>]>,
}

impl Affixes {
    /// `end` picks the byte of an element that sorts it.
    fn new(elements: Vec<Box<str>>, end: impl Fn(&[u8]) -> Option<&u8>) -> Self {
        let mut has_empty = false;
        let mut by_byte = vec![Vec::new(); 256].into_boxed_slice();
        for e in elements {
            match end(e.as_bytes()) {
                Some(&b) => by_byte[usize::from(b)].push(e),
                None => has_empty = true,
            }
        }
        Self { has_empty, by_byte }
    }

    /// Whether some element passes `test`, given the subject's byte at that end.
    fn any(&self, byte: Option<&u8>, test: impl Fn(&str) -> bool) -> bool {
        self.has_empty
            || byte.is_some_and(|&b| self.by_byte[usize::from(b)].iter().any(|p| test(p)))
    }
}

impl Index {
    fn build(
        items: &[Value<'static>],
        func: Option<&ElemFn>,
        op: ElemOp,
        case: Option<AsciiCase>,
        fr: &mut Frame<'_, '_>,
    ) -> Self {
        let mut mapped: Vec<Box<str>> = Vec::with_capacity(items.len());
        for item in items {
            let v = match func {
                None => item.clone(),
                Some(f) => match f.apply(item, fr) {
                    Ok(v) => v,
                    Err(_) => return Index::Unsupported,
                },
            };
            match v {
                Value::Str(s) => mapped.push(s.as_str().into()),
                _ => return Index::Unsupported,
            }
        }
        match op {
            ElemOp::Contains => {
                let (empty, patterns): (Vec<_>, Vec<_>) = mapped
                    .iter()
                    .map(|s| &**s)
                    .enumerate()
                    .partition(|(_, s)| s.is_empty());
                let has_empty = !empty.is_empty();
                let empty_elems = empty.into_iter().map(|(i, _)| i).collect();
                let (pattern_elems, patterns): (Vec<usize>, Vec<&str>) =
                    patterns.into_iter().unzip();
                if patterns.is_empty() {
                    return Index::Contains {
                        ac: None,
                        has_empty,
                        pattern_elems,
                        empty_elems,
                        nocase: None,
                    };
                }
                // A pattern byte `B` of the case-insensitive automaton accepts the text bytes
                // whose mapping is `B` when `B` is not of the other case (`A` accepts `a` and
                // `A`, which both upper-case to `A`; `/` only accepts `/`).
                let stable =
                    |case: AsciiCase| patterns.iter().all(|p| p.bytes().all(|b| case.map(b) == b));
                let nocase = case.filter(|c| stable(*c)).and_then(|_| {
                    aho_corasick::AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .build(&patterns)
                        .ok()
                });
                match AhoCorasick::new(&patterns) {
                    Ok(ac) => Index::Contains {
                        ac: Some(ac),
                        has_empty,
                        pattern_elems,
                        empty_elems,
                        nocase,
                    },
                    Err(_) => Index::Unsupported,
                }
            }
            ElemOp::StartsWith => Index::Affixes(Affixes::new(mapped, |p| p.first())),
            ElemOp::EndsWith => Index::Affixes(Affixes::new(mapped, |p| p.last())),
            ElemOp::Eq => Index::Set(mapped.into_iter().collect()),
            ElemOp::Matches => Index::Regexes(
                mapped
                    .iter()
                    .map(|p| crate::goregex::compile(p).map_err(|e| e.to_string()))
                    .collect(),
            ),
        }
    }
}

/// `any(LIST, {X op F(#)})` answered from an index of the list when it is a [`DataList`].
pub(crate) struct FastAny {
    pub op: ElemOp,
    /// The pure function applied to the element (its parameter type is the element type).
    pub func: Option<ElemFn>,
    /// `X`: does not depend on the element and has no side effect.
    pub inv: Node,
    /// Position of the comparison, for errors.
    pub span: Span,
    /// For `contains` when `X` is `G(y)` with `G` declaring an ASCII case mapping (`Upper`):
    /// the mapping, `G`, `y` with its coercion, and the position of the call. An ASCII `y` is
    /// then looked up without calling `G`.
    pub case: Option<CaseArg>,
    /// The comparison is the guard of the body (see [`detect_guard`]), not the body.
    pub guard: bool,
}

/// `G(y)` in [`FastAny::case`].
pub(crate) struct CaseArg {
    pub case: AsciiCase,
    pub func: Arc<NativeFn>,
    pub arg: Node,
    pub coerce: Coerce,
    pub span: Span,
}

impl FastAny {
    /// The result of `any` over the non-empty `list`, or `None` when the closure loop must
    /// decide.
    pub(crate) fn eval<'a>(
        &self,
        list: &DataList,
        fr: &mut Frame<'a, '_>,
    ) -> Result<Option<bool>, Ex> {
        if list.items.is_empty() {
            return Ok(Some(false));
        }
        let case = self.case.as_ref().map(|c| c.case);
        let index = list.index(self.func.as_ref(), self.op, case, fr);
        if matches!(*index, Index::Unsupported) {
            return Ok(None);
        }
        let x = match self.subject(&index, fr)? {
            Subject::Value(x) => x,
            Subject::Ascii(y) => {
                let Index::Contains {
                    nocase: Some(nocase),
                    has_empty,
                    ..
                } = &*index
                else {
                    return Ok(None);
                };
                return Ok(Some(
                    *has_empty || y.as_str().is_some_and(|s| nocase.is_match(s)),
                ));
            }
        };
        let s = match &x {
            Value::Str(s) => s.as_str(),
            // Every operator is false against nil (and `==` against any non-string).
            Value::Nil => return Ok(Some(false)),
            _ if self.op == ElemOp::Eq => return Ok(Some(false)),
            // Type errors come from the loop, with its message.
            _ => return Ok(None),
        };
        Ok(Some(match &*index {
            Index::Unsupported => return Ok(None),
            Index::Contains { ac, has_empty, .. } => {
                *has_empty || ac.as_ref().is_some_and(|ac| ac.is_match(s))
            }
            Index::Affixes(affixes) => {
                if self.op == ElemOp::StartsWith {
                    affixes.any(s.as_bytes().first(), |p| s.starts_with(p))
                } else {
                    affixes.any(s.as_bytes().last(), |p| s.ends_with(p))
                }
            }
            Index::Set(set) => set.contains(s),
            Index::Regexes(list) => {
                for re in list {
                    match re {
                        Ok(re) if re.is_match(s) => return Ok(Some(true)),
                        Ok(_) => {}
                        Err(e) => {
                            return Err(Ex::Err(
                                crate::error::RuntimeError::new(format!(
                                    "invalid regular expression: {e}"
                                ))
                                .with_span(self.span),
                            ));
                        }
                    }
                }
                false
            }
        }))
    }
}

/// `X` as [`FastAny`] looks it up.
enum Subject<'a> {
    /// The value of `X`.
    Value(Value<'a>),
    /// The ASCII argument `y` of `X = G(y)` (see [`FastAny::case`]), for the case-insensitive
    /// automaton.
    Ascii(Value<'a>),
}

impl FastAny {
    /// Evaluates `X`, or only its argument when `index` can answer from it.
    fn subject<'a>(&self, index: &Index, fr: &mut Frame<'a, '_>) -> Result<Subject<'a>, Ex> {
        let (
            Some(c),
            Index::Contains {
                nocase: Some(_), ..
            },
        ) = (&self.case, index)
        else {
            return Ok(Subject::Value(self.inv.eval(fr)?));
        };
        let y = c.arg.eval(fr)?;
        let y = crate::eval::coerce_arg(y, c.coerce).map_err(|e| Ex::Err(e.with_span(c.span)))?;
        if let Value::Str(s) = &y
            && s.as_str().is_ascii()
        {
            return Ok(Subject::Ascii(y));
        }
        (c.func)(std::slice::from_ref(&y), &mut fr.cx)
            .map(Subject::Value)
            .map_err(|e| Ex::Err(e.with_span(c.span)))
    }

    /// For a guard (`any(LIST, {X contains F(#) ? THEN : false})`): the positions, in order, of
    /// the elements for which `X contains F(#)` holds, the only ones whose body is not `false`;
    /// `None` when the loop must decide.
    fn candidates(
        &self,
        list: &DataList,
        fr: &mut Frame<'_, '_>,
    ) -> Result<Option<Vec<usize>>, Ex> {
        let case = self.case.as_ref().map(|c| c.case);
        let index = list.index(self.func.as_ref(), self.op, case, fr);
        let Index::Contains {
            ac,
            nocase,
            pattern_elems,
            empty_elems,
            ..
        } = &*index
        else {
            return Ok(None);
        };
        let subject = self.subject(&index, fr)?;
        let (ac, text) = match &subject {
            Subject::Ascii(Value::Str(y)) => (nocase.as_ref(), y.as_str()),
            Subject::Value(Value::Str(x)) => (ac.as_ref(), x.as_str()),
            // `nil contains E` is false.
            Subject::Value(Value::Nil) => return Ok(Some(Vec::new())),
            _ => return Ok(None),
        };
        let mut found: Vec<usize> = empty_elems.clone();
        if let Some(ac) = ac {
            found.extend(
                ac.find_overlapping_iter(text)
                    .map(|m| pattern_elems[m.pattern().as_usize()]),
            );
        }
        found.sort_unstable();
        found.dedup();
        Ok(Some(found))
    }

    /// `any` over `list` with the guarded `body` (see [`detect_guard`]): the body is evaluated
    /// on the [candidates](FastAny::candidates) only, in order, as the loop would (the others
    /// give `false` without side effect). Once a body has requested side effects, which later
    /// guards may read, the remaining elements are all evaluated.
    pub(crate) fn guarded_any<'a>(
        &self,
        list: &DataList,
        body: &Node,
        slot: usize,
        span: Span,
        fr: &mut Frame<'a, '_>,
    ) -> Result<Option<bool>, Ex> {
        let Some(candidates) = self.candidates(list, fr)? else {
            return Ok(None);
        };
        let items = list.items();
        let test = |fr: &mut Frame<'a, '_>, i: usize| -> Result<bool, Ex> {
            crate::eval::set_local(fr, slot, items[i].clone());
            crate::eval::set_local(fr, slot + 1, Value::Int(i as i64));
            crate::builtins::pred_bool(body.eval(fr)?, span)
        };
        for i in candidates {
            let before = fr.cx.effects.0.len();
            if test(fr, i)? {
                return Ok(Some(true));
            }
            if fr.cx.effects.0.len() != before {
                for j in i + 1..items.len() {
                    if test(fr, j)? {
                        return Ok(Some(true));
                    }
                }
                return Ok(Some(false));
            }
        }
        Ok(Some(false))
    }
}

/// Recognises a closure body `X contains F(#) ? THEN : false` (the guard of a side effect, as
/// in `any(File(...), {X contains JsonExtract(#, 'uri') ? evt.SetMeta(...) : false})`) where
/// `F(#)` is a pure function of the element alone.
pub(crate) fn detect_guard(body: &Node, slot: usize) -> Option<FastAny> {
    let Node::Cond(guard, _, otherwise, _) = body else {
        return None;
    };
    if !matches!(&**otherwise, Node::Const(Value::Bool(false))) {
        return None;
    }
    let mut fast = detect(guard, slot).filter(|f| f.op == ElemOp::Contains)?;
    fast.guard = true;
    Some(fast)
}

/// `F(#, constants...)`: a pure function applied to the element and constant arguments.
#[derive(Clone)]
pub(crate) struct ElemFn {
    func: Arc<NativeFn>,
    consts: Vec<Value<'static>>,
}

impl ElemFn {
    fn same(&self, other: &ElemFn) -> bool {
        Arc::ptr_eq(&self.func, &other.func)
            && self.consts.len() == other.consts.len()
            && self
                .consts
                .iter()
                .zip(&other.consts)
                .all(|(a, b)| a.type_name() == b.type_name() && crate::ops::equal(a, b))
    }

    fn apply<'a>(
        &self,
        item: &Value<'a>,
        fr: &mut Frame<'_, '_>,
    ) -> Result<Value<'a>, crate::error::RuntimeError> {
        if self.consts.is_empty() {
            return (self.func)(std::slice::from_ref(item), &mut fr.cx);
        }
        let mut args = Vec::with_capacity(1 + self.consts.len());
        args.push(item.clone());
        args.extend(self.consts.iter().cloned());
        (self.func)(&args, &mut fr.cx)
    }
}

/// Whether `node` is `#` (the element in `slot`) or a pure native function of it (whose
/// parameter type is the element type) and of constants.
fn elem_expr(node: &Node, slot: usize) -> Option<Option<ElemFn>> {
    match node {
        Node::Local(i) if *i == slot => Some(None),
        Node::Call {
            func,
            args,
            pure: true,
            ..
        } => match args.split_first() {
            Some(((Node::Local(i), Coerce::None), rest)) if *i == slot => {
                let consts = rest
                    .iter()
                    .map(|(a, c)| match (a, c) {
                        (Node::Const(v), Coerce::None) => Some(v.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Some(ElemFn {
                    func: func.clone(),
                    consts,
                }))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether `node` neither reads the locals of the closure whose element is in `slot` (nor
/// those allocated after it) nor has a side effect, so that evaluating it once per `any` call
/// gives what every iteration would.
pub(crate) fn invariant(node: &Node, slot: usize) -> bool {
    let inv = |n: &Node| invariant(n, slot);
    let root = |r: &crate::eval::Root| match r {
        crate::eval::Root::Var(_) => true,
        crate::eval::Root::Local(i) => *i < slot,
    };
    match node {
        Node::Local(i) => *i < slot,
        Node::Call { pure: false, .. } => false,
        Node::StrMapKey { root: r, .. } | Node::StrMapKeyEq { root: r, .. } => root(r),
        // Methods may write (`SetMeta`); builtins include the clock; nested closures and
        // bindings own locals: evaluated per element, as written.
        Node::Method { .. }
        | Node::DynMethod { .. }
        | Node::Builtin { .. }
        | Node::Predicate { .. }
        | Node::Let { .. }
        | Node::Sequence(_) => false,
        _ => node.children().into_iter().all(inv),
    }
}

/// Recognises a closure body `X op E` (or `E == X`) where `E` is `#` or a pure function of
/// it and `X` is invariant.
pub(crate) fn detect(body: &Node, slot: usize) -> Option<FastAny> {
    use crate::eval::StrOp;
    let (op, inv, elem, span) = match body {
        Node::StrOp(op, a, b, span) => {
            let op = match op {
                StrOp::Contains => ElemOp::Contains,
                StrOp::StartsWith => ElemOp::StartsWith,
                StrOp::EndsWith => ElemOp::EndsWith,
            };
            (op, &**a, &**b, *span)
        }
        Node::Matches(a, b, span) => (ElemOp::Matches, &**a, &**b, *span),
        Node::Eq(a, b) => {
            if elem_expr(a, slot).is_some() {
                (ElemOp::Eq, &**b, &**a, Span::default())
            } else {
                (ElemOp::Eq, &**a, &**b, Span::default())
            }
        }
        _ => return None,
    };
    let func = elem_expr(elem, slot)?;
    if !invariant(inv, slot) {
        return None;
    }
    let case = match inv {
        Node::Call {
            func,
            args,
            ascii_case: Some(case),
            span,
            ..
        } if op == ElemOp::Contains && args.len() == 1 => Some(CaseArg {
            case: *case,
            func: func.clone(),
            arg: crate::compile::memo_field(args[0].0.clone()),
            coerce: args[0].1,
            span: *span,
        }),
        _ => None,
    };
    Some(FastAny {
        op,
        func,
        inv: crate::compile::memo_field(inv.clone()),
        span,
        case,
        guard: false,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::env::{Environment, Function, Signature};
    use crate::types::Type;

    const STR_LIST: Type = Type::List(&Type::String);

    /// Variables `l` (the list), `x` (a string) and `a` (any); `Up` is a pure upper-casing
    /// function counting its calls in `calls`, `Imp` the same function not declared pure.
    fn env(calls: Arc<AtomicUsize>) -> Environment {
        let mut env = Environment::new();
        env.add_variable("l", STR_LIST);
        env.add_variable("x", Type::String);
        env.add_variable("a", Type::Any);
        let counted = calls.clone();
        env.add_function(
            Function::new(
                "Up",
                Signature::new([Type::String], Type::String),
                move |args, _| {
                    counted.fetch_add(1, Ordering::Relaxed);
                    upper(args)
                },
            )
            .pure(),
        );
        env.add_function(Function::new(
            "Imp",
            Signature::new([Type::String], Type::String),
            move |args, _| {
                calls.fetch_add(1, Ordering::Relaxed);
                upper(args)
            },
        ));
        env
    }

    fn upper<'a>(args: &[Value<'a>]) -> Result<Value<'a>, crate::error::RuntimeError> {
        match args.first().and_then(Value::as_str) {
            Some(s) => Ok(Value::string(s.to_uppercase())),
            None => Err(crate::error::RuntimeError::new("not a string")),
        }
    }

    fn render(r: Result<Value<'_>, crate::error::RuntimeError>) -> String {
        match r {
            Ok(v) => crate::format::format_v(&v),
            Err(e) => format!("error: {}", e.message()),
        }
    }

    /// Evaluates `src` over `items` given as a data list and as a plain list.
    fn both(
        env: &Environment,
        src: &str,
        items: &[Value<'static>],
        x: &str,
        a: &Value<'static>,
    ) -> (String, String) {
        let p = crate::compile(src, env).unwrap_or_else(|e| panic!("{src}: {e}"));
        let data = Value::data_list(items.to_vec());
        let plain = Value::list(items.to_vec());
        let fast = render(p.eval(&[data, Value::str(x), a.clone()]));
        let slow = render(p.eval(&[plain, Value::str(x), a.clone()]));
        (fast, slow)
    }

    const SHAPES: &[&str] = &[
        "any(l, {x contains #})",
        "any(l, {Up(x) contains Up(#)})",
        "any(l, {x startsWith #})",
        "any(l, {x endsWith Up(#)})",
        "any(l, {x == #})",
        "any(l, {# == Up(x)})",
        "any(l, {Up(x) matches Up(#)})",
        "any(l, {x matches #})",
        "any(l, {a contains #})",
        "any(l, {a == #})",
        "any(l, {a matches #})",
        "any(l, {Up(a) contains Up(#)})",
        "any(l, {Imp(x) contains Imp(#)})",
        "any(l, {# contains x})",
        "any(l, {Up(x) contains Up(#) && x != ''})",
        "!any(l, {x endsWith #}) || any(l, {x startsWith #})",
    ];

    #[test]
    fn indexes_answer_what_the_closure_loop_answers() {
        let env = env(Arc::new(AtomicUsize::new(0)));
        let lists: Vec<Vec<Value<'static>>> = vec![
            vec![],
            vec![Value::string("ab")],
            vec![Value::string("ab"), Value::string("Xy"), Value::string("é")],
            vec![Value::string("q"), Value::string("")],
            vec![Value::string("a("), Value::string("b")],
            vec![Value::string("b"), Value::string("a(")],
            vec![Value::string("zz"), Value::Int(3), Value::string("ab")],
            vec![Value::Nil, Value::string("ab")],
        ];
        let xs = [
            "", "ab", "xabx", "XY", "b", "é!", "zzab", "a(", "AB", "aé", "éab",
        ];
        let anys = [
            Value::Nil,
            Value::Int(1),
            Value::string("xaby"),
            Value::Bool(true),
        ];
        let mut checked = 0;
        for shape in SHAPES {
            for items in &lists {
                for x in xs {
                    for a in &anys {
                        let (fast, slow) = both(&env, shape, items, x, a);
                        assert_eq!(fast, slow, "{shape} over {items:?} with x={x:?} a={a:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn closures_over_data_lists_are_recognised() {
        let env = env(Arc::new(AtomicUsize::new(0)));
        let fast = |src: &str| match crate::compile(src, &env).map(|p| p.root) {
            Ok(Node::Predicate { fast, .. }) => fast.map(|f| f.op),
            _ => None,
        };
        assert_eq!(fast("any(l, {x contains #})"), Some(ElemOp::Contains));
        assert_eq!(fast("any(l, {Up(x) matches Up(#)})"), Some(ElemOp::Matches));
        assert_eq!(fast("any(l, {# == Up(x)})"), Some(ElemOp::Eq));
        assert_eq!(fast("any(l, {Up(a) endsWith #})"), Some(ElemOp::EndsWith));
        // The element on the left, impure functions, other builtins: the closure loop.
        assert_eq!(fast("any(l, {# contains x})"), None);
        assert_eq!(fast("any(l, {Imp(x) contains #})"), None);
        assert_eq!(fast("any(l, {x contains Imp(#)})"), None);
        assert_eq!(fast("all(l, {x contains #})"), None);
        assert_eq!(fast("any(l, {x contains # + x})"), None);
    }

    #[test]
    fn mapped_elements_are_computed_once_per_list() {
        let calls = Arc::new(AtomicUsize::new(0));
        let env = env(calls.clone());
        let items: Vec<Value<'static>> = (0..50).map(|i| Value::string(format!("p{i}"))).collect();
        let list = Value::data_list(items);
        let p = crate::compile("any(l, {Up(x) contains Up(#)})", &env).expect("compiles");
        let run = |x: &str| p.eval_bool(&[list.clone(), Value::str(x), Value::Nil]);
        assert_eq!(run("..P49.."), Ok(true));
        let after_first = calls.load(Ordering::Relaxed);
        assert_eq!(after_first, 51, "each element once, then x");
        assert_eq!(run("nothing"), Ok(false));
        assert_eq!(run("xp7"), Ok(true));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            after_first + 2,
            "only x afterwards"
        );
        // An empty list evaluates neither side, as the loop does.
        let empty = Value::data_list(Vec::new());
        assert_eq!(
            p.eval_bool(&[empty, Value::str("x"), Value::Nil]),
            Ok(false)
        );
        assert_eq!(calls.load(Ordering::Relaxed), after_first + 2);
    }

    #[test]
    fn invalid_patterns_fail_where_the_loop_fails() {
        let env = env(Arc::new(AtomicUsize::new(0)));
        let p = crate::compile("any(l, {x matches #})", &env).expect("compiles");
        let list = Value::data_list(vec![Value::string("^a"), Value::string("(")]);
        let run = |x: &str| render(p.eval(&[list.clone(), Value::str(x), Value::Nil]));
        assert_eq!(run("abc"), "true");
        assert!(
            run("zzz").starts_with("error: invalid regular expression"),
            "{}",
            run("zzz")
        );
    }

    #[test]
    fn pure_calls_on_constants_are_folded() {
        let calls = Arc::new(AtomicUsize::new(0));
        let env = env(calls.clone());
        let p = crate::compile("x contains Up('/admin')", &env).expect("compiles");
        let folded = calls.load(Ordering::Relaxed);
        assert_eq!(folded, 1);
        assert_eq!(
            p.eval_bool(&[Value::Nil, Value::str("x/ADMIN"), Value::Nil]),
            Ok(true)
        );
        assert_eq!(calls.load(Ordering::Relaxed), folded);
        // Not folded: impure, or failing (the error comes at run time).
        let p = crate::compile("Imp('a') == 'A'", &env).expect("compiles");
        assert_eq!(
            p.eval_bool(&[Value::Nil, Value::str(""), Value::Nil]),
            Ok(true)
        );
        assert_eq!(calls.load(Ordering::Relaxed), folded + 1);
    }
}
