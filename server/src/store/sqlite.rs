//! The SQLite backend: one database file in WAL mode, one writer connection
//! (a batch is one transaction; the write returns once its commit is synced
//! to disk, the syncs shared by concurrent writes: [`durability`]) and a small
//! pool of reader connections.
//!
//! Spans keep the facts derived at ingest in columns; traces and sessions are
//! materialized rows that every write re-derives for what it touched, so the
//! read side never aggregates over spans. What this file holds is SQLite's
//! own: connections, checkpoints, its dialect, and (in [`spans`]) how it
//! stores span bodies; the queries are shared ([`super::queries`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::compression::{self, Dictionaries};
use super::evaluations::Lifecycle;
use super::queue;
use super::sql::{
    Args, Dialect, Side, SqlBackend, SqlRow, SqlTx, SqlValue, TraceIo, apply_migrations,
};
use super::{IntegrityCheck, StoreError, WriteOutcome};
use crate::model::{EventRecord, SpanRecord};
use recent::RecentTraces;

pub mod data_dir;
mod digest_filter;
mod durability;
mod group;
mod recent;
mod rows;
mod schema;
mod spans;
mod texts;

pub use texts::{Digest, digest as text_digest};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            // What waiting or freeing space mends.
            Some(
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::DiskFull
                | C::SystemIoFailure
                | C::OutOfMemory
                | C::CannotOpen,
            ) => StoreError::Unavailable(e.to_string()),
            Some(C::DatabaseCorrupt | C::NotADatabase) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "oi-sessions.sqlite3";

const MAX_IDLE_READERS: usize = 8;

/// A SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    writer: group::WriterLock,
    /// Small span writes waiting to be written together (`store/queue.rs`).
    queued: Mutex<queue::Queue<Arc<group::Outcome>>>,
    readers: Mutex<Vec<Connection>>,
    /// The integrity check run when the store opened.
    integrity: Option<IntegrityCheck>,
    /// The data directory's lock, held while the store is open.
    _lock: Option<data_dir::DirLock>,
    /// Held for its `Drop`: stops the checkpoint thread with the store.
    _checkpointer: Checkpointer,
    /// Syncs the writer's commits before their writes return.
    durability: durability::Durability,
    /// Texts and chunks recently stored: which new ones a request encodes
    /// before the writer lock.
    known_texts: texts::Known,
    /// Row ids of texts the writer used lately, kept across its span writes
    /// (locked only with the writer, after it).
    stored_ids: Mutex<texts::StoredIds>,
    /// The digests of the texts stored after the digest tables' watermarks
    /// (locked only with the writer, after it).
    unindexed: Mutex<texts::Unindexed>,
    /// The zstd dictionaries its blobs may name, and the training of the
    /// next.
    dictionaries: Arc<Dictionaries>,
    lifecycle: Lifecycle,
}

/// Copies the WAL into the database in the background (passive checkpoints:
/// never blocks the writer or readers).
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    const EVERY: std::time::Duration = std::time::Duration::from_millis(200);

    fn start(conn: Connection) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Self::EVERY)
                {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "wal checkpoint failed");
                    }
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Page cache of the writer, KiB.
const WRITER_CACHE_KIB: i64 = 16 * 1024;
/// Page cache of each reader, KiB: readers lean on the OS page cache, and this
/// keeps the pool's memory bounded.
const READER_CACHE_KIB: i64 = 4 * 1024;

/// Prepared statements a connection keeps.
const STATEMENT_CACHE: usize = 128;

fn open(
    path: &Path,
    cache_kib: i64,
    dictionaries: &Arc<Dictionaries>,
) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // auto_vacuum first, by the writer: it takes only on a database without
    // tables yet, and before WAL mode is set; then pages freed by deletes (retention, a
    // deleted session) go back to the file system in small steps
    // (`PRAGMA incremental_vacuum`) instead of a VACUUM rewriting the whole
    // file. On an existing database it changes nothing.
    if cache_kib == WRITER_CACHE_KIB {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    // Foreign keys are declared but not enforced: every deletion removes
    // what points at the row itself, as it must with PostgreSQL, which has
    // none on what ingest writes (the code is shared). Enforcing them cost
    // each span and trace written a lookup of its project (and session),
    // and every statement writing several rows a statement journal: 5.5%
    // of the writer's instructions a light span (issue 14, twentieth step).
    // `oi-sessions check` still finds a row whose parent is gone
    // (`pragma_foreign_key_check` reads the declarations).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = OFF;",
    )?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // rusqlite keeps 16 prepared statements by default, about what a span
    // write alone runs: with the reads and the evaluator's queries on the
    // same connection, statements would be evicted and parsed again.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    texts::register(&conn, dictionaries)?;
    Ok(conn)
}

/// Moves the next slice of the digests after the watermarks into the
/// digest tables, in a transaction of its own; on failure they stay in
/// memory and the next span write tries again.
fn merge_digests(conn: &mut Connection, unindexed: &mut texts::Unindexed) {
    let merged = conn.transaction().and_then(|tx| {
        let step = texts::merge_step(&tx, unindexed)?;
        tx.commit()?;
        Ok(step)
    });
    match merged {
        Ok(step) => texts::merged(unindexed, step),
        Err(e) => tracing::warn!("the text digests not merged into their index: {e}"),
    }
}

/// Applies the missing migrations in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    let now = apply_migrations(&mut SqliteTx(&tx), version, schema::MIGRATIONS)?;
    if now != version {
        tx.pragma_update(None, "user_version", now as i64)?;
    }
    tx.commit()?;
    Ok(())
}

