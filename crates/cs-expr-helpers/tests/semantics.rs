//! Table-driven semantics suite: every case of `tests/cases/semantics.yaml` is compiled in the
//! parser environment (`evt` plus every helper) and evaluated on a fixed event; failures are
//! reported by case name.

use std::path::PathBuf;
use std::sync::Arc;

use cs_expr::{Environment, FixedClock, compile, format::format_v};
use cs_expr_helpers::{Helpers, geoip::GeoIp};
use cs_types::Event;
use serde::Deserialize;

/// Writes to the process's stderr directly: libtest captures `eprintln!`, and these summaries
/// must show without `--nocapture`.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn shared_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
}

/// Wraps `want` so that `want: null` (expect nil) differs from an absent `want`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Want(serde_yaml::Value);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    expr: String,
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default, deserialize_with = "present")]
    want: Option<Want>,
    want_v: Option<String>,
    error: Option<String>,
}

/// A field that is present (even as `null`) deserializes to `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Want>, D::Error> {
    Want::deserialize(d).map(Some)
}

/// What a case expects, read from its single expectation field.
enum Expect {
    Json(serde_json::Value),
    Formatted(String),
    CompileError,
    RuntimeError,
}

impl Case {
    fn expectation(&self) -> Result<Expect, String> {
        match (&self.want, &self.want_v, self.error.as_deref()) {
            (Some(Want(w)), None, None) => serde_json::to_value(w)
                .map(Expect::Json)
                .map_err(|e| e.to_string()),
            (None, Some(v), None) => Ok(Expect::Formatted(v.clone())),
            (None, None, Some("compile")) => Ok(Expect::CompileError),
            (None, None, Some("runtime")) => Ok(Expect::RuntimeError),
            _ => Err("needs exactly one of want, want_v, error: compile|runtime".to_owned()),
        }
    }
}

const XML_EVENT: &str = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>1</EventID><Computer>host</Computer></System><EventData><Data Name='Image'>C:\Windows\cmd.exe</Data><Data Name='User'>NT &amp; AUTHORITY</Data><Data>third</Data></EventData></Event>"#;

