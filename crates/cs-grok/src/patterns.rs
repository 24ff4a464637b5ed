//! The pattern host: named grok patterns, loading, and `%{…}` expansion.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::grok::Grok;
use crate::reference::{estimated_groups, references};
use crate::translate::{SyntaxError, translate};

/// The base patterns shipped with this crate: the names grok configurations may use
/// without defining them (built into upstream's grok library).
const BASE: (&str, &str) = ("base", include_str!("../patterns/base"));

/// The other files of the pattern library shipped with this crate, in load order.
const LIBRARY: &[(&str, &str)] = &[
    ("linux-syslog", include_str!("../patterns/linux-syslog")),
    ("ssh", include_str!("../patterns/ssh")),
    ("nginx", include_str!("../patterns/nginx")),
    ("firewalls", include_str!("../patterns/firewalls")),
];

/// A named pattern fully expanded: RE2-syntax text plus grokky's semantic map.
#[derive(Debug)]
pub(crate) struct Expansion {
    /// The expression with every reference replaced by `(` + expansion + `)`.
    pub text: String,
    /// Capture groups of `text` (RE2's `NumSubexp`).
    pub groups: usize,
    /// Field name → group number, as grokky computes it (may be 0, negative or past
    /// `groups` because of upstream's group estimate; see [`estimated_groups`]).
    pub fields: Vec<(Arc<str>, isize)>,
}

/// Where a byte range of an expanded text comes from, to report errors at the right place.
#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    /// Literal text copied from offset `src` of the expression.
    Literal { src: usize },
    /// The expansion of the reference written at offset `src`.
    Reference { src: usize, name: &'a str },
}

/// Expanded text of one expression plus the provenance of its pieces.
struct Expanded<'a> {
    expansion: Expansion,
    /// (start in expanded text, origin), increasing.
    segments: Vec<(usize, Origin<'a>)>,
}

impl Expanded<'_> {
    /// Turns an error at `offset` of the expanded text into an error about `expr`.
    fn error(&self, expr: &str, offset: usize, message: String) -> Error {
        expanded_error(expr, &self.segments, offset, message)
    }
}

/// A collection of named grok patterns (upstream's grok "host").
///
/// Build one per parser context: start from [`Patterns::base`] (or [`Patterns::new`] plus
/// [`Patterns::load_file`]), add a pattern directory with [`Patterns::load_dir`], then each
/// node's `pattern_syntax` entries with [`Patterns::add`], and compile parsers' expressions
/// with [`Patterns::compile`] / [`Patterns::compile_named`].
///
/// Definitions are immutable once added (a second definition of a name is refused and the
/// first one kept). A definition may refer only to patterns that exist when it is checked:
/// [`Patterns::add`] checks at once, the file loaders once the whole file or directory is in,
/// so references inside one file or directory may point forward. Loops are reported as
/// [`Error::Cycle`].
pub struct Patterns {
    defs: HashMap<Arc<str>, Arc<str>>,
    order: Vec<Arc<str>>,
    /// Expansions already computed; valid forever because definitions never change.
    memo: Mutex<HashMap<Arc<str>, Arc<Expansion>>>,
    /// Field names handed out, so equal names share one allocation across patterns.
    field_names: Mutex<HashSet<Arc<str>>>,
}

