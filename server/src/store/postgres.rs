//! The PostgreSQL backend, for a team that outgrows one machine: the same
//! schema shape as SQLite (spans with their ingest facts in columns; traces and
//! sessions as materialized rows that every write re-derives for what it
//! touched), over the blocking `postgres` client with a small pool.
//!
//! Unlike SQLite, several servers may write at once, so a write locks what it
//! re-derives: an advisory lock per touched trace (taken in key order, so
//! writers never wait on each other in a cycle) before the trace's spans are
//! read back, and the touched session rows (`FOR UPDATE`, in id order) before
//! their aggregates are recomputed. Whoever commits last has seen every span.
//! A deadlock or a session deleted underneath is retried as a whole.
//!
//! The `postgres` client drives its own small runtime: it must not be called
//! from an async task (the server calls the store from `spawn_blocking`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Transaction};
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
mod schema;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// Why a transaction failed: retried as a whole, or given up.
enum Fail {
    /// Another writer got in the way (deadlock, a row deleted underneath).
    Retry,
    /// Anything else.
    Store(StoreError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        let retry = e.code().is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                // A session deleted by a concurrent writer after this one looked it up.
                || *c == SqlState::FOREIGN_KEY_VIOLATION
        });
        if retry {
            Fail::Retry
        } else {
            Fail::Store(e.into())
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// Most idle connections kept.
const MAX_IDLE: usize = 8;
/// Attempts of a write transaction that other writers got in the way of.
const MAX_ATTEMPTS: u32 = 8;

/// A PostgreSQL database.
pub struct PostgresStore {
    config: postgres::Config,
    /// Schema every connection works in (`search_path`), when not the default.
    schema: Option<String>,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &describe(&self.config))
            .finish_non_exhaustive()
    }
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
        };
        let mut client = store.connect()?;
        if let Some(schema) = &store.schema {
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
        }
        schema::migrate(&mut client)?;
        store.give_back(client);
        Ok(store)
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let mut client = self.config.connect(NoTls).map_err(|e| {
            StoreError::Backend(format!(
                "cannot connect to postgresql at {}: {e}",
                describe(&self.config)
            ))
        })?;
        if let Some(schema) = &self.schema {
            client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
        }
        Ok(client)
    }

    fn client(&self) -> Result<Client, StoreError> {
        loop {
            let idle = self.idle.lock().map_err(|_| poisoned())?.pop();
            match idle {
                Some(c) if !c.is_closed() => return Ok(c),
                // A connection the server closed (restart, idle timeout): drop it.
                Some(_) => continue,
                None => return self.connect(),
            }
        }
    }

    fn give_back(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(client);
        }
    }

    /// Runs `f` in one read-only snapshot: every query of a response sees the
    /// same data.
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client()?;
        let result = (|| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let value = f(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })();
        self.give_back(client);
        result
    }

    /// Runs `f` in one read-write transaction, committed before returning;
    /// retried from the start when another writer got in the way.
    fn write_tx<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = self.client()?;
            let result = (|| {
                let mut tx = client.transaction()?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok::<_, Fail>(value)
            })();
            self.give_back(client);
            match result {
                Ok(v) => return Ok(v),
                Err(Fail::Store(e)) => return Err(e),
                Err(Fail::Retry) if attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(2 << attempt));
                }
                Err(Fail::Retry) => {
                    return Err(StoreError::Backend(
                        "write kept conflicting with concurrent writers".to_owned(),
                    ));
                }
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
fn clean(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn clean_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(|s| clean(s).into_owned())
}

/// [`clean`] over a JSON value, keys included (for `jsonb` columns).
fn clean_json(v: &Value) -> Value {
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

fn clean_facts(f: &SpanFacts) -> SpanFacts {
    SpanFacts {
        session_id: clean_opt(&f.session_id),
        user_id: clean_opt(&f.user_id),
        oi_kind: clean_opt(&f.oi_kind),
        input_value: clean_opt(&f.input_value),
        input_mime: clean_opt(&f.input_mime),
        output_value: clean_opt(&f.output_value),
        output_mime: clean_opt(&f.output_mime),
        llm_last_user: clean_opt(&f.llm_last_user),
        llm_reply: clean_opt(&f.llm_reply),
        tags: f.tags.iter().map(|t| clean(t).into_owned()).collect(),
        metadata: match clean_json(&Value::Object(f.metadata.clone())) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        ..f.clone()
    }
}

/// A span's attributes and events as stored: deflated JSON (exact values,
/// NUL included; the fast level costs little next to the round trips).
#[derive(serde::Serialize, serde::Deserialize)]
struct Body {
    /// Attributes.
    a: Map<String, Value>,
    /// Events.
    e: Vec<Value>,
}

fn encode_body(record: &SpanRecord) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct BodyRef<'a> {
        a: &'a Map<String, Value>,
        e: &'a [Value],
    }
    let json = serde_json::to_vec(&BodyRef {
        a: &record.attributes,
        e: &record.events,
    })
    .unwrap_or_default();
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(json.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut enc, &json);
    enc.finish().unwrap_or_default()
}

fn decode_body(blob: &[u8]) -> Result<Body, StoreError> {
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(blob), &mut json)
        .map_err(|e| StoreError::Backend(format!("corrupt span body: {e}")))?;
    serde_json::from_slice(&json)
        .map_err(|e| StoreError::Backend(format!("corrupt span body: {e}")))
}

/// A span ready for the database, encoded before any connection is taken.
struct Prepared<'a> {
    record: &'a SpanRecord,
    facts: SpanFacts,
    body: Vec<u8>,
}

