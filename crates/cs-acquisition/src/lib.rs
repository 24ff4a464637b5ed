//! CrowdSec acquisition: datasources that yield raw log lines to the agent.
//!
//! A datasource is built from a DSN (`crowdsec -dsn file:///var/log/auth.log -type syslog`)
//! with [`from_dsn`] and read to its end with [`OneShotSource::read_all`], which hands each
//! line to a sink as a borrowed [`RawLine`]. This is upstream's one-shot ("cat",
//! time-machine) acquisition; streaming sources (tailing, journald, syslog) go next to
//! [`sources::file`] under `sources/`.
//!
//! Lines are read with a bounded buffer: a line longer than the limit (1 MiB unless the DSN
//! sets `max_buffer_size`) or that is not valid UTF-8 is skipped and counted in
//! [`ReadStats`], never fatal.

mod dsn;
mod error;
mod lines;
pub mod sources;

use std::collections::BTreeMap;
use std::ops::ControlFlow;

pub use dsn::Dsn;
pub use error::{Error, Result};
pub use lines::DEFAULT_MAX_LINE_LENGTH;

/// Labels of a datasource (`labels:` in acquis.yaml, `-type`/`-label` with `-dsn`).
pub type Labels = BTreeMap<String, String>;

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
    /// Lines skipped because they are not valid UTF-8.
    pub invalid_utf8: u64,
    /// Inputs (files) read.
    pub inputs: u64,
}

impl ReadStats {
    /// Lines skipped for any reason.
    pub fn skipped(&self) -> u64 {
        self.too_long + self.invalid_utf8
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

/// Builds the one-shot datasource a DSN names (`file://…`).
pub fn from_dsn(dsn: &str, labels: Labels) -> Result<Box<dyn OneShotSource>> {
    let parsed = Dsn::parse(dsn)?;
    match parsed.scheme() {
        "file" => Ok(Box::new(sources::file::FileSource::from_dsn(
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
        let err = from_dsn(
            "journalctl://filters=_SYSTEMD_UNIT=ssh.service",
            Labels::new(),
        )
        .err()
        .expect("an error");
        assert!(matches!(&err, Error::UnsupportedScheme { scheme, .. } if scheme == "journalctl"));
    }
}
