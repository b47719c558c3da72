//! The command line's client side: subcommands of `oi-sessions` that talk to a
//! running server over its HTTP API (`sessions`, `export`, `import`,
//! `annotate`), and the ones that work on a store's files (`backup`,
//! `migrate`). Each subcommand's flags are here; what it does is in its own
//! module. One error type, [`CliError`], for the whole layer.

pub mod backup;
pub mod export;
pub mod http;
pub mod import;
pub mod migrate;
pub mod progress;
pub mod sessions;

use clap::{Args, Subcommand};

use crate::store::StoreError;

/// The server the client subcommands talk to when `--url` is not given: what
/// `serve` binds by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:6006";

/// Flags every client subcommand takes (also after its own subcommand).
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server's URL
    #[arg(long, global = true, env = "OI_SESSIONS_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// The server's API key (sent as "Authorization: Bearer <key>")
    #[arg(
        long,
        global = true,
        env = "OI_SESSIONS_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// The project (its name or id)
    #[arg(
        long,
        global = true,
        env = "OI_SESSIONS_PROJECT",
        default_value = "default"
    )]
    pub project: String,
    /// Print JSON for scripts instead of a table for people
    #[arg(long, global = true)]
    pub json: bool,
}

impl ClientArgs {
    /// The client of the server these flags name.
    pub fn client(&self) -> Result<http::ApiClient, CliError> {
        http::ApiClient::new(&self.url, self.api_key.clone())
    }

    /// The project's path prefix, `/v1/projects/<project>`.
    pub fn project_path(&self) -> String {
        format!("/v1/projects/{}", http::encode(&self.project))
    }
}

/// Which sessions: the session list's filters and sort, as the API takes them
/// (the server checks the values and names a bad one).
#[derive(Debug, Clone, Default, Args)]
pub struct SessionFilter {
    /// Sort by start_time, end_time, num_traces, total_tokens, total_cost, duration, last_activity or annotation_score
    #[arg(long)]
    pub sort: Option<String>,
    /// asc or desc
    #[arg(long)]
    pub order: Option<String>,
    /// Sessions that end at or after this RFC 3339 time
    #[arg(long)]
    pub start_time: Option<String>,
    /// Sessions that start at or before this RFC 3339 time
    #[arg(long)]
    pub end_time: Option<String>,
    /// Sessions with a trace of this user
    #[arg(long)]
    pub user_id: Option<String>,
    /// Sessions with a trace carrying this tag
    #[arg(long)]
    pub tag: Option<String>,
    /// Sessions with a trace whose metadata has KEY=VALUE (repeat for several)
    #[arg(long, value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,
    /// Sessions with (true) or without (false) an errored trace
    #[arg(long)]
    pub has_error: Option<bool>,
    /// Sessions with at least this many traces
    #[arg(long)]
    pub min_traces: Option<i64>,
    /// Text in any turn's input or output (case-insensitive), or the session's id
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// active or idle
    #[arg(long)]
    pub status: Option<String>,
    /// Sessions with an annotation of this name
    #[arg(long)]
    pub annotation: Option<String>,
    /// With --annotation: its label is this
    #[arg(long)]
    pub annotation_label: Option<String>,
    /// With --annotation: its score is at least this
    #[arg(long)]
    pub annotation_score_min: Option<f64>,
    /// With --annotation: its score is at most this
    #[arg(long)]
    pub annotation_score_max: Option<f64>,
    /// Sessions without an annotation of this name
    #[arg(long)]
    pub missing_annotation: Option<String>,
}

impl SessionFilter {
    /// The list's query parameters.
    pub fn params(&self) -> Result<Vec<(String, String)>, CliError> {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                p.push((k.to_owned(), v));
            }
        };
        add("sort", self.sort.clone());
        add("order", self.order.clone());
        add("start_time", self.start_time.clone());
        add("end_time", self.end_time.clone());
        add("user_id", self.user_id.clone());
        add("tag", self.tag.clone());
        add("has_error", self.has_error.map(|b| b.to_string()));
        add("min_traces", self.min_traces.map(|n| n.to_string()));
        add("q", self.query.clone());
        add("status", self.status.clone());
        add("annotation", self.annotation.clone());
        add("annotation_label", self.annotation_label.clone());
        add(
            "annotation_score_min",
            self.annotation_score_min.map(|n| n.to_string()),
        );
        add(
            "annotation_score_max",
            self.annotation_score_max.map(|n| n.to_string()),
        );
        add("missing_annotation", self.missing_annotation.clone());
        for m in &self.metadata {
            let (k, v) = m
                .split_once('=')
                .ok_or_else(|| CliError::Usage(format!("--metadata {m:?} is not KEY=VALUE")))?;
            p.push((format!("metadata.{k}"), v.to_owned()));
        }
        Ok(p)
    }
}

