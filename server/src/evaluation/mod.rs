//! Online evaluation: sessions judge themselves when they go quiet.
//!
//! A session is *active* until no trace has arrived for its project's idle
//! period (`--session-idle`, or the project's own setting), then *idle*. When
//! a session goes idle, each enabled evaluator of its project whose scope and
//! sample take it gets a job in the store's durable queue; the scheduler
//! ([`scheduler`]) claims due jobs under a lease, runs them with bounded
//! concurrency and a timeout, retries 429s, 5xxs and timeouts with backoff, and
//! stores each verdict as a session annotation (kind `LLM` or `CODE`, named
//! after the evaluator, identified by its name and version) in the same
//! transaction that marks the job done. A session that gets new traces after
//! its verdict shows it stale until it goes idle again and is judged anew.
//!
//! - [`spec`]: an evaluator's definition, checked field by field;
//! - [`rules`]: the code rules shipped with the server;
//! - [`judge`]: the LLM judge over an OpenAI-compatible endpoint;
//! - [`scheduler`]: idle detection, job claiming and running;
//! - [`api`]: the routes (evaluators, project settings, jobs, backfills).

pub mod api;
pub mod judge;
pub mod rules;
pub mod scheduler;
pub mod spec;

use std::time::Duration;

use tokio::sync::Notify;

use spec::{AllowedHosts, DEFAULT_ALLOWED_HOSTS};

/// Jobs run at once by one server, by default.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// How long a judge call may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts before a job is recorded as failed, by default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// How often the scheduler looks for sessions gone idle and jobs due (it is
/// also woken at once when jobs are queued or finish).
pub const TICK: Duration = Duration::from_millis(200);

/// How the server runs evaluations (`--eval-*` flags).
#[derive(Debug, Clone)]
pub struct EvaluationSettings {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Time a job's judge call may take.
    pub timeout: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// Hosts a judge may be sent to.
    pub allowed_hosts: AllowedHosts,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        EvaluationSettings {
            concurrency: DEFAULT_CONCURRENCY,
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            allowed_hosts: AllowedHosts::parse(DEFAULT_ALLOWED_HOSTS),
        }
    }
}

impl EvaluationSettings {
    /// How long a claimed job is this server's: past it, another server (or
    /// this one after a restart) runs it again. Longer than a job can take.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// What the handlers and the scheduler share.
#[derive(Debug)]
pub struct Evaluations {
    /// The settings.
    pub settings: EvaluationSettings,
    /// This server's name on the leases it takes (unique per process).
    pub owner: String,
    /// Wakes the scheduler (jobs queued, a job finished).
    pub wake: Notify,
    /// Tells long-polling job listings that a job changed state.
    pub changed: Notify,
}

impl Evaluations {
    /// A runtime with these settings.
    pub fn new(settings: EvaluationSettings) -> Self {
        let owner = format!(
            "{}-{}-{:x}",
            hostname(),
            std::process::id(),
            crate::store::queries::now_ns()
        );
        Evaluations {
            settings,
            owner,
            wake: Notify::new(),
            changed: Notify::new(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "oi-sessions".to_owned())
}
