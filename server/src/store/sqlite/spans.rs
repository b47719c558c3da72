//! How SQLite stores spans: long attribute strings in `texts` (see
//! [`super::texts`]), the rest of a span's attributes and events as
//! zstd-compressed JSON, and the write path that stores a batch and re-derives the
//! traces and sessions it touched. A span is keyed by its trace's row id and
//! its span id, never by the random trace id: a new trace's row id is taken
//! before its spans are written (see [`Touched`]), so they append to the
//! index.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rusqlite::types::{ToSql, ToSqlOutput, Value as SqliteValue};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::SqliteTx;
use super::recent::{
    self, KeptSpan, RECENT_MAX_BYTES, RecentTrace, RecentTraces, RowsGiven, TextIds,
};
use super::rows::{RowBatch, int_or_null, row_statements};
use super::texts::{self, Digest, INTERN_MIN_BYTES, Known, Texts, pack_ids, unpack_ids};
use crate::model::{EventFacts, EventRecord, SpanFacts, SpanInfo, SpanRecord, TraceSummary};
use crate::store::compression::{self, Dictionaries};
use crate::store::queries::{
    EVENT_FACT_COLUMNS, FACT_COLUMNS, FilterHeld, SPAN_INFO_COLUMNS, TouchedSessions,
    event_facts_row, facts_row, refresh_sessions, search_texts, span_row, take_out_of_sessions,
};
use crate::store::sql::{SpanTables, SqlTx, SqlValue};
use crate::store::{StoreError, WriteOutcome};
use crate::turn::{self, FactText};

fn json_text<T: serde::Serialize>(v: &T) -> String {
    // Serializing our own maps and lists cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A span's attributes and events as stored (compressed JSON): the keys of the
/// interned attributes are here, their text ids in the span's `text_refs`.
#[derive(serde::Deserialize)]
struct Body {
    /// Attributes not interned.
    a: Map<String, Value>,
    /// Keys of the interned attributes, in `text_refs` order.
    k: Vec<String>,
    /// Events.
    e: Vec<Value>,
}

/// Whether an attribute's value is stored in `texts` rather than in the body.
fn interned(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) if text.len() >= INTERN_MIN_BYTES => Some(text),
        _ => None,
    }
}

/// A [`Body`] written straight from the span, nothing copied.
#[derive(serde::Serialize)]
struct BodyOf<'a> {
    a: NotInterned<'a>,
    k: Vec<&'a str>,
    e: &'a [Value],
}

/// The attributes not interned, as a JSON object.
struct NotInterned<'a>(&'a Map<String, Value>);

impl serde::Serialize for NotInterned<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0 {
            if interned(value).is_none() {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// A span encoded before the writer lock is taken: only text interning and
/// B-tree work are left for the single writer.
pub(super) struct Prepared<'a> {
    record: &'a SpanRecord,
    /// [`Body`] as a zstd frame.
    body: Vec<u8>,
    /// The interned attributes' texts with their digests, in [`Body::k`]
    /// order.
    texts: Vec<(&'a str, Digest)>,
    /// The digests of the facts' texts (input, output, last user message,
    /// reply), where there is one.
    fact_digests: [Option<Digest>; 4],
    /// The span's tags and metadata as JSON text, serialized before the
    /// writer lock.
    tags: String,
    metadata: String,
}

/// A span's texts are hashed before the writer lock, each once: a fact's text
/// is usually one of the attributes' (the input is `input.value`).
fn fact_digest<'a>(
    text: Option<&'a str>,
    attributes: &[(&str, Digest)],
    digests: &mut texts::RequestDigests<'a>,
) -> Option<Digest> {
    let text = text?;
    Some(
        attributes
            .iter()
            .find(|(t, _)| *t == text)
            .map_or_else(|| digests.of(text), |(_, d)| *d),
    )
}

/// Encodes a request's spans before the writer lock: their bodies, their
/// texts' digests, and how to store the texts [`Known`] does not list.
pub(super) fn prepare<'a>(
    spans: &'a [SpanRecord],
    known: &Known,
    dictionaries: &Arc<Dictionaries>,
) -> (Vec<Prepared<'a>>, Texts) {
    // One zstd context for the request's spans; without one (zstd could not
    // allocate it) bodies are deflated, as before zstd, which reads back too,
    // and new texts are worked out by the writer.
    let mut compressor = dictionaries.compressor();
    let mut digests = texts::RequestDigests::default();
    let prepared: Vec<Prepared<'a>> = spans
        .iter()
        .map(|record| {
            let mut keys = Vec::new();
            let mut texts = Vec::new();
            for (key, value) in &record.attributes {
                if let Some(text) = interned(value) {
                    keys.push(key.as_str());
                    texts.push((text, digests.of(text)));
                }
            }
            let json = json_text(&BodyOf {
                a: NotInterned(&record.attributes),
                k: keys,
                e: &record.events,
            });
            let stored = compression::compress_body(compressor.as_mut(), json.as_bytes());
            let f = &record.facts;
            let fact_digests =
                turn::fact_texts(f).map(|t| fact_digest(t.as_deref(), &texts, &mut digests));
            Prepared {
                record,
                body: stored,
                texts,
                fact_digests,
                tags: json_text(&f.tags),
                metadata: json_text(&f.metadata),
            }
        })
        .collect();
    let fresh = match compressor.as_mut() {
        Some(compressor) => {
            let all = prepared.iter().flat_map(|p| {
                let facts = turn::fact_texts(&p.record.facts)
                    .into_iter()
                    .zip(&p.fact_digests)
                    .filter_map(|(t, d)| Some((t.as_deref()?, (*d)?)));
                p.texts.iter().copied().chain(facts)
            });
            texts::new_texts(all, known, compressor)
        }
        None => Default::default(),
    };
    (prepared, Texts::with_new(fresh, dictionaries))
}

