//! The hub index (`.index.json`): item types, per-item metadata, validation, and building an
//! index from a hub directory tree.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result, io};

/// The seven item types, in upstream's processing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    /// `parsers` (staged).
    Parsers,
    /// `postoverflows` (staged).
    Postoverflows,
    /// `scenarios`.
    Scenarios,
    /// `contexts`.
    Contexts,
    /// `appsec-configs`.
    AppsecConfigs,
    /// `appsec-rules`.
    AppsecRules,
    /// `collections`.
    Collections,
}

impl ItemType {
    /// Every type, in upstream's order.
    pub const ALL: [ItemType; 7] = [
        ItemType::Parsers,
        ItemType::Postoverflows,
        ItemType::Scenarios,
        ItemType::Contexts,
        ItemType::AppsecConfigs,
        ItemType::AppsecRules,
        ItemType::Collections,
    ];

    /// The index key and directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Parsers => "parsers",
            ItemType::Postoverflows => "postoverflows",
            ItemType::Scenarios => "scenarios",
            ItemType::Contexts => "contexts",
            ItemType::AppsecConfigs => "appsec-configs",
            ItemType::AppsecRules => "appsec-rules",
            ItemType::Collections => "collections",
        }
    }

    /// Parses an index key.
    pub fn parse(s: &str) -> Option<ItemType> {
        ItemType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether items of this type live under a stage directory.
    pub fn has_stage(self) -> bool {
        matches!(self, ItemType::Parsers | ItemType::Postoverflows)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `versions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VersionInfo {
    /// sha256 (hex) of the exact file bytes of that version.
    #[serde(default)]
    pub digest: String,
    /// Parsed for compatibility; unused upstream.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
}

/// Dependency lists of a collection, one per type (same keys as the index and the item file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Dependencies {
    /// Parsers.
    #[serde(default, deserialize_with = "nullable")]
    pub parsers: Vec<String>,
    /// Postoverflows.
    #[serde(default, deserialize_with = "nullable")]
    pub postoverflows: Vec<String>,
    /// Scenarios.
    #[serde(default, deserialize_with = "nullable")]
    pub scenarios: Vec<String>,
    /// Contexts.
    #[serde(default, deserialize_with = "nullable")]
    pub contexts: Vec<String>,
    /// AppSec configs.
    #[serde(default, rename = "appsec-configs", deserialize_with = "nullable")]
    pub appsec_configs: Vec<String>,
    /// AppSec rules.
    #[serde(default, rename = "appsec-rules", deserialize_with = "nullable")]
    pub appsec_rules: Vec<String>,
    /// Collections.
    #[serde(default, deserialize_with = "nullable")]
    pub collections: Vec<String>,
}

impl Dependencies {
    /// The list for one type.
    pub fn of(&self, t: ItemType) -> &[String] {
        match t {
            ItemType::Parsers => &self.parsers,
            ItemType::Postoverflows => &self.postoverflows,
            ItemType::Scenarios => &self.scenarios,
            ItemType::Contexts => &self.contexts,
            ItemType::AppsecConfigs => &self.appsec_configs,
            ItemType::AppsecRules => &self.appsec_rules,
            ItemType::Collections => &self.collections,
        }
    }

    /// Every `(type, name)` pair, in type order.
    pub fn iter(&self) -> impl Iterator<Item = (ItemType, &str)> {
        ItemType::ALL
            .into_iter()
            .flat_map(move |t| self.of(t).iter().map(move |n| (t, n.as_str())))
    }

    /// Whether no dependency is listed.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Metadata of one index item.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct IndexItem {
    /// File path relative to the hub root, `<type>/[<stage>/]<author>/<name>.yaml`.
    #[serde(default)]
    pub path: String,
    /// Stage of parsers and postoverflows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// The latest version.
    #[serde(default)]
    pub version: String,
    /// Every known version.
    #[serde(default, deserialize_with = "nullable")]
    pub versions: BTreeMap<String, VersionInfo>,
    /// Base64 of the file (raw text accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// References.
    #[serde(default, deserialize_with = "nullable")]
    pub references: Vec<String>,
    /// Dependencies of the latest version (collections only).
    #[serde(flatten)]
    pub deps: Dependencies,
}

impl IndexItem {
    /// Digest of the latest version, if the index has it.
    pub fn latest_digest(&self) -> Option<&str> {
        self.versions.get(&self.version).map(|v| v.digest.as_str())
    }

    /// The embedded file content, decoded (raw text when it is not valid base64).
    pub fn decoded_content(&self) -> Option<Vec<u8>> {
        let c = self.content.as_ref()?;
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(c.as_bytes())
                .unwrap_or_else(|_| c.as_bytes().to_vec()),
        )
    }

    /// The version whose digest is `hash`, newest first.
    pub fn version_of(&self, hash: &str) -> Option<&str> {
        let mut v: Vec<(&String, &VersionInfo)> = self.versions.iter().collect();
        v.sort_by(|a, b| compare_versions(b.0, a.0));
        v.into_iter()
            .find(|(_, info)| info.digest == hash)
            .map(|(k, _)| k.as_str())
    }

    /// File name of `path` (the name of the link in the config dir).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Parsed hub index: items by type, then by `author/name`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Index {
    /// Items by type and name.
    pub items: BTreeMap<ItemType, BTreeMap<String, IndexItem>>,
}

impl Index {
    /// Reads and validates an index file.
    pub fn load(path: &Path) -> Result<Index> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        Index::from_slice(&bytes, path)
    }

    /// Parses and validates index JSON; `origin` names it in errors.
    pub fn from_slice(bytes: &[u8], origin: &Path) -> Result<Index> {
        let raw: BTreeMap<String, BTreeMap<String, Option<IndexItem>>> =
            serde_json::from_slice(bytes).map_err(|source| Error::IndexJson {
                path: origin.to_path_buf(),
                source,
            })?;
        let mut items = BTreeMap::new();
        for (key, entries) in raw {
            // Unknown top-level keys are ignored, as upstream does.
            let Some(t) = ItemType::parse(&key) else {
                continue;
            };
            let mut map = BTreeMap::new();
            for (name, item) in entries {
                let item = item.ok_or_else(|| {
                    Error::InvalidIndex(format!("{t}:{name} has no index metadata"))
                })?;
                validate_item(t, &name, &item)?;
                map.insert(name, item);
            }
            items.insert(t, map);
        }
        let index = Index { items };
        index.check_cycles()?;
        Ok(index)
    }

    /// Serializes the index as JSON (the shape upstream reads).
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, &BTreeMap<String, IndexItem>> =
            self.items.iter().map(|(t, m)| (t.as_str(), m)).collect();
        serde_json::to_string_pretty(&map).unwrap_or_else(|_| "{}".into())
    }

    /// Looks an item up.
    pub fn get(&self, t: ItemType, name: &str) -> Option<&IndexItem> {
        self.items.get(&t)?.get(name)
    }

    /// Items of one type.
    pub fn of_type(&self, t: ItemType) -> impl Iterator<Item = (&String, &IndexItem)> {
        self.items.get(&t).into_iter().flatten()
    }

    fn check_cycles(&self) -> Result<()> {
        fn visit<'a>(
            idx: &'a Index,
            name: &'a str,
            stack: &mut Vec<&'a str>,
            done: &mut std::collections::HashSet<&'a str>,
        ) -> Result<()> {
            if done.contains(name) {
                return Ok(());
            }
            if stack.contains(&name) {
                return Err(Error::Cycle(format!("collections:{name}")));
            }
            stack.push(name);
            if let Some(item) = idx.get(ItemType::Collections, name) {
                for sub in &item.deps.collections {
                    visit(idx, sub, stack, done)?;
                }
            }
            stack.pop();
            done.insert(name);
            Ok(())
        }
        let mut done = std::collections::HashSet::new();
        for (name, _) in self.of_type(ItemType::Collections) {
            visit(self, name, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }

    /// Builds an index from a hub directory tree laid out like the hub repository
    /// (`<type>/[<stage>/]<author>/<name>.yaml`).
    ///
    /// Each file becomes version `0.1` with its sha256 as digest and its content embedded, so
    /// that installing from the result needs nothing else; names are `<author>/<file stem>` as
    /// the hub's own index builder makes them. Directories starting with `.` are skipped.
    pub fn build_from_dir(root: &Path) -> Result<Index> {
        let mut items = BTreeMap::new();
        for t in ItemType::ALL {
            let dir = root.join(t.as_str());
            if !dir.is_dir() {
                continue;
            }
            let mut map = BTreeMap::new();
            for file in yaml_files(&dir)? {
                let rel: Vec<String> = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                // <type>/[<stage>/]<author>/<file>
                let expected = if t.has_stage() { 4 } else { 3 };
                if rel.len() != expected {
                    continue;
                }
                let stem = rel[expected - 1]
                    .trim_end_matches(".yaml")
                    .trim_end_matches(".yml");
                let name = format!("{}/{stem}", rel[expected - 2]);
                let bytes = std::fs::read(&file).map_err(io(&file))?;
                let meta: FileMeta = serde_yaml::Deserializer::from_slice(&bytes)
                    .next()
                    .and_then(|d| FileMeta::deserialize(d).ok())
                    .unwrap_or_default();
                let digest = sha256_hex(&bytes);
                let mut versions = BTreeMap::new();
                versions.insert(
                    "0.1".to_owned(),
                    VersionInfo {
                        digest,
                        deprecated: false,
                    },
                );
                let item = IndexItem {
                    path: rel.join("/"),
                    stage: if t.has_stage() {
                        rel[1].clone()
                    } else {
                        String::new()
                    },
                    version: "0.1".into(),
                    versions,
                    content: Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                    description: meta.description,
                    references: meta.references,
                    deps: if t == ItemType::Collections {
                        meta.deps
                    } else {
                        Dependencies::default()
                    },
                };
                map.insert(name, item);
            }
            items.insert(t, map);
        }
        let index = Index { items };
        index.check_cycles()?;
        Ok(index)
    }
}

/// The fields of an item file the hub cares about.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FileMeta {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub references: Vec<String>,
    #[serde(flatten)]
    pub deps: Dependencies,
}

impl FileMeta {
    /// Reads the first YAML document of an item file; `None` if it is not a YAML mapping.
    pub(crate) fn parse(bytes: &[u8]) -> Option<FileMeta> {
        let doc = serde_yaml::Deserializer::from_slice(bytes).next()?;
        FileMeta::deserialize(doc).ok()
    }
}

fn validate_item(t: ItemType, name: &str, item: &IndexItem) -> Result<()> {
    if item.path.is_empty() {
        return Err(Error::InvalidIndex(format!(
            "{t}:{name} has no download path"
        )));
    }
    if t.has_stage() && item.stage.is_empty() {
        return Err(Error::InvalidIndex(format!("{t}:{name} has no stage")));
    }
    for v in item.versions.keys() {
        if parse_version(v).is_none() {
            return Err(Error::InvalidIndex(format!(
                "{t}:{name}: invalid version {v:?}"
            )));
        }
    }
    if item.latest_digest().is_none() {
        tracing::warn!(item = %format!("{t}:{name}"), "latest version has no digest");
    }
    Ok(())
}

/// `MAJOR[.MINOR[.PATCH]]` with an optional `v` prefix, as upstream's semver parser accepts.
fn parse_version(v: &str) -> Option<[u64; 3]> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut out = [0u64; 3];
    for (n, part) in v.split('.').enumerate() {
        *out.get_mut(n)? = part.parse().ok()?;
    }
    Some(out)
}

/// Orders versions numerically (`0.10` > `0.9`); unparsable ones sort first.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    parse_version(a).cmp(&parse_version(b))
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every `*.yaml`/`*.yml` file under `dir`, recursively, skipping directories starting with
/// `.`, sorted. Symlinks are followed.
pub(crate) fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&d)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&d))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') {
                    todo.push(path);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Accepts `null` where a default value is expected.
fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expected: std::cmp::Ordering) {
        assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
    }

    #[test]
    fn versions_compare_numerically() {
        check("0.10", "0.9", std::cmp::Ordering::Greater);
        check("1.0", "0.9", std::cmp::Ordering::Greater);
        check("0.1", "0.1", std::cmp::Ordering::Equal);
    }

    #[test]
    fn invalid_version_is_rejected() {
        let json = br#"{"scenarios":{"a/b":{"path":"scenarios/a/b.yaml","version":"1.2.3.4","versions":{"1.2.3.4":{"digest":"x"}}}}}"#;
        assert!(matches!(
            Index::from_slice(json, Path::new("i")),
            Err(Error::InvalidIndex(_))
        ));
    }

    #[test]
    fn null_item_and_missing_stage_are_errors() {
        let null = br#"{"scenarios":{"a/b":null}}"#;
        let err = Index::from_slice(null, Path::new("i")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid hub index: scenarios:a/b has no index metadata"
        );
        let nostage = br#"{"parsers":{"a/b":{"path":"parsers/s01-parse/a/b.yaml"}}}"#;
        let err = Index::from_slice(nostage, Path::new("i")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid hub index: parsers:a/b has no stage"
        );
    }

    #[test]
    fn collection_cycle_is_detected() {
        let json = br#"{"collections":{
            "a/x":{"path":"collections/a/x.yaml","collections":["a/y"]},
            "a/y":{"path":"collections/a/y.yaml","collections":["a/x"]}}}"#;
        assert!(matches!(
            Index::from_slice(json, Path::new("i")),
            Err(Error::Cycle(_))
        ));
    }
}
