//! Plugin binaries and processes: upstream's ownership and permission checks, the credentials
//! plugins run with, and go-plugin's client side (magic cookie, handshake line, gRPC over the
//! unix socket the plugin announces, plugin logs relayed to ours).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

use crate::{Error, Result, proto};

/// Environment variable carrying go-plugin's magic cookie for CrowdSec plugins.
const COOKIE_KEY: &str = "CROWDSEC_PLUGIN_KEY";
/// go-plugin's core protocol version and CrowdSec's plugin protocol version.
const CORE_PROTOCOL: &str = "1";
const APP_PROTOCOL: &str = "1";
/// How long a plugin has to print its handshake line (go-plugin's default start timeout).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a plugin has to exit after being asked to.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A notification plugin binary found in `plugin_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginBinary {
    /// The notification type it serves (`http`, `slack`, …).
    pub kind: String,
    /// Its path.
    pub path: PathBuf,
}

/// Upstream's checks on a plugin binary: it exists, belongs to the user running us, is neither
/// group- nor world-writable, and is not setgid.
pub fn check_plugin_binary(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::InvalidBinary(format!("plugin at {} does not exist: {e}", path.display()))
    })?;
    let me = current_uid();
    if meta.uid() != me {
        let who = nix::unistd::User::from_uid(me.into())
            .ok()
            .flatten()
            .map_or_else(|| me.to_string(), |u| u.name);
        return Err(Error::InvalidBinary(format!(
            "plugin at {} is not owned by user '{who}'",
            path.display()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(Error::InvalidBinary(format!(
            "plugin at {} is world writable, world writable plugins are invalid",
            path.display()
        )));
    }
    if mode & 0o020 != 0 {
        return Err(Error::InvalidBinary(format!(
            "plugin at {} is group writable, group writable plugins are invalid",
            path.display()
        )));
    }
    if mode & 0o2000 != 0 {
        return Err(Error::InvalidBinary(format!(
            "plugin at {} has setgid permission, which is not allowed",
            path.display()
        )));
    }
    Ok(())
}

/// The effective uid of this process.
fn current_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The notification type a binary serves, from its file name: upstream names binaries
/// `notification-<type>` (the part after the last `-` is the type, the rest the plugin kind);
/// the Debian package installs them as a bare `<type>`. `None` for other kinds of plugins.
fn notification_kind(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    match name.rsplit_once('-') {
        Some(("notification", kind)) if !kind.is_empty() => Some(kind.to_owned()),
        Some(_) => None,
        None => Some(name.to_owned()),
    }
}

/// Every file of `dir` (not recursing), checked as upstream checks them, with the notification
/// type each serves. A file failing the checks fails the whole directory, as upstream.
pub fn find_plugin_binaries(dir: &Path) -> Result<Vec<PluginBinary>> {
    let read_err = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        if !entry.file_type().map_err(read_err)?.is_dir() {
            paths.push(entry.path());
        }
    }
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        check_plugin_binary(&path)?;
        if let Some(kind) = notification_kind(&path) {
            out.push(PluginBinary { kind, path });
        }
    }
    Ok(out)
}

/// The uid and gid plugins run as, from `plugin_config`. Both or neither must be set; names
/// that do not exist are an error. Only a root process can switch: otherwise `None`, and the
/// plugin runs as the current user.
pub(crate) fn credentials(user: &str, group: &str) -> Result<Option<(u32, u32)>> {
    if user.is_empty() && group.is_empty() {
        return Ok(None);
    }
    if user.is_empty() || group.is_empty() {
        return Err(Error::Credentials(
            "both plugin user and group must be set".into(),
        ));
    }
    let uid = match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => u.uid.as_raw(),
        Ok(None) => {
            return Err(Error::Credentials(format!(
                "plugin_config.user: unknown user {user}"
            )));
        }
        Err(e) => {
            return Err(Error::Credentials(format!(
                "plugin_config.user: looking up {user}: {e}"
            )));
        }
    };
    let gid = match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => g.gid.as_raw(),
        Ok(None) => {
            return Err(Error::Credentials(format!(
                "plugin_config.group: unknown group {group}"
            )));
        }
        Err(e) => {
            return Err(Error::Credentials(format!(
                "plugin_config.group: looking up {group}: {e}"
            )));
        }
    };
    Ok((current_uid() == 0).then_some((uid, gid)))
}

/// A running plugin process and the gRPC channel to it.
#[derive(Debug)]
pub(crate) struct PluginProcess {
    binary: PathBuf,
    child: Child,
    channel: Channel,
}

fn spawn_err(binary: &Path, message: impl Into<String>) -> Error {
    Error::Spawn {
        binary: binary.to_owned(),
        message: message.into(),
    }
}

