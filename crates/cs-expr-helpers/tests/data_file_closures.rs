//! `any(File(...), {...})` closures are answered from indexes cached on the data file's list:
//! whatever the file lines and the event text, the answer (value or error) is the one the
//! closure loop gives over the same lines as a plain list, and nothing panics.

use cs_expr::{Environment, Type, Value, compile, format::format_v};
use cs_expr_helpers::Helpers;
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
