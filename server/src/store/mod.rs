//! Storage: one trait every backend implements, the queries the API asks of it,
//! and the conformance suite every backend must pass.
//!
//! # Contract
//!
//! - **Idempotent writes.** A span is identified by (project, trace id, span
//!   id). Writing a span that is already stored changes nothing, whatever its
//!   content; the same ids sent to another project are that project's span.
//! - **Durable before acknowledged.** When [`Store::write`] returns `Ok`, every
//!   span of the batch is committed to stable storage and visible to reads; an
//!   `Err` means none of the batch was written. A batch is one transaction.
//! - **Order independence.** The state after a set of writes does not depend on
//!   the order the spans arrived in, nor on how they were split into batches: the
//!   per-trace rules of [`crate::turn`] are re-applied to all spans of a trace
//!   whenever one of its spans arrives, and every session aggregate that the
//!   change touches (the old session and the new one, when a trace moves) is
//!   recomputed in the same transaction.
//! - **Events join their spans.** A GenAI event sent as a log record is stored
//!   with its (trace id, span id) and read by the trace rules with its span's
//!   facts, whichever of the two arrived first.
//! - **Keys.** A trace is keyed by (project, trace id) and a session by
//!   (project, session id): the same session id in two projects is two sessions
//!   ([`Store::sessions_named`] finds every project that has one). An
//!   annotation is keyed by (project, session id, name, identifier): writing
//!   the same key again replaces it. Deleting a session deletes its
//!   annotations; deleting a project deletes everything it holds.
//! - **All or nothing.** Every call that writes is one transaction: a request's
//!   annotations, a bulk delete of sessions, a project's deletion.
//! - **Ordering of reads.** Lists are stable under keyset paging: every sort has
//!   the row id as its tie-breaker, and cursors are opaque strings that only the
//!   backend that issued them decodes.
//!
//! # Blocking
//!
//! The trait is synchronous. The server calls it from `spawn_blocking`, which
//! suits SQLite (a blocking library) and keeps the trait object-safe; a
//! PostgreSQL backend can use a blocking client or `Handle::block_on` inside.

pub mod compression;
pub mod evaluations;
pub mod postgres;
pub mod queries;
pub(crate) mod queue;
pub mod retention;
pub mod sql;
pub mod sqlite;
pub mod stats;

use serde::Serialize;
use serde_json::Value;

use crate::annotation::{Annotation, AnnotatorKind, NewAnnotation};
pub use crate::annotation_config::AnnotationConfig;
pub use crate::model::SessionStatus;
use crate::model::{
    EventRecord, Page, ProjectInfo, ProjectSpan, SessionInfo, SpanRecord, SpanStatus, TraceDetail,
    TraceInfo, TraceSpan, Turn, hex, unhex,
};
pub use evaluations::{
    Backfill, EvaluationJob, IdleSession, JobCounts, JobOutcome, JobQuery, JobState, NewJob,
    ProjectSettings, Put, StoredEvaluator,
};

/// Why a storage call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The project, session or trace does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// What was to be created exists already (a project or an evaluator of
    /// that name).
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The cursor was not issued by this query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Another writer got in the way (a deadlock, a row deleted underneath).
    /// Backends with concurrent writers retry the transaction; this reaches a
    /// caller only when the retries ran out, and a later retry may succeed.
    #[error("write conflict: {0}")]
    Conflict(String),
    /// The database holds data this server cannot read back (a value of the
    /// wrong type, JSON that does not parse): reported, never replaced by an
    /// empty value. The detail is for logs.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The storage is briefly unable to serve (busy, the disk full, the
    /// database unreachable): the same call may succeed later. The detail is
    /// for logs.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry does not mend; the detail is for
    /// logs, not for clients.
    #[error("storage failure: {0}")]
    Backend(String),
    /// An item of a write does not fit a rule the project set (an annotation
    /// outside its config): which item, which field, and why.
    #[error("{message}")]
    Invalid {
        /// The item's position in the write.
        index: usize,
        /// The field at fault.
        field: String,
        /// Why, said so that it can be fixed.
        message: String,
    },
}

/// How the session list is sorted (the `sort` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SessionSort {
    /// First trace start.
    #[default]
    StartTime,
    /// Last trace end.
    EndTime,
    /// Number of traces.
    NumTraces,
    /// Total tokens.
    TotalTokens,
    /// Total cost.
    TotalCost,
    /// End minus start.
    Duration,
    /// When its last trace arrived.
    LastActivity,
    /// The mean score of the annotation named by [`SessionQuery::annotation`].
    AnnotationScore,
}

