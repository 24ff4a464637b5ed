//! The `journalctl` datasource: runs `journalctl` and takes each line of its output (the
//! default `short` format, `Mmm dd hh:mm:ss host unit[pid]: message`, which the hub's
//! `syslog-logs` parser reads) as `Line.Raw`.
//!
//! Live (`mode: tail`) it runs `journalctl --follow -n 0 <journalctl_filter…>`, once
//! (`mode: cat`, `-dsn journalctl://filters=…`) `journalctl [--since S] <filters…>`, as
//! upstream does. `Line.Src` is `journalctl-` followed by the filters joined with `.`.
//!
//! Keys: `journalctl_filter` (list of journalctl arguments, e.g. `_SYSTEMD_UNIT=ssh.service`),
//! and two keys of this implementation: `journalctl_path` (the program, default `journalctl`
//! from `PATH`) and `journalctl_args` (extra arguments put first, e.g. `[--file, x.journal]`
//! or `[--directory, /var/log/journal]`).

use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::Arc;

use cs_config::yaml::{Diagnostic, Node};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::config::{Mode, key_error};
use crate::dsn::Dsn;
use crate::error::{Error, Result};
use crate::lines::{DEFAULT_MAX_LINE_LENGTH, LineSplitter, Piece, for_each_line};
use crate::live::{Counters, SourceCtx, Started};
use crate::{Labels, OneShotSource, RawLine, ReadStats};

/// The program run unless `journalctl_path` says otherwise.
pub const DEFAULT_JOURNALCTL: &str = "journalctl";

/// The `journalctl` keys of an acquisition document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournalctlConfig {
    /// `journalctl_filter`: arguments selecting entries.
    pub filters: Vec<String>,
    /// `journalctl_path`: the program to run.
    pub program: String,
    /// `journalctl_args`: extra arguments, put before the others.
    pub extra_args: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct JournalctlDoc {
    journalctl_filter: Vec<String>,
    journalctl_path: String,
    journalctl_args: Vec<String>,
}

impl JournalctlConfig {
    /// Decodes the module keys of a document.
    pub(crate) fn from_node(node: &Node, doc: &Node) -> Result<JournalctlConfig, Vec<Diagnostic>> {
        let raw: JournalctlDoc = node.decode("").map_err(|d| d.0)?;
        if raw.journalctl_filter.is_empty() {
            return Err(key_error(
                doc,
                "journalctl_filter",
                "journalctl_filter is required",
            ));
        }
        Ok(JournalctlConfig {
            filters: raw.journalctl_filter,
            program: if raw.journalctl_path.is_empty() {
                DEFAULT_JOURNALCTL.to_owned()
            } else {
                raw.journalctl_path
            },
            extra_args: raw.journalctl_args,
        })
    }

    /// `Line.Src` of this source.
    pub fn src(&self) -> String {
        format!("journalctl-{}", self.filters.join("."))
    }

    /// The arguments journalctl is run with.
    pub fn args(&self, mode: Mode, since: Option<&str>) -> Vec<String> {
        let mut args = self.extra_args.clone();
        if mode == Mode::Tail {
            args.extend(["--follow", "-n", "0"].map(String::from));
        }
        if let Some(s) = since {
            args.extend(["--since".to_owned(), s.to_owned()]);
        }
        args.extend(self.filters.iter().cloned());
        args
    }
}

/// Starts a `journalctl` datasource: fails when the program cannot be run.
pub(crate) async fn start_live(
    cfg: &JournalctlConfig,
    mode: Mode,
    ctx: SourceCtx,
) -> Result<Started> {
    let mut child = tokio::process::Command::new(&cfg.program)
        .args(cfg.args(mode, None))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: cfg.program.clone(),
            source,
        })?;
    tracing::info!(program = %cfg.program, args = ?cfg.args(mode, None), "journalctl started");
    let src: Arc<str> = Arc::from(cfg.src());
    let program = cfg.program.clone();
    let mut started = Started::default();
    if let Some(mut stderr) = child.stderr.take() {
        let program = program.clone();
        started.tasks.push(tokio::spawn(async move {
            let mut text = String::new();
            if stderr.read_to_string(&mut text).await.is_ok() {
                for line in text.lines().filter(|l| !l.is_empty()) {
                    tracing::warn!(program = %program, "stderr: {line}");
                }
            }
        }));
    }
    started.tasks.push(tokio::spawn(async move {
        let Some(mut stdout) = child.stdout.take() else {
            return;
        };
        let counters = ctx.stats.counters(ctx.module, &src, &ctx.acquis_type);
        let mut splitter = LineSplitter::new(DEFAULT_MAX_LINE_LENGTH);
        let mut buf = vec![0u8; 64 * 1024];
        let mut stop = ctx.stop.clone();
        'read: loop {
            let n = tokio::select! {
                r = stdout.read(&mut buf) => match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(program = %program, error = %e, "reading journalctl output");
                        0
                    }
                },
                () = crate::live::stopped(&mut stop) => break,
            };
            let mut lines = Vec::new();
            let mut collect = |p: Piece<'_>| {
                collect_piece(p, &counters, &mut lines);
                ControlFlow::Continue(())
            };
            if n == 0 {
                let _ = splitter.flush(&mut collect);
            } else {
                let _ = splitter.feed(&buf[..n], &mut collect);
            }
            for raw in lines {
                let line = ctx.line(raw, &src, Some(chrono::Utc::now().fixed_offset()));
                if !ctx.send(line).await {
                    break 'read;
                }
                Counters::inc(&counters.hits);
            }
            if n == 0 || ctx.stopping() {
                break;
            }
        }
        let _ = child.start_kill();
        match child.wait().await {
            Ok(status) if !status.success() && !ctx.stopping() => {
                tracing::error!(program = %program, %status, "journalctl exited with an error");
            }
            Ok(_) => tracing::info!(program = %program, "journalctl datasource ended"),
            Err(e) => tracing::error!(program = %program, error = %e, "waiting for journalctl"),
        }
    }));
    Ok(started)
}

