//! The pattern library shipped with this crate agrees with upstream's patterns (grokky's base
//! patterns and the hub's pattern files) wherever both define a name: same match or no match
//! and same fields on every sample string.

mod common;

use std::collections::BTreeMap;

use cs_grok::{Grok, Patterns};

/// Sample strings: log lines and values of every kind the shared names describe.
const SAMPLES: &[&str] = &[
    // sshd messages (the `message` part of syslog lines)
    "Failed password for root from 192.168.13.37 port 40188 ssh2",
    "Failed password for invalid user admin from 2001:db8::1 port 22 ssh2",
    "Failed publickey for git from 10.0.0.5 port 51234 ssh2: RSA SHA256:abc",
    "Invalid user oracle from 203.0.113.77",
    "Invalid user  from 203.0.113.78 port 4242",
    "Accepted publickey for deploy from 198.51.100.4 port 50022 ssh2: ED25519 SHA256:xyz",
    "Received disconnect from 198.51.100.4 port 50022:11: disconnected by user",
    "Disconnected from 198.51.100.4 port 50022 [preauth]",
    "Disconnected from 198.51.100.4 port 50022",
    "Connection closed by 192.0.2.10 port 33333 [preauth]",
    "Connection closed by 192.0.2.10",
    "Connection reset by 192.0.2.11 port 34444 [preauth]",
    "error: maximum authentication attempts exceeded for invalid user test from 192.0.2.12 port 35555 ssh2 [preauth]",
    "error: maximum authentication attempts exceeded for root from 192.0.2.13 port 36666 ssh2",
    "Did not receive identification string from 192.0.2.14",
    "Disconnecting: Too many authentication failures for root",
    "Bad protocol version identification 'GET / HTTP/1.1' from 192.0.2.15",
    // syslog lines
    "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 1.2.3.4",
    "Nov  2 07:01:44 web-01 CRON[2211]: (root) CMD (run-parts /etc/cron.hourly)",
    "Nov 22 10:14:03 bastion.example.org sshd[991]: pam_unix(sshd:session): session opened for user deploy by (uid=0)",
    "2026-11-22T10:14:03.123456+01:00 gw kernel: [12345.678901] IN=eth0 OUT= MAC=00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00 SRC=99.99.99.99 DST=127.0.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=245 ID=51006 PROTO=TCP SPT=45225 DPT=8888 WINDOW=1024 RES=0x00 SYN URGP=0",
    "Mar  3 01:02:03 <4.6> host01 myprog: hello world",
    "<34>1 2026-11-22T10:14:03.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8",
    "<165>1 2026-11-22T22:14:15.003-07:00 192.0.2.1 myproc 8710 - [exampleSDID@32473 iut=\"3\"] An application event",
    "Jan 1 00:00:00 host proc:",
    // HTTP servers
    r#"203.0.113.9 - - [22/Nov/2026:10:14:03 +0000] "GET /wp-login.php?redirect_to=%2Fadmin HTTP/1.1" 404 153 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
    r#"2001:db8::42 - bob [01/Jan/2026:00:00:01 -0500] "POST /api/v1/login HTTP/2.0" 200 2326 "https://example.com/" "curl/8.5.0""#,
    r#"198.51.100.23 - john@example.com [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
    r#"127.0.0.1 - - [28/Jan/2016:14:19:36 +0300] "GET /zero.html HTTP/1.1" 200 398 "-" "Mozilla/5.0""#,
    r#"192.0.2.1 - - [28/Jan/2016:14:19:36 +0300] "garbage request" 400 0 "-" "-""#,
    "2026/11/22 10:14:03 [error] 1234#1234: *5 open() \"/var/www/html/favicon.ico\" failed (2: No such file or directory)",
    "2026/11/22 10:14:03 [warn] 77#0: conflicting server name",
    "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /export/home/live/ap/htdocs/test",
    "[Sun Nov 22 10:14:03.123456 2026] [core:error] [pid 1234:tid 5678] [client 203.0.113.5:51234] AH00126: Invalid URI in request GET /../etc/passwd",
    "[Sun Nov 22 10:14:03 2026] [proxy:error] [pid 99] (111)Connection refused: AH00957: attempt to connect failed",
    // values
    "1.2.3.4",
    "255.255.255.255",
    "10.0.0.256",
    "01.02.03.004",
    "::1",
    "fe80::1%eth0",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "::ffff:192.0.2.128",
    "1:2:3:4:5:6:7::",
    "1::2:3:4:5:6:7",
    "host.example.com.",
    "a-b.c",
    "-leading.example",
    "00:1a:2b:3c:4d:5e",
    "00-1A-2B-3C-4D-5E",
    "001a.2b3c.4d5e",
    "/usr/local/bin/crowdsec",
    "/dev/pts/3",
    "/dev/ttyp0",
    "C:\\Windows\\System32\\cmd.exe",
    "\\\\server\\share\\file",
    "https://user:pw@example.com:8443/path/to;x=1?q=a&b=%20#frag",
    "ftp://files.example.org/pub/",
    "svn+ssh://host/repo",
    "/index.php?id=1&cat=[2]",
    "550e8400-e29b-41d4-a716-446655440000",
    "user.name-1_x",
    "first.last+tag=1:2@example.com",
    "-12",
    "+7",
    "3.14",
    ".5",
    "-0x1F",
    "0xdeadbeef",
    "1e10",
    "007",
    "0",
    "\"quoted \\\"string\\\"\"",
    "'single'",
    "`back`",
    "\"\"",
    "''",
    "2026-11-22T10:14:03Z",
    "2026-11-22 10:14:03,123+0100",
    "2026-11-22T10:14:03.123456789+01:00",
    "20261122101403",
    "11/22/2026 10:14:03",
    "22.11.2026-10:14:03",
    "2026/11/22",
    "Sun, 22 Nov 2026 10:14:03 +0100",
    "Sun Nov 22 10:14:03 UTC 2026",
    "Sun Nov 22 10:14:03 2026\"",
    "Sun Nov 22 10:14:03 2026",
    "Sun Nov 22 2026 10:14:03 CET",
    "Mon Jan 02 15:04:05 -0700 2006",
    "02 Jan 06 15:04 -0700",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 -0700",
    "2006-01-02T15:04:05.999999999Z07:00",
    "3:04PM",
    "11:59am",
    "Jan  1 00:00:00",
    "Sept 5 12:00:60",
    "März 3 01:02:03",
    "Mai 17 01:02:03",
    "Okt 17 01:02:03",
    "Dezember 24 18:00:00",
    "22/Nov/2026:10:14:03 +0000",
    "24:00:00",
    "23:59:60.5",
    "ERROR",
    "warning",
    "Crit",
    "EMERGENCY",
    "fatal",
    "notice",
    "[info]",
    "TRACE",
    "<13.6>",
    "<0.0>",
    "[a][b]",
    "Server",
    "     ",
    "",
    "VALUE1",
    "VALUE3",
    "RATATA",
];

