//! The SQLite backend: one database file in WAL mode, one writer connection
//! (a batch is one transaction, committed with `synchronous=FULL` before the
//! write returns) and a small pool of reader connections.
//!
//! Spans keep the facts derived at ingest in columns; traces and sessions are
//! materialized rows that every write re-derives for what it touched, so the
//! read side never aggregates over spans.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};
use serde_json::{Map, Value};

use super::{
    Cursor, Order, PageQuery, SessionQuery, SessionSort, Store, StoreError, TraceQuery,
    WriteOutcome,
};
use crate::annotation::{Annotation, NewAnnotation};
use crate::model::{
    Cost, Io, Latency, Page, ProjectInfo, SessionInfo, SpanFacts, SpanInfo, SpanRecord, TokenCount,
    TraceDetail, TraceInfo, TraceSummary, Turn, hex, rfc3339, status_name,
};
use crate::turn;

mod annotations;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// Versioned migrations; `PRAGMA user_version` records the last one applied.
const MIGRATIONS: &[&str] = &[
    // 1: projects, sessions, traces, spans.
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
    // 2: the session list's user filter walks an index instead of every session.
    "CREATE INDEX traces_by_user ON traces (project_id, user_id, session_rowid);",
    // 3: session annotations.
    annotations::MIGRATION,
];

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "oi-sessions.sqlite3";

const MAX_IDLE_READERS: usize = 8;

/// A SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Held for its `Drop`: stops the checkpoint thread with the store.
    _checkpointer: Checkpointer,
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

fn open(path: &Path, cache_kib: i64) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "database schema version {version} is newer than this server ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database in `data_dir`.
    pub fn open_dir(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Backend(format!("cannot create data dir: {e}")))?;
        Self::open_file(&data_dir.join(DB_FILE))
    }

    /// Opens (creating and migrating as needed) a database file.
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open(path, WRITER_CACHE_KIB)?;
        migrate(&mut writer)?;
        // Checkpoints run on their own thread so that the single writer only
        // writes; the writer checkpoints itself only if the WAL grows past
        // this many pages (the checkpointer stalled).
        writer.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        // Once checkpointed, the WAL file is cut back to this size.
        writer.pragma_update(None, "journal_size_limit", 32 * 1024 * 1024)?;
        let checkpointer = Checkpointer::start(open(path, READER_CACHE_KIB)?);
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            _checkpointer: checkpointer,
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, READER_CACHE_KIB)?,
        };
        // One read transaction: every query of a response sees the same snapshot.
        let result = {
            let tx = conn.unchecked_transaction()?;
            let r = f(&tx);
            tx.finish()?;
            r
        };
        let mut idle = self.readers.lock().map_err(|_| poisoned())?;
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("connection lock poisoned".to_owned())
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// FNV-1a: a hash that is stable across Rust releases, so stored hashes stay
/// valid; collisions are resolved by comparing the texts.
fn fnv64(text: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Attribute strings at least this long are stored once in `texts` and
/// referenced (a chat's LLM spans repeat the whole conversation so far).
const INTERN_MIN_BYTES: usize = 48;

/// Content-addressed, reference-counted texts of one write transaction.
#[derive(Default)]
struct Texts {
    /// Text to (row id, references added in this transaction).
    seen: HashMap<String, (i64, i64)>,
}

impl Texts {
    /// The row id of `text`, stored if new; counts one reference.
    fn intern(&mut self, tx: &Transaction<'_>, text: &str) -> rusqlite::Result<i64> {
        if let Some((id, refs)) = self.seen.get_mut(text) {
            *refs += 1;
            return Ok(*id);
        }
        let id = match find_text(tx, text)? {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO texts (hash, refs, text) VALUES (?1, 0, ?2)")?
                    .execute(params![fnv64(text), text])?;
                tx.last_insert_rowid()
            }
        };
        self.seen.insert(text.to_owned(), (id, 1));
        Ok(id)
    }

    /// Writes the reference counts added by this transaction.
    fn flush(self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut stmt = tx.prepare_cached("UPDATE texts SET refs = refs + ?1 WHERE id = ?2")?;
        for (id, refs) in self.seen.into_values() {
            stmt.execute(params![refs, id])?;
        }
        Ok(())
    }
}

/// The row id of a stored text, if any.
fn find_text(tx: &Transaction<'_>, text: &str) -> rusqlite::Result<Option<i64>> {
    let mut stmt = tx.prepare_cached("SELECT id, text FROM texts WHERE hash = ?1")?;
    let mut rows = stmt.query([fnv64(text)])?;
    while let Some(r) = rows.next()? {
        if r.get_ref(1)?.as_str()? == text {
            return Ok(Some(r.get(0)?));
        }
    }
    Ok(None)
}

/// A span's attributes and events as stored (deflated JSON): the keys of the
/// interned attributes are here, their text ids in the span's `text_refs`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Body {
    /// Attributes not interned.
    a: Map<String, Value>,
    /// Keys of the interned attributes, in `text_refs` order.
    k: Vec<String>,
    /// Events.
    e: Vec<Value>,
}

