//! Golden tests of load errors: every problem of a file is reported with
//! `file:line:col`, the key path, the source line with a caret and a hint.

use cs_parser::LoaderBuilder;
use cs_parser::config::StageFile;
use expect_test::{Expect, expect};

fn check(yaml: &str, expected: Expect) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("node.yaml");
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("write: {e}"));
    let files = [StageFile {
        filename: path.to_string_lossy().into_owned(),
        stage: "s01-parse".to_owned(),
    }];
    let got = match LoaderBuilder::new(dir.path())
        .patterns(cs_grok::Patterns::base())
        .build()
        .load_files(&files)
    {
        Ok(_) => "loaded".to_owned(),
        Err(e) => e.to_string().replace(&*path.to_string_lossy(), "node.yaml"),
    };
    expected.assert_eq(&got);
}

#[test]
fn unknown_key_gets_a_hint() {
    check(
        "name: t\nfiltre: \"true\"\nstatics:\n  - meta: a\n    value: b\n",
        expect![[r#"
            invalid parser configuration:
            error: unknown field `filtre`
             --> node.yaml:2:1
              |
            2 | filtre: "true"
              | ^^^^^^
               = at: filtre
               = hint: did you mean `filter`?"#]],
    );
}

#[test]
fn every_error_of_a_file_is_reported() {
    check(
        r#"name: t
filter: "evt.Line.Raww == 'x'"
onsuccess: next
grok:
  pattern: "%{NOPE:x}"
  apply_on: Line.Raw
whitelist:
  cidr: ["1.2.3.4"]
nodes:
  - statics:
      - meta: a
        expression: "evt.Meta.x +"
"#,
        expect![[r#"
            invalid parser configuration:
            error: onsuccess `next` is not `continue` or `next_stage`
             --> node.yaml:3:12
              |
            3 | onsuccess: next
              |            ^^^^
               = at: onsuccess

            error: invalid expression: type types.Line has no field Raww
             --> node.yaml:2:10
              |
            2 | filter: "evt.Line.Raww == 'x'"
              |          ^^^^^^^^^^^^^
               = at: filter

            error: invalid grok pattern: unknown grok pattern `NOPE` referenced at byte 0 of `%{NOPE:x}`
             --> node.yaml:5:13
              |
            5 |   pattern: "%{NOPE:x}"
              |             ^^^^^^^^^
               = at: grok.pattern

            error: invalid expression: unexpected end of expression (expected expression)
              --> node.yaml:12:34
               |
            12 |         expression: "evt.Meta.x +"
               |                                  ^
               = at: nodes[0].statics[0].expression

            error: invalid CIDR `1.2.3.4` (expected address/prefix)
             --> node.yaml:8:11
              |
            8 |   cidr: ["1.2.3.4"]
              |           ^^^^^^^
               = at: whitelist.cidr[0]"#]],
    );
}

#[test]
fn empty_node_and_bad_static() {
    check(
        "name: t\nstatics:\n  - enriched: x\n    value: y\n---\nname: u\nfilter: \"true\"\n",
        expect![[r#"
            invalid parser configuration:
            error: a static needs one of `meta`, `parsed` or `target`
             --> node.yaml:3:5
              |
            3 |   - enriched: x
              |     ^
               = at: statics[0]

            error: node is empty: it needs a grok, child nodes, statics or whitelist entries
             --> node.yaml:6:1
              |
            6 | name: u
              | ^"#]],
    );
}
