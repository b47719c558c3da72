//! The store's side of the session lifecycle and online evaluation, written
//! once over [`SqlTx`]: per-project settings, evaluators (versioned
//! definitions), the durable job queue (enqueue once, claim with a lease,
//! finish only while holding the lease), backfills, and the sessions that
//! went idle since they were last seen so.
//!
//! Exactly once: a job is unique per (session, evaluator, version, activity);
//! a claim takes it with a lease (`lease_owner`, and `run_after_ns` as the
//! lease's end); only the owner of an unexpired-or-not-retaken lease can
//! finish it, and finishing writes the verdict and the job's state in one
//! transaction. A server killed mid-job leaves a lease that expires, and the
//! job runs again; several servers on one PostgreSQL skip each other's locked
//! rows when claiming.

use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;
use super::queries::{now_ns, project_rowid};
use super::sql::{Args, SqlRow, SqlTx, SqlValue};
use crate::model::{Page, SessionStatus, rfc3339};

/// How long a session stays active after its last trace arrived, unless its
/// project says otherwise (`--session-idle`).
pub const DEFAULT_SESSION_IDLE_NS: i64 = 5 * 60 * 1_000_000_000;

/// The server-wide default idle period a backend applies to projects without
/// their own (set once at start-up, read by every query that says a
/// session's status).
#[derive(Debug)]
pub struct Lifecycle {
    default_idle_ns: AtomicI64,
    /// 0: kept forever.
    default_retention_ns: AtomicI64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            default_idle_ns: AtomicI64::new(DEFAULT_SESSION_IDLE_NS),
            default_retention_ns: AtomicI64::new(0),
        }
    }
}

impl Lifecycle {
    /// The idle period of projects without their own, in ns.
    pub fn default_idle_ns(&self) -> i64 {
        self.default_idle_ns.load(Ordering::Relaxed)
    }

    /// Sets it (at least 1 ns).
    pub fn set_default_idle_ns(&self, ns: i64) {
        self.default_idle_ns.store(ns.max(1), Ordering::Relaxed);
    }

    /// How long sessions of projects without their own retention are kept
    /// after their last activity, ns; 0 for ever.
    pub fn default_retention_ns(&self) -> i64 {
        self.default_retention_ns.load(Ordering::Relaxed)
    }

    /// Sets it (0 or less: for ever).
    pub fn set_default_retention_ns(&self, ns: i64) {
        self.default_retention_ns
            .store(ns.max(0), Ordering::Relaxed);
    }
}

/// A project's own settings; `None` means the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    /// The project's idle period, ns.
    pub session_idle_ns: Option<i64>,
    /// How long the project's sessions are kept after their last activity,
    /// ns; `Some(0)` for ever (whatever the server's default).
    pub retention_ns: Option<i64>,
}

/// The idle period of a project (its own, else `default_ns`).
pub fn session_idle_ns(
    tx: &mut dyn SqlTx,
    project_id: i64,
    default_ns: i64,
) -> Result<i64, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT session_idle_ns FROM project_settings WHERE project_id = $1",
            &[project_id.into()],
        )?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(default_ns))
}

/// The status of a session last active at `last_activity_ns`, for a project
/// idle after `idle_ns`.
pub fn status_at(last_activity_ns: i64, idle_ns: i64, now_ns: i64) -> SessionStatus {
    if last_activity_ns > now_ns.saturating_sub(idle_ns) {
        SessionStatus::Active
    } else {
        SessionStatus::Idle
    }
}

pub(super) fn project_settings(
    tx: &mut dyn SqlTx,
    project: &str,
) -> Result<ProjectSettings, StoreError> {
    let pid = project_rowid(tx, project)?;
    let row = tx.query_opt(
        "SELECT session_idle_ns, retention_ns FROM project_settings WHERE project_id = $1",
        &[pid.into()],
    )?;
    Ok(match row {
        Some(r) => ProjectSettings {
            session_idle_ns: r.opt_int(0)?,
            retention_ns: r.opt_int(1)?,
        },
        None => ProjectSettings::default(),
    })
}

pub(super) fn set_project_settings(
    tx: &mut dyn SqlTx,
    project: &str,
    settings: &ProjectSettings,
) -> Result<ProjectSettings, StoreError> {
    let pid = project_rowid(tx, project)?;
    tx.execute(
        "INSERT INTO project_settings (project_id, session_idle_ns, retention_ns) VALUES ($1, $2, $3)
         ON CONFLICT (project_id) DO UPDATE SET session_idle_ns = excluded.session_idle_ns,
           retention_ns = excluded.retention_ns",
        &[pid.into(), settings.session_idle_ns.into(), settings.retention_ns.into()],
    )?;
    project_settings(tx, project)
}