/// How thoroughly to check a database's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No check (tests and tools that just created the file).
    None,
    /// `PRAGMA quick_check`, at start-up: every page read once (about a
    /// second per GB from the page cache).
    Quick,
    /// `PRAGMA integrity_check` and foreign keys (`oi-sessions check`).
    Full,
}

/// Checks a database's structure; the outcome, whichever it is.
fn check(conn: &Connection, depth: Check) -> Result<Option<IntegrityCheck>, StoreError> {
    let pragma = match depth {
        Check::None => return Ok(None),
        Check::Quick => "PRAGMA quick_check",
        Check::Full => "PRAGMA integrity_check",
    };
    let mut lines: Vec<String> = conn
        .prepare(pragma)?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if depth == Check::Full {
        let broken: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            lines.push(format!("{broken} rows refer to rows that do not exist"));
        }
    }
    let ok = lines == ["ok"];
    Ok(Some(IntegrityCheck {
        checked_at: crate::model::rfc3339(super::queries::now_ns()),
        ok,
        detail: lines.join("; "),
    }))
}

/// Refuses a database without a table this server's schema has (dropped by
/// hand, or a file that is not ours).
fn check_tables(conn: &Connection) -> Result<(), StoreError> {
    let present: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let missing: Vec<&str> = schema::TABLES
        .iter()
        .filter(|t| !present.iter().any(|p| p == *t))
        .copied()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "the database lacks the tables {}: restore it from a backup",
            missing.join(", ")
        )))
    }
}

/// The full check of the database in `data_dir`, read-only (a server may be
/// serving it): `PRAGMA integrity_check`, foreign keys, the schema's tables
/// and version, the stored texts' reference counts, and that every
/// compressed blob's dictionary is stored.
pub fn check_dir(data_dir: &Path) -> Result<IntegrityCheck, StoreError> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(StoreError::Backend(format!(
            "no database in {}",
            data_dir.display()
        )));
    }
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut report =
        check(&conn, Check::Full)?.ok_or_else(|| StoreError::Backend("no check ran".to_owned()))?;
    let mut problems = Vec::new();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if let Err(e) = check_tables(&conn) {
        problems.push(e.to_string());
    } else if usize::try_from(version).is_ok_and(|v| v == schema::MIGRATIONS.len()) {
        // One snapshot: a server writing meanwhile cannot make counts and
        // references disagree.
        let snapshot = conn.unchecked_transaction()?;
        let wrong = texts::check_references(&snapshot)?;
        problems.extend(texts::check_dictionaries(&snapshot)?);
        problems.extend(texts::check_digests(&snapshot)?);
        snapshot.finish()?;
        if let Some(first) = wrong.first() {
            problems.push(format!(
                "{} stored texts with wrong reference counts (first: {first})",
                wrong.len()
            ));
        }
    }
    if usize::try_from(version).is_ok_and(|v| v > schema::MIGRATIONS.len()) {
        problems.push(format!(
            "schema version {version} is newer than this server ({})",
            schema::MIGRATIONS.len()
        ));
    }
    if !problems.is_empty() {
        report.ok = false;
        report.detail = if report.detail == "ok" {
            problems.join("; ")
        } else {
            format!("{}; {}", report.detail, problems.join("; "))
        };
    }
    Ok(report)
}

