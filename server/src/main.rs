//! `oi-sessions`: the sessions server binary. Parses flags, opens the store,
//! binds the listeners, prints one `oi-sessions listening <proto>=<addr>` line
//! per listener on stdout and serves until SIGINT or SIGTERM.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use openinference_session_server::cli;
use openinference_session_server::config::{ServeArgs, StoreArgs, StoreLocation};
use openinference_session_server::store::Store;
use openinference_session_server::store::postgres::{PostgresStore, describe, parse_url};
use openinference_session_server::store::sqlite::{Check, SqliteStore};
use openinference_session_server::{AppState, serve};
use tracing_subscriber::EnvFilter;

/// Sessions server for OpenInference and OpenTelemetry GenAI traces
#[derive(Parser)]
#[command(name = "oi-sessions", version = openinference_session_server::VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: OTLP ingest (HTTP and gRPC) and the sessions API
    Serve(Box<ServeArgs>),
    /// Check the store's integrity in full, read-only (while a server runs on it, too); exit 1 when it is damaged
    Check(CheckArgs),
    /// A running server's sessions: list, show, delete
    Sessions(Box<cli::SessionsArgs>),
    /// Export sessions matching a filter as JSONL, CSV or OpenAI chat messages
    Export(Box<cli::ExportArgs>),
    /// Import sessions exported as JSONL into a running server (importing twice changes nothing)
    Import(Box<cli::ImportArgs>),
    /// Annotate a session (a label, a score, an explanation)
    Annotate(Box<cli::AnnotateArgs>),
    /// Copy a live SQLite database into a file, consistently, while the server keeps ingesting
    Backup(cli::backup::BackupArgs),
    /// Copy everything from a SQLite data dir into PostgreSQL (resumable, verified)
    Migrate(cli::migrate::MigrateArgs),
}

/// Flags of `oi-sessions check`.
#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// `oi-sessions check`: prints what the check found; fails when the store is
/// damaged.
fn check(args: CheckArgs) -> anyhow::Result<()> {
    let report = match args.store.resolve()? {
        StoreLocation::Sqlite(dir) => openinference_session_server::store::sqlite::check_dir(&dir)?,
        StoreLocation::Postgres(url) => PostgresStore::check(url.expose())?,
    };
    println!("{}", report.detail);
    if report.ok {
        Ok(())
    } else {
        anyhow::bail!("the store is damaged: restore it from a backup")
    }
}

/// The end of a command-line subcommand: its error on stderr (`error: ...`),
/// exit 1.
fn client(result: Result<(), cli::CliError>) -> anyhow::Result<()> {
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for sigterm");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

fn main() -> anyhow::Result<()> {
    openinference_session_server::memory::tune_allocators();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("OI_SESSIONS_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr on a full disk) is lost,
        // never a panic: the default reports it with `eprintln!`, which panics.
        .log_internal_errors(false)
        .init();
    let args = match Cli::parse().command {
        Command::Serve(args) => *args,
        Command::Check(args) => return check(args),
        Command::Sessions(args) => return client(cli::run_async(cli::sessions::run(*args))),
        Command::Export(args) => return client(cli::run_async(cli::export::run(*args))),
        Command::Import(args) => return client(cli::run_async(cli::import::run(*args))),
        Command::Annotate(args) => return client(cli::run_async(cli::sessions::annotate(*args))),
        Command::Backup(args) => return client(cli::backup::run(args)),
        Command::Migrate(args) => return client(cli::migrate::run(args)),
    };
    let config = args.resolve()?;
    // PostgreSQL's blocking client runs its own runtime, so it is opened before
    // ours starts; the password never reaches a message.
    let (postgres, store_name): (Option<Arc<dyn Store>>, String) = match &config.store {
        StoreLocation::Postgres(url) => {
            let name = format!("postgresql {}", describe(&parse_url(url.expose())?));
            let store = PostgresStore::open(url.expose())
                .with_context(|| format!("cannot open the store in {name}"))?;
            (Some(Arc::new(store)), name)
        }
        StoreLocation::Sqlite(dir) => (None, dir.display().to_string()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store: Arc<dyn Store> = match postgres {
            Some(store) => store,
            None => {
                let StoreLocation::Sqlite(dir) = &config.store else {
                    unreachable!("a PostgreSQL store is opened above")
                };
                let depth = if config.integrity_check {
                    Check::Quick
                } else {
                    Check::None
                };
                Arc::new(
                    SqliteStore::open_dir_with(dir, depth)
                        .with_context(|| format!("cannot open the store in {}", dir.display()))?,
                )
            }
        };
        let http = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.http_addr))?;
        let grpc = match config.grpc_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            ),
            None => None,
        };
        openinference_session_server::store::queries::set_clock_offset(
            i64::try_from(config.clock_offset.as_nanos()).unwrap_or(i64::MAX),
        );
        let mut state = AppState::new(store)
            .with_session_idle(config.session_idle)
            .with_retention(config.retention)
            .with_evaluations(config.evaluations);
        state.max_request_bytes = config.max_request_bytes;
        state.api_key = config.api_key.map(Arc::from);
        state.prices = Arc::new(config.prices);
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "oi-sessions listening http={}", http.local_addr()?)?;
            if let Some(g) = &grpc {
                writeln!(out, "oi-sessions listening grpc={}", g.local_addr()?)?;
            }
            out.flush()?;
        }
        tracing::info!(store = %store_name, "serving");
        if !openinference_session_server::ui::embedded() {
            tracing::warn!(
                "built without the web UI: build it with scripts/build-ui.sh, then rebuild the server"
            );
        }
        serve(http, grpc, state, shutdown_signal()).await?;
        Ok(())
    })
}
