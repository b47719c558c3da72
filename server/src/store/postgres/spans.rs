//! How PostgreSQL stores spans: each span's attributes and events as
//! zstd-compressed JSON beside its facts in columns, and the write path that stores a batch
//! with one `INSERT ... SELECT FROM unnest` per table and re-derives the
//! traces and sessions it touched.
//!
//! Several servers may write at once, so a write locks what it re-derives: an
//! advisory lock per touched trace (taken in key order, so writers never wait
//! on each other in a cycle) before the trace's spans are read back, and the
//! touched session rows (in (project, session id) order) before their
//! aggregates are recomputed. Whoever commits last has seen every span.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use postgres::error::SqlState;
use postgres::types::ToSql;
use serde_json::{Map, Value};

use super::{PgTx, clean, clean_json, clean_opt, json_has_nul, pg_row};
use crate::model::{
    Cost, EventFacts, EventRecord, SpanFacts, SpanInfo, SpanRecord, TokenCount, TraceSummary,
};
use crate::store::compression;
use crate::store::queries::{
    EVENT_FACT_COLUMNS, FACT_COLUMNS, FilterHeld, SPAN_INFO_COLUMNS, TouchedSessions,
    event_facts_row, facts_row, now_ns, refresh_sessions, search_texts, search_trigrams,
    session_sums, session_sums_grown_by_excluded, span_row, sums_of_traces, take_out_of_sessions,
};
use crate::store::sql::{SpanTables, SqlTx, SqlValue};
use crate::store::{StoreError, WriteOutcome};
use crate::turn;

/// A span's attributes and events as stored: zstd-compressed JSON (exact
/// values, NUL included); bodies written before zstd are deflated.
#[derive(serde::Serialize, serde::Deserialize)]
struct Body {
    /// Attributes.
    a: Map<String, Value>,
    /// Events.
    e: Vec<Value>,
}

/// A span's body as stored ([`compression::compress_body`]).
fn encode_body(record: &SpanRecord, compressor: Option<&mut compression::Compressor>) -> Vec<u8> {
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
    match compressor {
        Some(c) if c.has_dictionary() => compression::compress_body(Some(c), &json),
        Some(c) if json.len() < RAW_BODY_BELOW_BYTES => {
            c.sample(&json);
            compression::raw_frame(&json)
                .unwrap_or_else(|| compression::compress_body(Some(c), &json))
        }
        compressor => compression::compress_body(compressor, &json),
    }
}

/// Bodies shorter than this are stored as they are (in a zstd frame of one
/// raw block) until the store has a dictionary: compressed alone, a small
/// body saves a few bytes for the price of building zstd's tables (a
/// retriever's 130-byte body compressed to 111); with a dictionary, whose
/// tables are built once, it is a fraction of that.
const RAW_BODY_BELOW_BYTES: usize = 512;

/// A stored body, read with the dictionary its frame names: one another
/// server stored since this one started is read from its table first.
fn decode_body(tx: &mut dyn SqlTx, blob: &[u8]) -> Result<Body, StoreError> {
    if let Some(id) = compression::dictionary_of(blob)
        && !tx.dictionaries().knows(id)
    {
        let stored = tx.query_opt(
            "SELECT dictionary FROM compression_dictionaries WHERE id = $1",
            &[i64::from(id).into()],
        )?;
        // Not stored: the read below says which dictionary is missing.
        if let Some(row) = stored {
            let bytes = row.blob(0)?.to_vec();
            tx.dictionaries().register(id, bytes)?;
        }
    }
    let json = compression::decompress_body(blob, tx.dictionaries())?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("span body: {e}")))
}

/// A span ready for the database, encoded before any connection is taken.
pub(super) struct Prepared<'a> {
    record: &'a SpanRecord,
    facts: Cow<'a, SpanFacts>,
    body: Vec<u8>,
}

/// Encodes spans for the database before any connection is taken, their
/// bodies compressed with the store's current dictionary.
pub(super) fn prepare<'a>(
    spans: &'a [SpanRecord],
    dictionaries: &Arc<compression::Dictionaries>,
) -> Vec<Prepared<'a>> {
    // One zstd context for the request's spans.
    let mut compressor = dictionaries.compressor();
    spans
        .iter()
        .map(|record| Prepared {
            record,
            facts: clean_facts(&record.facts),
            body: encode_body(record, compressor.as_mut()),
        })
        .collect()
}

/// The facts with every text made storable ([`clean`]); borrowed when they
/// already are (nearly always: a copy of every span's facts was a tenth of
/// the write's allocations).
fn clean_facts(f: &SpanFacts) -> Cow<'_, SpanFacts> {
    let texts = [
        &f.session_id,
        &f.user_id,
        &f.oi_kind,
        &f.input_value,
        &f.input_mime,
        &f.output_value,
        &f.output_mime,
        &f.user_text,
        &f.reply_text,
    ];
    let storable = texts
        .iter()
        .all(|t| t.as_deref().is_none_or(|t| !t.contains('\0')))
        && f.tags.iter().all(|t| !t.contains('\0'))
        && !f
            .metadata
            .iter()
            .any(|(k, v)| k.contains('\0') || json_has_nul(v));
    if storable {
        return Cow::Borrowed(f);
    }
    Cow::Owned(SpanFacts {
        session_id: clean_opt(&f.session_id),
        user_id: clean_opt(&f.user_id),
        oi_kind: clean_opt(&f.oi_kind),
        input_value: clean_opt(&f.input_value),
        input_mime: clean_opt(&f.input_mime),
        output_value: clean_opt(&f.output_value),
        output_mime: clean_opt(&f.output_mime),
        user_text: clean_opt(&f.user_text),
        reply_text: clean_opt(&f.reply_text),
        tags: f.tags.iter().map(|t| clean(t).into_owned()).collect(),
        metadata: match clean_json(&Value::Object(f.metadata.clone())) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        ..f.clone()
    })
}