fn collect_piece(p: Piece<'_>, counters: &Counters, out: &mut Vec<String>) {
    match p {
        Piece::Line { text, invalid_utf8 } => {
            if invalid_utf8 {
                Counters::inc(&counters.invalid_utf8);
            }
            out.push(text.into_owned());
        }
        Piece::TooLong => Counters::inc(&counters.too_long),
    }
}

/// `journalctl` read once (`-dsn journalctl://filters=…[&since=…]`).
#[derive(Debug, Clone)]
pub struct JournalctlSource {
    config: JournalctlConfig,
    since: Option<String>,
    labels: Labels,
}

impl JournalctlSource {
    /// From `journalctl://filters=F1&filters=F2[&since=S][&log_level=L]` (the parameters may
    /// also follow a `?`).
    pub fn from_dsn(dsn: &Dsn, labels: Labels) -> Result<JournalctlSource> {
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in dsn.target().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((k.to_owned(), v.to_owned()));
        }
        params.extend(dsn.params().iter().cloned());
        let mut filters = Vec::new();
        let mut since = None;
        for (key, value) in params {
            match key.as_str() {
                "filters" => filters.push(value),
                "since" => since = Some(value),
                "log_level" => {}
                _ => return Err(dsn.parameter_error(&key, "unknown parameter")),
            }
        }
        if filters.is_empty() {
            return Err(Error::InvalidDsn {
                dsn: dsn.as_str().to_owned(),
                reason: "journalctl DSN must have at least one filter".to_owned(),
            });
        }
        Ok(JournalctlSource {
            config: JournalctlConfig {
                filters,
                program: DEFAULT_JOURNALCTL.to_owned(),
                extra_args: Vec::new(),
            },
            since,
            labels,
        })
    }

    /// Runs `program` instead of `journalctl`, with `extra_args` first (e.g. `--file`).
    #[must_use]
    pub fn with_command(mut self, program: &str, extra_args: &[&str]) -> Self {
        program.clone_into(&mut self.config.program);
        self.config.extra_args = extra_args.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

impl OneShotSource for JournalctlSource {
    fn module(&self) -> &'static str {
        "journalctl"
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn read_all(
        &mut self,
        sink: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<ReadStats> {
        let program = self.config.program.clone();
        let mut child = Command::new(&program)
            .args(self.config.args(Mode::Cat, self.since.as_deref()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.clone(),
                source,
            })?;
        let src = self.config.src();
        let mut stats = ReadStats {
            inputs: 1,
            ..ReadStats::default()
        };
        let stdout = child.stdout.take().ok_or_else(|| Error::Command {
            program: program.clone(),
            reason: "no output".to_owned(),
        })?;
        let mut stderr = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_string(&mut text);
            }
            text
        });
        let flow = for_each_line(
            BufReader::new(stdout),
            DEFAULT_MAX_LINE_LENGTH,
            &mut stats,
            &mut |raw| sink(RawLine { raw, src: &src }),
        );
        if matches!(flow, Ok(ControlFlow::Break(()))) {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
        let errors = err_reader.join().unwrap_or_default();
        // Stopping early (the sink's choice) is not an error.
        let _flow = flow.map_err(|source| Error::Io {
            path: program.clone().into(),
            source,
        })?;
        if !status.success() && stats.lines == 0 {
            return Err(Error::Command {
                program,
                reason: format!("{status}: {}", errors.trim()),
            });
        }
        Ok(stats)
    }
}