impl SessionSort {
    /// All sort keys with their query-parameter names.
    pub const ALL: &[(&'static str, SessionSort)] = &[
        ("start_time", SessionSort::StartTime),
        ("end_time", SessionSort::EndTime),
        ("num_traces", SessionSort::NumTraces),
        ("total_tokens", SessionSort::TotalTokens),
        ("total_cost", SessionSort::TotalCost),
        ("duration", SessionSort::Duration),
        ("last_activity", SessionSort::LastActivity),
        ("annotation_score", SessionSort::AnnotationScore),
    ];

    /// The query-parameter name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("start_time", |(n, _)| n)
    }
}

/// Sort direction (the `order` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending.
    #[default]
    Desc,
}

/// Paging of a list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageQuery {
    /// Page size (the API bounds it).
    pub limit: usize,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// The session list query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionQuery {
    /// Paging.
    pub page: PageQuery,
    /// Sort key.
    pub sort: SessionSort,
    /// Sort direction.
    pub order: Order,
    /// Sessions that end at or after this time (Unix ns).
    pub start_ns: Option<i64>,
    /// Sessions that start at or before this time (Unix ns).
    pub end_ns: Option<i64>,
    /// Sessions with a trace of this user.
    pub user_id: Option<String>,
    /// Sessions with a trace carrying this tag.
    pub tag: Option<String>,
    /// Sessions with a trace whose metadata has key = value (string compare).
    pub metadata: Vec<(String, String)>,
    /// Sessions with (or without) an errored trace.
    pub has_error: Option<bool>,
    /// Sessions with at least this many traces.
    pub min_traces: Option<i64>,
    /// Case-insensitive text search over turn inputs and outputs.
    pub q: Option<String>,
    /// Active or idle sessions only.
    pub status: Option<SessionStatus>,
    /// Sessions with an annotation of this name (and what follows).
    pub annotation: Option<String>,
    /// With `annotation`: its label is this.
    pub annotation_label: Option<String>,
    /// With `annotation`: its score is at least this.
    pub annotation_score_min: Option<f64>,
    /// With `annotation`: its score is at most this.
    pub annotation_score_max: Option<f64>,
    /// Sessions without an annotation of this name.
    pub missing_annotation: Option<String>,
}

/// How the trace list is sorted (the `sort` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TraceSort {
    /// Trace start.
    #[default]
    StartTime,
    /// End minus start.
    LatencyMs,
}

impl TraceSort {
    /// All sort keys with their query-parameter names.
    pub const ALL: &[(&'static str, TraceSort)] = &[
        ("start_time", TraceSort::StartTime),
        ("latency_ms", TraceSort::LatencyMs),
    ];

    /// The query-parameter name.
    pub fn name(self) -> &'static str {
        match self {
            TraceSort::StartTime => "start_time",
            TraceSort::LatencyMs => "latency_ms",
        }
    }
}

/// The trace list query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    /// Paging.
    pub page: PageQuery,
    /// Sort key.
    pub sort: TraceSort,
    /// Sort direction (newest, or slowest, first by default).
    pub order: Order,
    /// Traces of this session only.
    pub session_id: Option<String>,
    /// Traces of any of these sessions (with `session_id`, of any of them all).
    pub session_ids: Vec<String>,
    /// Traces with (true) or without (false) a session.
    pub has_session: Option<bool>,
    /// Traces with (true) or without (false) an errored span.
    pub has_error: Option<bool>,
    /// Traces that take at least this long (ns).
    pub min_latency_ns: Option<i64>,
    /// Traces that take at most this long (ns).
    pub max_latency_ns: Option<i64>,
    /// Traces that end at or after this time (Unix ns).
    pub start_ns: Option<i64>,
    /// Traces that start at or before this time (Unix ns).
    pub end_ns: Option<i64>,
}

/// Which spans by their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentFilter {
    /// Roots: spans without a parent.
    Root,
    /// Children of this span.
    Of([u8; 8]),
}

