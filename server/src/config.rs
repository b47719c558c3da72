//! Configuration in two stages: [`ServeArgs`] is what the user typed (flags and
//! their `OI_SESSIONS_*` environment variables, each declared once here), and
//! [`Config`] is the resolved form the server runs with.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::pricing::{PriceError, PriceTable};

/// Default HTTP address (OTLP/HTTP, the API), the same as Phoenix.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:6006";
/// Default OTLP/gRPC address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default request size limit: 16 MiB, compressed or inflated.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Where the store is: flags shared by `serve` and the commands that open
/// the store themselves (`check`).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the SQLite database [default: $XDG_DATA_HOME/oi-sessions or ~/.local/share/oi-sessions]
    #[arg(long, env = "OI_SESSIONS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user:password@host:port/db) to store in instead of SQLite in --data-dir
    #[arg(long, env = "OI_SESSIONS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Where the store is, resolved.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// SQLite in this directory.
    Sqlite(PathBuf),
    /// PostgreSQL at this URL.
    Postgres(DatabaseUrl),
}

impl StoreArgs {
    /// Resolves the location: PostgreSQL when a URL is given, else SQLite in
    /// the data directory (or its default).
    pub fn resolve(self) -> Result<StoreLocation, ConfigError> {
        match self.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreLocation::Postgres(DatabaseUrl(url)))
            }
            Some(_) => Err(ConfigError::DatabaseUrl),
            None => Ok(StoreLocation::Sqlite(
                self.data_dir
                    .or_else(default_data_dir)
                    .ok_or(ConfigError::NoDataDir)?,
            )),
        }
    }
}

