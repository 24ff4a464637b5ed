//! Grok matching throughput on real hub patterns: sshd failed password, nginx access and
//! syslog lines, matching and not.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../tests/common/mod.rs"]
mod common;

const SSHD_HIT: &str = "Failed password for root from 192.168.13.37 port 40188 ssh2";
const SSHD_MISS: &str =
    "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)";
/// Passes the literal prefilter, rejected by the regex.
const SSHD_NEAR_MISS: &str = "Failed password for root from unknown.host port 40188 ssh2";
const SYSLOG_LINE: &str = "Nov 22 10:14:03 bastion sshd[991]: Failed password for root from 192.168.13.37 port 40188 ssh2";
const NGINX_HIT: &str = r#"203.0.113.9 - - [22/Nov/2026:10:14:03 +0000] "GET /wp-login.php?redirect_to=%2Fadmin HTTP/1.1" 404 153 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36""#;
const NGINX_MISS: &str = "2026/11/22 10:14:03 [error] 1234#1234: *5 open() \"/var/www/html/favicon.ico\" failed (2: No such file or directory)";

fn bench(c: &mut Criterion) {
    let shared = common::shared_dir();
    let mut host = common::upstream_host();
    let parsers = shared.join("hub/parsers/s01-parse/crowdsecurity");
    let sshd = common::read_parser_file(&parsers.join("sshd-logs.yaml"));
    let nginx = common::read_parser_file(&parsers.join("nginx-logs.yaml"));
    common::add_pattern_syntax(&mut host, &sshd).expect("sshd pattern_syntax");
    common::add_pattern_syntax(&mut host, &nginx).expect("nginx pattern_syntax");

    let sshd_fail = host.compile_named("SSHD_FAIL").expect("SSHD_FAIL");
    let nginx_pattern = nginx.groks[0].pattern.clone().expect("nginx access grok");
    let nginx_access = host.compile(&nginx_pattern).expect("nginx access pattern");
    let syslog = host.compile("^%{SYSLOGLINE}").expect("SYSLOGLINE");
    assert!(sshd_fail.captures(SSHD_HIT).is_some() && sshd_fail.captures(SSHD_MISS).is_none());
    assert!(sshd_fail.captures(SSHD_NEAR_MISS).is_none() && syslog.captures(SYSLOG_LINE).is_some());
    assert!(
        nginx_access.captures(NGINX_HIT).is_some() && nginx_access.captures(NGINX_MISS).is_none()
    );

    let mut group = c.benchmark_group("grok");
    group.throughput(Throughput::Elements(1));
    for (name, grok, line) in [
        ("sshd_failed_password/match", &sshd_fail, SSHD_HIT),
        ("sshd_failed_password/miss", &sshd_fail, SSHD_MISS),
        ("sshd_failed_password/near_miss", &sshd_fail, SSHD_NEAR_MISS),
        ("nginx_access/match", &nginx_access, NGINX_HIT),
        ("nginx_access/miss", &nginx_access, NGINX_MISS),
        ("syslog_line/match", &syslog, SYSLOG_LINE),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                grok.captures(black_box(line))
                    .map(|c| c.iter().map(|(_, v)| v.len()).sum::<usize>())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