/// The advisory lock key of a trace; a collision only serializes two writers.
fn trace_lock_key(project_id: i64, trace_id: &[u8; 16]) -> i64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&trace_id[..8]);
    let mut second = [0u8; 8];
    second.copy_from_slice(&trace_id[8..]);
    (i64::from_le_bytes(first) ^ i64::from_le_bytes(second))
        ^ project_id.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as i64)
}

fn id16(v: &[u8]) -> [u8; 16] {
    <[u8; 16]>::try_from(v).unwrap_or_default()
}

fn id8(v: Option<&[u8]>) -> Option<[u8; 8]> {
    v.and_then(|v| <[u8; 8]>::try_from(v).ok())
}

const FACT_COLS: &str = "span_id, parent_span_id, start_ns, end_ns, status_code, session_id,
    user_id, oi_kind, is_llm, input_value, input_mime, output_value, output_mime, last_user, reply,
    prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion, cost_total,
    tags, metadata";

fn facts_row(r: &Row, at: usize) -> SpanFacts {
    let tags: Value = r.get(at + 21);
    let metadata: Value = r.get(at + 22);
    SpanFacts {
        span_id: id8(Some(r.get::<_, &[u8]>(at))).unwrap_or_default(),
        parent_span_id: id8(r.get::<_, Option<&[u8]>>(at + 1)),
        start_ns: r.get(at + 2),
        end_ns: r.get(at + 3),
        status_code: r.get(at + 4),
        session_id: r.get(at + 5),
        user_id: r.get(at + 6),
        oi_kind: r.get(at + 7),
        is_llm: r.get(at + 8),
        input_value: r.get(at + 9),
        input_mime: r.get(at + 10),
        output_value: r.get(at + 11),
        output_mime: r.get(at + 12),
        llm_last_user: r.get(at + 13),
        llm_reply: r.get(at + 14),
        tokens: TokenCount {
            prompt: r.get(at + 15),
            completion: r.get(at + 16),
            total: r.get(at + 17),
        },
        cost: Cost {
            prompt: r.get(at + 18),
            completion: r.get(at + 19),
            total: r.get(at + 20),
        },
        tags: serde_json::from_value(tags).unwrap_or_default(),
        metadata: serde_json::from_value(metadata).unwrap_or_default(),
    }
}

