//! Data files referenced by parsers and scenarios (`data:` entries) and the helpers reading them:
//! `File` (type `string`), `RegexpInFile` (type `regexp`/`regex`), `FileMap`/`LookupFile`
//! (type `map`).
//!
//! A file is read once per (name, type) from the data directory and shared through `Arc`, so
//! lookups never reparse or recompile anything.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet};

use cs_expr::Value;

use crate::error::{Error, Result};

/// Lines of a `string` data file, with the list value `File()` returns built once.
#[derive(Debug)]
pub struct StringList {
    lines: Vec<String>,
    value: Value<'static>,
}

impl StringList {
    fn new(lines: Vec<String>) -> Self {
        let value = Value::data_list(lines.iter().map(|l| Value::string(l.as_str())).collect());
        Self { lines, value }
    }

    /// The lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The lines as an expression list (cheap to clone: shared).
    pub fn value(&self) -> Value<'static> {
        self.value.clone()
    }
}

/// Compiled lines of a `regexp` data file.
#[derive(Debug)]
pub struct RegexList {
    /// One combined automaton for the common case; `None` if it would be too large.
    set: Option<RegexSet>,
    list: Vec<Regex>,
    /// Tells this list's answers apart in [`RECENT`].
    id: u64,
}

/// Number of answers of [`RegexList::is_match`] each thread remembers.
const RECENT_SLOTS: usize = 512;
/// Longer inputs are not remembered (they are rarely repeated, and would hold memory).
const RECENT_MAX_LEN: usize = 512;

/// One remembered answer: the list, the input and whether some line matched it.
#[derive(Default)]
struct Recent {
    list: u64,
    input: String,
    answer: bool,
}

