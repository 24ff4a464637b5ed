//! `cscli machines`: machines (watchers) in the database.

use std::io::Write as _;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use cs_config::ApiCredentials;
use cs_store::{Machine, NewMachine};
use rand::Rng as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{MachinesAdd, MachinesCmd, OutputFormat};
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// Runs `cscli machines ...`.
pub async fn run(ctx: &Ctx, cmd: MachinesCmd) -> Result<()> {
    match cmd {
        MachinesCmd::List => list(ctx).await,
        MachinesCmd::Add(args) => add(ctx, args).await,
        MachinesCmd::Delete {
            names,
            ignore_missing,
        } => {
            let store = ctx.store().await?;
            for name in names {
                match store.delete_machine(&name).await {
                    Ok(()) => tracing::info!("machine '{name}' deleted successfully"),
                    Err(e) if e.is_not_found() && ignore_missing => {}
                    Err(e) => return Err(e).context(format!("unable to delete machine '{name}'")),
                }
            }
            Ok(())
        }
        MachinesCmd::Validate { name } => {
            let store = ctx.store().await?;
            store
                .validate_machine(&name)
                .await
                .with_context(|| format!("unable to validate machine '{name}'"))?;
            tracing::info!("machine '{name}' validated successfully");
            Ok(())
        }
    }
}

/// Go's `time.Time` JSON form.
pub fn go_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Time since `t`, truncated to the second, as a Go duration.
pub fn since(t: DateTime<Utc>) -> String {
    let secs = (Utc::now() - t).num_seconds();
    cs_models::format_duration(secs.saturating_mul(1_000_000_000))
}

/// A machine as upstream's `machines list -o json` prints it (the database entity's JSON
/// form, fields in its order, empty optional fields omitted).
#[derive(Serialize)]
struct MachineJson<'a> {
    id: i64,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_push: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_heartbeat: Option<String>,
    #[serde(rename = "machineId", skip_serializing_if = "str::is_empty")]
    machine_id: &'a str,
    #[serde(rename = "ipAddress", skip_serializing_if = "str::is_empty")]
    ip_address: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scenarios: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(rename = "isValidated", skip_serializing_if = "std::ops::Not::not")]
    is_validated: bool,
    auth_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    osname: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    osversion: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    featureflags: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hubstate: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datasources: Option<Value>,
    edges: Value,
}

fn json_field(s: &str) -> Option<Value> {
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| !v.is_null())
}

fn machine_json(m: &Machine) -> MachineJson<'_> {
    MachineJson {
        id: m.id,
        created_at: go_time(m.created_at),
        updated_at: go_time(m.updated_at),
        last_push: m.last_push.map(go_time),
        last_heartbeat: m.last_heartbeat.map(go_time),
        machine_id: &m.machine_id,
        ip_address: &m.ip_address,
        scenarios: &m.scenarios,
        version: &m.version,
        is_validated: m.is_validated,
        auth_type: &m.auth_type,
        osname: &m.os_name,
        osversion: &m.os_version,
        featureflags: &m.feature_flags,
        hubstate: json_field(&m.hub_state),
        datasources: json_field(&m.datasources),
        edges: json!({}),
    }
}

fn os(m: &Machine) -> String {
    if m.os_name.is_empty() {
        "?".to_string()
    } else {
        format!("{}/{}", m.os_name, m.os_version)
    }
}

fn heartbeat(m: &Machine) -> String {
    m.last_heartbeat.map_or_else(|| "-".to_string(), since)
}

async fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.store().await?;
    let machines = store
        .list_machines()
        .await
        .context("unable to list machines")?;
    let out = match ctx.output {
        OutputFormat::Json => {
            json_indent(&machines.iter().map(machine_json).collect::<Vec<_>>(), "  ")? + "\n"
        }
        OutputFormat::Raw => {
            let mut c = Csv::new();
            c.record([
                "machine_id",
                "ip_address",
                "updated_at",
                "validated",
                "version",
                "auth_type",
                "last_heartbeat",
                "os",
            ]);
            for m in &machines {
                c.record([
                    m.machine_id.clone(),
                    m.ip_address.clone(),
                    go_time(m.updated_at),
                    m.is_validated.to_string(),
                    m.version.clone(),
                    m.auth_type.clone(),
                    heartbeat(m),
                    os(m),
                ]);
            }
            c.finish()
        }
        OutputFormat::Human => {
            let mut t = Table::new([
                "Name",
                "IP Address",
                "Last Update",
                "Status",
                "Version",
                "OS",
                "Auth Type",
                "Last Heartbeat",
            ]);
            for m in &machines {
                let status = if m.is_validated { "✔️" } else { "🚫" };
                t.row([
                    m.machine_id.clone(),
                    m.ip_address.clone(),
                    go_time(m.updated_at),
                    status.to_string(),
                    m.version.clone(),
                    os(m),
                    m.auth_type.clone(),
                    heartbeat(m),
                ]);
            }
            t.render()
        }
    };
    print!("{out}");
    Ok(())
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn random_string(n: usize, charset: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(charset[rng.random_range(0..charset.len())]))
        .collect()
}

/// A 48-character machine id: the host's machine-id (or random text) plus 16 random characters,
/// as upstream's `--auto` names look.
fn generate_machine_id() -> String {
    let prefix = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().replace('-', ""))
        .filter(|s| s.len() >= 32)
        .map(|s| s[..32].to_string())
        .unwrap_or_else(|| random_string(32, b"abcdef0123456789"));
    format!("{prefix}{}", random_string(16, &ALNUM[..36]))
}

async fn add(ctx: &Ctx, args: MachinesAdd) -> Result<()> {
    let name = match (args.name, args.auto) {
        (Some(n), _) => n,
        (None, true) => generate_machine_id(),
        (None, false) => bail!("please specify a machine name to add, or use --auto"),
    };
    let password = match args.password {
        Some(p) if !p.is_empty() => p,
        _ if args.auto => random_string(64, ALNUM),
        _ if args.interactive => {
            eprint!("Please provide a password for the machine: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading password")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
        _ => bail!("please specify a password with --password or use --auto"),
    };

    // Where the credentials go: -f, else api.client.credentials_path (never overwritten
    // silently, as upstream).
    let dump = match args.file {
        Some(f) => f,
        None => {
            let path = ctx.cfg.client_credentials_path().context(
                "please specify a file to dump credentials to, with -f (\"-f -\" for standard output)",
            )?;
            if path.exists() && !args.force {
                bail!(
                    "credentials file '{}' already exists: please remove it, use \"--force\" or specify a different file with \"-f\" (\"-f -\" for standard output)",
                    path.display()
                );
            }
            path.display().to_string()
        }
    };

    let url = match args.url {
        Some(u) => u,
        None => {
            let listen = ctx
                .cfg
                .api
                .as_ref()
                .and_then(|a| a.server.as_ref())
                .map(|s| s.listen_uri.clone())
                .unwrap_or_default();
            if !listen.is_empty() {
                format!("http://{listen}/")
            } else if let Ok(c) = ctx.credentials() {
                c.url
            } else {
                bail!(
                    "unable to dump an api URL. Please provide it in your configuration or with the -u parameter"
                );
            }
        }
    };

    let store = ctx.store().await?;
    store
        .create_machine(&NewMachine {
            machine_id: name.clone(),
            password: password.clone(),
            ip_address: String::new(),
            is_validated: true,
            auth_type: cs_store::AUTH_PASSWORD.to_string(),
            force: args.force,
        })
        .await
        .with_context(|| format!("unable to create machine '{name}'"))?;
    tracing::info!("Machine '{name}' successfully added to the local API.");

    let creds = ApiCredentials {
        url,
        login: name,
        password,
        ..ApiCredentials::default()
    };
    if dump == "-" {
        print!("{}", creds.to_yaml(std::path::Path::new("-"))?);
    } else {
        let path = std::path::PathBuf::from(&dump);
        creds.save(&path)?;
        restrict_permissions(&path);
        tracing::info!("API credentials written to '{dump}'.");
    }
    Ok(())
}

/// Credentials files hold a password: readable by the owner only.
fn restrict_permissions(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(error = %e, "cannot restrict permissions of '{}'", path.display());
    }
}
