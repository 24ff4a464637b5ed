//! `cscli hub`: index update, listing and upgrade of every installed item, plus the helpers
//! shared with the per-type commands (opening the hub, printing plans and item lists).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use cs_hub::{Hub, HubPaths, HubSource, Index, Item, ItemType, LocalHub, NoSource, Plan};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// `cscli hub`.
#[derive(Debug, Subcommand)]
pub enum HubCmd {
    /// List all installed configurations
    List(HubListArgs),
    /// Download the latest index (catalog of available configurations)
    Update,
    /// Upgrade all configurations to their latest version
    Upgrade {
        /// Force upgrade: overwrite tainted and outdated files
        #[arg(long)]
        force: bool,
        /// Don't install or remove anything, print the execution plan
        #[arg(long)]
        dry_run: bool,
    },
    /// List supported item types
    Types,
}

/// `cscli hub list`.
#[derive(Debug, Args)]
pub struct HubListArgs {
    /// List disabled items as well
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show the members of collections
    #[arg(long)]
    pub full: bool,
    /// Only show items with this status (installed, not-installed, up-to-date, outdated,
    /// tainted, local); repeatable
    #[arg(long)]
    pub status: Vec<String>,
}

/// The hub directories of the configuration.
pub fn paths(ctx: &Ctx) -> HubPaths {
    let p = &ctx.cfg.config_paths;
    HubPaths {
        hub_dir: p.hub_dir.clone(),
        config_dir: p.config_dir.clone(),
        data_dir: p.data_dir.clone(),
        index_path: p.index_path.clone(),
    }
}

/// Where hub content comes from, after `cscli.__hub_url_template__` (two `%s`: the branch
/// `cscli.hub_branch`, default `master`, then the file's path in the hub): a hub directory for
/// a `file://` template, an HTTP(S) server for an `http(s)://` one (data files then come from
/// their `source_url`), else only what the index embeds.
pub fn source(ctx: &Ctx) -> Box<dyn HubSource> {
    let cscli = ctx.cfg.cscli.clone().unwrap_or_default();
    let branch = if cscli.hub_branch.is_empty() {
        "master".to_owned()
    } else {
        cscli.hub_branch.clone()
    };
    let template = cscli.hub_url_template;
    if let Some(dir) = template.strip_prefix("file://") {
        let dir = dir.replacen("%s", &branch, 1).replacen("%s", "", 1);
        return Box::new(LocalHub::new(PathBuf::from(dir.trim_end_matches('/'))));
    }
    if template.starts_with("http://") || template.starts_with("https://") {
        return Box::new(HttpHub { template, branch });
    }
    Box::new(NoSource)
}

/// A hub served over HTTP(S), as upstream's CDN: `<template with branch and path>`.
#[derive(Debug, Clone)]
pub struct HttpHub {
    template: String,
    branch: String,
}

/// How long one download may take.
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl HttpHub {
    fn url(&self, path: &str) -> String {
        self.template
            .replacen("%s", &self.branch, 1)
            .replacen("%s", path, 1)
    }

    /// GETs `url`; a status other than 200 is an error, as upstream. Runs on a thread of its
    /// own because the caller may already be inside an async runtime.
    fn get(url: &str) -> cs_hub::Result<Vec<u8>> {
        let unavailable = |e: String| cs_hub::Error::Unavailable(format!("{url}: {e}"));
        let fetch = || -> Result<Vec<u8>, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let client = reqwest::Client::builder()
                    .timeout(HTTP_TIMEOUT)
                    .user_agent(concat!("crowdsec/v", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())?;
                let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
                if resp.status() != reqwest::StatusCode::OK {
                    return Err(format!("bad http code {}", resp.status().as_u16()));
                }
                let body = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(body.to_vec())
            })
        };
        std::thread::scope(|s| s.spawn(fetch).join())
            .map_err(|_| unavailable("download thread failed".into()))?
            .map_err(unavailable)
    }
}

impl HubSource for HttpHub {
    fn fetch_index(&self) -> cs_hub::Result<Vec<u8>> {
        Self::get(&self.url(".index.json"))
    }

    fn fetch_item(&self, path: &str) -> cs_hub::Result<Vec<u8>> {
        Self::get(&self.url(path))
    }

    fn fetch_data(&self, source_url: &str, _dest_file: &str) -> cs_hub::Result<Vec<u8>> {
        Self::get(source_url)
    }
}

/// Loads the index and syncs the config dir; prints sync warnings.
pub fn open(ctx: &Ctx) -> Result<Hub> {
    let paths = paths(ctx);
    if !paths.index_path.exists() {
        bail!(
            "the hub index {} is missing: run 'cscli hub update'",
            paths.index_path.display()
        );
    }
    let hub = Hub::load(paths).context("while loading the hub")?;
    for w in &hub.warnings {
        tracing::warn!("{w}");
    }
    Ok(hub)
}

