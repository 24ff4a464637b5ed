//! `any(File(...), {...})` closures are answered from indexes cached on the data file's list:
//! whatever the file lines and the event text, the answer (value or error) is the one the
//! closure loop gives over the same lines as a plain list, and nothing panics.

use cs_expr::{Effects, Environment, Type, Value, compile, format::format_v};
use cs_expr_helpers::Helpers;
use cs_types::Event;
use proptest::prelude::*;

/// Closure bodies of the hub's HTTP scenarios (`X` is the event text, `#` the line).
const BODIES: &[&str] = &[
    "Upper(x) contains Upper(#)",
    "Lower(x) contains #",
    "x contains #",
    "x startsWith #",
    "x endsWith #",
    "x == #",
    "# == Lower(x)",
    "Upper(x) matches Upper(#)",
    "x matches #",
    "PathUnescape(x) contains Upper(#)",
    // Guards of the closure body: only the lines they accept run the body.
    "x contains # ? true : false",
    "Upper(x) contains Upper(#) ? # != 'b' : false",
    "Lower(x) contains TrimPrefix(#, 'a') ? len(#) > 1 : false",
    "x contains Trim(#, 'c') ? x : false",
];

fn render(r: Result<Value<'_>, cs_expr::RuntimeError>) -> String {
    match r {
        Ok(v) => format_v(&v),
        Err(e) => format!("error: {}", e.message()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn indexed_closures_match_the_closure_loop(
        lines in prop::collection::vec(r"[a-cA-C.%2E()\\\[\]*?^$|é-]{0,5}", 0..6),
        x in r"[a-cA-C.%2E()\\\[\]*?^$|é/-]{0,12}",
    ) {
        let helpers = Helpers::new();
        helpers
            .data_files()
            .insert("f.txt", "string", &lines.join("\n"))
            .expect("string files always load");
        let mut env = Environment::new();
        let slot_x = env.add_variable("x", Type::String);
        let slot_l = env.add_variable("l", Type::List(&Type::String));
        helpers.register(&mut env);
        // What File() returns: the kept lines (no empty or comment line).
        let kept: Vec<Value<'static>> = helpers
            .data_files()
            .strings("f.txt")
            .map(|f| f.lines().iter().map(|l| Value::string(l.as_str())).collect())
            .unwrap_or_default();
        let mut vars = vec![Value::Nil; 2];
        vars[slot_x] = Value::str(&x);
        vars[slot_l] = Value::list(kept);
        for body in BODIES {
            let indexed = compile(&format!("any(File('f.txt'), {{{body}}})"), &env)
                .expect("hub shapes compile");
            let looped = compile(&format!("any(l, {{{body}}})"), &env).expect("hub shapes compile");
            // Twice: the first evaluation builds the index, the second reuses it.
            for _ in 0..2 {
                prop_assert_eq!(
                    render(indexed.eval(&vars)),
                    render(looped.eval(&vars)),
                    "{} over {:?} with x = {:?}", body, lines, x
                );
            }
        }
    }
}

#[test]
fn reloaded_files_are_seen_by_compiled_filters() {
    let helpers = Helpers::new();
    let files = helpers.data_files();
    files
        .insert("f.txt", "string", "union select\n")
        .expect("loads");
    let mut env = Environment::new();
    let slot = env.add_variable("x", Type::String);
    helpers.register(&mut env);
    let p = compile("any(File('f.txt'), {Upper(x) contains Upper(#)})", &env).expect("compiles");
    let mut vars = vec![Value::Nil; 1];
    vars[slot] = Value::str("id=1 UNION SELECT 1");
    assert_eq!(p.eval_bool(&vars), Ok(true));
    files.clear();
    files.insert("f.txt", "string", "<script\n").expect("loads");
    assert_eq!(p.eval_bool(&vars), Ok(false));
    vars[slot] = Value::str("q=<SCRIPT>");
    assert_eq!(p.eval_bool(&vars), Ok(true));
}

/// A guarded body that changes the text its guard reads (`evt.SetMeta` on the field): the
/// later lines are tested against the new text, as the loop does.
#[test]
fn guards_see_the_writes_of_earlier_bodies() {
    let helpers = Helpers::new();
    let lines = [
        r#"{"uri": "/a", "next": "/b", "cve": "1"}"#,
        r#"{"uri": "/b", "next": "/c", "cve": "2"}"#,
        r#"{"uri": "/zz", "cve": "3"}"#,
        r#"{"uri": "/c", "cve": "4"}"#,
    ];
    helpers
        .data_files()
        .insert("cves.json", "string", &lines.join("\n"))
        .expect("loads");
    let mut env = Environment::event();
    let slot_l = env.add_variable("l", Type::List(&Type::String));
    helpers.register(&mut env);
    let body = "evt.Meta.http_path contains JsonExtract(#, 'uri') ? \
                (evt.SetMeta('http_path', JsonExtract(#, 'next')) && JsonExtract(#, 'cve') == WANT) : false";
    for want in ["'1'", "'4'", "'3'", "'9'"] {
        let body = body.replace("WANT", want);
        let indexed =
            compile(&format!("any(File('cves.json'), {{{body}}})"), &env).expect("compiles");
        let looped = compile(&format!("any(l, {{{body}}})"), &env).expect("compiles");
        let mut evt = Event::new_log("", "file");
        evt.set_meta("http_path", "/a?x");
        let mut vars = vec![Value::Nil; 2];
        vars[0] = Value::object(&evt);
        vars[slot_l] = Value::list(lines.iter().map(|l| Value::str(l)).collect());
        let (mut fx_indexed, mut fx_looped) = (Effects::new(), Effects::new());
        let got = render(indexed.run(&vars, &mut fx_indexed));
        assert_eq!(got, render(looped.run(&vars, &mut fx_looped)), "{want}");
        assert_eq!(fx_indexed, fx_looped, "{want}");
        assert_eq!(
            got,
            if want == "'9'" || want == "'3'" {
                "false"
            } else {
                "true"
            },
            "{want}"
        );
    }
}
