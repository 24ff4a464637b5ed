//! The YAML layer: parser node files exactly as upstream decodes them (strictly).
//!
//! [`NodeConfig`] mirrors one YAML document of a parser or postoverflow file;
//! [`crate::Loader`] compiles it into runtime nodes.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Diagnostic;

/// One parser node as written in YAML (a top-level document or an entry of `nodes`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Format version; must satisfy `>= 1.0, <= 3.0` (empty means `1.0`).
    pub format: String,
    /// Per-node debug logging.
    pub debug: bool,
    /// Per-node statistics (accepted, informational).
    pub profiling: bool,
    /// Node name (top-level names appear in metrics and dumps).
    pub name: String,
    /// Informational.
    pub author: String,
    /// Informational.
    pub description: String,
    /// Informational.
    pub references: Vec<String>,
    /// Ignored: the stage is the directory (or the stage file entry) the node comes from.
    pub stage: String,
    /// `next_stage`, `continue` or empty (same as `continue`).
    pub onsuccess: String,
    /// Expression deciding whether the node is entered.
    pub filter: String,
    /// Children, evaluated in order.
    pub nodes: Vec<NodeConfig>,
    /// Named grok patterns added to the pattern host, in file order.
    #[serde(deserialize_with = "ordered_map")]
    pub pattern_syntax: Vec<(String, String)>,
    /// The node's grok.
    pub grok: GrokConfig,
    /// Statics applied when the node succeeds.
    pub statics: Vec<StaticConfig>,
    /// Values stored in named caches.
    pub stash: Vec<StashConfig>,
    /// Whitelist entries.
    pub whitelist: WhitelistConfig,
    /// Data files the node's expressions use.
    pub data: Vec<DataConfig>,
}

/// `grok:` of a node.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrokConfig {
    /// `Line.Raw` or the key of a `Parsed` entry.
    pub apply_on: String,
    /// A named pattern of the host.
    pub name: String,
    /// An inline pattern (ignored when `name` is set).
    pub pattern: String,
    /// Expression whose result is the grok input.
    pub expression: String,
    /// Statics applied only when this grok matched.
    pub statics: Vec<StaticConfig>,
}

impl GrokConfig {
    /// Whether the node has a grok at all.
    pub fn is_set(&self) -> bool {
        !self.name.is_empty() || !self.pattern.is_empty() || !self.expression.is_empty()
    }
}

/// One static (`statics:` entry).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// Destination: `Meta[meta]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub meta: String,
    /// Destination: `Parsed[parsed]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parsed: String,
    /// Destination: `Enriched[enriched]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub enriched: String,
    /// Destination: an event field path such as `evt.StrTime`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// A constant value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// An expression computing the value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expression: String,
    /// An enrichment method called with the value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
}

/// One stash entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StashConfig {
    /// Cache name.
    pub name: String,
    /// Expression for the key.
    pub key: String,
    /// Expression for the value.
    pub value: String,
    /// Go duration.
    pub ttl: String,
    /// Maximum entries (0 means 100).
    pub size: usize,
    /// `LRU`, `LFU` or `ARC` (empty means `LRU`).
    pub strategy: String,
}

/// `whitelist:` of a node.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WhitelistConfig {
    /// Reason recorded on whitelisted events.
    pub reason: String,
    /// Exact IP addresses.
    pub ip: Vec<String>,
    /// CIDR ranges.
    pub cidr: Vec<String>,
    /// Boolean expressions.
    pub expression: Vec<String>,
}

impl WhitelistConfig {
    /// Whether any whitelist entry is configured.
    pub fn has_entries(&self) -> bool {
        !self.ip.is_empty() || !self.cidr.is_empty() || !self.expression.is_empty()
    }
}

/// One `data:` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Where `cscli` downloads the file from (never used by the engine).
    pub source_url: String,
    /// File name inside the data directory.
    pub dest_file: String,
    /// `string`, `regexp`/`regex`, `map`, `bots`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Enables the `RegexpInFile` result cache.
    pub cache: Option<bool>,
    /// Cache strategy.
    pub strategy: Option<String>,
    /// Cache size.
    pub size: Option<usize>,
    /// Cache TTL (Go duration).
    pub ttl: Option<String>,
}

/// One entry of a stage list file (`- filename: x.yaml` + `stage: s00-raw`), the form
/// upstream's parser tests and `LoadStages` take.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    /// Path of the node file.
    pub filename: String,
    /// Stage the file's nodes belong to.
    pub stage: String,
}

/// A YAML mapping kept in document order (`pattern_syntax`).
fn ordered_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of pattern names to grok patterns")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = m.next_entry::<String, String>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// One node document of a file, with the YAML tree kept to locate later errors
/// (expressions, grok patterns) in the file.
#[derive(Debug, Clone)]
pub struct NodeDocument {
    /// The decoded node.
    pub config: NodeConfig,
    /// The document's YAML tree.
    pub yaml: cs_config::yaml::Node,
}

/// Decodes every document of a parser file. Empty documents and documents without
/// `name`, `description` and `author` are skipped, as upstream does.
pub fn parse_node_file(name: &str, text: &str) -> Result<Vec<NodeDocument>, Vec<Diagnostic>> {
    let docs = cs_config::yaml::parse(name, text).map_err(|d| d.0)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        match doc.decode::<NodeConfig>("") {
            Ok(config) => {
                if config.name.is_empty()
                    && config.description.is_empty()
                    && config.author.is_empty()
                {
                    tracing::info!(file = name, "skipping parser document without name");
                    continue;
                }
                out.push(NodeDocument { config, yaml: doc });
            }
            Err(mut d) => errors.append(&mut d.0),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Decodes a stage list (`- filename: … stage: …`).
pub fn parse_stage_files(name: &str, text: &str) -> Result<Vec<StageFile>, Vec<Diagnostic>> {
    cs_config::yaml::from_str::<Vec<StageFile>>(name, text).map_err(|d| d.0)
}