/// An evaluator as stored: its name, the definition the API took (checked by
/// the API layer, opaque here), and a version that changes when the
/// definition does.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvaluator {
    /// Unique in its project.
    pub name: String,
    /// 1 at creation, one more at each change of the definition.
    pub version: i64,
    /// Whether it judges sessions that go idle.
    pub enabled: bool,
    /// The evaluator's definition, as JSON.
    pub definition: Value,
    /// When created, Unix ns.
    pub created_ns: i64,
    /// When last changed, Unix ns.
    pub updated_ns: i64,
}

const EVALUATOR_COLS: &str = "name, version, enabled, definition, created_ns, updated_ns";

fn evaluator_row(r: &mut SqlRow) -> Result<StoredEvaluator, StoreError> {
    Ok(StoredEvaluator {
        name: r.text(0)?,
        version: r.int(1)?,
        enabled: r.bool(2)?,
        definition: r.json(3)?,
        created_ns: r.int(4)?,
        updated_ns: r.int(5)?,
    })
}

/// Whether a put may create, replace, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Create only: an evaluator of that name is a conflict.
    Create,
    /// Replace only: no evaluator of that name is not found.
    Replace,
    /// Create or replace.
    Upsert,
}

pub(super) fn evaluators(
    tx: &mut dyn SqlTx,
    project: &str,
) -> Result<Vec<StoredEvaluator>, StoreError> {
    let pid = project_rowid(tx, project)?;
    tx.query(
        &format!("SELECT {EVALUATOR_COLS} FROM evaluators WHERE project_id = $1 ORDER BY name"),
        &[pid.into()],
    )?
    .iter_mut()
    .map(evaluator_row)
    .collect()
}

pub(super) fn evaluator(
    tx: &mut dyn SqlTx,
    project: &str,
    name: &str,
) -> Result<StoredEvaluator, StoreError> {
    let pid = project_rowid(tx, project)?;
    let mut row = tx
        .query_opt(
            &format!("SELECT {EVALUATOR_COLS} FROM evaluators WHERE project_id = $1 AND name = $2"),
            &[pid.into(), name.into()],
        )?
        .ok_or(StoreError::NotFound("evaluator"))?;
    evaluator_row(&mut row)
}

pub(super) fn put_evaluator(
    tx: &mut dyn SqlTx,
    project: &str,
    name: &str,
    enabled: bool,
    definition: &Value,
    put: Put,
) -> Result<StoredEvaluator, StoreError> {
    let pid = project_rowid(tx, project)?;
    let now = now_ns();
    let existing = match evaluator(tx, project, name) {
        Ok(e) => Some(e),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    match (put, existing) {
        (Put::Create, Some(_)) => Err(StoreError::AlreadyExists("evaluator")),
        (Put::Replace, None) => Err(StoreError::NotFound("evaluator")),
        (_, None) => {
            tx.execute(
                "INSERT INTO evaluators (project_id, name, version, enabled, definition, created_ns, updated_ns)
                 VALUES ($1, $2, 1, $3, $4, $5, $5)",
                &[pid.into(), name.into(), SqlValue::Bool(enabled), SqlValue::Json(definition.clone()), now.into()],
            )?;
            evaluator(tx, project, name)
        }
        (_, Some(old)) => {
            let version = if old.definition == *definition {
                old.version
            } else {
                old.version + 1
            };
            tx.execute(
                "UPDATE evaluators SET version = $3, enabled = $4, definition = $5, updated_ns = $6
                 WHERE project_id = $1 AND name = $2",
                &[
                    pid.into(),
                    name.into(),
                    version.into(),
                    SqlValue::Bool(enabled),
                    SqlValue::Json(definition.clone()),
                    now.into(),
                ],
            )?;
            evaluator(tx, project, name)
        }
    }
}

/// Deletes an evaluator; its jobs not yet run are skipped, its verdicts kept.
pub(super) fn delete_evaluator(
    tx: &mut dyn SqlTx,
    project: &str,
    name: &str,
) -> Result<(), StoreError> {
    let pid = project_rowid(tx, project)?;
    let deleted = tx.execute(
        "DELETE FROM evaluators WHERE project_id = $1 AND name = $2",
        &[pid.into(), name.into()],
    )?;
    if deleted == 0 {
        return Err(StoreError::NotFound("evaluator"));
    }
    tx.execute(
        "UPDATE evaluation_jobs SET state = 'skipped', error = 'the evaluator was deleted',
            lease_owner = NULL, updated_ns = $3
         WHERE project_id = $1 AND evaluator = $2 AND state IN ('queued', 'running')",
        &[pid.into(), name.into(), now_ns().into()],
    )?;
    Ok(())
}

/// A session that went idle since it was last seen idle: its evaluators are
/// due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleSession {
    /// Project name.
    pub project: String,
    /// The session id.
    pub session_id: String,
    /// When its last trace arrived, Unix ns: what its evaluations judge.
    pub last_activity_ns: i64,
}

