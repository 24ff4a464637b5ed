//! The only door to YAML in the project: parsing with positions, serde decoding with located
//! errors and typo hints, `.local` merging, and writing.
//!
//! Decoding follows Go's `yaml.v3` as used upstream rather than a strict YAML 1.2 reading:
//! a plain scalar decodes into a string field whatever it looks like (`port: 8080` into a
//! `String` gives `"8080"`), typed booleans also accept `yes/no/on/off`, and `null` (or an
//! empty value) decodes into the zero value of the field's type. Unknown keys are errors when
//! the target type says `#[serde(deny_unknown_fields)]`, and get a "did you mean" hint.

mod de;
mod diagnostic;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub use diagnostic::{Diagnostic, Diagnostics, closest};

/// A YAML source text and the name used for it in diagnostics.
#[derive(Debug)]
pub struct Source {
    /// Name shown in diagnostics (usually the file path).
    pub name: String,
    /// The text that was parsed (after any environment expansion).
    pub text: String,
}

impl Source {
    /// The text of 1-based line `line`, without its line break.
    fn line(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or("")
    }
}

/// Where a node starts: the source it comes from and its 1-based line and column.
#[derive(Debug, Clone)]
pub struct Mark {
    /// The source text the node was parsed from.
    pub source: Arc<Source>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// How a scalar was written; only plain scalars are resolved as null/bool/number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted.
    Plain,
    /// Single- or double-quoted, or a literal/folded block, or tagged `!!str`.
    Quoted,
}

/// The shape of a YAML node.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A scalar with its text as written (after unescaping).
    Scalar(String, ScalarStyle),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in file order.
    Map(Vec<(Node, Node)>),
}

/// A parsed YAML node with its position.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's content.
    pub kind: NodeKind,
    /// Where it starts.
    pub mark: Mark,
}