/// A span body read as `oi_body(body)` (its JSON).
fn parse_body(json: &[u8]) -> Result<Body, StoreError> {
    serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(format!("span body: {e}")))
}

fn project_id(
    tx: &Connection,
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

/// The facts of a stored trace's spans with their texts unread: a text a
/// span has stands as an empty string, its row id in `texts` beside
/// (`input`, `output`, `last user`, `reply`). [`read_texts`] then reads those
/// the summary reads: a split trace's second write read every stored text
/// before (the history its model calls were sent, decompressed), for the
/// three or four a turn shows.
fn load_facts(
    tx: &Connection,
    trace_rowid: i64,
) -> Result<(Vec<SpanFacts>, Vec<TextIds>), StoreError> {
    // In FACT_COLUMNS order, then the four text ids.
    const SELECT: &str = "SELECT span_id, parent_span_id, start_ns, end_ns, status_code,
            session_id, user_id, oi_kind, is_llm, iif(input_text IS NULL, NULL, ''), input_mime,
            iif(output_text IS NULL, NULL, ''), output_mime, iif(last_user_text IS NULL, NULL, ''),
            iif(reply_text IS NULL, NULL, ''), prompt_tokens, completion_tokens, total_tokens,
            cost_prompt, cost_completion, cost_total, tags, metadata,
            input_text, output_text, last_user_text, reply_text
         FROM spans WHERE trace_rowid = $1";
    debug_assert_eq!(FACT_COLUMNS.len(), 23);
    let mut facts = Vec::new();
    let mut ids = Vec::new();
    for mut r in SqliteTx(tx).query(SELECT, &[trace_rowid.into()])? {
        facts.push(facts_row(&mut r, 0)?);
        ids.push([
            r.opt_int(23)?,
            r.opt_int(24)?,
            r.opt_int(25)?,
            r.opt_int(26)?,
        ]);
    }
    Ok((facts, ids))
}

/// Reads into the stored spans `kept` the texts they have unread that a
/// summary of them, then the write's `new` spans, with `events` reads
/// ([`turn::texts_read`]).
fn read_texts(
    tx: &Connection,
    kept: &mut [KeptSpan],
    new: &[&SpanFacts],
    events: &[EventFacts],
) -> Result<(), StoreError> {
    if kept.iter().all(|k| !k.unread.contains(&true)) {
        return Ok(());
    }
    let wanted: Vec<(usize, FactText, i64)> = {
        let spans: Vec<&SpanFacts> = kept
            .iter()
            .map(|k| &k.facts)
            .chain(new.iter().copied())
            .collect();
        turn::texts_read(&spans, events)
            .into_iter()
            .filter_map(|(i, text)| Some((i, text, kept.get(i)?.unread_id(text)?)))
            .collect()
    };
    if wanted.is_empty() {
        return Ok(());
    }
    let mut texts: HashMap<i64, String> = HashMap::with_capacity(wanted.len());
    let list: Vec<i64> = wanted.iter().map(|w| w.2).collect();
    let sql = format!(
        "SELECT id, oi_text(body) FROM texts WHERE id {}",
        SqliteTx(tx).dialect().in_ints("$1")
    );
    for mut r in SqliteTx(tx).query(&sql, &[SqlValue::IntList(list)])? {
        texts.insert(r.int(0)?, r.text(1)?);
    }
    for (i, text, id) in wanted {
        let value = texts
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("text {id} missing")))?;
        *kept[i].text(text) = Some(value);
        kept[i].unread[text as usize] = false;
    }
    Ok(())
}