impl SqliteStore {
    /// Runs `f` in a transaction of the writer, other than a span write, and
    /// returns once its commit is synced. If it deleted texts (a session or
    /// spans deleted), the row ids the writer kept are forgotten and its
    /// digests after the watermarks checked against their rows. Most such
    /// writes delete none (a job claimed or finished, settings saved), and
    /// ingest keeps what it knows across them.
    fn write_durably<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (value, commit) = {
            let mut writer = self.writer_alone()?;
            let deletions = texts::deletions();
            let tx = writer.conn.transaction()?;
            // A write that fails rolls back: the tables are as the writer knew them.
            let value = f(&tx)?;
            tx.commit()?;
            if texts::deletions() != deletions {
                *self.stored_ids.lock().map_err(|_| poisoned())? = texts::StoredIds::default();
                self.unindexed.lock().map_err(|_| poisoned())?.check_rows();
            }
            (value, self.durability.written())
        };
        self.durability.wait(commit)?;
        Ok(value)
    }

    /// Opens (creating and migrating as needed) the database in `data_dir`,
    /// after taking the directory's lock (one server at a time), refusing a
    /// database that was deleted or truncated, and a quick integrity check.
    pub fn open_dir(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_dir_with(data_dir, Check::Quick)
    }

    /// [`SqliteStore::open_dir`] with the check chosen.
    pub fn open_dir_with(data_dir: &Path, depth: Check) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Backend(format!("cannot create data dir: {e}")))?;
        let lock = data_dir::lock(data_dir)?;
        data_dir::check_not_replaced(data_dir, DB_FILE)?;
        let mut store = Self::open_file_with(&data_dir.join(DB_FILE), depth)?;
        data_dir::mark_created(data_dir)?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// Opens (creating and migrating as needed) a database file, unchecked.
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        Self::open_file_with(path, Check::None)
    }

    /// Opens a database file: its structure checked first (a damaged
    /// database is refused with what to do), then migrated, then its tables
    /// checked.
    pub fn open_file_with(path: &Path, depth: Check) -> Result<Self, StoreError> {
        let damaged = |detail: &str| {
            StoreError::Corrupt(format!(
                "the database {} is damaged ({detail}): restore it from a backup; \
                 `oi-sessions check` reports every problem",
                path.display()
            ))
        };
        let guide = |e: StoreError| match e {
            StoreError::Corrupt(detail) => damaged(&detail),
            other => other,
        };
        let dictionaries = Arc::new(Dictionaries::training());
        let mut writer = open(path, WRITER_CACHE_KIB, &dictionaries).map_err(guide)?;
        let integrity = check(&writer, depth).map_err(guide)?;
        if let Some(i) = integrity.as_ref().filter(|i| !i.ok) {
            return Err(damaged(&i.detail));
        }
        migrate(&mut writer).map_err(guide)?;
        check_tables(&writer)?;
        compression::load_dictionaries(&mut SqliteTx(&writer), &dictionaries)?;
        let unindexed = texts::Unindexed::load(&writer)?;
        // Checkpoints run on their own thread so that the single writer only
        // writes; the writer checkpoints itself only if the WAL grows past
        // this many pages (the checkpointer stalled).
        writer.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        // Once checkpointed, the WAL file is cut back to this size.
        writer.pragma_update(None, "journal_size_limit", 32 * 1024 * 1024)?;
        let checkpointer = Checkpointer::start(open(path, READER_CACHE_KIB, &dictionaries)?);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let durability = durability::Durability::start(Path::new(&wal))?;
        Ok(Self {
            path: path.to_owned(),
            writer: group::WriterLock::new(writer),
            queued: Mutex::default(),
            readers: Mutex::new(Vec::new()),
            integrity,
            _lock: None,
            _checkpointer: checkpointer,
            durability,
            known_texts: texts::Known::default(),
            stored_ids: Mutex::default(),
            unindexed: Mutex::new(unindexed),
            dictionaries,
            lifecycle: Lifecycle::default(),
        })
    }

    /// How many text digests the writer holds in memory before it merges
    /// them into their index (64k by default; tests make it small to merge
    /// often).
    pub fn merge_digests_at(&self, digests: usize) {
        if let Ok(mut unindexed) = self.unindexed.lock() {
            unindexed.merge_at(digests);
        }
    }

    /// Waits for a compression dictionary's training under way, if any, to
    /// end, and says whether there was one; the next span write stores what
    /// it offers (tests, benchmarks).
    pub fn finish_compression_training(&self) -> bool {
        self.dictionaries.finish_training()
    }

    /// The full check (`PRAGMA integrity_check` and foreign keys) of the open
    /// database, on a reader connection.
    pub fn full_check(&self) -> Result<IntegrityCheck, StoreError> {
        let conn = open(&self.path, READER_CACHE_KIB, &self.dictionaries)?;
        check(&conn, Check::Full)?.ok_or_else(|| StoreError::Backend("no check ran".to_owned()))
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("connection lock poisoned".to_owned())
}

/// SQLite's side of the shared queries.
struct Sqlite;

impl Dialect for Sqlite {
    fn in_ints(&self, param: &str) -> String {
        format!("IN (SELECT value FROM json_each({param}))")
    }

    fn in_texts(&self, param: &str) -> String {
        self.in_ints(param)
    }

    fn trace_tags(&self) -> &'static str {
        "traces t JOIN json_each(CASE json_type(t.tags) WHEN 'array' THEN t.tags ELSE '[]' END) j
           ON j.type = 'text'"
    }

    fn trace_metadata(&self) -> &'static str {
        "traces t JOIN json_each(CASE json_type(t.metadata) WHEN 'object' THEN t.metadata ELSE '{}' END) j"
    }

    fn metadata_text(&self) -> &'static str {
        "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(j.value AS TEXT) END"
    }

    fn saturating_sum(&self, column: &str) -> String {
        // `total` sums in floating point and never overflows; the cast clamps.
        format!("CAST(min(total({column}), 9223372036854775807.0) AS INTEGER)")
    }

    fn saturating_add(&self, a: &str, b: &str) -> String {
        // In floating point, as `total` adds.
        format!("CAST(min({a} + 0.0 + {b}, 9223372036854775807.0) AS INTEGER)")
    }

    fn trace_io(&self, side: Side) -> TraceIo {
        // Traces stored before migration 14 hold the value itself.
        match side {
            Side::Input => TraceIo {
                value: "coalesce(t.input_value, oi_text((SELECT body FROM texts WHERE id = t.input_text)))",
                present: "(t.input_value IS NOT NULL OR t.input_text IS NOT NULL)",
                mime: "t.input_mime",
                raw: "oi_text((SELECT body FROM texts WHERE id = t.input_raw_text))",
            },
            Side::Output => TraceIo {
                value: "coalesce(t.output_value, oi_text((SELECT body FROM texts WHERE id = t.output_text)))",
                present: "(t.output_value IS NOT NULL OR t.output_text IS NOT NULL)",
                mime: "t.output_mime",
                raw: "oi_text((SELECT body FROM texts WHERE id = t.output_raw_text))",
            },
        }
    }

    fn skip_locked(&self) -> &'static str {
        // one writer at a time: nobody to skip
        ""
    }

    fn search_index(&self, _trigrams: &[i32], _args: &mut Args) -> Option<String> {
        None
    }
}