/// Ids of the named projects, created as needed (in name order, so concurrent
/// writers creating the same projects wait on each other in one order).
fn project_ids(
    tx: &mut Transaction<'_>,
    names: &BTreeSet<String>,
) -> Result<HashMap<String, i64>, postgres::Error> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    tx.execute(
        "INSERT INTO projects (name) SELECT n FROM unnest($1::text[]) AS n ORDER BY n
         ON CONFLICT (name) DO NOTHING",
        &[&names],
    )?;
    Ok(tx
        .query(
            "SELECT name, id FROM projects WHERE name = ANY($1::text[])",
            &[&names],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

fn write_spans(tx: &mut Transaction<'_>, spans: &[Prepared<'_>]) -> Result<WriteOutcome, Fail> {
    let mut outcome = WriteOutcome::default();
    // Sorted by (trace id, span id), the batch's repeats dropped: concurrent
    // writers of overlapping batches then wait on each other in one order.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].record.trace_id, spans[i].record.span_id, i));
    order.dedup_by_key(|i| (spans[*i].record.trace_id, spans[*i].record.span_id));
    outcome.duplicates = spans.len() - order.len();
    let names: BTreeSet<String> = order
        .iter()
        .map(|&i| clean(&spans[i].record.project).into_owned())
        .collect();
    let projects = project_ids(tx, &names)?;
    let pid_of = |p: &Prepared<'_>| -> Result<i64, Fail> {
        projects
            .get(clean(&p.record.project).as_ref())
            .copied()
            .ok_or_else(|| Fail::Store(StoreError::Backend("project row missing".to_owned())))
    };

    // Columns as arrays: the whole batch is one INSERT ... SELECT FROM unnest.
    let n = order.len();
    let mut c_trace: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_span: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_pid: Vec<i64> = Vec::with_capacity(n);
    let mut c_parent: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    let mut c_name: Vec<String> = Vec::with_capacity(n);
    let mut c_kind: Vec<String> = Vec::with_capacity(n);
    let mut c_status: Vec<i32> = Vec::with_capacity(n);
    let mut c_message: Vec<String> = Vec::with_capacity(n);
    let mut c_start: Vec<i64> = Vec::with_capacity(n);
    let mut c_end: Vec<i64> = Vec::with_capacity(n);
    let mut c_session: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_user: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_oi_kind: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_is_llm: Vec<bool> = Vec::with_capacity(n);
    let mut c_in: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_in_mime: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_out: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_out_mime: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_last_user: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_reply: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_tok: [Vec<i64>; 3] = Default::default();
    let mut c_cost: [Vec<f64>; 3] = Default::default();
    let mut c_tags: Vec<Value> = Vec::with_capacity(n);
    let mut c_meta: Vec<Value> = Vec::with_capacity(n);
    let mut c_body: Vec<&[u8]> = Vec::with_capacity(n);
    for &i in &order {
        let p = &spans[i];
        let (s, f) = (p.record, &p.facts);
        c_trace.push(&s.trace_id);
        c_span.push(&s.span_id);
        c_pid.push(pid_of(p)?);
        c_parent.push(s.parent_span_id.as_ref().map(|p| &p[..]));
        c_name.push(clean(&s.name).into_owned());
        c_kind.push(clean(&s.kind).into_owned());
        c_status.push(s.status_code);
        c_message.push(clean(&s.status_message).into_owned());
        c_start.push(s.start_ns);
        c_end.push(s.end_ns);
        c_session.push(f.session_id.as_deref());
        c_user.push(f.user_id.as_deref());
        c_oi_kind.push(f.oi_kind.as_deref());
        c_is_llm.push(f.is_llm);
        c_in.push(f.input_value.as_deref());
        c_in_mime.push(f.input_mime.as_deref());
        c_out.push(f.output_value.as_deref());
        c_out_mime.push(f.output_mime.as_deref());
        c_last_user.push(f.llm_last_user.as_deref());
        c_reply.push(f.llm_reply.as_deref());
        c_tok[0].push(f.tokens.prompt);
        c_tok[1].push(f.tokens.completion);
        c_tok[2].push(f.tokens.total);
        c_cost[0].push(f.cost.prompt);
        c_cost[1].push(f.cost.completion);
        c_cost[2].push(f.cost.total);
        c_tags.push(serde_json::to_value(&f.tags).unwrap_or(Value::Null));
        c_meta.push(Value::Object(f.metadata.clone()));
        c_body.push(&p.body);
    }
    let inserted = tx.query(
        "INSERT INTO spans (trace_id, span_id, project_id, parent_span_id, name, kind,
            status_code, status_message, start_ns, end_ns, session_id, user_id, oi_kind, is_llm,
            input_value, input_mime, output_value, output_mime, last_user, reply,
            prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion,
            cost_total, tags, metadata, body)
         SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $4::bytea[], $5::text[],
            $6::text[], $7::int4[], $8::text[], $9::int8[], $10::int8[], $11::text[], $12::text[],
            $13::text[], $14::bool[], $15::text[], $16::text[], $17::text[], $18::text[],
            $19::text[], $20::text[], $21::int8[], $22::int8[], $23::int8[], $24::float8[],
            $25::float8[], $26::float8[], $27::jsonb[], $28::jsonb[], $29::bytea[])
         ON CONFLICT (trace_id, span_id) DO NOTHING
         RETURNING trace_id, span_id",
        &[
            &c_trace,
            &c_span,
            &c_pid,
            &c_parent,
            &c_name,
            &c_kind,
            &c_status,
            &c_message,
            &c_start,
            &c_end,
            &c_session,
            &c_user,
            &c_oi_kind,
            &c_is_llm,
            &c_in,
            &c_in_mime,
            &c_out,
            &c_out_mime,
            &c_last_user,
            &c_reply,
            &c_tok[0],
            &c_tok[1],
            &c_tok[2],
            &c_cost[0],
            &c_cost[1],
            &c_cost[2],
            &c_tags,
            &c_meta,
            &c_body,
        ],
    )?;
    let inserted: HashSet<([u8; 16], [u8; 8])> = inserted
        .iter()
        .map(|r| {
            (
                id16(r.get(0)),
                id8(Some(r.get::<_, &[u8]>(1))).unwrap_or_default(),
            )
        })
        .collect();
    outcome.inserted = inserted.len();
    outcome.duplicates += n - inserted.len();
    if inserted.is_empty() {
        return Ok(outcome);
    }

    // Traces this batch added spans to, with the facts of the spans added.
    let mut touched: BTreeMap<(i64, [u8; 16]), Vec<SpanFacts>> = BTreeMap::new();
    for &i in &order {
        let p = &spans[i];
        if inserted.contains(&(p.record.trace_id, p.record.span_id)) {
            touched
                .entry((pid_of(p)?, p.record.trace_id))
                .or_default()
                .push(p.facts.clone());
        }
    }
    let mut keys: Vec<i64> = touched
        .keys()
        .map(|(pid, t)| trace_lock_key(*pid, t))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    tx.execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k",
        &[&keys],
    )?;

    // Under the locks, the stored state of every touched trace is final.
    let t_pids: Vec<i64> = touched.keys().map(|(p, _)| *p).collect();
    let t_ids: Vec<&[u8]> = touched.keys().map(|(_, t)| &t[..]).collect();
    let mut stored: HashMap<(i64, [u8; 16]), Option<i64>> = HashMap::new();
    for r in tx.query(
        "SELECT t.project_id, t.trace_id, t.session_rowid FROM traces t
         JOIN unnest($1::int8[], $2::bytea[]) AS k(pid, tid)
           ON t.project_id = k.pid AND t.trace_id = k.tid",
        &[&t_pids, &t_ids],
    )? {
        stored.insert((r.get(0), id16(r.get(1))), r.get(2));
    }
    // A trace stored before has spans from earlier writes: read them all back.
    let mut all_facts: HashMap<(i64, [u8; 16]), Vec<SpanFacts>> = HashMap::new();
    if !stored.is_empty() {
        let (s_pids, s_ids): (Vec<i64>, Vec<&[u8]>) =
            stored.keys().map(|(p, t)| (*p, &t[..])).unzip();
        for r in tx.query(
            &format!(
                "SELECT s.project_id, s.trace_id, {FACT_COLS} FROM spans s
                 JOIN unnest($1::int8[], $2::bytea[]) AS k(pid, tid)
                   ON s.trace_id = k.tid AND s.project_id = k.pid"
            ),
            &[&s_pids, &s_ids],
        )? {
            all_facts
                .entry((r.get(0), id16(r.get(1))))
                .or_default()
                .push(facts_row(&r, 2));
        }
    }
    let mut summaries = Vec::with_capacity(touched.len());
    let mut wanted: BTreeSet<(i64, String)> = BTreeSet::new();
    let mut sessions: BTreeSet<i64> = BTreeSet::new();
    for (key, new_facts) in touched {
        let old = stored.get(&key).copied();
        let summary = match old {
            // A trace first seen in this batch has all its spans in memory.
            None => turn::summarize(&new_facts),
            Some(_) => turn::summarize(all_facts.get(&key).map_or(&[][..], |f| &f[..])),
        };
        if let Some(sid) = &summary.session_id {
            wanted.insert((key.0, sid.clone()));
        }
        sessions.extend(old.flatten());
        summaries.push((key, summary));
    }
    // Sessions created in key order, then looked up.
    let mut session_rowids: HashMap<(i64, String), i64> = HashMap::new();
    if !wanted.is_empty() {
        let (w_pids, w_sids): (Vec<i64>, Vec<&str>) =
            wanted.iter().map(|(p, s)| (*p, s.as_str())).unzip();
        tx.execute(
            "INSERT INTO sessions (project_id, session_id)
             SELECT * FROM unnest($1::int8[], $2::text[]) ORDER BY 1, 2
             ON CONFLICT (project_id, session_id) DO NOTHING",
            &[&w_pids, &w_sids],
        )?;
        for r in tx.query(
            "SELECT s.project_id, s.session_id, s.id FROM sessions s
             JOIN unnest($1::int8[], $2::text[]) AS k(pid, sid)
               ON s.project_id = k.pid AND s.session_id = k.sid",
            &[&w_pids, &w_sids],
        )? {
            session_rowids.insert((r.get(0), r.get(1)), r.get(2));
        }
        if session_rowids.len() != wanted.len() {
            // Deleted by another writer between the insert and the lookup.
            return Err(Fail::Retry);
        }
        sessions.extend(session_rowids.values().copied());
    }
    // Lock every session this write recomputes, in id order.
    let ids: Vec<i64> = sessions.iter().copied().collect();
    let locked = tx.query(
        "SELECT id FROM sessions WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE",
        &[&ids],
    )?;
    if locked.len() != ids.len() {
        return Err(Fail::Retry);
    }
    upsert_traces(tx, &summaries, &session_rowids)?;
    refresh_sessions(tx, &ids)?;
    Ok(outcome)
}

