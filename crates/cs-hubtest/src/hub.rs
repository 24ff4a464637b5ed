//! The hub a test runs against: its index, grok patterns, data files and GeoIP databases,
//! and the resolution of the item names a test lists.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use cs_expr_helpers::geoip::GeoIp;
use cs_types::GoTime;

use crate::error::{Error, Result};
use crate::report::TestReport;

/// Environment variable read by [`HubOptions::from_env_now`]: the RFC 3339 time used as "now".
pub const NOW_ENV: &str = "CSCLI_HUBTEST_NOW";

/// Tests that upstream runs with their own data directory (CrowdSec's test GeoIP databases
/// instead of the shared ones).
const OWN_DATA_DIR: [&str; 3] = [
    "geoip-enrich",
    "magento-ccs-by-as",
    "magento-ccs-by-country",
];

/// How tests are run.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Directory of the data files items declare under `data:` (default `<hub>/data`).
    pub data_dir: Option<PathBuf>,
    /// Directory holding `shared/` and `crowdsec-test/` GeoIP databases
    /// (`GeoLite2-City.mmdb`, `GeoLite2-ASN.mmdb`); default `<hub>/mmdb-fixtures`. When a
    /// database is missing the GeoIP enrichers find nothing.
    pub geoip_dir: Option<PathBuf>,
    /// Grok pattern directory loaded on top of the base patterns (default `<hub>/patterns`).
    pub patterns_dir: Option<PathBuf>,
    /// Where temporary per-test files go (default: the system temporary directory).
    pub workdir: Option<PathBuf>,
    /// "Now" for the parsers and buckets (year-less dates, `now()`); default: the system
    /// clock at the start of each test.
    pub now: Option<GoTime>,
}

impl HubOptions {
    /// Parses an RFC 3339 time for [`HubOptions::now`].
    pub fn parse_now(text: &str) -> Result<GoTime> {
        chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| Error::Now(text.to_owned()))
    }

    /// Sets [`HubOptions::now`] from `$CSCLI_HUBTEST_NOW` when it is set.
    pub fn from_env_now(mut self) -> Result<Self> {
        if let Some(v) = std::env::var_os(NOW_ENV) {
            self.now = Some(Self::parse_now(&v.to_string_lossy())?);
        }
        Ok(self)
    }
}

/// One item file a test installs, with its stage (parsers and postoverflows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) path: PathBuf,
    pub(crate) stage: String,
}

/// A hub directory with its `.tests/`.
#[derive(Debug)]
pub struct Hub {
    root: PathBuf,
    index: serde_json::Value,
    pub(crate) patterns: cs_grok::Patterns,
    pub(crate) data_dir: PathBuf,
    geoip_dir: PathBuf,
    pub(crate) workdir: Option<PathBuf>,
    pub(crate) now: Option<GoTime>,
}

