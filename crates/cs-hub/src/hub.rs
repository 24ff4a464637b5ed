//! The hub as seen from one configuration: index items plus local items, with their
//! installed/downloaded/tainted state computed by scanning `hub_dir` and `config_dir`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::{Dependencies, FileMeta, Index, IndexItem, ItemType, sha256_hex, yaml_files};

/// Directories of one installation (`config_paths` of config.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubPaths {
    /// Download area (`hub_dir`).
    pub hub_dir: PathBuf,
    /// Install area (`config_dir`): symlinks and local items.
    pub config_dir: PathBuf,
    /// Data files (`data_dir`).
    pub data_dir: PathBuf,
    /// Local copy of the index (`index_path`).
    pub index_path: PathBuf,
}

impl HubPaths {
    /// Paths with upstream's defaults: `hub_dir = <config_dir>/hub`,
    /// `index_path = <hub_dir>/.index.json`.
    pub fn new(config_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> HubPaths {
        let config_dir = config_dir.into();
        let hub_dir = config_dir.join("hub");
        HubPaths {
            index_path: hub_dir.join(".index.json"),
            hub_dir,
            config_dir,
            data_dir: data_dir.into(),
        }
    }
}

/// State of one item, as upstream reports it (`inspect -o json` field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ItemState {
    /// The installed file or link in config_dir.
    pub local_path: Option<PathBuf>,
    /// Version matching the file's digest, `?` when none does.
    pub local_version: String,
    /// sha256 of the file.
    pub local_hash: String,
    /// Enabled in config_dir.
    pub installed: bool,
    /// Present in hub_dir.
    pub downloaded: bool,
    /// The file is the latest version (and, for collections, so are its members).
    pub up_to_date: bool,
    /// Modified locally (or, for a collection, one of its members is).
    pub tainted: bool,
    /// A file of the config dir that is not managed by the hub.
    pub local: bool,
    /// Fully qualified names of the items that taint this one.
    #[serde(skip)]
    pub tainted_by: Vec<String>,
    /// Collections listing this item in their current dependencies.
    pub belongs_to_collections: Vec<String>,
}

/// An item known to the hub: index metadata (or what a local file declares) plus state.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Type.
    pub item_type: ItemType,
    /// `author/name`, or a local item's name.
    pub name: String,
    /// Index metadata; for local items `path`/`stage`/`description` only.
    pub meta: IndexItem,
    /// Computed state.
    pub state: ItemState,
    /// Dependencies of the installed file (the index's when up to date).
    pub current_deps: Dependencies,
}

impl Item {
    /// `type:name`.
    pub fn fq_name(&self) -> String {
        format!("{}:{}", self.item_type, self.name)
    }

    /// Upstream's `Text()`: `enabled|disabled[,local][,tainted|,update-available]`.
    pub fn text(&self) -> String {
        let s = &self.state;
        let mut t = String::from(if s.installed { "enabled" } else { "disabled" });
        if s.local {
            t.push_str(",local");
        }
        if s.tainted {
            t.push_str(",tainted");
        } else if !s.up_to_date && !s.local {
            t.push_str(",update-available");
        }
        t
    }

    /// Upstream's `Status()`: the first of `not-installed`, `tainted`, `local`, `outdated`,
    /// `up-to-date`.
    pub fn status(&self) -> &'static str {
        let s = &self.state;
        if !s.installed {
            "not-installed"
        } else if s.tainted {
            "tainted"
        } else if s.local {
            "local"
        } else if !s.up_to_date {
            "outdated"
        } else {
            "up-to-date"
        }
    }

    /// Status emoji.
    pub fn emoji(&self) -> &'static str {
        match self.status() {
            "local" => "🏠",
            "not-installed" => "🚫",
            "tainted" | "outdated" => "⚠️",
            _ => "✔️",
        }
    }
}

/// Index and local items with their state.
#[derive(Debug, Clone)]
pub struct Hub {
    /// Directories.
    pub paths: HubPaths,
    /// The index the hub was built from.
    pub index: Index,
    items: BTreeMap<ItemType, BTreeMap<String, Item>>,
    /// Warnings of the last sync (ignored files, outdated or tainted collections).
    pub warnings: Vec<String>,
}

impl Hub {
    /// Reads the index at `paths.index_path` and syncs.
    pub fn load(paths: HubPaths) -> Result<Hub> {
        let index = Index::load(&paths.index_path)?;
        Hub::new(paths, index)
    }

    /// Syncs `index` with the directories.
    pub fn new(paths: HubPaths, index: Index) -> Result<Hub> {
        let mut hub = Hub {
            paths,
            index,
            items: BTreeMap::new(),
            warnings: Vec::new(),
        };
        hub.sync()?;
        Ok(hub)
    }

    /// Looks an item up.
    pub fn get(&self, t: ItemType, name: &str) -> Option<&Item> {
        self.items.get(&t)?.get(name)
    }