/// Stores a trace's summary in the row its spans point at (`trace.row.rowid`,
/// taken before they were written); its input and output (the turn's words,
/// also some span's facts) as references to `texts`, counted in `texts`.
/// Returns the row ids of its input's and output's texts.
fn upsert_trace(
    tx: &Connection,
    rows: &mut RowBatch<'_, 'static>,
    trace: &TouchedTrace<'_>,
    s: &TraceSummary,
    given: &RowsGiven,
    session_rowid: Option<i64>,
    texts: &mut Texts,
) -> rusqlite::Result<[Option<i64>; 2]> {
    // The turn's words are mostly some new span's text, hashed before the
    // writer lock: hashed again only if not.
    let digest_of = |text: &str| {
        trace
            .new
            .iter()
            .flat_map(|n| turn::fact_texts(n.facts).into_iter().zip(n.digests))
            .find_map(|(t, d)| (t.as_deref() == Some(text)).then_some(*d).flatten())
            .unwrap_or_else(|| texts::digest(text.as_bytes()))
    };
    let mut io = |io: &Option<crate::model::Io>| -> rusqlite::Result<_> {
        let value = io
            .as_ref()
            .map(|i| texts.intern(tx, &i.value, &digest_of(&i.value)))
            .transpose()?;
        Ok((
            value,
            io.as_ref().map(|i| i.mime_type.clone()),
            io.as_ref().and_then(|i| i.raw_value.clone()),
        ))
    };
    let (iv, im, ir) = io(&s.input)?;
    let (ov, om, or) = io(&s.output)?;
    let (search_input, search_output) = search_texts(s);
    // A raw value is some span's input or output text: point at it, no new reference.
    let ir = ir.map(|t| texts.find(tx, &t)).transpose()?.flatten();
    let or = or.map(|t| texts.find(tx, &t)).transpose()?.flatten();
    let owned = |value: SqliteValue| ToSqlOutput::Owned(value);
    let text = |t: Option<String>| owned(t.map_or(SqliteValue::Null, SqliteValue::Text));
    rows.push([
        owned(SqliteValue::Integer(trace.project_id)),
        owned(SqliteValue::Blob(trace.trace_id.to_vec())),
        int_or_null(session_rowid),
        text(s.session_id.clone()),
        owned(SqliteValue::Text(json_text(&s.session_conflicts))),
        text(s.user_id.clone()),
        owned(
            s.root_span_id
                .map_or(SqliteValue::Null, |r| SqliteValue::Blob(r.to_vec())),
        ),
        owned(SqliteValue::Integer(s.start_ns)),
        owned(SqliteValue::Integer(s.end_ns)),
        owned(SqliteValue::Integer(s.span_count)),
        owned(SqliteValue::Integer(i64::from(s.has_error))),
        int_or_null(iv),
        text(im),
        int_or_null(ir),
        int_or_null(ov),
        text(om),
        int_or_null(or),
        owned(SqliteValue::Integer(s.tokens.prompt)),
        owned(SqliteValue::Integer(s.tokens.completion)),
        owned(SqliteValue::Integer(s.tokens.total)),
        owned(SqliteValue::Real(s.cost.prompt)),
        owned(SqliteValue::Real(s.cost.completion)),
        owned(SqliteValue::Real(s.cost.total)),
        owned(SqliteValue::Text(given.tags.clone())),
        owned(SqliteValue::Text(given.metadata.clone())),
        text(search_input),
        text(search_output),
        owned(SqliteValue::Integer(trace.row.rowid)),
    ])?;
    Ok([iv, ov])
}

/// The upserts of trace rows, by the row id taken before their spans were
/// written.
static TRACE_UPSERTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    row_statements(
        "INSERT OR ROLLBACK INTO traces (project_id, trace_id, session_rowid, session_id, session_conflicts,
            user_id, root_span_id, start_ns, end_ns, span_count, has_error,
            input_text, input_mime, input_raw_text, output_text, output_mime, output_raw_text,
            prompt_tokens, completion_tokens, total_tokens, cost_prompt, cost_completion, cost_total,
            tags, metadata, search_input, search_output, id)",
        "ON CONFLICT (id) DO UPDATE SET
            session_rowid = excluded.session_rowid, session_id = excluded.session_id,
            session_conflicts = excluded.session_conflicts, user_id = excluded.user_id,
            root_span_id = excluded.root_span_id, start_ns = excluded.start_ns,
            end_ns = excluded.end_ns, span_count = excluded.span_count,
            has_error = excluded.has_error, input_value = NULL, input_text = excluded.input_text,
            input_mime = excluded.input_mime, input_raw_text = excluded.input_raw_text,
            output_value = NULL, output_text = excluded.output_text,
            output_mime = excluded.output_mime,
            output_raw_text = excluded.output_raw_text, prompt_tokens = excluded.prompt_tokens,
            completion_tokens = excluded.completion_tokens, total_tokens = excluded.total_tokens,
            cost_prompt = excluded.cost_prompt, cost_completion = excluded.cost_completion,
            cost_total = excluded.cost_total, tags = excluded.tags, metadata = excluded.metadata,
            search_input = excluded.search_input, search_output = excluded.search_output",
    )
});