/// A span encoded before the writer lock is taken: only text interning and
/// B-tree work are left for the single writer.
struct Prepared<'a> {
    record: &'a SpanRecord,
    /// Deflated [`Body`].
    body: Vec<u8>,
    /// The interned attributes' texts, in [`Body::k`] order.
    texts: Vec<&'a str>,
}

fn prepare(spans: &[SpanRecord]) -> Vec<Prepared<'_>> {
    let mut compress = flate2::Compress::new(flate2::Compression::fast(), false);
    spans
        .iter()
        .map(|record| {
            let mut body = Body {
                a: Map::new(),
                k: Vec::new(),
                e: record.events.clone(),
            };
            let mut texts = Vec::new();
            for (key, value) in &record.attributes {
                match value {
                    Value::String(text) if text.len() >= INTERN_MIN_BYTES => {
                        body.k.push(key.clone());
                        texts.push(text.as_str());
                    }
                    other => {
                        body.a.insert(key.clone(), other.clone());
                    }
                }
            }
            let json = serde_json::to_vec(&body).unwrap_or_default();
            Prepared {
                record,
                body: deflate(&mut compress, &json),
                texts,
            }
        })
        .collect()
}

/// Raw deflate with a reused compressor (setting one up zeroes large tables).
fn deflate(c: &mut flate2::Compress, input: &[u8]) -> Vec<u8> {
    c.reset();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        let consumed = usize::try_from(c.total_in())
            .unwrap_or(usize::MAX)
            .min(input.len());
        match c.compress_vec(&input[consumed..], &mut out, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) | Err(_) => return out,
            // Out of room: grow and go on.
            Ok(_) => out.reserve(out.capacity().max(64)),
        }
    }
}

