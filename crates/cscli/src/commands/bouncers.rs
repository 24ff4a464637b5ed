//! `cscli bouncers`: bouncers (remediation components) in the database.

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use cs_store::{Bouncer, NewBouncer};
use serde::Serialize;

use super::machines::go_time;
use crate::cli::{BouncersCmd, OutputFormat};
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// Runs `cscli bouncers ...`.
pub async fn run(ctx: &Ctx, cmd: BouncersCmd) -> Result<()> {
    match cmd {
        BouncersCmd::List => {
            let store = ctx.store().await?;
            let list = store
                .list_bouncers()
                .await
                .context("unable to list bouncers")?;
            print!("{}", render(ctx.output, &list)?);
            Ok(())
        }
        BouncersCmd::Add { name, key } => add(ctx, &name, key).await,
        BouncersCmd::Delete {
            names,
            ignore_missing,
        } => {
            let store = ctx.store().await?;
            for name in names {
                match store.delete_bouncer(&name).await {
                    Ok(()) => tracing::info!("bouncer '{name}' deleted successfully"),
                    Err(e) if e.is_not_found() && ignore_missing => {}
                    Err(e) => return Err(e).context(format!("unable to delete bouncer '{name}'")),
                }
            }
            Ok(())
        }
        BouncersCmd::Prune { duration, force } => prune(ctx, &duration, force).await,
    }
}

/// A bouncer as upstream's `bouncers list -o json` prints it (the database entity's JSON
/// form, fields in its order, empty optional fields omitted).
#[derive(Serialize)]
struct BouncerJson<'a> {
    id: i64,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    revoked: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    ip_address: &'a str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    bouncer_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_pull: Option<String>,
    auth_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    osname: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    osversion: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    featureflags: &'a str,
    auto_created: bool,
    edges: serde_json::Value,
}

fn bouncer_json(b: &Bouncer) -> BouncerJson<'_> {
    BouncerJson {
        id: b.id,
        created_at: go_time(b.created_at),
        updated_at: go_time(b.updated_at),
        name: &b.name,
        revoked: b.revoked,
        ip_address: &b.ip_address,
        bouncer_type: &b.bouncer_type,
        version: &b.version,
        last_pull: b.last_pull.map(go_time),
        auth_type: &b.auth_type,
        osname: &b.os_name,
        osversion: &b.os_version,
        featureflags: &b.feature_flags,
        auto_created: b.auto_created,
        edges: serde_json::json!({}),
    }
}

fn last_pull(b: &Bouncer) -> String {
    b.last_pull.map(go_time).unwrap_or_default()
}

fn render(output: OutputFormat, list: &[Bouncer]) -> Result<String> {
    Ok(match output {
        OutputFormat::Json => {
            json_indent(&list.iter().map(bouncer_json).collect::<Vec<_>>(), "  ")? + "\n"
        }
        OutputFormat::Raw => {
            let mut c = Csv::new();
            c.record([
                "name",
                "ip",
                "revoked",
                "last_pull",
                "type",
                "version",
                "auth_type",
            ]);
            for b in list {
                c.record([
                    b.name.clone(),
                    b.ip_address.clone(),
                    b.revoked.to_string(),
                    last_pull(b),
                    b.bouncer_type.clone(),
                    b.version.clone(),
                    b.auth_type.clone(),
                ]);
            }
            c.finish()
        }
        OutputFormat::Human => {
            let mut t = Table::new([
                "Name",
                "IP Address",
                "Valid",
                "Last API pull",
                "Type",
                "Version",
                "Auth Type",
            ]);
            for b in list {
                let valid = if b.revoked { "🚫" } else { "✔️" };
                t.row([
                    b.name.clone(),
                    b.ip_address.clone(),
                    valid.to_string(),
                    last_pull(b),
                    b.bouncer_type.clone(),
                    b.version.clone(),
                    b.auth_type.clone(),
                ]);
            }
            t.render()
        }
    })
}

async fn add(ctx: &Ctx, name: &str, key: Option<String>) -> Result<()> {
    let key = match key {
        Some(k) if !k.is_empty() => k,
        _ => cs_store::generate_api_key().context("unable to generate api key")?,
    };
    let store = ctx.store().await?;
    store
        .create_bouncer(&NewBouncer {
            name: name.to_string(),
            api_key: key.clone(),
            auth_type: cs_store::AUTH_API_KEY.to_string(),
            ..NewBouncer::default()
        })
        .await
        .context("unable to create bouncer")?;
    match ctx.output {
        OutputFormat::Human => {
            println!(
                "API key for '{name}':\n\n   {key}\n\nPlease keep this key since you will not be able to retrieve it!"
            );
        }
        OutputFormat::Raw => print!("{key}"),
        OutputFormat::Json => print!("{}", serde_json::to_string(&key)?),
    }
    Ok(())
}

async fn prune(ctx: &Ctx, duration: &str, force: bool) -> Result<()> {
    let d = crate::time::parse(duration)?;
    if d < chrono::Duration::minutes(2) {
        bail!("duration must be at least 2 minutes");
    }
    let cutoff = Utc::now() - d;
    let store = ctx.store().await?;
    let stale: Vec<Bouncer> = store
        .list_bouncers()
        .await
        .context("unable to list bouncers")?
        .into_iter()
        .filter(|b| b.last_pull.unwrap_or(b.created_at) < cutoff)
        .collect();
    if stale.is_empty() {
        println!("No bouncers to prune.");
        return Ok(());
    }
    print!("{}", render(OutputFormat::Human, &stale)?);
    if !force
        && !super::confirm(
            "You are about to PERMANENTLY remove the above bouncers from the database. These will NOT be recoverable. Continue?",
        )
    {
        println!("User aborted prune. No changes were made.");
        return Ok(());
    }
    for b in &stale {
        store
            .delete_bouncer(&b.name)
            .await
            .with_context(|| format!("unable to prune bouncer '{}'", b.name))?;
    }
    println!("Successfully deleted {} bouncers", stale.len());
    Ok(())
}