/// `oi-sessions sessions ...`
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// The server and project.
    #[command(flatten)]
    pub client: ClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: SessionsCommand,
}

/// What `oi-sessions sessions` does.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a project's sessions (the API's filters and sorts)
    List {
        /// Which sessions.
        #[command(flatten)]
        filter: Box<SessionFilter>,
        /// How many sessions at most
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show a session as a conversation: its turns, tool calls and annotations
    Show {
        /// The session id
        session_id: String,
    },
    /// Delete sessions with their traces, spans and annotations
    Delete {
        /// The session ids
        #[arg(required = true)]
        session_ids: Vec<String>,
    },
}

/// The formats of `oi-sessions export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One session per line: its fields, turns, annotations and spans (what `import` reads)
    Jsonl,
    /// One row per turn
    Csv,
    /// One {"messages": [{"role", "content"}]} per line: the conversation as OpenAI chat messages
    Openai,
}

/// `oi-sessions export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The server and project.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Which sessions.
    #[command(flatten)]
    pub filter: SessionFilter,
    /// What to write
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
    /// The file to write (stdout when not given)
    #[arg(long, short = 'o')]
    pub output: Option<std::path::PathBuf>,
    /// How many sessions at most (every matching session when not given)
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `oi-sessions import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The server and project.
    #[command(flatten)]
    pub client: ClientArgs,
    /// A JSONL file written by `oi-sessions export --format jsonl` ("-" for stdin)
    pub file: std::path::PathBuf,
    /// Import every session into this project instead of the one each line names (--project is not read by import)
    #[arg(long)]
    pub into_project: Option<String>,
}

/// `oi-sessions annotate`
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The server and project.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The session id
    pub session_id: String,
    /// What is judged (goal_completion, user_feedback, ...; "note" for a note)
    #[arg(long)]
    pub name: String,
    /// A categorical verdict
    #[arg(long)]
    pub label: Option<String>,
    /// A numeric verdict
    #[arg(long)]
    pub score: Option<f64>,
    /// Why
    #[arg(long)]
    pub explanation: Option<String>,
    /// Who judged: HUMAN, LLM or CODE
    #[arg(long, default_value = "HUMAN")]
    pub annotator_kind: String,
    /// Tells several annotations of one name on a session apart (a rewrite with the same one replaces)
    #[arg(long, default_value = "")]
    pub identifier: String,
}

/// Why a subcommand failed. The message is for people; the exit code is 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The flags or the input do not make sense.
    #[error("{0}")]
    Usage(String),
    /// The server did not answer.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// Why, as the connection said.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{request}: {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        /// Method and path.
        request: String,
        /// HTTP status.
        status: u16,
        /// The API's error code, when it sent one.
        code: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The server's answer is not what the API says.
    #[error("unexpected answer to {path}: {reason}")]
    Answer {
        /// The path asked.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line of an import file is not an exported session.
    #[error("{path}:{line}: {reason}")]
    Input {
        /// The file.
        path: String,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        source: StoreError,
    },
    /// A copy does not match its original.
    #[error("{0}")]
    Mismatch(String),
}

impl CliError {
    /// A store error, with what was being done.
    pub fn store(context: impl Into<String>, source: StoreError) -> Self {
        Self::Store {
            context: context.into(),
            source,
        }
    }

    /// A file error, with its path.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Runs an async client command on a small runtime of its own.
pub fn run_async<F>(f: F) -> Result<(), CliError>
where
    F: std::future::Future<Output = Result<(), CliError>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("the async runtime", e))?
        .block_on(f)
}

/// Writes a line to stdout; a closed pipe (`| head`) ends the command quietly.
pub fn out(line: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r.map_err(|e| CliError::io("stdout", e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_url_is_where_serve_listens() {
        assert_eq!(
            super::DEFAULT_URL,
            format!("http://{}", crate::config::DEFAULT_HTTP_ADDR)
        );
    }
}