/// Token counts and costs as column arrays for `unnest`: prompt, completion,
/// total.
#[derive(Default)]
struct UsageColumns {
    tokens: [Vec<i64>; 3],
    cost: [Vec<f64>; 3],
}

impl UsageColumns {
    /// The six arrays as statement parameters, in that order, after `before`
    /// and before `after`.
    fn between<'a>(
        &'a self,
        before: &[&'a (dyn ToSql + Sync)],
        after: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut params = before.to_vec();
        params.extend(self.tokens.iter().map(|c| c as &(dyn ToSql + Sync)));
        params.extend(self.cost.iter().map(|c| c as &(dyn ToSql + Sync)));
        params.extend_from_slice(after);
        params
    }

    fn push(&mut self, tokens: &TokenCount, cost: &Cost) {
        self.tokens[0].push(tokens.prompt);
        self.tokens[1].push(tokens.completion);
        self.tokens[2].push(tokens.total);
        self.cost[0].push(cost.prompt);
        self.cost[1].push(cost.completion);
        self.cost[2].push(cost.total);
    }
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

fn id8(v: &[u8]) -> [u8; 8] {
    <[u8; 8]>::try_from(v).unwrap_or_default()
}

/// Ids of the named projects, created as needed (in name order, so concurrent
/// writers creating the same projects wait on each other in one order), their
/// rows held `FOR KEY SHARE` until the write commits: a project's deletion
/// ([`SpanTables::lock_project_for_delete`]) waits for the write, or the write
/// for it and then finds the project gone and creates it anew. A project is
/// looked up first: it is nearly always there.
fn project_ids(
    tx: &mut PgTx<'_, '_>,
    names: &BTreeSet<String>,
) -> Result<HashMap<String, i64>, StoreError> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let lookup = |tx: &mut PgTx<'_, '_>| -> Result<HashMap<String, i64>, postgres::Error> {
        Ok(tx
            .pg_query(
                "SELECT name, id FROM projects WHERE name = ANY($1::text[]) FOR KEY SHARE",
                &[&names],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    };
    let found = lookup(tx)?;
    if found.len() == names.len() {
        return Ok(found);
    }
    tx.pg_execute(
        "INSERT INTO projects (name) SELECT n FROM unnest($1::text[]) AS n ORDER BY n
         ON CONFLICT (name) DO NOTHING",
        &[&names],
    )?;
    let found = lookup(tx)?;
    if found.len() != names.len() {
        // Deleted again between its insert and the lookup: the write starts over.
        return Err(StoreError::Conflict(
            "a project was deleted while a write created it".to_owned(),
        ));
    }
    Ok(found)
}

/// Stores a batch in one transaction and re-derives every trace and session it
/// touched, under per-trace advisory locks and session row locks. Returns
/// whether each span was stored (false for a span stored before, or earlier
/// in the batch).
pub(super) fn write_batch(
    tx: &mut PgTx<'_, '_>,
    spans: &[Prepared<'_>],
    some_stored_before: &mut bool,
) -> Result<Vec<bool>, StoreError> {
    let names: BTreeSet<String> = spans
        .iter()
        .map(|p| clean(&p.record.project).into_owned())
        .collect();
    let projects = project_ids(tx, &names)?;
    let pid_of = |p: &Prepared<'_>| -> Result<i64, StoreError> {
        projects
            .get(clean(&p.record.project).as_ref())
            .copied()
            .ok_or_else(|| StoreError::Backend("project row missing".to_owned()))
    };
    // Sorted by (project, trace id, span id), the batch's repeats dropped:
    // concurrent writers of overlapping batches then wait on each other in
    // one order.
    let keys = spans
        .iter()
        .map(|p| Ok((pid_of(p)?, p.record.trace_id, p.record.span_id)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (keys[i], i));
    order.dedup_by_key(|i| keys[*i]);

    // Columns as arrays: the whole batch is one INSERT ... SELECT FROM unnest.
    let n = order.len();
    let mut c_trace: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_span: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_pid: Vec<i64> = Vec::with_capacity(n);
    let mut c_parent: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    let mut c_name: Vec<Cow<'_, str>> = Vec::with_capacity(n);
    let mut c_kind: Vec<&str> = Vec::with_capacity(n);
    let mut c_status: Vec<i32> = Vec::with_capacity(n);
    let mut c_message: Vec<Cow<'_, str>> = Vec::with_capacity(n);
    let mut c_start: Vec<i64> = Vec::with_capacity(n);
    let mut c_end: Vec<i64> = Vec::with_capacity(n);
    let mut c_session: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_user: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_oi_kind: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut c_is_llm: Vec<bool> = Vec::with_capacity(n);
    let mut c_usage = UsageColumns::default();
    let mut c_body: Vec<&[u8]> = Vec::with_capacity(n);
    for &i in &order {
        let p = &spans[i];
        let (s, f) = (p.record, p.facts.as_ref());
        c_trace.push(&s.trace_id);
        c_span.push(&s.span_id);
        c_pid.push(pid_of(p)?);
        c_parent.push(s.parent_span_id.as_ref().map(|p| &p[..]));
        c_name.push(clean(&s.name));
        c_kind.push(s.kind.as_str());
        c_status.push(s.status_code);
        c_message.push(clean(&s.status_message));
        c_start.push(s.start_ns);
        c_end.push(s.end_ns);
        c_session.push(f.session_id.as_deref());
        c_user.push(f.user_id.as_deref());
        c_oi_kind.push(f.oi_kind.as_deref());
        c_is_llm.push(f.is_llm);
        c_usage.push(&f.tokens, &f.cost);
        c_body.push(&p.body);
    }
    // Spans are nearly always new: inserted as such, without `ON CONFLICT`'s
    // speculative insertion (a WAL record and a visit of the row's page more
    // for every span: a fifth of the insert), and with nothing read back
    // (every one is inserted). A span stored before (an exporter sending
    // again) fails the insert; the write is then run again skipping the
    // stored ones and returning the others (`some_stored_before`).
    let skip_stored = match *some_stored_before {
        true => {
            "ON CONFLICT (project_id, trace_id, span_id) DO NOTHING
             RETURNING project_id, trace_id, span_id"
        }
        false => "",
    };
    let inserted = tx.pg_query(
        &format!(
            "INSERT INTO spans (trace_id, span_id, project_id, parent_span_id, name, kind,
                status_code, status_message, start_ns, end_ns, session_id, user_id, oi_kind,
                is_llm, prompt_tokens, completion_tokens, total_tokens, cost_prompt,
                cost_completion, cost_total, body)
             SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $4::bytea[], $5::text[],
                $6::text[], $7::int4[], $8::text[], $9::int8[], $10::int8[], $11::text[],
                $12::text[], $13::text[], $14::bool[], $15::int8[], $16::int8[], $17::int8[],
                $18::float8[], $19::float8[], $20::float8[], $21::bytea[])
             {skip_stored}"
        ),
        &c_usage.between(
            &[
                &c_trace, &c_span, &c_pid, &c_parent, &c_name, &c_kind, &c_status, &c_message,
                &c_start, &c_end, &c_session, &c_user, &c_oi_kind, &c_is_llm,
            ],
            &[&c_body],
        ),
    );
    let inserted = match inserted {
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) && !*some_stored_before => {
            *some_stored_before = true;
            return Err(StoreError::Conflict(format!(
                "a span was stored before, written again skipping it: {e}"
            )));
        }
        other => other?,
    };
    let inserted: HashSet<(i64, [u8; 16], [u8; 8])> = match *some_stored_before {
        true => inserted
            .iter()
            .map(|r| (r.get(0), id16(r.get(1)), id8(r.get(2))))
            .collect(),
        false => order.iter().map(|&i| keys[i]).collect(),
    };
    // The first of a batch's repeats is the one in `order`.
    let mut stored = vec![false; spans.len()];
    for &i in &order {
        stored[i] = inserted.contains(&keys[i]);
    }
    if inserted.is_empty() {
        return Ok(stored);
    }

