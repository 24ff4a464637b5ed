//! grokky's capture semantics, checked on small patterns and on the spec's worked example.

mod common;

use cs_grok::{Error, Patterns};

/// Compiles `pattern` in `host` and returns the captures of `line` as sorted pairs.
fn captures(host: &Patterns, pattern: &str, line: &str) -> Option<Vec<(String, String)>> {
    let grok = host
        .compile(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"));
    grok.captures(line).map(|c| {
        c.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn check(host: &Patterns, pattern: &str, line: &str, expected: Option<&[(&str, &str)]>) {
    let expected = expected.map(|e| {
        let mut e: Vec<_> = e
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.sort();
        e
    });
    assert_eq!(
        captures(host, pattern, line),
        expected,
        "{pattern:?} on {line:?}"
    );
}

#[test]
fn syslogline_worked_example() {
    let host = common::upstream_host();
    check(
        &host,
        "^%{SYSLOGLINE}",
        "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 1.2.3.4",
        Some(&[
            ("timestamp", "Feb 12 14:10:21"),
            ("timestamp8601", ""),
            ("facility", ""),
            ("priority", ""),
            ("logsource", "sd-126005"),
            ("program", "sshd"),
            ("pid", "16378"),
            ("message", "Invalid user pascal from 1.2.3.4"),
        ]),
    );
}

#[test]
fn field_rules() {
    let mut host = Patterns::base();
    host.add("PAIR", "%{WORD:left}=%{WORD:right}").unwrap();
    // Nested names leak upward...
    check(
        &host,
        "%{PAIR}",
        "a=b",
        Some(&[("left", "a"), ("right", "b")]),
    );
    // ...unless the name is used directly anywhere in the expression.
    check(
        &host,
        "%{PAIR} %{WORD:left}",
        "a=b c",
        Some(&[("left", "c"), ("right", "b")]),
    );
    check(
        &host,
        "%{WORD:left} %{PAIR}",
        "c a=b",
        Some(&[("left", "c"), ("right", "b")]),
    );
    // A repeated direct name: the last one in the text wins.
    check(
        &host,
        "%{WORD:x} %{WORD:x}",
        "one two",
        Some(&[("x", "two")]),
    );
    // A group that does not take part yields "".
    check(
        &host,
        "%{WORD:a}(?: %{INT:n})?",
        "abc",
        Some(&[("a", "abc"), ("n", "")]),
    );
    // Hand-written groups, named or not, never create fields.
    check(&host, "(?P<x>a)(b) %{WORD:w}", "ab c", Some(&[("w", "c")]));
    // Unanchored, leftmost-first.
    check(&host, "%{INT:n}", "abc 12 34", Some(&[("n", "12")]));
    check(&host, "%{WORD:a}", "", None);
}

#[test]
fn patterns_without_fields_never_succeed() {
    let host = Patterns::base();
    let grok = host.compile("^%{WORD} (?P<x>[a-z]+)$").unwrap();
    assert!(grok.fields().is_empty());
    assert!(grok.captures("hello world").is_none());
    assert!(!grok.is_match("hello world"));
}

#[test]
fn only_word_references_expand() {
    let host = Patterns::base();
    // `%{IP:src-ip}` is literal text, not a reference.
    check(
        &host,
        "%{IP:src-ip} %{WORD:w}",
        "%{IP:src-ip} x",
        Some(&[("w", "x")]),
    );
    check(&host, "%{IP:src-ip} %{WORD:w}", "1.2.3.4 x", None);
}

#[test]
fn group_estimate_quirks_are_reproduced() {
    let host = Patterns::base();
    // `(errors)` is estimated as zero groups, so every field points one group early.
    check(
        &host,
        "(errors) %{WORD:a} %{WORD:b}",
        "errors foo bar",
        Some(&[("a", "errors"), ("b", "foo")]),
    );
    // `s)` lowers the estimate below zero: the field lands on group 0, the whole match.
    check(&host, "[s)]%{WORD:a}", "x)foo", Some(&[("a", ")foo")]));
    // `[(]` raises it past the last group; upstream would index out of range, here "".
    check(&host, "[(]%{WORD:a}", "(foo", Some(&[("a", "")]));
}

#[test]
fn re2_dialect() {
    let host = Patterns::base();
    // \w, \d, \s and \b are ASCII-only; `.` is one code point.
    check(&host, r"%{WORD:w}", "éa1_b", Some(&[("w", "a1_b")]));
    check(
        &host,
        r"(?P<d>\d+)x%{DATA:rest}$",
        "٣x1x",
        Some(&[("rest", "")]),
    );
    check(
        &host,
        r"a\s%{GREEDYDATA:r}",
        "a\u{b}b a c",
        Some(&[("r", "c")]),
    );
    check(&host, r"^%{DATA:one}.$", "é", Some(&[("one", "")]));
    check(&host, r"\Qa.b\E%{INT:n}", "a.b7", Some(&[("n", "7")]));
}

#[test]
fn errors_point_at_the_problem() {
    let mut host = Patterns::base();
    match host.compile("^%{WORD:a} %{NOPE:b}") {
        Err(Error::UnknownPattern { name, offset, .. }) => {
            assert_eq!((name.as_str(), offset), ("NOPE", 11))
        }
        other => panic!("{other:?}"),
    }
    match host.compile("%{WORD:a} (x") {
        Err(Error::Syntax {
            offset, message, ..
        }) => {
            assert_eq!(offset, 10, "{message}");
            assert!(message.contains("unclosed group"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match host.compile("%{WORD:a}(?=x)") {
        Err(Error::Syntax {
            offset, message, ..
        }) => {
            assert_eq!(offset, 9);
            assert!(message.contains("lookahead"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match host.compile("%{WORD:a}x++") {
        Err(Error::Syntax {
            offset, message, ..
        }) => {
            assert_eq!(offset, 10);
            assert!(message.contains("possessive"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        host.add("WORD", "x"),
        Err(Error::Duplicate { .. })
    ));
    assert!(matches!(
        host.add("SELF", "a%{SELF}"),
        Err(Error::Cycle { .. })
    ));
    assert!(
        host.get("SELF").is_none(),
        "a rejected definition is not kept"
    );
    assert!(matches!(
        host.compile_named("MISSING"),
        Err(Error::Undefined { .. })
    ));
    assert!(matches!(
        host.add("bad-name", "x"),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(host.compile(""), Err(Error::EmptyPattern { .. })));
}

#[test]
fn cycles_in_files_are_detected() {
    let mut host = Patterns::base();
    let text = "A x%{B}\nB y%{C}\nC z%{A}\n";
    let err = host
        .load_str(std::path::Path::new("loop"), text)
        .unwrap_err();
    let Error::Cycle { chain } = err.root() else {
        panic!("{err}")
    };
    assert_eq!(chain, &["A", "B", "C", "A"]);
    assert!(err.to_string().starts_with("loop:1: "), "{err}");
}

#[test]
fn forward_references_within_a_file() {
    let mut host = Patterns::base();
    let added = host
        .load_str(
            std::path::Path::new("fwd"),
            "# comment\nOUTER <%{INNER:v}>\n\nINNER [a-z]+\n",
        )
        .unwrap();
    assert_eq!(added, 2);
    check(&host, "%{OUTER}", "<abc>", Some(&[("v", "abc")]));
}

#[test]
fn errors_inside_a_definition_name_it() {
    let mut host = Patterns::base();
    let err = host
        .load_str(std::path::Path::new("f"), "BROKEN a(b\n")
        .unwrap_err();
    let Error::File {
        line: 1, source, ..
    } = &err
    else {
        panic!("{err}")
    };
    let Error::Definition { name, source } = &**source else {
        panic!("{err}")
    };
    assert_eq!(name, "BROKEN");
    assert!(
        matches!(&**source, Error::Syntax { offset: 1, .. }),
        "{source}"
    );
}

#[test]
fn compiled_patterns_are_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<cs_grok::Grok>();
    assert_send_sync::<Patterns>();
    let host = Patterns::base();
    let grok = std::sync::Arc::new(host.compile("%{INT:n}").unwrap());
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let grok = grok.clone();
            std::thread::spawn(move || {
                grok.captures(&format!("x{i}"))
                    .and_then(|c| c.get("n").map(str::to_string))
            })
        })
        .collect();
    let got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, [Some("0".to_string()), Some("1".to_string())]);
}

#[test]
fn field_names_are_interned() {
    let host = Patterns::base();
    let a = host.compile("%{WORD:message}").unwrap();
    let b = host.compile("x %{INT:message}").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a.fields()[0], &b.fields()[0]));
}

#[test]
fn hostile_expressions_are_errors_not_panics() {
    let host = Patterns::base();
    let deep = format!("{}%{{WORD:w}}{}", "(".repeat(400), ")".repeat(400));
    let hostile = [
        "\\",
        "(",
        ")",
        "[",
        "[]",
        "[^]",
        "(?P<",
        "(?P<>x)",
        "(?<a",
        "\\x{110000}",
        "\\x{",
        "\\xZ",
        "\\Q",
        "\\Qabc",
        "a{1001}",
        "a{2,1}",
        "{",
        "}",
        "x{,}",
        "%{",
        "%{A",
        "%{A:",
        "%{WORD:w}%{",
        "\\p",
        "\\p{",
        "\\pZZ",
        "[[:nope:]]",
        "[[:alpha:]",
        "é\\é",
        "(?i)*",
        "*",
        "a|*",
        "\\8",
        "[\\b]",
        "\u{0}",
        &deep,
    ];
    for expr in hostile {
        // Either outcome is fine; the point is that nothing panics.
        if let Ok(grok) = host.compile(expr) {
            let _ = grok.captures(expr);
        }
    }
    assert!(
        host.compile(&deep).is_err(),
        "nesting beyond the parser's limit is an error"
    );
}

#[test]
fn many_fields() {
    // More fields than fit in the inline capture buffer.
    let host = Patterns::base();
    let pattern: Vec<String> = (0..40).map(|i| format!("%{{INT:f{i:02}}}")).collect();
    let line: Vec<String> = (0..40).map(|i| (i * 7).to_string()).collect();
    let grok = host.compile(&pattern.join(",")).unwrap();
    let text = format!("x {}", line.join(","));
    let caps = grok.captures(&text).unwrap();
    assert_eq!(caps.len(), 40);
    for (i, (field, value)) in caps.iter().enumerate() {
        assert_eq!(
            (&**field, value),
            (format!("f{i:02}").as_str(), line[i].as_str())
        );
    }
    assert!(grok.captures(&line[..39].join(",")).is_none());
}