thread_local! {
    /// The latest answers of every list, by hash of (list, input), one per slot: the same
    /// user agents and paths come back on every line of a busy log, and matching one
    /// against hundreds of expressions costs far more than finding it here.
    static RECENT: std::cell::RefCell<Vec<Recent>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl RegexList {
    /// Build from Go patterns, reporting the first invalid line.
    fn compile(file: &str, lines: &[(usize, String)]) -> Result<Self> {
        let mut list = Vec::with_capacity(lines.len());
        let mut translated = Vec::with_capacity(lines.len());
        for (line, pattern) in lines {
            let t = cs_expr::translate_go_regex(pattern);
            let re = Regex::new(&t).map_err(|source| Error::Regex {
                file: file.to_owned(),
                line: *line,
                pattern: pattern.clone(),
                source,
            })?;
            list.push(re);
            translated.push(t);
        }
        let set = RegexSet::new(&translated).ok();
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Self { set, list, id })
    }

    /// True when any line matches somewhere in `s`. Answers are remembered per thread for
    /// recent inputs (see [`RECENT`]).
    pub fn is_match(&self, s: &str) -> bool {
        if s.len() > RECENT_MAX_LEN {
            return self.search(s);
        }
        use std::hash::BuildHasher as _;
        let slot =
            foldhash::fast::FixedState::default().hash_one((self.id, s)) as usize % RECENT_SLOTS;
        let remembered = RECENT.with_borrow(|recent| {
            recent
                .get(slot)
                .filter(|r| r.list == self.id && r.input == s)
                .map(|r| r.answer)
        });
        if let Some(answer) = remembered {
            return answer;
        }
        let answer = self.search(s);
        RECENT.with_borrow_mut(|recent| {
            if recent.is_empty() {
                recent.resize_with(RECENT_SLOTS, Recent::default);
            }
            let r = &mut recent[slot];
            r.list = self.id;
            r.input.clear();
            r.input.push_str(s);
            r.answer = answer;
        });
        answer
    }

    /// [`RegexList::is_match`] without the remembered answers.
    fn search(&self, s: &str) -> bool {
        match &self.set {
            Some(set) => set.is_match(s),
            None => self.list.iter().any(|re| re.is_match(s)),
        }
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the file had no pattern.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// One row of a `map` data file: every JSON field (at least `pattern`, `tag` and `type`).
pub type MapRow = Vec<(String, String)>;

/// Parsed `map` data file with its lookup index.
#[derive(Debug)]
pub struct FileMap {
    rows: Vec<MapRow>,
    tags: Vec<String>,
    equals: HashMap<String, usize>,
    contains: Option<(AhoCorasick, Vec<usize>)>,
    regexes: Vec<(Regex, usize)>,
}

impl FileMap {
    fn parse(file: &str, lines: &[(usize, String)]) -> Result<Self> {
        let mut rows = Vec::with_capacity(lines.len());
        let mut tags = Vec::with_capacity(lines.len());
        let mut equals = HashMap::new();
        let mut contains_patterns = Vec::new();
        let mut contains_rows = Vec::new();
        let mut regexes = Vec::new();
        for (line, text) in lines {
            let bad = |reason: String| Error::MapEntry {
                file: file.to_owned(),
                line: *line,
                reason,
            };
            let record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
            let mut row: MapRow = Vec::with_capacity(record.len());
            for (k, v) in record {
                // Upstream decodes into map[string]string, so every value must be a string.
                let serde_json::Value::String(s) = v else {
                    return Err(bad(format!("field '{k}' is not a string")));
                };
                row.push((k, s));
            }
            let field = |name: &str| {
                row.iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str())
            };
            let (pattern, tag, kind) = (field("pattern"), field("tag"), field("type"));
            for (name, value) in [("pattern", pattern), ("tag", tag), ("type", kind)] {
                if value.is_empty() {
                    return Err(bad(format!("missing mandatory '{name}' field")));
                }
            }
            let idx = rows.len();
            match kind {
                "equals" => {
                    // A later duplicate overrides an earlier one, as upstream's map insert does.
                    equals.insert(pattern.to_owned(), idx);
                }
                "contains" => {
                    contains_patterns.push(pattern.to_owned());
                    contains_rows.push(idx);
                }
                // Compiled directly rather than through `compile_go_regex`: data file patterns live as
                // long as the file and would only churn that function's small cache.
                "regex" => match Regex::new(&cs_expr::translate_go_regex(pattern)) {
                    Ok(re) => regexes.push((re, idx)),
                    // Upstream logs and skips a row whose regex does not compile.
                    Err(e) => {
                        tracing::error!(file, line, error = %e, "invalid regex in map data file")
                    }
                },
                other => {
                    return Err(bad(format!(
                        "unknown entry type '{other}' (supported: equals, contains, regex)"
                    )));
                }
            }
            tags.push(tag.to_owned());
            rows.push(row);
        }
        let contains = if contains_patterns.is_empty() {
            None
        } else {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&contains_patterns)
                .map_err(|e| Error::MapEntry {
                    file: file.to_owned(),
                    line: 0,
                    reason: e.to_string(),
                })?;
            Some((ac, contains_rows))
        };
        Ok(Self {
            rows,
            tags,
            equals,
            contains,
            regexes,
        })
    }

    /// Rows in file order (`FileMap`).
    pub fn rows(&self) -> &[MapRow] {
        &self.rows
    }

    /// `LookupFile`: tag of the first `equals` row equal to `haystack`, else of the leftmost
    /// `contains` match (first listed on ties), else of the first matching `regex` row.
    pub fn lookup(&self, haystack: &str) -> Option<&str> {
        if let Some(&i) = self.equals.get(haystack) {
            return Some(&self.tags[i]);
        }
        if let Some((ac, rows)) = &self.contains
            && let Some(m) = ac.find(haystack)
        {
            return Some(&self.tags[rows[m.pattern().as_usize()]]);
        }
        self.regexes
            .iter()
            .find(|(re, _)| re.is_match(haystack))
            .map(|(_, i)| self.tags[*i].as_str())
    }
}

