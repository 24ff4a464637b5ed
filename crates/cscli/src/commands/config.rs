//! `cscli config show`.

use anyhow::{Result, bail};
use serde_json::Value;

use crate::cli::{ConfigCmd, OutputFormat};
use crate::context::Ctx;
use crate::output::json_indent;

/// Runs `cscli config ...`.
pub fn run(ctx: &Ctx, cmd: ConfigCmd) -> Result<()> {
    match cmd {
        ConfigCmd::Show { key } => {
            let cfg = serde_json::to_value(&ctx.cfg)?;
            if let Some(key) = key {
                let v = lookup(&cfg, &key)?;
                match v {
                    Value::String(s) => println!("{s}"),
                    other => println!("{}", json_indent(other, "  ")?),
                }
                return Ok(());
            }
            match ctx.output {
                OutputFormat::Json => println!("{}", json_indent(&cfg, "  ")?),
                OutputFormat::Raw => print!(
                    "{}",
                    cs_config::yaml::to_string(&ctx.cfg).map_err(anyhow::Error::msg)?
                ),
                OutputFormat::Human => print!("{}", summary(ctx)),
            }
            Ok(())
        }
    }
}

/// Follows a Go-style key such as `Config.API.Server.ListenURI` through the configuration:
/// each segment matches a YAML key ignoring case and underscores (`ListenURI` = `listen_uri`).
fn lookup<'a>(cfg: &'a Value, key: &str) -> Result<&'a Value> {
    let mut cur = cfg;
    let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
    for seg in key.split('.').filter(|s| !s.is_empty()) {
        if seg == "Config" && std::ptr::eq(cur, cfg) {
            continue;
        }
        // Upstream's Go field names that differ from the YAML keys.
        let seg = match seg {
            "Crowdsec" => "crowdsec_service",
            "DbConfig" => "db_config",
            "API" => "api",
            "ListenURI" => "listen_uri",
            other => other,
        };
        let Value::Object(map) = cur else {
            bail!("no such key: {key}");
        };
        cur = match map.iter().find(|(k, _)| norm(k) == norm(seg)) {
            Some((_, v)) => v,
            None => bail!("no such key: {key}"),
        };
    }
    Ok(cur)
}

fn summary(ctx: &Ctx) -> String {
    let c = &ctx.cfg;
    let p = &c.config_paths;
    let mut s = format!(
        "Global:\n   - Configuration Folder   : {}\n   - Data Folder            : {}\n   - Hub Folder             : {}\n   - Simulation File        : {}\n",
        p.config_dir.display(),
        p.data_dir.display(),
        p.hub_dir.display(),
        p.simulation_path.display()
    );
    if let Some(common) = &c.common {
        s.push_str(&format!(
            "   - Log Folder             : {}\n   - Log level              : {}\n   - Log Media              : {}\n",
            common.log_dir,
            common.log_level.as_deref().unwrap_or("info"),
            common.log_media
        ));
    }
    if let Some(cs) = &c.crowdsec_service {
        s.push_str(&format!(
            "Crowdsec:\n  - Acquisition File        : {}\n  - Parsers routines        : {}\n",
            cs.acquisition_path, cs.parser_routines
        ));
    }
    if let Some(cli) = &c.cscli {
        s.push_str(&format!(
            "cscli:\n  - Output                  : {}\n  - Hub Branch              : {}\n",
            cli.output, cli.hub_branch
        ));
    }
    if let Some(server) = c.api.as_ref().and_then(|a| a.server.as_ref()) {
        s.push_str(&format!(
            "Local API Server:\n  - Listen URL              : {}\n  - Profile File            : {}\n",
            server.listen_uri,
            server.profiles_path.display()
        ));
        if !server.trusted_ips.is_empty() {
            s.push_str("  - Trusted IPs: \n");
            for ip in &server.trusted_ips {
                s.push_str(&format!("      - {ip}\n"));
            }
        }
    }
    if let Some(db) = &c.db_config {
        s.push_str(&format!(
            "  - Database:\n      - Type                : {}\n",
            db.db_type
        ));
        if db.db_type == "sqlite" {
            s.push_str(&format!("      - Path                : {}\n", db.db_path));
        } else {
            s.push_str(&format!(
                "      - Host                : {}\n      - Port                : {}\n      - User                : {}\n      - DB Name             : {}\n",
                db.host, db.port, db.user, db.db_name
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_keys_resolve() {
        let v = serde_json::json!({"api": {"server": {"listen_uri": "127.0.0.1:8080"}}, "db_config": {"type": "sqlite"}});
        assert_eq!(
            lookup(&v, "Config.API.Server.ListenURI").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(lookup(&v, "Config.DbConfig.Type").unwrap(), "sqlite");
        assert!(lookup(&v, "Config.Nope").is_err());
    }
}
