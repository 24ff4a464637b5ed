//! Pratt parser producing a span-annotated syntax tree with expr-lang's precedences.

use crate::error::{CompileError, Span};
use crate::lexer::{Tok, Token, tokenize};

/// Maximum nesting of the syntax tree; deeper expressions are rejected so that compiling and
/// evaluating them cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 150;

/// Builtins whose second argument is a predicate (closure).
pub(crate) const PREDICATE_BUILTINS: &[&str] = &[
    "all",
    "none",
    "any",
    "one",
    "filter",
    "map",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "count",
    "sum",
    "groupBy",
    "sortBy",
    "reduce",
];

/// A syntax tree node.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Depth of the subtree (1 for a leaf).
    pub depth: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum ExprKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    /// `#` (empty name), `#index`, `#acc`.
    Pointer(String),
    Array(Vec<Expr>),
    MapLit(Vec<(Expr, Expr)>),
    /// `not`/`!` (normalised to "!"), `-`, `+`.
    Unary(&'static str, Box<Expr>),
    /// Binary operator, normalised: `and`→`&&`, `or`→`||`; negated forms are wrapped in `!`.
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// N-ary `&&` / `||` (long chains stay flat).
    Logical(&'static str, Vec<Expr>),
    Member {
        base: Box<Expr>,
        name: String,
        optional: bool,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
        optional: bool,
    },
    Slice {
        base: Box<Expr>,
        from: Option<Box<Expr>>,
        to: Option<Box<Expr>>,
    },
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    MethodCall {
        base: Box<Expr>,
        name: String,
        args: Vec<Expr>,
        optional: bool,
    },
    Closure(Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Let {
        name: String,
        value: Box<Expr>,
        body: Box<Expr>,
    },
    Sequence(Vec<Expr>),
    /// A postfix chain containing `?.`: a nil base short-circuits the whole chain to nil.
    Chain(Box<Expr>),
}

struct BinOp {
    prec: u32,
    right_assoc: bool,
}

fn binary_op(name: &str) -> Option<(&'static str, BinOp)> {
    let l = |prec| BinOp {
        prec,
        right_assoc: false,
    };
    Some(match name {
        "|" => ("|", l(0)),
        "or" | "||" => ("||", l(10)),
        "and" | "&&" => ("&&", l(15)),
        "==" => ("==", l(20)),
        "!=" => ("!=", l(20)),
        "<" => ("<", l(20)),
        ">" => (">", l(20)),
        "<=" => ("<=", l(20)),
        ">=" => (">=", l(20)),
        "in" => ("in", l(20)),
        "matches" => ("matches", l(20)),
        "contains" => ("contains", l(20)),
        "startsWith" => ("startsWith", l(20)),
        "endsWith" => ("endsWith", l(20)),
        ".." => ("..", l(25)),
        "+" => ("+", l(30)),
        "-" => ("-", l(30)),
        "*" => ("*", l(60)),
        "/" => ("/", l(60)),
        "%" => ("%", l(60)),
        "**" | "^" => (
            "**",
            BinOp {
                prec: 100,
                right_assoc: true,
            },
        ),
        "??" => ("??", l(500)),
        _ => return None,
    })
}

fn negatable(op: &str) -> bool {
    matches!(
        op,
        "in" | "matches" | "contains" | "startsWith" | "endsWith"
    )
}

fn is_ordering(op: &str) -> bool {
    matches!(op, "<" | ">" | "<=" | ">=")
}

pub(crate) fn parse(src: &str) -> Result<Expr, CompileError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        closure_depth: 0,
        recursion: 0,
    };
    let e = p.sequence()?;
    if !matches!(p.cur().tok, Tok::Eof) {
        return Err(p.unexpected("end of expression"));
    }
    Ok(e)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    closure_depth: usize,
    recursion: usize,
}

fn node(kind: ExprKind, span: Span, children: &[&Expr]) -> Expr {
    let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
    Expr { kind, span, depth }
}