    // Traces this batch added spans to, with the facts of the spans added.
    let mut touched: BTreeMap<(i64, [u8; 16]), Vec<&SpanFacts>> = BTreeMap::new();
    for &i in &order {
        let p = &spans[i];
        if inserted.contains(&keys[i]) {
            touched
                .entry((keys[i].0, p.record.trace_id))
                .or_default()
                .push(p.facts.as_ref());
        }
    }
    resummarize(tx, touched)?;
    Ok(stored)
}

/// Re-applies the trace rules to every touched trace (the facts of the spans
/// the write added; a trace with none and not stored is skipped) under its
/// advisory lock, reading back its stored spans and events, and recomputes
/// every session a trace left or joined under the session rows' locks.
fn resummarize(
    tx: &mut PgTx<'_, '_>,
    touched: BTreeMap<(i64, [u8; 16]), Vec<&SpanFacts>>,
) -> Result<(), StoreError> {
    if touched.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i64> = touched
        .keys()
        .map(|(pid, t)| trace_lock_key(*pid, t))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    tx.pg_execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k",
        &[&keys],
    )?;

    // Under the locks, the stored state of every touched trace is final.
    let t_pids: Vec<i64> = touched.keys().map(|(p, _)| *p).collect();
    let t_ids: Vec<&[u8]> = touched.keys().map(|(_, t)| &t[..]).collect();
    let mut stored: HashMap<(i64, [u8; 16]), Option<i64>> = HashMap::new();
    // Each stored trace's row id and the filter rows it gave its session.
    let mut held: HashMap<(i64, [u8; 16]), (i64, FilterHeld)> = HashMap::new();
    for r in tx.pg_query(
        "SELECT t.project_id, t.trace_id, t.session_rowid, t.id, t.user_id, t.tags, t.metadata
         FROM traces t
         JOIN unnest($1::int8[], $2::bytea[]) AS k(pid, tid)
           ON t.project_id = k.pid AND t.trace_id = k.tid",
        &[&t_pids, &t_ids],
    )? {
        let key = (r.get(0), id16(r.get(1)));
        stored.insert(key, r.get(2));
        let filter_rows = FilterHeld::from_row(r.get(4), r.get(5), r.get(6));
        held.insert(key, (r.get(3), filter_rows));
    }
    // A trace stored before has spans from earlier writes: read them all back.
    let mut all_facts: HashMap<(i64, [u8; 16]), Vec<SpanFacts>> = HashMap::new();
    if !stored.is_empty() {
        let (s_pids, s_ids): (Vec<i64>, Vec<&[u8]>) =
            stored.keys().map(|(p, t)| (*p, &t[..])).unzip();
        for r in tx.pg_query(
            &format!(
                "SELECT s.project_id, s.trace_id, {}, s.body FROM spans s
                 JOIN unnest($1::int8[], $2::bytea[]) AS k(pid, tid)
                   ON s.trace_id = k.tid AND s.project_id = k.pid",
                stored_fact_columns()
            ),
            &[&s_pids, &s_ids],
        )? {
            let mut row = pg_row(&r)?;
            let mut facts = facts_row(&mut row, 2)?;
            let body = decode_body(tx, row.blob(2 + FACT_COLUMNS.len())?)?;
            crate::otlp::map::rederive_from_body(&mut facts, &body.a, &body.e);
            let facts = match clean_facts(&facts) {
                Cow::Borrowed(_) => facts,
                Cow::Owned(cleaned) => cleaned,
            };
            all_facts
                .entry((r.get(0), id16(r.get(1))))
                .or_default()
                .push(facts);
        }
    }
    // Every touched trace's events, whichever arrived first.
    let mut all_events: HashMap<(i64, [u8; 16]), Vec<EventFacts>> = HashMap::new();
    let columns: Vec<String> = EVENT_FACT_COLUMNS
        .iter()
        .map(|c| format!("e.{c}"))
        .collect();
    for r in tx.pg_query(
        &format!(
            "SELECT e.project_id, e.trace_id, {} FROM span_events e
             JOIN unnest($1::int8[], $2::bytea[]) AS k(pid, tid)
               ON e.trace_id = k.tid AND e.project_id = k.pid",
            columns.join(", ")
        ),
        &[&t_pids, &t_ids],
    )? {
        let mut row = pg_row(&r)?;
        row.0.drain(..2);
        all_events
            .entry((r.get(0), id16(r.get(1))))
            .or_default()
            .push(event_facts_row(&mut row)?);
    }
    let mut summaries = Vec::with_capacity(touched.len());
    let mut wanted: BTreeSet<(i64, String)> = BTreeSet::new();
    let mut sessions: BTreeSet<i64> = BTreeSet::new();
    for (key, new_facts) in touched {
        let old = stored.get(&key).copied();
        let events = all_events.get(&key).map_or(&[][..], |e| &e[..]);
        let summary = match old {
            // A trace first seen in this write has all its spans in memory.
            None if new_facts.is_empty() => continue,
            None => turn::summarize(&new_facts, events),
            Some(_) => turn::summarize(all_facts.get(&key).map_or(&[][..], |f| &f[..]), events),
        };
        if let Some(sid) = &summary.session_id {
            wanted.insert((key.0, sid.clone()));
        }
        sessions.extend(old.flatten());
        summaries.push((key, summary));
    }
    // Every touched trace new (a turn's spans in one export, as nearly every
    // write is): each session is created or grown by what its new traces add
    // up to, and locked, in one upsert: one statement where creating,
    // looking up, locking and growing it took four. What a session's growth
    // costs is mostly the row's new version and its ten index entries,
    // which the upsert still writes (issue 14, twenty-fourth step).
    if stored.is_empty() {
        let GrownSessions {
            rowids: session_rowids,
            holding_filter_rows,
        } = grow_sessions(tx, &summaries)?;
        // A trace whose session holds its filter rows already (the same
        // user, tags and metadata as the turn before) looks for none.
        let holds_its_rows = |(pid, _): &TraceKey, summary: &TraceSummary| {
            summary
                .session_id
                .as_ref()
                .and_then(|sid| session_rowids.get(&(*pid, sid.clone())))
                .is_some_and(|rowid| holding_filter_rows.contains(rowid))
        };
        let held: HashSet<TraceKey> = summaries
            .iter()
            .filter(|(key, summary)| holds_its_rows(key, summary))
            .map(|(key, _)| *key)
            .collect();
        let filter_rows_of: Vec<i64> = insert_traces(tx, &summaries, &session_rowids, New::Only)?
            .into_iter()
            .filter(|(key, _)| !held.contains(key))
            .map(|(_, id)| id)
            .collect();
        let touched = TouchedSessions {
            all: session_rowids.into_values().collect(),
            changed: Vec::new(),
            // Their sums are in the sessions already.
            new_traces: Vec::new(),
            filter_rows_of,
        };
        return refresh_sessions(tx, &touched);
    }
    // Sessions created in key order, then looked up.
    let mut session_rowids: HashMap<(i64, String), i64> = HashMap::new();
    if !wanted.is_empty() {
        let (w_pids, w_sids): (Vec<i64>, Vec<&str>) =
            wanted.iter().map(|(p, s)| (*p, s.as_str())).unzip();
        tx.pg_execute(
            "INSERT INTO sessions (project_id, session_id)
             SELECT * FROM unnest($1::int8[], $2::text[]) ORDER BY 1, 2
             ON CONFLICT (project_id, session_id) DO NOTHING",
            &[&w_pids, &w_sids],
        )?;
        for r in tx.pg_query(
            "SELECT s.project_id, s.session_id, s.id FROM sessions s
             JOIN unnest($1::int8[], $2::text[]) AS k(pid, sid)
               ON s.project_id = k.pid AND s.session_id = k.sid",
            &[&w_pids, &w_sids],
        )? {
            session_rowids.insert((r.get(0), r.get(1)), r.get(2));
        }
        if session_rowids.len() != wanted.len() {
            return Err(StoreError::Conflict(
                "a session was deleted between its insert and its lookup".to_owned(),
            ));
        }
        sessions.extend(session_rowids.values().copied());
    }
    // Lock every session this write recomputes, in key order (as
    // `grow_sessions` does).
    let ids: Vec<i64> = sessions.iter().copied().collect();
    let locked = tx.pg_query(
        "SELECT id FROM sessions WHERE id = ANY($1::int8[])
         ORDER BY project_id, session_id FOR UPDATE",
        &[&ids],
    )?;
    if locked.len() != ids.len() {
        return Err(StoreError::Conflict(
            "a session was deleted before it was locked".to_owned(),
        ));
    }
    // Traces stored before that stay in their session, giving it every
    // filter row they gave: taken out of its sums before they are stored
    // anew, then added back as the traces this write stores first are. The
    // sessions the others leave or join are re-derived whole.
    let new_session = |key: &TraceKey, summary: &TraceSummary| {
        let sid = summary.session_id.as_ref()?;
        session_rowids.get(&(key.0, sid.clone())).copied()
    };
    let may_stay = |key: &TraceKey, summary: &TraceSummary| {
        let old = (*stored.get(key)?)?;
        let (rowid, filter_rows) = held.get(key)?;
        (new_session(key, summary) == Some(old) && filter_rows.kept_by(summary))
            .then_some((old, *rowid))
    };
    let staying: Vec<i64> = summaries
        .iter()
        .filter_map(|(key, summary)| may_stay(key, summary).map(|(_, rowid)| rowid))
        .collect();
    let taken = take_out_of_sessions(tx, &staying)?;
    let stays = |key: &TraceKey, summary: &TraceSummary| {
        may_stay(key, summary).is_some_and(|(session, _)| taken.contains(&session))
    };
    let changed: BTreeSet<i64> = summaries
        .iter()
        .filter(|(key, summary)| stored.contains_key(key) && !stays(key, summary))
        .flat_map(|(key, summary)| [stored[key], new_session(key, summary)])
        .flatten()
        .collect();
    let added: HashSet<TraceKey> = summaries
        .iter()
        .filter(|(key, summary)| !stored.contains_key(key) || stays(key, summary))
        .map(|(key, _)| *key)
        .collect();
    // The row ids of the traces not stored before, and of those staying.
    let new_traces: Vec<i64> = insert_traces(tx, &summaries, &session_rowids, New::OrStored)?
        .into_iter()
        .filter(|(key, _)| added.contains(key))
        .map(|(_, id)| id)
        .collect();
    let touched = TouchedSessions {
        all: ids,
        changed: changed.into_iter().collect(),
        filter_rows_of: new_traces.clone(),
        new_traces,
    };
    if !touched.changed.is_empty() {
        // Their filter rows are derived again and some may go: the traces
        // they last grew by may no longer have theirs (`grow_sessions`).
        tx.pg_execute(
            "UPDATE sessions SET filters_digest = 0
             WHERE id = ANY($1::int8[]) AND filters_digest <> 0",
            &[&touched.changed],
        )?;
    }
    refresh_sessions(tx, &touched)
}

