//! Criterion benchmarks of the hub's HTTP scenario filters that scan data files
//! (`any(File(...), {...})`, `RegexpInFile`) on nginx access events, one at a time and as the
//! whole set an access-log event goes through; and of the filters of every scenario installed by
//! the collections crowdsecurity/linux, sshd, nginx and base-http-scenarios (read from the hub's
//! `.index.json`), evaluated the way the bucket engine does on a few representative access-log
//! events.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use cs_expr::{Effects, Environment, Memo, Program, Value, compile};
use cs_expr_helpers::Helpers;
use cs_types::Event;
use serde::Deserialize;

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
    access_event_with(path, args, user_agent, "GET", "200")
}

/// [`access_event`] with a verb and a status.
fn access_event_with(path: &str, args: &str, user_agent: &str, verb: &str, status: &str) -> Event {
    let request = if args.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{args}")
    };
    let file_name = path.rsplit('/').next().unwrap_or_default().to_owned();
    let file_dir = &path[..path.len() - file_name.len()];
    let (file_frag, file_ext) = match file_name.rfind('.') {
        Some(dot) => file_name.split_at(dot),
        None => (file_name.as_str(), ""),
    };
    let static_ressource = [".js", ".css", ".png", ".jpg", ".svg", ".ico", ".woff2"]
        .contains(&file_ext.to_ascii_lowercase().as_str());
    let mut evt = Event::new_log("bench", "file");
    for (k, v) in [
        ("log_type", "http_access-log"),
        ("service", "http"),
        ("http_path", request.as_str()),
        ("http_status", status),
        ("http_verb", verb),
        ("http_user_agent", user_agent),
        ("source_ip", "51.146.114.84"),
    ] {
        evt.set_meta(k, v);
    }
    for (k, v) in [
        ("request", request.as_str()),
        ("http_args", args),
        ("file_name", file_name.as_str()),
        ("file_dir", file_dir),
        ("file_frag", file_frag),
        ("file_ext", file_ext),
        ("http_user_agent", user_agent),
        (
            "http_referer",
            "https://blog.example.org/2024/04/zero-downtime-deploys/",
        ),
        ("verb", verb),
        (
            "static_ressource",
            if static_ressource { "true" } else { "false" },
        ),
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

/// The collections whose scenarios [`hub_programs`] compiles.
const COLLECTIONS: &[&str] = &[
    "crowdsecurity/linux",
    "crowdsecurity/sshd",
    "crowdsecurity/nginx",
    "crowdsecurity/base-http-scenarios",
];

/// The scenario files of `collection` and of the collections it includes.
fn scenario_paths(index: &serde_json::Value, collection: &str, out: &mut Vec<String>) {
    let item = &index["collections"][collection];
    for name in item["scenarios"].as_array().into_iter().flatten() {
        let path = index["scenarios"][name.as_str().unwrap_or_default()]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("scenario {name} is not in the hub index"));
        if !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    }
    for sub in item["collections"].as_array().into_iter().flatten() {
        scenario_paths(index, sub.as_str().unwrap_or_default(), out);
    }
}

/// The `filter` of every scenario (every YAML document) of [`COLLECTIONS`], compiled with the
/// data files the scenarios declare loaded.
fn hub_programs() -> Vec<(String, Program)> {
    let hub = shared_dir().join("hub");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(hub.join(".index.json")).expect("hub index"))
            .expect("hub index JSON");
    let mut paths = Vec::new();
    for collection in COLLECTIONS {
        scenario_paths(&index, collection, &mut paths);
    }
    let helpers = Helpers::new();
    let mut env = Environment::event();
    helpers.register(&mut env);
    let mut programs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(hub.join(&path)).expect("scenario file");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc = serde_yaml::Value::deserialize(doc).expect("scenario YAML");
            let Some(filter) = doc["filter"].as_str() else {
                continue;
            };
            for data in doc["data"].as_sequence().into_iter().flatten() {
                let (file, kind) = (data["dest_file"].as_str(), data["type"].as_str());
                helpers
                    .data_files()
                    .load(
                        &hub.join("data"),
                        file.unwrap_or_default(),
                        kind.unwrap_or_default(),
                    )
                    .unwrap_or_else(|e| panic!("{path}: data file {file:?}: {e}"));
            }
            let name = doc["name"].as_str().unwrap_or(&path).to_owned();
            let program = compile(filter, &env).unwrap_or_else(|e| panic!("{name}: {e}"));
            programs.push((name, program));
        }
    }
    programs
}

/// Representative access-log events: static assets, pages, a probe answered 404, a login POST
/// and an injection attempt.
fn hub_events() -> Vec<Event> {
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0";
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    vec![
        access_event_with(
            "/wp-includes/js/jquery/jquery.min.js",
            "ver=3.7.1",
            firefox,
            "GET",
            "200",
        ),
        access_event_with("/assets/css/main.css", "", chrome, "GET", "304"),
        access_event_with("/2024/04/zero-downtime-deploys/", "", firefox, "GET", "200"),
        access_event_with("/wp-login.php", "", chrome, "POST", "200"),
        access_event_with(
            "/phpmyadmin/index.php",
            "lang=en",
            "Go-http-client/1.1",
            "GET",
            "404",
        ),
        access_event_with("/search", "q=1%27%20OR%201=1--", "sqlmap/1.7", "GET", "200"),
    ]
}

/// Every hub filter on every event, as the bucket engine runs them (side effects collected),
/// without and with a [`Memo`] of the predicates shared by the filters of one event.
fn hub_filters(c: &mut Criterion) {
    let programs = hub_programs();
    let events = hub_events();
    c.bench_function(
        &format!("scenario_filter/hub_{}_filters", programs.len()),
        |b| {
            b.iter(|| {
                for evt in &events {
                    for (_, p) in &programs {
                        let mut effects = Effects::new();
                        let v = p.run(&[Value::object(black_box(evt))], &mut effects);
                        black_box((v.is_ok(), effects.is_empty()));
                    }
                }
            })
        },
    );
    let mut memo = Memo::new();
    c.bench_function(
        &format!("scenario_filter/hub_{}_filters_memo", programs.len()),
        |b| {
            b.iter(|| {
                for evt in &events {
                    memo.clear();
                    for (_, p) in &programs {
                        let mut effects = Effects::new();
                        let v =
                            p.run_memo(&[Value::object(black_box(evt))], &mut effects, &mut memo);
                        black_box((v.is_ok(), effects.is_empty()));
                    }
                }
            })
        },
    );
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

criterion_group!(benches, filters, hub_filters);
criterion_main!(benches);