/// Writes the traces' summaries: one `INSERT ... SELECT FROM unnest` for the
/// whole batch (each trace appears once).
fn upsert_traces(
    tx: &mut Transaction<'_>,
    summaries: &[((i64, [u8; 16]), TraceSummary)],
    session_rowids: &HashMap<(i64, String), i64>,
) -> Result<(), postgres::Error> {
    let n = summaries.len();
    let mut pid: Vec<i64> = Vec::with_capacity(n);
    let mut trace: Vec<&[u8]> = Vec::with_capacity(n);
    let mut rowid: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut session: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut conflicts: Vec<Value> = Vec::with_capacity(n);
    let mut user: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut root: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    let mut start: Vec<i64> = Vec::with_capacity(n);
    let mut end: Vec<i64> = Vec::with_capacity(n);
    let mut count: Vec<i64> = Vec::with_capacity(n);
    let mut error: Vec<bool> = Vec::with_capacity(n);
    let mut io: [Vec<Option<&str>>; 6] = Default::default();
    let mut tok: [Vec<i64>; 3] = Default::default();
    let mut cost: [Vec<f64>; 3] = Default::default();
    let mut tags: Vec<Value> = Vec::with_capacity(n);
    let mut metadata: Vec<Value> = Vec::with_capacity(n);
    for ((p, t), s) in summaries {
        pid.push(*p);
        trace.push(&t[..]);
        rowid.push(
            s.session_id
                .as_ref()
                .and_then(|sid| session_rowids.get(&(*p, sid.clone())).copied()),
        );
        session.push(s.session_id.as_deref());
        conflicts.push(serde_json::to_value(&s.session_conflicts).unwrap_or(Value::Null));
        user.push(s.user_id.as_deref());
        root.push(s.root_span_id.as_ref().map(|r| &r[..]));
        start.push(s.start_ns);
        end.push(s.end_ns);
        count.push(s.span_count);
        error.push(s.has_error);
        for (k, v) in [&s.input, &s.output].into_iter().enumerate() {
            io[k * 3].push(v.as_ref().map(|i| i.value.as_str()));
            io[k * 3 + 1].push(v.as_ref().map(|i| i.mime_type.as_str()));
            io[k * 3 + 2].push(v.as_ref().and_then(|i| i.raw_value.as_deref()));
        }
        tok[0].push(s.tokens.prompt);
        tok[1].push(s.tokens.completion);
        tok[2].push(s.tokens.total);
        cost[0].push(s.cost.prompt);
        cost[1].push(s.cost.completion);
        cost[2].push(s.cost.total);
        tags.push(serde_json::to_value(&s.tags).unwrap_or(Value::Null));
        metadata.push(Value::Object(s.metadata.clone()));
    }
    tx.execute(
        "INSERT INTO traces (project_id, trace_id, session_rowid, session_id,
            session_conflicts, user_id, root_span_id, start_ns, end_ns, span_count, has_error,
            input_value, input_mime, input_raw, output_value, output_mime, output_raw,
            prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion,
            cost_total, tags, metadata)
         SELECT * FROM unnest($1::int8[], $2::bytea[], $3::int8[], $4::text[], $5::jsonb[],
            $6::text[], $7::bytea[], $8::int8[], $9::int8[], $10::int8[], $11::bool[],
            $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
            $18::int8[], $19::int8[], $20::int8[], $21::float8[], $22::float8[], $23::float8[],
            $24::jsonb[], $25::jsonb[])
         ON CONFLICT (project_id, trace_id) DO UPDATE SET
            session_rowid = excluded.session_rowid, session_id = excluded.session_id,
            session_conflicts = excluded.session_conflicts, user_id = excluded.user_id,
            root_span_id = excluded.root_span_id, start_ns = excluded.start_ns,
            end_ns = excluded.end_ns, span_count = excluded.span_count,
            has_error = excluded.has_error, input_value = excluded.input_value,
            input_mime = excluded.input_mime, input_raw = excluded.input_raw,
            output_value = excluded.output_value, output_mime = excluded.output_mime,
            output_raw = excluded.output_raw, prompt_tokens = excluded.prompt_tokens,
            completion_tokens = excluded.completion_tokens, total_tokens = excluded.total_tokens,
            cost_prompt = excluded.cost_prompt, cost_completion = excluded.cost_completion,
            cost_total = excluded.cost_total, tags = excluded.tags, metadata = excluded.metadata",
        &[
            &pid, &trace, &rowid, &session, &conflicts, &user, &root, &start, &end, &count, &error,
            &io[0], &io[1], &io[2], &io[3], &io[4], &io[5], &tok[0], &tok[1], &tok[2], &cost[0],
            &cost[1], &cost[2], &tags, &metadata,
        ],
    )?;
    Ok(())
}