/// What a trace gives its session's filter rows (`session_users`,
/// `session_tags`, `session_metadata`: its user, tags and metadata as its
/// row stores them), as a digest: traces with the same digest give the same
/// rows. Never 0, which a session stores when it knows none.
fn filters_digest(summary: &TraceSummary) -> i64 {
    let mut hasher = blake3::Hasher::new();
    // Writing to a hasher cannot fail.
    let _ = serde_json::to_writer(
        &mut hasher,
        &(&summary.user_id, &summary.tags, &summary.metadata),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    match i64::from_le_bytes(first) {
        0 => 1,
        digest => digest,
    }
}

/// The sessions [`grow_sessions`] created or grew.
struct GrownSessions {
    /// Each session's row id.
    rowids: HashMap<(i64, String), i64>,
    /// Those that held the filter rows of the traces they grew by already:
    /// the traces they last grew by had the same [`filters_digest`] (a
    /// session's row keeps it, and forgets it when its filter rows are
    /// derived again), and a trace's rows are written in the write that
    /// grows its session by it.
    holding_filter_rows: HashSet<i64>,
}

/// Creates or grows the sessions of traces stored first (`summaries`) by
/// what those add up to, in one upsert that locks their rows in key order
/// (project, session id), as every write locks sessions; returns each
/// session's row id.
fn grow_sessions(
    tx: &mut PgTx<'_, '_>,
    summaries: &[(TraceKey, TraceSummary)],
) -> Result<GrownSessions, StoreError> {
    let in_sessions: Vec<(i64, &str, &TraceSummary)> = summaries
        .iter()
        .filter_map(|((pid, _), s)| Some((*pid, s.session_id.as_deref()?, s)))
        .collect();
    if in_sessions.is_empty() {
        return Ok(GrownSessions {
            rowids: HashMap::new(),
            holding_filter_rows: HashSet::new(),
        });
    }
    let n = in_sessions.len();
    let mut pid: Vec<i64> = Vec::with_capacity(n);
    let mut session: Vec<&str> = Vec::with_capacity(n);
    let mut start: Vec<i64> = Vec::with_capacity(n);
    let mut end: Vec<i64> = Vec::with_capacity(n);
    let mut error: Vec<bool> = Vec::with_capacity(n);
    let mut filters: Vec<i64> = Vec::with_capacity(n);
    let mut usage = UsageColumns::default();
    for (p, sid, s) in in_sessions {
        pid.push(p);
        session.push(sid);
        start.push(s.start_ns);
        end.push(s.end_ns);
        error.push(s.has_error);
        filters.push(filters_digest(s));
        usage.push(&s.tokens, &s.cost);
    }
    let d = tx.dialect();
    let fresh = session_sums(d, false, &|column| format!("a.new_{column}"));
    let grown = session_sums_grown_by_excluded(d);
    let columns: Vec<&str> = fresh.iter().map(|(column, _)| *column).collect();
    let values: Vec<&str> = fresh.iter().map(|(_, value)| value.as_str()).collect();
    let set: Vec<String> = grown
        .iter()
        .map(|(column, value)| format!("{column} = {value}"))
        .collect();
    // A session's traces of this write that differ in what they give its
    // filter rows leave it knowing none (0). Its filter digest before the
    // update is what `SET` reads from `sessions`.
    let rows = tx.pg_query(
        &format!(
            "INSERT INTO sessions (project_id, session_id, {}, last_activity_ns, filters_digest)
             SELECT a.project_id, a.session_id, {}, $12, a.filters
             FROM (SELECT t.project_id, t.session_id, {},
                       CASE WHEN min(t.filters) = max(t.filters) THEN min(t.filters) ELSE 0 END
                           AS filters
                   FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::bool[],
                        $6::int8[], $7::int8[], $8::int8[], $9::float8[], $10::float8[],
                        $11::float8[], $13::int8[])
                     AS t(project_id, session_id, start_ns, end_ns, has_error, prompt_tokens,
                          completion_tokens, total_tokens, cost_prompt, cost_completion,
                          cost_total, filters)
                   GROUP BY t.project_id, t.session_id) a
             ORDER BY a.project_id, a.session_id
             ON CONFLICT (project_id, session_id) DO UPDATE SET {},
                last_activity_ns = excluded.last_activity_ns,
                filters_held = excluded.filters_digest <> 0
                    AND sessions.filters_digest = excluded.filters_digest,
                filters_digest = excluded.filters_digest
             RETURNING project_id, session_id, id, filters_held",
            columns.join(", "),
            values.join(", "),
            sums_of_traces(d, "t"),
            set.join(", "),
        ),
        &usage.between(
            &[&pid, &session, &start, &end, &error],
            &[&now_ns(), &filters],
        ),
    )?;
    let mut grown = GrownSessions {
        rowids: HashMap::with_capacity(rows.len()),
        holding_filter_rows: HashSet::new(),
    };
    for r in &rows {
        let rowid: i64 = r.get(2);
        grown.rowids.insert((r.get(0), r.get(1)), rowid);
        if r.get::<_, bool>(3) {
            grown.holding_filter_rows.insert(rowid);
        }
    }
    Ok(grown)
}