impl PluginProcess {
    /// Starts `binary` (as `creds` when given), reads go-plugin's handshake line and connects.
    pub(crate) async fn start(binary: &Path, creds: Option<(u32, u32)>) -> Result<Self> {
        let mut cmd = Command::new(binary);
        cmd.env(COOKIE_KEY, uuid::Uuid::new_v4().to_string())
            .env("PLUGIN_PROTOCOL_VERSIONS", APP_PROTOCOL)
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some((uid, gid)) = creds {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| spawn_err(binary, format!("cannot execute: {e}")))?;
        let label = binary
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(relay_logs(label.clone(), stderr));
        }
        let Some(stdout) = child.stdout.take() else {
            return Err(spawn_err(binary, "no stdout"));
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        match read {
            Err(_) => {
                let _ = child.kill().await;
                return Err(spawn_err(
                    binary,
                    "timeout while waiting for plugin to start",
                ));
            }
            Ok(Err(e)) => return Err(spawn_err(binary, format!("reading handshake: {e}"))),
            Ok(Ok(0)) => {
                let status = child.wait().await.ok();
                return Err(spawn_err(
                    binary,
                    format!(
                        "plugin exited before we could connect ({})",
                        status.map_or_else(|| "unknown status".into(), |s| s.to_string())
                    ),
                ));
            }
            Ok(Ok(_)) => {}
        }
        tokio::spawn(relay_logs(label, stdout.into_inner()));
        let addr = match parse_handshake(line.trim_end()) {
            Ok(addr) => addr,
            Err(message) => {
                let _ = child.kill().await;
                return Err(spawn_err(binary, message));
            }
        };
        let channel = match connect(&addr).await {
            Ok(c) => c,
            Err(message) => {
                let _ = child.kill().await;
                return Err(spawn_err(binary, message));
            }
        };
        Ok(Self {
            binary: binary.to_owned(),
            child,
            channel,
        })
    }

    /// `Configure` with one notification document.
    pub(crate) async fn configure(&self, name: &str, yaml: Vec<u8>) -> Result<()> {
        proto::configure(&self.channel, yaml)
            .await
            .map_err(|s| Error::Rpc {
                name: name.to_owned(),
                message: format!("while configuring: {}", s.message()),
            })
    }

    /// `Notify` with a rendered text, within `timeout`.
    pub(crate) async fn notify(&self, name: &str, text: &str, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, proto::notify(&self.channel, name, text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(s)) => Err(Error::Rpc {
                name: name.to_owned(),
                message: s.message().to_owned(),
            }),
            Err(_) => Err(Error::Rpc {
                name: name.to_owned(),
                message: "timeout exceeded".into(),
            }),
        }
    }

    /// Asks the plugin to exit, and kills it when it does not within a grace period.
    pub(crate) async fn stop(mut self) {
        tracing::debug!(binary = %self.binary.display(), "stopping plugin");
        let _ = tokio::time::timeout(STOP_GRACE, proto::shutdown(&self.channel)).await;
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!(binary = %self.binary.display(), "plugin did not exit, killing it");
            let _ = self.child.kill().await;
        }
    }
}

/// The address of go-plugin's handshake line
/// `CORE-VERSION|APP-VERSION|NETWORK|ADDRESS|PROTOCOL`.
fn parse_handshake(line: &str) -> Result<Addr, String> {
    let parts: Vec<&str> = line.split('|').collect();
    if parts.len() < 4 {
        return Err(format!("unrecognized remote plugin message: {line}"));
    }
    if parts[0] != CORE_PROTOCOL {
        return Err(format!(
            "incompatible core API version with plugin. Plugin version: {}, Core version: {CORE_PROTOCOL}",
            parts[0]
        ));
    }
    if parts[1] != APP_PROTOCOL {
        return Err(format!(
            "incompatible API version with plugin. Plugin version: {}, Client versions: [{APP_PROTOCOL}]",
            parts[1]
        ));
    }
    let protocol = parts.get(4).copied().unwrap_or("netrpc");
    if protocol != "grpc" {
        return Err(format!(
            "unsupported plugin protocol {protocol:?}. Supported: [grpc]"
        ));
    }
    match parts[2] {
        "unix" => Ok(Addr::Unix(PathBuf::from(parts[3]))),
        "tcp" => Ok(Addr::Tcp(parts[3].to_owned())),
        other => Err(format!("unknown address type: {other}")),
    }
}

/// Where a plugin listens.
#[derive(Debug, PartialEq, Eq)]
enum Addr {
    Unix(PathBuf),
    Tcp(String),
}