impl Node {
    /// Is this a plain `null`, `~` or empty scalar?
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s, ScalarStyle::Plain) if is_null_text(s))
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The value of key `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a key path such as `nodes[2].grok.apply_on` (the syntax diagnostics use).
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                node = node.get(key)?;
            }
            for idx in indexes.split('[').filter(|s| !s.is_empty()) {
                let i: usize = idx.strip_suffix(']')?.parse().ok()?;
                node = match &node.kind {
                    NodeKind::Seq(items) => items.get(i)?,
                    _ => return None,
                };
            }
        }
        Some(node)
    }

    /// Decodes this node into `T`; the error carries the position of the offending node and
    /// its key path (prefixed with `path`, the path of this node).
    pub fn decode<T: DeserializeOwned>(&self, path: &str) -> Result<T, Diagnostics> {
        de::decode(self, path).map_err(|d| Diagnostics(vec![*d]))
    }

    /// A diagnostic pointing at this node.
    pub fn diagnostic(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at_offset(path, 0, 0, message)
    }

    /// A diagnostic pointing inside this scalar: `offset` characters after its first character
    /// of content (quotes skipped), underlining `width` characters. Used to map an expression or
    /// grok error position back into the YAML line. Falls back to the node start when the
    /// scalar spans several lines.
    pub fn diagnostic_at_offset(
        &self,
        path: &str,
        offset: usize,
        width: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let src = &self.mark.source;
        let line = src.line(self.mark.line);
        let mut col = self.mark.col;
        let mut w = width;
        if let NodeKind::Scalar(text, style) = &self.kind {
            let first = line.chars().nth(col.saturating_sub(1));
            let quoted = matches!(first, Some('"' | '\''));
            let single_line = !text.contains('\n');
            if single_line && (*style == ScalarStyle::Plain || quoted) {
                col += offset + usize::from(quoted);
                if width == 0 {
                    w = text.chars().count().saturating_sub(offset);
                }
            }
        }
        if w == 0 {
            w = 1;
        }
        // Never underline past the end of the shown line.
        let avail = line.chars().count().saturating_sub(col.saturating_sub(1));
        Diagnostic {
            file: src.name.clone(),
            line: self.mark.line,
            col,
            path: path.to_string(),
            message: message.into(),
            hint: None,
            source_line: line.to_string(),
            width: w.min(avail.max(1)),
        }
    }
}

pub(crate) fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// Parses every document of `text`. An empty stream gives no documents; an empty document
/// (`---` alone) gives a null node.
pub fn parse(name: &str, text: &str) -> Result<Vec<Node>, Diagnostics> {
    let source = Arc::new(Source {
        name: name.to_string(),
        text: text.to_string(),
    });
    Builder::new(source)
        .run()
        .map_err(|d| Diagnostics(vec![*d]))
}

struct Builder {
    source: Arc<Source>,
    anchors: HashMap<usize, Node>,
}

enum Frame {
    Seq(Vec<Node>, Mark, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Mark, usize),
}

impl Builder {
    fn new(source: Arc<Source>) -> Self {
        Builder {
            source,
            anchors: HashMap::new(),
        }
    }

    fn mark(&self, m: &Marker) -> Mark {
        Mark {
            source: self.source.clone(),
            line: m.line(),
            // yaml-rust2 columns are 0-based.
            col: m.col() + 1,
        }
    }

    fn error(&self, m: &Marker, msg: &str) -> Box<Diagnostic> {
        let node = Node {
            kind: NodeKind::Seq(Vec::new()),
            mark: self.mark(m),
        };
        Box::new(node.diagnostic("", format!("invalid YAML: {msg}")))
    }

    fn run(mut self) -> Result<Vec<Node>, Box<Diagnostic>> {
        let text = self.source.text.clone();
        let mut parser = Parser::new_from_str(&text);
        let mut docs = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<Node> = None;
        loop {
            let (ev, marker) = parser
                .next_token()
                .map_err(|e| self.error(e.marker(), e.info()))?;
            let done = match ev {
                Event::StreamEnd => break,
                Event::StreamStart | Event::Nothing => continue,
                Event::DocumentStart => {
                    root = None;
                    continue;
                }
                Event::DocumentEnd => {
                    let mark = self.mark(&marker);
                    docs.push(root.take().unwrap_or(Node {
                        kind: NodeKind::Scalar(String::new(), ScalarStyle::Plain),
                        mark,
                    }));
                    continue;
                }
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some(n) => n.clone(),
                    None => return Err(self.error(&marker, "unknown anchor")),
                },
                Event::Scalar(value, style, anchor, tag) => {
                    let explicit_str = tag
                        .as_ref()
                        .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                    let style = if style == TScalarStyle::Plain && !explicit_str {
                        ScalarStyle::Plain
                    } else {
                        ScalarStyle::Quoted
                    };
                    let node = Node {
                        kind: NodeKind::Scalar(value, style),
                        mark: self.mark(&marker),
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, node.clone());
                    }
                    node
                }
                Event::SequenceStart(anchor, _) => {
                    stack.push(Frame::Seq(Vec::new(), self.mark(&marker), anchor));
                    continue;
                }
                Event::MappingStart(anchor, _) => {
                    stack.push(Frame::Map(Vec::new(), None, self.mark(&marker), anchor));
                    continue;
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Seq(items, mark, anchor)) => self.anchored(
                        anchor,
                        Node {
                            kind: NodeKind::Seq(items),
                            mark,
                        },
                    ),
                    _ => return Err(self.error(&marker, "unbalanced sequence")),
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Map(entries, _, mark, anchor)) => {
                        // yaml-rust2 marks a block mapping at its first `:`; its first key is
                        // where a reader expects the mapping to start.
                        let mark = entries.first().map_or(mark, |(k, _)| k.mark.clone());
                        let entries = resolve_merge_keys(entries);
                        self.anchored(
                            anchor,
                            Node {
                                kind: NodeKind::Map(entries),
                                mark,
                            },
                        )
                    }
                    _ => return Err(self.error(&marker, "unbalanced mapping")),
                },
            };
            // Attach the finished node to its parent, or make it the document root.
            match stack.last_mut() {
                Some(Frame::Seq(items, ..)) => items.push(done),
                Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                    Some(k) => entries.push((k, done)),
                    None => *pending = Some(done),
                },
                None => root = Some(done),
            }
        }
        Ok(docs)
    }

    fn anchored(&mut self, anchor: usize, node: Node) -> Node {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        node
    }
}

/// Applies YAML merge keys (`<<: *anchor` or `<<: [*a, *b]`): merged entries never override
/// keys written in the mapping itself.
fn resolve_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge =
        |k: &Node| matches!(&k.kind, NodeKind::Scalar(s, ScalarStyle::Plain) if s == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| is_merge(k));
    for (_, v) in merges {
        let sources = match v.kind {
            NodeKind::Seq(items) => items,
            _ => vec![v],
        };
        for src in sources {
            if let NodeKind::Map(extra) = src.kind {
                for (k, v) in extra {
                    if !own.iter().any(|(o, _)| o.as_str() == k.as_str()) {
                        own.push((k, v));
                    }
                }
            }
        }
    }
    own
}

/// Decodes a single-document YAML text into `T`. An empty text decodes like `null`.
pub fn from_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, Diagnostics> {
    let node = match parse(name, text)?.into_iter().next() {
        Some(n) => n,
        None => parse(name, "~")?.remove(0),
    };
    node.decode("")
}

/// Decodes every non-empty document of a multi-document YAML text (profiles, acquisition,
/// hub items). Errors of all documents are collected.
pub fn from_str_multi<T: DeserializeOwned>(name: &str, text: &str) -> Result<Vec<T>, Diagnostics> {
    let docs = parse(name, text)?;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        match doc.decode("") {
            Ok(v) => out.push(v),
            Err(Diagnostics(e)) => errs.extend(e),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(errs))
    }
}

/// Merges `patch` into `base` the way upstream merges a `.local` file: mappings are merged key
/// by key (recursively), any other value in the patch replaces the base one, and a null patch
/// value keeps the base value.
pub fn merge(base: Node, patch: Node) -> Node {
    if patch.is_null() {
        return base;
    }
    match (base.kind, patch.kind) {
        (NodeKind::Map(mut entries), NodeKind::Map(extra)) => {
            for (k, v) in extra {
                match entries
                    .iter_mut()
                    .find(|(bk, _)| bk.as_str().is_some() && bk.as_str() == k.as_str())
                {
                    Some(slot) => {
                        // Take the base value out (leaving a null in its place) to merge by value.
                        let placeholder = Node {
                            kind: NodeKind::Scalar(String::new(), ScalarStyle::Plain),
                            mark: v.mark.clone(),
                        };
                        let old = std::mem::replace(&mut slot.1, placeholder);
                        slot.1 = merge(old, v);
                    }
                    None => entries.push((k, v)),
                }
            }
            Node {
                kind: NodeKind::Map(entries),
                mark: base.mark,
            }
        }
        (_, kind) => Node {
            kind,
            mark: patch.mark,
        },
    }
}

/// Serializes `value` as a YAML document (used for the files cscli writes).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| e.to_string())
}

/// Reads a YAML file and decodes its single document, the text going through `expand` first.
pub fn load_file<T: DeserializeOwned>(
    path: &Path,
    expand: impl Fn(&str) -> String,
) -> Result<T, Diagnostics> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic::unlocated(
            &name,
            format!("cannot read: {e}"),
        )])
    })?;
    from_str(&name, &expand(&text))
}

#[cfg(test)]
mod tests;
