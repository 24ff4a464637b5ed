//! Fuzzes the grok compiler: pattern definitions, expansion, RE2 translation and matching
//! must never panic, whatever the input.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Layout: pattern-file lines, then a line `---`, then the expression, then a line `---`
    // and the haystack.
    let mut parts = text.splitn(3, "\n---\n");
    let (defs, expr, line) = match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(e), l) => (d, e, l.unwrap_or("")),
        (Some(e), None, _) => ("", e, e),
        _ => return,
    };
    // The base patterns are checked once; each input starts from a copy.
    static BASE: OnceLock<cs_grok::Patterns> = OnceLock::new();
    let mut patterns = BASE.get_or_init(cs_grok::Patterns::base).clone();
    let _ = patterns.load_str(Path::new("fuzz"), defs);
    let _ = patterns.check_all();
    if let Ok(grok) = patterns.compile(expr) {
        if let Some(caps) = grok.captures(line) {
            for (field, value) in caps.iter() {
                assert!(line.contains(value) || value.is_empty(), "{field}");
            }
        }
        let _ = grok.is_match(expr);
    }
});