/// Stores GenAI events in one `INSERT ... SELECT FROM unnest` (a re-sent one
/// is skipped) and re-summarizes the stored traces they belong to; an event
/// whose span has not arrived waits for it (the span's write reads it).
pub(super) fn write_events(
    tx: &mut PgTx<'_, '_>,
    events: &[EventRecord],
) -> Result<WriteOutcome, StoreError> {
    let names: BTreeSet<String> = events
        .iter()
        .map(|e| clean(&e.project).into_owned())
        .collect();
    let projects = project_ids(tx, &names)?;
    let n = events.len();
    let mut c_pid: Vec<i64> = Vec::with_capacity(n);
    let mut c_trace: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_span: Vec<&[u8]> = Vec::with_capacity(n);
    let mut c_digest: Vec<i64> = Vec::with_capacity(n);
    let mut c_time: Vec<i64> = Vec::with_capacity(n);
    let mut c_seq: Vec<i64> = Vec::with_capacity(n);
    let mut c_name: Vec<String> = Vec::with_capacity(n);
    let mut c_user: Vec<Option<String>> = Vec::with_capacity(n);
    let mut c_reply: Vec<Option<String>> = Vec::with_capacity(n);
    let mut c_attributes: Vec<Value> = Vec::with_capacity(n);
    let mut c_body: Vec<Value> = Vec::with_capacity(n);
    for e in events {
        let pid = projects
            .get(clean(&e.project).as_ref())
            .copied()
            .ok_or_else(|| StoreError::Backend("project row missing".to_owned()))?;
        c_pid.push(pid);
        c_trace.push(&e.trace_id);
        c_span.push(&e.facts.span_id);
        c_digest.push(e.digest);
        c_time.push(e.facts.time_ns);
        c_seq.push(e.facts.seq);
        c_name.push(clean(&e.name).into_owned());
        c_user.push(clean_opt(&e.facts.user_message));
        c_reply.push(clean_opt(&e.facts.reply));
        c_attributes.push(clean_json(&Value::Object(e.attributes.clone())));
        c_body.push(clean_json(&e.body));
    }
    let inserted = tx.pg_query(
        "INSERT INTO span_events (project_id, trace_id, span_id, digest, time_ns, seq, name,
            user_message, reply, attributes, body)
         SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[],
            $6::int8[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[])
         ON CONFLICT (project_id, trace_id, span_id, digest) DO NOTHING
         RETURNING project_id, trace_id",
        &[
            &c_pid,
            &c_trace,
            &c_span,
            &c_digest,
            &c_time,
            &c_seq,
            &c_name,
            &c_user,
            &c_reply,
            &c_attributes,
            &c_body,
        ],
    )?;
    let outcome = WriteOutcome {
        inserted: inserted.len(),
        duplicates: n - inserted.len(),
    };
    let touched: BTreeMap<(i64, [u8; 16]), Vec<&SpanFacts>> = inserted
        .iter()
        .map(|r| ((r.get(0), id16(r.get(1))), Vec::new()))
        .collect();
    resummarize(tx, touched)?;
    Ok(outcome)
}