/// A connection inside a transaction, as [`SqlTx`].
pub(crate) struct SqliteTx<'a>(&'a Connection);

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as V;
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(V::Null),
            SqlValue::Int(v) => ToSqlOutput::Owned(V::Integer(*v)),
            SqlValue::Real(v) => ToSqlOutput::Owned(V::Real(*v)),
            SqlValue::Bool(v) => ToSqlOutput::Owned(V::Integer(i64::from(*v))),
            SqlValue::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            SqlValue::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            // JSON and lists are JSON text, read back with json_each.
            SqlValue::Json(v) => ToSqlOutput::Owned(V::Text(v.to_string())),
            SqlValue::IntList(v) => ToSqlOutput::Owned(V::Text(json_list(v))),
            SqlValue::TextList(v) => ToSqlOutput::Owned(V::Text(json_list(v))),
        })
    }
}

fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

/// The shared SQL's `$n` placeholders as SQLite's `?n` (the same numbered
/// parameters).
fn placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sql_row(r: &rusqlite::Row<'_>, columns: usize) -> Result<SqlRow, StoreError> {
    let mut values = Vec::with_capacity(columns);
    for i in 0..columns {
        values.push(match r.get_ref(i)? {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(v) => SqlValue::Int(v),
            ValueRef::Real(v) => SqlValue::Real(v),
            ValueRef::Text(t) => SqlValue::Text(
                std::str::from_utf8(t)
                    .map_err(|_| StoreError::Corrupt(format!("column {i}: text is not UTF-8")))?
                    .to_owned(),
            ),
            ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
        });
    }
    Ok(SqlRow(values))
}

