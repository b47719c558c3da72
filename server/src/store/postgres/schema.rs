//! The PostgreSQL schema as an ordered list of migrations; the one-row table
//! `schema_version` records the last one applied.

use std::collections::HashMap;

use postgres::Client;

use super::PgTx;
use crate::store::StoreError;
use crate::store::compression::Dictionaries;
use crate::store::queries::{backfill_search_text, search_trigrams};
use crate::store::sql::{
    FILL_SESSION_METADATA, FILL_SESSION_TAGS, FILL_SESSION_USERS, Migration, SqlTx, SqlValue,
    apply_migrations,
};

/// Every table the migrations create.
pub(super) const TABLES: &[&str] = &[
    "schema_version",
    "projects",
    "sessions",
    "traces",
    "spans",
    "session_annotations",
    "span_events",
    "server_health",
    "project_settings",
    "evaluators",
    "evaluation_jobs",
    "evaluation_backfills",
    "annotation_configs",
    "compression_dictionaries",
    "session_users",
    "session_tags",
    "session_metadata",
];

/// Versioned migrations, applied in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: projects, sessions, traces, spans. Traces and sessions are materialized
    // rows that every write re-derives for what it touched, as in SQLite.
    Migration::Sql(
        r#"
    CREATE TABLE projects (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE
    );
    CREATE TABLE sessions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        session_id text NOT NULL,
        start_ns bigint NOT NULL DEFAULT 0,
        end_ns bigint NOT NULL DEFAULT 0,
        duration_ns bigint NOT NULL DEFAULT 0,
        num_traces bigint NOT NULL DEFAULT 0,
        num_traces_with_error bigint NOT NULL DEFAULT 0,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        total_tokens bigint NOT NULL DEFAULT 0,
        cost_prompt double precision NOT NULL DEFAULT 0,
        cost_completion double precision NOT NULL DEFAULT 0,
        cost_total double precision NOT NULL DEFAULT 0,
        UNIQUE (project_id, session_id)
    );
    CREATE INDEX sessions_by_start_time ON sessions (project_id, start_ns, id);
    CREATE INDEX sessions_by_end_time ON sessions (project_id, end_ns, id);
    CREATE INDEX sessions_by_num_traces ON sessions (project_id, num_traces, id);
    CREATE INDEX sessions_by_total_tokens ON sessions (project_id, total_tokens, id);
    CREATE INDEX sessions_by_total_cost ON sessions (project_id, cost_total, id);
    CREATE INDEX sessions_by_duration ON sessions (project_id, duration_ns, id);
    CREATE TABLE traces (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        trace_id bytea NOT NULL,
        session_rowid bigint REFERENCES sessions(id) ON DELETE SET NULL,
        session_id text,
        session_conflicts jsonb NOT NULL DEFAULT '[]',
        user_id text,
        root_span_id bytea,
        start_ns bigint NOT NULL,
        end_ns bigint NOT NULL,
        span_count bigint NOT NULL,
        has_error boolean NOT NULL,
        input_value text,
        input_mime text,
        input_raw text,
        output_value text,
        output_mime text,
        output_raw text,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        total_tokens bigint NOT NULL,
        cost_prompt double precision NOT NULL,
        cost_completion double precision NOT NULL,
        cost_total double precision NOT NULL,
        tags jsonb NOT NULL DEFAULT '[]',
        metadata jsonb NOT NULL DEFAULT '{}',
        UNIQUE (project_id, trace_id)
    );
    CREATE INDEX traces_by_session ON traces (session_rowid, start_ns, id);
    CREATE INDEX traces_by_start_time ON traces (project_id, start_ns, id);
    CREATE INDEX traces_by_user ON traces (project_id, user_id, session_rowid);
    CREATE TABLE spans (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        trace_id bytea NOT NULL,
        span_id bytea NOT NULL,
        project_id bigint NOT NULL REFERENCES projects(id),
        parent_span_id bytea,
        name text NOT NULL,
        kind text NOT NULL,
        status_code integer NOT NULL,
        status_message text NOT NULL,
        start_ns bigint NOT NULL,
        end_ns bigint NOT NULL,
        session_id text,
        user_id text,
        oi_kind text,
        is_llm boolean NOT NULL,
        input_value text,
        input_mime text,
        output_value text,
        output_mime text,
        last_user text,
        reply text,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        total_tokens bigint NOT NULL,
        cost_prompt double precision NOT NULL,
        cost_completion double precision NOT NULL,
        cost_total double precision NOT NULL,
        tags jsonb NOT NULL,
        metadata jsonb NOT NULL,
        body bytea NOT NULL,
        UNIQUE (trace_id, span_id)
    );
    "#,
    ),
    // 2: session annotations; the unique key is the upsert key.
    Migration::Sql(
        r#"
    CREATE TABLE session_annotations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        session_id text NOT NULL,
        name text NOT NULL,
        identifier text NOT NULL,
        annotator_kind text NOT NULL,
        label text,
        score double precision,
        explanation text,
        metadata jsonb NOT NULL,
        user_id text,
        created_ns bigint NOT NULL,
        updated_ns bigint NOT NULL,
        UNIQUE (project_id, session_id, name, identifier)
    );
    "#,
    ),
    // 3: a trigram index for the text search `q` (ILIKE '%...%' over turn
    // inputs and outputs), so a search that matches little does not scan every
    // turn. pg_trgm ships with PostgreSQL and is a trusted extension; where it
    // cannot be installed, search still works by scanning.
    Migration::Sql(
        r#"
    DO $$
    DECLARE trgm_schema text;
    BEGIN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_trgm unavailable, text search scans: %', SQLERRM;
        END;
        SELECT n.nspname INTO trgm_schema FROM pg_extension e
            JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
        IF trgm_schema IS NOT NULL THEN
            EXECUTE format('CREATE INDEX traces_text_search ON traces USING gin
                (input_value %I.gin_trgm_ops, output_value %I.gin_trgm_ops)',
                trgm_schema, trgm_schema);
        END IF;
    END $$;
    "#,
    ),
    // 4: what the text search looks in, lowercased by the server (ILIKE folds
    // as the database's locale says; the server folds all of Unicode, the same
    // way in every backend); its trigram index replaces migration 3's.
    Migration::Sql(
        "ALTER TABLE traces ADD COLUMN search_input text;
         ALTER TABLE traces ADD COLUMN search_output text;",
    ),
    Migration::Code(backfill_search_text),
    Migration::Sql(
        r#"
    DROP INDEX IF EXISTS traces_text_search;
    DO $$
    DECLARE trgm_schema text;
    BEGIN
        SELECT n.nspname INTO trgm_schema FROM pg_extension e
            JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
        IF trgm_schema IS NOT NULL THEN
            EXECUTE format('CREATE INDEX traces_search ON traces USING gin
                (search_input %I.gin_trgm_ops, search_output %I.gin_trgm_ops)',
                trgm_schema, trgm_schema);
        END IF;
    END $$;
    "#,
    ),
    // 7: GenAI events that arrive as log records, joined to their spans by id.
    Migration::Sql(
        r#"
    CREATE TABLE span_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        trace_id bytea NOT NULL,
        span_id bytea NOT NULL,
        digest bigint NOT NULL,
        time_ns bigint NOT NULL,
        seq bigint NOT NULL,
        name text NOT NULL,
        user_message text,
        reply text,
        attributes jsonb NOT NULL,
        body jsonb NOT NULL,
        UNIQUE (project_id, trace_id, span_id, digest)
    );
    "#,
    ),
    // 8: traces without a session, counted per project and listed.
    Migration::Sql(
        "CREATE INDEX traces_without_session ON traces (project_id, start_ns, id)
         WHERE session_rowid IS NULL;",
    ),
    // 9: one row a health check writes, so a disk that takes no more
    // writes shows on `/healthz`.
    Migration::Sql(
        "CREATE TABLE server_health (checked_ns bigint NOT NULL);
         INSERT INTO server_health (checked_ns) VALUES (0);",
    ),
    // 10: the session lifecycle (active until no trace arrived for the idle
    // period) and online evaluation: evaluators per project, a durable job
    // queue, backfills. Sessions stored before it count as already seen idle,
    // so an upgrade does not judge a project's whole history at once.
    Migration::Sql(
        r#"
    ALTER TABLE sessions ADD COLUMN last_activity_ns bigint NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN idle_seen_ns bigint NOT NULL DEFAULT 0;
    UPDATE sessions SET last_activity_ns = end_ns, idle_seen_ns = end_ns;
    CREATE INDEX sessions_by_last_activity ON sessions (project_id, last_activity_ns, id);
    CREATE INDEX sessions_going_idle ON sessions (project_id, last_activity_ns)
        WHERE idle_seen_ns < last_activity_ns;
    ALTER TABLE session_annotations ADD COLUMN evaluated_activity_ns bigint;
    CREATE TABLE project_settings (
        project_id bigint PRIMARY KEY REFERENCES projects(id),
        session_idle_ns bigint
    );
    CREATE TABLE evaluators (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        name text NOT NULL,
        version bigint NOT NULL,
        enabled boolean NOT NULL,
        definition jsonb NOT NULL,
        created_ns bigint NOT NULL,
        updated_ns bigint NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE evaluation_backfills (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        evaluator text NOT NULL,
        filter jsonb NOT NULL,
        matched bigint NOT NULL DEFAULT 0,
        skipped bigint NOT NULL DEFAULT 0,
        listed boolean NOT NULL DEFAULT false,
        created_ns bigint NOT NULL
    );
    CREATE TABLE evaluation_jobs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        session_id text NOT NULL,
        evaluator text NOT NULL,
        version bigint NOT NULL,
        activity_ns bigint NOT NULL,
        backfill_id bigint,
        state text NOT NULL,
        attempts bigint NOT NULL DEFAULT 0,
        run_after_ns bigint NOT NULL,
        lease_owner text,
        error text,
        created_ns bigint NOT NULL,
        updated_ns bigint NOT NULL,
        UNIQUE (project_id, session_id, evaluator, version, activity_ns)
    );
    CREATE INDEX evaluation_jobs_due ON evaluation_jobs (run_after_ns)
        WHERE state IN ('queued', 'running');
    CREATE INDEX evaluation_jobs_by_session ON evaluation_jobs (project_id, session_id, id);
    CREATE INDEX evaluation_jobs_by_evaluator ON evaluation_jobs (project_id, evaluator, id);
    CREATE INDEX evaluation_jobs_by_backfill ON evaluation_jobs (backfill_id) WHERE backfill_id IS NOT NULL;
    "#,
    ),
    // 11: what Phoenix's API adds: a project's description, where an annotation
    // was written from, and a session found by its id alone (in any project).
    Migration::Sql(
        "ALTER TABLE projects ADD COLUMN description text;
         ALTER TABLE session_annotations ADD COLUMN source text NOT NULL DEFAULT 'API';
         CREATE INDEX sessions_by_session_id ON sessions (session_id);",
    ),
    // 12: what a project's annotations of a name may hold (categorical,
    // continuous, freeform), checked on every write.
    Migration::Sql(
        r#"
    CREATE TABLE annotation_configs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES projects(id),
        name text NOT NULL,
        definition jsonb NOT NULL,
        created_ns bigint NOT NULL,
        updated_ns bigint NOT NULL,
        UNIQUE (project_id, name)
    );
    "#,
    ),
    // 13: how long a project's sessions are kept after their last activity
    // (null: the server's --retention; 0: for ever).
    Migration::Sql("ALTER TABLE project_settings ADD COLUMN retention_ns bigint;"),
    // 14: long texts compressed with lz4 where the server has it (the default,
    // pglz, was a fifth of PostgreSQL's CPU on history-heavy ingest, in
    // `perf`); values stored before keep their compression. Span bodies are
    // compressed by us: PostgreSQL no longer tries again.
    Migration::Sql(
        r#"
    DO $$
    BEGIN
        IF 'lz4' = ANY ((SELECT enumvals FROM pg_settings
                         WHERE name = 'default_toast_compression')::text[]) THEN
            ALTER TABLE spans
                ALTER COLUMN input_value SET COMPRESSION lz4,
                ALTER COLUMN output_value SET COMPRESSION lz4,
                ALTER COLUMN last_user SET COMPRESSION lz4,
                ALTER COLUMN reply SET COMPRESSION lz4;
            ALTER TABLE traces
                ALTER COLUMN input_value SET COMPRESSION lz4,
                ALTER COLUMN input_raw SET COMPRESSION lz4,
                ALTER COLUMN output_value SET COMPRESSION lz4,
                ALTER COLUMN output_raw SET COMPRESSION lz4,
                ALTER COLUMN search_input SET COMPRESSION lz4,
                ALTER COLUMN search_output SET COMPRESSION lz4;
            ALTER TABLE span_events
                ALTER COLUMN attributes SET COMPRESSION lz4,
                ALTER COLUMN body SET COMPRESSION lz4;
        END IF;
    END $$;
    ALTER TABLE spans ALTER COLUMN body SET STORAGE EXTERNAL;
    "#,
    ),
    // 15-17: the text search's index holds trigrams the server works out
    // (`queries::search_trigrams`) instead of `pg_trgm`'s: extracting them in
    // the database was most of PostgreSQL's CPU for a trace (issue 14, fifth
    // step). The array is not compressed (hashes do not compress); the index
    // is built after the backfill. Search no longer needs `pg_trgm`.
    Migration::Sql(
        "ALTER TABLE traces ADD COLUMN search_trigrams int4[] NOT NULL DEFAULT '{}';
         ALTER TABLE traces ALTER COLUMN search_trigrams SET STORAGE EXTERNAL;",
    ),
    Migration::Code(backfill_search_trigrams),
    Migration::Sql(
        "DROP INDEX IF EXISTS traces_search;
         CREATE INDEX traces_search_trigrams ON traces USING gin (search_trigrams);",
    ),
    // 18: a span is one project's (as its trace is): the same trace and span
    // ids sent to two projects are two spans, as in SQLite, whose spans are
    // keyed by their trace's row.
    Migration::Sql(
        "ALTER TABLE spans ADD CONSTRAINT spans_by_project_trace UNIQUE (project_id, trace_id, span_id);
         ALTER TABLE spans DROP CONSTRAINT spans_trace_id_span_id_key;",
    ),
    // 19-20: the session list's user filter reads the users of each session,
    // one row a (session, user), instead of an index entry for every trace.
    Migration::Sql(
        r#"
    CREATE TABLE session_users (
        project_id bigint NOT NULL,
        user_id text NOT NULL,
        session_rowid bigint NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        PRIMARY KEY (project_id, user_id, session_rowid)
    );
    CREATE INDEX session_users_by_session ON session_users (session_rowid);
    "#,
    ),
    FILL_SESSION_USERS,
    // 21: no foreign keys on what ingest writes on every request. Each
    // span's, trace's and session's check locked its project's row (`FOR KEY
    // SHARE`), the one row every writer of the project shares, a multixact a
    // check: 44 -> 38 µs of PostgreSQL's CPU a span, and the session checks
    // 2 more (issue 14, tenth step). What they guarded is kept by locks: a
    // writer holds its projects' rows `FOR KEY SHARE` for its transaction
    // (`spans::project_ids`) and a project's deletion takes the row `FOR
    // UPDATE` before deleting what it holds; a session is deleted only once
    // its traces are, under the row lock every writer of its traces takes.
    // `oi-sessions check` looks for rows whose project or session is gone.
    Migration::Sql(
        "ALTER TABLE spans DROP CONSTRAINT IF EXISTS spans_project_id_fkey;
         ALTER TABLE traces DROP CONSTRAINT IF EXISTS traces_project_id_fkey;
         ALTER TABLE traces DROP CONSTRAINT IF EXISTS traces_session_rowid_fkey;
         ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_project_id_fkey;
         ALTER TABLE session_users DROP CONSTRAINT IF EXISTS session_users_session_rowid_fkey;",
    ),
    // 22: the session list's tag filter reads the tags of each session, one
    // row a (session, tag), as the user filter reads `session_users`: it
    // looked at the tags of every trace of the project (106 ms at 100,000
    // traces for a tag no session has). No foreign key, as since 21.
    Migration::Sql(
        r#"
    CREATE TABLE session_tags (
        project_id bigint NOT NULL,
        tag text NOT NULL,
        session_rowid bigint NOT NULL,
        PRIMARY KEY (project_id, tag, session_rowid)
    );
    CREATE INDEX session_tags_by_session ON session_tags (session_rowid);
    "#,
    ),
    FILL_SESSION_TAGS,
    // 23: the metadata filter reads each session's metadata entries, as the
    // tag filter reads `session_tags` (it looked at the metadata of every
    // trace of the project: 106-145 ms at 100,000 traces for a value no
    // session has). No foreign key, as since 21.
    Migration::Sql(
        r#"
    CREATE TABLE session_metadata (
        project_id bigint NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        session_rowid bigint NOT NULL,
        PRIMARY KEY (project_id, key, value, session_rowid)
    );
    CREATE INDEX session_metadata_by_session ON session_metadata (session_rowid);
    "#,
    ),
    FILL_SESSION_METADATA,
    // 24: a span's input and output, their types and the turn's words
    // derived from them live in its body alone (`spans::FACTS_IN_BODY`),
    // derived again when its trace is summarized anew: the columns were a
    // second copy of the body's largest attributes, 2 kB of a history-heavy
    // span's 3.4 kB (issue 14, sixteenth step). Dropping a column rewrites
    // nothing; the space of rows stored before is reused as they go.
    Migration::Sql(
        "ALTER TABLE spans DROP COLUMN input_value, DROP COLUMN input_mime,
            DROP COLUMN output_value, DROP COLUMN output_mime,
            DROP COLUMN last_user, DROP COLUMN reply;",
    ),
    // 25: zstd dictionaries trained on the span bodies a server compresses,
    // as SQLite's (`compression`); bodies name theirs by id, and none is
    // ever deleted.
    Migration::Sql(
        "CREATE TABLE compression_dictionaries (
            id integer PRIMARY KEY,
            dictionary bytea NOT NULL,
            created_ns bigint NOT NULL
        );",
    ),
    // 26: new traces' `search_trigrams` hold the winnowed trigrams
    // (`queries::search_trigrams`, about half of them), which a server before
    // it, searching for every trigram of `q`, would not find: the version
    // keeps such a server out. Rows stored before hold every trigram, which
    // the winnowed ones of any `q` are among: nothing is rewritten.
    Migration::Sql(
        "COMMENT ON COLUMN traces.search_trigrams IS
            'the winnowed trigrams of search_input and search_output (queries::search_trigrams)';",
    ),
    // 27: a session's uniqueness keyed by its id first, which also finds a
    // session by its id alone (in any project), replacing 11's index: every
    // turn writes a new version of its session's row with an entry in each
    // of the table's indexes, one fewer now (issue 14, twenty-sixth step).
    Migration::Sql(
        "ALTER TABLE sessions ADD CONSTRAINT sessions_session_id_project_id_key
            UNIQUE (session_id, project_id);
         ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_project_id_session_id_key;
         DROP INDEX IF EXISTS sessions_by_session_id;",
    ),
    // 28: what a session knows of its filter rows (`spans::grow_sessions`):
    // the digest of what the traces it last grew by give them (0: none
    // known), and whether that growth found it the same as before, so that a
    // turn repeating its session's user, tags and metadata looks for no
    // filter row (three statements a write, a sixth of PostgreSQL's CPU by
    // turn). Neither is indexed: the row's new version costs nothing more.
    Migration::Sql(
        "ALTER TABLE sessions ADD COLUMN filters_digest bigint NOT NULL DEFAULT 0,
            ADD COLUMN filters_held boolean NOT NULL DEFAULT false;",
    ),
    // 29: a span's tags and metadata live in its body alone, derived again
    // when its trace is summarized anew (`otlp::map::rederive_from_body`), as
    // its input and output since 24: a second copy, parsed as `jsonb` for
    // every span. Nothing read them but that.
    Migration::Sql("ALTER TABLE spans DROP COLUMN tags, DROP COLUMN metadata;"),
];