/// The span search (every filter narrows; lists match any of their values).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanQuery {
    /// Paging; newest span first.
    pub page: PageQuery,
    /// Spans that start at or after this time (Unix ns).
    pub start_ns: Option<i64>,
    /// Spans that start before this time (Unix ns).
    pub end_ns: Option<i64>,
    /// Spans of these traces.
    pub trace_ids: Vec<[u8; 16]>,
    /// Spans with these span ids.
    pub span_ids: Vec<[u8; 8]>,
    /// Spans by parent.
    pub parent: Option<ParentFilter>,
    /// Spans with these names.
    pub names: Vec<String>,
    /// Spans of these OpenInference kinds (`UNKNOWN`: spans without one).
    pub kinds: Vec<String>,
    /// Spans with these statuses.
    pub statuses: Vec<SpanStatus>,
    /// Spans whose attribute `key` equals the value (numbers by value, so `1`
    /// matches `1.0`); all must hold.
    pub attributes: Vec<(String, Value)>,
}

/// A project's session annotations, filtered; at least one of `session_ids`
/// and `identifiers` narrows it (the API insists).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationQuery {
    /// Paging; the newest annotation first.
    pub page: PageQuery,
    /// Annotations of these sessions.
    pub session_ids: Vec<String>,
    /// Annotations with these identifiers.
    pub identifiers: Vec<String>,
    /// Only these names, when any are given.
    pub include_names: Vec<String>,
    /// Not these names.
    pub exclude_names: Vec<String>,
}

/// Which of a project's session annotations a bulk delete removes: all that
/// match every filter given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationFilter {
    /// Of this name.
    pub name: Option<String>,
    /// With this identifier.
    pub identifier: Option<String>,
    /// By this kind of annotator.
    pub annotator_kind: Option<AnnotatorKind>,
    /// Created at or after this time (Unix ns).
    pub created_from_ns: Option<i64>,
    /// Created before this time (Unix ns).
    pub created_before_ns: Option<i64>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Spans newly stored.
    pub inserted: usize,
    /// Spans already stored (ignored).
    pub duplicates: usize,
}

impl WriteOutcome {
    /// The counts of a write's spans by its flags, one a span: stored (true)
    /// or a repeat.
    pub fn counted(stored: &[bool]) -> Self {
        let inserted = stored.iter().filter(|s| **s).count();
        Self {
            inserted,
            duplicates: stored.len() - inserted,
        }
    }
}