/// The inserts of span rows.
static SPAN_INSERTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    row_statements(
        "INSERT OR ROLLBACK INTO spans (trace_rowid, trace_id, span_id, project_id, parent_span_id, name,
            kind, status_code, status_message, start_ns, end_ns, session_id, user_id, oi_kind,
            is_llm, input_text, input_mime, output_text, output_mime, last_user_text,
            reply_text, prompt_tokens, completion_tokens, total_tokens, cost_prompt,
            cost_completion, cost_total, tags, metadata, body, text_refs)",
        "",
    )
});

/// Stores a batch in the writer's transaction and re-derives every trace and
/// session it touched. Returns whether each span was stored (false for a
/// span stored before).
pub(super) fn write_batch(
    tx: &Connection,
    spans: &[Prepared<'_>],
    texts: &mut Texts,
    recent: &mut RecentTraces,
) -> Result<Vec<bool>, StoreError> {
    // Whether each span was stored (false: a repeat).
    let mut stored = Vec::with_capacity(spans.len());
    let mut projects = HashMap::new();
    let mut touched = Touched::default();
    // Sized for the write: growing them as spans came was 1% of the
    // writer's instructions.
    touched.rows.reserve(spans.len());
    // The spans this write stores, by trace row: a span sent twice in one
    // request is found here (the first may still wait in `rows`), and a new
    // trace's only spans are these, so its repeats need no search of the
    // index.
    let mut in_write: HashSet<(i64, [u8; 8])> = HashSet::with_capacity(spans.len());
    {
        let mut exists =
            tx.prepare_cached("SELECT 1 FROM spans WHERE trace_rowid = ?1 AND span_id = ?2")?;
        let mut rows = RowBatch::new(tx, &SPAN_INSERTS);
        for p in spans {
            let s = p.record;
            let pid = project_id(tx, &s.project, &mut projects)?;
            let row = touched.row(tx, pid, &s.trace_id)?;
            // Re-sent spans change nothing, not even text reference counts.
            let repeated = !in_write.insert((row.rowid, s.span_id))
                || (row.stored && exists.exists(params![row.rowid, &s.span_id[..]])?);
            stored.push(!repeated);
            if repeated {
                continue;
            }
            let f = &s.facts;
            let [input, output, last_user, reply] = {
                let mut ids = [None; 4];
                for (i, (text, d)) in turn::fact_texts(f).iter().zip(&p.fact_digests).enumerate() {
                    if let (Some(text), Some(d)) = (text, d) {
                        ids[i] = Some(texts.intern(tx, text, d)?);
                    }
                }
                ids
            };
            let ids = p
                .texts
                .iter()
                .map(|(t, d)| texts.intern(tx, t, d))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut refs = Vec::with_capacity(ids.len() * 3);
            pack_ids(&ids, &mut refs);
            rows.push([
                ToSqlOutput::from(row.rowid),
                ToSqlOutput::from(&s.trace_id[..]),
                ToSqlOutput::from(&s.span_id[..]),
                ToSqlOutput::from(pid),
                match &s.parent_span_id {
                    Some(parent) => ToSqlOutput::from(&parent[..]),
                    None => ToSqlOutput::Owned(SqliteValue::Null),
                },
                ToSqlOutput::from(s.name.as_str()),
                ToSqlOutput::from(s.kind.as_str()),
                ToSqlOutput::from(i64::from(s.status_code)),
                ToSqlOutput::from(s.status_message.as_str()),
                s.start_ns.to_sql()?,
                s.end_ns.to_sql()?,
                f.session_id.to_sql()?,
                f.user_id.to_sql()?,
                f.oi_kind.to_sql()?,
                f.is_llm.to_sql()?,
                int_or_null(input),
                f.input_mime.to_sql()?,
                int_or_null(output),
                f.output_mime.to_sql()?,
                int_or_null(last_user),
                int_or_null(reply),
                f.tokens.prompt.to_sql()?,
                f.tokens.completion.to_sql()?,
                f.tokens.total.to_sql()?,
                f.cost.prompt.to_sql()?,
                f.cost.completion.to_sql()?,
                f.cost.total.to_sql()?,
                ToSqlOutput::from(p.tags.as_str()),
                ToSqlOutput::from(p.metadata.as_str()),
                ToSqlOutput::from(&p.body[..]),
                ToSqlOutput::Owned(SqliteValue::Blob(refs)),
            ])?;
            touched.touch(pid, &s.trace_id, row).new.push(NewSpan {
                facts: &s.facts,
                ids: [input, output, last_user, reply],
                digests: &p.fact_digests,
            });
        }
        rows.flush()?;
    }
    // A stored trace's spans may be read back with their texts.
    texts.write_rows(tx)?;
    resummarize(tx, touched, texts, recent)?;
    Ok(stored)
}

/// A span a write added: its facts, borrowed from the record written, the
/// row ids of their texts and the digests they were hashed to before the
/// writer lock.
struct NewSpan<'a> {
    facts: &'a SpanFacts,
    ids: TextIds,
    digests: &'a [Option<Digest>; 4],
}

