//! Criterion benchmarks of the helpers on hot paths, called through compiled expressions on an
//! event (hits and misses): `IpInRange`, `JsonExtract`, `RegexpInFile` and `File` lookups over
//! the hub's data files, `XMLGetNodeValue` on a Windows event, `Sprintf`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use cs_expr::{Environment, Program, compile};
use cs_expr_helpers::Helpers;
use cs_types::Event;

fn shared_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
}

const JSON_LINE: &str = r#"{"level":"info","ts":1700000000.123,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"35.188.49.176","client_ip":"35.188.49.176","proto":"HTTP/1.1","method":"GET","host":"example.com","uri":"/wp-login.php","headers":{"User-Agent":["Mozilla/5.0"]}},"status":404}"#;

const XML_EVENT: &str = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Computer>WIN-HOST</Computer></System><EventData><Data Name='RuleName'>-</Data><Data Name='UtcTime'>2024-01-01 00:00:00.000</Data><Data Name='ProcessGuid'>{00000000-0000-0000-0000-000000000000}</Data><Data Name='ProcessId'>4242</Data><Data Name='Image'>C:\Windows\System32\cmd.exe</Data><Data Name='CommandLine'>cmd.exe /c whoami</Data><Data Name='User'>NT AUTHORITY\SYSTEM</Data></EventData></Event>"#;

fn event(user_agent: &str, path: &str, ip: &str) -> Event {
    let mut evt = Event::new_log("bench", "file");
    evt.set_meta("source_ip", ip);
    evt.set_meta("http_path", path);
    evt.parsed
        .insert("http_user_agent".into(), user_agent.into());
    evt.parsed.insert("message".into(), JSON_LINE.into());
    evt.parsed.insert("xml".into(), XML_EVENT.into());
    evt
}

fn environment() -> Environment {
    let helpers = Helpers::new();
    let data = shared_dir().join("hub/data");
    helpers
        .data_files()
        .load(&data, "bad_user_agents.regex.txt", "regexp")
        .expect("hub data file bad_user_agents.regex.txt");
    helpers
        .data_files()
        .load(&data, "http_path_traversal.txt", "string")
        .expect("hub data file http_path_traversal.txt");
    let mut env = Environment::event();
    helpers.register(&mut env);
    env
}

fn bench_program(c: &mut Criterion, name: &str, program: &Program, evt: &Event) {
    c.bench_function(name, |b| {
        b.iter(|| black_box(program.eval_event(black_box(evt)).is_ok()))
    });
}

fn helpers(c: &mut Criterion) {
    let env = environment();
    let hit = event(
        "Mozilla/5.0 (compatible; Nikto/2.1.6)",
        "/a/../../etc/passwd",
        "192.168.1.20",
    );
    let miss = event(
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        "/index.html",
        "35.188.49.176",
    );
    let cases = [
        // Baseline: evaluating an expression without a helper, and a call to a trivial one.
        (
            "baseline_meta_eq",
            r#"evt.Meta.source_ip == "192.168.1.20""#,
        ),
        ("baseline_upper", r#"Upper(evt.Meta.source_ip)"#),
        (
            "ip_in_range",
            r#"IpInRange(evt.Meta.source_ip, "192.168.0.0/16")"#,
        ),
        (
            "json_extract",
            r#"JsonExtract(evt.Parsed.message, "request.client_ip")"#,
        ),
        (
            "regexp_in_file",
            r#"RegexpInFile(evt.Parsed.http_user_agent, "bad_user_agents.regex.txt")"#,
        ),
        (
            "file_any_contains",
            r#"any(File("http_path_traversal.txt"), { evt.Meta.http_path contains # })"#,
        ),
        (
            "xml_get_node_value",
            r#"XMLGetNodeValue(evt.Parsed.xml, "/Event/EventData[1]/Data[@Name='Image']")"#,
        ),
        ("sprintf", r#"Sprintf("%s:%v", evt.Meta.source_ip, 42)"#),
    ];
    for (name, source) in cases {
        let program = compile(source, &env).unwrap_or_else(|e| panic!("{source}: {e}"));
        bench_program(c, &format!("{name}/hit"), &program, &hit);
        bench_program(c, &format!("{name}/miss"), &program, &miss);
    }
    // The plain function, without expression evaluation around it.
    c.bench_function("ip_in_range/direct", |b| {
        b.iter(|| {
            black_box(cs_expr_helpers::net::ip_in_range(
                black_box("192.168.1.20"),
                black_box("192.168.0.0/16"),
            ))
        });
    });
    // Two different documents in turn, so that every call parses its XML.
    let mut other = hit.clone();
    other
        .parsed
        .insert("xml".into(), XML_EVENT.replace("4242", "4343").into());
    let program = compile(
        r#"XMLGetNodeValue(evt.Parsed.xml, "/Event/EventData[1]/Data[@Name='ProcessId']")"#,
        &env,
    )
    .expect("compiles");
    c.bench_function("xml_get_node_value/parse", |b| {
        b.iter(|| {
            black_box(program.eval_event(black_box(&hit)).is_ok());
            black_box(program.eval_event(black_box(&other)).is_ok());
        });
    });
}

criterion_group!(benches, helpers);
criterion_main!(benches);
