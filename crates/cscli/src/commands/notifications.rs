//! `cscli notifications`: the notifications of `config_paths.notification_dir` with the profiles
//! that use them (`list`, `inspect`), and sending alerts through their plugins: a generic alert
//! (`test`) or an alert of the Local API run through the profiles again (`reinject`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use cs_lapi::Profiles;
use cs_lapi::profiles::ProfileConfig;
use cs_models::{Alert, Decision, Source};
use cs_notify::{Broker, BrokerOptions, NotificationConfig};
use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::context::Ctx;
use crate::output::{Csv, Table, json_indent};

/// `cscli notifications`.
#[derive(Debug, Subcommand)]
pub enum NotificationsCmd {
    /// list notifications plugins and their status (active or not)
    List,
    /// Inspect notifications plugin and show configuration
    Inspect {
        /// Notification name.
        name: String,
    },
    /// send a generic test alert to a notification plugin even if it is not active in profiles
    Test {
        /// Notification name.
        name: String,
        /// JSON (or YAML) object overriding fields of the generic alert (wire names, e.g.
        /// '{"scenario":"my/test"}')
        #[arg(short = 'a', long = "alert")]
        alert: Option<String>,
    },
    /// reinject an alert into profiles to trigger notifications
    Reinject {
        /// Id of the alert in the Local API.
        alert_id: String,
        /// Set Alert.Remediation to false in the reinjected alert (it is true otherwise; see your
        /// profile filter configuration)
        #[arg(short = 'r', long)]
        remediation: bool,
        /// JSON object overriding fields of the reinjected alert (wire names, e.g.
        /// '{"remediation": true,"scenario":"notification/test"}')
        #[arg(short = 'a', long = "alert")]
        alert: Option<String>,
    },
}

/// Runs `cscli notifications <cmd>`.
pub async fn run(ctx: &Ctx, cmd: NotificationsCmd) -> Result<()> {
    match cmd {
        NotificationsCmd::List => {
            let entries = associate(ctx)?;
            print!("{}", render_list(ctx.output, &entries)?);
            Ok(())
        }
        NotificationsCmd::Inspect { name } => {
            let entries = associate(ctx)?;
            let Some(entry) = entries.get(&name) else {
                bail!("plugin '{name}' does not exist or is not active");
            };
            print!("{}", render_inspect(ctx.output, entry)?);
            Ok(())
        }
        NotificationsCmd::Test { name, alert } => test(ctx, &name, alert.as_deref()).await,
        NotificationsCmd::Reinject {
            alert_id,
            remediation,
            alert,
        } => reinject(ctx, &alert_id, remediation, alert.as_deref()).await,
    }
}

/// One notification and the profiles naming it (once per mention, in profile order).
struct Entry {
    cfg: NotificationConfig,
    profiles: Vec<ProfileConfig>,
}

fn notification_dir(ctx: &Ctx) -> Result<&Path> {
    let dir = &ctx.cfg.config_paths.notification_dir;
    if dir.as_os_str().is_empty() {
        bail!("config_paths.notification_dir is not defined");
    }
    Ok(dir)
}

fn load_notifications(ctx: &Ctx) -> Result<Vec<NotificationConfig>> {
    let dir = notification_dir(ctx)?;
    cs_notify::load_notification_dir(dir).with_context(|| {
        format!(
            "while loading notification configuration ({})",
            dir.display()
        )
    })
}

fn profiles_path(ctx: &Ctx) -> Result<PathBuf> {
    let server = ctx
        .cfg
        .api_server()
        .context("local API is disabled: this command must be run on the local API machine")?;
    Ok(server.profiles_path.clone())
}

/// The compiled profiles, as the Local API loads them.
fn load_profiles(path: &Path) -> Result<Profiles> {
    Profiles::load(path)
        .map_err(|d| anyhow!("{d}"))
        .with_context(|| format!("while loading profiles ({})", path.display()))
}

/// The profiles as written: `<path>.local` first, then `path`, as [`Profiles::load`] orders them.
fn profile_configs(path: &Path) -> Result<Vec<ProfileConfig>> {
    let local = PathBuf::from(format!("{}.local", path.display()));
    let mut out = Vec::new();
    for (file, required) in [(local, false), (path.to_owned(), true)] {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(_) if !required => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
        };
        let name = file.display().to_string();
        let docs = cs_config::yaml::parse(&name, &text).map_err(|d| anyhow!("{d}"))?;
        for doc in docs.iter().filter(|d| !d.is_null()) {
            out.push(
                doc.decode::<ProfileConfig>("")
                    .map_err(|d| anyhow!("{d}"))?,
            );
        }
    }
    Ok(out)
}