/// Rows whose project or session is gone, which no foreign key rules out
/// since migration 21: `(what, the query counting them)`, for `oi-sessions
/// check`.
pub(super) const UNREFERENCED: &[(&str, &str)] = &[
    (
        "spans of no project",
        "SELECT count(*) FROM spans s WHERE NOT EXISTS
            (SELECT 1 FROM projects p WHERE p.id = s.project_id)",
    ),
    (
        "traces of no project",
        "SELECT count(*) FROM traces t WHERE NOT EXISTS
            (SELECT 1 FROM projects p WHERE p.id = t.project_id)",
    ),
    (
        "sessions of no project",
        "SELECT count(*) FROM sessions s WHERE NOT EXISTS
            (SELECT 1 FROM projects p WHERE p.id = s.project_id)",
    ),
    (
        "traces of a deleted session",
        "SELECT count(*) FROM traces t WHERE t.session_rowid IS NOT NULL AND NOT EXISTS
            (SELECT 1 FROM sessions s WHERE s.id = t.session_rowid)",
    ),
    (
        "users of a deleted session",
        "SELECT count(*) FROM session_users u WHERE NOT EXISTS
            (SELECT 1 FROM sessions s WHERE s.id = u.session_rowid)",
    ),
    (
        "tags of a deleted session",
        "SELECT count(*) FROM session_tags g WHERE NOT EXISTS
            (SELECT 1 FROM sessions s WHERE s.id = g.session_rowid)",
    ),
    (
        "metadata of a deleted session",
        "SELECT count(*) FROM session_metadata m WHERE NOT EXISTS
            (SELECT 1 FROM sessions s WHERE s.id = m.session_rowid)",
    ),
];

