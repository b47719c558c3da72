//! The SQLite schema as an ordered list of migrations; `PRAGMA user_version`
//! records the last one applied.

use crate::store::queries::backfill_search_text;
use crate::store::sql::{FILL_SESSION_METADATA, FILL_SESSION_TAGS, FILL_SESSION_USERS, Migration};

/// Every table the migrations create: a database without one of them is
/// refused.
pub(super) const TABLES: &[&str] = &[
    "projects",
    "sessions",
    "traces",
    "texts",
    "chunks",
    "spans",
    "session_annotations",
    "span_events",
    "server_health",
    "project_settings",
    "evaluators",
    "evaluation_jobs",
    "evaluation_backfills",
    "annotation_configs",
    "session_users",
    "session_tags",
    "session_metadata",
    "compression_dictionaries",
    "text_digests",
    "chunk_digests",
    "digests_indexed",
];

/// Versioned migrations, applied in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: projects, sessions, traces, spans.
    Migration::Sql(
        r#"
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        session_id TEXT NOT NULL,
        start_ns INTEGER NOT NULL DEFAULT 0,
        end_ns INTEGER NOT NULL DEFAULT 0,
        duration_ns INTEGER NOT NULL DEFAULT 0,
        num_traces INTEGER NOT NULL DEFAULT 0,
        num_traces_with_error INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        cost_prompt REAL NOT NULL DEFAULT 0,
        cost_completion REAL NOT NULL DEFAULT 0,
        cost_total REAL NOT NULL DEFAULT 0,
        UNIQUE (project_id, session_id)
    );
    CREATE INDEX sessions_by_start_time ON sessions (project_id, start_ns, id);
    CREATE INDEX sessions_by_end_time ON sessions (project_id, end_ns, id);
    CREATE INDEX sessions_by_num_traces ON sessions (project_id, num_traces, id);
    CREATE INDEX sessions_by_total_tokens ON sessions (project_id, total_tokens, id);
    CREATE INDEX sessions_by_total_cost ON sessions (project_id, cost_total, id);
    CREATE INDEX sessions_by_duration ON sessions (project_id, duration_ns, id);
    CREATE TABLE traces (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        trace_id BLOB NOT NULL,
        session_rowid INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        session_id TEXT,
        session_conflicts TEXT NOT NULL DEFAULT '[]',
        user_id TEXT,
        root_span_id BLOB,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        span_count INTEGER NOT NULL,
        has_error INTEGER NOT NULL,
        input_value TEXT,
        input_mime TEXT,
        input_raw_text INTEGER,
        output_value TEXT,
        output_mime TEXT,
        output_raw_text INTEGER,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_prompt REAL NOT NULL,
        cost_completion REAL NOT NULL,
        cost_total REAL NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        UNIQUE (project_id, trace_id)
    );
    CREATE INDEX traces_by_session ON traces (session_rowid, start_ns, id);
    CREATE INDEX traces_by_start_time ON traces (project_id, start_ns, id);
    CREATE TABLE texts (
        id INTEGER PRIMARY KEY,
        hash INTEGER NOT NULL,
        refs INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX texts_by_hash ON texts (hash);
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        parent_span_id BLOB,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status_code INTEGER NOT NULL,
        status_message TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        session_id TEXT,
        user_id TEXT,
        oi_kind TEXT,
        is_llm INTEGER NOT NULL,
        input_text INTEGER,
        input_mime TEXT,
        output_text INTEGER,
        output_mime TEXT,
        last_user_text INTEGER,
        reply_text INTEGER,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_prompt REAL NOT NULL,
        cost_completion REAL NOT NULL,
        cost_total REAL NOT NULL,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        body BLOB NOT NULL,
        text_refs BLOB NOT NULL,
        UNIQUE (trace_id, span_id)
    );
    "#,
    ),
    // 2: the session list's user filter walks an index instead of every session.
    Migration::Sql("CREATE INDEX traces_by_user ON traces (project_id, user_id, session_rowid);"),
    // 3: session annotations; the unique key is the upsert key.
    Migration::Sql(
        r#"
    CREATE TABLE session_annotations (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        session_id TEXT NOT NULL,
        name TEXT NOT NULL,
        identifier TEXT NOT NULL,
        annotator_kind TEXT NOT NULL,
        label TEXT,
        score REAL,
        explanation TEXT,
        metadata TEXT NOT NULL,
        user_id TEXT,
        created_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (project_id, session_id, name, identifier)
    );
    "#,
    ),
    // 4: what the text search looks in, lowercased by the server (SQLite's
    // LIKE folds ASCII only; the server folds all of Unicode, the same way in
    // every backend).
    Migration::Sql(
        "ALTER TABLE traces ADD COLUMN search_input TEXT;
         ALTER TABLE traces ADD COLUMN search_output TEXT;",
    ),
    Migration::Code(backfill_search_text),
    // 6: GenAI events that arrive as log records, joined to their spans by id.
    Migration::Sql(
        r#"
    CREATE TABLE span_events (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        digest INTEGER NOT NULL,
        time_ns INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        user_message TEXT,
        reply TEXT,
        attributes TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (project_id, trace_id, span_id, digest)
    );
    "#,
    ),
    // 7: traces without a session, counted per project and listed.
    Migration::Sql(
        "CREATE INDEX traces_without_session ON traces (project_id, start_ns, id)
         WHERE session_rowid IS NULL;",
    ),
    // 8: one row a health check writes, so a disk that takes no more
    // writes shows on `/healthz`.
    Migration::Sql(
        "CREATE TABLE server_health (checked_ns INTEGER NOT NULL);
         INSERT INTO server_health (checked_ns) VALUES (0);",
    ),
    // 9: the session lifecycle (active until no trace arrived for the idle
    // period) and online evaluation: evaluators per project, a durable job
    // queue, backfills. Sessions stored before it count as already seen idle,
    // so an upgrade does not judge a project's whole history at once.
    Migration::Sql(
        r#"
    ALTER TABLE sessions ADD COLUMN last_activity_ns INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN idle_seen_ns INTEGER NOT NULL DEFAULT 0;
    UPDATE sessions SET last_activity_ns = end_ns, idle_seen_ns = end_ns;
    CREATE INDEX sessions_by_last_activity ON sessions (project_id, last_activity_ns, id);
    CREATE INDEX sessions_going_idle ON sessions (project_id, last_activity_ns)
        WHERE idle_seen_ns < last_activity_ns;
    ALTER TABLE session_annotations ADD COLUMN evaluated_activity_ns INTEGER;
    CREATE TABLE project_settings (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id),
        session_idle_ns INTEGER
    );
    CREATE TABLE evaluators (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE evaluation_backfills (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        evaluator TEXT NOT NULL,
        filter TEXT NOT NULL,
        matched INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        listed INTEGER NOT NULL DEFAULT 0,
        created_ns INTEGER NOT NULL
    );
    CREATE TABLE evaluation_jobs (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        session_id TEXT NOT NULL,
        evaluator TEXT NOT NULL,
        version INTEGER NOT NULL,
        activity_ns INTEGER NOT NULL,
        backfill_id INTEGER,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        run_after_ns INTEGER NOT NULL,
        lease_owner TEXT,
        error TEXT,
        created_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (project_id, session_id, evaluator, version, activity_ns)
    );
    CREATE INDEX evaluation_jobs_due ON evaluation_jobs (run_after_ns)
        WHERE state IN ('queued', 'running');
    CREATE INDEX evaluation_jobs_by_session ON evaluation_jobs (project_id, session_id, id);
    CREATE INDEX evaluation_jobs_by_evaluator ON evaluation_jobs (project_id, evaluator, id);
    CREATE INDEX evaluation_jobs_by_backfill ON evaluation_jobs (backfill_id) WHERE backfill_id IS NOT NULL;
    "#,
    ),
    // 10: what Phoenix's API adds: a project's description, where an annotation
    // was written from, and a session found by its id alone (in any project).
    Migration::Sql(
        "ALTER TABLE projects ADD COLUMN description TEXT;
         ALTER TABLE session_annotations ADD COLUMN source TEXT NOT NULL DEFAULT 'API';
         CREATE INDEX sessions_by_session_id ON sessions (session_id);",
    ),
    // 11: what a project's annotations of a name may hold (categorical,
    // continuous, freeform), checked on every write.
    Migration::Sql(
        r#"
    CREATE TABLE annotation_configs (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (project_id, name)
    );
    "#,
    ),
    // 12: how long a project's sessions are kept after their last activity
    // (null: the server's --retention; 0: for ever).
    Migration::Sql("ALTER TABLE project_settings ADD COLUMN retention_ns INTEGER;"),
    // 13: texts addressed by SHA-256 (no reading back to compare), long ones
    // stored as content-defined chunks, each chunk once and deflated: a
    // chat's request JSON, new every turn only because it embeds the earlier
    // turns, stores only what is new.
    Migration::Code(|tx| on_sqlite(tx, super::texts::migrate_to_chunks)),
    // 14: a trace's input and output (the turn's words, which some span's
    // facts hold too) as references to `texts` instead of a copy; traces
    // stored before keep their copy until they are re-derived.
    Migration::Sql(
        "ALTER TABLE traces ADD COLUMN input_text INTEGER;
         ALTER TABLE traces ADD COLUMN output_text INTEGER;",
    ),
    // 15: texts' and chunks' reference counts in narrow tables of their own:
    // a popular text's count, raised by every write, no longer rewrites a
    // page of bodies.
    Migration::Code(|tx| on_sqlite(tx, super::texts::move_counts_apart)),
    // 16: spans keyed by their trace's row id (arrival order) and span id
    // instead of the trace id: SDKs make trace ids at random, so a key
    // starting with one put every span's index entry on a page of its own and
    // a commit wrote most of the index; a new trace's spans now append. The
    // trace row's id is taken before its spans are written. A span without a
    // trace row (none is written so) gets minus its own id: found by no
    // trace, still exported.
    Migration::Sql(
        r#"
    CREATE TABLE spans_by_trace_row (
        id INTEGER PRIMARY KEY,
        trace_rowid INTEGER NOT NULL,
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        parent_span_id BLOB,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status_code INTEGER NOT NULL,
        status_message TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        session_id TEXT,
        user_id TEXT,
        oi_kind TEXT,
        is_llm INTEGER NOT NULL,
        input_text INTEGER,
        input_mime TEXT,
        output_text INTEGER,
        output_mime TEXT,
        last_user_text INTEGER,
        reply_text INTEGER,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_prompt REAL NOT NULL,
        cost_completion REAL NOT NULL,
        cost_total REAL NOT NULL,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        body BLOB NOT NULL,
        text_refs BLOB NOT NULL
    );
    INSERT INTO spans_by_trace_row
    SELECT s.id, coalesce(t.id, -s.id), s.trace_id, s.span_id, s.project_id, s.parent_span_id,
        s.name, s.kind, s.status_code, s.status_message, s.start_ns, s.end_ns, s.session_id,
        s.user_id, s.oi_kind, s.is_llm, s.input_text, s.input_mime, s.output_text,
        s.output_mime, s.last_user_text, s.reply_text, s.prompt_tokens, s.completion_tokens,
        s.total_tokens, s.cost_prompt, s.cost_completion, s.cost_total, s.tags, s.metadata,
        s.body, s.text_refs
    FROM spans s
    LEFT JOIN traces t ON t.project_id = s.project_id AND t.trace_id = s.trace_id;
    DROP TABLE spans;
    ALTER TABLE spans_by_trace_row RENAME TO spans;
    CREATE UNIQUE INDEX spans_by_trace ON spans (trace_rowid, span_id);
    "#,
    ),
    // 17-18: the session list's user filter reads the users of each session,
    // one row a (session, user), instead of an index entry for every trace:
    // a user's traces land anywhere in that index, so each new trace wrote
    // a page of it (7% of light ingest).
    Migration::Sql(
        r#"
    CREATE TABLE session_users (
        project_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        session_rowid INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        PRIMARY KEY (project_id, user_id, session_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX session_users_by_session ON session_users (session_rowid);
    "#,
    ),
    FILL_SESSION_USERS,
    // 19: zstd dictionaries trained on what the store compresses; frames
    // name theirs by id, and none is ever deleted.
    Migration::Sql(
        r#"
    CREATE TABLE compression_dictionaries (
        id INTEGER PRIMARY KEY,
        dictionary BLOB NOT NULL,
        created_ns INTEGER NOT NULL
    );
    "#,
    ),
    // 20: texts and chunks without a unique index on their random digests
    // (a page written a new row), the digests indexed apart in sorted
    // batches (`texts::Unindexed`).
    Migration::Code(|tx| on_sqlite(tx, super::texts::index_digests_apart)),
    // 21: the session list's tag filter reads the tags of each session, one
    // row a (session, tag), as the user filter reads `session_users`: it
    // looked at the tags of every trace of the project (106 ms at 100,000
    // traces for a tag no session has).
    Migration::Sql(
        r#"
    CREATE TABLE session_tags (
        project_id INTEGER NOT NULL,
        tag TEXT NOT NULL,
        session_rowid INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        PRIMARY KEY (project_id, tag, session_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX session_tags_by_session ON session_tags (session_rowid);
    "#,
    ),
    FILL_SESSION_TAGS,
    // 22: the metadata filter reads each session's metadata entries, as the
    // tag filter reads `session_tags`: it looked at the metadata of every
    // trace of the project (106-145 ms at 100,000 traces for a value no
    // session has).
    Migration::Sql(
        r#"
    CREATE TABLE session_metadata (
        project_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        session_rowid INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        PRIMARY KEY (project_id, key, value, session_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX session_metadata_by_session ON session_metadata (session_rowid);
    "#,
    ),
    FILL_SESSION_METADATA,
    // 23: a project's spans newest first (Phoenix's span list, a project's
    // deletion) without reading every span of every project: with the spans
    // keyed by their trace's row, a project of 10 spans beside one of 300,000
    // took 7.8 s to list (46 s from a cold cache). An entry is the project
    // and the row id, appended as spans are.
    Migration::Sql("CREATE INDEX spans_by_project ON spans (project_id);"),
    // 24: texts and chunks addressed by BLAKE3 instead of SHA-256: it hashes
    // a long text's 1 kB pieces side by side, and SHA-256 was 8-10% of
    // history-heavy ingest's CPU (issue 14, twenty-third step). Each is read
    // back and hashed again, and the digest index rebuilt.
    Migration::Code(|tx| on_sqlite(tx, super::texts::address_anew)),
];

/// Runs a migration step written against SQLite's own connection.
fn on_sqlite(
    tx: &mut dyn crate::store::sql::SqlTx,
    step: fn(&rusqlite::Connection) -> Result<(), crate::store::StoreError>,
) -> Result<(), crate::store::StoreError> {
    match tx.sqlite() {
        Some(conn) => step(conn),
        None => Err(crate::store::StoreError::Backend(
            "a SQLite migration on another backend".to_owned(),
        )),
    }
}