/// Recomputes the sessions' aggregates from their traces; a session left
/// without traces (its last one moved away) is deleted.
fn refresh_sessions(tx: &mut Transaction<'_>, ids: &[i64]) -> Result<(), postgres::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "UPDATE sessions s SET start_ns = a.start_ns, end_ns = a.end_ns,
            duration_ns = a.end_ns - a.start_ns, num_traces = a.num_traces,
            num_traces_with_error = a.num_errors, prompt_tokens = a.prompt_tokens,
            completion_tokens = a.completion_tokens, total_tokens = a.total_tokens,
            cost_prompt = a.cost_prompt, cost_completion = a.cost_completion,
            cost_total = a.cost_total
         FROM (SELECT k.id, coalesce(min(t.start_ns), 0) AS start_ns,
                 coalesce(max(t.end_ns), 0) AS end_ns, count(t.id) AS num_traces,
                 count(t.id) FILTER (WHERE t.has_error) AS num_errors,
                 coalesce(sum(t.prompt_tokens), 0)::int8 AS prompt_tokens,
                 coalesce(sum(t.completion_tokens), 0)::int8 AS completion_tokens,
                 coalesce(sum(t.total_tokens), 0)::int8 AS total_tokens,
                 coalesce(sum(t.cost_prompt), 0) AS cost_prompt,
                 coalesce(sum(t.cost_completion), 0) AS cost_completion,
                 coalesce(sum(t.cost_total), 0) AS cost_total
               FROM unnest($1::int8[]) AS k(id)
               LEFT JOIN traces t ON t.session_rowid = k.id
               GROUP BY k.id) a
         WHERE s.id = a.id",
        &[&ids],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE id = ANY($1::int8[]) AND num_traces = 0",
        &[&ids],
    )?;
    Ok(())
}

fn project_rowid(tx: &mut Transaction<'_>, project: &str) -> Result<i64, StoreError> {
    tx.query_opt(
        "SELECT id FROM projects WHERE name = $1",
        &[&clean(project).as_ref()],
    )?
    .map(|r| r.get(0))
    .ok_or(StoreError::NotFound("project"))
}

/// The columns [`session_row`] reads, from `sessions s`.
const SESSION_COLS: &str = "s.id, s.session_id, s.start_ns, s.end_ns, s.num_traces,
    s.num_traces_with_error, s.prompt_tokens, s.completion_tokens, s.total_tokens,
    s.cost_prompt, s.cost_completion, s.cost_total";

fn session_row(r: &Row, project: &str) -> (i64, SessionInfo) {
    let start: i64 = r.get(2);
    let end: i64 = r.get(3);
    (
        r.get(0),
        SessionInfo {
            session_id: r.get(1),
            project: project.to_owned(),
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            duration_ms: (end - start) as f64 / 1e6,
            num_traces: r.get(4),
            num_traces_with_error: r.get(5),
            user_ids: Vec::new(),
            tags: Vec::new(),
            metadata: Map::new(),
            first_input: None,
            last_output: None,
            token_count: TokenCount {
                prompt: r.get(6),
                completion: r.get(7),
                total: r.get(8),
            },
            cost: Cost {
                prompt: r.get(9),
                completion: r.get(10),
                total: r.get(11),
            },
            latency_ms: Latency::default(),
            annotations: Vec::new(),
        },
    )
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

/// Fills what session rows do not hold from their traces and annotations: two
/// queries for a whole page, not two per session.
fn fill_sessions(
    tx: &mut Transaction<'_>,
    project: &str,
    sessions: &mut [(i64, SessionInfo)],
) -> Result<(), StoreError> {
    if sessions.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = sessions.iter().map(|(id, _)| *id).collect();
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let rows = tx.query(
        "SELECT session_rowid, user_id, tags, metadata, input_value, input_mime, input_raw,
                output_value, output_mime, output_raw, end_ns - start_ns
         FROM traces WHERE session_rowid = ANY($1::int8[]) ORDER BY session_rowid, start_ns, id",
        &[&ids],
    )?;
    let mut tags: Vec<BTreeSet<String>> = vec![BTreeSet::new(); sessions.len()];
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); sessions.len()];
    for r in rows {
        let Some(&i) = at.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        let s = &mut sessions[i].1;
        if let Some(user) = r.get::<_, Option<String>>(1)
            && !s.user_ids.contains(&user)
        {
            s.user_ids.push(user);
        }
        tags[i].extend(serde_json::from_value::<Vec<String>>(r.get(2)).unwrap_or_default());
        for (k, v) in serde_json::from_value::<Map<String, Value>>(r.get(3)).unwrap_or_default() {
            s.metadata.entry(k).or_insert(v);
        }
        if s.first_input.is_none() {
            s.first_input = io_from(r.get(4), r.get(5), r.get(6));
        }
        if let Some(out) = io_from(r.get(7), r.get(8), r.get(9)) {
            s.last_output = Some(out);
        }
        latencies[i].push(r.get::<_, i64>(10) as f64 / 1e6);
    }
    let names: Vec<&str> = sessions
        .iter()
        .map(|(_, s)| s.session_id.as_str())
        .collect();
    let mut annotations = annotations::summaries_of(tx, project, &names)?;
    for (i, (_, s)) in sessions.iter_mut().enumerate() {
        let l = &mut latencies[i];
        l.sort_by(f64::total_cmp);
        s.latency_ms = Latency {
            p50: percentile(l, 0.5),
            p99: percentile(l, 0.99),
        };
        s.tags = std::mem::take(&mut tags[i]).into_iter().collect();
        s.annotations = annotations.remove(&s.session_id).unwrap_or_default();
    }
    Ok(())
}

