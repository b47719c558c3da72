//! The PostgreSQL backend, for a team that outgrows one machine: the same
//! schema shape as SQLite (spans with their ingest facts in columns; traces and
//! sessions as materialized rows that every write re-derives for what it
//! touched), over the blocking `postgres` client with a small pool. What this
//! file holds is PostgreSQL's own: connections, its dialect, the conversion of
//! values and rows, and (in [`spans`]) its write path with the locks that let
//! several servers write at once; the queries are shared
//! ([`super::queries`]).
//!
//! The `postgres` client drives its own small runtime: it must not be called
//! from an async task (the server calls the store from `spawn_blocking`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};
use serde_json::Value;

use super::compression::{self, Dictionaries, DictionaryCheck};
use super::evaluations::Lifecycle;
use super::queue;
use super::sql::{Args, Dialect, Side, SqlBackend, SqlRow, SqlTx, SqlValue, TraceIo};
use super::{IntegrityCheck, StoreError, WriteOutcome};
use crate::model::{EventRecord, SpanRecord};

mod schema;
mod spans;
mod write_gate;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        let conflict = e.code().is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                // A session deleted by a concurrent writer after this one looked it up.
                || *c == SqlState::FOREIGN_KEY_VIOLATION
        });
        // Class 53 (insufficient resources: disk full, out of memory, too many
        // connections), 08 (connection exceptions), 57P (the server shutting
        // down), or the connection broken: a retry may succeed.
        let transient = e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
            || e.code().is_some_and(|c| {
                let code = c.code();
                code.starts_with("53") || code.starts_with("08") || code.starts_with("57P")
            });
        if conflict {
            StoreError::Conflict(e.to_string())
        } else if transient {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Backend(e.to_string())
        }
    }
}

/// Most idle connections kept.
const MAX_IDLE: usize = 8;
/// Attempts of a write transaction that other writers got in the way of.
const MAX_ATTEMPTS: u32 = 8;
/// Most statements a connection keeps prepared; past it, it starts afresh
/// (the shared queries build some SQL from a request's filters).
const MAX_STATEMENTS: usize = 256;

/// A connection and the statements it prepared, by SQL text: a statement
/// sent as text is parsed, analyzed and planned again every time, and costs
/// a round trip more (issue 14, fifth step).
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Turns PostgreSQL's JIT off for the connection (PostgreSQL 11 and later
/// have one). It compiles any plan estimated above `jit_above_cost`, and the
/// estimates of short queries over large tables pass it: the project list
/// at 100,000 traces took 220 ms, 141 of them in LLVM. The server's queries
/// run in milliseconds; compiling never pays.
const JIT_OFF: &str = "SELECT set_config('jit', 'off', false) WHERE EXISTS (SELECT 1 FROM pg_settings WHERE name = 'jit')";

/// A PostgreSQL database.
pub struct PostgresStore {
    config: postgres::Config,
    /// Schema every connection works in (`search_path`), when not the default.
    schema: Option<String>,
    idle: Mutex<Vec<Conn>>,
    /// Write transactions at once ([`write_gate`]).
    writes: write_gate::WriteGate,
    lifecycle: Lifecycle,
    /// Small span writes waiting to be written together ([`queue`]).
    queued: Mutex<queue::Queue<()>>,
    /// The zstd dictionaries span bodies may name, and the training of the
    /// next from what this server compresses ([`compression`]).
    dictionaries: Arc<Dictionaries>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &describe(&self.config))
            .finish_non_exhaustive()
    }
}