impl Default for Patterns {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Patterns {
    fn clone(&self) -> Self {
        Self {
            defs: self.defs.clone(),
            order: self.order.clone(),
            memo: Mutex::new(lock(&self.memo).clone()),
            field_names: Mutex::new(lock(&self.field_names).clone()),
        }
    }
}

impl fmt::Debug for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patterns")
            .field("len", &self.order.len())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (plain inserts).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_name(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Patterns {
    /// An empty collection.
    pub fn new() -> Self {
        Self {
            defs: HashMap::new(),
            order: Vec::new(),
            memo: Mutex::new(HashMap::new()),
            field_names: Mutex::new(HashSet::new()),
        }
    }

    /// The base patterns every grok configuration may use without defining them (`IP`,
    /// `WORD`, `SYSLOGTIMESTAMP`, `COMBINEDAPACHELOG`, …), as built into upstream's grok
    /// library. This is where a CrowdSec host starts before loading its `patterns/`
    /// directory, which defines the syslog, sshd, nginx… patterns.
    pub fn base() -> Self {
        let mut patterns = Self::new();
        patterns.load_builtin(&[BASE]);
        patterns
    }

    /// The base patterns plus this crate's own syslog, sshd, nginx and netfilter
    /// (iptables/nftables) patterns: a self-contained collection for configurations that
    /// ship no `patterns/` directory. Loading upstream's pattern directory on top of it
    /// fails on the names both define; start from [`Patterns::base`] for that.
    pub fn builtin() -> Self {
        let mut patterns = Self::new();
        patterns.load_builtin(&[BASE]);
        patterns.load_builtin(LIBRARY);
        patterns
    }

    fn load_builtin(&mut self, files: &[(&str, &str)]) {
        for (name, text) in files {
            // The library is tested to load; a failure here is a bug of this crate, and the
            // definitions that did load stay usable.
            if let Err(e) = self.load_str(Path::new(name), text) {
                debug_assert!(false, "built-in grok patterns: {e}");
            }
        }
    }

    /// Number of named patterns.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no pattern is defined.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The expression of a named pattern.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.defs.get(name).map(|e| &**e)
    }

    /// Pattern names in definition order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|n| &**n)
    }