/// The facts a span's body holds, which `spans` keeps no column of: its
/// input and output and the turn's words derived from them (issue 14: they
/// were 2 kB of a history-heavy span's 3.4 kB, a second copy of its body's
/// largest attributes): [`FACT_COLUMNS`] from `input_value` to `reply`.
const FACTS_IN_BODY: &[&str] = FACT_COLUMNS.split_at(9).1.split_at(6).0;

/// [`FACT_COLUMNS`] of `spans s`, a null where the body holds the fact
/// ([`FACTS_IN_BODY`], derived again from it on read).
fn stored_fact_columns() -> String {
    FACT_COLUMNS
        .iter()
        .map(|&c| match c {
            // In the body alone since migration 29.
            "tags" => "'[]'::jsonb".to_owned(),
            "metadata" => "'{}'::jsonb".to_owned(),
            c if FACTS_IN_BODY.contains(&c) => "NULL::text".to_owned(),
            c => format!("s.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A trace: its project's row id and its id.
type TraceKey = (i64, [u8; 16]);

/// What [`insert_traces`] does with a trace stored before: it takes the
/// new summary.
const UPDATE_STORED_TRACES: &str = "ON CONFLICT (project_id, trace_id) DO UPDATE SET
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
            cost_total = excluded.cost_total, tags = excluded.tags, metadata = excluded.metadata,
            search_input = excluded.search_input, search_output = excluded.search_output,
            search_trigrams = excluded.search_trigrams";

/// Whether the traces [`insert_traces`] writes may be stored already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum New {
    /// None is: each trace's advisory lock is held and it was looked for.
    Only,
    /// Some are: they are updated.
    OrStored,
}

/// Writes the traces' summaries: one `INSERT ... SELECT FROM unnest` for the
/// whole batch (each trace appears once), with the trigrams the text search's
/// index holds, worked out here: `pg_trgm` extracting them was most of
/// PostgreSQL's CPU for a trace. Traces stored before are updated; when none
/// is, the insert has no `ON CONFLICT` (its speculative insertion costs a WAL
/// record more a row). Returns each trace's key and row id.
fn insert_traces(
    tx: &mut PgTx<'_, '_>,
    summaries: &[((i64, [u8; 16]), TraceSummary)],
    session_rowids: &HashMap<(i64, String), i64>,
    new: New,
) -> Result<Vec<(TraceKey, i64)>, postgres::Error> {
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
    let mut usage = UsageColumns::default();
    let mut tags: Vec<Value> = Vec::with_capacity(n);
    let mut metadata: Vec<Value> = Vec::with_capacity(n);
    let mut search: [Vec<Option<String>>; 2] = Default::default();
    // Every trace's trigrams in one array, each trace's a slice `lo..=hi`
    // (1-based) of it: `unnest` takes no arrays of arrays of differing lengths.
    let mut trigrams: Vec<i32> = Vec::new();
    let mut slice: [Vec<i32>; 2] = Default::default();
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
        usage.push(&s.tokens, &s.cost);
        tags.push(serde_json::to_value(&s.tags).unwrap_or(Value::Null));
        metadata.push(Value::Object(s.metadata.clone()));
        let (input, output) = search_texts(s);
        let lo = trigrams.len();
        trigrams.extend(search_trigrams(&[
            input.as_deref().unwrap_or_default(),
            output.as_deref().unwrap_or_default(),
        ]));
        let position = |at: usize| i32::try_from(at).unwrap_or(i32::MAX);
        slice[0].push(position(lo + 1));
        slice[1].push(position(trigrams.len()));
        search[0].push(input);
        search[1].push(output);
    }
    let update_stored = match new {
        New::Only => "",
        New::OrStored => UPDATE_STORED_TRACES,
    };
    let rows = tx.pg_query(
        &format!(
            "INSERT INTO traces (project_id, trace_id, session_rowid, session_id,
            session_conflicts, user_id, root_span_id, start_ns, end_ns, span_count, has_error,
            input_value, input_mime, input_raw, output_value, output_mime, output_raw,
            prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion,
            cost_total, tags, metadata, search_input, search_output, search_trigrams)
         SELECT u.project_id, u.trace_id, u.session_rowid, u.session_id, u.session_conflicts,
            u.user_id, u.root_span_id, u.start_ns, u.end_ns, u.span_count, u.has_error,
            u.input_value, u.input_mime, u.input_raw, u.output_value, u.output_mime, u.output_raw,
            u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cost_prompt,
            u.cost_completion, u.cost_total, u.tags, u.metadata, u.search_input, u.search_output,
            ($30::int4[])[u.lo:u.hi]
         FROM unnest($1::int8[], $2::bytea[], $3::int8[], $4::text[], $5::jsonb[],
            $6::text[], $7::bytea[], $8::int8[], $9::int8[], $10::int8[], $11::bool[],
            $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
            $18::int8[], $19::int8[], $20::int8[], $21::float8[], $22::float8[], $23::float8[],
            $24::jsonb[], $25::jsonb[], $26::text[], $27::text[], $28::int4[], $29::int4[])
            AS u(project_id, trace_id, session_rowid, session_id, session_conflicts, user_id,
                 root_span_id, start_ns, end_ns, span_count, has_error, input_value, input_mime,
                 input_raw, output_value, output_mime, output_raw, prompt_tokens,
                 completion_tokens, total_tokens, cost_prompt, cost_completion, cost_total, tags,
                 metadata, search_input, search_output, lo, hi)
         {update_stored}
         RETURNING project_id, trace_id, id"
        ),
        &usage.between(
            &[
                &pid, &trace, &rowid, &session, &conflicts, &user, &root, &start, &end, &count,
                &error, &io[0], &io[1], &io[2], &io[3], &io[4], &io[5],
            ],
            &[
                &tags, &metadata, &search[0], &search[1], &slice[0], &slice[1], &trigrams,
            ],
        ),
    )?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), id16(r.get(1))), r.get(2)))
        .collect())
}

