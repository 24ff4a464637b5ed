//! CrowdSec acquisition: datasources that yield raw log lines to the agent.
//!
//! Two ways in:
//!
//! - **One-shot** (`crowdsec -dsn file:///var/log/auth.log -type syslog`, replay): [`from_dsn`]
//!   builds the datasource (`file://PATTERN[?max_buffer_size=N]`,
//!   `journalctl://filters=F[&filters=F2][&since=S]`) and [`OneShotSource::read_all`] hands
//!   each line to a sink as a borrowed [`RawLine`].
//! - **Live** (the daemon): [`load_acquisition`] reads `acquis.yaml` and the files of
//!   `acquis.d/` (multi-document YAML, one datasource per document, strict like upstream, every
//!   error located at `file:line:col` with its key), then [`start`] (or [`start_sources`], with
//!   a [`LineTransform`] per datasource that has a `transform`) runs the datasources, each
//!   sending [`LiveLine`]s into one channel. [`Acquisition::stats`] gives the per-input
//!   counters behind upstream's `cs_filesource_hits_total`, `cs_journalctlsource_hits_total`,
//!   `cs_syslogsource_hits_total` and `cs_syslogsource_parsed_total`;
//!   [`Acquisition::stop`] stops them and saves the file positions.
//!
//! Keys shared by every datasource document: `source` (`file`, `journalctl`, `syslog`;
//! guessed from `filename(s)` / `journalctl_filter` when missing), `labels` (required;
//! `type` is the log type), `mode` (`tail`, default, or `cat`), `log_level`, `name`,
//! `use_time_machine`, `unique_id`, `transform` (compiled by the agent into a [`LineTransform`],
//! applied by the datasource to each line it reads). The keys of
//! each module are listed in [`sources::file`], [`sources::journalctl`] and
//! [`sources::syslog`].
//!
//! Lines are read with a bounded buffer: a line longer than the limit
//! ([`DEFAULT_MAX_LINE_LENGTH`] unless `max_buffer_size` says otherwise; upstream's scanner
//! stops at 64 KiB) is skipped and counted, never fatal. Bytes that are not UTF-8 are replaced
//! by U+FFFD and the line is delivered (upstream passes them through untouched), and counted.
//! Empty lines are dropped, as upstream does.

mod config;
mod dsn;
mod error;
mod lines;
mod live;
pub mod sources;

use std::ops::ControlFlow;

pub use config::{
    CommonConfig, DataSourceConfig, Mode, SourceKind, load_acquisition, parse_acquisition,
};
pub use dsn::Dsn;
pub use error::{Error, Result};
pub use lines::DEFAULT_MAX_LINE_LENGTH;
pub use live::{
    Acquisition, LineTransform, LiveLine, Source, SourceFailure, SourceStats, start, start_sources,
};

/// Labels of a datasource (`labels:` in acquis.yaml, `-type`/`-label` with `-dsn`).
pub type Labels = cs_types::StrMap;

/// One line produced by a datasource, borrowed from its read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The line without its terminator (`Line.Raw`).
    pub raw: &'a str,
    /// Where it comes from, e.g. the file path (`Line.Src`).
    pub src: &'a str,
}

/// What a datasource read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines handed to the sink (upstream's `cs_filesource_hits_total`).
    pub lines: u64,
    /// Lines skipped because they exceed the maximum length.
    pub too_long: u64,
    /// Lines handed to the sink with bytes that were not UTF-8 replaced by U+FFFD.
    pub invalid_utf8: u64,
    /// Inputs (files) read.
    pub inputs: u64,
}

impl ReadStats {
    /// Lines skipped (too long; lines with invalid UTF-8 are delivered, converted).
    pub fn skipped(&self) -> u64 {
        self.too_long
    }
}

/// A datasource read once to its end (`-dsn`, time-machine mode).
pub trait OneShotSource: Send {
    /// Upstream's module name (`Line.Module`), e.g. `file`.
    fn module(&self) -> &'static str;

    /// Labels attached to every line.
    fn labels(&self) -> &Labels;

    /// Reads everything, calling `sink` for each line; stops early when it returns
    /// [`ControlFlow::Break`].
    fn read_all(
        &mut self,
        sink: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<ReadStats>;
}

/// Builds the one-shot datasource a DSN names (`file://…`, `journalctl://…`).
pub fn from_dsn(dsn: &str, labels: Labels) -> Result<Box<dyn OneShotSource>> {
    let parsed = Dsn::parse(dsn)?;
    match parsed.scheme() {
        "file" => Ok(Box::new(sources::file::FileSource::from_dsn(
            &parsed, labels,
        )?)),
        "journalctl" => Ok(Box::new(sources::journalctl::JournalctlSource::from_dsn(
            &parsed, labels,
        )?)),
        other => Err(Error::UnsupportedScheme {
            dsn: dsn.to_owned(),
            scheme: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_are_refused_with_the_scheme() {
        let err = from_dsn("docker://nginx", Labels::new())
            .err()
            .expect("an error");
        assert!(matches!(&err, Error::UnsupportedScheme { scheme, .. } if scheme == "docker"));
    }

    #[test]
    fn journalctl_dsns_need_filters_and_known_parameters() {
        for (dsn, ok) in [
            ("journalctl://filters=_SYSTEMD_UNIT=ssh.service", true),
            ("journalctl://filters=A=1&filters=B=2&since=yesterday", true),
            ("journalctl://since=yesterday", false),
            ("journalctl://filters=A=1&bogus=1", false),
        ] {
            assert_eq!(from_dsn(dsn, Labels::new()).is_ok(), ok, "{dsn}");
        }
    }
}