/// A storage backend. See the module documentation for the contract.
pub trait Store: Send + Sync + 'static {
    /// Stores a batch of spans in one transaction and re-applies the trace and
    /// session rules to everything the batch touches.
    fn write(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError>;
    /// Stores a batch of GenAI events (log records of spans) in one
    /// transaction and re-applies the trace rules to every stored trace they
    /// belong to. An event is keyed by its span and digest: writing it again
    /// changes nothing. An event may arrive before its span: it is kept, and
    /// the span's write reads it (the state does not depend on the order).
    fn write_events(&self, events: &[EventRecord]) -> Result<WriteOutcome, StoreError>;
    /// Every project, by name.
    fn projects(&self) -> Result<Vec<ProjectInfo>, StoreError>;
    /// One project.
    fn project(&self, project: &str) -> Result<ProjectInfo, StoreError>;
    /// Creates an empty project (`AlreadyExists` when the name is taken).
    fn create_project(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<ProjectInfo, StoreError>;
    /// Sets a project's description (`None` leaves it as it is).
    fn update_project(
        &self,
        project: &str,
        description: Option<&str>,
    ) -> Result<ProjectInfo, StoreError>;
    /// Deletes a project with all it holds: sessions, traces, spans, events,
    /// annotations.
    fn delete_project(&self, project: &str) -> Result<(), StoreError>;
    /// Where each of these session ids is: a (session id, project) pair per
    /// project that has it, by session id then project.
    fn sessions_named(&self, session_ids: &[String]) -> Result<Vec<(String, String)>, StoreError>;
    /// A page of a project's sessions.
    fn sessions(
        &self,
        project: &str,
        query: &SessionQuery,
    ) -> Result<Page<SessionInfo>, StoreError>;
    /// One session.
    fn session(&self, project: &str, session_id: &str) -> Result<SessionInfo, StoreError>;
    /// A page of a session's turns, in time order.
    fn turns(
        &self,
        project: &str,
        session_id: &str,
        page: &PageQuery,
    ) -> Result<Page<Turn>, StoreError>;
    /// Deletes a session with its traces and spans.
    fn delete_session(&self, project: &str, session_id: &str) -> Result<(), StoreError>;
    /// Deletes sessions, each given as (project, session id), in one
    /// transaction; those that do not exist are skipped. Returns how many were
    /// deleted.
    fn delete_sessions(&self, sessions: &[(String, String)]) -> Result<usize, StoreError>;
    /// A page of a project's traces, newest first.
    fn traces(&self, project: &str, query: &TraceQuery) -> Result<Page<TraceInfo>, StoreError>;
    /// The spans of these traces of a project in brief, each trace's by start
    /// time, as (hex trace id, spans).
    fn span_summaries(
        &self,
        project: &str,
        trace_ids: &[[u8; 16]],
    ) -> Result<Vec<(String, Vec<TraceSpan>)>, StoreError>;
    /// A page of a project's spans, newest first.
    fn spans(&self, project: &str, query: &SpanQuery) -> Result<Page<ProjectSpan>, StoreError>;
    /// One trace with every span.
    fn trace(&self, project: &str, trace_id: &[u8; 16]) -> Result<TraceDetail, StoreError>;
    /// Creates or replaces session annotations, keyed by (project, session id,
    /// name, identifier), all in one transaction. Every session must exist
    /// (`NotFound("session")` otherwise, and nothing is written). Returns the
    /// stored annotations in the order given.
    fn upsert_annotations(
        &self,
        project: &str,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<Annotation>, StoreError>;
    /// As [`Store::upsert_annotations`], each annotation in its own project,
    /// given as (project, annotation): all in one transaction.
    fn upsert_annotations_in(
        &self,
        annotations: &[(String, NewAnnotation)],
    ) -> Result<Vec<Annotation>, StoreError>;
    /// A session's annotations, oldest first.
    fn annotations(&self, project: &str, session_id: &str) -> Result<Vec<Annotation>, StoreError>;
    /// A page of a project's session annotations, newest first.
    fn list_annotations(
        &self,
        project: &str,
        query: &AnnotationQuery,
    ) -> Result<Page<Annotation>, StoreError>;
    /// Deletes one annotation of a session.
    fn delete_annotation(&self, project: &str, session_id: &str, id: i64)
    -> Result<(), StoreError>;
    /// Deletes a project's session annotations that match the filter; returns
    /// how many.
    fn delete_annotations(
        &self,
        project: &str,
        filter: &AnnotationFilter,
    ) -> Result<u64, StoreError>;

    /// What the store can say of itself: whether it answers reads, whether a
    /// write commits (a small one, every call: a full disk shows here), and
    /// the outcome of its last integrity check.
    fn health(&self) -> StoreHealth;

    // --- the session lifecycle and online evaluation (see [`evaluations`]) ---

    /// Sets the idle period of projects without their own (`--session-idle`):
    /// a session is active until no trace arrived for that long.
    fn set_default_session_idle(&self, idle_ns: i64);

    /// A project's own settings.
    fn project_settings(&self, project: &str) -> Result<ProjectSettings, StoreError>;

    /// Replaces a project's own settings; returns them as stored.
    fn set_project_settings(
        &self,
        project: &str,
        settings: &ProjectSettings,
    ) -> Result<ProjectSettings, StoreError>;

    /// A project's evaluators, by name.
    fn evaluators(&self, project: &str) -> Result<Vec<StoredEvaluator>, StoreError>;

    /// One evaluator; `NotFound("evaluator")` when there is none.
    fn evaluator(&self, project: &str, name: &str) -> Result<StoredEvaluator, StoreError>;

    /// Creates or replaces an evaluator (as `put` allows); its version goes up
    /// by one when the definition changes, and only then.
    fn put_evaluator(
        &self,
        project: &str,
        name: &str,
        enabled: bool,
        definition: &serde_json::Value,
        put: Put,
    ) -> Result<StoredEvaluator, StoreError>;

    /// Deletes an evaluator; its jobs not yet run are skipped, its verdicts kept.
    fn delete_evaluator(&self, project: &str, name: &str) -> Result<(), StoreError>;

    /// Sessions, of every project, idle at `now_ns` (each project's idle
    /// period) and not yet seen idle since their last activity; at most `limit`.
    fn idle_sessions(&self, now_ns: i64, limit: usize) -> Result<Vec<IdleSession>, StoreError>;

    /// Queues jobs (a job already queued for the same session, evaluator,
    /// version and activity is not queued again) and records sessions as seen
    /// idle up to the given activity, in one transaction; returns how many
    /// jobs were queued.
    fn enqueue_jobs(
        &self,
        project: &str,
        jobs: &[NewJob],
        seen_idle: &[(String, i64)],
    ) -> Result<usize, StoreError>;

    /// Claims up to `limit` due jobs for `owner` under a lease of `lease_ns`;
    /// a job whose lease ran out is due again.
    fn claim_jobs(
        &self,
        owner: &str,
        now_ns: i64,
        lease_ns: i64,
        limit: usize,
    ) -> Result<Vec<EvaluationJob>, StoreError>;

    /// Ends a run of a job `owner` claimed, with its verdict when done, in one
    /// transaction; false (nothing changed) when the lease was lost.
    fn finish_job(
        &self,
        job: &EvaluationJob,
        owner: &str,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError>;

    /// A project's jobs, newest first.
    fn jobs(&self, project: &str, query: &JobQuery) -> Result<Page<EvaluationJob>, StoreError>;

    /// How many of an evaluator's jobs are in each state.
    fn evaluator_job_counts(&self, project: &str, evaluator: &str)
    -> Result<JobCounts, StoreError>;

    /// Starts a backfill of `evaluator` over sessions matching `filter`.
    fn create_backfill(
        &self,
        project: &str,
        evaluator: &str,
        filter: &serde_json::Value,
    ) -> Result<i64, StoreError>;

    /// Adds to a backfill's counts; `listed` once every session was listed.
    fn update_backfill(
        &self,
        id: i64,
        matched: i64,
        skipped: i64,
        listed: bool,
    ) -> Result<(), StoreError>;

    /// A backfill with its jobs' counts.
    fn backfill(&self, project: &str, id: i64) -> Result<Backfill, StoreError>;

    // --- annotation configs (see [`crate::annotation_config`]) ---

    /// A project's annotation configs, by name.
    fn annotation_configs(&self, project: &str) -> Result<Vec<AnnotationConfig>, StoreError>;

    /// Creates or replaces (as `put` allows) the config of an annotation name;
    /// annotations written before are left as they are.
    fn put_annotation_config(
        &self,
        project: &str,
        config: &AnnotationConfig,
        put: Put,
    ) -> Result<AnnotationConfig, StoreError>;

    /// Deletes the config of an annotation name.
    fn delete_annotation_config(&self, project: &str, name: &str) -> Result<(), StoreError>;

    // --- retention (see [`retention`]) ---

    /// Sets how long sessions of projects without their own retention are
    /// kept after their last activity (`--retention`), ns; 0 for ever.
    fn set_default_retention(&self, retention_ns: i64);

    /// Deletes up to `limit` sessions whose last activity is older than their
    /// project's retention at `now_ns`, each whole in its own transaction (a
    /// session that got a trace meanwhile stays); says how many it found and
    /// how many of them it deleted.
    fn purge_expired(&self, now_ns: i64, limit: usize)
    -> Result<retention::PurgeRound, StoreError>;

    /// Gives pages freed by deletes back to the file system, in small steps
    /// (SQLite's incremental vacuum; PostgreSQL's autovacuum does it itself);
    /// returns the pages given back.
    fn reclaim_space(&self) -> Result<u64, StoreError>;

    /// A project's numbers over a window (see [`stats`]).
    fn project_stats(
        &self,
        project: &str,
        query: &stats::StatsQuery,
    ) -> Result<stats::ProjectStats, StoreError>;

    // --- reading a store whole, to copy it into another (`oi-sessions migrate`) ---

    /// Up to `limit` spans of every project whose row id is above `after`, by
    /// row id: each as stored (attributes, its own events; not the GenAI
    /// events that arrived as logs, see [`Store::copy_events`]), with its
    /// project and trace. Row ids are the store's own and only order a copy:
    /// pass the last one back as `after` for the next batch.
    fn copy_spans(&self, after: i64, limit: usize) -> Result<Vec<CopiedSpan>, StoreError>;

    /// Up to `limit` GenAI events (those that arrived as log records) of every
    /// project whose row id is above `after`, by row id, as (row id, event):
    /// written to another store with [`Store::write_events`] they are the same
    /// events (same digest).
    fn copy_events(&self, after: i64, limit: usize) -> Result<Vec<(i64, EventRecord)>, StoreError>;

    /// Up to `limit` session annotations (notes too) of every project whose
    /// id is above `after`, by id, as (project, annotation).
    fn copy_annotations(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(String, Annotation)>, StoreError>;

    /// Sets the last activity of copied sessions (session id, Unix ns) to
    /// the original's, so idleness and retention count from when their
    /// traces first arrived, not from the copy; sessions not stored are
    /// skipped. Returns how many were set.
    fn restore_last_activity(
        &self,
        project: &str,
        sessions: &[(String, i64)],
    ) -> Result<usize, StoreError>;
}

/// A span read for copying (see [`Store::copy_spans`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedSpan {
    /// The store's row id (the copy's order, nothing more).
    pub rowid: i64,
    /// Its project.
    pub project: String,
    /// Its trace.
    pub trace_id: [u8; 16],
    /// The span as stored (`step` is left out: it is derived on read).
    pub span: crate::model::SpanInfo,
}

impl CopiedSpan {
    /// The span as a write of it: the same span, its facts derived again from
    /// its attributes with `prices` (as ingest derives them).
    pub fn into_record(
        self,
        prices: &crate::pricing::PriceTable,
    ) -> Result<SpanRecord, StoreError> {
        let bad = |what: &str| {
            StoreError::Corrupt(format!(
                "span {} of trace {}: {what}",
                self.span.span_id,
                hex(&self.trace_id)
            ))
        };
        let id = |s: &str| -> Option<[u8; 8]> { unhex(s)?.try_into().ok() };
        let span_id = id(&self.span.span_id).ok_or_else(|| bad("span id"))?;
        let parent_span_id = match &self.span.parent_span_id {
            Some(p) => Some(id(p).ok_or_else(|| bad("parent span id"))?),
            None => None,
        };
        let start_ns =
            crate::model::parse_rfc3339(&self.span.start_time).ok_or_else(|| bad("start time"))?;
        let end_ns =
            crate::model::parse_rfc3339(&self.span.end_time).ok_or_else(|| bad("end time"))?;
        let status_code = match self.span.status {
            SpanStatus::Unset => 0,
            SpanStatus::Ok => 1,
            SpanStatus::Error => 2,
        };
        let mut facts = crate::otlp::map::derive_facts(&self.span.attributes, prices);
        crate::otlp::map::read_span_events(&mut facts, &self.span.events);
        facts.span_id = span_id;
        facts.parent_span_id = parent_span_id;
        facts.start_ns = start_ns;
        facts.end_ns = end_ns;
        facts.status_code = status_code;
        Ok(SpanRecord {
            project: self.project,
            trace_id: self.trace_id,
            span_id,
            parent_span_id,
            name: self.span.name,
            kind: self.span.kind,
            start_ns,
            end_ns,
            status_code,
            status_message: self.span.status_message,
            attributes: self.span.attributes,
            events: self.span.events,
            facts,
        })
    }
}

/// See [`Store::health`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoreHealth {
    /// A read transaction answered.
    pub readable: bool,
    /// A write transaction committed.
    pub writable: bool,
    /// Why reading or writing failed, when one did.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The last integrity check of the database, when the backend runs one.
    #[schema(required = true)]
    pub integrity: Option<IntegrityCheck>,
}

impl StoreHealth {
    /// Whether everything the store says of itself is fine.
    pub fn ok(&self) -> bool {
        self.readable && self.writable && self.integrity.as_ref().is_none_or(|i| i.ok)
    }
}

/// An integrity check of the database's own structure (SQLite's
/// `quick_check` at start-up, `integrity_check` from `oi-sessions check`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntegrityCheck {
    /// When it ran, RFC 3339.
    pub checked_at: String,
    /// Whether the database passed.
    pub ok: bool,
    /// What the check reported (`ok`, or the problems found).
    pub detail: String,
}

/// A keyset position: the sort value (as text) and the row id.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// Which list and sort the cursor belongs to.
    pub scope: String,
    /// The sort value of the last row returned.
    pub value: String,
    /// The row id of the last row returned.
    pub id: i64,
}

impl Cursor {
    /// Encodes as an opaque string.
    pub fn encode(&self) -> String {
        hex(format!("{}\n{}\n{}", self.scope, self.value, self.id).as_bytes())
    }

    /// Decodes a cursor issued for `scope`.
    pub fn decode(s: &str, scope: &str) -> Result<Self, StoreError> {
        let bytes = unhex(s).ok_or(StoreError::InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = text.splitn(3, '\n');
        let (Some(sc), Some(value), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::InvalidCursor);
        };
        if sc != scope {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Self {
            scope: sc.to_owned(),
            value: value.to_owned(),
            id: id.parse().map_err(|_| StoreError::InvalidCursor)?,
        })
    }
}