impl Parser<'_> {
    fn cur(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_tok(&self, off: usize) -> &Tok {
        &self.tokens[(self.pos + off).min(self.tokens.len() - 1)].tok
    }

    fn advance(&mut self) -> Token {
        let t = self.cur().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, span: Span, msg: impl Into<String>) -> CompileError {
        CompileError::new(self.src, span, msg)
    }

    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Pointer(s) => format!("\"#{s}\""),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Op(o) => format!("token {o:?}"),
            Tok::Eof => "end of expression".into(),
        }
    }

    fn unexpected(&self, expected: &str) -> CompileError {
        let t = self.cur();
        self.err(
            t.span,
            format!(
                "unexpected {} (expected {expected})",
                Self::describe(&t.tok)
            ),
        )
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.cur().tok, Tok::Op(o) if *o == op)
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(&self.cur().tok, Tok::Ident(s) if s == name)
    }

    fn expect_op(&mut self, op: &str) -> Result<Span, CompileError> {
        if self.is_op(op) {
            Ok(self.advance().span)
        } else {
            Err(self.unexpected(&format!("{op:?}")))
        }
    }

    fn check_depth(&self, e: Expr) -> Result<Expr, CompileError> {
        if e.depth > MAX_DEPTH {
            Err(self.err(
                e.span,
                format!("expression nested too deeply (limit {MAX_DEPTH})"),
            ))
        } else {
            Ok(e)
        }
    }

    fn enter(&mut self) -> Result<(), CompileError> {
        self.recursion += 1;
        if self.recursion > MAX_DEPTH {
            return Err(self.err(
                self.cur().span,
                format!("expression nested too deeply (limit {MAX_DEPTH})"),
            ));
        }
        Ok(())
    }

    /// `expr (; expr)*`
    fn sequence(&mut self) -> Result<Expr, CompileError> {
        let first = self.expression(0)?;
        if !self.is_op(";") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_op(";") {
            self.advance();
            if matches!(self.cur().tok, Tok::Eof) || self.is_op("}") || self.is_op(")") {
                break;
            }
            items.push(self.expression(0)?);
        }
        let span = items[0].span.to(items[items.len() - 1].span);
        let refs: Vec<&Expr> = items.iter().collect();
        let n = node(ExprKind::Sequence(Vec::new()), span, &refs);
        self.check_depth(Expr {
            kind: ExprKind::Sequence(items),
            ..n
        })
    }

    fn expression(&mut self, min_prec: u32) -> Result<Expr, CompileError> {
        self.enter()?;
        let r = self.expression_inner(min_prec);
        self.recursion -= 1;
        r
    }

    fn expression_inner(&mut self, min_prec: u32) -> Result<Expr, CompileError> {
        if min_prec == 0 && self.is_ident("let") {
            return self.let_decl();
        }
        if min_prec == 0 && self.is_ident("if") {
            return self.if_else();
        }
        let mut left = self.primary()?;
        let mut prev_op: &str = "";
        loop {
            let (mut name, mut negate) = match &self.cur().tok {
                Tok::Op(o) => (o.to_string(), false),
                Tok::Ident(s) => (s.clone(), false),
                _ => break,
            };
            if name == "not" {
                // `not` in operator position must be followed by a negatable operator.
                let next = match self.peek_tok(1) {
                    Tok::Ident(s) => s.clone(),
                    _ => String::new(),
                };
                if !negatable(&next) {
                    return Err(self.err(
                        self.cur().span,
                        "unexpected token \"not\" (expected in, matches, contains, startsWith or endsWith)",
                    ));
                }
                if binary_op(&next).is_some_and(|(_, op)| op.prec >= min_prec) {
                    self.advance();
                    name = next;
                    negate = true;
                } else {
                    break;
                }
            }
            let Some((op, info)) = binary_op(&name) else {
                break;
            };
            if info.prec < min_prec {
                break;
            }
            let op_span = self.advance().span;
            if op == "|" {
                left = self.pipe(left)?;
                prev_op = op;
                continue;
            }
            if prev_op == "??" && op != "??" {
                return Err(self.err(
                    op_span,
                    format!("operator ({op}) and coalesce expressions (??) cannot be mixed; wrap either in parentheses"),
                ));
            }
            if is_ordering(op) {
                left = self.comparison(left, op)?;
                prev_op = op;
                continue;
            }
            let right = self.expression(if info.right_assoc {
                info.prec
            } else {
                info.prec + 1
            })?;
            left = self.binary(op, left, right)?;
            if negate {
                let (span, depth) = (left.span, left.depth + 1);
                left = Expr {
                    kind: ExprKind::Unary("!", Box::new(left)),
                    span,
                    depth,
                };
            }
            prev_op = op;
        }
        if min_prec == 0 && self.is_op("?") {
            left = self.conditional(left)?;
        }
        self.check_depth(left)
    }

    fn binary(&mut self, op: &'static str, left: Expr, right: Expr) -> Result<Expr, CompileError> {
        let span = left.span.to(right.span);
        let e = if matches!(op, "&&" | "||") {
            let mut items = match left.kind {
                ExprKind::Logical(o, items) if o == op => items,
                kind => vec![Expr { kind, ..left }],
            };
            items.push(right);
            let depth = 1 + items.iter().map(|i| i.depth).max().unwrap_or(0);
            Expr {
                kind: ExprKind::Logical(op, items),
                span,
                depth,
            }
        } else {
            let n = node(ExprKind::Nil, span, &[&left, &right]);
            Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                ..n
            }
        };
        self.check_depth(e)
    }

    /// `a < b < c` is `a < b && b < c`.
    fn comparison(&mut self, mut left: Expr, mut op: &'static str) -> Result<Expr, CompileError> {
        let mut root: Option<Expr> = None;
        loop {
            let right = self.expression(21)?;
            let cmp = self.binary(op, left, right.clone())?;
            root = Some(match root {
                None => cmp,
                Some(r) => self.binary("&&", r, cmp)?,
            });
            left = right;
            match &self.cur().tok {
                Tok::Op(o) if is_ordering(o) => {
                    op = binary_op(o).map_or("<", |(n, _)| n);
                    self.advance();
                }
                _ => break,
            }
        }
        root.ok_or_else(|| self.unexpected("expression"))
    }

    fn pipe(&mut self, left: Expr) -> Result<Expr, CompileError> {
        let t = self.advance();
        let Tok::Ident(name) = t.tok else {
            return Err(self.err(t.span, "expected a function call after |"));
        };
        let (args, end) = self.call_args(&name, Some(left))?;
        let refs: Vec<&Expr> = args.iter().collect();
        let span = args[0].span.to(end);
        let n = node(ExprKind::Nil, span, &refs);
        self.check_depth(Expr {
            kind: ExprKind::Call {
                name,
                name_span: t.span,
                args,
            },
            ..n
        })
    }

    fn conditional(&mut self, cond: Expr) -> Result<Expr, CompileError> {
        self.advance();
        let a = self.expression(0)?;
        self.expect_op(":")?;
        let b = self.expression(0)?;
        let span = cond.span.to(b.span);
        let n = node(ExprKind::Nil, span, &[&cond, &a, &b]);
        self.check_depth(Expr {
            kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
            ..n
        })
    }

    fn let_decl(&mut self) -> Result<Expr, CompileError> {
        let start = self.advance().span;
        let t = self.advance();
        let Tok::Ident(name) = t.tok else {
            return Err(self.err(t.span, "expected a variable name after let"));
        };
        self.expect_op("=")?;
        let value = self.expression(0)?;
        self.expect_op(";")?;
        let body = self.sequence()?;
        let span = start.to(body.span);
        let n = node(ExprKind::Nil, span, &[&value, &body]);
        self.check_depth(Expr {
            kind: ExprKind::Let {
                name,
                value: Box::new(value),
                body: Box::new(body),
            },
            ..n
        })
    }

    fn if_else(&mut self) -> Result<Expr, CompileError> {
        let start = self.advance().span;
        let cond = self.expression(0)?;
        self.expect_op("{")?;
        let a = self.sequence()?;
        self.expect_op("}")?;
        if !self.is_ident("else") {
            return Err(self.unexpected("else"));
        }
        self.advance();
        let b = if self.is_ident("if") {
            self.if_else()?
        } else {
            self.expect_op("{")?;
            let b = self.sequence()?;
            self.expect_op("}")?;
            b
        };
        let span = start.to(b.span);
        let n = node(ExprKind::Nil, span, &[&cond, &a, &b]);
        self.check_depth(Expr {
            kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
            ..n
        })
    }

    fn primary(&mut self) -> Result<Expr, CompileError> {
        self.enter()?;
        let r = self.primary_inner();
        self.recursion -= 1;
        r
    }

    fn primary_inner(&mut self) -> Result<Expr, CompileError> {
        let t = self.cur().clone();
        let unary = match &t.tok {
            Tok::Op("!") => Some("!"),
            Tok::Op("-") => Some("-"),
            Tok::Op("+") => Some("+"),
            Tok::Ident(s) if s == "not" => Some("!"),
            _ => None,
        };
        if let Some(op) = unary {
            self.advance();
            let prec = if op == "!" { 50 } else { 90 };
            let operand = self.expression(prec)?;
            let span = t.span.to(operand.span);
            let n = node(ExprKind::Nil, span, &[&operand]);
            let e = Expr {
                kind: ExprKind::Unary(op, Box::new(operand)),
                ..n
            };
            return self.postfix(e);
        }
        if self.is_op("(") {
            self.advance();
            let inner = self.sequence()?;
            let end = self.expect_op(")")?;
            let e = Expr {
                span: t.span.to(end),
                ..inner
            };
            return self.postfix(e);
        }
        let e = self.secondary()?;
        self.postfix(e)
    }

    fn secondary(&mut self) -> Result<Expr, CompileError> {
        let start = self.pos;
        let t = self.advance();
        let leaf = |kind| {
            Ok(Expr {
                kind,
                span: t.span,
                depth: 1,
            })
        };
        match t.tok {
            Tok::Int(i) => leaf(ExprKind::Int(i)),
            Tok::Float(f) => leaf(ExprKind::Float(f)),
            Tok::Str(s) => leaf(ExprKind::Str(s)),
            Tok::Pointer(name) => {
                if self.closure_depth == 0 {
                    return Err(self.err(t.span, "cannot use pointer accessor outside predicate"));
                }
                if !matches!(name.as_str(), "" | "index" | "acc") {
                    return Err(self.err(t.span, format!("unknown pointer #{name}")));
                }
                leaf(ExprKind::Pointer(name))
            }
            Tok::Op(".") => {
                if self.closure_depth == 0 {
                    return Err(self.err(t.span, "cannot use pointer accessor outside predicate"));
                }
                let n = self.advance();
                let Tok::Ident(name) = n.tok else {
                    return Err(self.err(n.span, "expected a field name after ."));
                };
                let base = Expr {
                    kind: ExprKind::Pointer(String::new()),
                    span: t.span,
                    depth: 1,
                };
                if self.is_op("(") {
                    let (args, end) = self.call_args("", None)?;
                    let mut refs: Vec<&Expr> = args.iter().collect();
                    refs.push(&base);
                    let n = node(ExprKind::Nil, t.span.to(end), &refs);
                    return self.check_depth(Expr {
                        kind: ExprKind::MethodCall {
                            base: Box::new(base),
                            name,
                            args,
                            optional: false,
                        },
                        ..n
                    });
                }
                Ok(Expr {
                    kind: ExprKind::Member {
                        base: Box::new(base),
                        name,
                        optional: false,
                    },
                    span: t.span.to(n.span),
                    depth: 2,
                })
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    items.push(self.expression(0)?);
                    if !self.is_op("]") {
                        self.expect_op(",")?;
                    }
                }
                let end = self.advance().span;
                let refs: Vec<&Expr> = items.iter().collect();
                let n = node(ExprKind::Nil, t.span.to(end), &refs);
                self.check_depth(Expr {
                    kind: ExprKind::Array(items),
                    ..n
                })
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                while !self.is_op("}") {
                    let kt = self.cur().clone();
                    let key = match kt.tok {
                        Tok::Ident(name) => {
                            self.advance();
                            Expr {
                                kind: ExprKind::Str(name),
                                span: kt.span,
                                depth: 1,
                            }
                        }
                        Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => self.secondary()?,
                        Tok::Op("(") => self.primary()?,
                        _ => return Err(self.unexpected("map key")),
                    };
                    self.expect_op(":")?;
                    let value = self.expression(0)?;
                    entries.push((key, value));
                    if !self.is_op("}") {
                        self.expect_op(",")?;
                    }
                }
                let end = self.advance().span;
                let refs: Vec<&Expr> = entries.iter().flat_map(|(k, v)| [k, v]).collect();
                let n = node(ExprKind::Nil, t.span.to(end), &refs);
                self.check_depth(Expr {
                    kind: ExprKind::MapLit(entries),
                    ..n
                })
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => leaf(ExprKind::Bool(true)),
                "false" => leaf(ExprKind::Bool(false)),
                "nil" => leaf(ExprKind::Nil),
                _ if self.is_op("(") => {
                    let (args, end) = self.call_args(&name, None)?;
                    let refs: Vec<&Expr> = args.iter().collect();
                    let n = node(ExprKind::Nil, t.span.to(end), &refs);
                    self.check_depth(Expr {
                        kind: ExprKind::Call {
                            name,
                            name_span: t.span,
                            args,
                        },
                        ..n
                    })
                }
                _ => leaf(ExprKind::Ident(name)),
            },
            _ => {
                self.pos = start;
                Err(self.unexpected("expression"))
            }
        }
    }

    /// Arguments of a call, from `(` to `)`; `piped` is the left side of a pipe, passed first.
    fn call_args(
        &mut self,
        name: &str,
        piped: Option<Expr>,
    ) -> Result<(Vec<Expr>, Span), CompileError> {
        self.expect_op("(")?;
        let predicate = PREDICATE_BUILTINS.contains(&name);
        let mut args: Vec<Expr> = piped.into_iter().collect();
        while !self.is_op(")") {
            // The second argument of a predicate builtin is a closure; later ones (the initial
            // value of `reduce`, the order of `sortBy`) are plain expressions.
            let closure_arg = predicate && args.len() == 1;
            let arg = if closure_arg {
                self.closure()?
            } else {
                self.expression(0)?
            };
            args.push(arg);
            if !self.is_op(")") {
                self.expect_op(",")?;
            }
        }
        let end = self.advance().span;
        Ok((args, end))
    }

    fn closure(&mut self) -> Result<Expr, CompileError> {
        let start = self.cur().span;
        let braces = self.is_op("{");
        if braces {
            self.advance();
        }
        self.closure_depth += 1;
        let body = self.sequence();
        self.closure_depth -= 1;
        let body = body?;
        let end = if braces {
            self.expect_op("}")?
        } else {
            body.span
        };
        let n = node(ExprKind::Nil, start.to(end), &[&body]);
        self.check_depth(Expr {
            kind: ExprKind::Closure(Box::new(body)),
            ..n
        })
    }

    fn postfix(&mut self, mut e: Expr) -> Result<Expr, CompileError> {
        let mut chained = false;
        loop {
            let optional = self.is_op("?.");
            if self.is_op(".") || optional {
                self.advance();
                if optional && self.is_op("[") {
                    chained = true;
                    e = self.index(e, true)?;
                    continue;
                }
                let t = self.advance();
                let Tok::Ident(name) = t.tok else {
                    return Err(self.err(t.span, "expected a field or method name"));
                };
                chained |= optional;
                if self.is_op("(") {
                    let (args, end) = self.call_args("", None)?;
                    let mut refs: Vec<&Expr> = args.iter().collect();
                    refs.push(&e);
                    let n = node(ExprKind::Nil, e.span.to(end), &refs);
                    e = Expr {
                        kind: ExprKind::MethodCall {
                            base: Box::new(e),
                            name,
                            args,
                            optional,
                        },
                        ..n
                    };
                } else {
                    let n = node(ExprKind::Nil, e.span.to(t.span), &[&e]);
                    e = Expr {
                        kind: ExprKind::Member {
                            base: Box::new(e),
                            name,
                            optional,
                        },
                        ..n
                    };
                }
                e = self.check_depth(e)?;
            } else if self.is_op("[") {
                e = self.index(e, false)?;
            } else {
                break;
            }
        }
        if chained {
            let n = node(ExprKind::Nil, e.span, &[&e]);
            e = self.check_depth(Expr {
                kind: ExprKind::Chain(Box::new(e)),
                ..n
            })?;
        }
        Ok(e)
    }

    fn index(&mut self, base: Expr, optional: bool) -> Result<Expr, CompileError> {
        self.expect_op("[")?;
        if self.is_op(":") {
            self.advance();
            let to = if self.is_op("]") {
                None
            } else {
                Some(Box::new(self.expression(0)?))
            };
            let end = self.expect_op("]")?;
            let mut refs = vec![&base];
            refs.extend(to.as_deref());
            let n = node(ExprKind::Nil, base.span.to(end), &refs);
            return self.check_depth(Expr {
                kind: ExprKind::Slice {
                    base: Box::new(base),
                    from: None,
                    to,
                },
                ..n
            });
        }
        let idx = self.expression(0)?;
        if self.is_op(":") {
            self.advance();
            let to = if self.is_op("]") {
                None
            } else {
                Some(Box::new(self.expression(0)?))
            };
            let end = self.expect_op("]")?;
            let mut refs = vec![&base, &idx];
            refs.extend(to.as_deref());
            let n = node(ExprKind::Nil, base.span.to(end), &refs);
            return self.check_depth(Expr {
                kind: ExprKind::Slice {
                    base: Box::new(base),
                    from: Some(Box::new(idx)),
                    to,
                },
                ..n
            });
        }
        let end = self.expect_op("]")?;
        let n = node(ExprKind::Nil, base.span.to(end), &[&base, &idx]);
        self.check_depth(Expr {
            kind: ExprKind::Index {
                base: Box::new(base),
                index: Box::new(idx),
                optional,
            },
            ..n
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the tree in a compact prefix form to check precedence and associativity.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Nil => "nil".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Ident(s) => s.clone(),
            ExprKind::Pointer(s) => format!("#{s}"),
            ExprKind::Array(items) => {
                format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
            }
            ExprKind::MapLit(items) => format!(
                "{{{}}}",
                items
                    .iter()
                    .map(|(k, v)| format!("{}:{}", show(k), show(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ExprKind::Unary(op, a) => format!("({op} {})", show(a)),
            ExprKind::Binary(op, a, b) => format!("({op} {} {})", show(a), show(b)),
            ExprKind::Logical(op, items) => {
                format!(
                    "({op} {})",
                    items.iter().map(show).collect::<Vec<_>>().join(" ")
                )
            }
            ExprKind::Member {
                base,
                name,
                optional,
            } => {
                format!("{}{}{name}", show(base), if *optional { "?." } else { "." })
            }
            ExprKind::Index { base, index, .. } => format!("{}[{}]", show(base), show(index)),
            ExprKind::Slice { base, from, to } => format!(
                "{}[{}:{}]",
                show(base),
                from.as_deref().map(show).unwrap_or_default(),
                to.as_deref().map(show).unwrap_or_default()
            ),
            ExprKind::Call { name, args, .. } => {
                format!(
                    "{name}({})",
                    args.iter().map(show).collect::<Vec<_>>().join(", ")
                )
            }
            ExprKind::MethodCall {
                base, name, args, ..
            } => format!(
                "{}.{name}({})",
                show(base),
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Closure(b) => format!("{{{}}}", show(b)),
            ExprKind::Cond(c, a, b) => format!("(? {} {} {})", show(c), show(a), show(b)),
            ExprKind::Let { name, value, body } => {
                format!("(let {name} {} {})", show(value), show(body))
            }
            ExprKind::Sequence(items) => format!(
                "(; {})",
                items.iter().map(show).collect::<Vec<_>>().join(" ")
            ),
            ExprKind::Chain(e) => format!("chain({})", show(e)),
        }
    }

    fn check(input: &str, expected: &str) {
        match parse(input) {
            Ok(e) => assert_eq!(show(&e), expected, "{input}"),
            Err(e) => assert_eq!(format!("error: {}", e.message()), expected, "{input}"),
        }
    }

    #[test]
    fn precedence() {
        check("1 + 2 * 3", "(+ 1 (* 2 3))");
        check("1 - 2 - 3", "(- (- 1 2) 3)");
        check("2 ** 3 ** 2", "(** 2 (** 3 2))");
        check("-2 ** 2", "(- (** 2 2))");
        check("not a == b", "(== (! a) b)");
        check("!a && b || c and d or e", "(|| (&& (! a) b) (&& c d) e)");
        check("a == b ? 1 : 2", "(? (== a b) 1 2)");
        check("a ?? b", "(?? a b)");
        check("1..3", "(.. 1 3)");
        check("a < b < c", "(&& (< a b) (< b c))");
        check("a not in b", "(! (in a b))");
        check("a not contains 'x'", "(! (contains a \"x\"))");
        check("x | lower() | split(',')", "split(lower(x), \",\")");
    }

    #[test]
    fn postfix_and_literals() {
        check("evt.Meta.x", "evt.Meta.x");
        check("evt.Meta['x'][0]", "evt.Meta[\"x\"][0]");
        check("a?.b.c", "chain(a?.b.c)");
        check("s[4:]", "s[4:]");
        check("s[:2]", "s[:2]");
        check("e.GetMeta('k')", "e.GetMeta(\"k\")");
        check("[1, 'a', nil]", "[1 \"a\" nil]");
        check("{a: 1, 'b': 2}", "{\"a\":1 \"b\":2}");
        check("any(xs, {.A == #.B})", "any(xs, {(== #.A #.B)})");
        check("map(xs, # + 1)", "map(xs, {(+ # 1)})");
        check("let x = 1; x + 1", "(let x 1 (+ x 1))");
        check("if a { 1 } else if b { 2 } else { 3 }", "(? a 1 (? b 2 3))");
        check("reduce(xs, #acc + #, 0)", "reduce(xs, {(+ #acc #)}, 0)");
    }

    #[test]
    fn errors() {
        check(
            "a ?? b == c",
            "error: operator (==) and coalesce expressions (??) cannot be mixed; wrap either in parentheses",
        );
        check(
            "evt.Meta.x == )",
            "error: unexpected token \")\" (expected expression)",
        );
        check(
            "1 +",
            "error: unexpected end of expression (expected expression)",
        );
        check(
            "# > 1",
            "error: cannot use pointer accessor outside predicate",
        );
        check(
            "a b",
            "error: unexpected identifier \"b\" (expected end of expression)",
        );
        check(
            "a not b",
            "error: unexpected token \"not\" (expected in, matches, contains, startsWith or endsWith)",
        );
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        check(&deep, "error: expression nested too deeply (limit 150)");
        let long_or = vec!["a == 'x'"; 5000].join(" || ");
        assert!(parse(&long_or).is_ok(), "long || chains stay flat");
        let long_plus = vec!["1"; 5000].join(" + ");
        check(
            &long_plus,
            "error: expression nested too deeply (limit 150)",
        );
    }
}
