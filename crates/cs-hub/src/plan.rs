//! Action plans (download, enable, disable, purge, data refresh) and their execution.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{Error, Result, io};
use crate::hub::{Hub, Item};
use crate::index::{Dependencies, ItemType, sha256_hex};
use crate::source::{HubSource, safe_join};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Write the latest file into hub_dir (and fetch its data files).
    Download,
    /// Link the downloaded file into config_dir.
    Enable,
    /// Remove the link.
    Disable,
    /// Delete the downloaded file.
    Purge,
    /// Fetch the data files again.
    DataRefresh,
}

impl Action {
    /// Upstream's name in `-o raw` plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Download => "download",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Purge => "purge",
            Action::DataRefresh => "check & update data files",
        }
    }

    /// Header of the human plan.
    pub fn header(self) -> &'static str {
        match self {
            Action::Download => "📥 download",
            Action::Enable => "✅ enable",
            Action::Disable => "❌ disable",
            Action::Purge => "🗑 purge (delete source)",
            Action::DataRefresh => "🔄 check & update data files",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Item type.
    pub item_type: ItemType,
    /// Item name.
    pub name: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}",
            self.action.as_str(),
            self.item_type,
            self.name
        )
    }
}

/// A de-duplicated list of steps, in execution order, plus warnings met while preparing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Steps.
    pub steps: Vec<Step>,
    /// Skipped items and why.
    pub warnings: Vec<String>,
    /// Data files are fetched even when present.
    pub force_data: bool,
}

