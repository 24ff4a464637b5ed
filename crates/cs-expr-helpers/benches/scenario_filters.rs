//! Criterion benchmarks of the hub's HTTP scenario filters that scan data files
//! (`any(File(...), {...})`, `RegexpInFile`) on nginx access events, one at a time and as the
//! whole set an access-log event goes through.

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

/// (name, data file, type, filter) as the hub scenarios declare them.
const FILTERS: &[(&str, &str, &str, &str)] = &[
    (
        "sqli",
        "sqli_probe_patterns.txt",
        "string",
        "evt.Meta.log_type in ['http_access-log', 'http_error-log'] && any(File('sqli_probe_patterns.txt'), {Upper(evt.Parsed.http_args) contains Upper(#)})",
    ),
    (
        "xss",
        "xss_probe_patterns.txt",
        "string",
        "evt.Meta.log_type in ['http_access-log', 'http_error-log'] && any(File('xss_probe_patterns.txt'), {Upper(evt.Parsed.http_args) contains Upper(#)})",
    ),
    (
        "path_traversal",
        "http_path_traversal.txt",
        "string",
        "evt.Meta.log_type in ['http_access-log', 'http_error-log'] && any(File('http_path_traversal.txt'),{evt.Meta.http_path contains #})",
    ),
    (
        "sensitive_files",
        "sensitive_data.txt",
        "string",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] and any(File("sensitive_data.txt"), { evt.Parsed.request endsWith #})"#,
    ),
    (
        "backdoors",
        "backdoors.txt",
        "string",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] and any(File("backdoors.txt"), { evt.Parsed.file_name == #})"#,
    ),
    (
        "log4j",
        "log4j2_cve_2021_44228.txt",
        "string",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] and
  (
    any(File("log4j2_cve_2021_44228.txt"), { Upper(evt.Meta.http_path) contains Upper(#)})
  or
    any(File("log4j2_cve_2021_44228.txt"), { Upper(evt.Parsed.http_user_agent) contains Upper(#)})
  or
    any(File("log4j2_cve_2021_44228.txt"), { Upper(evt.Parsed.http_referer) contains Upper(#)})
  )"#,
    ),
    (
        "jira",
        "jira_cve_2021-26086.txt",
        "string",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] and any(File("jira_cve_2021-26086.txt"), {Upper(evt.Meta.http_path) contains Upper(#)})"#,
    ),
    (
        "thinkphp",
        "thinkphp_cve_2018-20062.txt",
        "string",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] and any(File("thinkphp_cve_2018-20062.txt"), {Upper(evt.Meta.http_path) matches Upper(#)})"#,
    ),
    (
        "bad_user_agent",
        "bad_user_agents.regex.txt",
        "regexp",
        r#"evt.Meta.log_type in ["http_access-log", "http_error-log"] && RegexpInFile(evt.Parsed.http_user_agent, "bad_user_agents.regex.txt")"#,
    ),
    (
        "cve_2022_42889",
        "",
        "",
        r#"Upper(PathUnescape(evt.Meta.http_path)) contains Upper('${script:javascript:java.lang.Runtime.getRuntime().exec(')
  or
  Upper(PathUnescape(evt.Meta.http_path)) contains Upper('${script:js:java.lang.Runtime.getRuntime().exec(')
  or
  Upper(PathUnescape(evt.Meta.http_path)) contains Upper('${url:UTF-8:')
  or
  Upper(PathUnescape(evt.Meta.http_path)) contains Upper('${dns:address|')"#,
    ),
];

/// An nginx access event as the hub's nginx-logs parser leaves it.
fn access_event(path: &str, args: &str, user_agent: &str) -> Event {
    let request = if args.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{args}")
    };
    let file_name = path.rsplit('/').next().unwrap_or_default().to_owned();
    let mut evt = Event::new_log("bench", "file");
    for (k, v) in [
        ("log_type", "http_access-log"),
        ("service", "http"),
        ("http_path", request.as_str()),
        ("http_status", "200"),
        ("http_verb", "GET"),
        ("source_ip", "51.146.114.84"),
    ] {
        evt.set_meta(k, v);
    }
    for (k, v) in [
        ("request", request.as_str()),
        ("http_args", args),
        ("file_name", file_name.as_str()),
        ("http_user_agent", user_agent),
        (
            "http_referer",
            "https://blog.example.org/2024/04/zero-downtime-deploys/",
        ),
        ("verb", "GET"),
        ("static_ressource", "false"),
    ] {
        evt.set_parsed(k, v);
    }
    evt
}

fn programs() -> Vec<(&'static str, Program)> {
    let helpers = Helpers::new();
    let data = shared_dir().join("hub/data");
    for (_, file, kind, _) in FILTERS {
        if !file.is_empty() {
            helpers
                .data_files()
                .load(&data, file, kind)
                .unwrap_or_else(|e| panic!("hub data file {file}: {e}"));
        }
    }
    let mut env = Environment::event();
    helpers.register(&mut env);
    FILTERS
        .iter()
        .map(|(name, _, _, src)| {
            let p = compile(src, &env).unwrap_or_else(|e| panic!("{name}: {e}"));
            (*name, p)
        })
        .collect()
}

fn filters(c: &mut Criterion) {
    let programs = programs();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0";
    let events = [
        access_event("/wp-includes/js/jquery/jquery.min.js", "ver=3.7.1", firefox),
        access_event("/2024/04/zero-downtime-deploys/", "", firefox),
        access_event("/search", "q=1%27%20OR%201=1--", "sqlmap/1.7"),
    ];
    for (name, p) in &programs {
        c.bench_function(&format!("scenario_filter/{name}"), |b| {
            b.iter(|| {
                for evt in &events {
                    black_box(p.eval_event(black_box(evt)).is_ok());
                }
            })
        });
    }
    c.bench_function("scenario_filter/all", |b| {
        b.iter(|| {
            for evt in &events {
                for (_, p) in &programs {
                    black_box(p.eval_event(black_box(evt)).is_ok());
                }
            }
        })
    });
}

criterion_group!(benches, filters);
criterion_main!(benches);