fn fixture() -> Event {
    let mut evt = Event::new_log(
        "Feb 12 14:10:21 host sshd[42]: Invalid user bob from 1.2.3.4",
        "file",
    );
    evt.line.src = "/var/log/auth.log".to_owned();
    evt.line.labels.insert("type".into(), "syslog".into());
    let parsed = [
        ("program", "sshd"),
        ("message", "Invalid user bob from 1.2.3.4"),
        ("empty", ""),
        (
            "json",
            r#"{"a":{"b":"c","arr":[1,"x",true]},"n":5,"f":1.50,"s":"h\u00e9 \"q\"","t":{"$date":"2024"}}"#,
        ),
        ("kv", r#"user=bob action="log in" id=42"#),
        ("uri", "/index.php?a=1&b=2&a=3"),
        ("xml", XML_EVENT),
        ("b64", "aGVsbG8="),
        ("bad_re", "("),
        ("num", "42"),
        ("float_s", "2.5"),
    ];
    for (k, v) in parsed {
        evt.parsed.insert(k.into(), v.into());
    }
    let meta = [
        ("source_ip", "1.2.3.4"),
        ("log_type", "ssh_failed-auth"),
        ("service", "ssh"),
        ("http_path", "/admin/phpmyadmin/index.php"),
        ("http_status", "404"),
        ("lat1", "-33.494"),
        ("lon1", "143.2104"),
        ("lat2", "37.751"),
        ("lon2", "-97.822"),
    ];
    for (k, v) in meta {
        evt.meta.insert(k.into(), v.into());
    }
    evt.enriched.insert("IsoCode".into(), "FR".into());
    // What UnmarshalJSON leaves behind: JSON numbers are float64.
    let unmarshaled =
        serde_json::json!({"a": {"b": "c"}, "n": 5.0, "list": ["x", "y"], "nul": null});
    if let serde_json::Value::Object(m) = unmarshaled {
        evt.unmarshaled = m;
    }
    evt
}

fn environment(now: cs_types::GoTime) -> Environment {
    let shared = shared_dir();
    let helpers = Helpers::new();
    let data = shared.join("hub/data");
    for (file, kind) in [
        ("bad_user_agents.regex.txt", "regexp"),
        ("http_path_traversal.txt", "string"),
        ("technology_probing.json", "map"),
    ] {
        helpers
            .data_files()
            .load(&data, file, kind)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let (geoip, errors) = GeoIp::open_data_dir(&shared.join("hub/mmdb-fixtures/crowdsec-test"));
    assert!(errors.is_empty(), "GeoIP fixtures: {errors:?}");
    helpers.set_geoip(geoip);
    helpers
        .stash()
        .init_cache("test_cache", 10, Some(chrono::Duration::minutes(1)), "LRU")
        .expect("valid cache");
    helpers
        .stash()
        .set("test_cache", "k", "v", None, now.to_utc());
    let mut env = Environment::event();
    env.set_clock(Arc::new(FixedClock(now)));
    helpers.register(&mut env);
    env
}

/// Compares an evaluation result with the expectation.
fn judge(got: Result<&cs_expr::Value<'_>, String>, expect: &Expect) -> Result<(), String> {
    match (got, expect) {
        (Err(_), Expect::RuntimeError) => Ok(()),
        (Err(e), _) => Err(format!("runtime error: {e}")),
        (Ok(v), Expect::RuntimeError) => {
            Err(format!("evaluated to {v:?}, expected a runtime error"))
        }
        (Ok(v), Expect::Json(want)) => {
            let got = v.to_json();
            if got == *want {
                Ok(())
            } else {
                Err(format!("got {got} ({}), want {want}", v.type_name()))
            }
        }
        (Ok(v), Expect::Formatted(want)) => {
            let got = format_v(v);
            if got == *want {
                Ok(())
            } else {
                Err(format!("got %v {got:?}, want {want:?}"))
            }
        }
        (Ok(_), Expect::CompileError) => unreachable!("handled when compiling"),
    }
}

/// Runs one case on its own copy of the fixture, since helpers such as `UnmarshalJSON` and
/// methods such as `SetMeta` mutate the event.
fn run_case(case: &Case, env: &Environment, fixture: &Event) -> Result<(), String> {
    let expect = case.expectation()?;
    let program = match (compile(&case.expr, env), &expect) {
        (Err(_), Expect::CompileError) => return Ok(()),
        (Err(e), _) => return Err(format!("compile error: {}", e.message())),
        (Ok(_), Expect::CompileError) => {
            return Err("compiled, expected a compile error".to_owned());
        }
        (Ok(p), _) => p,
    };
    let mut evt = fixture.clone();
    match program.run_event(&mut evt, |v| judge(Ok(&v), &expect)) {
        Ok(verdict) => verdict,
        Err(e) => judge(Err(e.message().to_owned()), &expect),
    }
}

#[test]
fn semantics_cases() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/semantics.yaml");
    let text = std::fs::read_to_string(path).expect("case file is readable");
    let cases: Vec<Case> = serde_yaml::from_str(&text).expect("case file is valid YAML");
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.as_str()),
            "duplicate case name {}",
            c.name
        );
        assert!(
            !c.reference.trim().is_empty(),
            "case {} cites no reference",
            c.name
        );
    }

    let now = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21Z").expect("valid time");
    let env = environment(now);
    let evt = fixture();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run_case(c, &env, &evt)
                .err()
                .map(|why| format!("  {}: `{}` [{}]\n      {why}", c.name, c.expr, c.reference))
        })
        .collect();
    report!(
        "semantics: {} cases, {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn value_of_unmarshal_json_uses_float_numbers() {
    // UnmarshalJSON effects land in evt.Unmarshaled with Go's float64 numbers.
    let env = environment(
        chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21Z").expect("valid time"),
    );
    let mut evt = fixture();
    let program = compile(
        r#"UnmarshalJSON('{"x": 1, "y": [2]}', evt.Unmarshaled, "new") in ["", nil]"#,
        &env,
    )
    .expect("compiles");
    assert!(program.run_event_bool(&mut evt).expect("evaluates"));
    assert_eq!(
        evt.unmarshaled.get("new"),
        Some(&serde_json::json!({"x": 1.0, "y": [2.0]}))
    );
    let kv = compile(
        r#"ParseKV('a=1 b="x y"', evt.Unmarshaled, "kv") == nil"#,
        &env,
    )
    .expect("compiles");
    assert!(kv.run_event_bool(&mut evt).expect("evaluates"));
    assert_eq!(
        evt.unmarshaled.get("kv"),
        Some(&serde_json::json!({"a": "1", "b": "x y"}))
    );
    let check = compile(
        "evt.Unmarshaled.kv.b + Sprintf('%v', evt.Unmarshaled.new.x)",
        &env,
    )
    .expect("compiles");
    assert_eq!(
        format_v(&check.eval_event(&evt).expect("evaluates")),
        "x y1"
    );
}

/// A clock tests move by hand.
#[derive(Debug)]
struct TestClock(std::sync::Mutex<cs_types::GoTime>);

impl cs_expr::Clock for TestClock {
    fn now(&self) -> cs_types::GoTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[test]
fn stash_entries_expire_on_the_environment_clock() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-02-12T14:10:21Z").expect("valid time");
    let clock = Arc::new(TestClock(std::sync::Mutex::new(start)));
    let helpers = Helpers::new();
    helpers
        .stash()
        .init_cache("c", 10, Some(chrono::Duration::seconds(30)), "LRU")
        .expect("valid cache");
    let mut env = Environment::event();
    env.set_clock(clock.clone());
    helpers.register(&mut env);
    let evt = fixture();
    let eval = |src: &str| {
        let p = compile(src, &env).unwrap_or_else(|e| panic!("{src}: {e}"));
        format_v(&p.eval_event(&evt).unwrap_or_else(|e| panic!("{src}: {e}")))
    };
    eval(r#"SetInStash("c", "short", "1", duration("5s"))"#);
    eval(r#"SetInStash("c", "default", "2", nil)"#);
    assert_eq!(
        eval(r#"GetFromStash("c", "short") + GetFromStash("c", "default")"#),
        "12"
    );
    *clock.0.lock().expect("clock lock") = start + chrono::Duration::seconds(10);
    assert_eq!(
        eval(r#"GetFromStash("c", "short") + "|" + GetFromStash("c", "default")"#),
        "|2"
    );
    *clock.0.lock().expect("clock lock") = start + chrono::Duration::seconds(31);
    assert_eq!(eval(r#"GetFromStash("c", "default")"#), "");
    assert_eq!(eval("TimeNow()"), "2026-02-12T14:10:52Z");
}