/// Runs `cscli hub ...`.
pub fn run(ctx: &Ctx, cmd: HubCmd) -> Result<()> {
    match cmd {
        HubCmd::List(args) => list(ctx, &args),
        HubCmd::Update => update(ctx),
        HubCmd::Upgrade { force, dry_run } => {
            let mut hub = open(ctx)?;
            let mut plan = Plan {
                force_data: force,
                ..Plan::default()
            };
            for t in ItemType::ALL {
                let mut names: Vec<String> = hub.installed(t).map(|i| i.name.clone()).collect();
                names.sort_by_key(|n| n.to_lowercase());
                for n in names {
                    hub.plan_upgrade(&mut plan, t, &n, force)?;
                }
            }
            hub.plan_data_refresh(&mut plan);
            apply(ctx, &mut hub, &plan, dry_run)
        }
        HubCmd::Types => {
            let types: Vec<&str> = ItemType::ALL.iter().map(|t| t.as_str()).collect();
            match ctx.output {
                OutputFormat::Json => println!("{}", json_indent(&types, "  ")?),
                _ => types.iter().for_each(|t| println!("{t}")),
            }
            Ok(())
        }
    }
}

/// `cscli hub update` from the configured source.
fn update(ctx: &Ctx) -> Result<()> {
    let paths = paths(ctx);
    let body = source(ctx).fetch_index().context("failed to update hub")?;
    // Refuse to replace a working index by an invalid one.
    Index::from_slice(&body, &paths.index_path).context("failed to update hub")?;
    if std::fs::read(&paths.index_path).is_ok_and(|old| old == body) {
        println!("Nothing to do, the hub index is up to date.");
    } else {
        if let Some(dir) = paths.index_path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        println!("Downloading {}", paths.index_path.display());
        let tmp = paths.index_path.with_extension("json.tmp");
        std::fs::write(&tmp, &body).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &paths.index_path)
            .with_context(|| format!("writing {}", paths.index_path.display()))?;
    }
    open(ctx)?;
    Ok(())
}

/// Prints the plan, runs it unless `dry_run`, and tells how to reload.
pub fn apply(ctx: &Ctx, hub: &mut Hub, plan: &Plan, dry_run: bool) -> Result<()> {
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    if plan.is_empty() {
        println!("Nothing to install or remove.");
        return Ok(());
    }
    print!("{}", describe_plan(hub, plan, ctx.output));
    if dry_run {
        println!("Dry run, no action taken.");
        return Ok(());
    }
    let source = source(ctx);
    hub.execute(plan, source.as_ref(), &mut |line| println!("{line}"))?;
    println!("\nRun 'sudo systemctl reload crowdsec' for the new configuration to be effective.");
    Ok(())
}

/// `Action plan:` with one header per action and one line per type (`-o raw`: one step a line).
fn describe_plan(hub: &Hub, plan: &Plan, output: OutputFormat) -> String {
    if output == OutputFormat::Raw {
        return plan.steps.iter().map(|s| format!("{s}\n")).collect();
    }
    let mut out = String::from("Action plan:\n");
    let mut actions = Vec::new();
    for s in &plan.steps {
        if !actions.contains(&s.action) {
            actions.push(s.action);
        }
    }
    for action in actions {
        out.push_str(action.header());
        out.push('\n');
        for t in ItemType::ALL {
            let names: Vec<String> = plan
                .steps
                .iter()
                .filter(|s| s.action == action && s.item_type == t)
                .map(|s| match hub.get(t, &s.name) {
                    Some(i) if !i.meta.version.is_empty() => {
                        format!("{} ({})", s.name, i.meta.version)
                    }
                    _ => s.name.clone(),
                })
                .collect();
            if !names.is_empty() {
                out.push_str(&format!(" {t}: {}\n", names.join(", ")));
            }
        }
    }
    out.push('\n');
    out
}

/// `<emoji>  <Text()>`.
fn utf8_status(item: &Item) -> String {
    format!("{}  {}", item.emoji(), item.text())
}

/// The JSON element of an item in list outputs.
pub fn list_entry(item: &Item) -> serde_json::Value {
    json!({
        "name": item.name,
        "local_version": item.state.local_version,
        "local_path": item.state.local_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "description": item.meta.description,
        "utf8_status": utf8_status(item),
        "status": item.text(),
    })
}

/// Whether an item passes the `--status` filters (none = all).
fn status_matches(item: &Item, filters: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.as_str() {
            "installed" => item.state.installed,
            other => item.status() == other,
        })
}

/// Items of a type to list: installed ones, or all with `all`, sorted case-insensitively.
pub fn listed(hub: &Hub, t: ItemType, all: bool) -> Vec<&Item> {
    let mut items: Vec<&Item> = hub
        .items_of(t)
        .filter(|i| all || i.state.installed)
        .collect();
    items.sort_by_key(|i| i.name.to_lowercase());
    items
}

