//! Command line flags with Go's `flag` package rules, which upstream's `crowdsec` uses:
//! `-name value`, `-name=value`, `--name` accepted alike; boolean flags take no separate
//! value (`-name` or `-name=false`); parsing stops at the first non-flag argument or `--`.

use std::path::PathBuf;

/// Parsed flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// `-c`: configuration file.
    pub config: PathBuf,
    /// `-dsn`: one-shot acquisition source.
    pub dsn: Option<String>,
    /// `-type`: labels.type for `-dsn`.
    pub single_type: Option<String>,
    /// `-label`: extra labels for `-dsn` (`k:v,k2:v2`).
    pub labels: Option<String>,
    /// `-transform`: expression applied to `-dsn` lines.
    pub transform: Option<String>,
    /// `-no-api`: do not run the Local API.
    pub no_api: bool,
    /// `-no-cs`: do not run the log processor.
    pub no_cs: bool,
    /// `-dump-data`: directory for parser/bucket dumps.
    pub dump_data: Option<PathBuf>,
    /// `-version`.
    pub version: bool,
    /// `-t`: test the configuration and exit.
    pub test_config: bool,
    /// `-trace`/`-debug`/`-info`/`-warning`/`-error`: log level override.
    pub log_level: Option<&'static str>,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            config: PathBuf::from(cs_config::config::DEFAULT_CONFIG_PATH),
            dsn: None,
            single_type: None,
            labels: None,
            transform: None,
            no_api: false,
            no_cs: false,
            dump_data: None,
            version: false,
            test_config: false,
            log_level: None,
        }
    }
}

/// Why parsing stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    /// `-h` / `-help`.
    Help,
    /// A user error, with Go's message.
    Invalid(String),
}

/// Usage text printed for `-h` and on errors.
pub const USAGE: &str = "Usage of crowdsec:
  -c string
    \tconfiguration file (default \"/etc/crowdsec/config.yaml\")
  -debug
    \tprint debug-level on stderr
  -dsn string
    \tprocess a single data source in time-machine
  -dump-data string
    \tdump parsers/buckets raw outputs
  -error
    \tprint error-level on stderr
  -info
    \tprint info-level on stderr
  -label value
    \tadditional labels for data source (k:v,k2:v2)
  -no-api
    \tdisable local API
  -no-cs
    \tdisable crowdsec agent
  -t\tonly test configs
  -trace
    \tVERY verbose
  -transform string
    \texpr to apply on the event after acquisition
  -type string
    \tlabels.type for file in time-machine
  -version
    \tdisplay version
  -warning
    \tprint warning-level on stderr
";

fn parse_bool(name: &str, v: &str) -> Result<bool, FlagError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(FlagError::Invalid(format!(
            "invalid boolean value \"{v}\" for -{name}: parse error"
        ))),
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, FlagError> {
    let mut f = Flags::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            break;
        };
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::Invalid(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let mut value = |name: &str| -> Result<String, FlagError> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .ok_or_else(|| FlagError::Invalid(format!("flag needs an argument: -{name}"))),
            }
        };
        let boolean = |name: &str| match &inline {
            Some(v) => parse_bool(name, v),
            None => Ok(true),
        };
        match name {
            "h" | "help" => return Err(FlagError::Help),
            "c" => f.config = PathBuf::from(value(name)?),
            "dsn" => f.dsn = Some(value(name)?),
            "type" => f.single_type = Some(value(name)?),
            "label" => f.labels = Some(value(name)?),
            "transform" => f.transform = Some(value(name)?),
            "dump-data" => f.dump_data = Some(PathBuf::from(value(name)?)),
            "no-api" => f.no_api = boolean(name)?,
            "no-cs" => f.no_cs = boolean(name)?,
            "version" => f.version = boolean(name)?,
            "t" => f.test_config = boolean(name)?,
            "trace" | "debug" | "info" | "warning" | "error" => {
                if boolean(name)? {
                    f.log_level = Some(match name {
                        "trace" => "trace",
                        "debug" => "debug",
                        "info" => "info",
                        "warning" => "warn",
                        _ => "error",
                    });
                }
            }
            _ => {
                return Err(FlagError::Invalid(format!(
                    "flag provided but not defined: -{name}"
                )));
            }
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Result<Flags, FlagError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_flag_forms_are_accepted() {
        let f = check(&["-c", "/x/lapi.yaml", "-no-cs"]).unwrap();
        assert_eq!(f.config, PathBuf::from("/x/lapi.yaml"));
        assert!(f.no_cs && !f.no_api);
        let f = check(&[
            "--c=/y",
            "-no-api=true",
            "-dsn",
            "file:///l.log",
            "-type",
            "syslog",
        ])
        .unwrap();
        assert_eq!(f.config, PathBuf::from("/y"));
        assert!(f.no_api);
        assert_eq!(f.dsn.as_deref(), Some("file:///l.log"));
        assert_eq!(f.single_type.as_deref(), Some("syslog"));
        let f = check(&["-version", "-debug", "-no-cs=false"]).unwrap();
        assert!(f.version && !f.no_cs);
        assert_eq!(f.log_level, Some("debug"));
    }

    #[test]
    fn errors_match_go_messages() {
        assert_eq!(
            check(&["-nope"]),
            Err(FlagError::Invalid(
                "flag provided but not defined: -nope".into()
            ))
        );
        assert_eq!(
            check(&["-c"]),
            Err(FlagError::Invalid("flag needs an argument: -c".into()))
        );
        assert_eq!(
            check(&["-no-cs=maybe"]),
            Err(FlagError::Invalid(
                "invalid boolean value \"maybe\" for -no-cs: parse error".into()
            ))
        );
        assert_eq!(check(&["-h"]), Err(FlagError::Help));
        // Parsing stops at the first non-flag argument.
        assert!(!check(&["x", "-no-cs"]).unwrap().no_cs);
    }
}