/// A trace a write touched.
struct TouchedTrace<'a> {
    project_id: i64,
    trace_id: [u8; 16],
    /// The trace's row: stored, or the id its row will take.
    row: TraceRow,
    /// The spans the write added.
    new: Vec<NewSpan<'a>>,
}

/// Where a trace's row is: its id, and whether it was stored before the write.
#[derive(Clone, Copy)]
struct TraceRow {
    rowid: i64,
    stored: bool,
}

/// The traces a write touched, by row id. A new trace's row id is taken
/// before its spans are written (the spans' key starts with it), its row
/// written after them with its summary.
#[derive(Default)]
struct Touched<'a> {
    by_rowid: BTreeMap<i64, TouchedTrace<'a>>,
    /// Every trace the write looked up, touched or not (its spans re-sent).
    rows: HashMap<(i64, [u8; 16]), TraceRow>,
    /// The row id the next new trace takes.
    next_rowid: Option<i64>,
}

impl<'a> Touched<'a> {
    /// The row of trace `trace_id` of project `project_id`: looked up once per
    /// write, the next row id if it is not stored (the single writer owns the
    /// table: no one else takes the id in between).
    fn row(
        &mut self,
        tx: &Connection,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> rusqlite::Result<TraceRow> {
        if let Some(row) = self.rows.get(&(project_id, *trace_id)) {
            return Ok(*row);
        }
        let row = match stored_trace(tx, project_id, trace_id)? {
            Some(rowid) => TraceRow {
                rowid,
                stored: true,
            },
            None => {
                let rowid = match self.next_rowid {
                    Some(next) => next,
                    None => {
                        tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM traces", [], |r| {
                            r.get(0)
                        })?
                    }
                };
                self.next_rowid = Some(rowid + 1);
                TraceRow {
                    rowid,
                    stored: false,
                }
            }
        };
        self.rows.insert((project_id, *trace_id), row);
        Ok(row)
    }

    /// Lists a trace the write changed (a span or an event added) for
    /// [`resummarize`].
    fn touch(
        &mut self,
        project_id: i64,
        trace_id: &[u8; 16],
        row: TraceRow,
    ) -> &mut TouchedTrace<'a> {
        self.by_rowid.entry(row.rowid).or_insert(TouchedTrace {
            project_id,
            trace_id: *trace_id,
            row,
            new: Vec::new(),
        })
    }
}

/// A stored trace row's session, input and output texts, and the filter
/// rows it gives its session.
fn trace_row(tx: &Connection, rowid: i64) -> rusqlite::Result<([Option<i64>; 3], FilterHeld)> {
    let row = tx
        .prepare_cached(
            "SELECT session_rowid, input_text, output_text, user_id, tags, metadata
             FROM traces WHERE id = ?1",
        )?
        .query_row(params![rowid], |r| {
            let json = |at| -> rusqlite::Result<Value> {
                let text: Option<String> = r.get(at)?;
                Ok(text
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default())
            };
            Ok((
                [r.get(0)?, r.get(1)?, r.get(2)?],
                FilterHeld::from_row(r.get(3)?, json(4)?, json(5)?),
            ))
        })
        .optional()?;
    Ok(row.unwrap_or_default())
}

/// The row id of trace `trace_id` of project `project_id`, if it is stored.
fn stored_trace(
    tx: &Connection,
    project_id: i64,
    trace_id: &[u8; 16],
) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM traces WHERE project_id = ?1 AND trace_id = ?2")?
        .query_row(params![project_id, &trace_id[..]], |r| r.get(0))
        .optional()
}