/// Text ids as LEB128 varints.
fn pack_ids(ids: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 3);
    for &id in ids {
        let mut v = id as u64;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

fn unpack_ids(bytes: &[u8]) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::new();
    let (mut v, mut shift) = (0u64, 0u32);
    for &b in bytes {
        if shift > 63 {
            return Err(StoreError::Backend("corrupt text refs".to_owned()));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            ids.push(v as i64);
            (v, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    Ok(ids)
}

fn inflate(blob: &[u8]) -> Result<Body, StoreError> {
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(blob), &mut json)
        .map_err(|e| StoreError::Backend(format!("corrupt span body: {e}")))?;
    serde_json::from_slice(&json)
        .map_err(|e| StoreError::Backend(format!("corrupt span body: {e}")))
}

fn decode_body(
    tx: &Transaction<'_>,
    blob: &[u8],
    refs: &[u8],
) -> Result<(Map<String, Value>, Vec<Value>), StoreError> {
    let body = inflate(blob)?;
    let ids = unpack_ids(refs)?;
    if ids.len() != body.k.len() {
        return Err(StoreError::Backend("corrupt text refs".to_owned()));
    }
    let mut attributes = body.a;
    let mut stmt = tx.prepare_cached("SELECT text FROM texts WHERE id = ?1")?;
    for (key, id) in body.k.into_iter().zip(ids) {
        let text: String = stmt.query_row([id], |r| r.get(0))?;
        attributes.insert(key, Value::String(text));
    }
    attributes.sort_keys();
    Ok((attributes, body.e))
}

/// Every text reference a span holds: its columns and its body.
fn span_text_refs(tx: &Transaction<'_>, span_rowid: i64) -> Result<Vec<i64>, StoreError> {
    let (cols, refs): ([Option<i64>; 4], Vec<u8>) = tx
        .prepare_cached(
            "SELECT input_text, output_text, last_user_text, reply_text, text_refs
             FROM spans WHERE id = ?1",
        )?
        .query_row([span_rowid], |r| {
            Ok(([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?], r.get(4)?))
        })?;
    let mut all: Vec<i64> = cols.into_iter().flatten().collect();
    all.extend(unpack_ids(&refs)?);
    Ok(all)
}

fn project_id(
    tx: &Transaction<'_>,
    name: &str,
    cache: &mut HashMap<String, i64>,
) -> rusqlite::Result<i64> {
    if let Some(id) = cache.get(name) {
        return Ok(*id);
    }
    tx.execute("INSERT OR IGNORE INTO projects (name) VALUES (?1)", [name])?;
    let id = tx.query_row("SELECT id FROM projects WHERE name = ?1", [name], |r| {
        r.get(0)
    })?;
    cache.insert(name.to_owned(), id);
    Ok(id)
}

fn load_facts(
    tx: &Transaction<'_>,
    project_id: i64,
    trace_id: &[u8; 16],
) -> rusqlite::Result<Vec<SpanFacts>> {
    let mut stmt = tx.prepare_cached(
        "SELECT span_id, parent_span_id, start_ns, end_ns, status_code, session_id, user_id,
                oi_kind, is_llm, ti.text, input_mime, tout.text, output_mime,
                tu.text, tr.text, prompt_tokens, completion_tokens, total_tokens,
                cost_prompt, cost_completion, cost_total, tags, metadata
         FROM spans
         LEFT JOIN texts ti ON ti.id = input_text
         LEFT JOIN texts tout ON tout.id = output_text
         LEFT JOIN texts tu ON tu.id = last_user_text
         LEFT JOIN texts tr ON tr.id = reply_text
         WHERE trace_id = ?1 AND project_id = ?2",
    )?;
    let rows = stmt.query_map(params![&trace_id[..], project_id], |r| {
        let id8 = |v: Option<Vec<u8>>| v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok());
        Ok(SpanFacts {
            span_id: id8(r.get(0)?).unwrap_or_default(),
            parent_span_id: id8(r.get(1)?),
            start_ns: r.get(2)?,
            end_ns: r.get(3)?,
            status_code: r.get(4)?,
            session_id: r.get(5)?,
            user_id: r.get(6)?,
            oi_kind: r.get(7)?,
            is_llm: r.get(8)?,
            input_value: r.get(9)?,
            input_mime: r.get(10)?,
            output_value: r.get(11)?,
            output_mime: r.get(12)?,
            llm_last_user: r.get(13)?,
            llm_reply: r.get(14)?,
            tokens: TokenCount {
                prompt: r.get(15)?,
                completion: r.get(16)?,
                total: r.get(17)?,
            },
            cost: Cost {
                prompt: r.get(18)?,
                completion: r.get(19)?,
                total: r.get(20)?,
            },
            tags: serde_json::from_str(&r.get::<_, String>(21)?).unwrap_or_default(),
            metadata: serde_json::from_str(&r.get::<_, String>(22)?).unwrap_or_default(),
        })
    })?;
    rows.collect()
}

fn upsert_trace(
    tx: &Transaction<'_>,
    project_id: i64,
    trace_id: &[u8; 16],
    s: &TraceSummary,
    session_rowid: Option<i64>,
) -> rusqlite::Result<()> {
    let io = |io: &Option<Io>| {
        (
            io.as_ref().map(|i| i.value.clone()),
            io.as_ref().map(|i| i.mime_type.clone()),
            io.as_ref().and_then(|i| i.raw_value.clone()),
        )
    };
    let (iv, im, ir) = io(&s.input);
    let (ov, om, or) = io(&s.output);
    // A raw value is some span's input or output text: point at it, no new reference.
    let ir = ir.map(|t| find_text(tx, &t)).transpose()?.flatten();
    let or = or.map(|t| find_text(tx, &t)).transpose()?.flatten();
    tx.prepare_cached(
        "INSERT INTO traces (project_id, trace_id, session_rowid, session_id, session_conflicts,
            user_id, root_span_id, start_ns, end_ns, span_count, has_error,
            input_value, input_mime, input_raw_text, output_value, output_mime, output_raw_text,
            prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion, cost_total,
            tags, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25)
         ON CONFLICT (project_id, trace_id) DO UPDATE SET
            session_rowid = excluded.session_rowid, session_id = excluded.session_id,
            session_conflicts = excluded.session_conflicts, user_id = excluded.user_id,
            root_span_id = excluded.root_span_id, start_ns = excluded.start_ns,
            end_ns = excluded.end_ns, span_count = excluded.span_count,
            has_error = excluded.has_error, input_value = excluded.input_value,
            input_mime = excluded.input_mime, input_raw_text = excluded.input_raw_text,
            output_value = excluded.output_value, output_mime = excluded.output_mime,
            output_raw_text = excluded.output_raw_text, prompt_tokens = excluded.prompt_tokens,
            completion_tokens = excluded.completion_tokens, total_tokens = excluded.total_tokens,
            cost_prompt = excluded.cost_prompt, cost_completion = excluded.cost_completion,
            cost_total = excluded.cost_total, tags = excluded.tags, metadata = excluded.metadata",
    )?
    .execute(params![
        project_id,
        &trace_id[..],
        session_rowid,
        s.session_id,
        json_text(&s.session_conflicts),
        s.user_id,
        s.root_span_id.map(|r| r.to_vec()),
        s.start_ns,
        s.end_ns,
        s.span_count,
        s.has_error,
        iv,
        im,
        ir,
        ov,
        om,
        or,
        s.tokens.prompt,
        s.tokens.completion,
        s.tokens.total,
        s.cost.prompt,
        s.cost.completion,
        s.cost.total,
        json_text(&s.tags),
        json_text(&s.metadata),
    ])?;
    Ok(())
}

