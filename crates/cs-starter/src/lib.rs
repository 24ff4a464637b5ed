//! The project's own starter content, built into the binaries: parsers for syslog, sshd,
//! Apache/nginx access logs and kernel firewall logs, scenarios against SSH brute force, user
//! enumeration, HTTP probing, sensitive files, scanner user agents and port scans, a
//! private-range whitelist, a default `profiles.yaml` and `acquis.yaml`, plus the grok
//! patterns they need.
//!
//! The content lives in the repository's `content/` directory, laid out like a hub (with its
//! own `.index.json` and hub tests under `.tests/`); this crate embeds it and writes it into a
//! config directory laid out as upstream installs hub items:
//!
//! ```text
//! <config_dir>/parsers/s00-raw/crowdsec-rs-syslog-logs.yaml
//! <config_dir>/parsers/s01-parse/crowdsec-rs-sshd-logs.yaml
//! <config_dir>/scenarios/crowdsec-rs-ssh-bf.yaml
//! <config_dir>/profiles.yaml, <config_dir>/acquis.yaml
//! <pattern_dir>/linux-syslog, ssh, nginx, firewalls
//! ```
//!
//! Nothing that exists is ever overwritten, so installing twice, or over a directory the user
//! already edited, is safe.
//!
//! ```no_run
//! let installed = cs_starter::install("/etc/crowdsec".as_ref())?;
//! for path in &installed.written {
//!     println!("installed {}", path.display());
//! }
//! # Ok::<(), cs_starter::Error>(())
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What can go wrong while installing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory could not be created or read, or a file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The outcome of an installation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Files that already existed and were left alone.
    pub kept: Vec<PathBuf>,
}

/// Where an embedded file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A path relative to the config directory.
    Config(&'static str),
    /// A file name in the grok pattern directory.
    Pattern(&'static str),
}

/// One embedded file: its path under `content/` (or the pattern library), where it is
/// installed, and its text.
#[derive(Debug, Clone, Copy)]
pub struct StarterFile {
    /// Path relative to the repository's `content/` directory.
    pub source: &'static str,
    /// Where [`install_to`] writes it.
    pub target: Target,
    /// The file's content.
    pub text: &'static str,
}

macro_rules! content {
    ($src:literal => $target:expr) => {
        StarterFile {
            source: $src,
            target: $target,
            text: include_str!(concat!("../../../content/", $src)),
        }
    };
}

/// Every file the starter content installs.
pub const FILES: &[StarterFile] = &[
    content!("parsers/s00-raw/crowdsec-rs/syslog-logs.yaml"
        => Target::Config("parsers/s00-raw/crowdsec-rs-syslog-logs.yaml")),
    content!("parsers/s01-parse/crowdsec-rs/sshd-logs.yaml"
        => Target::Config("parsers/s01-parse/crowdsec-rs-sshd-logs.yaml")),
    content!("parsers/s01-parse/crowdsec-rs/http-access-logs.yaml"
        => Target::Config("parsers/s01-parse/crowdsec-rs-http-access-logs.yaml")),
    content!("parsers/s01-parse/crowdsec-rs/netfilter-logs.yaml"
        => Target::Config("parsers/s01-parse/crowdsec-rs-netfilter-logs.yaml")),
    content!("parsers/s02-enrich/crowdsec-rs/dateparse.yaml"
        => Target::Config("parsers/s02-enrich/crowdsec-rs-dateparse.yaml")),
    content!("parsers/s02-enrich/crowdsec-rs/private-ranges-whitelist.yaml"
        => Target::Config("parsers/s02-enrich/crowdsec-rs-private-ranges-whitelist.yaml")),
    content!("scenarios/crowdsec-rs/ssh-bf.yaml"
        => Target::Config("scenarios/crowdsec-rs-ssh-bf.yaml")),
    content!("scenarios/crowdsec-rs/ssh-user-enum.yaml"
        => Target::Config("scenarios/crowdsec-rs-ssh-user-enum.yaml")),
    content!("scenarios/crowdsec-rs/http-probing.yaml"
        => Target::Config("scenarios/crowdsec-rs-http-probing.yaml")),
    content!("scenarios/crowdsec-rs/http-sensitive-paths.yaml"
        => Target::Config("scenarios/crowdsec-rs-http-sensitive-paths.yaml")),
    content!("scenarios/crowdsec-rs/http-bad-user-agent.yaml"
        => Target::Config("scenarios/crowdsec-rs-http-bad-user-agent.yaml")),
    content!("scenarios/crowdsec-rs/port-scan.yaml"
        => Target::Config("scenarios/crowdsec-rs-port-scan.yaml")),
    content!("profiles.yaml" => Target::Config("profiles.yaml")),
    content!("acquis.yaml" => Target::Config("acquis.yaml")),
    // The grok pattern library of `cs-grok` (`content/patterns` links to it); the base
    // patterns are built into every loader and are not installed.
    content!("patterns/linux-syslog" => Target::Pattern("linux-syslog")),
    content!("patterns/ssh" => Target::Pattern("ssh")),
    content!("patterns/nginx" => Target::Pattern("nginx")),
    content!("patterns/firewalls" => Target::Pattern("firewalls")),
];

/// Installs the starter content into `config_dir`, with the grok patterns in
/// `config_dir/patterns` (upstream's default `config_paths.pattern_dir`).
pub fn install(config_dir: &Path) -> Result<Installed> {
    install_to(config_dir, &config_dir.join("patterns"))
}

/// Installs the starter content into `config_dir`, with the grok patterns in `pattern_dir`.
///
/// Files that exist are kept as they are. The pattern files are written only when
/// `pattern_dir` holds no pattern file yet: pattern names must be defined once, and a
/// directory the user filled (with the hub's patterns, say) already defines the ones the
/// starter parsers use.
pub fn install_to(config_dir: &Path, pattern_dir: &Path) -> Result<Installed> {
    let patterns_present = has_pattern_files(pattern_dir)?;
    let mut installed = Installed::default();
    for file in FILES {
        let path = match file.target {
            Target::Config(rel) => config_dir.join(rel),
            Target::Pattern(name) => {
                let path = pattern_dir.join(name);
                if patterns_present {
                    installed.kept.push(path);
                    continue;
                }
                path
            }
        };
        if write_new(&path, file.text)? {
            installed.written.push(path);
        } else {
            installed.kept.push(path);
        }
    }
    Ok(installed)
}

/// Whether `config_dir/parsers/<stage>/` holds at least one parser file (`.yaml`/`.yml`,
/// possibly a symbolic link into a hub): the agent has something to run without the starter
/// content.
pub fn has_parsers(config_dir: &Path) -> bool {
    let Ok(stages) = std::fs::read_dir(config_dir.join("parsers")) else {
        return false;
    };
    stages.flatten().any(|stage| {
        std::fs::read_dir(stage.path()).is_ok_and(|files| {
            files.flatten().any(|f| {
                let path = f.path();
                path.is_file() && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            })
        })
    })
}

/// Whether `dir` holds a file the grok loader reads (a regular file without `.` in its name).
fn has_pattern_files(dir: &Path) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    Ok(entries
        .flatten()
        .any(|e| !e.file_name().to_string_lossy().contains('.') && e.path().is_file()))
}

/// Creates `path` with `text` unless something is already there; `false` when it was.
fn write_new(path: &Path, text: &str) -> Result<bool> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    // `create_new` also refuses a dangling symbolic link, which a user may have left on purpose.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    file.write_all(text.as_bytes()).map_err(io)?;
    Ok(true)
}