/// The columns [`trace_row`] reads, from `traces t`.
const TRACE_COLS: &str = "t.id, t.trace_id, t.session_id, t.session_conflicts, t.start_ns,
    t.end_ns, t.has_error, t.user_id, t.root_span_id, t.input_value, t.input_mime,
    t.input_raw, t.output_value, t.output_mime, t.output_raw, t.prompt_tokens,
    t.completion_tokens, t.total_tokens, t.cost_prompt, t.cost_completion, t.cost_total,
    t.span_count";

fn trace_row(r: &Row, project: &str) -> (i64, TraceInfo) {
    let start: i64 = r.get(4);
    let end: i64 = r.get(5);
    (
        r.get(0),
        TraceInfo {
            trace_id: hex(r.get::<_, &[u8]>(1)),
            project: project.to_owned(),
            session_id: r.get(2),
            session_conflicts: serde_json::from_value(r.get(3)).unwrap_or_default(),
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            latency_ms: (end - start) as f64 / 1e6,
            status: if r.get::<_, bool>(6) { "error" } else { "ok" }.to_owned(),
            user_id: r.get(7),
            root_span_id: r.get::<_, Option<&[u8]>>(8).map(hex),
            input: io_from(r.get(9), r.get(10), r.get(11)),
            output: io_from(r.get(12), r.get(13), r.get(14)),
            token_count: TokenCount {
                prompt: r.get(15),
                completion: r.get(16),
                total: r.get(17),
            },
            cost: Cost {
                prompt: r.get(18),
                completion: r.get(19),
                total: r.get(20),
            },
            span_count: r.get(21),
        },
    )
}

fn session_lookup(
    tx: &mut Transaction<'_>,
    project: &str,
    session_id: &str,
) -> Result<(i64, SessionInfo), StoreError> {
    let pid = project_rowid(tx, project)?;
    tx.query_opt(
        &format!(
            "SELECT {SESSION_COLS} FROM sessions s WHERE s.project_id = $1 AND s.session_id = $2"
        ),
        &[&pid, &clean(session_id).as_ref()],
    )?
    .map(|r| session_row(&r, project))
    .ok_or(StoreError::NotFound("session"))
}

/// Escapes `%`, `_` and `\` for `ILIKE ... ESCAPE '\'`.
fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in clean(q).chars() {
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

/// Query parameters numbered as they are added.
#[derive(Default)]
struct Args(Vec<Box<dyn ToSql + Sync>>);

impl Args {
    /// Adds a value; returns its placeholder.
    fn add(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| b.as_ref()).collect()
    }
}

/// Pages `rows` (one more than `limit` fetched) into data and the next cursor.
fn paged<T>(
    mut rows: Vec<(i64, String, T)>,
    limit: usize,
    scope: &str,
) -> (Vec<(i64, T)>, Option<String>) {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(id, value, _)| {
            Cursor {
                scope: scope.to_owned(),
                value: value.clone(),
                id: *id,
            }
            .encode()
        })
    } else {
        None
    };
    (rows.into_iter().map(|(id, _, t)| (id, t)).collect(), next)
}

fn turn_of(t: TraceInfo) -> Turn {
    Turn {
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
    }
}