/// How this backend keeps spans, for the shared queries.
pub struct Spans;

/// The columns [`read_span`] reads, from `spans`: [`SPAN_INFO_COLUMNS`], then
/// `body, id, trace_id`.
fn span_columns() -> String {
    format!("{SPAN_INFO_COLUMNS}, body, id, trace_id")
}

/// A span as (row id, trace id, span), its attributes decoded from its body,
/// from a row of [`span_columns`].
fn read_span(
    tx: &mut dyn SqlTx,
    mut r: crate::store::sql::SqlRow,
) -> Result<(i64, [u8; 16], SpanInfo), StoreError> {
    let body = decode_body(tx, r.blob(8)?)?;
    let span = span_row(&mut r, body.a, body.e)?;
    Ok((r.int(9)?, r.id(10)?, span))
}

impl SpanTables for Spans {
    /// Every span of a trace with its attributes decoded from its body.
    fn of_traces(project: &str, trace_ids: &str) -> String {
        format!("s.project_id = {project} AND s.trace_id {trace_ids}")
    }

    fn spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<Vec<SpanInfo>, StoreError> {
        let rows = tx.query(
            &format!(
                "SELECT {} FROM spans WHERE trace_id = $1 AND project_id = $2
                 ORDER BY start_ns, span_id",
                span_columns()
            ),
            &[trace_id[..].into(), project_id.into()],
        )?;
        rows.into_iter()
            .map(|r| read_span(tx, r).map(|(_, _, span)| span))
            .collect()
    }

