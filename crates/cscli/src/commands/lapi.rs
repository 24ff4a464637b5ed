//! `cscli lapi status`.

use anyhow::{Context as _, Result};

use crate::cli::LapiCmd;
use crate::context::Ctx;

/// Runs `cscli lapi ...`.
pub async fn run(ctx: &Ctx, cmd: LapiCmd) -> Result<()> {
    match cmd {
        LapiCmd::Status => {
            let path = ctx.cfg.client_credentials_path()?;
            tracing::info!("Loaded credentials from {}", path.display());
            let (client, creds) = ctx.lapi()?;
            tracing::info!(
                "Trying to authenticate with username {} on {}",
                creds.login,
                creds.url
            );
            client
                .login()
                .await
                .context("failed to authenticate to Local API (LAPI)")?;
            tracing::info!("You can successfully interact with Local API (LAPI)");
            Ok(())
        }
    }
}
