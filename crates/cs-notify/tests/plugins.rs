//! The broker against upstream's real plugin binaries (the Debian package's `http`, `dummy`,
//! `slack`, `splunk`, `email`), delivering to loopback HTTP and SMTP servers and to a file this
//! test owns.
//!
//! The binaries come from the reference install (`$CS_REF_ROOT`, default `/opt/crowdsec-ref`,
//! made by `../shared/bench/install-reference.sh`). Under `CI=true` their absence fails the test.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cs_models::Alert;
use cs_notify::{Broker, BrokerOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The directory of the reference plugin binaries, or `None` (outside CI) when not installed.
fn plugin_dir() -> Option<PathBuf> {
    let root = std::env::var("CS_REF_ROOT").unwrap_or_else(|_| "/opt/crowdsec-ref".into());
    let dir = Path::new(&root).join("usr/lib/crowdsec/plugins");
    if ["http", "dummy", "slack", "splunk", "email"]
        .iter()
        .all(|p| dir.join(p).is_file())
    {
        return Some(dir);
    }
    let msg = format!(
        "upstream notification plugins not found in {} (run ../shared/bench/install-reference.sh)",
        dir.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipping: {msg}");
    None
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn alert(ip: &str, cn: &str) -> Alert {
    let json = format!(
        r#"{{"capacity":5,"created_at":"2026-11-22T10:00:00Z","decisions":[{{"duration":"4h","origin":"crowdsec","scenario":"crowdsecurity/ssh-bf","scope":"Ip","type":"ban","value":"{ip}"}}],"events":[],"events_count":6,"leakspeed":"10s","machine_id":"host-1","message":"Ip {ip} performed 'crowdsecurity/ssh-bf' (6 events over 3s)","remediation":true,"scenario":"crowdsecurity/ssh-bf","scenario_hash":"h","scenario_version":"0.1","simulated":false,"source":{{"cn":"{cn}","ip":"{ip}","scope":"Ip","value":"{ip}"}},"start_at":"2026-11-22T09:59:00Z","stop_at":"2026-11-22T09:59:03Z"}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// One request the loopback server received.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server answering 200 to everything (the first `slow` requests only after
/// `delay`); each request is sent on the returned channel.
async fn http_server(slow: usize, delay: Duration) -> (String, mpsc::UnboundedReceiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            let served = served.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_owned();
                    let path = parts.next().unwrap_or_default().to_owned();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if rd.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.push((k.trim().to_owned(), v.trim().to_owned()));
                        }
                    }
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if rd.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = tx.send(Request {
                        method,
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    if n < slow {
                        tokio::time::sleep(delay).await;
                    }
                    let resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
                    if wr.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Request>) -> Request {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no request reached the loopback server within 30s")
        .expect("server stopped")
}

fn options(notification_dir: &Path, plugin_dir: &Path, used: &[&str]) -> BrokerOptions {
    let (user, group) = if is_root() {
        ("nobody".to_owned(), "nogroup".to_owned())
    } else {
        (String::new(), String::new())
    };
    BrokerOptions {
        notification_dir: notification_dir.to_owned(),
        plugin_dir: plugin_dir.to_owned(),
        user,
        group,
        used: used.iter().map(|s| (*s).to_owned()).collect(),
    }
}

const SLACK_LIKE: &str = "{{range . -}}\n{{$alert := . -}}\n{{range .Decisions -}}\n{{if $alert.Source.Cn -}}\n:flag-{{$alert.Source.Cn}}: {{.Value}} will get {{.Type}} for next {{.Duration}} for triggering {{.Scenario}} on machine '{{$alert.MachineID}}'.{{end}}\n{{end -}}\n{{end -}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_plugin_posts_templated_alerts_and_groups_by_threshold() {
    let Some(plugins) = plugin_dir() else { return };
    let (url, mut rx) = http_server(0, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let format = SLACK_LIKE.replace('\n', "\n  ");
    let yaml = format!(
        "type: http\nname: http_text\nlog_level: debug\nformat: |\n  {format}\nurl: {url}/hook\nmethod: POST\nheaders:\n  X-Test: yes-${{HOME}}\n---\ntype: http\nname: http_json\ngroup_threshold: 2\ngroup_wait: 1h\nformat: |\n  {{{{.|toJson}}}}\nurl: {url}/json\nmethod: PUT\n"
    );
    std::fs::write(dir.path().join("http.yaml"), yaml).unwrap();
    let broker = Broker::start(options(dir.path(), &plugins, &["http_text", "http_json"]))
        .await
        .unwrap();
    let d = broker.dispatcher();
    assert_eq!(d.notifications(), vec!["http_json", "http_text"]);

    let first = alert("192.0.2.1", "FR");
    d.dispatch(&["http_text".to_owned()], &first);
    let req = next(&mut rx).await;
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    assert_eq!(
        req.body,
        ":flag-FR: 192.0.2.1 will get ban for next 4h for triggering crowdsecurity/ssh-bf on machine 'host-1'.\n"
    );
    // `${HOME}` was expanded from our environment before the plugin got its configuration.
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(req.header("X-Test"), Some(format!("yes-{home}").as_str()));

    // group_threshold 2: nothing for the first alert, one message carrying both for the second.
    let second = alert("192.0.2.2", "DE");
    d.dispatch(&["http_json".to_owned()], &first);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rx.try_recv().is_err(), "sent before the threshold");
    d.dispatch(&["http_json".to_owned()], &second);
    let req = next(&mut rx).await;
    assert_eq!((req.method.as_str(), req.path.as_str()), ("PUT", "/json"));
    let got: Vec<Alert> = serde_json::from_str(req.body.trim_end()).unwrap();
    assert_eq!(got, vec![first.clone(), second]);

    // An unknown name is logged and ignored.
    d.dispatch(&["nope".to_owned()], &first);
    broker.shutdown().await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_then_retry() {
    let Some(plugins) = plugin_dir() else { return };
    // The first request is answered after 4s: past the 1s timeout, so a second attempt is made.
    let (url, mut rx) = http_server(1, Duration::from_secs(4)).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "type: http\nname: h\nmax_retry: 2\ntimeout: 1s\nformat: '{{{{range .}}}}{{{{.Source.IP}}}}{{{{end}}}}'\nurl: {url}/r\nmethod: POST\n"
    );
    std::fs::write(dir.path().join("h.yaml"), yaml).unwrap();
    let broker = Broker::start(options(dir.path(), &plugins, &["h"]))
        .await
        .unwrap();
    broker
        .dispatcher()
        .dispatch(&["h".to_owned()], &alert("192.0.2.9", ""));
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(
        (a.body.as_str(), b.body.as_str()),
        ("192.0.2.9", "192.0.2.9")
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dummy_plugin_gets_pending_alerts_on_shutdown() {
    let Some(plugins) = plugin_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // The plugin may run as nobody: let it write there.
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = out_dir.join("notifications.txt");
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("dummy.yaml"),
        format!(
            "type: dummy\nname: dummy_default\ngroup_wait: 1h\nformat: |\n  {{{{range .}}}}{{{{.Scenario}}}} {{{{.Source.IP}}}};{{{{end}}}}\noutput_file: {}\n",
            out.display()
        ),
    )
    .unwrap();
    let broker = Broker::start(options(&conf, &plugins, &["dummy_default"]))
        .await
        .unwrap();
    let d = broker.dispatcher();
    d.dispatch(&["dummy_default".to_owned()], &alert("192.0.2.3", ""));
    d.dispatch(&["dummy_default".to_owned()], &alert("192.0.2.4", ""));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!out.exists(), "group_wait 1h: nothing sent yet");
    broker.shutdown().await;
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("crowdsecurity/ssh-bf 192.0.2.3;crowdsecurity/ssh-bf 192.0.2.4;"),
        "{text:?}"
    );
    if is_root() {
        // plugin_config: the plugin ran as nobody, so the file it created is nobody's.
        let owner = std::fs::metadata(&out).unwrap().uid();
        assert_eq!(owner, 65534);
    }
}

#[tokio::test]
async fn start_fails_on_missing_config_or_binary() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&conf).unwrap();
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(conf.join("a.yaml"), "type: http\nname: a\n").unwrap();
    let err = Broker::start(options(&conf, &bin, &["b"]))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "config file for plugin b not found");
    let err = Broker::start(options(&conf, &bin, &["a"]))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "binary for plugin a not found");
    // A binary not speaking go-plugin: the error says so (run as ourselves: the temp dir is private).
    let mine = |used: &[&str]| BrokerOptions {
        user: String::new(),
        group: String::new(),
        ..options(&conf, &bin, used)
    };
    let fake = bin.join("notification-http");
    std::fs::write(&fake, "#!/bin/sh\necho hello\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = Broker::start(mine(&["a"])).await.unwrap_err().to_string();
    assert!(
        err.contains("unrecognized remote plugin message: hello"),
        "{err}"
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o757)).unwrap();
    let err = Broker::start(mine(&["a"])).await.unwrap_err().to_string();
    assert!(err.contains("world writable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_splunk_plugins_post_to_their_webhooks() {
    let Some(plugins) = plugin_dir() else { return };
    let (url, mut rx) = http_server(0, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slack.yaml"),
        format!(
            "type: slack\nname: slack_default\nformat: |\n  {{{{range .}}}}{{{{.Source.IP}}}} banned{{{{end}}}}\nwebhook: {url}/slack\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("splunk.yaml"),
        format!(
            "type: splunk\nname: splunk_default\nformat: |\n  {{{{range .}}}}{{{{.Scenario}}}}{{{{end}}}}\nurl: {url}/splunk\ntoken: tok123\n"
        ),
    )
    .unwrap();
    let broker = Broker::start(options(
        dir.path(),
        &plugins,
        &["slack_default", "splunk_default"],
    ))
    .await
    .unwrap();
    let d = broker.dispatcher();
    d.dispatch(&["slack_default".to_owned()], &alert("192.0.2.5", ""));
    let req = next(&mut rx).await;
    assert_eq!(req.path, "/slack");
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["text"], "192.0.2.5 banned\n");
    d.dispatch(&["splunk_default".to_owned()], &alert("192.0.2.6", ""));
    let req = next(&mut rx).await;
    assert_eq!(req.path, "/splunk");
    assert_eq!(req.header("Authorization"), Some("Splunk tok123"));
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["event"], "crowdsecurity/ssh-bf\n");
    broker.shutdown().await;
}