/// Sessions idle at `now` and not yet seen so, oldest activity first, at most
/// `limit`; each project's idle period applies to its sessions.
pub(super) fn idle_sessions(
    tx: &mut dyn SqlTx,
    default_idle_ns: i64,
    now: i64,
    limit: usize,
) -> Result<Vec<IdleSession>, StoreError> {
    let projects = tx.query(
        "SELECT p.id, p.name, ps.session_idle_ns FROM projects p
         LEFT JOIN project_settings ps ON ps.project_id = p.id ORDER BY p.id",
        &[],
    )?;
    let mut out = Vec::new();
    for mut p in projects {
        if out.len() >= limit {
            break;
        }
        let (pid, name) = (p.int(0)?, p.text(1)?);
        let idle = p.opt_int(2)?.unwrap_or(default_idle_ns);
        let rows = tx.query(
            "SELECT session_id, last_activity_ns FROM sessions
             WHERE project_id = $1 AND idle_seen_ns < last_activity_ns AND last_activity_ns <= $2
             ORDER BY last_activity_ns LIMIT $3",
            &[
                pid.into(),
                now.saturating_sub(idle).into(),
                ((limit - out.len()) as i64).into(),
            ],
        )?;
        for mut r in rows {
            out.push(IdleSession {
                project: name.clone(),
                session_id: r.text(0)?,
                last_activity_ns: r.int(1)?,
            });
        }
    }
    Ok(out)
}

/// What a job is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its turn (or for its next attempt).
    Queued,
    /// Claimed by a server, under a lease.
    Running,
    /// Its verdict is stored.
    Done,
    /// Gave up: `error` says why.
    Failed,
    /// Not run: the session or the evaluator went away, or it was disabled.
    Skipped,
}

impl JobState {
    /// Every state, in its stored name.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Skipped,
    ];

    /// The stored and serialized name.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Skipped => "skipped",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.name() == s)
    }
}

/// An evaluation of one session by one evaluator, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EvaluationJob {
    /// The job's id.
    pub id: i64,
    /// The session judged.
    pub session_id: String,
    /// The evaluator's name.
    pub evaluator: String,
    /// The evaluator's version when queued.
    pub evaluator_version: i64,
    /// The session's last activity it judges, RFC 3339.
    pub activity: String,
    /// The backfill that queued it, when one did.
    #[schema(required = true)]
    pub backfill_id: Option<i64>,
    /// Where it is.
    pub state: JobState,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed, or why it was skipped.
    #[schema(required = true)]
    pub error: Option<String>,
    /// When queued, RFC 3339.
    pub created_at: String,
    /// When it last changed, RFC 3339.
    pub updated_at: String,
    /// `activity` in Unix ns (what the verdict judges).
    #[serde(skip)]
    #[schema(ignore)]
    pub activity_ns: i64,
    /// The project's name.
    #[serde(skip)]
    #[schema(ignore)]
    pub project: String,
}

const JOB_COLS: &str = "j.id, j.session_id, j.evaluator, j.version, j.activity_ns, j.backfill_id,
    j.state, j.attempts, j.error, j.created_ns, j.updated_ns, p.name";