impl Store for PostgresStore {
    fn write(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError> {
        if spans.is_empty() {
            return Ok(WriteOutcome::default());
        }
        // Encoding runs on the caller's thread, before a connection is taken.
        let prepared: Vec<Prepared<'_>> = spans
            .iter()
            .map(|record| Prepared {
                record,
                facts: clean_facts(&record.facts),
                body: encode_body(record),
            })
            .collect();
        self.write_tx(|tx| write_spans(tx, &prepared))
    }

    fn projects(&self) -> Result<Vec<ProjectInfo>, StoreError> {
        self.read(|tx| {
            Ok(tx
                .query(
                    "SELECT p.name,
                        (SELECT count(*) FROM traces t WHERE t.project_id = p.id),
                        (SELECT count(*) FROM sessions s WHERE s.project_id = p.id),
                        (SELECT max(t.end_ns) FROM traces t WHERE t.project_id = p.id)
                     FROM projects p ORDER BY p.name COLLATE \"C\"",
                    &[],
                )?
                .iter()
                .map(|r| ProjectInfo {
                    name: r.get(0),
                    trace_count: r.get(1),
                    session_count: r.get(2),
                    last_activity: r.get::<_, Option<i64>>(3).map(rfc3339),
                })
                .collect())
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
            let mut a = Args::default();
            let mut sql = format!(
                "SELECT {SESSION_COLS}, {column}::text FROM sessions s WHERE s.project_id = {}",
                a.add(pid)
            );
            if let Some(start) = q.start_ns {
                sql.push_str(&format!(" AND s.end_ns >= {}", a.add(start)));
            }
            if let Some(end) = q.end_ns {
                sql.push_str(&format!(" AND s.start_ns <= {}", a.add(end)));
            }
            if let Some(user) = &q.user_id {
                sql.push_str(&format!(
                    " AND s.id IN (SELECT t.session_rowid FROM traces t
                        WHERE t.project_id = {} AND t.user_id = {})",
                    a.add(pid),
                    a.add(clean(user).into_owned())
                ));
            }
            if let Some(tag) = &q.tag {
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM traces t
                        WHERE t.session_rowid = s.id AND t.tags ? {})",
                    a.add(clean(tag).into_owned())
                ));
            }
            for (key, value) in &q.metadata {
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM traces t
                        WHERE t.session_rowid = s.id AND t.metadata ->> {} = {})",
                    a.add(clean(key).into_owned()),
                    a.add(clean(value).into_owned())
                ));
            }
            match q.has_error {
                Some(true) => sql.push_str(" AND s.num_traces_with_error > 0"),
                Some(false) => sql.push_str(" AND s.num_traces_with_error = 0"),
                None => {}
            }
            if let Some(min) = q.min_traces {
                sql.push_str(&format!(" AND s.num_traces >= {}", a.add(min)));
            }
            if let Some(text) = &q.q {
                let p = a.add(like_pattern(text));
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM traces t WHERE t.session_rowid = s.id
                        AND (t.input_value ILIKE {p} ESCAPE '\\' OR t.output_value ILIKE {p} ESCAPE '\\'))"
                ));
            }
            let (cmp, dir) = if q.order == Order::Asc {
                (">", "ASC")
            } else {
                ("<", "DESC")
            };
            if let Some(c) = &cursor {
                let v = if q.sort == SessionSort::TotalCost {
                    let v = c
                        .value
                        .parse::<f64>()
                        .map_err(|_| StoreError::InvalidCursor)?;
                    a.add(v)
                } else {
                    let v = c
                        .value
                        .parse::<i64>()
                        .map_err(|_| StoreError::InvalidCursor)?;
                    a.add(v)
                };
                sql.push_str(&format!(" AND ({column}, s.id) {cmp} ({v}, {})", a.add(c.id)));
            }
            sql.push_str(&format!(
                " ORDER BY {column} {dir}, s.id {dir} LIMIT {}",
                a.add(limit as i64 + 1)
            ));
            let rows = tx.query(&sql, &a.refs())?;
            let rows: Vec<(i64, String, SessionInfo)> = rows
                .iter()
                .map(|r| {
                    let (id, s) = session_row(r, project);
                    // Cost as Rust prints it: parses back to the same f64.
                    let value: String = r.get(12);
                    let value = if q.sort == SessionSort::TotalCost {
                        r.get::<_, f64>(11).to_string()
                    } else {
                        value
                    };
                    (id, value, s)
                })
                .collect();
            let (mut data, next_cursor) = paged(rows, limit, &scope);
            fill_sessions(tx, project, &mut data)?;
            Ok(Page {
                data: data.into_iter().map(|(_, s)| s).collect(),
                next_cursor,
            })
        })
    }

    fn session(&self, project: &str, session_id: &str) -> Result<SessionInfo, StoreError> {
        self.read(|tx| {
            let mut one = [session_lookup(tx, project, session_id)?];
            fill_sessions(tx, project, &mut one)?;
            let [(_, s)] = one;
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
            let mut a = Args::default();
            let mut sql = format!(
                "SELECT {TRACE_COLS} FROM traces t WHERE t.session_rowid = {}",
                a.add(rowid)
            );
            if let Some(c) = &cursor {
                let v = c
                    .value
                    .parse::<i64>()
                    .map_err(|_| StoreError::InvalidCursor)?;
                sql.push_str(&format!(
                    " AND (t.start_ns, t.id) > ({}, {})",
                    a.add(v),
                    a.add(c.id)
                ));
            }
            sql.push_str(&format!(
                " ORDER BY t.start_ns, t.id LIMIT {}",
                a.add(limit as i64 + 1)
            ));
            let rows: Vec<_> = tx
                .query(&sql, &a.refs())?
                .iter()
                .map(|r| {
                    let (id, t) = trace_row(r, project);
                    (id, r.get::<_, i64>(4).to_string(), t)
                })
                .collect();
            let (data, next_cursor) = paged(rows, limit, scope);
            Ok(Page {
                data: data.into_iter().map(|(_, t)| turn_of(t)).collect(),
                next_cursor,
            })
        })
    }

    fn delete_session(&self, project: &str, session_id: &str) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let pid = project_rowid(tx, project)?;
            let sid = clean(session_id).into_owned();
            let traces_of = |tx: &mut Transaction<'_>| -> Result<Vec<Vec<u8>>, postgres::Error> {
                let mut ids: Vec<Vec<u8>> = tx
                    .query(
                        "SELECT t.trace_id FROM traces t JOIN sessions s ON s.id = t.session_rowid
                         WHERE s.project_id = $1 AND s.session_id = $2",
                        &[&pid, &sid],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                ids.sort();
                Ok(ids)
            };
            // Locks in the writers' order, traces first (by key) then the
            // session row, so a delete and a write never wait on each other in
            // a cycle.
            let traces = traces_of(tx)?;
            let mut keys: Vec<i64> = traces
                .iter()
                .map(|t| trace_lock_key(pid, &id16(t)))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            tx.execute(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k",
                &[&keys],
            )?;
            let rowid: i64 = tx
                .query_opt(
                    "SELECT id FROM sessions WHERE project_id = $1 AND session_id = $2 FOR UPDATE",
                    &[&pid, &sid],
                )?
                .map(|r| r.get(0))
                .ok_or(StoreError::NotFound("session"))?;
            // A trace that joined before the locks were held: start again.
            if traces_of(tx)? != traces {
                return Err(Fail::Retry);
            }
            tx.execute(
                "DELETE FROM spans WHERE project_id = $1 AND trace_id = ANY($2::bytea[])",
                &[&pid, &traces],
            )?;
            tx.execute("DELETE FROM traces WHERE session_rowid = $1", &[&rowid])?;
            tx.execute("DELETE FROM sessions WHERE id = $1", &[&rowid])?;
            annotations::delete_all(tx, pid, session_id)?;
            Ok(())
        })
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
            let mut a = Args::default();
            let mut sql = format!(
                "SELECT {TRACE_COLS} FROM traces t WHERE t.project_id = {}",
                a.add(pid)
            );
            if let Some(sid) = &q.session_id {
                sql.push_str(&format!(
                    " AND t.session_rowid = (SELECT id FROM sessions
                        WHERE project_id = {} AND session_id = {})",
                    a.add(pid),
                    a.add(clean(sid).into_owned())
                ));
            }
            if let Some(start) = q.start_ns {
                sql.push_str(&format!(" AND t.end_ns >= {}", a.add(start)));
            }
            if let Some(end) = q.end_ns {
                sql.push_str(&format!(" AND t.start_ns <= {}", a.add(end)));
            }
            if let Some(c) = &cursor {
                let v = c
                    .value
                    .parse::<i64>()
                    .map_err(|_| StoreError::InvalidCursor)?;
                sql.push_str(&format!(
                    " AND (t.start_ns, t.id) < ({}, {})",
                    a.add(v),
                    a.add(c.id)
                ));
            }
            sql.push_str(&format!(
                " ORDER BY t.start_ns DESC, t.id DESC LIMIT {}",
                a.add(limit as i64 + 1)
            ));
            let rows: Vec<_> = tx
                .query(&sql, &a.refs())?
                .iter()
                .map(|r| {
                    let (id, t) = trace_row(r, project);
                    (id, r.get::<_, i64>(4).to_string(), t)
                })
                .collect();
            let (data, next_cursor) = paged(rows, limit, scope);
            Ok(Page {
                data: data.into_iter().map(|(_, t)| t).collect(),
                next_cursor,
            })
        })
    }

    fn trace(&self, project: &str, trace_id: &[u8; 16]) -> Result<TraceDetail, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let (_, trace) = tx
                .query_opt(
                    &format!(
                        "SELECT {TRACE_COLS} FROM traces t
                         WHERE t.project_id = $1 AND t.trace_id = $2"
                    ),
                    &[&pid, &&trace_id[..]],
                )?
                .map(|r| trace_row(&r, project))
                .ok_or(StoreError::NotFound("trace"))?;
            let rows = tx.query(
                "SELECT span_id, parent_span_id, name, kind, status_code, status_message,
                        start_ns, end_ns, body
                 FROM spans WHERE trace_id = $1 AND project_id = $2 ORDER BY start_ns, span_id",
                &[&&trace_id[..], &pid],
            )?;
            let mut spans = Vec::with_capacity(rows.len());
            for r in rows {
                let body = decode_body(r.get(8))?;
                spans.push(SpanInfo {
                    span_id: hex(r.get::<_, &[u8]>(0)),
                    parent_span_id: r.get::<_, Option<&[u8]>>(1).map(hex),
                    name: r.get(2),
                    kind: r.get(3),
                    status: status_name(r.get(4)).to_owned(),
                    status_message: r.get(5),
                    start_time: rfc3339(r.get(6)),
                    end_time: rfc3339(r.get(7)),
                    attributes: body.a,
                    events: body.e,
                });
            }
            Ok(TraceDetail { trace, spans })
        })
    }

    fn upsert_annotations(
        &self,
        project: &str,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<Annotation>, StoreError> {
        self.write_tx(|tx| annotations::upsert(tx, project, annotations))
    }

    fn annotations(&self, project: &str, session_id: &str) -> Result<Vec<Annotation>, StoreError> {
        self.read(|tx| {
            session_lookup(tx, project, session_id)?;
            annotations::of_session(tx, project, session_id)
        })
    }

    fn delete_annotation(
        &self,
        project: &str,
        session_id: &str,
        id: i64,
    ) -> Result<(), StoreError> {
        self.write_tx(|tx| annotations::delete_one(tx, project, session_id, id))
    }

    fn health(&self) -> Result<(), StoreError> {
        self.read(|tx| {
            tx.query_one("SELECT 1", &[])?;
            Ok(())
        })
    }
}