impl Hub {
    /// Opens the hub at `root` (which holds `.index.json` and `.tests/`).
    pub fn open(root: &Path, options: HubOptions) -> Result<Self> {
        let index_path = root.join(".index.json");
        let text = std::fs::read_to_string(&index_path).map_err(|source| Error::Io {
            path: index_path.clone(),
            source,
        })?;
        let index = serde_json::from_str(&text).map_err(|source| Error::Index {
            path: index_path,
            source,
        })?;
        let mut patterns = cs_grok::Patterns::base();
        let patterns_dir = options
            .patterns_dir
            .unwrap_or_else(|| root.join("patterns"));
        if patterns_dir.is_dir() {
            patterns.load_dir(&patterns_dir).map_err(Error::Patterns)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            index,
            patterns,
            data_dir: options.data_dir.unwrap_or_else(|| root.join("data")),
            geoip_dir: options
                .geoip_dir
                .unwrap_or_else(|| root.join("mmdb-fixtures")),
            workdir: options.workdir,
            now: options.now,
        })
    }

    /// The hub directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of test `name`.
    pub fn test_dir(&self, name: &str) -> PathBuf {
        self.root.join(".tests").join(name)
    }

    /// Names of every test (folders of `.tests/` with a `config.yaml`), sorted.
    pub fn test_names(&self) -> Result<Vec<String>> {
        let dir = self.root.join(".tests");
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join("config.yaml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Runs the named tests on `jobs` threads; reports come back in the order of `names`.
    pub fn run_tests(&self, names: &[String], jobs: usize) -> Vec<TestReport> {
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<TestReport>>> =
            names.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, names.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(name) = names.get(i) else { break };
                        let report = self.run_test(name);
                        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
                    }
                });
            }
        });
        slots
            .into_iter()
            .zip(names)
            .map(|(slot, name)| {
                slot.into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unwrap_or_else(|| TestReport::errored(name, "the test did not run"))
            })
            .collect()
    }

    /// The GeoIP databases of a test: CrowdSec's test databases for the tests upstream gives
    /// their own data directory, the shared ones otherwise. The fixtures are tiny, so each
    /// test opens its own.
    pub(crate) fn geoip(&self, test: &str) -> Result<GeoIp> {
        let own = OWN_DATA_DIR.contains(&test);
        let dir = self
            .geoip_dir
            .join(if own { "crowdsec-test" } else { "shared" });
        let existing = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let city = existing("GeoLite2-City.mmdb");
        let asn = existing("GeoLite2-ASN.mmdb");
        GeoIp::open(city.as_deref(), asn.as_deref()).map_err(Error::GeoIp)
    }

    /// Where an item lives: a hub name through `.index.json`, else a path against the hub
    /// root, then against the test folder.
    pub(crate) fn resolve(
        &self,
        kind: &'static str,
        item: &str,
        test_dir: &Path,
    ) -> Result<PathBuf> {
        if let Some(p) = self.index[kind][item]["path"].as_str() {
            let path = self.root.join(p);
            if path.is_file() {
                return Ok(path);
            }
        }
        // Go's `filepath.Join` keeps a leading `/` of the item under the base directory.
        let relative = item.trim_start_matches('/');
        [self.root.join(relative), test_dir.join(relative)]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::ItemNotFound {
                kind,
                item: item.to_owned(),
            })
    }

    /// A parser or postoverflow with its stage: the directory two levels above the file
    /// (`<kind>/<stage>/<author>/<file>.yaml`).
    pub(crate) fn resolve_staged(
        &self,
        kind: &'static str,
        item: &str,
        test_dir: &Path,
    ) -> Result<Item> {
        let path = self.resolve(kind, item, test_dir)?;
        let stage = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| Error::NoStage { path: path.clone() })?;
        Ok(Item { path, stage })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339() {
        let t = HubOptions::parse_now("2026-08-22T12:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-08-22T12:00:00+00:00");
        assert!(matches!(HubOptions::parse_now("2026"), Err(Error::Now(_))));
    }

    #[test]
    fn items_resolve_through_the_index_then_paths() {
        let hub_dir = tempfile::tempdir().unwrap();
        let root = hub_dir.path();
        let parser = root.join("parsers/s01-parse/me/x.yaml");
        std::fs::create_dir_all(parser.parent().unwrap()).unwrap();
        std::fs::write(&parser, "name: me/x\n").unwrap();
        let test = root.join(".tests/t");
        let local = test.join("parsers/s02-enrich/me/y.yaml");
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, "name: me/y\n").unwrap();
        std::fs::write(
            root.join(".index.json"),
            r#"{"parsers":{"me/x":{"path":"parsers/s01-parse/me/x.yaml"}}}"#,
        )
        .unwrap();
        let hub = Hub::open(root, HubOptions::default()).unwrap();
        let by_name = hub.resolve_staged("parsers", "me/x", &test).unwrap();
        assert_eq!(
            (by_name.path, by_name.stage.as_str()),
            (parser.clone(), "s01-parse")
        );
        let by_path = hub
            .resolve_staged("parsers", "./parsers/s02-enrich/me/y.yaml", &test)
            .unwrap();
        assert_eq!(by_path.stage, "s02-enrich");
        let rooted = hub
            .resolve_staged("parsers", "/parsers/s01-parse/me/x.yaml", &test)
            .unwrap();
        assert_eq!(rooted.path, parser);
        assert!(matches!(
            hub.resolve("scenarios", "me/z", &test),
            Err(Error::ItemNotFound {
                kind: "scenarios",
                ..
            })
        ));
    }
}