/// Damaged dictionaries, and span bodies naming a dictionary the database
/// does not hold, as `check` reports them. The bodies' headers (a zstd
/// frame's is at most 18 bytes) are read through a portal, a batch at a
/// time: memory stays bounded however many spans there are.
fn check_dictionaries(client: &mut Client) -> Result<Vec<String>, StoreError> {
    const BATCH: i32 = 10_000;
    let mut tx = client.build_transaction().read_only(true).start()?;
    let mut check = DictionaryCheck::read(&mut PgTx {
        tx: &mut tx,
        statements: &mut HashMap::new(),
        dictionaries: Dictionaries::none(),
    })?;
    let headers = tx.bind("SELECT id, substring(body FROM 1 FOR 18) FROM spans", &[])?;
    loop {
        let rows = tx.query_portal(&headers, BATCH)?;
        for row in &rows {
            check.see(row.get(0), row.get(1));
        }
        if rows.len() < BATCH as usize {
            break;
        }
    }
    tx.commit()?;
    check.end_table("spans");
    Ok(check.problems)
}

/// `host:port/dbname` of a configuration, never the password: for logs.
pub fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    format!("{host}:{port}/{db}")
}

/// Parses a `postgres://` URL (or key=value string); the error never repeats
/// the input, which holds the password.
pub fn parse_url(url: &str) -> Result<postgres::Config, StoreError> {
    url.parse::<postgres::Config>()
        .map_err(|_| StoreError::Backend("invalid database url".to_owned()))
}

fn poisoned() -> StoreError {
    StoreError::Backend("connection pool lock poisoned".to_owned())
}