/// A loopback SMTP server accepting one message; its DATA is sent on the channel.
async fn smtp_server() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                let _ = wr.write_all(b"220 localhost ESMTP test\r\n").await;
                let mut data: Option<String> = None;
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(buf) = data.as_mut() {
                        if line == ".\r\n" {
                            let _ = tx.send(std::mem::take(buf));
                            data = None;
                            let _ = wr.write_all(b"250 OK queued\r\n").await;
                        } else {
                            buf.push_str(&line);
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = wr.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    if wr.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_plugin_sends_through_smtp() {
    let Some(plugins) = plugin_dir() else { return };
    let (port, mut rx) = smtp_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("email.yaml"),
        format!(
            "type: email\nname: email_default\ntimeout: 20s\nformat: |\n  <p>{{{{range .}}}}{{{{.Source.IP}}}} {{{{HTMLEscape .MachineID}}}}{{{{end}}}}</p>\nsmtp_host: 127.0.0.1\nsmtp_port: {port}\nauth_type: none\nsender_name: CrowdSec\nsender_email: cs@example.invalid\nemail_subject: CrowdSec Notification\nreceiver_emails:\n  - admin@example.invalid\nencryption_type: none\n"
        ),
    )
    .unwrap();
    let broker = Broker::start(options(dir.path(), &plugins, &["email_default"]))
        .await
        .unwrap();
    broker
        .dispatcher()
        .dispatch(&["email_default".to_owned()], &alert("192.0.2.7", ""));
    let message = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no mail within 30s")
        .unwrap();
    assert!(
        message.contains("Subject: CrowdSec Notification"),
        "{message}"
    );
    assert!(message.contains("<p>192.0.2.7 host-1</p>"), "{message}");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_at_once_and_reports_failures() {
    let Some(plugins) = plugin_dir() else { return };
    let (url, mut rx) = http_server(0, Duration::ZERO).await;
    // A port nothing listens on: bound, then released.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "type: http\nname: now\ngroup_wait: 1h\nformat: '{{{{range .}}}}{{{{.Source.IP}}}} {{{{end}}}}'\nurl: {url}/now\nmethod: POST\n---\ntype: http\nname: down\nformat: 'x'\nurl: http://127.0.0.1:{closed}/\nmethod: POST\n---\ntype: http\nname: broken\nformat: '{{{{.Nope'\nurl: {url}/broken\nmethod: POST\n"
    );
    std::fs::write(dir.path().join("h.yaml"), yaml).unwrap();
    let broker = Broker::start(options(dir.path(), &plugins, &["now"]))
        .await
        .unwrap();
    // group_wait does not apply: both alerts go in one message before `send` returns.
    broker
        .send("now", &[alert("192.0.2.5", ""), alert("192.0.2.6", "")])
        .await
        .unwrap();
    let req = rx.try_recv().expect("delivered before send returned");
    assert_eq!(req.body, "192.0.2.5 192.0.2.6 ");
    let err = broker.send("down", &[alert("192.0.2.7", "")]).await;
    assert!(err.is_err(), "delivery to a closed port succeeded");
    let err = broker
        .send("broken", &[alert("192.0.2.8", "")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("template"), "{err}");
    let err = broker.send("nope", &[]).await.unwrap_err();
    assert_eq!(err.to_string(), "plugin nope is not configured properly.");
    broker.shutdown().await;
    assert!(rx.try_recv().is_err());
}