    fn insert(&mut self, name: &str, expr: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::EmptyName);
        }
        if !is_name(name) {
            return Err(Error::InvalidName {
                name: name.to_string(),
            });
        }
        if expr.is_empty() {
            return Err(Error::EmptyPattern {
                name: Some(name.to_string()),
            });
        }
        if self.defs.contains_key(name) {
            return Err(Error::Duplicate {
                name: name.to_string(),
            });
        }
        let name: Arc<str> = Arc::from(name);
        self.defs.insert(name.clone(), Arc::from(expr));
        self.order.push(name);
        Ok(())
    }

    fn remove_last(&mut self, count: usize) {
        for name in self.order.split_off(self.order.len() - count) {
            self.defs.remove(&name);
        }
    }

    /// Defines one pattern (a `pattern_syntax` entry) and checks it at once: every reference
    /// must resolve and the expression must be valid. On error nothing is added; on
    /// [`Error::Duplicate`] the existing definition stays (upstream warns and goes on).
    pub fn add(&mut self, name: &str, expr: &str) -> Result<()> {
        self.insert(name, expr)?;
        if let Err(e) = self.expansion_of(name, &mut Vec::new()) {
            self.remove_last(1);
            return Err(e);
        }
        Ok(())
    }

    /// Loads pattern definitions from text in upstream's file format: each line matching
    /// `^(\w+)\s+(.+)$` defines NAME → expression, other lines (comments, blank lines) are
    /// ignored. `path` only labels errors. Returns the number of definitions added.
    ///
    /// All definitions are checked after the whole text is read; on error the definitions
    /// read so far stay defined (a broken pattern file is fatal at startup anyway).
    pub fn load_str(&mut self, path: &Path, text: &str) -> Result<usize> {
        let mut added = Vec::new();
        self.read_definitions(path, text, &mut added)?;
        self.check_added(&added)?;
        Ok(added.len())
    }

    fn read_definitions(
        &mut self,
        path: &Path,
        text: &str,
        added: &mut Vec<(PathBuf, usize, Arc<str>)>,
    ) -> Result<()> {
        for (idx, line) in text.lines().enumerate() {
            let Some((name, expr)) = definition(line) else {
                continue;
            };
            self.insert(name, expr).map_err(|e| Error::File {
                path: path.to_path_buf(),
                line: idx + 1,
                source: Box::new(e),
            })?;
            added.push((path.to_path_buf(), idx + 1, Arc::from(name)));
        }
        Ok(())
    }

    fn check_added(&self, added: &[(PathBuf, usize, Arc<str>)]) -> Result<()> {
        for (path, line, name) in added {
            self.expansion_of(name, &mut Vec::new())
                .map_err(|e| Error::File {
                    path: path.clone(),
                    line: *line,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    /// Loads one pattern file (see [`Patterns::load_str`] for the format).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_str(path, &String::from_utf8_lossy(&bytes))
    }

    /// Loads every regular file of `dir` whose name contains no `.`, in name order, as
    /// upstream does with its `patterns/` directory. Returns the number of definitions added.
    pub fn load_dir(&mut self, dir: impl AsRef<Path>) -> Result<usize> {
        let dir = dir.as_ref();
        let io_err = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            if name.to_string_lossy().contains('.') || entry.file_type().map_err(io_err)?.is_dir() {
                continue;
            }
            files.push(entry.path());
        }
        files.sort();
        let mut added = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            self.read_definitions(&path, &String::from_utf8_lossy(&bytes), &mut added)?;
        }
        self.check_added(&added)?;
        Ok(added.len())
    }

    /// Checks every definition (references resolve, no cycle, valid syntax) and returns the
    /// problems found, one per broken pattern.
    pub fn check_all(&self) -> Vec<Error> {
        self.order
            .iter()
            .filter_map(|name| self.expansion_of(name, &mut Vec::new()).err())
            .collect()
    }

    /// Compiles an inline expression (a parser's `grok.pattern`).
    pub fn compile(&self, expr: &str) -> Result<Grok> {
        if expr.is_empty() {
            return Err(Error::EmptyPattern { name: None });
        }
        let expanded = self.expand(expr, &mut Vec::new())?;
        Grok::build(expr, &expanded.expansion, |offset, message| {
            expanded.error(expr, offset, message)
        })
    }

    /// Compiles a named pattern (a parser's `grok.name`); the same as compiling its
    /// expression.
    pub fn compile_named(&self, name: &str) -> Result<Grok> {
        let expr = self.defs.get(name).ok_or_else(|| Error::Undefined {
            name: name.to_string(),
        })?;
        self.compile(expr).map_err(|source| match source {
            e @ (Error::Definition { .. } | Error::Cycle { .. }) => e,
            e => Error::Definition {
                name: name.to_string(),
                source: Box::new(e),
            },
        })
    }

    /// Interns a field name.
    pub(crate) fn field_name(&self, name: &str) -> Arc<str> {
        let mut names = lock(&self.field_names);
        if let Some(n) = names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        names.insert(n.clone());
        n
    }

    /// The expansion of a named pattern, computed once.
    fn expansion_of(&self, name: &str, stack: &mut Vec<Arc<str>>) -> Result<Arc<Expansion>> {
        if let Some(e) = lock(&self.memo).get(name) {
            return Ok(e.clone());
        }
        let Some((key, expr)) = self.defs.get_key_value(name) else {
            return Err(Error::Undefined {
                name: name.to_string(),
            });
        };
        if let Some(pos) = stack.iter().position(|n| &**n == name) {
            let mut chain: Vec<String> = stack[pos..].iter().map(|n| n.to_string()).collect();
            chain.push(name.to_string());
            return Err(Error::Cycle { chain });
        }
        stack.push(key.clone());
        let expanded = self.expand(expr, stack);
        stack.pop();
        let expanded = expanded.map_err(|e| match e {
            e @ (Error::Definition { .. } | Error::Cycle { .. }) => e,
            e => Error::Definition {
                name: name.to_string(),
                source: Box::new(e),
            },
        })?;
        // Only the syntax is checked here; building the matcher is left to `compile`.
        let expansion = expanded.expansion;
        let translation =
            translate(&expansion.text, &|_| false).map_err(|SyntaxError { offset, message }| {
                Error::Definition {
                    name: name.to_string(),
                    source: Box::new(expanded_error(expr, &expanded.segments, offset, message)),
                }
            })?;
        if let Err(e) = regex_syntax::Parser::new().parse(&translation.text) {
            let (offset, message) = syntax_error_parts(&e);
            return Err(Error::Definition {
                name: name.to_string(),
                source: Box::new(expanded_error(
                    expr,
                    &expanded.segments,
                    translation.input_offset(offset),
                    message,
                )),
            });
        }
        let expansion = Arc::new(Expansion {
            groups: translation.groups,
            ..expansion
        });
        lock(&self.memo).insert(key.clone(), expansion.clone());
        Ok(expansion)
    }

    /// Replaces the references of `expr` the way grokky does and computes its semantic map.
    fn expand<'e>(&self, expr: &'e str, stack: &mut Vec<Arc<str>>) -> Result<Expanded<'e>> {
        let refs = references(expr);
        let direct: HashSet<&str> = refs.iter().filter_map(|r| r.field).collect();
        let mut text = String::with_capacity(expr.len());
        let mut segments = Vec::with_capacity(2 * refs.len() + 1);
        let mut fields: Vec<(Arc<str>, isize)> = Vec::new();
        let set = |fields: &mut Vec<(Arc<str>, isize)>, name: &str, group: isize| match fields
            .iter_mut()
            .find(|(n, _)| &**n == name)
        {
            Some(slot) => slot.1 = group,
            None => fields.push((self.field_name(name), group)),
        };
        let mut group: isize = 1;
        let mut last = 0;
        for r in &refs {
            let literal = &expr[last..r.start];
            group += estimated_groups(literal);
            segments.push((text.len(), Origin::Literal { src: last }));
            text.push_str(literal);
            let sub = match self.expansion_of(r.name, stack) {
                Ok(sub) => sub,
                Err(Error::Undefined { name }) => {
                    return Err(Error::UnknownPattern {
                        name,
                        pattern: expr.to_string(),
                        offset: r.start,
                    });
                }
                Err(e) => return Err(e),
            };
            segments.push((
                text.len(),
                Origin::Reference {
                    src: r.start,
                    name: r.name,
                },
            ));
            text.push('(');
            text.push_str(&sub.text);
            text.push(')');
            if let Some(field) = r.field {
                set(&mut fields, field, group);
            }
            for (name, sub_group) in &sub.fields {
                if !direct.contains(&**name) {
                    set(&mut fields, name, group + sub_group);
                }
            }
            // Group counts are bounded by the text length.
            group += sub.groups as isize + 1;
            last = r.end;
        }
        segments.push((text.len(), Origin::Literal { src: last }));
        text.push_str(&expr[last..]);
        Ok(Expanded {
            expansion: Expansion {
                text,
                groups: 0,
                fields,
            },
            segments,
        })
    }
}

