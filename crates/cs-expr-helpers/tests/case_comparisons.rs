//! Comparisons of `Upper`/`Lower` calls with constants (`Upper(x) contains 'ADMIN'`), which the
//! engine decides on ASCII arguments without calling the helper, answer what Go's
//! `strings.ToUpper`/`ToLower` followed by the comparison answers, for ASCII and non-ASCII text
//! (Go maps some non-ASCII runes to ASCII: `ı` → `I`, `ſ` → `S`, the Kelvin sign → `k`). The
//! unescaping helpers they are often applied to pass text without escapes on as is.

use cs_expr::{Environment, Value, compile};
use cs_expr_helpers::{Helpers, strings, url};
use cs_types::Event;
use proptest::prelude::*;

fn env() -> Environment {
    let mut env = Environment::event();
    Helpers::new().register(&mut env);
    env
}

/// `F(evt.Meta.x) op needle` evaluated by the engine.
fn engine(env: &Environment, f: &str, op: &str, x: &str, needle: &str) -> bool {
    let src = format!("{f}(evt.Meta.x) {op} {needle:?}");
    let program = compile(&src, env).unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut evt = Event::new_log("", "file");
    evt.set_meta("x", x);
    program
        .eval_bool(&[Value::object(&evt)])
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The same comparison on the helper's result.
fn reference(f: &str, op: &str, x: &str, needle: &str) -> bool {
    let mapped = if f == "Upper" {
        strings::upper(x)
    } else {
        strings::lower(x)
    };
    match op {
        "contains" => mapped.contains(needle),
        "startsWith" => mapped.starts_with(needle),
        "endsWith" => mapped.ends_with(needle),
        "==" => mapped == needle,
        _ => mapped != needle,
    }
}

const OPS: [&str; 5] = ["contains", "startsWith", "endsWith", "==", "!="];

#[test]
fn hub_shapes() {
    let env = env();
    for (f, op, x, needle, expected) in [
        (
            "Upper",
            "contains",
            "/wp-admin/Setup.php",
            "/WP-ADMIN/",
            true,
        ),
        ("Upper", "contains", "/wp-admin/", "/wp-admin/", false),
        ("Upper", "contains", "/admın/", "/ADMIN/", true),
        (
            "Upper",
            "contains",
            "/claſs.module.x",
            "CLASS.MODULE.",
            true,
        ),
        ("Lower", "contains", "/\u{212a}ey", "/key", true),
        (
            "Lower",
            "endsWith",
            "/Util/PHP/eval-stdin.php",
            "util/php/eval-stdin.php",
            true,
        ),
        ("Upper", "==", "post", "POST", true),
        ("Upper", "==", "pöst", "PÖST", true),
        ("Upper", "startsWith", "/api/v2/", "/API/V2/CMDB", false),
        ("Lower", "!=", "HOST", "host", false),
    ] {
        assert_eq!(
            engine(&env, f, op, x, needle),
            expected,
            "{f}({x:?}) {op} {needle:?}"
        );
        assert_eq!(
            reference(f, op, x, needle),
            expected,
            "{f}({x:?}) {op} {needle:?}"
        );
    }
}

#[test]
fn unescaping_borrows_text_without_escapes() {
    assert!(matches!(
        url::path_unescape("/a+b"),
        std::borrow::Cow::Borrowed("/a+b")
    ));
    assert!(matches!(
        url::query_unescape("/ab"),
        std::borrow::Cow::Borrowed("/ab")
    ));
    assert!(matches!(
        url::query_unescape("%zz"),
        std::borrow::Cow::Borrowed("%zz")
    ));
    assert_eq!(url::query_unescape("/a+b"), "/a b");
    let env = env();
    let mut evt = Event::new_log("", "file");
    evt.set_meta("x", "/a%2Fb");
    for (src, expected) in [
        ("PathUnescape(evt.Meta.x)", "/a/b"),
        ("QueryUnescape(evt.Meta.x + '+')", "/a/b "),
        ("PathUnescape(evt.Meta.log_type + '/x')", "/x"),
        ("Upper(PathUnescape(evt.Meta.x))", "/A/B"),
    ] {
        let p = compile(src, &env).unwrap();
        let v = p.eval(&[Value::object(&evt)]).unwrap();
        assert_eq!(v.as_str(), Some(expected), "{src}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn case_comparisons_match_the_helpers(
        x in "[a-zA-Z/._ıſİ\u{212a}éÉß-]{0,12}",
        needle in "[a-zA-Z/._ıſİ\u{212a}éÉ-]{0,4}",
        upper in any::<bool>(),
        op in 0..OPS.len(),
    ) {
        let f = if upper { "Upper" } else { "Lower" };
        let env = env();
        prop_assert_eq!(
            engine(&env, f, OPS[op], &x, &needle),
            reference(f, OPS[op], &x, &needle),
            "{}({:?}) {} {:?}", f, x, OPS[op], needle
        );
    }

    #[test]
    fn case_comparisons_of_substrings_of_the_text(
        x in "[a-zA-Zı/._-]{1,16}",
        from in 0usize..16,
        len in 0usize..6,
        upper in any::<bool>(),
        op in 0..OPS.len(),
    ) {
        // Needles taken from the mapped text itself, so that matches are frequent.
        let f = if upper { "Upper" } else { "Lower" };
        let mapped = if upper { strings::upper(&x) } else { strings::lower(&x) };
        let chars: Vec<char> = mapped.chars().collect();
        let from = from.min(chars.len());
        let needle: String = chars[from..(from + len).min(chars.len())].iter().collect();
        let env = env();
        prop_assert_eq!(
            engine(&env, f, OPS[op], &x, &needle),
            reference(f, OPS[op], &x, &needle),
            "{}({:?}) {} {:?}", f, x, OPS[op], needle
        );
    }
}