impl Plan {
    fn add(&mut self, action: Action, item: &Item) {
        let step = Step {
            action,
            item_type: item.item_type,
            name: item.name.clone(),
        };
        if !self.steps.contains(&step) {
            self.steps.push(step);
        }
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Hub {
    fn subs<'a>(&'a self, deps: &'a Dependencies) -> impl Iterator<Item = &'a Item> + 'a {
        deps.iter().filter_map(|(t, n)| self.get(t, n))
    }

    /// Adds the download of `item` (and of its latest members) to `plan`.
    pub fn plan_download(&self, plan: &mut Plan, item: &Item, force: bool) {
        if item.state.local {
            return;
        }
        if item.state.tainted && !force {
            plan.warnings.push(format!(
                "{} is tainted, use '--force' to overwrite",
                item.fq_name()
            ));
            return;
        }
        for sub in self.subs(&item.meta.deps) {
            self.plan_download(plan, sub, force);
        }
        if item.state.installed {
            for sub in self.subs(&item.meta.deps) {
                self.plan_enable(plan, sub);
            }
            // Members the new version no longer lists are disabled.
            let latest: BTreeSet<(ItemType, &str)> = item.meta.deps.iter().collect();
            for (t, n) in item.current_deps.iter() {
                if !latest.contains(&(t, n))
                    && let Some(sub) = self.get(t, n)
                    && sub.state.installed
                    && !sub.state.local
                {
                    plan.add(Action::Disable, sub);
                }
            }
        }
        if item.state.downloaded && item.state.up_to_date && !(force && item.state.tainted) {
            return;
        }
        plan.add(Action::Download, item);
    }

    /// Enables `item` and its latest members: enabling always follows a download of the
    /// latest version, so the index lists are the ones that will be on disk.
    fn plan_enable(&self, plan: &mut Plan, item: &Item) {
        for sub in self.subs(&item.meta.deps) {
            self.plan_enable(plan, sub);
        }
        if !item.state.installed {
            plan.add(Action::Enable, item);
        }
    }

    /// Plan of `<type> install`.
    pub fn plan_install(
        &self,
        plan: &mut Plan,
        t: ItemType,
        name: &str,
        force: bool,
        download_only: bool,
    ) -> Result<()> {
        let item = self.find(t, name)?;
        self.plan_download(plan, item, force);
        if !download_only && (force || !item.state.tainted) {
            self.plan_enable(plan, item);
        }
        Ok(())
    }

    /// Plan of `<type> upgrade` for one item.
    pub fn plan_upgrade(
        &self,
        plan: &mut Plan,
        t: ItemType,
        name: &str,
        force: bool,
    ) -> Result<()> {
        let item = self.find(t, name)?;
        self.plan_download(plan, item, force);
        Ok(())
    }

    /// Plan of `<type> remove`. An item still listed by an installed collection is skipped with
    /// warnings unless `force`.
    pub fn plan_remove(
        &self,
        plan: &mut Plan,
        t: ItemType,
        name: &str,
        purge: bool,
        force: bool,
    ) -> Result<()> {
        let item = self.find(t, name)?;
        let parents: Vec<&str> = item
            .state
            .belongs_to_collections
            .iter()
            .filter(|c| {
                self.get(ItemType::Collections, c)
                    .is_some_and(|c| c.state.installed)
            })
            .map(String::as_str)
            .collect();
        if !parents.is_empty() && !force {
            plan.warnings.push(format!(
                "{} belongs to collections: [{}]",
                item.name,
                parents.join(" ")
            ));
            plan.warnings.push(format!(
                "Run 'sudo cscli {t} remove {} --force' if you want to force remove this {}",
                item.name,
                singular(t)
            ));
            return Ok(());
        }
        self.plan_disable(plan, item, force)?;
        if purge {
            self.plan_purge(plan, item, force)?;
        }
        Ok(())
    }

    fn plan_disable(&self, plan: &mut Plan, item: &Item, force: bool) -> Result<()> {
        if item.state.local {
            plan.warnings.push(format!(
                "{} is a local item, please delete manually",
                item.fq_name()
            ));
            return Ok(());
        }
        if item.state.tainted && !force {
            return Err(Error::Tainted(item.name.clone()));
        }
        if !item.state.installed {
            return Ok(());
        }
        for sub in self.safe_subs(item) {
            self.plan_disable(plan, sub, force)?;
        }
        plan.add(Action::Disable, item);
        Ok(())
    }

    fn plan_purge(&self, plan: &mut Plan, item: &Item, force: bool) -> Result<()> {
        if item.state.local {
            return Ok(());
        }
        if item.state.tainted && !force {
            return Err(Error::Tainted(item.name.clone()));
        }
        for sub in self.safe_subs(item) {
            self.plan_purge(plan, sub, force)?;
        }
        if item.state.downloaded {
            plan.add(Action::Purge, item);
        }
        Ok(())
    }

    /// Current members of a collection that no unrelated installed collection needs.
    fn safe_subs<'a>(&'a self, coll: &'a Item) -> Vec<&'a Item> {
        if coll.item_type != ItemType::Collections {
            return Vec::new();
        }
        let ancestors = self.ancestors(ItemType::Collections, &coll.name);
        let descendants = self.descendants(&coll.name);
        self.subs(&coll.current_deps)
            .filter(|sub| {
                !sub.state.belongs_to_collections.iter().any(|p| {
                    p != &coll.name
                        && !ancestors.contains(p)
                        && !descendants.contains(p)
                        && self
                            .get(ItemType::Collections, p)
                            .is_some_and(|c| c.state.installed)
                })
            })
            .collect()
    }

    /// Adds a data refresh of every installed item (for `hub upgrade`).
    pub fn plan_data_refresh(&self, plan: &mut Plan) {
        for t in ItemType::ALL {
            for item in self.installed(t) {
                plan.add(Action::DataRefresh, item);
            }
        }
    }

    /// Runs the steps in order, stopping at the first failure, then syncs again. `progress`
    /// receives upstream's progress lines (`downloading parsers:a/b`).
    pub fn execute(
        &mut self,
        plan: &Plan,
        source: &dyn HubSource,
        progress: &mut dyn FnMut(String),
    ) -> Result<()> {
        let result = plan
            .steps
            .iter()
            .try_for_each(|step| self.run_step(step, source, plan.force_data, progress));
        self.sync()?;
        result
    }

    fn run_step(
        &self,
        step: &Step,
        source: &dyn HubSource,
        force_data: bool,
        progress: &mut dyn FnMut(String),
    ) -> Result<()> {
        let item = self.find(step.item_type, &step.name)?;
        let fq = item.fq_name();
        match step.action {
            Action::Download => {
                progress(format!("downloading {fq}"));
                let bytes = self.fetch_latest(item, source)?;
                // Data first: an item whose data files cannot be fetched is not left
                // downloaded, so a later install cannot enable it without them.
                self.fetch_data(item, &bytes, source, force_data)?;
                let dest = self.download_path(item);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::write(&dest, &bytes).map_err(io(&dest))
            }
            Action::Enable => {
                progress(format!("enabling {fq}"));
                let target = self.download_path(item);
                if !target.is_file() {
                    return Err(Error::NotDownloaded(fq));
                }
                let link = self.install_path(item);
                if std::fs::symlink_metadata(&link).is_ok() {
                    return Ok(());
                }
                if let Some(parent) = link.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let target = std::path::absolute(&target).map_err(io(&target))?;
                symlink(&target, &link)
            }
            Action::Disable => {
                progress(format!("disabling {fq}"));
                let link = item
                    .state
                    .local_path
                    .clone()
                    .unwrap_or_else(|| self.install_path(item));
                let is_link =
                    std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
                let points_home = std::fs::canonicalize(&link).ok()
                    == std::fs::canonicalize(self.download_path(item)).ok();
                if !is_link || !points_home {
                    return Err(Error::NotManaged(link));
                }
                std::fs::remove_file(&link).map_err(io(&link))
            }
            Action::Purge => {
                progress(format!("purging {fq}"));
                let p = self.download_path(item);
                std::fs::remove_file(&p).map_err(io(&p))
            }
            Action::DataRefresh => {
                let p = item
                    .state
                    .local_path
                    .clone()
                    .unwrap_or_else(|| self.download_path(item));
                let bytes = std::fs::read(&p).map_err(io(&p))?;
                self.fetch_data(item, &bytes, source, force_data)
            }
        }
    }

    /// The latest file: embedded content (digest must match) or from the source.
    fn fetch_latest(&self, item: &Item, source: &dyn HubSource) -> Result<Vec<u8>> {
        let expected = item.meta.latest_digest().unwrap_or_default().to_owned();
        if let Some(bytes) = item.meta.decoded_content() {
            let got = sha256_hex(&bytes);
            if got != expected {
                return Err(Error::HashMismatch {
                    item: item.fq_name(),
                    expected,
                    got,
                });
            }
            return Ok(bytes);
        }
        let bytes = source.fetch_item(&item.meta.path)?;
        let got = sha256_hex(&bytes);
        if got != expected {
            return Err(Error::Item {
                item: item.fq_name(),
                message: format!(
                    "hash mismatch: expected {expected}, got {got}. The index file is outdated, please run 'cscli hub update' and try again"
                ),
            });
        }
        Ok(bytes)
    }

    /// Writes the `data:` files of every YAML document of `bytes` into data_dir.
    fn fetch_data(
        &self,
        item: &Item,
        bytes: &[u8],
        source: &dyn HubSource,
        force: bool,
    ) -> Result<()> {
        for entry in data_entries(item, bytes)? {
            let dest =
                safe_join(&self.paths.data_dir, &entry.dest_file).ok_or_else(|| Error::Item {
                    item: item.fq_name(),
                    message: format!("data file {} is outside the data dir", entry.dest_file),
                })?;
            if dest.is_file() && !force {
                continue;
            }
            let content = source
                .fetch_data(&entry.source_url, &entry.dest_file)
                .map_err(|e| Error::Item {
                    item: item.fq_name(),
                    message: format!("while downloading data for {}: {e}", entry.dest_file),
                })?;
            if std::fs::read(&dest).is_ok_and(|old| old == content) {
                continue;
            }
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&dest, content).map_err(io(&dest))?;
        }
        Ok(())
    }
}

