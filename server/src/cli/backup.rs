//! `oi-sessions backup --data-dir <dir> <file>`: a consistent copy of a live
//! SQLite database (the server may keep ingesting), checked before it is
//! given its name. The work is [`crate::store::sqlite::backup`].

use std::path::PathBuf;

use clap::Args;

use super::{CliError, out};
use crate::config::StoreArgs;
use crate::store::StoreError;

/// `oi-sessions backup`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory of the SQLite database [default: $XDG_DATA_HOME/oi-sessions or ~/.local/share/oi-sessions]
    #[arg(long, env = "OI_SESSIONS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The file to write the copy to (must not exist)
    pub file: PathBuf,
    /// Print what was copied as JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `oi-sessions backup`.
pub fn run(args: BackupArgs) -> Result<(), CliError> {
    let location = StoreArgs {
        data_dir: args.data_dir,
        database_url: None,
    }
    .resolve()
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let crate::config::StoreLocation::Sqlite(dir) = location else {
        unreachable!("no database url was given")
    };
    let started = std::time::Instant::now();
    let report = crate::store::sqlite::backup(&dir, &args.file).map_err(|e| match e {
        StoreError::AlreadyExists(_) => CliError::Usage(format!(
            "{} exists: remove it or choose another file",
            args.file.display()
        )),
        e => CliError::store(format!("cannot back up {}", dir.display()), e),
    })?;
    if args.json {
        let rows: serde_json::Map<String, serde_json::Value> = report
            .rows
            .iter()
            .map(|(t, n)| ((*t).to_owned(), (*n).into()))
            .collect();
        return out(&serde_json::json!({
            "file": args.file.display().to_string(),
            "pages": report.pages,
            "rows": rows,
            "integrity": "ok",
        })
        .to_string());
    }
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    out(&format!(
        "backed up {} to {} in {:.1}s: {} pages, {}; integrity check ok, opens as a store",
        dir.display(),
        args.file.display(),
        started.elapsed().as_secs_f64(),
        report.pages,
        rows.join(", ")
    ))
}