fn job_row(r: &mut SqlRow) -> Result<EvaluationJob, StoreError> {
    let state = r.text(6)?;
    let activity_ns = r.int(4)?;
    Ok(EvaluationJob {
        id: r.int(0)?,
        session_id: r.text(1)?,
        evaluator: r.text(2)?,
        evaluator_version: r.int(3)?,
        activity: rfc3339(activity_ns),
        activity_ns,
        backfill_id: r.opt_int(5)?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {state:?}")))?,
        attempts: r.int(7)?,
        error: r.opt_text(8)?,
        created_at: rfc3339(r.int(9)?),
        updated_at: rfc3339(r.int(10)?),
        project: r.text(11)?,
    })
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The session to judge.
    pub session_id: String,
    /// The evaluator.
    pub evaluator: String,
    /// Its version now.
    pub version: i64,
    /// The session's last activity it judges, Unix ns.
    pub activity_ns: i64,
    /// The backfill queuing it.
    pub backfill_id: Option<i64>,
}

/// Queues jobs (one already queued for the same session, evaluator, version
/// and activity is not queued twice) and marks sessions as seen idle up to
/// the activity given; returns how many jobs were queued.
pub(super) fn enqueue_jobs(
    tx: &mut dyn SqlTx,
    project: &str,
    jobs: &[NewJob],
    seen_idle: &[(String, i64)],
) -> Result<usize, StoreError> {
    let pid = project_rowid(tx, project)?;
    let now = now_ns();
    let mut queued = 0;
    for job in jobs {
        queued += tx.execute(
            "INSERT INTO evaluation_jobs (project_id, session_id, evaluator, version, activity_ns,
                backfill_id, state, attempts, run_after_ns, created_ns, updated_ns)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7, $7)
             ON CONFLICT (project_id, session_id, evaluator, version, activity_ns) DO NOTHING",
            &[
                pid.into(),
                job.session_id.as_str().into(),
                job.evaluator.as_str().into(),
                job.version.into(),
                job.activity_ns.into(),
                job.backfill_id.into(),
                now.into(),
            ],
        )? as usize;
    }
    for (session_id, activity) in seen_idle {
        tx.execute(
            "UPDATE sessions SET idle_seen_ns = $3
             WHERE project_id = $1 AND session_id = $2 AND idle_seen_ns < $3",
            &[pid.into(), session_id.as_str().into(), (*activity).into()],
        )?;
    }
    Ok(queued)
}

/// A job due at `$1`: queued, or running past its lease (the partial index
/// `evaluation_jobs_due` holds these states).
const DUE: &str = "state IN ('queued', 'running') AND run_after_ns <= $1";

/// Whether a job is [`DUE`] at `now`. The scheduler asks this of a reader
/// before claiming: it ticks five times a second, and a claim is a write, so
/// a server with nothing due would take the writer and sync the WAL on
/// every tick for nothing.
pub(super) fn any_due(tx: &mut dyn SqlTx, now: i64) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(
            &format!("SELECT 1 FROM evaluation_jobs WHERE {DUE} LIMIT 1"),
            &[now.into()],
        )?
        .is_some())
}

/// Takes up to `limit` due jobs for `owner`, each under a lease until
/// `now + lease_ns` (a running job whose lease ran out is due again).
pub(super) fn claim_jobs(
    tx: &mut dyn SqlTx,
    owner: &str,
    now: i64,
    lease_ns: i64,
    limit: usize,
) -> Result<Vec<EvaluationJob>, StoreError> {
    let skip_locked = tx.dialect().skip_locked();
    let ids: Vec<i64> = tx
        .query(
            &format!(
                "SELECT id FROM evaluation_jobs WHERE {DUE}
                 ORDER BY run_after_ns, id LIMIT $2 {skip_locked}"
            ),
            &[now.into(), (limit as i64).into()],
        )?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = tx.dialect().in_ints("$4");
    tx.execute(
        &format!(
            "UPDATE evaluation_jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1,
                run_after_ns = $2, updated_ns = $3 WHERE id {list}"
        ),
        &[owner.into(), now.saturating_add(lease_ns).into(), now.into(), SqlValue::IntList(ids.clone())],
    )?;
    let list = tx.dialect().in_ints("$1");
    tx.query(
        &format!(
            "SELECT {JOB_COLS} FROM evaluation_jobs j JOIN projects p ON p.id = j.project_id
             WHERE j.id {list} ORDER BY j.id"
        ),
        &[SqlValue::IntList(ids)],
    )?
    .iter_mut()
    .map(job_row)
    .collect()
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// The verdict: stored as the session's annotation, judging the job's
    /// activity.
    Done(crate::annotation::NewAnnotation),
    /// A failure worth another attempt at `run_after_ns`.
    Retry {
        /// When to try again, Unix ns.
        run_after_ns: i64,
        /// What went wrong.
        error: String,
    },
    /// Gave up.
    Failed(String),
    /// Nothing to judge (the session or the evaluator went away).
    Skipped(String),
}