/// One `data:` entry of an item file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct DataEntry {
    /// Where upstream downloads it from.
    #[serde(default)]
    pub source_url: String,
    /// File name inside data_dir.
    #[serde(default)]
    pub dest_file: String,
    /// `string`, `regexp`, ...
    #[serde(default, rename = "type")]
    pub data_type: String,
}

#[derive(serde::Deserialize)]
struct DataDoc {
    #[serde(default)]
    data: Option<Vec<DataEntry>>,
}

/// The `data:` entries of every document of an item file, with upstream's checks.
fn data_entries(item: &Item, bytes: &[u8]) -> Result<Vec<DataEntry>> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_slice(bytes) {
        let doc = DataDoc::deserialize(doc).map_err(|e| Error::Item {
            item: item.fq_name(),
            message: format!("while reading data: {e}"),
        })?;
        for entry in doc.data.unwrap_or_default() {
            if entry.source_url.is_empty() {
                continue;
            }
            if !entry.source_url.contains("://") {
                return Err(Error::Item {
                    item: item.fq_name(),
                    message: format!(
                        "a valid URL was expected (note: local items can download data too): {}",
                        entry.source_url
                    ),
                });
            }
            out.push(entry);
        }
    }
    Ok(out)
}

/// `parsers` → `parser`, as in upstream's messages.
pub fn singular(t: ItemType) -> &'static str {
    match t {
        ItemType::Parsers => "parser",
        ItemType::Postoverflows => "postoverflow",
        ItemType::Scenarios => "scenario",
        ItemType::Contexts => "context",
        ItemType::AppsecConfigs => "appsec-config",
        ItemType::AppsecRules => "appsec-rule",
        ItemType::Collections => "collection",
    }
}

#[cfg(unix)]
fn symlink(target: &std::path::Path, link: &std::path::Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(io(link))
}

#[cfg(not(unix))]
fn symlink(target: &std::path::Path, link: &std::path::Path) -> Result<()> {
    std::fs::copy(target, link).map(|_| ()).map_err(io(link))
}