/// Re-applies the trace rules to every touched trace (its spans and its
/// events) and recomputes every session a trace left or joined. A stored
/// trace the writer summarized lately is summarized from what it kept of
/// it ([`RecentTraces`]), another from its row and spans read back; a trace
/// left without a root (its root still to come, in a later export) is kept.
fn resummarize(
    tx: &Connection,
    touched: Touched<'_>,
    texts: &mut Texts,
    recent: &mut RecentTraces,
) -> Result<(), StoreError> {
    let mut sessions = BTreeSet::new();
    let mut changed = BTreeSet::new();
    let mut new_traces = Vec::new();
    // Of those, the ones whose session may lack the filter rows they give.
    let mut filter_rows_of = Vec::new();
    // Most servers never receive an event as a log record: their traces'
    // events are not looked up one by one.
    let any_events = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM span_events)")?
        .query_row([], |r| r.get::<_, bool>(0))?;
    // References the re-derived traces no longer hold (text id to count).
    let mut released: BTreeMap<i64, i64> = BTreeMap::new();
    // Bytes held to be kept once their traces are stored: a bound on what a
    // write holds, however many large stored traces it touches.
    let mut holding = 0;
    // Summarized first, then stored in row id order (new traces' rows
    // append).
    let mut summarized = Vec::with_capacity(touched.by_rowid.len());
    for trace in touched.by_rowid.into_values() {
        let pid = trace.project_id;
        let events = if any_events {
            load_event_facts(tx, pid, &trace.trace_id)?
        } else {
            Vec::new()
        };
        let mut held = FilterHeld::default();
        // The stored spans (with the write's new ones if read back), and the
        // write's new spans apart.
        let (mut kept, new, old): (Vec<KeptSpan>, &[NewSpan<'_>], _) = if !trace.row.stored {
            (Vec::new(), &trace.new, None)
        } else {
            let (old, kept, new) = match recent.take(trace.row.rowid, pid, &trace.trace_id) {
                Some(r) => {
                    held = r.held;
                    (
                        [r.session_rowid, r.input_text, r.output_text],
                        r.spans,
                        &trace.new[..],
                    )
                }
                None => {
                    let (old, filter_rows) = trace_row(tx, trace.row.rowid)?;
                    held = filter_rows;
                    // Read back with the write's new spans among them.
                    let (facts, ids) = load_facts(tx, trace.row.rowid)?;
                    let kept = facts
                        .into_iter()
                        .zip(ids)
                        .map(|(f, ids)| KeptSpan::unread(f, ids))
                        .collect();
                    (old, kept, &[][..])
                }
            };
            let [old_session, old_input, old_output] = old;
            for id in [old_input, old_output].into_iter().flatten() {
                *released.entry(id).or_default() += 1;
            }
            (kept, new, old_session)
        };
        let new_facts: Vec<&SpanFacts> = new.iter().map(|n| n.facts).collect();
        read_texts(tx, &mut kept, &new_facts, &events)?;
        let summary = {
            let spans: Vec<&SpanFacts> = kept.iter().map(|k| &k.facts).chain(new_facts).collect();
            turn::summarize(&spans, &events)
        };
        let new_session = match &summary.session_id {
            None => None,
            Some(sid) => Some(match recent.sessions.row_of(pid, sid) {
                Some(id) => id,
                None => {
                    // Looked up first: most turns join a session stored
                    // before, and an `INSERT OR IGNORE` that finds it costs
                    // a second search of the same index (the single writer
                    // inserts between the two alone).
                    let stored = tx
                        .prepare_cached(
                            "SELECT id FROM sessions WHERE project_id = ?1 AND session_id = ?2",
                        )?
                        .query_row(params![pid, sid], |r| r.get::<_, i64>(0))
                        .optional()?;
                    let id = match stored {
                        Some(id) => id,
                        None => tx
                            .prepare_cached(
                                "INSERT INTO sessions (project_id, session_id) VALUES (?1, ?2)
                                 RETURNING id",
                            )?
                            .query_row(params![pid, sid], |r| r.get::<_, i64>(0))?,
                    };
                    recent.sessions.learn_row(pid, sid, id);
                    id
                }
            }),
        };
        // A stored trace that stays in its session, giving it every filter
        // row it gave, may be taken out of its sums and added back as a new
        // trace is.
        let may_stay =
            trace.row.stored && old.is_some() && old == new_session && held.kept_by(&summary);
        // Kept while its root is to come: the write that brings it reads
        // nothing back.
        let kept = if summary.root_span_id.is_none() {
            let mut all = kept;
            all.extend(new.iter().map(|n| KeptSpan::read(n.facts.clone(), n.ids)));
            let bytes = recent::shed(&mut all);
            (holding + bytes <= RECENT_MAX_BYTES).then(|| {
                holding += bytes;
                (all, bytes)
            })
        } else {
            None
        };
        summarized.push((trace, summary, old, new_session, may_stay, kept));
    }
    // Taken out together (one statement, however many traces of a session
    // stay), before any is stored anew.
    let staying: Vec<i64> = summarized
        .iter()
        .filter(|s| s.4)
        .map(|s| s.0.row.rowid)
        .collect();
    let taken = take_out_of_sessions(&mut SqliteTx(tx), &staying)?;
    // The rows new traces give their sessions, learned once stored.
    let mut learned = Vec::new();
    let mut trace_rows = RowBatch::new(tx, &TRACE_UPSERTS);
    for (trace, summary, old, new, may_stay, kept) in summarized {
        let given = RowsGiven {
            user_id: summary.user_id.clone(),
            tags: json_text(&summary.tags),
            metadata: json_text(&summary.metadata),
        };
        let [input_text, output_text] =
            upsert_trace(tx, &mut trace_rows, &trace, &summary, &given, new, texts)?;
        let stays = may_stay && old.is_some_and(|session| taken.contains(&session));
        if trace.row.stored && !stays {
            changed.extend(old);
            changed.extend(new);
        } else {
            new_traces.push(trace.row.rowid);
            if let Some(session) = new {
                if !recent.sessions.hold(session, &given) {
                    filter_rows_of.push(trace.row.rowid);
                }
                learned.push((session, given));
            }
        }
        sessions.extend(old);
        sessions.extend(new);
        if let Some((spans, bytes)) = kept {
            recent.keep(
                trace.row.rowid,
                RecentTrace {
                    project_id: trace.project_id,
                    trace_id: trace.trace_id,
                    session_rowid: new,
                    input_text,
                    output_text,
                    held: FilterHeld {
                        user_id: summary.user_id,
                        tags: summary.tags,
                        metadata: summary.metadata,
                    },
                    spans,
                },
                bytes,
            );
        }
    }
    trace_rows.flush()?;
    // References added first: a text both released and taken again (a trace
    // re-derived with the same input) must not reach zero on the way.
    texts.flush(tx)?;
    texts::release(&mut SqliteTx(tx), released)?;
    let touched = TouchedSessions {
        all: sessions.into_iter().collect(),
        changed: changed.into_iter().collect(),
        new_traces,
        filter_rows_of,
    };
    refresh_sessions(&mut SqliteTx(tx), &touched)?;
    // A changed session's rows no trace gives any more were deleted; every
    // session a new trace joined now holds its rows. (If the transaction
    // rolls back, the writer forgets all of it.)
    for session in &touched.changed {
        recent.sessions.forget_session(*session);
    }
    for (session, given) in learned {
        recent.sessions.learn(session, given);
    }
    Ok(())
}