/// Every notification with the profiles using it; a profile naming an undefined notification
/// is an error.
fn associate(ctx: &Ctx) -> Result<BTreeMap<String, Entry>> {
    let path = profiles_path(ctx)?;
    load_profiles(&path)?;
    let mut entries: BTreeMap<String, Entry> = load_notifications(ctx)?
        .into_iter()
        .map(|cfg| {
            let entry = Entry {
                cfg,
                profiles: Vec::new(),
            };
            (entry.cfg.name.clone(), entry)
        })
        .collect();
    for profile in profile_configs(&path)? {
        for name in &profile.notifications {
            let Some(entry) = entries.get_mut(name) else {
                bail!("notification plugin '{name}' does not exist");
            };
            entry.profiles.push(profile.clone());
        }
    }
    Ok(entries)
}

fn profile_names(e: &Entry) -> String {
    e.profiles
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_list(output: OutputFormat, entries: &BTreeMap<String, Entry>) -> Result<String> {
    match output {
        OutputFormat::Human => {
            // Active notifications first, by how many profiles use them.
            let mut sorted: Vec<&Entry> = entries.values().collect();
            sorted.sort_by_key(|e| std::cmp::Reverse(e.profiles.len()));
            let mut t = Table::new(["Active", "Name", "Type", "Profile name"]);
            for e in sorted {
                let active = if e.profiles.is_empty() {
                    "🚫"
                } else {
                    "✔️"
                };
                t.row([
                    active.to_owned(),
                    e.cfg.name.clone(),
                    e.cfg.kind.clone(),
                    profile_names(e),
                ]);
            }
            Ok(t.render())
        }
        OutputFormat::Json => {
            let map: BTreeMap<&str, EntryJson> = entries
                .iter()
                .map(|(k, e)| (k.as_str(), EntryJson::new(e)))
                .collect();
            json_indent(&map, " ")
        }
        OutputFormat::Raw => {
            let mut c = Csv::new();
            c.record(["Name", "Type", "Profile name"]);
            for e in entries.values() {
                c.record([e.cfg.name.clone(), e.cfg.kind.clone(), profile_names(e)]);
            }
            Ok(c.finish())
        }
    }
}

fn render_inspect(output: OutputFormat, e: &Entry) -> Result<String> {
    if output == OutputFormat::Json {
        return json_indent(&EntryJson::new(e), " ");
    }
    let timeout = go_duration(e.cfg.timeout);
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!(" - {k:>15}: {v:>15}\n"));
    line("Type", &e.cfg.kind);
    line("Name", &e.cfg.name);
    line("Timeout", &timeout);
    line("Format", &e.cfg.format);
    for (k, v) in &e.cfg.settings {
        line(k, &go_value(v, 15));
    }
    Ok(out)
}

