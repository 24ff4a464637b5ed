//! Upstream's parser cases: a folder with `parsers.yaml` (the node files and their
//! stages, `{{.TestDirectory}}` standing for the folder) and `test.yaml` (documents of
//! `lines:` to parse and `results:` expected, compared as upstream's runner does).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;

use crate::dns::{PtrServer, UdpResolver};
use crate::event;

/// The folders of `root` holding a parser case, sorted by name.
pub fn cases(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("parsers.yaml").is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// Shared material of a run: grok patterns as upstream's tests load them (the grok
/// library's base patterns plus the `patterns/` directory) and the DNS server.
pub struct Environment {
    patterns: cs_grok::Patterns,
    /// Directory of the GeoLite2 test databases and of the cases' data files.
    data_dir: PathBuf,
    dns: PtrServer,
}

impl Environment {
    /// Loads the base patterns from `patterns_base` (a pattern file) and every pattern file
    /// of `patterns_dir`; data files and GeoIP databases come from `data_dir`.
    pub fn new(patterns_base: &Path, patterns_dir: &Path, data_dir: &Path) -> Result<Self, String> {
        let mut patterns = cs_grok::Patterns::new();
        patterns
            .load_file(patterns_base)
            .map_err(|e| format!("{}: {e}", patterns_base.display()))?;
        patterns
            .load_dir(patterns_dir)
            .map_err(|e| format!("{}: {e}", patterns_dir.display()))?;
        let dns = PtrServer::start(&[(IpAddr::from([1, 1, 1, 1]), "one.one.one.one")])
            .map_err(|e| format!("cannot start the DNS server: {e}"))?;
        Ok(Self {
            patterns,
            data_dir: data_dir.to_path_buf(),
            dns,
        })
    }

    fn load(&self, dir: &Path) -> Result<Parsers, String> {
        let list = dir.join("parsers.yaml");
        let text =
            std::fs::read_to_string(&list).map_err(|e| format!("{}: {e}", list.display()))?;
        let text = text.replace("{{.TestDirectory}}", &dir.to_string_lossy());
        let files = cs_parser::config::parse_stage_files(&list.to_string_lossy(), &text)
            .map_err(|d| cs_parser::Diagnostics(d).to_string())?;
        let mut loader = LoaderBuilder::new(&self.data_dir)
            .patterns(self.patterns.clone())
            .resolver(Arc::new(UdpResolver::new(self.dns.addr())))
            .build();
        loader.load_files(&files).map_err(|e| format!("{e}"))
    }
}

/// Runs one case; the error lists what did not match.
pub fn run_case(env: &Environment, dir: &Path) -> Result<(), String> {
    let parsers = env.load(dir)?;
    let test = dir.join("test.yaml");
    let text = std::fs::read_to_string(&test).map_err(|e| format!("{}: {e}", test.display()))?;
    let docs = cs_config::yaml::parse(&test.to_string_lossy(), &text).map_err(|d| d.to_string())?;
    for (i, doc) in docs.iter().enumerate().filter(|(_, d)| !d.is_null()) {
        if let cs_config::yaml::NodeKind::Map(entries) = &doc.kind
            && let Some((k, _)) = entries
                .iter()
                .find(|(k, _)| !matches!(k.as_str(), Some("lines" | "results")))
        {
            return Err(format!(
                "document {i}: unknown field `{}`",
                k.as_str().unwrap_or("?")
            ));
        }
        let lines = event::decode_list(doc.get("lines"), "lines")?;
        let expected = event::decode_list(doc.get("results"), "results")?;
        if lines.is_empty() && expected.is_empty() {
            return Err(format!("document {i}: no lines and no results"));
        }
        let mut results = Vec::with_capacity(lines.len());
        for mut evt in lines {
            if let Err(e) = parsers.parse(&mut evt) {
                // Upstream logs the error and still compares the event as it was left.
                results.push((evt, Some(e.to_string())));
                continue;
            }
            results.push((evt, None));
        }
        compare(results, expected).map_err(|e| format!("document {i}: {e}"))?;
    }
    Ok(())
}

/// Upstream's `matchEvent`: `Stage` when expected, `Process`, `Whitelisted`, then every
/// expected `Parsed`/`Meta`/`Enriched` entry must be present with the same value.
fn mismatch(expected: &Event, got: &Event) -> Option<String> {
    if !expected.stage.is_empty() && expected.stage != got.stage {
        return Some(format!("stage {} != {}", expected.stage, got.stage));
    }
    if expected.process != got.process {
        return Some(format!("process {} != {}", expected.process, got.process));
    }
    if expected.whitelisted != got.whitelisted {
        return Some(format!(
            "whitelisted {} != {}",
            expected.whitelisted, got.whitelisted
        ));
    }
    for (label, want, have) in [
        ("Parsed", &expected.parsed, &got.parsed),
        ("Meta", &expected.meta, &got.meta),
        ("Enriched", &expected.enriched, &got.enriched),
    ] {
        for (k, v) in want {
            match have.get(k) {
                Some(h) if h == v => {}
                Some(h) => return Some(format!("{label}[{k}] {v:?} != {h:?}")),
                None => return Some(format!("missing {label}[{k}]")),
            }
        }
    }
    None
}

/// Pairs results with expectations in any order, as upstream's runner does.
fn compare(
    mut results: Vec<(Event, Option<String>)>,
    mut expected: Vec<Event>,
) -> Result<(), String> {
    'again: loop {
        for r in 0..results.len() {
            for e in 0..expected.len() {
                if mismatch(&expected[e], &results[r].0).is_none() {
                    results.swap_remove(r);
                    expected.swap_remove(e);
                    continue 'again;
                }
            }
        }
        break;
    }
    if results.is_empty() && expected.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for (r, err) in &results {
        msg.push_str(&format!(
            "\n  unmatched result (raw {:?}, stage {}, process {}, meta {:?}, parsed {:?}, enriched {:?}){}",
            r.line.raw,
            r.stage,
            r.process,
            r.meta,
            r.parsed,
            r.enriched,
            err.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default()
        ));
        for e in &expected {
            if let Some(why) = mismatch(e, r) {
                msg.push_str(&format!("\n    vs expected: {why}"));
            }
        }
    }
    for e in &expected {
        msg.push_str(&format!(
            "\n  unmatched expectation (stage {}, process {}, meta {:?}, parsed {:?})",
            e.stage, e.process, e.meta, e.parsed
        ));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evt(meta: &[(&str, &str)], process: bool) -> Event {
        let mut e = Event {
            process,
            ..Event::default()
        };
        for (k, v) in meta {
            e.set_meta(*k, *v);
        }
        e
    }

    #[test]
    fn matching_is_order_free_and_subset_based() {
        let got = vec![
            (evt(&[("a", "1"), ("b", "2")], true), None),
            (evt(&[("a", "2")], false), None),
        ];
        let want = vec![evt(&[("a", "2")], false), evt(&[("a", "1")], true)];
        assert_eq!(compare(got, want), Ok(()));
    }

    #[test]
    fn mismatches_are_reported() {
        let got = vec![(evt(&[("a", "1")], true), None)];
        let want = vec![evt(&[("a", "2")], true)];
        let err = compare(got, want).err().unwrap_or_default();
        assert!(err.contains("Meta[a] \"2\" != \"1\""), "{err}");
        assert_eq!(
            mismatch(&evt(&[("x", "")], true), &evt(&[], true)).as_deref(),
            Some("missing Meta[x]")
        );
    }
}