/// The facts of a trace's stored GenAI events.
fn load_event_facts(
    tx: &Connection,
    project_id: i64,
    trace_id: &[u8; 16],
) -> Result<Vec<EventFacts>, StoreError> {
    SqliteTx(tx)
        .query(
            &format!(
                "SELECT {} FROM span_events WHERE project_id = $1 AND trace_id = $2",
                EVENT_FACT_COLUMNS.join(", ")
            ),
            &[project_id.into(), trace_id[..].into()],
        )?
        .iter_mut()
        .map(event_facts_row)
        .collect()
}

/// Stores GenAI events (a re-sent one is skipped) and re-summarizes the
/// stored traces they belong to; an event whose span has not arrived waits
/// for it (the span's write reads it).
pub(super) fn write_events(
    tx: &Connection,
    events: &[EventRecord],
    texts: &mut Texts,
    recent: &mut RecentTraces,
) -> Result<WriteOutcome, StoreError> {
    let mut outcome = WriteOutcome::default();
    let mut projects = HashMap::new();
    let mut touched = Touched::default();
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO span_events (project_id, trace_id, span_id, digest, time_ns, seq,
            name, user_message, reply, attributes, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for e in events {
        let pid = project_id(tx, &e.project, &mut projects)?;
        let f = &e.facts;
        let changed = insert.execute(params![
            pid,
            &e.trace_id[..],
            &f.span_id[..],
            e.digest,
            f.time_ns,
            f.seq,
            e.name,
            f.user_message,
            f.reply,
            json_text(&e.attributes),
            json_text(&e.body),
        ])?;
        if changed == 0 {
            outcome.duplicates += 1;
            continue;
        }
        outcome.inserted += 1;
        if let Some(rowid) = stored_trace(tx, pid, &e.trace_id)? {
            let stored = TraceRow {
                rowid,
                stored: true,
            };
            touched.touch(pid, &e.trace_id, stored);
        }
    }
    resummarize(tx, touched, texts, recent)?;
    Ok(outcome)
}

/// How this backend keeps spans, for the shared queries.
pub struct Spans;

/// The columns [`read_spans`] reads, from `spans`: [`SPAN_INFO_COLUMNS`], then
/// the body's JSON, `text_refs, id, trace_id`.
fn span_columns() -> String {
    format!("{SPAN_INFO_COLUMNS}, oi_body(body), text_refs, id, trace_id")
}

/// Spans with their attributes rebuilt from body and texts, as (row id, trace
/// id, span), from rows of [`span_columns`].
fn read_spans(
    tx: &mut dyn SqlTx,
    rows: Vec<crate::store::sql::SqlRow>,
) -> Result<Vec<(i64, [u8; 16], SpanInfo)>, StoreError> {
    let mut decoded = Vec::with_capacity(rows.len());
    let mut wanted = BTreeSet::new();
    for r in &rows {
        let body = parse_body(r.blob(8)?)?;
        let ids = unpack_ids(r.blob(9)?)?;
        if ids.len() != body.k.len() {
            return Err(StoreError::Corrupt("text refs".to_owned()));
        }
        wanted.extend(ids.iter().copied());
        decoded.push((body, ids));
    }
    let mut texts: HashMap<i64, String> = HashMap::new();
    if !wanted.is_empty() {
        let sql = format!(
            "SELECT id, oi_text(body) FROM texts WHERE id {}",
            tx.dialect().in_ints("$1")
        );
        for mut r in tx.query(&sql, &[SqlValue::IntList(wanted.into_iter().collect())])? {
            texts.insert(r.int(0)?, r.text(1)?);
        }
    }
    let mut spans = Vec::with_capacity(rows.len());
    for (mut r, (body, ids)) in rows.into_iter().zip(decoded) {
        let mut attributes = body.a;
        for (key, id) in body.k.into_iter().zip(ids) {
            let text = texts
                .get(&id)
                .ok_or_else(|| StoreError::Corrupt(format!("text {id} missing")))?;
            attributes.insert(key, Value::String(text.clone()));
        }
        attributes.sort_keys();
        let span = span_row(&mut r, attributes, body.e)?;
        spans.push((r.int(10)?, r.id(11)?, span));
    }
    Ok(spans)
}

/// Deletes the spans matching `condition` and releases their texts and those
/// of the traces matching `traces` (both over `args`; the caller deletes those
/// traces next): what is left behind is only the texts another span or trace
/// still uses.
fn delete_spans_where(
    tx: &mut dyn SqlTx,
    condition: &str,
    traces: &str,
    args: &[SqlValue],
) -> Result<(), StoreError> {
    let mut released: BTreeMap<i64, i64> = BTreeMap::new();
    // The traces' rows go next (the caller deletes them): their references
    // go now.
    for r in tx.query(
        &format!("SELECT input_text, output_text FROM traces WHERE {traces}"),
        args,
    )? {
        for i in 0..2 {
            if let Some(id) = r.opt_int(i)? {
                *released.entry(id).or_default() += 1;
            }
        }
    }
    for r in tx.query(
        &format!(
            "SELECT input_text, output_text, last_user_text, reply_text, text_refs
             FROM spans WHERE {condition}"
        ),
        args,
    )? {
        let mut ids: Vec<i64> = (0..4)
            .map(|i| r.opt_int(i))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        ids.extend(unpack_ids(r.blob(4)?)?);
        for id in ids {
            *released.entry(id).or_default() += 1;
        }
    }
    tx.execute(&format!("DELETE FROM spans WHERE {condition}"), args)?;
    texts::release(tx, released)
}

impl SpanTables for Spans {
    fn of_traces(project: &str, trace_ids: &str) -> String {
        format!(
            "s.trace_rowid IN (SELECT id FROM traces WHERE project_id = {project}
                AND trace_id {trace_ids})"
        )
    }

    /// Every span of a trace with its attributes rebuilt from body and texts.
    fn spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<Vec<SpanInfo>, StoreError> {
        let rows = tx.query(
            &format!(
                "SELECT {} FROM spans
                 WHERE trace_rowid = (SELECT id FROM traces WHERE project_id = $1 AND trace_id = $2)
                 ORDER BY start_ns, span_id",
                span_columns()
            ),
            &[project_id.into(), trace_id[..].into()],
        )?;
        Ok(read_spans(tx, rows)?
            .into_iter()
            .map(|(_, _, span)| span)
            .collect())
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
        let rows = tx.query(&sql, &[SqlValue::IntList(rowids.to_vec())])?;
        read_spans(tx, rows)
    }

    fn lock_session_for_delete(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_id: &str,
    ) -> Result<i64, StoreError> {
        // The single writer holds the database: a lookup is enough.
        tx.query_opt(
            "SELECT id FROM sessions WHERE project_id = $1 AND session_id = $2",
            &[project_id.into(), session_id.into()],
        )?
        .ok_or(StoreError::NotFound("session"))?
        .int(0)
    }

    /// Deletes the spans of a session's traces and releases their texts: a
    /// deleted conversation leaves no text behind unless another span still uses
    /// it.
    fn delete_spans_of_session(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_rowid: i64,
    ) -> Result<(), StoreError> {
        delete_spans_where(
            tx,
            "project_id = $1
             AND trace_rowid IN (SELECT id FROM traces WHERE session_rowid = $2)",
            "project_id = $1 AND session_rowid = $2",
            &[project_id.into(), session_rowid.into()],
        )
    }

    fn lock_trace_for_delete(
        _tx: &mut dyn SqlTx,
        _project_id: i64,
        _trace_id: &[u8; 16],
    ) -> Result<(), StoreError> {
        // the single writer holds the database already
        Ok(())
    }

    fn delete_spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<(), StoreError> {
        delete_spans_where(
            tx,
            "trace_rowid = (SELECT id FROM traces WHERE project_id = $1 AND trace_id = $2)",
            "project_id = $1 AND trace_id = $2",
            &[project_id.into(), trace_id[..].into()],
        )
    }

    fn lock_project_for_delete(_: &mut dyn SqlTx, _: i64) -> Result<(), StoreError> {
        // One writer at a time: nothing writes the project meanwhile.
        Ok(())
    }

    fn delete_spans_of_project(tx: &mut dyn SqlTx, project_id: i64) -> Result<(), StoreError> {
        delete_spans_where(
            tx,
            "project_id = $1",
            "project_id = $1",
            &[project_id.into()],
        )
    }
}