/// Ends a run of `job` if `owner` still holds its lease: the job's new state
/// and, when done, its verdict (replacing the evaluator's earlier verdicts on
/// the session, of any version) in one transaction. Returns false, changing
/// nothing, when the lease was lost (another server took the job over).
pub(super) fn finish_job(
    tx: &mut dyn SqlTx,
    job: &EvaluationJob,
    owner: &str,
    outcome: &JobOutcome,
) -> Result<bool, StoreError> {
    let now = now_ns();
    let (state, run_after, error) = match outcome {
        JobOutcome::Done(_) => (JobState::Done, now, None),
        JobOutcome::Retry {
            run_after_ns,
            error,
        } => (JobState::Queued, *run_after_ns, Some(error.clone())),
        JobOutcome::Failed(e) => (JobState::Failed, now, Some(e.clone())),
        JobOutcome::Skipped(e) => (JobState::Skipped, now, Some(e.clone())),
    };
    let updated = tx.execute(
        "UPDATE evaluation_jobs SET state = $3, run_after_ns = $4, error = $5, lease_owner = NULL,
            updated_ns = $6
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        &[
            job.id.into(),
            owner.into(),
            state.name().into(),
            run_after.into(),
            error.into(),
            now.into(),
        ],
    )?;
    if updated == 0 {
        return Ok(false);
    }
    if let JobOutcome::Done(annotation) = outcome {
        let pid = project_rowid(tx, &job.project)?;
        tx.execute(
            "DELETE FROM session_annotations WHERE project_id = $1 AND session_id = $2 AND name = $3
               AND evaluated_activity_ns IS NOT NULL AND identifier <> $4",
            &[
                pid.into(),
                annotation.session_id.as_str().into(),
                annotation.name.as_str().into(),
                annotation.identifier.as_str().into(),
            ],
        )?;
        super::queries::upsert_annotations(
            tx,
            [(job.project.as_str(), annotation)],
            Some(job.activity_ns),
        )?;
    }
    Ok(true)
}

/// Which jobs a listing wants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobQuery {
    /// Paging (newest first).
    pub page: super::PageQuery,
    /// Jobs of this session.
    pub session_id: Option<String>,
    /// Jobs of this evaluator.
    pub evaluator: Option<String>,
    /// Jobs in this state.
    pub state: Option<JobState>,
    /// Jobs of this backfill.
    pub backfill_id: Option<i64>,
}