impl PostgresStore {
    /// Connects to the database at `url` and applies missing migrations.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::with_config(parse_url(url)?, None)
    }

    /// Checks the database without changing it: the schema's version and
    /// tables, and rows whose project or session is gone (PostgreSQL keeps
    /// its pages' integrity itself).
    pub fn check(url: &str) -> Result<IntegrityCheck, StoreError> {
        let config = parse_url(url)?;
        let mut client = config.connect(NoTls).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot connect to postgresql at {}: {e}",
                describe(&config)
            ))
        })?;
        let mut problems = Vec::new();
        let version: Option<i32> = client
            .query_opt("SELECT version FROM schema_version", &[])
            .ok()
            .flatten()
            .map(|r| r.get(0));
        match version.and_then(|v| usize::try_from(v).ok()) {
            None => problems.push("no schema_version: not an oi-sessions database".to_owned()),
            Some(v) if v > schema::MIGRATIONS.len() => problems.push(format!(
                "schema version {v} is newer than this server ({})",
                schema::MIGRATIONS.len()
            )),
            Some(_) => {}
        }
        let present: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema()",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing: Vec<&str> = schema::TABLES
            .iter()
            .filter(|t| !present.iter().any(|p| p == *t))
            .copied()
            .collect();
        if !missing.is_empty() {
            problems.push(format!("the tables {} are missing", missing.join(", ")));
        } else if version.is_some() {
            for (what, count) in schema::UNREFERENCED {
                let n: i64 = client.query_one(*count, &[])?.get(0);
                if n > 0 {
                    problems.push(format!("{n} {what}"));
                }
            }
            if version
                .is_some_and(|v| usize::try_from(v).is_ok_and(|v| v == schema::MIGRATIONS.len()))
            {
                problems.extend(check_dictionaries(&mut client)?);
            }
        }
        Ok(IntegrityCheck {
            checked_at: crate::model::rfc3339(super::queries::now_ns()),
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                "ok".to_owned()
            } else {
                problems.join("; ")
            },
        })
    }

    /// Like [`PostgresStore::open`], in schema `schema` (created if missing):
    /// several stores share one database (the tests give each its own).
    pub fn open_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        if schema.is_empty()
            || schema.len() > 63
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Backend(
                "schema name must be 1 to 63 of [a-z0-9_]".to_owned(),
            ));
        }
        Self::with_config(parse_url(url)?, Some(schema.to_owned()))
    }

    fn with_config(
        mut config: postgres::Config,
        schema: Option<String>,
    ) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("oi-sessions");
        let store = Self {
            config,
            schema,
            idle: Mutex::new(Vec::new()),
            writes: write_gate::WriteGate::new(write_gate::MAX_CONCURRENT_WRITES),
            lifecycle: Lifecycle::default(),
            queued: Mutex::default(),
            dictionaries: Arc::new(Dictionaries::training()),
        };
        let mut conn = store.connect()?;
        if let Some(schema) = &store.schema {
            conn.client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
        }
        schema::migrate(&mut conn.client)?;
        store.give_back(conn);
        store.read(|tx| compression::load_dictionaries(tx, &store.dictionaries))?;
        Ok(store)
    }

    /// Waits for a compression dictionary's training under way, if any, to
    /// end (tests); whether one was. The next write stores what it trained.
    pub fn finish_compression_training(&self) -> bool {
        self.dictionaries.finish_training()
    }

    /// Writes encoded spans in one transaction ([`spans::write_batch`]), run
    /// again from the start on a conflict (a span met stored is one: the
    /// next run skips the stored ones), then stores a dictionary trained
    /// meanwhile. Returns whether each span was stored.
    fn write_prepared(&self, prepared: &[spans::Prepared<'_>]) -> Result<Vec<bool>, StoreError> {
        let mut some_stored_before = false;
        let stored =
            self.write_tx(|tx| spans::write_batch(tx, prepared, &mut some_stored_before))?;
        self.store_trained_dictionary();
        Ok(stored)
    }

    /// Stores the dictionary trained since the last write, if one was, then
    /// compresses new bodies with it. Another server may store one at the
    /// same time: the table's lock gives each its own id. A failure costs
    /// only the dictionary (the next training offers another).
    fn store_trained_dictionary(&self) {
        let Some(trained) = self.dictionaries.take_trained() else {
            return;
        };
        let stored = self.write_tx(|tx| {
            tx.pg_execute(
                "LOCK TABLE compression_dictionaries IN SHARE ROW EXCLUSIVE MODE",
                &[],
            )?;
            compression::store_dictionary(tx, trained.clone())
        });
        match stored {
            Ok((id, bytes)) => self.dictionaries.adopt(id, bytes),
            Err(e) => tracing::warn!("a compression dictionary not stored: {e}"),
        }
    }

    /// A new connection, set up for the server (its schema, no JIT).
    fn connect(&self) -> Result<Conn, StoreError> {
        let mut client = self.config.connect(NoTls).map_err(|e| {
            let detail = format!(
                "cannot connect to postgresql at {}: {e}",
                describe(&self.config)
            );
            // A wrong password or database is the operator's to fix; a server
            // that does not answer may come back.
            match StoreError::from(e) {
                StoreError::Unavailable(_) => StoreError::Unavailable(detail),
                _ => StoreError::Backend(detail),
            }
        })?;
        let settings = match &self.schema {
            Some(schema) => format!("SET search_path TO \"{schema}\"; {JIT_OFF}"),
            None => JIT_OFF.to_owned(),
        };
        client.batch_execute(&settings)?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn client(&self) -> Result<Conn, StoreError> {
        loop {
            let idle = self.idle.lock().map_err(|_| poisoned())?.pop();
            match idle {
                Some(c) if !c.client.is_closed() => return Ok(c),
                // A connection the server closed (restart, idle timeout): drop it.
                Some(_) => continue,
                None => return self.connect(),
            }
        }
    }

    fn give_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    /// Runs `f` in one read-write transaction, committed before returning,
    /// once the store's write gate admits it; run again from the start when
    /// another writer got in the way.
    fn write_tx<T>(
        &self,
        mut f: impl FnMut(&mut PgTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let admitted = self.writes.enter();
            let mut conn = self.client()?;
            let result = (|| {
                let mut tx = conn.client.transaction()?;
                let value = f(&mut PgTx {
                    tx: &mut tx,
                    statements: &mut conn.statements,
                    dictionaries: &self.dictionaries,
                })?;
                tx.commit()?;
                Ok::<_, StoreError>(value)
            })();
            self.give_back(conn);
            // The pause before another attempt is not spent holding a place.
            drop(admitted);
            match result {
                Err(StoreError::Conflict(why)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, why, "write conflict, retrying");
                    std::thread::sleep(Duration::from_millis(2 << attempt));
                }
                other => return other,
            }
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing a client blocks on its own runtime, which panics inside
        // another runtime: when dropped from async code, close them on a thread.
        let clients = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(clients)).join();
        } else {
            drop(clients);
        }
    }
}