    /// Looks an item up, with upstream's error (and closest-name hint) on a miss.
    pub fn find(&self, t: ItemType, name: &str) -> Result<&Item> {
        self.get(t, name).ok_or_else(|| {
            let hint = self
                .items_of(t)
                .map(|i| (levenshtein(&i.name, name), &i.name))
                .filter(|(d, _)| *d < 7)
                .min()
                .map(|(_, n)| format!(", did you mean '{n}'?"))
                .unwrap_or_default();
            Error::NotFound {
                item_type: t.to_string(),
                name: name.to_owned(),
                hint,
            }
        })
    }

    /// Items of a type, sorted by name.
    pub fn items_of(&self, t: ItemType) -> impl Iterator<Item = &Item> {
        self.items.get(&t).into_iter().flat_map(|m| m.values())
    }

    /// Installed items of a type, sorted by name.
    pub fn installed(&self, t: ItemType) -> impl Iterator<Item = &Item> {
        self.items_of(t).filter(|i| i.state.installed)
    }

    /// Where an index item is downloaded.
    pub fn download_path(&self, item: &Item) -> PathBuf {
        self.paths.hub_dir.join(&item.meta.path)
    }

    /// Where an index item's link goes: `config_dir/<type>/[<stage>/]<file name>`.
    pub fn install_path(&self, item: &Item) -> PathBuf {
        let mut p = self.paths.config_dir.join(item.item_type.as_str());
        if item.item_type.has_stage() {
            p.push(&item.meta.stage);
        }
        p.join(item.meta.file_name())
    }

    /// Recomputes every item's state from the directories.
    pub fn sync(&mut self) -> Result<()> {
        self.warnings.clear();
        self.items.clear();
        let hub_canon = canonical(&self.paths.hub_dir);
        for t in ItemType::ALL {
            let mut map: BTreeMap<String, Item> = BTreeMap::new();
            for (name, meta) in self.index.of_type(t) {
                let downloaded = self.paths.hub_dir.join(&meta.path).is_file();
                map.insert(
                    name.clone(),
                    Item {
                        item_type: t,
                        name: name.clone(),
                        meta: meta.clone(),
                        state: ItemState {
                            downloaded,
                            ..ItemState::default()
                        },
                        current_deps: meta.deps.clone(),
                    },
                );
            }
            let type_dir = self.paths.config_dir.join(t.as_str());
            for file in yaml_files(&type_dir)? {
                self.scan_installed(t, &type_dir, &file, &hub_canon, &mut map);
            }
            for item in map.values_mut().filter(|i| !i.state.local) {
                detect_version(item, &self.paths.hub_dir);
            }
            self.items.insert(t, map);
        }
        self.sync_collections();
        Ok(())
    }

    fn scan_installed(
        &mut self,
        t: ItemType,
        type_dir: &Path,
        file: &Path,
        hub_canon: &Path,
        map: &mut BTreeMap<String, Item>,
    ) {
        let rel = file.strip_prefix(type_dir).unwrap_or(file);
        let mut comps = rel.components();
        let stage = if t.has_stage() {
            match (comps.next(), comps.clone().next()) {
                (Some(s), Some(_)) => s.as_os_str().to_string_lossy().into_owned(),
                _ => {
                    self.warnings
                        .push(format!("Ignoring file {}: path too short", file.display()));
                    return;
                }
            }
        } else {
            String::new()
        };
        let is_link = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
        let target = match std::fs::canonicalize(file) {
            Ok(p) => p,
            Err(e) => {
                self.warnings
                    .push(format!("Ignoring file {}: {e}", file.display()));
                return;
            }
        };
        if is_link && target.starts_with(hub_canon) {
            let found = map.values_mut().find(|i| {
                (!t.has_stage() || i.meta.stage == stage)
                    && !i.meta.path.is_empty()
                    && target.ends_with(&i.meta.path)
            });
            match found {
                Some(item) => {
                    item.state.installed = true;
                    item.state.local_path = Some(file.to_path_buf());
                }
                None => self.warnings.push(format!(
                    "Ignoring file {}: no matching index item",
                    file.display()
                )),
            }
            return;
        }
        // A regular file, or a link pointing outside hub_dir: a local item.
        let bytes = match std::fs::read(&target) {
            Ok(b) => b,
            Err(e) => {
                self.warnings
                    .push(format!("Ignoring file {}: {e}", file.display()));
                return;
            }
        };
        let meta_file = FileMeta::parse(&bytes).unwrap_or_default();
        let name_in_stage: String = comps.as_path().to_string_lossy().into_owned();
        let name = if meta_file.name.is_empty() {
            name_in_stage.clone()
        } else {
            meta_file.name.clone()
        };
        if let Some(prev) = map.get(&name)
            && prev.state.installed
        {
            self.warnings.push(format!(
                "multiple {t} named {name}: ignoring {}",
                prev.state.local_path.as_deref().unwrap_or(file).display()
            ));
        }
        map.insert(
            name.clone(),
            Item {
                item_type: t,
                name,
                meta: IndexItem {
                    path: name_in_stage,
                    stage,
                    description: meta_file.description.clone(),
                    references: meta_file.references.clone(),
                    ..IndexItem::default()
                },
                state: ItemState {
                    local_path: Some(file.to_path_buf()),
                    local_hash: sha256_hex(&bytes),
                    installed: true,
                    up_to_date: true,
                    local: true,
                    ..ItemState::default()
                },
                current_deps: meta_file.deps,
            },
        );
    }