pub(super) fn jobs(
    tx: &mut dyn SqlTx,
    project: &str,
    q: &JobQuery,
) -> Result<Page<EvaluationJob>, StoreError> {
    let scope = "jobs";
    let cursor = q
        .page
        .cursor
        .as_deref()
        .map(|c| super::Cursor::decode(c, scope))
        .transpose()?;
    let limit = q.page.limit.clamp(1, super::queries::MAX_PAGE);
    let pid = project_rowid(tx, project)?;
    let mut a = Args::default();
    let mut sql = format!(
        "SELECT {JOB_COLS} FROM evaluation_jobs j JOIN projects p ON p.id = j.project_id
         WHERE j.project_id = {}",
        a.add(pid)
    );
    if let Some(s) = &q.session_id {
        sql.push_str(&format!(" AND j.session_id = {}", a.add(s.as_str())));
    }
    if let Some(e) = &q.evaluator {
        sql.push_str(&format!(" AND j.evaluator = {}", a.add(e.as_str())));
    }
    if let Some(s) = q.state {
        sql.push_str(&format!(" AND j.state = {}", a.add(s.name())));
    }
    if let Some(b) = q.backfill_id {
        sql.push_str(&format!(" AND j.backfill_id = {}", a.add(b)));
    }
    if let Some(c) = &cursor {
        sql.push_str(&format!(" AND j.id < {}", a.add(c.id)));
    }
    sql.push_str(&format!(
        " ORDER BY j.id DESC LIMIT {}",
        a.add((limit + 1) as i64)
    ));
    let mut data: Vec<EvaluationJob> = tx
        .query(&sql, &a.0)?
        .iter_mut()
        .map(job_row)
        .collect::<Result<_, _>>()?;
    let next_cursor = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|j| {
            super::Cursor {
                scope: scope.to_owned(),
                value: String::new(),
                id: j.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page { data, next_cursor })
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JobCounts {
    /// Waiting.
    pub queued: i64,
    /// Claimed by a server.
    pub running: i64,
    /// Judged.
    pub done: i64,
    /// Gave up.
    pub failed: i64,
    /// Not run.
    pub skipped: i64,
}

fn count_jobs(
    tx: &mut dyn SqlTx,
    condition: &str,
    args: &[SqlValue],
) -> Result<JobCounts, StoreError> {
    let mut counts = JobCounts::default();
    for mut r in tx.query(
        &format!("SELECT state, count(*) FROM evaluation_jobs WHERE {condition} GROUP BY state"),
        args,
    )? {
        let n = r.int(1)?;
        match JobState::parse(&r.text(0)?) {
            Some(JobState::Queued) => counts.queued = n,
            Some(JobState::Running) => counts.running = n,
            Some(JobState::Done) => counts.done = n,
            Some(JobState::Failed) => counts.failed = n,
            Some(JobState::Skipped) => counts.skipped = n,
            None => return Err(StoreError::Corrupt("unknown job state".to_owned())),
        }
    }
    Ok(counts)
}

pub(super) fn evaluator_job_counts(
    tx: &mut dyn SqlTx,
    project: &str,
    evaluator: &str,
) -> Result<JobCounts, StoreError> {
    let pid = project_rowid(tx, project)?;
    count_jobs(
        tx,
        "project_id = $1 AND evaluator = $2",
        &[pid.into(), evaluator.into()],
    )
}

/// A backfill: sessions matching a filter queued for one evaluator, on demand.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Backfill {
    /// Its id.
    pub id: i64,
    /// The evaluator it runs.
    pub evaluator: String,
    /// The session filter it was given (the session list's parameters).
    #[schema(value_type = Object)]
    pub filter: Value,
    /// Sessions the filter matched so far.
    pub matched: i64,
    /// Of those, how many were not queued: outside the evaluator's scope,
    /// sampled out, or already judged by this version at their last activity.
    pub skipped: i64,
    /// Whether every matching session has been listed (queuing is done).
    pub listed: bool,
    /// Listed, and none of its jobs queued or running.
    pub finished: bool,
    /// Its jobs, by state.
    pub jobs: JobCounts,
    /// When started, RFC 3339.
    pub created_at: String,
}

pub(super) fn create_backfill(
    tx: &mut dyn SqlTx,
    project: &str,
    evaluator: &str,
    filter: &Value,
) -> Result<i64, StoreError> {
    let pid = project_rowid(tx, project)?;
    let row = tx
        .query_opt(
            "INSERT INTO evaluation_backfills (project_id, evaluator, filter, created_ns)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                pid.into(),
                evaluator.into(),
                SqlValue::Json(filter.clone()),
                now_ns().into(),
            ],
        )?
        .ok_or_else(|| StoreError::Backend("insert returned no row".to_owned()))?;
    row.int(0)
}

pub(super) fn update_backfill(
    tx: &mut dyn SqlTx,
    id: i64,
    matched: i64,
    skipped: i64,
    listed: bool,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE evaluation_backfills SET matched = matched + $2, skipped = skipped + $3, listed = $4
         WHERE id = $1",
        &[id.into(), matched.into(), skipped.into(), SqlValue::Bool(listed)],
    )?;
    Ok(())
}

pub(super) fn backfill(tx: &mut dyn SqlTx, project: &str, id: i64) -> Result<Backfill, StoreError> {
    let pid = project_rowid(tx, project)?;
    let mut row = tx
        .query_opt(
            "SELECT id, evaluator, filter, matched, skipped, listed, created_ns FROM evaluation_backfills
             WHERE project_id = $1 AND id = $2",
            &[pid.into(), id.into()],
        )?
        .ok_or(StoreError::NotFound("backfill"))?;
    let jobs = count_jobs(tx, "backfill_id = $1", &[id.into()])?;
    let listed = row.bool(5)?;
    Ok(Backfill {
        finished: listed && jobs.queued == 0 && jobs.running == 0,
        id: row.int(0)?,
        evaluator: row.text(1)?,
        filter: row.json(2)?,
        matched: row.int(3)?,
        skipped: row.int(4)?,
        listed,
        jobs,
        created_at: rfc3339(row.int(6)?),
    })
}
