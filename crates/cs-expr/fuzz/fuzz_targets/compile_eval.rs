//! Fuzzes the expression compiler and evaluator: any input must compile or fail with an error,
//! and any compiled program must evaluate or fail with an error, never panic or overflow the
//! stack.
#![no_main]

use cs_expr::{Environment, Value, compile};
use cs_types::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(program) = compile(src, &Environment::event()) else { return };
    let mut evt = Event::new_log("Feb 12 14:10:21 host sshd[1]: Failed password", "file");
    evt.set_meta("service", "ssh");
    evt.set_parsed("status", "200");
    evt.unmarshaled
        .insert("a".into(), serde_json::json!({"b": [1, "x", {"c": null}], "n": 1.5}));
    let _ = program.eval(&[Value::object(&evt)]);
    let _ = program.run_event(&mut evt, |v| cs_expr::format::format_v(&v));
});
