//! `cscli parsers|scenarios|postoverflows|collections|contexts|appsec-*`: list, install,
//! remove, upgrade and inspect items of one type.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use cs_hub::{Hub, Item, ItemType, Plan};
use serde_json::{Value, json};

use super::hub::{apply, list_entry, listed, open};
use crate::cli::OutputFormat;
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// Subcommands shared by every item type.
#[derive(Debug, Subcommand)]
pub enum ItemsCmd {
    /// List installed items (or the named ones)
    List {
        /// Item names.
        items: Vec<String>,
        /// List disabled items as well
        #[arg(short = 'a', long)]
        all: bool,
    },
    /// Install given items
    Install {
        /// Item names.
        #[arg(required = true)]
        items: Vec<String>,
        /// Only download packages, don't enable
        #[arg(short = 'd', long)]
        download_only: bool,
        /// Force install: overwrite tainted and outdated files
        #[arg(long)]
        force: bool,
        /// Ignore errors when installing multiple items
        #[arg(long)]
        ignore: bool,
        /// Don't install or remove anything, print the execution plan
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove given items
    #[command(visible_alias = "delete")]
    Remove(RemoveArgs),
    /// Upgrade given items
    Upgrade {
        /// Item names.
        items: Vec<String>,
        /// Upgrade all the items
        #[arg(short = 'a', long)]
        all: bool,
        /// Force upgrade: overwrite tainted and outdated files
        #[arg(long)]
        force: bool,
        /// Don't install or remove anything, print the execution plan
        #[arg(long)]
        dry_run: bool,
    },
    /// Inspect given items
    Inspect {
        /// Item names.
        #[arg(required = true)]
        items: Vec<String>,
        /// Don't show metrics (metrics are not shown by this implementation yet)
        #[arg(long)]
        no_metrics: bool,
    },
}

/// `<type> remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Item names.
    pub items: Vec<String>,
    /// Delete source file too
    #[arg(long)]
    pub purge: bool,
    /// Force remove: remove tainted and outdated files
    #[arg(long)]
    pub force: bool,
    /// Remove all the items
    #[arg(long)]
    pub all: bool,
    /// Don't install or remove anything, print the execution plan
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `cscli <type> ...`.
pub fn run(ctx: &Ctx, t: ItemType, cmd: ItemsCmd) -> Result<()> {
    let mut hub = open(ctx)?;
    match cmd {
        ItemsCmd::List { items, all } => list(ctx, &hub, t, &items, all),
        ItemsCmd::Install {
            items,
            download_only,
            force,
            ignore,
            dry_run,
        } => {
            if ignore {
                // Each item on its own: one that fails is reported and the others go on.
                for name in &items {
                    let mut plan = Plan::default();
                    let done = hub
                        .plan_install(&mut plan, t, name, force, download_only)
                        .map_err(anyhow::Error::from)
                        .and_then(|()| apply(ctx, &mut hub, &plan, dry_run));
                    if let Err(e) = done {
                        tracing::error!("{e:#}");
                    }
                }
                return Ok(());
            }
            let mut plan = Plan::default();
            for name in &items {
                hub.plan_install(&mut plan, t, name, force, download_only)?;
            }
            apply(ctx, &mut hub, &plan, dry_run)
        }
        ItemsCmd::Remove(args) => {
            let names: Vec<String> = if args.all {
                hub.items_of(t)
                    .filter(|i| args.purge || i.state.installed)
                    .filter(|i| !i.state.local)
                    .map(|i| i.name.clone())
                    .collect()
            } else if args.items.is_empty() {
                bail!(
                    "specify at least one {} to remove or '--all'",
                    cs_hub::singular(t)
                );
            } else {
                args.items.clone()
            };
            let mut plan = Plan::default();
            for name in &names {
                // With --all, membership in a collection does not protect an item.
                hub.plan_remove(&mut plan, t, name, args.purge, args.force || args.all)?;
            }
            apply(ctx, &mut hub, &plan, args.dry_run)
        }
        ItemsCmd::Upgrade {
            items,
            all,
            force,
            dry_run,
        } => {
            let names: Vec<String> = if all {
                hub.installed(t).map(|i| i.name.clone()).collect()
            } else if items.is_empty() {
                bail!(
                    "specify at least one {} to upgrade or '--all'",
                    cs_hub::singular(t)
                );
            } else {
                items
            };
            let mut plan = Plan::default();
            for name in &names {
                hub.plan_upgrade(&mut plan, t, name, force)?;
            }
            apply(ctx, &mut hub, &plan, dry_run)
        }
        ItemsCmd::Inspect { items, .. } => {
            for name in &items {
                let item = hub.find(t, name)?;
                let v = inspect_value(item);
                match ctx.output {
                    OutputFormat::Json => println!("{}", json_indent(&v, "  ")?),
                    _ => print!("{}", serde_yaml::to_string(&v)?),
                }
            }
            Ok(())
        }
    }
}

fn list(ctx: &Ctx, hub: &Hub, t: ItemType, names: &[String], all: bool) -> Result<()> {
    let items: Vec<&Item> = if names.is_empty() {
        listed(hub, t, all)
    } else {
        names
            .iter()
            .map(|n| hub.find(t, n))
            .collect::<Result<_, _>>()?
    };
    match ctx.output {
        OutputFormat::Json => {
            let mut map = BTreeMap::new();
            map.insert(
                t.as_str(),
                items.iter().map(|i| list_entry(i)).collect::<Vec<_>>(),
            );
            println!("{}", json_indent(&map, "  ")?);
        }
        OutputFormat::Raw => {
            let mut csv = Csv::new();
            csv.record(["name", "status", "version", "description"]);
            for i in &items {
                csv.record([
                    i.name.as_str(),
                    &i.text(),
                    &i.state.local_version,
                    &i.meta.description,
                ]);
            }
            print!("{}", csv.finish());
        }
        OutputFormat::Human => {
            println!("{}", t.as_str().to_uppercase());
            let mut table = Table::new(["Name", "📦 Status", "Version", "Local Path"]);
            for i in &items {
                table.row([
                    i.name.clone(),
                    format!("{}  {}", i.emoji(), i.text()),
                    i.state.local_version.clone(),
                    i.state
                        .local_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ]);
            }
            print!("{}", table.render());
        }
    }
    Ok(())
}

/// Index fields, current dependencies and state of an item, with upstream's keys.
fn inspect_value(item: &Item) -> Value {
    let m = &item.meta;
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), json!(item.item_type.as_str()));
    obj.insert("name".into(), json!(item.name));
    obj.insert("file_name".into(), json!(m.file_name()));
    obj.insert("description".into(), json!(m.description));
    obj.insert("path".into(), json!(m.path));
    obj.insert("version".into(), json!(m.version));
    obj.insert("versions".into(), json!(m.versions));
    if !m.stage.is_empty() {
        obj.insert("stage".into(), json!(m.stage));
    }
    if let Some(c) = &m.content {
        obj.insert("content".into(), json!(c));
    }
    if !m.references.is_empty() {
        obj.insert("references".into(), json!(m.references));
    }
    for t in ItemType::ALL {
        let deps = item.current_deps.of(t);
        if !deps.is_empty() {
            obj.insert(t.as_str().into(), json!(deps));
        }
    }
    let s = &item.state;
    let path = s
        .local_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    obj.insert("local_path".into(), json!(path));
    obj.insert("local_version".into(), json!(s.local_version));
    obj.insert("local_hash".into(), json!(s.local_hash));
    obj.insert("installed".into(), json!(s.installed));
    obj.insert("downloaded".into(), json!(s.downloaded));
    obj.insert("up_to_date".into(), json!(s.up_to_date));
    obj.insert("tainted".into(), json!(s.tainted));
    obj.insert("local".into(), json!(s.local));
    obj.insert(
        "belongs_to_collections".into(),
        json!(s.belongs_to_collections),
    );
    if s.tainted && !s.tainted_by.is_empty() {
        obj.insert("tainted_by".into(), json!(s.tainted_by));
    }
    Value::Object(obj)
}