/// Flags of `oi-sessions serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// HTTP listen address (OTLP/HTTP at /v1/traces and the API); port 0 picks a free port
    #[arg(long, env = "OI_SESSIONS_HTTP_ADDR", default_value = DEFAULT_HTTP_ADDR)]
    pub http_addr: SocketAddr,
    /// OTLP/gRPC listen address, or "off"; port 0 picks a free port
    #[arg(long, env = "OI_SESSIONS_GRPC_ADDR", default_value = DEFAULT_GRPC_ADDR)]
    pub grpc_addr: String,
    /// Where the store is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Largest accepted request body in bytes, before and after gzip
    #[arg(long, env = "OI_SESSIONS_MAX_REQUEST_BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Require "Authorization: Bearer <key>" on ingest and API
    #[arg(long, env = "OI_SESSIONS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// JSON file of model prices ({"model": {"prompt": usd_per_mtok, "completion": usd_per_mtok}}) laid over the shipped table
    #[arg(long, env = "OI_SESSIONS_PRICES")]
    pub prices: Option<PathBuf>,
    /// Skip the quick integrity check of the SQLite database at start-up (it reads every page: about a second per GB)
    #[arg(long, env = "OI_SESSIONS_SKIP_INTEGRITY_CHECK")]
    pub skip_integrity_check: bool,
    /// A session is active until no trace arrived for this long, then idle and judged by the project's evaluators (30s, 5m, 1h); projects can set their own
    #[arg(long, env = "OI_SESSIONS_SESSION_IDLE", default_value = "5m")]
    pub session_idle: String,
    /// Evaluation jobs run at once
    #[arg(long, env = "OI_SESSIONS_EVAL_CONCURRENCY", default_value_t = crate::evaluation::DEFAULT_CONCURRENCY)]
    pub eval_concurrency: usize,
    /// Time an LLM judge may take to answer (then the job is retried)
    #[arg(long, env = "OI_SESSIONS_EVAL_TIMEOUT", default_value = "60s")]
    pub eval_timeout: String,
    /// Attempts of a job before it is recorded as failed
    #[arg(long, env = "OI_SESSIONS_EVAL_MAX_ATTEMPTS", default_value_t = crate::evaluation::DEFAULT_MAX_ATTEMPTS)]
    pub eval_max_attempts: u32,
    /// Sessions whose last activity is older are deleted, whole (30d, 12h, or "forever"); projects can set their own
    #[arg(long, env = "OI_SESSIONS_RETENTION", default_value = crate::settings::FOREVER)]
    pub retention: String,
    /// Moves the server's clock forward by this much (tests of retention and idleness)
    #[arg(long, hide = true, default_value = "0s")]
    pub clock_offset: String,
    /// Hosts LLM judges may be sent to, comma-separated ("*" for any): the server calls out nowhere else
    #[arg(long, env = "OI_SESSIONS_EVAL_ALLOWED_HOSTS", default_value = crate::evaluation::spec::DEFAULT_ALLOWED_HOSTS)]
    pub eval_allowed_hosts: String,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--grpc-addr` is neither an address nor "off".
    #[error("invalid --grpc-addr {0:?}: expected host:port or off")]
    GrpcAddr(String),
    /// No data dir given and no home directory to default to.
    #[error("no --data-dir given and no HOME or XDG_DATA_HOME to default to")]
    NoDataDir,
    /// `--max-request-bytes` is 0.
    #[error("--max-request-bytes must be positive")]
    MaxRequestBytes,
    /// `--api-key` is empty.
    #[error("--api-key must not be empty")]
    EmptyApiKey,
    /// The price file is unusable.
    #[error(transparent)]
    Prices(#[from] PriceError),
    /// A duration flag does not parse or is out of range.
    #[error("invalid {flag}: {message}")]
    Duration {
        /// The flag.
        flag: &'static str,
        /// Why.
        message: String,
    },
    /// `--eval-concurrency` or `--eval-max-attempts` is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// `--database-url` is not a PostgreSQL URL (the value is not repeated: it
    /// holds a password).
    #[error("--database-url must be a postgres:// or postgresql:// url")]
    DatabaseUrl,
}

/// A database URL: its `Debug` never shows the value, which holds a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// gRPC listen address, `None` when off.
    pub grpc_addr: Option<SocketAddr>,
    /// Where the store is.
    pub store: StoreLocation,
    /// Request size limit.
    pub max_request_bytes: usize,
    /// Bearer key.
    pub api_key: Option<String>,
    /// Price table.
    pub prices: PriceTable,
    /// Whether to run the quick integrity check of a SQLite database at
    /// start-up.
    pub integrity_check: bool,
    /// The idle period of projects without their own.
    pub session_idle: std::time::Duration,
    /// How long sessions are kept after their last activity; `None` for ever.
    pub retention: Option<std::time::Duration>,
    /// How far the server's clock is moved forward (tests).
    pub clock_offset: std::time::Duration,
    /// How evaluations run.
    pub evaluations: crate::evaluation::EvaluationSettings,
}

fn default_data_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_DATA_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("oi-sessions"))
}

impl ServeArgs {
    /// Resolves the flags into a [`Config`].
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let grpc_addr = match self.grpc_addr.trim() {
            "off" | "none" | "" => None,
            a => Some(a.parse().map_err(|_| ConfigError::GrpcAddr(a.to_owned()))?),
        };
        if self.max_request_bytes == 0 {
            return Err(ConfigError::MaxRequestBytes);
        }
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(ConfigError::EmptyApiKey);
        }
        let prices = match &self.prices {
            Some(path) => PriceTable::with_file(path)?,
            None => PriceTable::default(),
        };
        let session_idle =
            crate::settings::parse_period(&self.session_idle, crate::settings::MIN_SESSION_IDLE)
                .map_err(|message| ConfigError::Duration {
                    flag: "--session-idle",
                    message,
                })?;
        let timeout = humantime::parse_duration(self.eval_timeout.trim())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError::Duration {
                flag: "--eval-timeout",
                message: format!(
                    "{:?} is not a positive duration like 30s",
                    self.eval_timeout
                ),
            })?;
        if self.eval_concurrency == 0 {
            return Err(ConfigError::Zero("--eval-concurrency"));
        }
        if self.eval_max_attempts == 0 {
            return Err(ConfigError::Zero("--eval-max-attempts"));
        }
        let retention = crate::settings::parse_retention(&self.retention).map_err(|message| {
            ConfigError::Duration {
                flag: "--retention",
                message,
            }
        })?;
        let clock_offset = humantime::parse_duration(self.clock_offset.trim()).map_err(|e| {
            ConfigError::Duration {
                flag: "--clock-offset",
                message: e.to_string(),
            }
        })?;
        Ok(Config {
            session_idle,
            retention: (!retention.is_zero()).then_some(retention),
            clock_offset,
            evaluations: crate::evaluation::EvaluationSettings {
                concurrency: self.eval_concurrency,
                timeout,
                max_attempts: self.eval_max_attempts,
                allowed_hosts: crate::evaluation::spec::AllowedHosts::parse(
                    &self.eval_allowed_hosts,
                ),
            },
            http_addr: self.http_addr,
            grpc_addr,
            store: self.store.resolve()?,
            max_request_bytes: self.max_request_bytes,
            api_key: self.api_key,
            prices,
            integrity_check: !self.skip_integrity_check,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["oi-sessions"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .serve
            .resolve()
    }

    #[test]
    fn flags_resolve() {
        let c = resolve(&[
            "--data-dir",
            "/d",
            "--grpc-addr",
            "off",
            "--http-addr",
            "0.0.0.0:0",
        ])
        .unwrap();
        assert_eq!(c.grpc_addr, None);
        assert_eq!(c.http_addr.port(), 0);
        assert!(matches!(&c.store, StoreLocation::Sqlite(d) if d == &PathBuf::from("/d")));
        assert!(c.integrity_check);
        let c = resolve(&["--data-dir", "/d", "--skip-integrity-check"]).unwrap();
        assert!(!c.integrity_check);
        let c = resolve(&["--data-dir", "/d", "--grpc-addr", "127.0.0.1:0"]).unwrap();
        assert_eq!(c.grpc_addr, Some("127.0.0.1:0".parse().unwrap()));
        assert!(matches!(
            resolve(&["--data-dir", "/d", "--grpc-addr", "x"]),
            Err(ConfigError::GrpcAddr(_))
        ));
        assert!(matches!(
            resolve(&["--data-dir", "/d", "--max-request-bytes", "0"]),
            Err(ConfigError::MaxRequestBytes)
        ));
        assert!(matches!(
            resolve(&["--data-dir", "/d", "--api-key", " "]),
            Err(ConfigError::EmptyApiKey)
        ));
        assert!(matches!(
            resolve(&["--data-dir", "/d", "--prices", "/nonexistent.json"]),
            Err(ConfigError::Prices(_))
        ));
    }

    #[test]
    fn database_url_resolves_and_never_shows_its_password() {
        let c = resolve(&["--data-dir", "/d"]).unwrap();
        assert!(matches!(c.store, StoreLocation::Sqlite(_)));
        let c = resolve(&[
            "--data-dir",
            "/d",
            "--database-url",
            "postgres://oi:s3cret@127.0.0.1:5432/oi",
        ])
        .unwrap();
        let StoreLocation::Postgres(url) = &c.store else {
            panic!("a postgres store: {c:?}")
        };
        assert_eq!(url.expose(), "postgres://oi:s3cret@127.0.0.1:5432/oi");
        assert!(!format!("{c:?}").contains("s3cret"));
        let err =
            resolve(&["--data-dir", "/d", "--database-url", "mysql://u:s3cret@h/d"]).unwrap_err();
        assert!(matches!(err, ConfigError::DatabaseUrl));
        assert!(!err.to_string().contains("s3cret"));
    }
}