fn list(ctx: &Ctx, args: &HubListArgs) -> Result<()> {
    let hub = open(ctx)?;
    let loaded: Vec<String> = ItemType::ALL
        .iter()
        .map(|&t| (t, hub.items_of(t).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    eprintln!("Loaded: {}", loaded.join(", "));
    let (local, tainted) =
        ItemType::ALL
            .iter()
            .flat_map(|&t| hub.installed(t))
            .fold((0, 0), |(l, ta), i| {
                (
                    l + usize::from(i.state.local),
                    ta + usize::from(i.state.tainted),
                )
            });
    if local + tainted > 0 {
        eprintln!("Unmanaged items: {local} local, {tainted} tainted");
    }
    let all = args.all || !args.status.is_empty();
    let selected = |t| -> Vec<&Item> {
        listed(&hub, t, all)
            .into_iter()
            .filter(|i| status_matches(i, &args.status))
            .collect()
    };
    match ctx.output {
        OutputFormat::Json => {
            let map: BTreeMap<&str, Vec<serde_json::Value>> = ItemType::ALL
                .iter()
                .map(|&t| {
                    (
                        t.as_str(),
                        selected(t).into_iter().map(list_entry).collect(),
                    )
                })
                .collect();
            print!("{}", json_indent(&map, " ")?);
        }
        OutputFormat::Raw => {
            let mut csv = Csv::new();
            csv.record(["name", "status", "version", "description", "type"]);
            for t in ItemType::ALL {
                for i in selected(t) {
                    csv.record([
                        i.name.as_str(),
                        &i.text(),
                        &i.state.local_version,
                        &i.meta.description,
                        t.as_str(),
                    ]);
                }
            }
            print!("{}", csv.finish());
        }
        OutputFormat::Human => {
            let mut table = Table::new(["Type", "Name", "📦 Status", "Version", "Details"]);
            if args.all || !args.status.is_empty() {
                for t in ItemType::ALL {
                    for i in selected(t) {
                        table.row(row(i, String::new()));
                    }
                }
            } else {
                tree_rows(&hub, args.full, &mut table);
            }
            print!("{}", table.render());
        }
    }
    Ok(())
}

/// Installed collections without an installed parent as trees, then standalone items.
fn tree_rows(hub: &Hub, full: bool, table: &mut Table) {
    let installed_parent = |i: &Item| {
        i.state.belongs_to_collections.iter().any(|c| {
            hub.get(ItemType::Collections, c)
                .is_some_and(|c| c.state.installed)
        })
    };
    for root in listed(hub, ItemType::Collections, false) {
        if !installed_parent(root) {
            table.row(row(root, String::new()));
            children(hub, root, "", full, table);
        }
    }
    let standalone: Vec<&Item> = ItemType::ALL
        .iter()
        .filter(|&&t| t != ItemType::Collections)
        .flat_map(|&t| listed(hub, t, false))
        .filter(|i| !installed_parent(i))
        .collect();
    if !standalone.is_empty() {
        table.row(["", "", "", "", ""]);
        for i in standalone {
            table.row(row(i, String::new()));
        }
    }
}

fn children(hub: &Hub, coll: &Item, indent: &str, full: bool, table: &mut Table) {
    let subs: Vec<&Item> = coll
        .current_deps
        .iter()
        .filter_map(|(t, n)| hub.get(t, n))
        .filter(|i| full || i.item_type == ItemType::Collections || i.state.tainted)
        .collect();
    for (k, sub) in subs.iter().enumerate() {
        let last = k + 1 == subs.len();
        let prefix = format!("{indent}{}", if last { "└─ " } else { "├─ " });
        table.row(row(sub, prefix));
        if sub.item_type == ItemType::Collections {
            let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
            children(hub, sub, &deeper, full, table);
        }
    }
}

fn row(i: &Item, prefix: String) -> [String; 5] {
    [
        i.item_type.to_string(),
        format!("{prefix}{}", i.name),
        format!("{} {}", i.emoji(), i.status()),
        i.state.local_version.clone(),
        details(i),
    ]
}

/// Collections: member counts (`2 parser(s) / 3 scenario(s)`); leaves: what differs.
fn details(i: &Item) -> String {
    let outdated = i.state.installed && !i.state.up_to_date && !i.state.local && !i.state.tainted;
    let change = format!("{} → {}", i.state.local_version, i.meta.version);
    if i.item_type == ItemType::Collections {
        let counts: Vec<String> = ItemType::ALL
            .iter()
            .map(|&t| (t, i.current_deps.of(t).len()))
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{n} {}(s)", cs_hub::singular(t)))
            .collect();
        let summary = counts.join(" / ");
        return if outdated {
            format!("{change} · {summary}")
        } else {
            summary
        };
    }
    if i.state.tainted {
        "edited locally".into()
    } else if outdated {
        change
    } else {
        String::new()
    }
}