async fn connect(addr: &Addr) -> Result<Channel, String> {
    match addr {
        Addr::Tcp(hostport) => Endpoint::try_from(format!("http://{hostport}"))
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("connecting to {hostport}: {e}")),
        Addr::Unix(path) => {
            let path = path.clone();
            let shown = path.display().to_string();
            // The URI is required by the endpoint but unused: the connector dials the socket.
            Endpoint::from_static("http://127.0.0.1:0")
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                }))
                .await
                .map_err(|e| format!("connecting to {shown}: {e}"))
        }
    }
}

/// Relays a plugin's output to our log: go-plugin plugins write hclog JSON lines
/// (`@level`, `@message`, extra fields); anything else is logged as is.
async fn relay_logs(plugin: String, out: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        relay_line(&plugin, &line);
    }
}

fn relay_line(plugin: &str, line: &str) {
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(line) else {
        tracing::info!(plugin, "{line}");
        return;
    };
    let level = fields
        .remove("@level")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let message = fields
        .remove("@message")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    fields.remove("@timestamp");
    let module = fields
        .remove("@module")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let extra = serde_json::Value::Object(fields).to_string();
    match level.as_str() {
        "trace" => tracing::trace!(plugin, module, extra, "{message}"),
        "debug" => tracing::debug!(plugin, module, extra, "{message}"),
        "warn" => tracing::warn!(plugin, module, extra, "{message}"),
        "error" => tracing::error!(plugin, module, extra, "{message}"),
        _ => tracing::info!(plugin, module, extra, "{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_lines() {
        assert_eq!(
            parse_handshake("1|1|unix|/tmp/plugin123|grpc"),
            Ok(Addr::Unix("/tmp/plugin123".into()))
        );
        // What the Debian plugins print: an empty sixth field (no TLS certificate).
        assert_eq!(
            parse_handshake("1|1|unix|/tmp/plugin663289000|grpc|"),
            Ok(Addr::Unix("/tmp/plugin663289000".into()))
        );
        assert_eq!(
            parse_handshake("1|1|tcp|127.0.0.1:10000|grpc|Q0VSVA"),
            Ok(Addr::Tcp("127.0.0.1:10000".into()))
        );
        assert!(
            parse_handshake("1|1|unix|/tmp/p")
                .unwrap_err()
                .contains("netrpc")
        );
        assert!(
            parse_handshake("1|2|unix|/tmp/p|grpc")
                .unwrap_err()
                .contains("incompatible API version")
        );
        assert!(
            parse_handshake("hello")
                .unwrap_err()
                .contains("unrecognized")
        );
    }

    #[test]
    fn binary_names() {
        let kind = |n: &str| notification_kind(Path::new(n));
        assert_eq!(kind("/p/notification-http").as_deref(), Some("http"));
        assert_eq!(kind("/p/slack").as_deref(), Some("slack"));
        assert_eq!(kind("/p/datasource-foo"), None);
        assert_eq!(kind("/p/notification-"), None);
    }

    #[test]
    fn binary_checks_follow_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("notification-x");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let set = |mode| std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(mode));
        set(0o755).unwrap();
        check_plugin_binary(&bin).unwrap();
        set(0o775).unwrap();
        assert!(
            check_plugin_binary(&bin)
                .unwrap_err()
                .to_string()
                .contains("group writable")
        );
        set(0o757).unwrap();
        assert!(
            check_plugin_binary(&bin)
                .unwrap_err()
                .to_string()
                .contains("world writable")
        );
        set(0o2755).unwrap();
        assert!(
            check_plugin_binary(&bin)
                .unwrap_err()
                .to_string()
                .contains("setgid")
        );
        set(0o755).unwrap();
        let found = find_plugin_binaries(dir.path()).unwrap();
        assert_eq!(
            found,
            vec![PluginBinary {
                kind: "x".into(),
                path: bin.clone()
            }]
        );
        let missing = dir.path().join("nope");
        assert!(
            check_plugin_binary(&missing)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn credentials_need_both_and_existing_names() {
        assert_eq!(credentials("", "").unwrap(), None);
        assert!(
            credentials("nobody", "")
                .unwrap_err()
                .to_string()
                .contains("both plugin user and group")
        );
        let err = credentials("no-such-user-cs", "nogroup").unwrap_err();
        assert!(
            err.to_string().contains("unknown user no-such-user-cs"),
            "{err}"
        );
        let err = credentials("root", "no-such-group-cs").unwrap_err();
        assert!(
            err.to_string().contains("unknown group no-such-group-cs"),
            "{err}"
        );
        let root = credentials("root", "root").unwrap();
        if current_uid() == 0 {
            assert_eq!(root, Some((0, 0)));
        } else {
            assert_eq!(root, None);
        }
    }
}