    /// Membership, and taint/outdatedness propagated from members to installed collections.
    fn sync_collections(&mut self) {
        let colls: Vec<(String, Dependencies)> = self
            .items_of(ItemType::Collections)
            .map(|c| (c.name.clone(), c.current_deps.clone()))
            .collect();
        for (cname, deps) in &colls {
            for (t, n) in deps.iter() {
                match self.items.get_mut(&t).and_then(|m| m.get_mut(n)) {
                    Some(sub) => sub.state.belongs_to_collections.push(cname.clone()),
                    None => tracing::warn!("can't find {t}:{n}, required by {cname}"),
                }
            }
        }
        let mut done = BTreeSet::new();
        for (cname, _) in &colls {
            self.check_collection(cname, &mut done, &mut Vec::new());
        }
        let mut warnings = Vec::new();
        for c in self.installed(ItemType::Collections) {
            let latest = &c.meta.version;
            if c.state.local_version == "?" {
                warnings.push(format!(
                    "collection {} is tainted by local changes (latest:{latest})",
                    c.name
                ));
            } else if c.state.local_version != *latest && !c.state.local {
                // Only the collection's own file is compared: members report their own state.
                warnings.push(format!(
                    "update for collection {} available (currently:{}, latest:{latest})",
                    c.name, c.state.local_version
                ));
            }
        }
        self.warnings.extend(warnings);
    }

    fn check_collection(
        &mut self,
        name: &str,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) {
        if done.contains(name) || stack.iter().any(|s| s == name) {
            return;
        }
        let Some(coll) = self.get(ItemType::Collections, name) else {
            return;
        };
        let deps = coll.current_deps.clone();
        let check_members = coll.state.installed && coll.state.up_to_date;
        stack.push(name.to_owned());
        for n in &deps.collections {
            self.check_collection(n, done, stack);
        }
        stack.pop();
        done.insert(name.to_owned());
        if !check_members {
            return;
        }
        let mut tainted_by = Vec::new();
        let mut up_to_date = true;
        for (t, n) in deps.iter() {
            let Some(sub) = self.get(t, n) else { continue };
            if sub.state.tainted {
                if sub.state.tainted_by.is_empty() || t != ItemType::Collections {
                    tainted_by.push(sub.fq_name());
                } else {
                    tainted_by.extend(sub.state.tainted_by.iter().cloned());
                }
            } else if !sub.state.installed {
                tainted_by.push(sub.fq_name());
            }
            if !sub.state.up_to_date {
                up_to_date = false;
            }
        }
        if let Some(c) = self
            .items
            .get_mut(&ItemType::Collections)
            .and_then(|m| m.get_mut(name))
        {
            if !tainted_by.is_empty() {
                c.state.tainted = true;
                c.state.tainted_by = tainted_by;
            }
            c.state.up_to_date &= up_to_date;
        }
    }

    /// Collections reachable from `name` through current collection dependencies (excluding
    /// itself).
    pub fn descendants(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            if let Some(c) = self.get(ItemType::Collections, &n) {
                for sub in &c.current_deps.collections {
                    if out.insert(sub.clone()) {
                        todo.push(sub.clone());
                    }
                }
            }
        }
        out.remove(name);
        out
    }

    /// Collections from which `name` is reachable (excluding itself).
    pub fn ancestors(&self, t: ItemType, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<String> = self
            .get(t, name)
            .map(|i| i.state.belongs_to_collections.clone())
            .unwrap_or_default();
        while let Some(n) = todo.pop() {
            if out.insert(n.clone())
                && let Some(c) = self.get(ItemType::Collections, &n)
            {
                todo.extend(c.state.belongs_to_collections.iter().cloned());
            }
        }
        if t == ItemType::Collections {
            out.remove(name);
        }
        out
    }
}

/// Hash of the item's file and the version it matches.
fn detect_version(item: &mut Item, hub_dir: &Path) {
    let file = if item.state.downloaded {
        hub_dir.join(&item.meta.path)
    } else if let Some(p) = &item.state.local_path {
        p.clone()
    } else {
        return;
    };
    let Ok(bytes) = std::fs::read(&file) else {
        return;
    };
    item.state.local_hash = sha256_hex(&bytes);
    match item.meta.version_of(&item.state.local_hash) {
        Some(v) => {
            item.state.local_version = v.to_owned();
            item.state.up_to_date = v == item.meta.version;
        }
        None => {
            item.state.local_version = "?".into();
            item.state.tainted = item.state.installed;
        }
    }
    if !item.state.up_to_date && item.item_type == ItemType::Collections {
        // An outdated or modified collection lists what its file says, not the index.
        if let Some(meta) = FileMeta::parse(&bytes) {
            item.current_deps = meta.deps;
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Edit distance, for "did you mean" hints.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_distance() {
        assert_eq!(levenshtein("crowdsecurity/sshd", "crowdsecurity/ssh"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