/// Migration step: fills `traces.search_trigrams` from the search texts of
/// the traces stored before it, a thousand at a time.
fn backfill_search_trigrams(tx: &mut dyn SqlTx) -> Result<(), StoreError> {
    let mut after = 0;
    loop {
        let rows = tx.query(
            "SELECT id, search_input, search_output FROM traces WHERE id > $1 ORDER BY id LIMIT 1000",
            &[after.into()],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.int(0)?;
        let (mut ids, mut lo, mut hi, mut trigrams) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for mut r in rows {
            let (input, output) = (r.opt_text(1)?, r.opt_text(2)?);
            ids.push(r.int(0)?);
            lo.push(trigrams.len() as i64 + 1);
            trigrams.extend(
                search_trigrams(&[
                    input.as_deref().unwrap_or_default(),
                    output.as_deref().unwrap_or_default(),
                ])
                .into_iter()
                .map(i64::from),
            );
            hi.push(trigrams.len() as i64);
        }
        tx.execute(
            "UPDATE traces t SET search_trigrams = ($4::int8[])[u.lo:u.hi]::int4[]
             FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS u(id, lo, hi) WHERE t.id = u.id",
            &[
                SqlValue::IntList(ids),
                SqlValue::IntList(lo),
                SqlValue::IntList(hi),
                SqlValue::IntList(trigrams),
            ],
        )?;
    }
}

/// Any constant: the advisory lock key that serializes servers migrating the
/// same database at start-up.
const MIGRATION_LOCK: i64 = 0x6f69_7365_7373_0001;

/// Applies the missing migrations, all in one transaction; servers starting
/// at once on one database wait on each other here.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")?;
    let version: Option<i32> = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map(|r| r.get(0));
    let version = match version {
        Some(v) => usize::try_from(v).unwrap_or(usize::MAX),
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    // Statements prepared before the tables change are not kept.
    let now = apply_migrations(
        &mut PgTx {
            tx: &mut tx,
            statements: &mut HashMap::new(),
            dictionaries: Dictionaries::none(),
        },
        version,
        MIGRATIONS,
    )?;
    if now != version {
        tx.execute(
            "UPDATE schema_version SET version = $1",
            &[&i32::try_from(now).unwrap_or(i32::MAX)],
        )?;
    }
    tx.commit()?;
    Ok(())
}