fn refresh_session(tx: &Transaction<'_>, session_rowid: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE sessions SET (start_ns, end_ns, num_traces, num_traces_with_error, prompt_tokens,
                completion_tokens, total_tokens, cost_prompt, cost_completion, cost_total) =
            (SELECT coalesce(min(start_ns), 0), coalesce(max(end_ns), 0), count(*),
                coalesce(sum(has_error), 0), coalesce(sum(prompt_tokens), 0),
                coalesce(sum(completion_tokens), 0), coalesce(sum(total_tokens), 0),
                coalesce(sum(cost_prompt), 0.0), coalesce(sum(cost_completion), 0.0),
                coalesce(sum(cost_total), 0.0)
             FROM traces WHERE session_rowid = ?1)
         WHERE id = ?1",
    )?
    .execute([session_rowid])?;
    tx.prepare_cached("UPDATE sessions SET duration_ns = end_ns - start_ns WHERE id = ?1")?
        .execute([session_rowid])?;
    // A session exists only while a trace belongs to it (a moved trace can empty one).
    tx.prepare_cached("DELETE FROM sessions WHERE id = ?1 AND num_traces = 0")?
        .execute([session_rowid])?;
    Ok(())
}

fn write_tx(tx: &Transaction<'_>, spans: &[Prepared<'_>]) -> rusqlite::Result<WriteOutcome> {
    let mut outcome = WriteOutcome::default();
    let mut projects = HashMap::new();
    // Traces this batch added spans to: whether the trace was stored before,
    // and the facts of the spans added.
    let mut touched: BTreeMap<(i64, [u8; 16]), (bool, Vec<SpanFacts>)> = BTreeMap::new();
    let mut texts = Texts::default();
    {
        let mut trace_exists =
            tx.prepare_cached("SELECT 1 FROM traces WHERE project_id = ?1 AND trace_id = ?2")?;
        let mut exists =
            tx.prepare_cached("SELECT 1 FROM spans WHERE trace_id = ?1 AND span_id = ?2")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO spans (trace_id, span_id, project_id, parent_span_id, name, kind,
                status_code, status_message, start_ns, end_ns, session_id, user_id, oi_kind, is_llm,
                input_text, input_mime, output_text, output_mime, last_user_text, reply_text,
                prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion,
                cost_total, tags, metadata, body, text_refs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
        )?;
        for p in spans {
            let s = p.record;
            // Re-sent spans change nothing, not even text reference counts.
            if exists.exists(params![&s.trace_id[..], &s.span_id[..]])? {
                outcome.duplicates += 1;
                continue;
            }
            let pid = project_id(tx, &s.project, &mut projects)?;
            let f = &s.facts;
            let mut text =
                |t: &Option<String>| t.as_deref().map(|t| texts.intern(tx, t)).transpose();
            let (input, output) = (text(&f.input_value)?, text(&f.output_value)?);
            let (last_user, reply) = (text(&f.llm_last_user)?, text(&f.llm_reply)?);
            let ids = p
                .texts
                .iter()
                .map(|t| texts.intern(tx, t))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            insert.execute(params![
                &s.trace_id[..],
                &s.span_id[..],
                pid,
                s.parent_span_id.map(|p| p.to_vec()),
                s.name,
                s.kind,
                s.status_code,
                s.status_message,
                s.start_ns,
                s.end_ns,
                f.session_id,
                f.user_id,
                f.oi_kind,
                f.is_llm,
                input,
                f.input_mime,
                output,
                f.output_mime,
                last_user,
                reply,
                f.tokens.prompt,
                f.tokens.completion,
                f.tokens.total,
                f.cost.prompt,
                f.cost.completion,
                f.cost.total,
                json_text(&f.tags),
                json_text(&f.metadata),
                p.body,
                pack_ids(&ids),
            ])?;
            outcome.inserted += 1;
            let key = (pid, s.trace_id);
            let entry = match touched.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert((
                    trace_exists.exists(params![pid, &s.trace_id[..]])?,
                    Vec::new(),
                )),
            };
            if let (false, facts) = entry {
                facts.push(s.facts.clone());
            }
        }
    }
    texts.flush(tx)?;
    let mut sessions = BTreeSet::new();
    let mut session_rowids: HashMap<(i64, String), i64> = HashMap::new();
    for ((pid, trace_id), (stored, new_facts)) in touched {
        // A trace first seen in this batch has all its spans in memory.
        let (facts, old) = if stored {
            let old: Option<i64> = tx
                .prepare_cached(
                    "SELECT session_rowid FROM traces WHERE project_id = ?1 AND trace_id = ?2",
                )?
                .query_row(params![pid, &trace_id[..]], |r| r.get(0))
                .optional()?
                .flatten();
            (load_facts(tx, pid, &trace_id)?, old)
        } else {
            (new_facts, None)
        };
        let summary = turn::summarize(&facts);
        let new = match &summary.session_id {
            None => None,
            Some(sid) => Some(match session_rowids.get(&(pid, sid.clone())) {
                Some(id) => *id,
                None => {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO sessions (project_id, session_id) VALUES (?1, ?2)",
                    )?
                    .execute(params![pid, sid])?;
                    let id = tx
                        .prepare_cached(
                            "SELECT id FROM sessions WHERE project_id = ?1 AND session_id = ?2",
                        )?
                        .query_row(params![pid, sid], |r| r.get::<_, i64>(0))?;
                    session_rowids.insert((pid, sid.clone()), id);
                    id
                }
            }),
        };
        upsert_trace(tx, pid, &trace_id, &summary, new)?;
        sessions.extend(old);
        sessions.extend(new);
    }
    for s in sessions {
        refresh_session(tx, s)?;
    }
    Ok(outcome)
}