fn go_duration(d: std::time::Duration) -> String {
    cs_models::format_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A plugin setting as Go's `%<width>v` prints it: the width pads every scalar, maps print as
/// `map[k:v ...]` with sorted keys, lists as `[a b]`.
fn go_value(v: &Value, width: usize) -> String {
    let pad = |s: String| format!("{s:>width$}");
    match v {
        Value::Null => pad("<nil>".into()),
        Value::Bool(b) => pad(b.to_string()),
        Value::Number(n) => pad(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        }),
        Value::String(s) => pad(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| go_value(i, width)).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", pad(k.clone()), go_value(v, width)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// A float as Go's `%v` (`strconv.FormatFloat(f, 'g', -1, 64)`): exponent form below 1e-4 and
/// from 1e6 on.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let exp: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if f == 0.0 || (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let (mantissa, _) = sci.split_once('e').unwrap_or((&sci, ""));
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// upstream's JSON of a notification: `plugin_config` (Go field names, durations in
/// nanoseconds) and `associated_profiles`.
#[derive(Serialize)]
struct EntryJson<'a> {
    plugin_config: PluginJson<'a>,
    associated_profiles: Option<Vec<ProfileJson<'a>>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PluginJson<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    name: &'a str,
    group_wait: u128,
    group_threshold: usize,
    max_retry: u32,
    time_out: u128,
    format: &'a str,
    config: Option<&'a serde_json::Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProfileJson<'a> {
    name: &'a str,
    debug: Option<bool>,
    filters: Option<&'a [String]>,
    decisions: Option<Vec<Decision>>,
    duration_expr: &'a str,
    on_success: &'a str,
    on_failure: &'a str,
    on_error: &'a str,
    notifications: Option<&'a [String]>,
}

impl<'a> EntryJson<'a> {
    fn new(e: &'a Entry) -> Self {
        let c = &e.cfg;
        let plugin_config = PluginJson {
            kind: &c.kind,
            name: &c.name,
            group_wait: c.group_wait.as_nanos(),
            group_threshold: c.group_threshold,
            max_retry: c.max_retry,
            time_out: c.timeout.as_nanos(),
            format: &c.format,
            config: (!c.settings.is_empty()).then_some(&c.settings),
        };
        let profiles = e.profiles.iter().map(ProfileJson::new).collect::<Vec<_>>();
        EntryJson {
            plugin_config,
            associated_profiles: (!profiles.is_empty()).then_some(profiles),
        }
    }
}

impl<'a> ProfileJson<'a> {
    fn new(p: &'a ProfileConfig) -> Self {
        let list = |v: &'a [String]| (!v.is_empty()).then_some(v);
        let decisions: Vec<Decision> = p
            .decisions
            .iter()
            .map(|d| Decision {
                duration: d.duration.clone(),
                id: d.id.unwrap_or_default(),
                origin: d.origin.clone(),
                scenario: d.scenario.clone(),
                scope: d.scope.clone(),
                simulated: d.simulated,
                r#type: d.decision_type.clone(),
                until: d.until.clone().unwrap_or_default(),
                uuid: d.uuid.clone().unwrap_or_default(),
                value: d.value.clone(),
            })
            .collect();
        ProfileJson {
            name: &p.name,
            debug: p.debug,
            filters: list(&p.filters),
            decisions: (!decisions.is_empty()).then_some(decisions),
            duration_expr: &p.duration_expr,
            on_success: &p.on_success,
            on_failure: &p.on_failure,
            on_error: &p.on_error,
            notifications: list(&p.notifications),
        }
    }
}

/// Upstream's generic test alert: a 4h ban of 10.10.10.10 by scenario `test alert`.
fn generic_alert(now: &str) -> Alert {
    let some = |s: &str| Some(s.to_owned());
    Alert {
        capacity: Some(0),
        created_at: now.to_owned(),
        decisions: Some(vec![Decision {
            duration: some("4h"),
            origin: some("cscli"),
            scenario: some("test alert"),
            scope: some("Ip"),
            r#type: some("ban"),
            value: some("10.10.10.10"),
            ..Decision::default()
        }]),
        events: Some(Vec::new()),
        events_count: Some(1),
        leakspeed: some("0"),
        message: some("test alert"),
        scenario: some("test alert"),
        scenario_hash: some(""),
        scenario_version: some(""),
        simulated: Some(false),
        source: Some(Source {
            ip: "10.10.10.10".into(),
            scope: some("Ip"),
            value: some("10.10.10.10"),
            ..Source::default()
        }),
        start_at: some(now),
        stop_at: some(now),
        ..Alert::default()
    }
}

/// Merges `patch` into `base` as Go's `json.Unmarshal` into an existing value does: objects
/// are merged key by key, anything else replaces.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

/// `alert` with the fields of the `-a` object `text` (JSON, or YAML when `yaml`) overridden.
fn override_alert(alert: &Alert, text: &str, yaml: bool) -> Result<Alert> {
    let patch: Value = if yaml {
        cs_config::yaml::from_str("--alert", text).map_err(|d| anyhow!("{d}"))
    } else {
        serde_json::from_str(text).map_err(anyhow::Error::from)
    }
    .context("can't parse data in the alert flag")?;
    if !patch.is_object() {
        bail!("can't parse data in the alert flag: an object is expected");
    }
    let mut value = serde_json::to_value(alert)?;
    merge(&mut value, patch);
    serde_json::from_value(value).context("can't parse data in the alert flag")
}

/// Starts the plugins serving `used`.
async fn start_broker(ctx: &Ctx, used: &[String]) -> Result<Broker> {
    let Some(opts) = BrokerOptions::from_config(&ctx.cfg, used)? else {
        bail!("no notification to start");
    };
    Broker::start(opts)
        .await
        .context("can't initialize plugins")
}

async fn test(ctx: &Ctx, name: &str, patch: Option<&str>) -> Result<()> {
    if !load_notifications(ctx)?.iter().any(|c| c.name == name) {
        bail!("plugin name: '{name}' does not exist");
    }
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut alert = generic_alert(&now);
    if let Some(text) = patch {
        alert = override_alert(&alert, text, true)?;
    }
    let broker = start_broker(ctx, &[name.to_owned()]).await?;
    let sent = broker.send(name, &[alert]).await;
    broker.shutdown().await;
    sent.with_context(|| format!("while sending the test alert to {name}"))?;
    tracing::info!("test alert sent to notification {name}");
    Ok(())
}

async fn reinject(ctx: &Ctx, id: &str, no_remediation: bool, patch: Option<&str>) -> Result<()> {
    let n: i64 = id.parse().map_err(|_| anyhow!("bad alert id {id}"))?;
    let profiles = load_profiles(&profiles_path(ctx)?)?;
    let (client, _) = ctx.lapi()?;
    let mut alert = client
        .alert(n)
        .await
        .with_context(|| format!("can't find alert with id {id}"))?;
    alert.remediation = !no_remediation;
    if let Some(text) = patch {
        alert = override_alert(&alert, text, false)?;
    }
    // The decision helpers (`GetDecisionsCount`…) query the database, as in the Local API.
    let store = match ctx.cfg.db() {
        Ok(_) => match ctx.store().await {
            Ok(store) => {
                profiles.attach_store(store.clone());
                Some(store)
            }
            Err(e) => {
                tracing::error!("failed to get database client: {e:#}");
                None
            }
        },
        Err(_) => {
            tracing::warn!("no database client available, expr helpers will not be available");
            None
        }
    };
    let evaluated = {
        let (profiles, alert) = (profiles.clone(), alert.clone());
        tokio::task::spawn_blocking(move || profiles.evaluate(&alert, false)).await
    };
    if let Some(store) = store {
        store.close().await;
    }
    let outcome = evaluated
        .context("profile evaluation stopped")?
        .context("can't evaluate profiles")?;
    let matched: Vec<(&str, &[String])> = outcome
        .notify
        .iter()
        .filter_map(|&i| profiles.get(i))
        .map(|p| (p.name(), p.notifications()))
        .collect();
    if matched.is_empty() {
        tracing::info!("no profile with notifications matched alert {id}");
        return Ok(());
    }
    let used: Vec<String> = profiles
        .iter()
        .flat_map(|p| p.notifications().iter().cloned())
        .collect();
    let broker = start_broker(ctx, &used).await?;
    let mut failures = Vec::new();
    for (profile, names) in matched {
        tracing::info!(
            "The profile {profile} matched, sending to its configured notification plugins"
        );
        for name in names {
            match broker.send(name, std::slice::from_ref(&alert)).await {
                Ok(()) => tracing::info!("alert {id} sent to notification {name}"),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    broker.shutdown().await;
    if !failures.is_empty() {
        bail!("while sending alert {id}: {}", failures.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_values_pad_every_scalar() {
        assert_eq!(go_value(&json!("POST"), 6), "  POST");
        assert_eq!(go_value(&json!(null), 0), "<nil>");
        assert_eq!(
            go_value(&json!({"b": 1, "a": [true, "x"]}), 2),
            "map[ a:[true  x]  b: 1]"
        );
        assert_eq!(go_value(&json!(1.5), 0), "1.5");
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(0.25), "0.25");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(123456.5), "123456.5");
    }

    #[test]
    fn overrides_merge_objects_and_replace_the_rest() {
        let base = generic_alert("2026-01-01T00:00:00Z");
        let got = override_alert(
            &base,
            r#"{"scenario":"x/y","source":{"cn":"FR"},"decisions":[]}"#,
            false,
        )
        .unwrap();
        assert_eq!(got.scenario.as_deref(), Some("x/y"));
        let src = got.source.unwrap();
        assert_eq!((src.cn.as_str(), src.ip.as_str()), ("FR", "10.10.10.10"));
        assert_eq!(got.decisions, Some(vec![]));
        assert_eq!(got.message, base.message);
        let yaml = override_alert(&base, "remediation: true\n", true).unwrap();
        assert!(yaml.remediation);
        let err = override_alert(&base, "[1]", false).unwrap_err();
        assert!(format!("{err:#}").contains("object is expected"), "{err:#}");
        let err = override_alert(&base, "{", false).unwrap_err();
        assert!(format!("{err:#}").contains("alert flag"), "{err:#}");
        let err = override_alert(&base, r#"{"capacity":"x"}"#, false).unwrap_err();
        assert!(format!("{err:#}").contains("alert flag"), "{err:#}");
    }
}