fn expanded_error(
    expr: &str,
    segments: &[(usize, Origin<'_>)],
    offset: usize,
    message: String,
) -> Error {
    let idx = segments.partition_point(|&(start, _)| start <= offset);
    let (offset, message) = match idx.checked_sub(1).map(|i| segments[i]) {
        Some((start, Origin::Literal { src })) => ((src + offset - start).min(expr.len()), message),
        Some((_, Origin::Reference { src, name })) => (
            src,
            format!("{message} (inside the expansion of `%{{{name}}}`)"),
        ),
        None => (0, message),
    };
    Error::Syntax {
        pattern: expr.to_string(),
        offset,
        message,
    }
}

/// Offset (in the parsed text) and description of a `regex-syntax` error.
pub(crate) fn syntax_error_parts(e: &regex_syntax::Error) -> (usize, String) {
    match e {
        regex_syntax::Error::Parse(e) => (e.span().start.offset, e.kind().to_string()),
        regex_syntax::Error::Translate(e) => (e.span().start.offset, e.kind().to_string()),
        other => (0, other.to_string()),
    }
}

/// Upstream's definition-line rule, `^(\w+)\s+(.+)$` with RE2's ASCII classes: returns the
/// name and the expression.
fn definition(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let name = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    let space = b[name..]
        .iter()
        .take_while(|c| matches!(c, b'\t' | b'\n' | 0x0C | b'\r' | b' '))
        .count();
    if name == 0 || space == 0 {
        return None;
    }
    match &line[name + space..] {
        "" if space >= 2 => Some((&line[..name], &line[name + space - 1..])),
        "" => None,
        rest => Some((&line[..name], rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_lines() {
        assert_eq!(definition("INT [+-]?[0-9]+"), Some(("INT", "[+-]?[0-9]+")));
        assert_eq!(definition("A\t  b c "), Some(("A", "b c ")));
        assert_eq!(definition("A   "), Some(("A", " ")));
        assert_eq!(definition("A "), None);
        assert_eq!(definition("# comment"), None);
        assert_eq!(definition("A-B x"), None);
        assert_eq!(definition(""), None);
    }
}