fn project_rowid(tx: &Transaction<'_>, project: &str) -> Result<i64, StoreError> {
    tx.prepare_cached("SELECT id FROM projects WHERE name = ?1")?
        .query_row([project], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound("project"))
}

/// The columns [`session_row`] reads, from `sessions s`.
const SESSION_COLS: &str = "s.id, s.session_id, s.start_ns, s.end_ns, s.num_traces,
    s.num_traces_with_error, s.prompt_tokens, s.completion_tokens, s.total_tokens,
    s.cost_prompt, s.cost_completion, s.cost_total";

fn session_row(r: &Row<'_>, project: &str) -> rusqlite::Result<(i64, SessionInfo)> {
    let start: i64 = r.get(2)?;
    let end: i64 = r.get(3)?;
    Ok((
        r.get(0)?,
        SessionInfo {
            session_id: r.get(1)?,
            project: project.to_owned(),
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            duration_ms: (end - start) as f64 / 1e6,
            num_traces: r.get(4)?,
            num_traces_with_error: r.get(5)?,
            user_ids: Vec::new(),
            tags: Vec::new(),
            metadata: Map::new(),
            first_input: None,
            last_output: None,
            token_count: TokenCount {
                prompt: r.get(6)?,
                completion: r.get(7)?,
                total: r.get(8)?,
            },
            cost: Cost {
                prompt: r.get(9)?,
                completion: r.get(10)?,
                total: r.get(11)?,
            },
            latency_ms: Latency::default(),
            annotations: Vec::new(),
        },
    ))
}