/// PostgreSQL text cannot hold NUL: it becomes U+FFFD in columns (the span's
/// body keeps the exact value, escaped in its JSON).
pub(super) fn clean(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

pub(super) fn clean_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(|s| clean(s).into_owned())
}

/// Whether [`clean_json`] would change anything in a JSON value.
pub(super) fn json_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(json_has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// [`clean`] over a JSON value, keys included (for `jsonb` columns).
pub(super) fn clean_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clean(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(clean_json).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (clean(k).into_owned(), clean_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// PostgreSQL's side of the shared queries.
struct Postgres;

impl Dialect for Postgres {
    fn in_ints(&self, param: &str) -> String {
        format!("= ANY({param}::int8[])")
    }

    fn in_texts(&self, param: &str) -> String {
        format!("= ANY({param}::text[])")
    }

    fn trace_tags(&self) -> &'static str {
        "traces t CROSS JOIN LATERAL (SELECT e.v #>> '{}' AS value
           FROM jsonb_array_elements(CASE jsonb_typeof(t.tags) WHEN 'array' THEN t.tags
             ELSE '[]'::jsonb END) AS e(v)
           WHERE jsonb_typeof(e.v) = 'string') j"
    }

    fn trace_metadata(&self) -> &'static str {
        "traces t CROSS JOIN LATERAL jsonb_each_text(CASE jsonb_typeof(t.metadata)
           WHEN 'object' THEN t.metadata ELSE '{}'::jsonb END) j"
    }

    fn metadata_text(&self) -> &'static str {
        "j.value"
    }

    fn saturating_sum(&self, column: &str) -> String {
        // `sum(bigint)` is an exact numeric; clamp it before the cast.
        format!("LEAST(sum({column}), 9223372036854775807)::bigint")
    }

    fn saturating_add(&self, a: &str, b: &str) -> String {
        format!("LEAST({a}::numeric + {b}, 9223372036854775807)::bigint")
    }

    fn trace_io(&self, side: Side) -> TraceIo {
        match side {
            Side::Input => TraceIo {
                value: "t.input_value",
                present: "(t.input_value IS NOT NULL)",
                mime: "t.input_mime",
                raw: "t.input_raw",
            },
            Side::Output => TraceIo {
                value: "t.output_value",
                present: "(t.output_value IS NOT NULL)",
                mime: "t.output_mime",
                raw: "t.output_raw",
            },
        }
    }

    fn skip_locked(&self) -> &'static str {
        "FOR UPDATE SKIP LOCKED"
    }

    fn search_index(&self, trigrams: &[i32], args: &mut Args) -> Option<String> {
        // `traces_search_trigrams` (GIN) answers `@>`.
        let list = args.add(SqlValue::IntList(
            trigrams.iter().map(|&t| t.into()).collect(),
        ));
        Some(format!("t.search_trigrams @> {list}::int8[]::int4[]"))
    }
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            SqlValue::Int(v) => v.to_sql(ty, out),
            SqlValue::Real(v) => v.to_sql(ty, out),
            SqlValue::Text(v) => clean(v).as_ref().to_sql(ty, out),
            SqlValue::Blob(v) => v.as_slice().to_sql(ty, out),
            SqlValue::Bool(v) => v.to_sql(ty, out),
            SqlValue::Json(v) => clean_json(v).to_sql(ty, out),
            SqlValue::IntList(v) => v.to_sql(ty, out),
            SqlValue::TextList(v) => v
                .iter()
                .map(|s| clean(s).into_owned())
                .collect::<Vec<_>>()
                .to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        self.to_sql(ty, out)
    }
}

