//! Datasources, one module each, named after upstream's `source:` value.

pub mod file;
pub mod journalctl;
pub(crate) mod positions;
pub mod syslog;
pub mod syslog_message;
pub(crate) mod tailer;
mod watch;