/// FNV-1a: file names are short and come from the configuration, and every evaluation of
/// `File(...)` or `RegexpInFile(...)` hashes one.
#[derive(Debug, Clone, Copy)]
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Data files by name.
type ByName<T> = HashMap<String, Arc<T>, std::hash::BuildHasherDefault<NameHasher>>;

#[derive(Debug, Default)]
struct Store {
    strings: ByName<StringList>,
    regexes: ByName<RegexList>,
    maps: ByName<FileMap>,
}

/// The set of loaded data files, shared by every expression.
#[derive(Debug, Default)]
pub struct DataFiles {
    store: RwLock<Store>,
}

/// Lines of a data file that upstream keeps: not empty and not starting with `#`, with a
/// trailing `\r` removed (Go's line scanner does that); each with its 1-based line number.
fn data_lines(content: &str) -> Vec<(usize, String)> {
    content
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i, l.to_owned()))
        .collect()
}

impl DataFiles {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps half-updated (inserts are
        // single operations), so a poisoned lock is still usable.
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Upstream `FileInit(dir, name, type)`: load `dir/name` unless it is already loaded with
    /// that type. An empty type is ignored, as upstream does.
    pub fn load(&self, dir: &Path, name: &str, kind: &str) -> Result<()> {
        if kind.is_empty() || self.is_loaded(name, kind)? {
            return Ok(());
        }
        let path = dir.join(name);
        let content = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        self.insert(name, kind, &String::from_utf8_lossy(&content))
    }

    /// Register a data file from its text (used by [`DataFiles::load`] and by tests).
    pub fn insert(&self, name: &str, kind: &str, content: &str) -> Result<()> {
        let lines = data_lines(content);
        match kind {
            "string" => {
                let list = StringList::new(lines.into_iter().map(|(_, l)| l).collect());
                self.write().strings.insert(name.to_owned(), Arc::new(list));
            }
            "regex" | "regexp" => {
                let list = RegexList::compile(name, &lines)?;
                self.write().regexes.insert(name.to_owned(), Arc::new(list));
            }
            "map" => {
                let map = FileMap::parse(name, &lines)?;
                self.write().maps.insert(name.to_owned(), Arc::new(map));
            }
            other => {
                return Err(Error::UnknownDataType {
                    file: name.to_owned(),
                    kind: other.to_owned(),
                });
            }
        }
        Ok(())
    }

    fn is_loaded(&self, name: &str, kind: &str) -> Result<bool> {
        let store = self.read();
        match kind {
            "string" => Ok(store.strings.contains_key(name)),
            "regex" | "regexp" => Ok(store.regexes.contains_key(name)),
            "map" => Ok(store.maps.contains_key(name)),
            other => Err(Error::UnknownDataType {
                file: name.to_owned(),
                kind: other.to_owned(),
            }),
        }
    }

    /// `File(name)`: lines of a `string` file (`None` when not loaded).
    pub fn strings(&self, name: &str) -> Option<Arc<StringList>> {
        self.read().strings.get(name).cloned()
    }

    /// Compiled patterns of a `regexp` file.
    pub fn regexes(&self, name: &str) -> Option<Arc<RegexList>> {
        self.read().regexes.get(name).cloned()
    }

    /// Parsed `map` file.
    pub fn map(&self, name: &str) -> Option<Arc<FileMap>> {
        self.read().maps.get(name).cloned()
    }

    /// Forget every file (upstream `ResetDataFiles`, used on reload).
    pub fn clear(&self) {
        *self.write() = Store::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_and_regex_files() {
        let files = DataFiles::new();
        files
            .insert("a.txt", "string", "# comment\nfoo\r\n\nbar\n")
            .expect("loads");
        let list = files.strings("a.txt").expect("present");
        assert_eq!(list.lines(), ["foo".to_owned(), "bar".to_owned()]);
        assert_eq!(list.value().as_list().map(cs_expr::List::len), Some(2));
        files
            .insert("r.txt", "regexp", "^curl\n(?i)nikto\n\\d{3}x")
            .expect("loads");
        let re = files.regexes("r.txt").expect("present");
        assert!(re.is_match("curl/7.1"));
        assert!(re.is_match("Mozilla NIKTO"));
        assert!(!re.is_match("wget ١٢٣x"));
        assert!(files.insert("bad.txt", "regexp", "(unclosed").is_err());
        assert!(files.insert("x", "weird", "").is_err());
        assert!(files.strings("missing").is_none());
    }

    #[test]
    fn remembered_regex_answers_are_those_of_the_search() {
        let files = DataFiles::new();
        files.insert("a.txt", "regexp", "^$\nbot\n^x+$").unwrap();
        files.insert("b.txt", "regexp", "BOT\n(?i)^y").unwrap();
        let (a, b) = (
            files.regexes("a.txt").unwrap(),
            files.regexes("b.txt").unwrap(),
        );
        // More inputs than slots, so answers are also evicted and searched again; two lists
        // asked about the same inputs; the empty input; one input over the length bound.
        let mut inputs: Vec<String> = (0..3 * RECENT_SLOTS)
            .map(|i| match i % 5 {
                0 => format!("agent {i} bot"),
                1 => "x".repeat(1 + i % 7),
                2 => format!("Y{i}"),
                3 => String::new(),
                _ => format!("BOT-{i}"),
            })
            .collect();
        inputs.push(format!("{}bot", "z".repeat(RECENT_MAX_LEN)));
        for _ in 0..2 {
            for input in &inputs {
                for list in [&a, &b] {
                    assert_eq!(list.is_match(input), list.search(input), "{input:?}");
                }
            }
        }
        assert!(a.is_match("") && !b.is_match(""));
        // A list loaded again under the same name does not see the answers of the old one.
        files.insert("a.txt", "regexp", "nothing").unwrap();
        assert!(!files.regexes("a.txt").unwrap().is_match("agent 0 bot"));
    }

    #[test]
    fn map_lookup_order() {
        let files = DataFiles::new();
        let content = r#"{"pattern": "/wp-login.php", "tag": "wordpress", "type": "equals"}
{"pattern": "phpmyadmin", "tag": "pma", "type": "contains"}
{"pattern": "admin", "tag": "admin", "type": "contains"}
{"pattern": "^/api/v[0-9]+/", "tag": "api", "type": "regex"}
"#;
        files.insert("m.json", "map", content).expect("loads");
        let m = files.map("m.json").expect("present");
        assert_eq!(m.lookup("/wp-login.php"), Some("wordpress"));
        assert_eq!(m.lookup("/x/admin/phpmyadmin"), Some("admin"));
        assert_eq!(m.lookup("/phpmyadmin/admin"), Some("pma"));
        assert_eq!(m.lookup("/api/v2/users"), Some("api"));
        assert_eq!(m.lookup("/nothing"), None);
        assert_eq!(m.rows().len(), 4);
        assert!(
            files
                .insert("bad.json", "map", r#"{"pattern": "x", "type": "equals"}"#)
                .is_err()
        );
        assert!(
            files
                .insert(
                    "bad2.json",
                    "map",
                    r#"{"pattern": "x", "tag": "t", "type": "fuzzy"}"#
                )
                .is_err()
        );
    }

    #[test]
    fn hub_data_files_load() {
        let dir = crate::shared_dir().join("hub/data");
        let files = DataFiles::new();
        let mut loaded = 0;
        for entry in std::fs::read_dir(&dir).expect("hub data dir exists") {
            let name = entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            // Types as the hub items declare them in their `data:` entries.
            let kind = if name.ends_with(".regex") || name.contains(".regex.") {
                "regexp"
            } else if name == "technology_probing.json" {
                "map"
            } else if name.ends_with(".txt") || name.ends_with(".json") {
                "string"
            } else {
                continue;
            };
            files
                .load(&dir, &name, kind)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            loaded += 1;
        }
        assert!(loaded >= 20, "only {loaded} data files found");
    }
}