/// A driver row as a [`SqlRow`], by column type.
fn pg_row(r: &Row) -> Result<SqlRow, StoreError> {
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let ty = column.type_();
        let value = match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(SqlValue::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map(|v| SqlValue::Int(v.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)?
                .map(|v| SqlValue::Int(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(SqlValue::Real),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)?
                .map(|v| SqlValue::Real(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(SqlValue::Bool),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(SqlValue::Blob),
            Type::JSON | Type::JSONB => r.try_get::<_, Option<Value>>(i)?.map(SqlValue::Json),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                r.try_get::<_, Option<String>>(i)?.map(SqlValue::Text)
            }
            _ => {
                return Err(StoreError::Backend(format!(
                    "column {} has unsupported type {ty}",
                    column.name()
                )));
            }
        };
        values.push(value.unwrap_or(SqlValue::Null));
    }
    Ok(SqlRow(values))
}

/// A transaction, as [`SqlTx`], with its connection's prepared statements.
pub(crate) struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    statements: &'a mut HashMap<String, Statement>,
    /// The store's dictionaries, which span bodies read back may name.
    dictionaries: &'a Arc<Dictionaries>,
}

impl PgTx<'_, '_> {
    /// The statement for `sql`, prepared on this connection once.
    fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs a query through its prepared statement.
    pub(super) fn pg_query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.query(&statement, params)
    }

    /// Runs a statement through its prepared statement; the rows it changed.
    pub(super) fn pg_execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.execute(&statement, params)
    }
}

fn params(args: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl SqlTx for PgTx<'_, '_> {
    fn dialect(&self) -> &'static dyn Dialect {
        &Postgres
    }

    fn query(&mut self, sql: &str, args: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError> {
        self.pg_query(sql, &params(args))?
            .iter()
            .map(pg_row)
            .collect()
    }

    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64, StoreError> {
        Ok(self.pg_execute(sql, &params(args))?)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.tx.batch_execute(sql)?)
    }

    fn dictionaries(&self) -> &Arc<Dictionaries> {
        self.dictionaries
    }
}

impl SqlBackend for PostgresStore {
    type Spans = spans::Spans;

    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.client()?;
        let result = (|| {
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let value = f(&mut PgTx {
                tx: &mut tx,
                statements: &mut conn.statements,
                dictionaries: &self.dictionaries,
            })?;
            tx.commit()?;
            Ok(value)
        })();
        self.give_back(conn);
        result
    }

    fn write<T>(
        &self,
        mut f: impl FnMut(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_tx(|tx| f(tx))
    }

    fn write_logged_events(&self, events: &[EventRecord]) -> Result<WriteOutcome, StoreError> {
        self.write_tx(|tx| spans::write_events(tx, events))
    }

    fn write_spans(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError> {
        if spans.len() <= queue::QUEUED_MAX_SPANS
            && let Some(outcome) = self.write_queued(spans)?
        {
            return Ok(outcome);
        }
        // Encoding runs on the caller's thread, before a connection is taken.
        let prepared = spans::prepare(spans, &self.dictionaries);
        let stored = self.write_prepared(&prepared)?;
        Ok(WriteOutcome::counted(&stored))
    }
}

impl PostgresStore {
    /// Queues a small request's spans and waits until they are written,
    /// with the others queued meanwhile, by the thread draining the queue
    /// (this one, if none was), and committed: `None` if their write failed
    /// (the request then writes again on its own). Small writes of the same
    /// sessions would otherwise wait on each other's trace and session locks
    /// through every commit, one at a time.
    fn write_queued(&self, spans: &[SpanRecord]) -> Result<Option<WriteOutcome>, StoreError> {
        // The drainer answers every request it took, even if it panics.
        let written = queue::write_queued(&self.queued, spans, || self.drain_queue(), || None)?;
        Ok(written.map(|(outcome, ())| outcome))
    }

    /// Drains the queue of small requests ([`queue::drain`]), each time
    /// what is queued in one transaction.
    fn drain_queue(&self) -> Result<(), StoreError> {
        queue::drain(
            &self.queued,
            |all| {
                let prepared = spans::prepare(all, &self.dictionaries);
                let stored = self.write_prepared(&prepared).ok()?;
                Some((stored, ()))
            },
            // Its writers are many: nothing waits for this one.
            || false,
        )
    }
}
