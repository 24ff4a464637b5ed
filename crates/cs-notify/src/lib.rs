//! Notification plugins of the Local API, compatible with upstream's plugin system: the same
//! `notifications/*.yaml` documents, the same plugin binaries (`notification-<type>`, or the bare
//! `<type>` of the Debian layout) driven over hashicorp go-plugin's gRPC protocol, the same
//! `format` templates, grouping (`group_wait`, `group_threshold`), retries and timeouts.
//!
//! [`BrokerOptions::from_config`] reads the configuration, [`Broker::start`] checks and spawns
//! the plugins, and [`Dispatcher::dispatch`] queues an alert for the notifications a profile
//! names; [`Broker::send`] delivers at once, without grouping, and returns the outcome.
//! [`Broker::shutdown`] delivers what is pending and stops the plugins.

mod broker;
mod config;
mod plugin;
mod proto;
mod template;

pub use broker::{Broker, Dispatcher};
pub use config::{BrokerOptions, NotificationConfig, load_notification_dir};
pub use plugin::{PluginBinary, check_plugin_binary, find_plugin_binaries};
pub use template::Format;

use std::path::PathBuf;

/// Errors of the notification broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A notification directory or file could not be read.
    #[error("while reading {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A notification document is invalid.
    #[error("error in {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the document index or the YAML position.
        message: String,
    },
    /// A setting needed once plugins are enabled is missing or wrong.
    #[error("{0}")]
    Setup(String),
    /// `plugin_config.user`/`group` do not exist.
    #[error("while getting process attributes: {0}")]
    Credentials(String),
    /// A plugin binary fails upstream's ownership and permission checks.
    #[error("{0}")]
    InvalidBinary(String),
    /// A plugin process could not be started or did not complete go-plugin's handshake.
    #[error("plugin {binary}: {message}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A gRPC call to a plugin failed.
    #[error("plugin {name}: {message}")]
    Rpc {
        /// The notification (or binary) name.
        name: String,
        /// The gRPC status or transport error.
        message: String,
    },
    /// A `format` template does not parse or does not render.
    #[error("notification {name}: template: {message}")]
    Template {
        /// The notification name.
        name: String,
        /// The template engine's message.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