impl SqlTx for SqliteTx<'_> {
    fn dialect(&self) -> &'static dyn Dialect {
        &Sqlite
    }

    fn query(&mut self, sql: &str, args: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError> {
        let mut stmt = self.0.prepare_cached(&placeholders(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(sql_row(r, columns)?);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64, StoreError> {
        let changed = self
            .0
            .prepare_cached(&placeholders(sql))?
            .execute(rusqlite::params_from_iter(args))?;
        Ok(changed as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn sqlite(&self) -> Option<&Connection> {
        Some(self.0)
    }
}

impl SqlBackend for SqliteStore {
    type Spans = spans::Spans;

    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    fn give_back_free_pages(&self) -> Result<u64, StoreError> {
        let writer = self.writer_alone()?;
        let conn = &writer.conn;
        let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        if mode != 2 {
            // a database made before incremental vacuum: freed pages are
            // reused by new data, the file does not shrink (VACUUM it offline)
            return Ok(0);
        }
        let before: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        // a few MB a step: the writer is released between steps. The pragma
        // frees one page per row it returns, so every row is read
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum(1024)")?;
        let mut pages = vacuum.query([])?;
        while pages.next()?.is_some() {}
        drop(pages);
        drop(vacuum);
        let after: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(u64::try_from(before - after).unwrap_or(0))
    }

    fn integrity(&self) -> Option<IntegrityCheck> {
        self.integrity.clone()
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, READER_CACHE_KIB, &self.dictionaries)?,
        };
        // One read transaction: every query of a response sees the same snapshot.
        let result = {
            let tx = conn.unchecked_transaction()?;
            let r = f(&mut SqliteTx(&tx));
            tx.finish()?;
            r
        };
        let mut idle = self.readers.lock().map_err(|_| poisoned())?;
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn write<T>(
        &self,
        mut f: impl FnMut(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // One writer: nothing can get in the way, so `f` runs once.
        self.write_durably(|tx| f(&mut SqliteTx(tx)))
    }

    fn write_logged_events(&self, events: &[EventRecord]) -> Result<WriteOutcome, StoreError> {
        // Re-deriving traces may store and release texts.
        let mut texts = texts::Texts::default();
        let (outcome, commit) =
            self.write_texts(&mut texts, events.len(), |conn, texts, recent| {
                spans::write_events(conn, events, texts, recent)
            })?;
        self.durability.wait(commit)?;
        Ok(outcome)
    }

    fn write_spans(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError> {
        if spans.len() <= queue::QUEUED_MAX_SPANS
            && let Some(outcome) = self.write_queued(spans)?
        {
            return Ok(outcome);
        }
        // Encoding runs on the caller's thread, concurrently, before the writer.
        let (prepared, mut texts) = spans::prepare(spans, &self.known_texts, &self.dictionaries);
        let (stored, commit) =
            self.write_texts(&mut texts, spans.len(), |conn, texts, recent| {
                spans::write_batch(conn, &prepared, texts, recent)
            })?;
        let outcome = WriteOutcome::counted(&stored);
        // The next request may take the writer while this commit is synced;
        // what was encoded for it is freed before the wait.
        self.known_texts.remember(texts.digests());
        drop((prepared, texts));
        self.durability.wait(commit)?;
        Ok(outcome)
    }
}

impl SqliteStore {
    /// The writer for a write of its own: the group of span writes open, if
    /// one is, is committed first.
    fn writer_alone(&self) -> Result<std::sync::MutexGuard<'_, group::Writer>, StoreError> {
        let mut writer = self.writer.lock()?;
        self.commit_group(&mut writer)?;
        // Such a write may delete traces or their spans.
        writer.recent.forget();
        Ok(writer)
    }

    /// Commits the open group of span writes, if any.
    fn commit_group(&self, writer: &mut group::Writer) -> Result<(), StoreError> {
        match writer.commit(|| self.durability.written()) {
            Some(Err(e)) => {
                self.forget_uncommitted_texts();
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Ends a write's turn at the writer: commits the open group if no
    /// other write waits to join it, if it is full, or if the write is
    /// `alone`. Its members, this one too, hear how it went from the group's
    /// outcome.
    fn commit_if_due(&self, writer: &mut group::Writer, alone: bool) {
        if writer.commit_due(self.writer.waiting(), alone) {
            let _ = self.commit_group(writer);
        }
    }

    /// After a group rolled back: the row ids its members kept may name rows
    /// that are gone; the digests after the watermarks are checked against
    /// their rows.
    fn forget_uncommitted_texts(&self) {
        if let Ok(mut ids) = self.stored_ids.lock() {
            *ids = texts::StoredIds::default();
        }
        if let Ok(mut unindexed) = self.unindexed.lock() {
            unindexed.check_rows();
        }
    }

    /// Runs `f`, a write of `spans` spans that may store texts, in the group
    /// of span writes the writer has open (opening one if none is), and
    /// returns once the group committed, with the commit to wait for. If the
    /// group rolled back for another member's failure, `f` runs again in a
    /// transaction of its own.
    fn write_texts<T>(
        &self,
        texts: &mut texts::Texts,
        spans: usize,
        mut f: impl FnMut(&Connection, &mut texts::Texts, &mut RecentTraces) -> Result<T, StoreError>,
    ) -> Result<(T, durability::Written), StoreError> {
        if let Some(written) = self.write_in_group(texts, spans, &mut f, false)? {
            return Ok(written);
        }
        texts.restart();
        self.write_in_group(texts, spans, &mut f, true)?
            .ok_or_else(|| StoreError::Backend("a write alone rolled back without an error".into()))
    }

    /// Runs `f`, a write of `spans` spans, in the writer's open group
    /// (opening one if none is): its value and the group's outcome to wait
    /// for. `texts` is lent what the writer keeps across such writes (the
    /// row ids it used lately, the digests after the watermarks) and gives
    /// it back as the outcome says. A trained dictionary is stored, and the
    /// digests merged when due, first, in commits of their own, when a group
    /// opens.
    fn member<T>(
        &self,
        writer: &mut group::Writer,
        texts: &mut texts::Texts,
        spans: usize,
        f: &mut impl FnMut(&Connection, &mut texts::Texts, &mut RecentTraces) -> Result<T, StoreError>,
    ) -> Result<(T, Arc<group::Outcome>), StoreError> {
        if !writer.is_open() {
            if let Some(trained) = self.dictionaries.take_trained() {
                // Its own commit, before any frame compressed with it: the WAL
                // keeps the order, so a frame never outlives it.
                match compression::store_dictionary(&mut SqliteTx(&writer.conn), trained) {
                    Ok((id, bytes)) => self.dictionaries.adopt(id, bytes),
                    Err(e) => tracing::warn!("a compression dictionary not stored: {e}"),
                }
            }
            let mut unindexed = self.unindexed.lock().map_err(|_| poisoned())?;
            if unindexed.merge_due() {
                merge_digests(&mut writer.conn, &mut unindexed);
            }
            drop(unindexed);
            writer.begin()?;
        }
        let member = {
            let mut stored_ids = self.stored_ids.lock().map_err(|_| poisoned())?;
            let mut unindexed = self.unindexed.lock().map_err(|_| poisoned())?;
            texts.lend(
                std::mem::take(&mut *stored_ids),
                std::mem::take(&mut *unindexed),
            );
            let deletions = texts::deletions();
            let member = writer.member(spans, |conn, recent| {
                let value = f(conn, texts, recent)?;
                // Whatever `f` stored and left to write is written before
                // its group can commit.
                texts.flush(conn)?;
                Ok(value)
            });
            (*stored_ids, *unindexed) =
                texts.give_back(member.is_ok(), texts::deletions() != deletions);
            member
        };
        if member.is_err() {
            // The group rolled back with this write: forgotten before the
            // next write may borrow what it held.
            self.forget_uncommitted_texts();
        }
        member
    }

    /// Queues a small request's spans and waits until they are written,
    /// with the others queued meanwhile, by the thread draining the queue
    /// (this one, if none was), and their group committed: `None` if they
    /// were not written or their group rolled back (the request then writes
    /// again on its own).
    fn write_queued(&self, spans: &[SpanRecord]) -> Result<Option<WriteOutcome>, StoreError> {
        let written = queue::write_queued(
            &self.queued,
            spans,
            || self.drain_queue(),
            || self.writer.abandoned(|| group::QueuedEnd::Again),
        )?;
        let Some((outcome, group)) = written else {
            return Ok(None);
        };
        match group.ended(&self.writer) {
            group::Ended::Committed(commit) => {
                self.durability.wait(commit)?;
                Ok(Some(outcome))
            }
            group::Ended::RolledBack(_) => Ok(None),
        }
    }

    /// Drains the queue of small requests ([`queue::drain`]), each time
    /// what is queued as one write of the writer's group, holding the
    /// writer throughout; it leaves the queue to another when a write waits
    /// for the writer (a stream of small requests never keeps the writer
    /// from others).
    fn drain_queue(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.lock()?;
        queue::drain(
            &self.queued,
            |all| {
                let (prepared, mut texts) =
                    spans::prepare(all, &self.known_texts, &self.dictionaries);
                let written = self.member(
                    &mut writer,
                    &mut texts,
                    all.len(),
                    &mut |conn, texts, recent| spans::write_batch(conn, &prepared, texts, recent),
                );
                if written.is_ok() {
                    self.known_texts.remember(texts.digests());
                }
                self.commit_if_due(&mut writer, false);
                written.ok()
            },
            || self.writer.waiting() > 0,
        )
    }

    /// [`Self::write_texts`]'s one attempt, `alone` or in a group ([`Self::member`]):
    /// `None` if the group rolled back for another member.
    fn write_in_group<T>(
        &self,
        texts: &mut texts::Texts,
        spans: usize,
        f: &mut impl FnMut(&Connection, &mut texts::Texts, &mut RecentTraces) -> Result<T, StoreError>,
        alone: bool,
    ) -> Result<Option<(T, durability::Written)>, StoreError> {
        let mut writer = self.writer.lock()?;
        if alone {
            self.commit_group(&mut writer)?;
        }
        let (value, outcome) = self.member(&mut writer, texts, spans, f)?;
        self.commit_if_due(&mut writer, alone);
        drop(writer);
        match outcome.ended(&self.writer) {
            group::Ended::Committed(commit) => Ok(Some((value, commit))),
            group::Ended::RolledBack(e) if alone => Err(e),
            group::Ended::RolledBack(_) => Ok(None),
        }
    }
}

/// What [`backup`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Database pages copied.
    pub pages: i64,
    /// Rows of the copy's main tables, (table, count).
    pub rows: Vec<(&'static str, i64)>,
}

/// The tables whose rows a backup report counts.
const COUNTED_TABLES: [&str; 5] = [
    "projects",
    "sessions",
    "traces",
    "spans",
    "session_annotations",
];

/// Copies the database in `data_dir` into the file `dest` with SQLite's online
/// backup API while a server may keep writing it, then checks the copy.
///
/// The copy is one step inside one read transaction of the source: in WAL
/// mode a reader never blocks the writer, and the copy is the database as of
/// one commit (a backup in several steps would restart whenever the server
/// commits between two). It is written to `dest` + `.partial` and renamed
/// once checked, so an interrupted backup never leaves a file that looks
/// whole. The copy must pass `PRAGMA integrity_check`, the foreign-key check
/// and the schema check, and open as a store.
pub fn backup(data_dir: &Path, dest: &Path) -> Result<BackupReport, StoreError> {
    let source_path = data_dir.join(DB_FILE);
    if !source_path.exists() {
        return Err(StoreError::Backend(format!(
            "no database in {}",
            data_dir.display()
        )));
    }
    if dest.exists() {
        return Err(StoreError::AlreadyExists("backup file"));
    }
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let source = Connection::open_with_flags(
        &source_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let pages = {
        let mut copy = Connection::open(&partial)?;
        let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
        loop {
            match backup.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                // Busy or locked: the writer holds a lock for a moment.
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        let pages = i64::from(backup.progress().pagecount);
        drop(backup);
        copy.execute_batch("PRAGMA journal_mode = DELETE;")?;
        pages
    };
    drop(source);
    let checked = (|| {
        let conn = Connection::open(&partial)?;
        let report =
            check(&conn, Check::Full)?.ok_or_else(|| StoreError::Backend("no check ran".into()))?;
        if !report.ok {
            return Err(StoreError::Corrupt(format!(
                "the copy fails its integrity check: {}",
                report.detail
            )));
        }
        check_tables(&conn)?;
        let mut rows = Vec::new();
        for table in COUNTED_TABLES {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            rows.push((table, n));
        }
        drop(conn);
        // It opens as a store and answers a read.
        let store = SqliteStore::open_file_with(&partial, Check::None)?;
        super::Store::projects(&store)?;
        drop(store);
        // The store put the copy in WAL mode; a backup is one file.
        Connection::open(&partial)?.execute_batch("PRAGMA journal_mode = DELETE;")?;
        Ok(BackupReport { pages, rows })
    })();
    match checked {
        Ok(report) => {
            std::fs::rename(&partial, dest)
                .map_err(|e| StoreError::Backend(format!("cannot rename the copy: {e}")))?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite is built with the statement-journal threshold of
    /// `.cargo/config.toml`: a span write's journals stay in memory instead
    /// of a temporary file each (issue 14's fourteenth step).
    #[test]
    fn sqlite_keeps_statement_journals_of_a_megabyte_in_memory() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "STMTJRNL_SPILL=1048576"),
            "{options:?}"
        );
    }

    /// A span of its own trace and session (`n`), with a text to store.
    fn one_span(n: u8) -> crate::model::SpanRecord {
        let attributes = serde_json::json!({
            "session.id": format!("s{n}"),
            "input.value": format!("question {n}, long enough to be stored as a text of its own"),
        })
        .as_object()
        .unwrap()
        .clone();
        crate::model::SpanRecord {
            project: "p".into(),
            trace_id: [n; 16],
            span_id: [n; 8],
            parent_span_id: None,
            name: "turn".into(),
            kind: crate::model::SpanKind::Internal,
            start_ns: 1,
            end_ns: 2,
            status_code: 0,
            status_message: String::new(),
            facts: crate::otlp::map::derive_facts(&attributes, &Default::default()),
            attributes,
            events: Vec::new(),
        }
    }

    /// Runs `writes` on threads of their own while the test holds the
    /// writer, releases it once all of them wait for it, and returns their
    /// results with the commits they made.
    fn grouped<T: Send>(
        store: &SqliteStore,
        writes: Vec<Box<dyn FnOnce() -> T + Send + '_>>,
    ) -> (Vec<T>, u64) {
        let before = store.durability.commits();
        let held = store.writer.lock().unwrap();
        let n = writes.len();
        let results = std::thread::scope(|scope| {
            let threads: Vec<_> = writes.into_iter().map(|w| scope.spawn(w)).collect();
            // Every write has asked for the writer (the lock's own count) or
            // is queued for the one that drains the queue.
            while store.writer.waiting() + store.queued.lock().unwrap().not_draining() < n {
                std::thread::yield_now();
            }
            drop(held);
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        (results, store.durability.commits() - before)
    }

    fn stored_sessions(store: &SqliteStore) -> Vec<String> {
        use crate::store::Store;
        let query = crate::store::SessionQuery {
            page: crate::store::PageQuery {
                limit: 100,
                cursor: None,
            },
            ..Default::default()
        };
        let mut ids: Vec<String> = Store::sessions(store, "p", &query)
            .unwrap()
            .data
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        ids.sort();
        ids
    }

    /// Span writes that wait for the writer share its transaction: one
    /// commit for all, each answered after it with its own spans' counts
    /// (small ones are written together, in one write), each span stored.
    #[test]
    fn span_writes_waiting_for_the_writer_share_one_commit() {
        use crate::store::Store;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        type Write<'a> = Box<dyn FnOnce() -> Result<WriteOutcome, StoreError> + Send + 'a>;
        // The last sends the first's span again.
        let writes: Vec<Write> = [1, 2, 3, 1]
            .into_iter()
            .map(|n| {
                let store = &store;
                Box::new(move || Store::write(store, &[one_span(n)])) as Write
            })
            .collect();
        let (results, commits) = grouped(&store, writes);
        let results: Vec<WriteOutcome> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(commits, 1, "four writes, one group");
        assert_eq!(store.queued.lock().unwrap().not_draining(), 0);
        for r in &results[1..3] {
            assert_eq!((r.inserted, r.duplicates), (1, 0));
        }
        // Whichever came first stored the span, the other found it.
        let (first, again) = (&results[0], &results[3]);
        assert_eq!(first.inserted + again.inserted, 1);
        assert_eq!(first.duplicates + again.duplicates, 1);
        assert_eq!(stored_sessions(&store), ["s1", "s2", "s3"]);
        // A write alone after them: a group of its own.
        let before = store.durability.commits();
        Store::write(&store, &[one_span(4)]).unwrap();
        assert_eq!(store.durability.commits(), before + 1);
    }

    /// A span of trace `trace` (session `s{trace}`) under a parent not sent:
    /// the trace's root is still to come.
    fn child_span(trace: u8, span: u8) -> crate::model::SpanRecord {
        let mut s = one_span(trace);
        s.span_id = [span; 8];
        s.parent_span_id = Some([0xEE; 8]);
        s.facts.span_id = s.span_id;
        s.facts.parent_span_id = s.parent_span_id;
        s
    }

    fn span_count(store: &SqliteStore, trace: u8) -> i64 {
        use crate::store::Store;
        Store::trace(store, "p", &[trace; 16])
            .unwrap()
            .trace
            .span_count
    }

    /// The writer keeps a trace whose root is still to come, and forgets it
    /// when its write rolls back and before a write other than a span
    /// write: the trace's next span is summarized with the spans stored,
    /// none rolled back or deleted.
    #[test]
    fn a_trace_the_writer_keeps_is_forgotten_with_a_rollback_or_another_write() {
        use crate::store::Store;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let kept = || store.writer.lock().unwrap().recent.len();
        Store::write(&store, &[child_span(1, 1)]).unwrap();
        assert_eq!(kept(), 1, "a trace without its root is kept");
        // A second span's write that fails after the trace was summarized.
        let second = [child_span(1, 2)];
        let (prepared, mut texts) =
            spans::prepare(&second, &store.known_texts, &store.dictionaries);
        let failed = store.write_texts(&mut texts, 1, |conn, texts, recent| {
            spans::write_batch(conn, &prepared, texts, recent)?;
            Err::<(), _>(StoreError::Corrupt("after the summary".into()))
        });
        assert!(matches!(failed, Err(StoreError::Corrupt(_))));
        Store::write(&store, &[child_span(1, 3)]).unwrap();
        assert_eq!(span_count(&store, 1), 2, "the span rolled back is counted");
        assert_eq!(kept(), 1);
        // The session deleted with its traces, then the trace sent again, its
        // root first (at the row the deleted trace had), then a span.
        Store::delete_session(&store, "p", "s1").unwrap();
        Store::write(&store, &[one_span(1)]).unwrap();
        Store::write(&store, &[child_span(1, 4)]).unwrap();
        assert_eq!(span_count(&store, 1), 2, "the deleted spans are counted");
        assert_eq!(kept(), 0, "a trace with its root is not kept");
    }

    /// A write that fails in a group rolls the group back; the others write
    /// again on their own: their spans are stored, nothing of the failed
    /// one is. Whether the write returns an error or one of its statements
    /// (`OR ROLLBACK`, as the writer's are: see `rows.rs`) ended the
    /// transaction itself.
    #[test]
    fn a_write_that_fails_in_a_group_costs_the_others_nothing() {
        use crate::store::Store;
        for statement_rolls_back in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open_dir(dir.path()).unwrap();
            let s = &store;
            let writes: Vec<Box<dyn FnOnce() -> Result<(), StoreError> + Send>> = vec![
                Box::new(move || Store::write(s, &[one_span(1)]).map(|_| ())),
                Box::new(move || {
                    let mut texts = texts::Texts::default();
                    s.write_texts(&mut texts, 1, |conn, _, _| {
                        conn.execute("INSERT INTO projects (name) VALUES ('poisoned')", [])?;
                        if statement_rolls_back {
                            // A constraint failed: SQLite rolls back.
                            conn.execute(
                                "INSERT OR ROLLBACK INTO projects (name) VALUES (NULL)",
                                [],
                            )?;
                        }
                        Err::<(), _>(StoreError::Corrupt(
                            "a stored trace that does not read".into(),
                        ))
                    })
                    .map(|_| ())
                }),
                Box::new(move || Store::write(s, &[one_span(2)]).map(|_| ())),
            ];
            let (results, _) = grouped(&store, writes);
            assert!(results[0].is_ok(), "{:?}", results[0]);
            match (&results[1], statement_rolls_back) {
                (Err(StoreError::Corrupt(_)), false) => {}
                (Err(StoreError::Backend(e)), true) => {
                    assert!(e.contains("NOT NULL"), "{e}")
                }
                (other, _) => panic!("{other:?}"),
            }
            assert!(results[2].is_ok(), "{:?}", results[2]);
            assert_eq!(stored_sessions(&store), ["s1", "s2"]);
            let poisoned: i64 = store
                .writer_alone()
                .unwrap()
                .conn
                .query_row(
                    "SELECT count(*) FROM projects WHERE name = 'poisoned'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(poisoned, 0);
            // The writer goes on.
            Store::write(&store, &[one_span(3)]).unwrap();
            assert_eq!(stored_sessions(&store), ["s1", "s2", "s3"]);
        }
    }

    /// A write other than a span write keeps what the writer knows of the
    /// texts stored (settings saved); one that deletes texts
    /// makes the writer check it against the rows.
    #[test]
    fn only_a_write_that_deletes_texts_makes_the_writer_check_its_texts() {
        use crate::store::Store;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        Store::write(&store, &[one_span(1)]).unwrap();
        let checks = || store.unindexed.lock().unwrap().checks_rows();
        assert!(!checks());
        assert!(store.claim_jobs("me", 0, 1, 4).unwrap().is_empty());
        store
            .set_project_settings("p", &Default::default())
            .unwrap();
        assert!(!checks(), "a write that deleted nothing");
        store.delete_session("p", "s1").unwrap();
        assert!(checks(), "a write that deleted texts");
    }

    /// The scheduler's tick with no job due commits nothing (it asks a
    /// reader first); with one due, the claim is a commit.
    #[test]
    fn claiming_with_no_job_due_commits_nothing() {
        use crate::store::{NewJob, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let commits = || store.durability.commits();
        // after any job's run_after_ns (jobs are due from when they are queued)
        let later = i64::MAX / 2;
        let before = commits();
        assert!(store.claim_jobs("me", later, 1, 4).unwrap().is_empty());
        assert_eq!(commits(), before, "a claim of nothing");
        let job = NewJob {
            session_id: "s".into(),
            evaluator: "judge".into(),
            version: 1,
            activity_ns: 5,
            backfill_id: None,
        };
        store.create_project("p", None).unwrap();
        assert_eq!(store.enqueue_jobs("p", &[job], &[]).unwrap(), 1);
        let queued = commits();
        assert_eq!(store.claim_jobs("me", later, 1, 4).unwrap().len(), 1);
        assert_eq!(commits(), queued + 1, "a claim of a due job");
        assert!(store.claim_jobs("me", later, 1, 4).unwrap().is_empty());
        assert_eq!(commits(), queued + 1, "its lease runs a nanosecond past");
    }

    /// Migration 16 gives each span its trace's row: found by project and
    /// trace id (the same trace id in two projects is two traces), and minus
    /// its own id for a span without a trace row.
    #[test]
    fn migration_16_gives_each_span_its_trace_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let mut conn = open(&path, WRITER_CACHE_KIB, &Arc::default()).unwrap();
            let tx = conn.transaction().unwrap();
            apply_migrations(&mut SqliteTx(&tx), 0, &schema::MIGRATIONS[..15]).unwrap();
            tx.pragma_update(None, "user_version", 15).unwrap();
            tx.execute_batch(
                "INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b');
                 INSERT INTO traces (id, project_id, trace_id, start_ns, end_ns, span_count,
                    has_error, prompt_tokens, completion_tokens, total_tokens, cost_prompt,
                    cost_completion, cost_total)
                 VALUES (7, 2, x'01', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0),
                        (9, 1, x'01', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
                 INSERT INTO spans (id, trace_id, span_id, project_id, name, kind, status_code,
                    status_message, start_ns, end_ns, is_llm, prompt_tokens, completion_tokens,
                    total_tokens, cost_prompt, cost_completion, cost_total, tags, metadata, body,
                    text_refs)
                 VALUES (1, x'01', x'0a', 1, 's', 'INTERNAL', 0, '', 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            '[]', '{}', x'', x''),
                        (2, x'01', x'0b', 2, 's', 'INTERNAL', 0, '', 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            '[]', '{}', x'', x''),
                        (3, x'02', x'0c', 1, 's', 'INTERNAL', 0, '', 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            '[]', '{}', x'', x'');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open_file(&path).unwrap();
        let held = store.writer_alone().unwrap();
        let rows: Vec<(i64, i64)> = held
            .conn
            .prepare("SELECT id, trace_rowid FROM spans ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(1, 9), (2, 7), (3, -3)]);
    }
}