    fn spans_by_rowid(
        tx: &mut dyn SqlTx,
        rowids: &[i64],
    ) -> Result<Vec<(i64, [u8; 16], SpanInfo)>, StoreError> {
        let sql = format!(
            "SELECT {} FROM spans WHERE id {}",
            span_columns(),
            tx.dialect().in_ints("$1")
        );
        tx.query(&sql, &[SqlValue::IntList(rowids.to_vec())])?
            .into_iter()
            .map(|r| read_span(tx, r))
            .collect()
    }

    /// Takes the locks a writer of the session's traces takes, in the writers'
    /// order (traces by key, then the session row), so a delete and a write never
    /// wait on each other in a cycle; a trace that joined the session before the
    /// locks were held makes the transaction start again.
    fn lock_session_for_delete(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_id: &str,
    ) -> Result<i64, StoreError> {
        let traces_of = |tx: &mut dyn SqlTx| -> Result<Vec<[u8; 16]>, StoreError> {
            let mut ids = tx
                .query(
                    "SELECT t.trace_id FROM traces t JOIN sessions s ON s.id = t.session_rowid
                     WHERE s.project_id = $1 AND s.session_id = $2",
                    &[project_id.into(), session_id.into()],
                )?
                .iter()
                .map(|r| r.id::<16>(0))
                .collect::<Result<Vec<_>, _>>()?;
            ids.sort_unstable();
            Ok(ids)
        };
        let traces = traces_of(tx)?;
        let mut keys: Vec<i64> = traces
            .iter()
            .map(|t| trace_lock_key(project_id, t))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        tx.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k",
            &[SqlValue::IntList(keys)],
        )?;
        let rowid = tx
            .query_opt(
                "SELECT id FROM sessions WHERE project_id = $1 AND session_id = $2 FOR UPDATE",
                &[project_id.into(), session_id.into()],
            )?
            .ok_or(StoreError::NotFound("session"))?
            .int(0)?;
        if traces_of(tx)? != traces {
            return Err(StoreError::Conflict(
                "a trace joined the session while it was being deleted".to_owned(),
            ));
        }
        Ok(rowid)
    }

    /// Deletes the spans of a session's traces (their bodies hold all they use).
    fn delete_spans_of_session(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_rowid: i64,
    ) -> Result<(), StoreError> {
        tx.execute(
            "DELETE FROM spans WHERE project_id = $1
             AND trace_id IN (SELECT trace_id FROM traces WHERE session_rowid = $2)",
            &[project_id.into(), session_rowid.into()],
        )?;
        Ok(())
    }

    fn lock_trace_for_delete(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<(), StoreError> {
        // the lock every writer of the trace's spans takes
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[trace_lock_key(project_id, trace_id).into()],
        )?;
        Ok(())
    }

    fn delete_spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<(), StoreError> {
        tx.execute(
            "DELETE FROM spans WHERE project_id = $1 AND trace_id = $2",
            &[project_id.into(), trace_id[..].into()],
        )?;
        Ok(())
    }

    /// The row lock that conflicts with the one each writer of the project
    /// holds ([`project_ids`]): in-flight writes commit first, later ones
    /// wait and then find the project gone.
    fn lock_project_for_delete(tx: &mut dyn SqlTx, project_id: i64) -> Result<(), StoreError> {
        tx.execute(
            "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
            &[project_id.into()],
        )?;
        Ok(())
    }

    fn delete_spans_of_project(tx: &mut dyn SqlTx, project_id: i64) -> Result<(), StoreError> {
        tx.execute(
            "DELETE FROM spans WHERE project_id = $1",
            &[project_id.into()],
        )?;
        Ok(())
    }
}
