//! `oi-sessions migrate --from <data-dir> --to postgres://...`.

use clap::Args;

use super::CliError;

/// `oi-sessions migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {}

/// Runs `oi-sessions migrate`.
pub fn run(_args: MigrateArgs) -> Result<(), CliError> {
    Err(CliError::Usage("not yet".into()))
}