/// Names both collections define.
fn shared_names(ours: &Patterns, upstream: &Patterns) -> Vec<String> {
    ours.names()
        .filter(|n| upstream.get(n).is_some())
        .map(str::to_string)
        .collect()
}

type Fields = Option<BTreeMap<String, String>>;

fn run(grok: &Grok, line: &str) -> Fields {
    grok.captures(line).map(|c| {
        c.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

/// `%{NAME:grok_match}`: the direct field also compares what the pattern matched.
fn compile(host: &Patterns, name: &str) -> Grok {
    host.compile(&format!("%{{{name}:grok_match}}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn builtin_library_agrees_with_upstream() {
    let ours = Patterns::builtin();
    assert!(ours.check_all().is_empty(), "{:?}", ours.check_all());
    let upstream = common::upstream_host();
    let sample_file = common::shared_dir().join("upstream-testdata/parser/sample_strings.txt");
    let extra = std::fs::read_to_string(&sample_file)
        .unwrap_or_else(|e| panic!("{}: {e}", sample_file.display()));
    let samples: Vec<&str> = SAMPLES.iter().copied().chain(extra.lines()).collect();

    let names = shared_names(&ours, &upstream);
    let mut disagreements = Vec::new();
    let mut never_matched = Vec::new();
    for name in &names {
        let (mine, theirs) = (compile(&ours, name), compile(&upstream, name));
        let mut matched = 0;
        for line in &samples {
            let (a, b) = (run(&mine, line), run(&theirs, line));
            if a != b {
                disagreements.push(format!(
                    "{name} on {line:?}:\n    ours:     {a:?}\n    upstream: {b:?}"
                ));
            }
            matched += usize::from(b.is_some());
        }
        if matched == 0 {
            never_matched.push(name.as_str());
        }
    }
    println!(
        "{} shared names compared on {} samples",
        names.len(),
        samples.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        never_matched.is_empty(),
        "names no sample exercises: {never_matched:?}"
    );
    // Only the netfilter names are this project's own; all others exist upstream.
    let own: Vec<&str> = ours.names().filter(|n| upstream.get(n).is_none()).collect();
    assert_eq!(
        own,
        [
            "NETFILTER_IFACE",
            "NETFILTER_MAC",
            "NETFILTER_FIELDS",
            "IPTABLES_LOG",
            "NFTABLES_LOG"
        ]
    );
    assert_eq!(names.len(), ours.len() - own.len());
}

#[test]
fn netfilter_patterns() {
    let ours = Patterns::builtin();
    let grok = ours.compile("%{IPTABLES_LOG}").unwrap();
    let line = "[12345.678901] DROP IN=eth0 OUT= MAC=00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00 SRC=99.99.99.99 DST=127.0.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=245 ID=51006 PROTO=TCP SPT=45225 DPT=8888 WINDOW=1024 RES=0x00 SYN URGP=0";
    let caps = grok.captures(line).expect("iptables line");
    let get = |k: &str| caps.get(k).unwrap_or_else(|| panic!("no field {k}"));
    assert_eq!(
        [
            get("kernel_uptime"),
            get("log_prefix"),
            get("in_interface"),
            get("out_interface")
        ],
        ["12345.678901", "DROP", "eth0", ""]
    );
    assert_eq!(
        [
            get("src_ip"),
            get("dst_ip"),
            get("protocol"),
            get("src_port"),
            get("dst_port")
        ],
        ["99.99.99.99", "127.0.0.1", "TCP", "45225", "8888"]
    );
    assert_eq!(get("mac"), "00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00");

    let nft = ours.compile("%{NFTABLES_LOG}").unwrap();
    let line = "nft-drop: IN=ens3 OUT= SRC=2001:db8::7 DST=2001:db8::1 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0";
    let caps = nft.captures(line).expect("nftables line");
    assert_eq!(caps.get("log_prefix"), Some("nft-drop:"));
    assert_eq!(caps.get("src_ip"), Some("2001:db8::7"));
    assert_eq!(caps.get("protocol"), Some("ICMPv6"));
    assert_eq!(caps.get("dst_port"), Some(""));
    assert!(nft.captures("IN=eth0 OUT= SRC=garbage").is_none());
}
