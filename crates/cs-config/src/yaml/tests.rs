//! Golden tests of rendered diagnostics and of Go-compatible decoding.

use std::collections::BTreeMap;

use expect_test::{Expect, expect};
use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Fields are read through Debug in the golden output.
struct Grok {
    pattern: Option<String>,
    apply_on: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ParserNode {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    grok: Option<Grok>,
    #[serde(default)]
    nodes: Vec<ParserNode>,
    #[serde(default)]
    debug: bool,
    #[serde(default)]
    onsuccess: Option<OnSuccess>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum OnSuccess {
    #[serde(rename = "next_stage")]
    NextStage,
    #[serde(rename = "continue")]
    Continue,
}

/// Decodes `input` as a `ParserNode` and compares the Debug value or the rendered errors.
fn check(input: &str, expected: Expect) {
    let out = match from_str::<ParserNode>("test.yaml", input) {
        Ok(v) => format!("{v:?}"),
        Err(e) => e.to_string(),
    };
    expected.assert_eq(&out);
}

#[test]
fn unknown_field_gets_position_path_caret_and_hint() {
    check(
        "filter: \"1 == 1\"\nnodes:\n  - grok:\n      pattern: x\n      apply_on: message\n  - filtre: true\n",
        expect![[r#"
            error: unknown field `filtre`
             --> test.yaml:6:5
              |
            6 |   - filtre: true
              |     ^^^^^^
               = at: nodes[1].filtre
               = hint: did you mean `filter`?"#]],
    );
}

#[test]
fn nested_unknown_field_path_goes_through_sequences() {
    check(
        "nodes:\n  - nodes:\n    - grok:\n        pattern: x\n        aply_on: y\n",
        expect![[r#"
            error: unknown field `aply_on`
             --> test.yaml:5:9
              |
            5 |         aply_on: y
              |         ^^^^^^^
               = at: nodes[0].nodes[0].grok.aply_on
               = hint: did you mean `apply_on`?"#]],
    );
}

#[test]
fn missing_field_points_at_the_mapping() {
    check(
        "grok:\n  pattern: x\n",
        expect![[r#"
            error: missing field `apply_on`
             --> test.yaml:2:3
              |
            2 |   pattern: x
              |   ^
               = at: grok"#]],
    );
}

#[test]
fn wrong_type_names_the_value() {
    check(
        "debug: maybe\n",
        expect![[r#"
            error: expected a boolean, found `maybe`
             --> test.yaml:1:8
              |
            1 | debug: maybe
              |        ^^^^^
               = at: debug"#]],
    );
}

#[test]
fn unknown_enum_value_suggests_a_variant() {
    check(
        "onsuccess: next_stag\n",
        expect![[r#"
            error: unknown value `next_stag`
             --> test.yaml:1:12
              |
            1 | onsuccess: next_stag
              |            ^^^^^^^^^
               = at: onsuccess
               = hint: did you mean `next_stage`?"#]],
    );
}

#[test]
fn syntax_error_is_located() {
    check(
        "filter: \"unterminated\nnodes: []\n",
        expect![[r#"
            error: invalid YAML: invalid indentation in quoted scalar
             --> test.yaml:1:9
              |
            1 | filter: "unterminated
              |         ^"#]],
    );
}

#[test]
fn go_style_scalars_decode_into_typed_fields() {
    check(
        "debug: on\nfilter: 8080\ngrok:\n  apply_on:\n",
        expect![[
            r#"ParserNode { filter: Some("8080"), grok: Some(Grok { pattern: None, apply_on: "" }), nodes: [], debug: true, onsuccess: None }"#
        ]],
    );
}

#[test]
fn anchors_and_merge_keys_are_resolved() {
    let v: BTreeMap<String, BTreeMap<String, String>> = from_str(
        "t",
        "base: &b\n  a: '1'\n  b: '2'\nderived:\n  <<: *b\n  b: '3'\n",
    )
    .unwrap();
    assert_eq!(v["derived"]["a"], "1");
    assert_eq!(v["derived"]["b"], "3");
}

#[test]
fn multi_document_errors_are_all_collected() {
    let err =
        from_str_multi::<ParserNode>("m.yaml", "filtre: x\n---\n---\ndebugg: true\n").unwrap_err();
    let short: Vec<String> = err.0.iter().map(Diagnostic::short).collect();
    assert_eq!(
        short,
        [
            "m.yaml:1:1: filtre: unknown field `filtre`",
            "m.yaml:4:1: debugg: unknown field `debugg`"
        ]
    );
}

#[test]
fn merge_overrides_scalars_and_merges_maps() {
    let base = parse("a", "x: a\nm:\n  k1: a\n  k2: b\nl: [p, q]\n")
        .unwrap()
        .remove(0);
    let patch = parse("b", "m:\n  k2: c\nl: [r]\ny: ~\n").unwrap().remove(0);
    let merged = merge(base, patch);
    let v: BTreeMap<String, serde_json_like::Value> = merged.decode("").unwrap();
    assert_eq!(
        format!("{v:?}"),
        r#"{"l": Seq([Str("r")]), "m": Map({"k1": Str("a"), "k2": Str("c")}), "x": Str("a"), "y": Null}"#
    );
    // Positions of merged nodes still point into the file they came from.
    let m = merged_lookup();
    assert_eq!(m, ("b".to_string(), 2));
}

fn merged_lookup() -> (String, usize) {
    let base = parse("a", "m:\n  k1: a\n").unwrap().remove(0);
    let patch = parse("b", "m:\n  k2: c\n").unwrap().remove(0);
    let merged = merge(base, patch);
    let n = merged.lookup("m.k2").unwrap();
    (n.mark.source.name.clone(), n.mark.line)
}

#[test]
fn diagnostic_at_offset_points_inside_a_quoted_scalar() {
    let doc = parse("p.yaml", "filter: \"evt.Line.Labels.type == 'x' &&\"\n")
        .unwrap()
        .remove(0);
    let node = doc.lookup("filter").unwrap();
    let d = node.diagnostic_at_offset("filter", 37, 2, "unexpected end of expression");
    expect![[r#"
        error: unexpected end of expression
         --> p.yaml:1:47
          |
        1 | filter: "evt.Line.Labels.type == 'x' &&"
          |                                         ^
           = at: filter"#]]
    .assert_eq(&d.to_string());
}

/// A tiny dynamic value for the tests, so the merge test does not depend on another crate.
mod serde_json_like {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)] // Read through Debug in the assertions.
    pub enum Value {
        Null,
        Str(String),
        Seq(Vec<Value>),
        Map(BTreeMap<String, Value>),
    }
}