fn io_from(value: Option<String>, mime: Option<String>, raw: Option<String>) -> Option<Io> {
    value.map(|value| Io {
        value,
        mime_type: mime.unwrap_or_else(|| "text/plain".to_owned()),
        raw_value: raw,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Fills what a session row does not hold from its traces.
fn fill_session(tx: &Transaction<'_>, rowid: i64, s: &mut SessionInfo) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT user_id, tags, metadata, input_value, input_mime,
                (SELECT text FROM texts WHERE id = input_raw_text),
                output_value, output_mime, (SELECT text FROM texts WHERE id = output_raw_text),
                end_ns - start_ns
         FROM traces WHERE session_rowid = ?1 ORDER BY start_ns, id",
    )?;
    let mut rows = stmt.query([rowid])?;
    let mut tags = BTreeSet::new();
    let mut latencies = Vec::new();
    while let Some(r) = rows.next()? {
        if let Some(user) = r.get::<_, Option<String>>(0)?
            && !s.user_ids.contains(&user)
        {
            s.user_ids.push(user);
        }
        tags.extend(
            serde_json::from_str::<Vec<String>>(&r.get::<_, String>(1)?).unwrap_or_default(),
        );
        for (k, v) in
            serde_json::from_str::<Map<String, Value>>(&r.get::<_, String>(2)?).unwrap_or_default()
        {
            s.metadata.entry(k).or_insert(v);
        }
        if s.first_input.is_none() {
            s.first_input = io_from(r.get(3)?, r.get(4)?, r.get(5)?);
        }
        if let Some(out) = io_from(r.get(6)?, r.get(7)?, r.get(8)?) {
            s.last_output = Some(out);
        }
        latencies.push(r.get::<_, i64>(9)? as f64 / 1e6);
    }
    latencies.sort_by(f64::total_cmp);
    s.latency_ms = Latency {
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    };
    s.tags = tags.into_iter().collect();
    s.annotations = annotations::summaries(tx, &s.project, &s.session_id)?;
    Ok(())
}

/// The columns [`trace_row`] reads, from `traces t`.
const TRACE_COLS: &str = "t.id, t.trace_id, t.session_id, t.session_conflicts, t.start_ns,
    t.end_ns, t.has_error, t.user_id, t.root_span_id, t.input_value, t.input_mime,
    (SELECT text FROM texts WHERE id = t.input_raw_text), t.output_value, t.output_mime,
    (SELECT text FROM texts WHERE id = t.output_raw_text), t.prompt_tokens, t.completion_tokens,
    t.total_tokens, t.cost_prompt, t.cost_completion, t.cost_total, t.span_count";

fn trace_row(r: &Row<'_>, project: &str) -> rusqlite::Result<(i64, TraceInfo)> {
    let start: i64 = r.get(4)?;
    let end: i64 = r.get(5)?;
    Ok((
        r.get(0)?,
        TraceInfo {
            trace_id: hex(&r.get::<_, Vec<u8>>(1)?),
            project: project.to_owned(),
            session_id: r.get(2)?,
            session_conflicts: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            latency_ms: (end - start) as f64 / 1e6,
            status: if r.get::<_, bool>(6)? { "error" } else { "ok" }.to_owned(),
            user_id: r.get(7)?,
            root_span_id: r.get::<_, Option<Vec<u8>>>(8)?.map(|b| hex(&b)),
            input: io_from(r.get(9)?, r.get(10)?, r.get(11)?),
            output: io_from(r.get(12)?, r.get(13)?, r.get(14)?),
            token_count: TokenCount {
                prompt: r.get(15)?,
                completion: r.get(16)?,
                total: r.get(17)?,
            },
            cost: Cost {
                prompt: r.get(18)?,
                completion: r.get(19)?,
                total: r.get(20)?,
            },
            span_count: r.get(21)?,
        },
    ))
}

fn session_lookup(
    tx: &Transaction<'_>,
    project: &str,
    session_id: &str,
) -> Result<(i64, SessionInfo), StoreError> {
    let pid = project_rowid(tx, project)?;
    tx.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions s WHERE s.project_id = ?1 AND s.session_id = ?2"
    ))?
    .query_row(params![pid, session_id], |r| session_row(r, project))
    .optional()?
    .ok_or(StoreError::NotFound("session"))
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn page_limit(page: &PageQuery) -> usize {
    page.limit.clamp(1, 10_000)
}

impl Store for SqliteStore {
    fn write(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError> {
        if spans.is_empty() {
            return Ok(WriteOutcome::default());
        }
        // Encoding runs on the caller's thread, concurrently, before the writer.
        let prepared = prepare(spans);
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction()?;
        let outcome = write_tx(&tx, &prepared)?;
        tx.commit()?;
        Ok(outcome)
    }

    fn projects(&self) -> Result<Vec<ProjectInfo>, StoreError> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT p.name,
                    (SELECT count(*) FROM traces t WHERE t.project_id = p.id),
                    (SELECT count(*) FROM sessions s WHERE s.project_id = p.id),
                    (SELECT max(t.end_ns) FROM traces t WHERE t.project_id = p.id)
                 FROM projects p ORDER BY p.name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(ProjectInfo {
                    name: r.get(0)?,
                    trace_count: r.get(1)?,
                    session_count: r.get(2)?,
                    last_activity: r.get::<_, Option<i64>>(3)?.map(rfc3339),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn sessions(&self, project: &str, q: &SessionQuery) -> Result<Page<SessionInfo>, StoreError> {
        let scope = format!(
            "sessions:{}:{}",
            q.sort.name(),
            if q.order == Order::Asc { "asc" } else { "desc" }
        );
        let cursor = q
            .page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, &scope))
            .transpose()?;
        let limit = page_limit(&q.page);
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let column = match q.sort {
                SessionSort::StartTime => "s.start_ns",
                SessionSort::EndTime => "s.end_ns",
                SessionSort::NumTraces => "s.num_traces",
                SessionSort::TotalTokens => "s.total_tokens",
                SessionSort::TotalCost => "s.cost_total",
                SessionSort::Duration => "s.duration_ns",
            };
            let mut sql = format!("SELECT {SESSION_COLS}, {column} FROM sessions s WHERE s.project_id = ?");
            let mut args: Vec<SqlValue> = vec![pid.into()];
            if let Some(start) = q.start_ns {
                sql.push_str(" AND s.end_ns >= ?");
                args.push(start.into());
            }
            if let Some(end) = q.end_ns {
                sql.push_str(" AND s.start_ns <= ?");
                args.push(end.into());
            }
            if let Some(user) = &q.user_id {
                sql.push_str(
                    " AND s.id IN (SELECT t.session_rowid FROM traces t
                        WHERE t.project_id = ? AND t.user_id = ?)",
                );
                args.push(pid.into());
                args.push(user.clone().into());
            }
            if let Some(tag) = &q.tag {
                sql.push_str(
                    " AND EXISTS (SELECT 1 FROM traces t, json_each(t.tags) j
                        WHERE t.session_rowid = s.id AND j.value = ?)",
                );
                args.push(tag.clone().into());
            }
            for (key, value) in &q.metadata {
                sql.push_str(
                    " AND EXISTS (SELECT 1 FROM traces t, json_each(t.metadata) j
                        WHERE t.session_rowid = s.id AND j.key = ?
                        AND CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                            ELSE CAST(j.value AS TEXT) END = ?)",
                );
                args.push(key.clone().into());
                args.push(value.clone().into());
            }
            match q.has_error {
                Some(true) => sql.push_str(" AND s.num_traces_with_error > 0"),
                Some(false) => sql.push_str(" AND s.num_traces_with_error = 0"),
                None => {}
            }
            if let Some(min) = q.min_traces {
                sql.push_str(" AND s.num_traces >= ?");
                args.push(min.into());
            }
            if let Some(text) = &q.q {
                sql.push_str(
                    " AND EXISTS (SELECT 1 FROM traces t WHERE t.session_rowid = s.id
                        AND (t.input_value LIKE ? ESCAPE '\\' OR t.output_value LIKE ? ESCAPE '\\'))",
                );
                let p = like_pattern(text);
                args.push(p.clone().into());
                args.push(p.into());
            }
            let (cmp, dir) = if q.order == Order::Asc { (">", "ASC") } else { ("<", "DESC") };
            if let Some(c) = &cursor {
                sql.push_str(&format!(" AND ({column}, s.id) {cmp} (?, ?)"));
                let v: SqlValue = if q.sort == SessionSort::TotalCost {
                    c.value.parse::<f64>().map_err(|_| StoreError::InvalidCursor)?.into()
                } else {
                    c.value.parse::<i64>().map_err(|_| StoreError::InvalidCursor)?.into()
                };
                args.push(v);
                args.push(c.id.into());
            }
            sql.push_str(&format!(" ORDER BY {column} {dir}, s.id {dir} LIMIT ?"));
            args.push((limit as i64 + 1).into());
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                let sort_value = match r.get_ref(12)? {
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    other => other.as_i64().map_err(rusqlite::Error::from)?.to_string(),
                };
                session_row(r, project).map(|(id, s)| (id, sort_value, s))
            })?;
            let mut rows: Vec<_> = rows.collect::<Result<_, _>>()?;
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|(id, value, _)| {
                    Cursor {
                        scope: scope.clone(),
                        value: value.clone(),
                        id: *id,
                    }
                    .encode()
                })
            } else {
                None
            };
            let data: Vec<(i64, SessionInfo)> = rows.into_iter().map(|(id, _, s)| (id, s)).collect();
            let mut out = Vec::with_capacity(data.len());
            for (id, mut s) in data {
                fill_session(tx, id, &mut s)?;
                out.push(s);
            }
            Ok(Page {
                data: out,
                next_cursor,
            })
        })
    }

    fn session(&self, project: &str, session_id: &str) -> Result<SessionInfo, StoreError> {
        self.read(|tx| {
            let (id, mut s) = session_lookup(tx, project, session_id)?;
            fill_session(tx, id, &mut s)?;
            Ok(s)
        })
    }

    fn turns(
        &self,
        project: &str,
        session_id: &str,
        page: &PageQuery,
    ) -> Result<Page<Turn>, StoreError> {
        let scope = "turns";
        let cursor = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, scope))
            .transpose()?;
        let limit = page_limit(page);
        self.read(|tx| {
            let (rowid, _) = session_lookup(tx, project, session_id)?;
            let mut sql = format!("SELECT {TRACE_COLS} FROM traces t WHERE t.session_rowid = ?");
            let mut args: Vec<SqlValue> = vec![rowid.into()];
            if let Some(c) = &cursor {
                sql.push_str(" AND (t.start_ns, t.id) > (?, ?)");
                args.push(
                    c.value
                        .parse::<i64>()
                        .map_err(|_| StoreError::InvalidCursor)?
                        .into(),
                );
                args.push(c.id.into());
            }
            sql.push_str(" ORDER BY t.start_ns, t.id LIMIT ?");
            args.push((limit as i64 + 1).into());
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                let start: i64 = r.get(4)?;
                trace_row(r, project).map(|(id, t)| (id, start, t))
            })?;
            let mut rows: Vec<_> = rows.collect::<Result<_, _>>()?;
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|(id, start, _)| {
                    Cursor {
                        scope: scope.to_owned(),
                        value: start.to_string(),
                        id: *id,
                    }
                    .encode()
                })
            } else {
                None
            };
            Ok(Page {
                data: rows
                    .into_iter()
                    .map(|(_, _, t)| Turn {
                        trace_id: t.trace_id,
                        start_time: t.start_time,
                        end_time: t.end_time,
                        latency_ms: t.latency_ms,
                        status: t.status,
                        user_id: t.user_id,
                        input: t.input,
                        output: t.output,
                        token_count: t.token_count,
                        cost: t.cost,
                        span_count: t.span_count,
                        session_conflicts: t.session_conflicts,
                    })
                    .collect(),
                next_cursor,
            })
        })
    }

    fn delete_session(&self, project: &str, session_id: &str) -> Result<(), StoreError> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction()?;
        let (rowid, _) = session_lookup(&tx, project, session_id)?;
        let pid = project_rowid(&tx, project)?;
        let span_rowids: Vec<i64> = tx
            .prepare(
                "SELECT id FROM spans WHERE project_id = ?1
                   AND trace_id IN (SELECT trace_id FROM traces WHERE session_rowid = ?2)",
            )?
            .query_map(params![pid, rowid], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // Release the spans' texts: a deleted conversation leaves no text behind
        // unless another span still uses it.
        let mut released: HashMap<i64, i64> = HashMap::new();
        for &span in &span_rowids {
            for id in span_text_refs(&tx, span)? {
                *released.entry(id).or_default() += 1;
            }
            tx.prepare_cached("DELETE FROM spans WHERE id = ?1")?
                .execute([span])?;
        }
        for (id, n) in released {
            tx.prepare_cached("UPDATE texts SET refs = refs - ?1 WHERE id = ?2")?
                .execute(params![n, id])?;
            tx.prepare_cached("DELETE FROM texts WHERE id = ?1 AND refs <= 0")?
                .execute([id])?;
        }
        tx.execute("DELETE FROM traces WHERE session_rowid = ?1", [rowid])?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", [rowid])?;
        annotations::delete_all(&tx, pid, session_id)?;
        tx.commit()?;
        Ok(())
    }

    fn traces(&self, project: &str, q: &TraceQuery) -> Result<Page<TraceInfo>, StoreError> {
        let scope = "traces";
        let cursor = q
            .page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, scope))
            .transpose()?;
        let limit = page_limit(&q.page);
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let mut sql = format!("SELECT {TRACE_COLS} FROM traces t WHERE t.project_id = ?");
            let mut args: Vec<SqlValue> = vec![pid.into()];
            if let Some(sid) = &q.session_id {
                sql.push_str(
                    " AND t.session_rowid = (SELECT id FROM sessions WHERE project_id = ? AND session_id = ?)",
                );
                args.push(pid.into());
                args.push(sid.clone().into());
            }
            if let Some(start) = q.start_ns {
                sql.push_str(" AND t.end_ns >= ?");
                args.push(start.into());
            }
            if let Some(end) = q.end_ns {
                sql.push_str(" AND t.start_ns <= ?");
                args.push(end.into());
            }
            if let Some(c) = &cursor {
                sql.push_str(" AND (t.start_ns, t.id) < (?, ?)");
                args.push(c.value.parse::<i64>().map_err(|_| StoreError::InvalidCursor)?.into());
                args.push(c.id.into());
            }
            sql.push_str(" ORDER BY t.start_ns DESC, t.id DESC LIMIT ?");
            args.push((limit as i64 + 1).into());
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                let start: i64 = r.get(4)?;
                trace_row(r, project).map(|(id, t)| (id, start, t))
            })?;
            let mut rows: Vec<_> = rows.collect::<Result<_, _>>()?;
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|(id, start, _)| {
                    Cursor {
                        scope: scope.to_owned(),
                        value: start.to_string(),
                        id: *id,
                    }
                    .encode()
                })
            } else {
                None
            };
            Ok(Page {
                data: rows.into_iter().map(|(_, _, t)| t).collect(),
                next_cursor,
            })
        })
    }

    fn trace(&self, project: &str, trace_id: &[u8; 16]) -> Result<TraceDetail, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let (_, trace) = tx
                .prepare_cached(&format!(
                    "SELECT {TRACE_COLS} FROM traces t WHERE t.project_id = ?1 AND t.trace_id = ?2"
                ))?
                .query_row(params![pid, &trace_id[..]], |r| trace_row(r, project))
                .optional()?
                .ok_or(StoreError::NotFound("trace"))?;
            let mut stmt = tx.prepare_cached(
                "SELECT span_id, parent_span_id, name, kind, status_code, status_message,
                        start_ns, end_ns, body, text_refs
                 FROM spans WHERE trace_id = ?1 AND project_id = ?2 ORDER BY start_ns, span_id",
            )?;
            let rows = stmt
                .query_map(params![&trace_id[..], pid], |r| {
                    let span = SpanInfo {
                        span_id: hex(&r.get::<_, Vec<u8>>(0)?),
                        parent_span_id: r.get::<_, Option<Vec<u8>>>(1)?.map(|p| hex(&p)),
                        name: r.get(2)?,
                        kind: r.get(3)?,
                        status: status_name(r.get(4)?).to_owned(),
                        status_message: r.get(5)?,
                        start_time: rfc3339(r.get(6)?),
                        end_time: rfc3339(r.get(7)?),
                        attributes: Map::new(),
                        events: Vec::new(),
                    };
                    Ok((span, r.get::<_, Vec<u8>>(8)?, r.get::<_, Vec<u8>>(9)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut spans = Vec::with_capacity(rows.len());
            for (mut span, body, refs) in rows {
                (span.attributes, span.events) = decode_body(tx, &body, &refs)?;
                spans.push(span);
            }
            Ok(TraceDetail { trace, spans })
        })
    }

    fn upsert_annotations(
        &self,
        project: &str,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<Annotation>, StoreError> {
        self.upsert_annotations_impl(project, annotations)
    }

    fn annotations(&self, project: &str, session_id: &str) -> Result<Vec<Annotation>, StoreError> {
        self.annotations_impl(project, session_id)
    }

    fn delete_annotation(
        &self,
        project: &str,
        session_id: &str,
        id: i64,
    ) -> Result<(), StoreError> {
        self.delete_annotation_impl(project, session_id, id)
    }

    fn health(&self) -> Result<(), StoreError> {
        self.read(|tx| {
            tx.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
    }
}
