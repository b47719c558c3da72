//! The store's logic, written once over [`SqlTx`]: every read of the API
//! (paging and cursors, filters, session summaries, turns, search), the session
//! aggregates a write recomputes, annotations, deletes, and
//! `impl Store for` every [`SqlBackend`]. A backend contributes its SQL
//! dialect's fragments, its transactions and its span write path; nothing here
//! knows which database runs it.

use std::collections::{BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::evaluations::{self, session_idle_ns, status_at};
use super::retention::Expiring;
use super::sql::{Args, Dialect, Side, SpanTables, SqlBackend, SqlRow, SqlTx, SqlValue};
use super::{
    AnnotationConfig, AnnotationFilter, AnnotationQuery, Backfill, Cursor, EvaluationJob,
    IdleSession, JobCounts, JobOutcome, JobQuery, NewJob, Order, PageQuery, ParentFilter,
    ProjectSettings, Put, SessionQuery, SessionSort, SessionStatus, SpanQuery, Store, StoreError,
    StoreHealth, StoredEvaluator, TraceQuery, TraceSort, WriteOutcome,
};
use crate::annotation::{
    Annotation, AnnotationSource, AnnotationSummary, AnnotatorKind, NewAnnotation, summarize,
};
use crate::ids;
use crate::model::{
    EventFacts, EventRecord, Io, Latency, Page, ProjectInfo, ProjectSpan, SessionInfo,
    SessionTrace, SpanFacts, SpanInfo, SpanKind, SpanRecord, SpanStatus, TraceDetail, TraceInfo,
    TraceSpan, TraceStatus, TraceSummary, Turn, hex, rfc3339,
};

/// Largest page a backend returns, whatever the caller asks (the API bounds
/// pages lower still).
pub const MAX_PAGE: usize = 10_000;

fn page_limit(page: &PageQuery) -> usize {
    page.limit.clamp(1, MAX_PAGE)
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

fn decode_cursor(page: &PageQuery, scope: &str) -> Result<Option<Cursor>, StoreError> {
    page.cursor
        .as_deref()
        .map(|c| Cursor::decode(c, scope))
        .transpose()
}

/// The `(sort value, row id)` keyset condition after a cursor, and the order
/// clause, over `column` and `id`.
fn keyset(
    a: &mut Args,
    cursor: Option<&Cursor>,
    value: impl FnOnce(&str) -> Result<SqlValue, StoreError>,
    column: &str,
    id: &str,
    order: Order,
    limit: usize,
) -> Result<(String, String), StoreError> {
    let (cmp, dir) = match order {
        Order::Asc => (">", "ASC"),
        Order::Desc => ("<", "DESC"),
    };
    let after = match cursor {
        Some(c) => {
            let v = a.add(value(&c.value)?);
            format!(" AND ({column}, {id}) {cmp} ({v}, {})", a.add(c.id))
        }
        None => String::new(),
    };
    let order_by = format!(
        " ORDER BY {column} {dir}, {id} {dir} LIMIT {}",
        a.add(limit as i64 + 1)
    );
    Ok((after, order_by))
}

fn int_value(v: &str) -> Result<SqlValue, StoreError> {
    v.parse::<i64>()
        .map(SqlValue::Int)
        .map_err(|_| StoreError::InvalidCursor)
}

fn real_value(v: &str) -> Result<SqlValue, StoreError> {
    v.parse::<f64>()
        .map(SqlValue::Real)
        .map_err(|_| StoreError::InvalidCursor)
}

/// The column of `sessions s` a sort orders by.
fn sort_column(sort: SessionSort) -> &'static str {
    match sort {
        SessionSort::StartTime => "s.start_ns",
        SessionSort::EndTime => "s.end_ns",
        SessionSort::NumTraces => "s.num_traces",
        SessionSort::TotalTokens => "s.total_tokens",
        SessionSort::TotalCost => "s.cost_total",
        SessionSort::Duration => "s.duration_ns",
        SessionSort::LastActivity => "s.last_activity_ns",
        // built with its annotation's name in `list_sessions`
        SessionSort::AnnotationScore => "s.id",
    }
}

/// Text search is case-insensitive by Unicode lowercase, the same in every
/// backend: what is searched is stored lowercased ([`search_texts`]), and the
/// pattern is lowercased here.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// What the text search `q` looks in for a trace: its turn input and its turn
/// output, lowercased (`traces.search_input`, `traces.search_output`).
pub fn search_texts(summary: &TraceSummary) -> (Option<String>, Option<String>) {
    let fold = |io: &Option<Io>| io.as_ref().map(|io| fold_case(&io.value));
    (fold(&summary.input), fold(&summary.output))
}

/// The trigrams of folded texts the text search's index keeps, sorted and
/// distinct. A text's trigrams are every three consecutive characters whose
/// middle one is not whitespace, as an `i32` (three ASCII characters packed
/// exactly, 7 bits each, so never negative; any other three hashed with
/// 32-bit FNV-1a over their code points, the sign bit set). The ones spanning
/// two words (`"d a"`) are left out: a third of a text's distinct trigrams
/// and of the index's work for little selectivity; a word's start and end
/// (`" ac"`, `"nd "`) stay.
///
/// Of those, only the least (by [`trigram_rank`]) of every
/// [`TRIGRAM_WINDOW`] consecutive ones is kept ("winnowing", as document
/// fingerprinting does): about half of them, and each kept one is an entry
/// of the index's that every new trace writes (the index was a sixth of
/// PostgreSQL's CPU a span). The same function applied to a search's folded
/// `q` gives trigrams every text holding `q` keeps too: each window of `q`'s
/// trigrams is one of the text's, with the same least. A `q` of fewer than
/// [`TRIGRAM_WINDOW`] trigrams (under five characters) has none, and scans;
/// a text of fewer has none either, and no `q` the index could answer is in
/// it. An index of every trigram (how traces were stored before) holds these
/// too: old rows are found the same. Stored (PostgreSQL's
/// `traces.search_trigrams`): the encoding, the rank and the window must
/// never change.
pub fn search_trigrams(texts: &[&str]) -> Vec<i32> {
    let mut kept: Vec<i32> = Vec::new();
    // A text's trigrams in order, each with its rank.
    let mut run: Vec<(u32, i32)> = Vec::with_capacity(256);
    for text in texts {
        run.clear();
        let mut chars = text.chars();
        let (Some(mut first), Some(mut middle)) = (chars.next(), chars.next()) else {
            continue;
        };
        for last in chars {
            if !middle.is_whitespace() {
                let t = trigram([first, middle, last]);
                run.push((trigram_rank(t), t));
            }
            (first, middle) = (middle, last);
        }
        let mut last_kept = usize::MAX;
        for start in 0..(run.len() + 1).saturating_sub(TRIGRAM_WINDOW) {
            // The first least of the window: equal ranks are equal trigrams.
            let least = (start + 1..start + TRIGRAM_WINDOW)
                .fold(start, |at, i| if run[i].0 < run[at].0 { i } else { at });
            // Neighbouring windows mostly share theirs: pushed once.
            if least != last_kept {
                kept.push(run[least].1);
                last_kept = least;
            }
        }
    }
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// How many consecutive trigrams of a text [`search_trigrams`] keeps the
/// least of: every `q` of at least this many trigrams has one in the index;
/// the index holds about `2 / (window + 1)` of a text's trigrams. Stored:
/// never changes.
pub const TRIGRAM_WINDOW: usize = 3;

/// The order [`search_trigrams`] picks trigrams by: a bijection of the 32
/// bits (an odd multiplier, then the high half folded into the low), so
/// different trigrams never tie and packed ASCII ones are spread. Stored:
/// never changes.
fn trigram_rank(trigram: i32) -> u32 {
    let x = (trigram as u32).wrapping_mul(0x9e37_79b1);
    x ^ (x >> 16)
}

/// One trigram as [`search_trigrams`] stores it.
fn trigram(chars: [char; 3]) -> i32 {
    if chars.iter().all(char::is_ascii) {
        (chars[0] as i32) << 14 | (chars[1] as i32) << 7 | chars[2] as i32
    } else {
        let mut h: u32 = 0x811c_9dc5;
        for c in chars {
            h = (h ^ c as u32).wrapping_mul(0x0100_0193);
        }
        (h | 0x8000_0000) as i32
    }
}

/// Migration step: fills the search columns of traces stored before they
/// existed.
pub fn backfill_search_text(tx: &mut dyn SqlTx) -> Result<(), StoreError> {
    let rows = tx.query("SELECT id, input_value, output_value FROM traces", &[])?;
    for mut r in rows {
        let fold = |v: Option<String>| v.map(|v| fold_case(&v));
        let (input, output) = (fold(r.opt_text(1)?), fold(r.opt_text(2)?));
        tx.execute(
            "UPDATE traces SET search_input = $1, search_output = $2 WHERE id = $3",
            &[input.into(), output.into(), r.int(0)?.into()],
        )?;
    }
    Ok(())
}

/// Whether the backend's trigram index holds a search's trigrams for at
/// least [`COMMON_SEARCH_TRACES`] of a project's traces (`false` where there
/// is no index): then its sessions are many and a page of them is found
/// sooner by looking at sessions in order than by collecting every match.
fn is_common(tx: &mut dyn SqlTx, pid: i64, trigrams: &[i32]) -> Result<bool, StoreError> {
    let mut a = Args::default();
    let pid = a.add(pid);
    let Some(indexed) = tx.dialect().search_index(trigrams, &mut a) else {
        return Ok(false);
    };
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM traces t WHERE t.project_id = {pid} AND {indexed}
         LIMIT {COMMON_SEARCH_TRACES}) c"
    );
    let found = tx
        .query(&sql, &a.0)?
        .first_mut()
        .map(|r| r.int(0))
        .transpose()?;
    Ok(found.unwrap_or(0) >= COMMON_SEARCH_TRACES)
}

/// How many traces a search's trigrams may be in before its sessions are
/// looked for in the list's order ([`is_common`]). At 100,000 light traces,
/// a `q` in a sixth of them took 200-260 ms collected through the index,
/// one in none 2-5 ms.
const COMMON_SEARCH_TRACES: i64 = 2_000;

/// `%q%` for `LIKE ... ESCAPE '\'`, lowercased, with `%`, `_` and `\` escaped.
fn like_pattern(q: &str) -> String {
    let q = fold_case(q);
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

/// A stored span kind name.
pub fn span_kind(name: &str) -> Result<SpanKind, StoreError> {
    SpanKind::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown span kind {name:?}")))
}

/// The nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn io_from(value: Option<String>, mime: Option<String>, raw: Option<String>) -> Option<Io> {
    value.map(|value| Io {
        value,
        mime_type: mime.unwrap_or_else(|| "text/plain".to_owned()),
        raw_value: raw,
    })
}

/// Wall-clock now, Unix nanoseconds, moved by [`set_clock_offset`].
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
        .saturating_add(CLOCK_OFFSET_NS.load(std::sync::atomic::Ordering::Relaxed))
}

/// How far this process's clock is moved, ns (`serve --clock-offset`).
static CLOCK_OFFSET_NS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves the server's clock (every time it stamps or compares: arrivals,
/// idleness, retention) by `ns`. For tests that need time to pass (a
/// retention of a day, tested in a second); set once at start-up.
pub fn set_clock_offset(ns: i64) {
    CLOCK_OFFSET_NS.store(ns, std::sync::atomic::Ordering::Relaxed);
}

/// The row id of a project.
pub fn project_rowid(tx: &mut dyn SqlTx, project: &str) -> Result<i64, StoreError> {
    tx.query_opt("SELECT id FROM projects WHERE name = $1", &[project.into()])?
        .ok_or(StoreError::NotFound("project"))?
        .int(0)
}

/// The columns [`session_row`] reads, from `sessions s`.
const SESSION_COLS: &str = "s.id, s.session_id, s.start_ns, s.end_ns, s.num_traces,
    s.num_traces_with_error, s.prompt_tokens, s.completion_tokens, s.total_tokens,
    s.cost_prompt, s.cost_completion, s.cost_total, s.last_activity_ns";

/// The columns of [`SESSION_COLS`]: the column after them is the sort value.
const SESSION_COL_COUNT: usize = 13;

/// When sessions of a project count as idle: last active at or before this
/// instant (Unix ns).
#[derive(Debug, Clone, Copy)]
struct IdleCutoff {
    now: i64,
    idle_ns: i64,
}

impl IdleCutoff {
    fn of(tx: &mut dyn SqlTx, pid: i64, default_idle_ns: i64) -> Result<Self, StoreError> {
        Ok(IdleCutoff {
            now: now_ns(),
            idle_ns: session_idle_ns(tx, pid, default_idle_ns)?,
        })
    }

    /// The last activity at or before which a session is idle.
    fn at(self) -> i64 {
        self.now.saturating_sub(self.idle_ns)
    }
}

fn session_row(
    r: &mut SqlRow,
    project: &str,
    cutoff: IdleCutoff,
) -> Result<(i64, SessionInfo), StoreError> {
    let (start, end) = (r.int(2)?, r.int(3)?);
    let session_id = r.text(1)?;
    let token_count = r.tokens(6)?;
    let last_activity = r.int(12)?;
    Ok((
        r.int(0)?,
        SessionInfo {
            id: ids::session(project, &session_id),
            session_id,
            project: project.to_owned(),
            project_id: ids::project(project),
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            duration_ms: (end - start) as f64 / 1e6,
            num_traces: r.int(4)?,
            num_traces_with_error: r.int(5)?,
            user_ids: Vec::new(),
            tags: Vec::new(),
            metadata: Map::new(),
            first_input: None,
            last_output: None,
            token_count,
            token_count_prompt: token_count.prompt,
            token_count_completion: token_count.completion,
            token_count_total: token_count.total,
            cost: r.cost(9)?,
            latency_ms: Latency::default(),
            traces: Vec::new(),
            annotations: Vec::new(),
            last_activity: rfc3339(last_activity),
            last_activity_ns: last_activity,
            status: status_at(last_activity, cutoff.idle_ns, cutoff.now),
        },
    ))
}

/// The row id of a session; `NotFound("session")` when there is none.
fn session_rowid(tx: &mut dyn SqlTx, pid: i64, session_id: &str) -> Result<i64, StoreError> {
    tx.query_opt(
        "SELECT id FROM sessions WHERE project_id = $1 AND session_id = $2",
        &[pid.into(), session_id.into()],
    )?
    .ok_or(StoreError::NotFound("session"))?
    .int(0)
}

/// A session by id, with its row id (summaries not filled).
fn session_lookup(
    tx: &mut dyn SqlTx,
    pid: i64,
    project: &str,
    session_id: &str,
    default_idle_ns: i64,
) -> Result<(i64, SessionInfo), StoreError> {
    let cutoff = IdleCutoff::of(tx, pid, default_idle_ns)?;
    let mut row = tx
        .query_opt(
            &format!(
                "SELECT {SESSION_COLS} FROM sessions s WHERE s.project_id = $1 AND s.session_id = $2"
            ),
            &[pid.into(), session_id.into()],
        )?
        .ok_or(StoreError::NotFound("session"))?;
    session_row(&mut row, project, cutoff)
}

/// The columns [`trace_row`] reads, from `traces t`.
fn trace_cols(tx: &dyn SqlTx) -> String {
    let d = tx.dialect();
    let (input, output) = (d.trace_io(Side::Input), d.trace_io(Side::Output));
    format!(
        "t.id, t.trace_id, t.session_id, t.session_conflicts, t.start_ns, t.end_ns, t.has_error,
         t.user_id, t.root_span_id, {}, {}, {}, {}, {}, {}, t.prompt_tokens, t.completion_tokens,
         t.total_tokens, t.cost_prompt, t.cost_completion, t.cost_total, t.span_count",
        input.value, input.mime, input.raw, output.value, output.mime, output.raw
    )
}

fn trace_row(r: &mut SqlRow, project: &str) -> Result<(i64, TraceInfo), StoreError> {
    let (start, end) = (r.int(4)?, r.int(5)?);
    let trace_id = hex(r.blob(1)?);
    let token_count = r.tokens(15)?;
    Ok((
        r.int(0)?,
        TraceInfo {
            id: ids::trace(project, &trace_id),
            trace_id,
            project: project.to_owned(),
            project_id: ids::project(project),
            session_id: r.opt_text(2)?,
            session_conflicts: r.json(3)?,
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            latency_ms: (end - start) as f64 / 1e6,
            status: TraceStatus::of(r.bool(6)?),
            user_id: r.opt_text(7)?,
            root_span_id: r.opt_blob(8)?.map(hex),
            input: io_from(r.opt_text(9)?, r.opt_text(10)?, r.opt_text(11)?),
            output: io_from(r.opt_text(12)?, r.opt_text(13)?, r.opt_text(14)?),
            token_count,
            token_count_prompt: token_count.prompt,
            token_count_completion: token_count.completion,
            token_count_total: token_count.total,
            cost: r.cost(18)?,
            span_count: r.int(21)?,
        },
    ))
}

/// The expression of `traces t` a trace sort orders by (an integer).
fn trace_sort_column(sort: TraceSort) -> &'static str {
    match sort {
        TraceSort::StartTime => "t.start_ns",
        TraceSort::LatencyMs => "(t.end_ns - t.start_ns)",
    }
}

/// Finishes a trace list query (`sql` selects [`trace_cols`] then the sort
/// value `column`, its conditions so far bound in `a`), ordered by `column` and
/// paged after `cursor`.
#[allow(clippy::too_many_arguments)]
fn trace_page(
    tx: &mut dyn SqlTx,
    project: &str,
    mut sql: String,
    mut a: Args,
    column: &str,
    cursor: Option<&Cursor>,
    order: Order,
    limit: usize,
    scope: &str,
) -> Result<(Vec<TraceInfo>, Option<String>), StoreError> {
    let (after, order_by) = keyset(&mut a, cursor, int_value, column, "t.id", order, limit)?;
    sql.push_str(&after);
    sql.push_str(&order_by);
    let rows = tx
        .query(&sql, &a.0)?
        .into_iter()
        .map(|mut r| {
            let value = r.int(22)?.to_string();
            trace_row(&mut r, project).map(|(id, t)| (id, value, t))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let (data, next) = paged(rows, limit, scope);
    Ok((data.into_iter().map(|(_, t)| t).collect(), next))
}

/// The columns of `spans` that [`span_row`] reads first, in its order.
pub const SPAN_INFO_COLUMNS: &str =
    "span_id, parent_span_id, name, kind, status_code, status_message, start_ns, end_ns";

/// A span from the [`SPAN_INFO_COLUMNS`] at the start of a row, with its
/// attributes and events as the backend decoded them.
pub fn span_row(
    r: &mut SqlRow,
    attributes: Map<String, Value>,
    events: Vec<Value>,
) -> Result<SpanInfo, StoreError> {
    Ok(SpanInfo {
        span_id: hex(r.blob(0)?),
        parent_span_id: r.opt_blob(1)?.map(hex),
        name: r.text(2)?,
        kind: span_kind(&r.text(3)?)?,
        status: SpanStatus::from_code(r.int(4)?),
        status_message: r.text(5)?,
        start_time: rfc3339(r.int(6)?),
        end_time: rfc3339(r.int(7)?),
        attributes,
        events,
        step: None,
    })
}

/// The columns of `spans` that [`facts_row`] reads, in its order; a backend
/// that stores some of them elsewhere selects equivalents in this order.
pub const FACT_COLUMNS: &[&str] = &[
    "span_id",
    "parent_span_id",
    "start_ns",
    "end_ns",
    "status_code",
    "session_id",
    "user_id",
    "oi_kind",
    "is_llm",
    "input_value",
    "input_mime",
    "output_value",
    "output_mime",
    "last_user",
    "reply",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_prompt",
    "cost_completion",
    "cost_total",
    "tags",
    "metadata",
];

/// A span's facts from the [`FACT_COLUMNS`] starting at column `at`.
pub fn facts_row(r: &mut SqlRow, at: usize) -> Result<SpanFacts, StoreError> {
    Ok(SpanFacts {
        span_id: r.id(at)?,
        parent_span_id: r.opt_id(at + 1)?,
        start_ns: r.int(at + 2)?,
        end_ns: r.int(at + 3)?,
        status_code: i32::try_from(r.int(at + 4)?)
            .map_err(|_| StoreError::Corrupt("status code out of range".to_owned()))?,
        session_id: r.opt_text(at + 5)?,
        user_id: r.opt_text(at + 6)?,
        oi_kind: r.opt_text(at + 7)?,
        is_llm: r.bool(at + 8)?,
        input_value: r.opt_text(at + 9)?,
        input_mime: r.opt_text(at + 10)?,
        output_value: r.opt_text(at + 11)?,
        output_mime: r.opt_text(at + 12)?,
        user_text: r.opt_text(at + 13)?,
        reply_text: r.opt_text(at + 14)?,
        tokens: r.tokens(at + 15)?,
        cost: r.cost(at + 18)?,
        tags: r.json(at + 21)?,
        metadata: r.json(at + 22)?,
    })
}

/// The columns of `span_events` that [`event_facts_row`] reads, in its order.
pub const EVENT_FACT_COLUMNS: &[&str] = &["span_id", "time_ns", "seq", "user_message", "reply"];

/// An event's facts from the [`EVENT_FACT_COLUMNS`].
pub fn event_facts_row(r: &mut SqlRow) -> Result<EventFacts, StoreError> {
    Ok(EventFacts {
        span_id: r.id(0)?,
        time_ns: r.int(1)?,
        seq: r.int(2)?,
        user_message: r.opt_text(3)?,
        reply: r.opt_text(4)?,
    })
}

/// Adds the GenAI events sent as log records to the spans they belong to,
/// each span's events in time order.
fn add_logged_events(
    tx: &mut dyn SqlTx,
    project_id: i64,
    trace_id: &[u8; 16],
    spans: &mut [SpanInfo],
) -> Result<(), StoreError> {
    let rows = tx.query(
        "SELECT span_id, time_ns, name, attributes, body FROM span_events
         WHERE project_id = $1 AND trace_id = $2 ORDER BY time_ns, seq, id",
        &[project_id.into(), trace_id[..].into()],
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let at: HashMap<String, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.clone(), i))
        .collect();
    for mut r in rows {
        let Some(&i) = at.get(&hex(r.blob(0)?)) else {
            continue;
        };
        let event = serde_json::json!({
            "name": r.text(2)?,
            "time": rfc3339(r.int(1)?),
            "attributes": r.json::<Value>(3)?,
            "body": r.json::<Value>(4)?,
        });
        spans[i].events.push(event);
    }
    for span in spans.iter_mut() {
        // RFC 3339 with nanoseconds sorts as text; the sort is stable, so
        // events of one instant keep their order.
        span.events
            .sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
    }
    Ok(())
}

/// Fills what session rows do not hold from their traces and annotations: a
/// few queries for a whole page, not a few per session. The turn input and
/// output are read only where the page shows them (a session's first input,
/// its last output): reading one can mean assembling a stored text.
fn fill_sessions(
    tx: &mut dyn SqlTx,
    pid: i64,
    sessions: &mut [(i64, SessionInfo)],
) -> Result<(), StoreError> {
    if sessions.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = sessions.iter().map(|(id, _)| *id).collect();
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let d = tx.dialect();
    let sql = format!(
        "SELECT t.session_rowid, t.user_id, t.tags, t.metadata, {}, {}, t.id,
                t.end_ns - t.start_ns, t.trace_id, t.start_ns, t.end_ns
         FROM traces t WHERE t.session_rowid {}
         ORDER BY t.session_rowid, t.start_ns, t.id",
        d.trace_io(Side::Input).present,
        d.trace_io(Side::Output).present,
        d.in_ints("$1")
    );
    let mut tags: Vec<BTreeSet<String>> = vec![BTreeSet::new(); sessions.len()];
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); sessions.len()];
    // Per session: the trace row holding its first input, its last output.
    let mut first_input: Vec<Option<i64>> = vec![None; sessions.len()];
    let mut last_output: Vec<Option<i64>> = vec![None; sessions.len()];
    for mut r in tx.query(&sql, &[SqlValue::IntList(ids)])? {
        let Some(&i) = at.get(&r.int(0)?) else {
            continue;
        };
        let s = &mut sessions[i].1;
        if let Some(user) = r.opt_text(1)?
            && !s.user_ids.contains(&user)
        {
            s.user_ids.push(user);
        }
        tags[i].extend(r.json::<Vec<String>>(2)?);
        for (k, v) in r.json::<Map<String, Value>>(3)? {
            s.metadata.entry(k).or_insert(v);
        }
        let row = r.int(6)?;
        if r.bool(4)? && first_input[i].is_none() {
            first_input[i] = Some(row);
        }
        if r.bool(5)? {
            last_output[i] = Some(row);
        }
        latencies[i].push(r.int(7)? as f64 / 1e6);
        let trace_id = hex(r.blob(8)?);
        s.traces.push(SessionTrace {
            id: ids::trace(&s.project, &trace_id),
            trace_id,
            start_time: rfc3339(r.int(9)?),
            end_time: rfc3339(r.int(10)?),
        });
    }
    for (side, rows) in [(Side::Input, &first_input), (Side::Output, &last_output)] {
        let wanted: Vec<i64> = rows.iter().flatten().copied().collect();
        if wanted.is_empty() {
            continue;
        }
        let io = d.trace_io(side);
        let sql = format!(
            "SELECT t.id, {}, {}, {} FROM traces t WHERE t.id {}",
            io.value,
            io.mime,
            io.raw,
            d.in_ints("$1")
        );
        let mut found: HashMap<i64, Io> = HashMap::new();
        for mut r in tx.query(&sql, &[SqlValue::IntList(wanted)])? {
            if let Some(value) = io_from(r.opt_text(1)?, r.opt_text(2)?, r.opt_text(3)?) {
                found.insert(r.int(0)?, value);
            }
        }
        for (i, row) in rows.iter().enumerate() {
            let io = row.and_then(|row| found.remove(&row));
            let s = &mut sessions[i].1;
            match side {
                Side::Input => s.first_input = io,
                Side::Output => s.last_output = io,
            }
        }
    }
    let names: Vec<String> = sessions.iter().map(|(_, s)| s.session_id.clone()).collect();
    let mut annotations = annotation_summaries(tx, pid, names)?;
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

/// The sessions a write touched, and how.
#[derive(Debug, Default)]
pub struct TouchedSessions {
    /// Every session a trace of the write is or was in.
    pub all: Vec<i64>,
    /// Of those, the ones a trace stored before left, joined or was
    /// re-derived in: what their traces hold may have changed.
    pub changed: Vec<i64>,
    /// The row ids of the traces the write stored first, and of those stored
    /// before that stay in their session and were taken out of its sums
    /// ([`take_out_of_sessions`]): all the sessions not `changed` gained.
    /// Empty when the sessions already hold their sums (PostgreSQL adds a
    /// write of new traces to its sessions as it creates or locks them).
    pub new_traces: Vec<i64>,
    /// Of the traces the write stored first or kept in their session, those
    /// whose session may lack a filter row they give
    /// (`session_users`, `session_tags`, `session_metadata`). A backend that
    /// knows nothing of what sessions hold lists them all; SQLite's writer
    /// leaves out a trace whose session it knows holds its rows (a chat's
    /// turns repeat their user, tags and metadata).
    pub filter_rows_of: Vec<i64>,
}

/// What a stored trace gives its session's filter rows (`session_users`,
/// `session_tags`, `session_metadata`), as it was before a write summarizes
/// the trace anew.
#[derive(Debug, Default)]
pub struct FilterHeld {
    /// The trace's user (`session_users`).
    pub user_id: Option<String>,
    /// Its tags (`session_tags`).
    pub tags: Vec<String>,
    /// Its metadata (`session_metadata`).
    pub metadata: Map<String, Value>,
}

impl FilterHeld {
    /// From the trace row's `user_id`, `tags` and `metadata` (JSON).
    pub fn from_row(user_id: Option<String>, tags: Value, metadata: Value) -> Self {
        Self {
            user_id,
            tags: serde_json::from_value(tags).unwrap_or_default(),
            metadata: match metadata {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    /// Whether `summary`, the trace summarized anew in the same session,
    /// gives every row this gave: the session then needs only the rows it
    /// adds, as for a new trace.
    pub fn kept_by(&self, summary: &TraceSummary) -> bool {
        (self.user_id.is_none() || self.user_id == summary.user_id)
            && self.tags.iter().all(|t| summary.tags.contains(t))
            && self
                .metadata
                .iter()
                .all(|(k, v)| summary.metadata.get(k) == Some(v))
    }
}

/// Token sums below this are exact whichever way a backend adds them (SQLite
/// adds in floating point, [`super::sql::Dialect::saturating_add`]) and far
/// from saturating: only such sums are taken from.
const EXACT_SUMS_BELOW: i64 = 1 << 52;

/// Takes stored traces that stay in their sessions out of those sessions'
/// counts and token and cost sums, before they are stored anew and added back
/// as new traces are ([`TouchedSessions::new_traces`]): a trace that gained
/// spans changes its session by its difference, where the session was summed
/// over all its traces again (every turn, in a long conversation whose turns
/// arrive in two exports each). Start and end are left: a trace's spans only
/// grow, so its new range covers its old one. Returns the sessions taken
/// from; one whose sums are not [`EXACT_SUMS_BELOW`] is left for the caller
/// to recompute whole ([`TouchedSessions::changed`]).
pub fn take_out_of_sessions(
    tx: &mut dyn SqlTx,
    traces: &[i64],
) -> Result<BTreeSet<i64>, StoreError> {
    if traces.is_empty() {
        return Ok(BTreeSet::new());
    }
    let d = tx.dialect();
    let tokens = ["prompt_tokens", "completion_tokens", "total_tokens"];
    let costs = ["cost_prompt", "cost_completion", "cost_total"];
    let mut set: Vec<String> = vec![
        "num_traces = sessions.num_traces - a.num_traces".to_owned(),
        "num_traces_with_error = sessions.num_traces_with_error - a.num_traces_with_error"
            .to_owned(),
    ];
    let mut sums: Vec<String> = vec![
        "count(*) AS num_traces".to_owned(),
        "count(*) FILTER (WHERE t.has_error) AS num_traces_with_error".to_owned(),
    ];
    let mut exact: Vec<String> = Vec::new();
    for c in tokens {
        set.push(format!("{c} = sessions.{c} - a.{c}"));
        sums.push(format!("{} AS {c}", d.saturating_sum(&format!("t.{c}"))));
        exact.push(format!(
            "sessions.{c} < {EXACT_SUMS_BELOW} AND a.{c} < {EXACT_SUMS_BELOW}"
        ));
    }
    for c in costs {
        set.push(format!(
            "{c} = (round(sessions.{c} * {COST_UNITS}) - a.{c}) / {COST_UNITS}"
        ));
        sums.push(format!("sum(round(t.{c} * {COST_UNITS})) AS {c}"));
    }
    let rows = tx.query(
        &format!(
            "UPDATE sessions SET {}
             FROM (SELECT t.session_rowid AS id, {} FROM traces t
                   WHERE t.id {} AND t.session_rowid IS NOT NULL GROUP BY t.session_rowid) a
             WHERE sessions.id = a.id AND {}
             RETURNING sessions.id",
            set.join(", "),
            sums.join(", "),
            d.in_ints("$1"),
            exact.join(" AND ")
        ),
        &[SqlValue::IntList(traces.to_vec())],
    )?;
    rows.into_iter().map(|r| r.int(0)).collect()
}

/// Brings sessions' aggregates up to date with the write: a `changed`
/// session's recomputed from all its traces, another's grown by its new
/// traces'; a session left without traces (its last one moved away) is
/// deleted.
///
/// A session a write touched is active from now: `last_activity_ns` is the
/// server's clock at the write (arrival, not the spans' own times, so a
/// client's clock or a replay of old spans cannot make a live session idle).
pub fn refresh_sessions(tx: &mut dyn SqlTx, touched: &TouchedSessions) -> Result<(), StoreError> {
    if touched.all.is_empty() {
        return Ok(());
    }
    let d = tx.dialect();
    let list = d.in_ints("$1");
    let now = now_ns();
    // `grow`: the sessions add what traces `traces` add up to to what they
    // held; else that is all they hold.
    let update = |grow: bool, traces: &str| {
        format!(
            "UPDATE sessions SET {}, last_activity_ns = $2
             FROM (SELECT t.session_rowid AS id, {} FROM traces t
                   WHERE {traces} GROUP BY t.session_rowid) a
             WHERE sessions.id = a.id",
            session_sums(d, grow, &|column| format!("a.new_{column}"))
                .iter()
                .map(|(column, value)| format!("{column} = {value}"))
                .collect::<Vec<_>>()
                .join(", "),
            sums_of_traces(d, "t"),
        )
    };
    // A session that only gained traces: what they add to what it held
    // (reading this turn's trace, not the whole conversation's again).
    if !touched.new_traces.is_empty() {
        tx.execute(
            &update(
                true,
                &format!("t.id {list} AND t.session_rowid IS NOT NULL"),
            ),
            // The time is a parameter: the statement's text stays the same,
            // so the prepared statement is reused.
            &[SqlValue::IntList(touched.new_traces.clone()), now.into()],
        )?;
    }
    // A session a trace stored before left, joined or changed in: its
    // aggregates over all its traces again (after the above, which may have
    // added a new trace of it too).
    if !touched.changed.is_empty() {
        tx.execute(
            &update(false, &format!("t.session_rowid {list}")),
            &[SqlValue::IntList(touched.changed.clone()), now.into()],
        )?;
    }
    // The users, tags and metadata of each session (the list's filters read
    // them). A session a trace stored before left, joined or changed in:
    // rows its traces no longer hold go, new ones come (an emptied session's
    // go with it). A session that only gained new traces holds what it held
    // and what they hold: only theirs are added (a turn's trace, not the
    // whole conversation's, read again every turn).
    let metadata_holds = format!("t.metadata <> '{{}}' AND {}", metadata_indexed(d));
    let derived = [
        Derived {
            table: "session_users",
            from: "traces t",
            columns: &[("user_id", "t.user_id")],
            holds: "t.user_id IS NOT NULL",
            // A user id is as cheap to look up as to compare.
            same_rows_if_equal: None,
        },
        Derived {
            table: "session_tags",
            from: d.trace_tags(),
            columns: &[("tag", "j.value")],
            holds: "t.tags <> '[]'",
            same_rows_if_equal: Some("tags"),
        },
        Derived {
            table: "session_metadata",
            from: d.trace_metadata(),
            columns: &[("key", "j.key"), ("value", d.metadata_text())],
            holds: &metadata_holds,
            same_rows_if_equal: Some("metadata"),
        },
    ];
    for Derived {
        table,
        from,
        columns,
        holds,
        same_rows_if_equal,
    } in derived
    {
        let (names, values): (Vec<&str>, Vec<&str>) = columns.iter().copied().unzip();
        let (names, values) = (names.join(", "), values.join(", "));
        let insert = |of: &str| {
            format!(
                "INSERT INTO {table} (project_id, {names}, session_rowid)
                 SELECT DISTINCT t.project_id, {values}, t.session_rowid FROM {from}
                 WHERE {of} AND {holds}
                 ON CONFLICT DO NOTHING"
            )
        };
        if !touched.changed.is_empty() {
            let same = columns
                .iter()
                .map(|(column, value)| format!(" AND {value} = {table}.{column}"))
                .collect::<String>();
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE session_rowid {list}
                     AND NOT EXISTS (SELECT 1 FROM {from}
                         WHERE t.session_rowid = {table}.session_rowid{same})"
                ),
                &[SqlValue::IntList(touched.changed.clone())],
            )?;
            tx.execute(
                &insert(&format!("t.session_rowid {list}")),
                &[SqlValue::IntList(touched.changed.clone())],
            )?;
        }
        if !touched.filter_rows_of.is_empty() {
            // A new trace holding what an earlier trace of its session holds
            // (the same tags, the same metadata: a chat's turns mostly do)
            // brings no row the session lacks: by induction from the
            // session's first trace holding it, whose rows are there. Looking
            // for one is an index probe and a comparison; unpacking the
            // trace's JSON to find nothing new was most of this insert's work.
            let new = match same_rows_if_equal {
                None => String::new(),
                Some(column) => format!(
                    " AND NOT EXISTS (SELECT 1 FROM traces p
                         WHERE p.session_rowid = t.session_rowid
                         AND (p.start_ns, p.id) < (t.start_ns, t.id) AND p.{column} = t.{column})"
                ),
            };
            tx.execute(
                &insert(&format!("t.id {list} AND t.session_rowid IS NOT NULL{new}")),
                &[SqlValue::IntList(touched.filter_rows_of.clone())],
            )?;
        }
    }
    // Only a session a stored trace left can be left without traces (a
    // session that only gained keeps what it had): a write of new turns
    // looks for none.
    if !touched.changed.is_empty() {
        tx.execute(
            &format!(
                "DELETE FROM sessions WHERE id {list}
                 AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.session_rowid = sessions.id)"
            ),
            &[SqlValue::IntList(touched.changed.clone())],
        )?;
    }
    Ok(())
}

/// What traces `{t}` add up to for their session, each sum named `new_` and
/// its column in `sessions` (costs in whole nano-units, each trace's rounded
/// to one): the select list of a `GROUP BY` of them by session.
pub fn sums_of_traces(d: &dyn Dialect, t: &str) -> String {
    format!(
        "min({t}.start_ns) AS new_start_ns, max({t}.end_ns) AS new_end_ns,
         count(*) AS new_num_traces,
         count(*) FILTER (WHERE {t}.has_error) AS new_num_traces_with_error,
         {} AS new_prompt_tokens, {} AS new_completion_tokens, {} AS new_total_tokens,
         sum(round({t}.cost_prompt * {COST_UNITS})) AS new_cost_prompt,
         sum(round({t}.cost_completion * {COST_UNITS})) AS new_cost_completion,
         sum(round({t}.cost_total * {COST_UNITS})) AS new_cost_total",
        d.saturating_sum(&format!("{t}.prompt_tokens")),
        d.saturating_sum(&format!("{t}.completion_tokens")),
        d.saturating_sum(&format!("{t}.total_tokens")),
    )
}

/// A session's aggregate columns and their values from what new traces add
/// up to ([`sums_of_traces`]; `new(column)` the sum of a column, a cost's in
/// nano-units): with `grow`, added to what the session's row held; else all
/// it holds. Sums saturate: no stored count can make a session's total wrap
/// or fail. Costs are summed as whole nano-units: sums of integers do not
/// depend on the order they are added in, so a session grown trace by trace
/// ends with the total of all its traces summed at once, whichever way and
/// in which batches they came.
pub fn session_sums(
    d: &dyn Dialect,
    grow: bool,
    new: &dyn Fn(&str) -> String,
) -> Vec<(&'static str, String)> {
    let (start, end) = match grow {
        true => (
            format!(
                "CASE WHEN sessions.num_traces = 0 OR {0} < sessions.start_ns
                 THEN {0} ELSE sessions.start_ns END",
                new("start_ns")
            ),
            format!(
                "CASE WHEN sessions.num_traces = 0 OR {0} > sessions.end_ns
                 THEN {0} ELSE sessions.end_ns END",
                new("end_ns")
            ),
        ),
        false => (new("start_ns"), new("end_ns")),
    };
    let mut sums = vec![
        ("duration_ns", format!("({end}) - ({start})")),
        ("start_ns", start),
        ("end_ns", end),
    ];
    for column in ["num_traces", "num_traces_with_error"] {
        sums.push((
            column,
            match grow {
                true => format!("sessions.{column} + {}", new(column)),
                false => new(column),
            },
        ));
    }
    for column in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        sums.push((
            column,
            match grow {
                true => d.saturating_add(&format!("sessions.{column}"), &new(column)),
                false => new(column),
            },
        ));
    }
    for column in ["cost_prompt", "cost_completion", "cost_total"] {
        sums.push((
            column,
            match grow {
                true => format!(
                    "(round(sessions.{column} * {COST_UNITS}) + {}) / {COST_UNITS}",
                    new(column)
                ),
                false => format!("{} / {COST_UNITS}", new(column)),
            },
        ));
    }
    sums
}

/// [`session_sums`] growing a session by the row an upsert proposed for it
/// (`excluded`, its costs in units as stored: the same round trip through
/// nano-units a session's stored cost makes when it grows).
pub fn session_sums_grown_by_excluded(d: &dyn Dialect) -> Vec<(&'static str, String)> {
    session_sums(d, true, &|column| match column.starts_with("cost_") {
        true => format!("round(excluded.{column} * {COST_UNITS})"),
        false => format!("excluded.{column}"),
    })
}

/// Nano-units of a currency in one of its units: a session's costs are the
/// sums of its traces' costs rounded to whole nano-units (exact in a 64-bit
/// float up to about nine million units).
const COST_UNITS: &str = "1e9";

/// A table of what a session's traces hold, one row a session and value,
/// re-derived with the session ([`refresh_sessions`]) for the session list's
/// filters.
struct Derived<'a> {
    table: &'a str,
    /// The traces `t` it is derived from (joined with what they hold).
    from: &'a str,
    /// (the table's column, the value in `from` it holds)
    columns: &'a [(&'a str, &'a str)],
    /// Which rows of `from` give a row.
    holds: &'a str,
    /// The trace column (`tags`, `metadata`) that alone gives its rows: two
    /// traces equal in it give the same rows.
    same_rows_if_equal: Option<&'a str>,
}

/// Longest metadata key and value, in characters, that `session_metadata`
/// holds: a filter on a longer one looks at the traces themselves (a query
/// parameter is at most 1 kB: only API callers can ask for one). It keeps an
/// index entry of key and value under PostgreSQL's limit of about 2.7 kB.
pub const INDEXED_METADATA_CHARS: usize = 256;

/// The condition on entry `j` of [`Dialect::trace_metadata`] under which
/// `session_metadata` holds it.
pub fn metadata_indexed(d: &dyn super::sql::Dialect) -> String {
    format!(
        "length(j.key) <= {INDEXED_METADATA_CHARS} AND length({}) <= {INDEXED_METADATA_CHARS}",
        d.metadata_text()
    )
}

/// The columns [`annotation_row`] reads, from `session_annotations`.
const ANNOTATION_COLS: &str = "id, session_id, name, identifier, annotator_kind, label, score,
    explanation, metadata, user_id, created_ns, updated_ns, source,
    evaluated_activity_ns IS NOT NULL AND evaluated_activity_ns < COALESCE(
      (SELECT s.last_activity_ns FROM sessions s
       WHERE s.project_id = session_annotations.project_id
         AND s.session_id = session_annotations.session_id), 0)";

fn annotation_row(r: &mut SqlRow) -> Result<Annotation, StoreError> {
    let kind = r.text(4)?;
    let source = r.text(12)?;
    Ok(Annotation {
        id: r.int(0)?,
        session_id: r.text(1)?,
        name: r.text(2)?,
        identifier: r.text(3)?,
        annotator_kind: AnnotatorKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown annotator kind {kind:?}")))?,
        label: r.opt_text(5)?,
        score: r.opt_real(6)?,
        explanation: r.opt_text(7)?,
        metadata: r.json(8)?,
        user_id: r.opt_text(9)?,
        source: AnnotationSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown annotation source {source:?}")))?,
        created_at: rfc3339(r.int(10)?),
        updated_at: rfc3339(r.int(11)?),
        stale: r.bool(13)?,
    })
}

/// The annotations of a session, oldest first.
fn annotations_of(
    tx: &mut dyn SqlTx,
    project_id: i64,
    session_id: &str,
) -> Result<Vec<Annotation>, StoreError> {
    tx.query(
        &format!(
            "SELECT {ANNOTATION_COLS} FROM session_annotations
             WHERE project_id = $1 AND session_id = $2 ORDER BY created_ns, id"
        ),
        &[project_id.into(), session_id.into()],
    )?
    .iter_mut()
    .map(annotation_row)
    .collect()
}

/// The per-name summaries shown with each of a page of sessions, in one query.
fn annotation_summaries(
    tx: &mut dyn SqlTx,
    pid: i64,
    session_ids: Vec<String>,
) -> Result<HashMap<String, Vec<AnnotationSummary>>, StoreError> {
    let sql = format!(
        "SELECT {ANNOTATION_COLS} FROM session_annotations
         WHERE project_id = $1 AND session_id {} ORDER BY created_ns, id",
        tx.dialect().in_texts("$2")
    );
    let mut by_session: HashMap<String, Vec<Annotation>> = HashMap::new();
    for mut r in tx.query(&sql, &[pid.into(), SqlValue::TextList(session_ids)])? {
        let a = annotation_row(&mut r)?;
        by_session.entry(a.session_id.clone()).or_default().push(a);
    }
    Ok(by_session
        .into_iter()
        .map(|(id, list)| (id, summarize(&list)))
        .collect())
}

/// Creates or replaces annotations, each in its project; any unknown project
/// or session fails the whole call. `evaluated_activity_ns`: the session's
/// last activity an evaluator judged (its verdict is stale once the session
/// has newer traces); `None` for people's and clients' annotations.
pub(super) fn upsert_annotations<'a>(
    tx: &mut dyn SqlTx,
    annotations: impl IntoIterator<Item = (&'a str, &'a NewAnnotation)>,
    evaluated_activity_ns: Option<i64>,
) -> Result<Vec<Annotation>, StoreError> {
    let now = now_ns();
    let sql = format!(
        "INSERT INTO session_annotations
           (project_id, session_id, name, identifier, annotator_kind, label, score,
            explanation, metadata, user_id, created_ns, updated_ns, source, evaluated_activity_ns)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
         ON CONFLICT (project_id, session_id, name, identifier) DO UPDATE SET
           annotator_kind = excluded.annotator_kind, label = excluded.label,
           score = excluded.score, explanation = excluded.explanation,
           metadata = excluded.metadata, user_id = excluded.user_id,
           updated_ns = excluded.updated_ns, source = excluded.source,
           evaluated_activity_ns = excluded.evaluated_activity_ns
         RETURNING {ANNOTATION_COLS}"
    );
    let mut pids: HashMap<&str, i64> = HashMap::new();
    let mut configs: HashMap<(i64, String), Option<AnnotationConfig>> = HashMap::new();
    let mut stored = Vec::new();
    for (index, (project, a)) in annotations.into_iter().enumerate() {
        let pid = match pids.get(project) {
            Some(pid) => *pid,
            None => *pids.entry(project).or_insert(project_rowid(tx, project)?),
        };
        let config = match configs.get(&(pid, a.name.clone())) {
            Some(c) => c.clone(),
            None => {
                let c = annotation_config_of(tx, pid, &a.name)?;
                configs.insert((pid, a.name.clone()), c.clone());
                c
            }
        };
        let checked;
        let a = match config {
            Some(config) => {
                checked = config
                    .apply(a)
                    .map_err(|(field, message)| StoreError::Invalid {
                        index,
                        field,
                        message,
                    })?;
                &checked
            }
            None => a,
        };
        // every session must exist: an annotation of nothing is a mistake
        session_rowid(tx, pid, &a.session_id)?;
        let mut row = tx
            .query_opt(
                &sql,
                &[
                    pid.into(),
                    a.session_id.as_str().into(),
                    a.name.as_str().into(),
                    a.identifier.as_str().into(),
                    a.annotator_kind.as_str().into(),
                    a.label.clone().into(),
                    a.score.into(),
                    a.explanation.clone().into(),
                    SqlValue::Json(Value::Object(a.metadata.clone())),
                    a.user_id.clone().into(),
                    now.into(),
                    a.source.as_str().into(),
                    evaluated_activity_ns.into(),
                ],
            )?
            .ok_or_else(|| StoreError::Backend("upsert returned no row".to_owned()))?;
        stored.push(annotation_row(&mut row)?);
    }
    Ok(stored)
}

/// The session list: filters, sort and keyset paging, then summaries.
fn list_sessions(
    tx: &mut dyn SqlTx,
    project: &str,
    q: &SessionQuery,
    default_idle_ns: i64,
) -> Result<Page<SessionInfo>, StoreError> {
    let scope = format!(
        "sessions:{}:{}:{}",
        q.sort.name(),
        if q.order == Order::Asc { "asc" } else { "desc" },
        if q.sort == SessionSort::AnnotationScore {
            q.annotation.as_deref().unwrap_or("")
        } else {
            ""
        }
    );
    let cursor = decode_cursor(&q.page, &scope)?;
    let limit = page_limit(&q.page);
    let pid = project_rowid(tx, project)?;
    let cutoff = IdleCutoff::of(tx, pid, default_idle_ns)?;
    let d = tx.dialect();
    let mut a = Args::default();
    let pid_p = a.add(pid);
    let column = match (q.sort, q.annotation.as_deref()) {
        // the mean score of the named annotation (the list holds only
        // sessions that have one: see `annotation` below); no index orders
        // by it, so this sort reads the project's sessions that match
        (SessionSort::AnnotationScore, Some(name)) => format!(
            "COALESCE((SELECT avg(an.score) FROM session_annotations an
               WHERE an.project_id = s.project_id AND an.session_id = s.session_id
                 AND an.name = {}), -1e300)",
            a.add(name)
        ),
        (SessionSort::AnnotationScore, None) => {
            return Err(StoreError::Backend(
                "sorting by annotation_score needs an annotation name".to_owned(),
            ));
        }
        (sort, _) => sort_column(sort).to_owned(),
    };
    let mut sql =
        format!("SELECT {SESSION_COLS}, {column} FROM sessions s WHERE s.project_id = {pid_p}");
    if let Some(start) = q.start_ns {
        sql.push_str(&format!(" AND s.end_ns >= {}", a.add(start)));
    }
    if let Some(end) = q.end_ns {
        sql.push_str(&format!(" AND s.start_ns <= {}", a.add(end)));
    }
    if let Some(user) = &q.user_id {
        sql.push_str(&format!(
            " AND s.id IN (SELECT u.session_rowid FROM session_users u
                WHERE u.project_id = {} AND u.user_id = {})",
            a.add(pid),
            a.add(user.as_str())
        ));
    }
    if let Some(tag) = &q.tag {
        sql.push_str(&format!(
            " AND s.id IN (SELECT g.session_rowid FROM session_tags g
                WHERE g.project_id = {} AND g.tag = {})",
            a.add(pid),
            a.add(tag.as_str())
        ));
    }
    for (key, value) in &q.metadata {
        let indexed = [key, value]
            .iter()
            .all(|s| s.chars().count() <= INDEXED_METADATA_CHARS);
        let (key, value) = (a.add(key.as_str()), a.add(value.as_str()));
        let text = d.metadata_text();
        sql.push_str(&if indexed {
            format!(
                " AND s.id IN (SELECT m.session_rowid FROM session_metadata m
                    WHERE m.project_id = {} AND m.key = {key} AND m.value = {value})",
                a.add(pid)
            )
        } else {
            format!(
                " AND EXISTS (SELECT 1 FROM {} WHERE t.session_rowid = s.id
                    AND j.key = {key} AND {text} = {value})",
                d.trace_metadata()
            )
        });
    }
    match q.has_error {
        Some(true) => sql.push_str(" AND s.num_traces_with_error > 0"),
        Some(false) => sql.push_str(" AND s.num_traces_with_error = 0"),
        None => {}
    }
    if let Some(min) = q.min_traces {
        sql.push_str(&format!(" AND s.num_traces >= {}", a.add(min)));
    }
    match q.status {
        Some(SessionStatus::Active) => {
            sql.push_str(&format!(" AND s.last_activity_ns > {}", a.add(cutoff.at())));
        }
        Some(SessionStatus::Idle) => {
            sql.push_str(&format!(
                " AND s.last_activity_ns <= {}",
                a.add(cutoff.at())
            ));
        }
        None => {}
    }
    if let Some(text) = &q.q {
        // the session's id (whole, or its start: ids are pasted from logs),
        // or text the user or the assistant wrote
        let p = a.add(like_pattern(text));
        let (id, len) = (a.add(text.as_str()), a.add(text.chars().count() as i64));
        let matches = format!(
            "(t.search_input LIKE {p} ESCAPE '\\' OR t.search_output LIKE {p} ESCAPE '\\')"
        );
        // Where the backend indexes trigrams, the index narrows the traces
        // `LIKE` looks at (a `q` under three characters has none: it scans).
        let trigrams = search_trigrams(&[&fold_case(text)]);
        let common = !trigrams.is_empty() && is_common(tx, pid, &trigrams)?;
        let narrowed = if trigrams.is_empty() || common {
            None
        } else {
            d.search_index(&trigrams, &mut a)
        };
        let in_traces = match narrowed {
            // Few traces may match: the index finds them all, once.
            Some(narrowed) => format!(
                "EXISTS (SELECT 1 FROM traces t WHERE t.session_rowid = s.id AND {narrowed} AND {matches})"
            ),
            // Many may: each session in the list's order is looked at until
            // the page is full. A scalar subquery, which PostgreSQL cannot
            // turn into the set of every matching trace (what it chose for
            // `EXISTS`, planning as if every session were looked at).
            None if common => format!(
                "(SELECT 1 FROM traces t WHERE t.session_rowid = s.id AND {matches} LIMIT 1) = 1"
            ),
            None => format!(
                "EXISTS (SELECT 1 FROM traces t WHERE t.session_rowid = s.id AND {matches})"
            ),
        };
        sql.push_str(&format!(
            " AND (substr(s.session_id, 1, {len}) = {id} OR {in_traces})"
        ));
    }
    if let Some(name) = &q.annotation {
        let mut conditions = format!("an.name = {}", a.add(name.as_str()));
        if let Some(label) = &q.annotation_label {
            conditions.push_str(&format!(" AND an.label = {}", a.add(label.as_str())));
        }
        if let Some(min) = q.annotation_score_min {
            conditions.push_str(&format!(" AND an.score >= {}", a.add(min)));
        }
        if let Some(max) = q.annotation_score_max {
            conditions.push_str(&format!(" AND an.score <= {}", a.add(max)));
        }
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM session_annotations an
                WHERE an.project_id = s.project_id AND an.session_id = s.session_id AND {conditions})"
        ));
    }
    if let Some(name) = &q.missing_annotation {
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM session_annotations an
                WHERE an.project_id = s.project_id AND an.session_id = s.session_id AND an.name = {})",
            a.add(name.as_str())
        ));
    }
    let value = if matches!(
        q.sort,
        SessionSort::TotalCost | SessionSort::AnnotationScore
    ) {
        real_value
    } else {
        int_value
    };
    let (after, order_by) = keyset(
        &mut a,
        cursor.as_ref(),
        value,
        &column,
        "s.id",
        q.order,
        limit,
    )?;
    sql.push_str(&after);
    sql.push_str(&order_by);
    let rows = tx
        .query(&sql, &a.0)?
        .into_iter()
        .map(|mut r| {
            let value = r.sort_value(SESSION_COL_COUNT)?;
            session_row(&mut r, project, cutoff).map(|(id, s)| (id, value, s))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let (mut data, next_cursor) = paged(rows, limit, &scope);
    fill_sessions(tx, pid, &mut data)?;
    Ok(Page {
        data: data.into_iter().map(|(_, s)| s).collect(),
        next_cursor,
    })
}

/// The projects matching `condition` over `projects p` (its parameters in
/// `args`), by name. Traces are counted and their latest end found through
/// the sessions (each holds its traces' count and latest end, derived in the
/// transaction that changed them) and the traces without a session: over
/// every trace, the project list read them all (at 100,000 traces SQLite
/// 42-67 ms, PostgreSQL 57-67 ms vacuumed, 210 ms right after ingest).
fn project_rows(
    tx: &mut dyn SqlTx,
    condition: &str,
    args: &[SqlValue],
) -> Result<Vec<ProjectInfo>, StoreError> {
    let mut projects = tx
        .query(
            &format!(
                "SELECT p.name,
                    CAST((SELECT coalesce(sum(s.num_traces), 0) FROM sessions s
                       WHERE s.project_id = p.id) AS BIGINT),
                    (SELECT count(*) FROM sessions s WHERE s.project_id = p.id),
                    (SELECT max(e.end_ns) FROM (
                       SELECT max(s.end_ns) AS end_ns FROM sessions s WHERE s.project_id = p.id
                       UNION ALL
                       SELECT max(t.end_ns) FROM traces t
                         WHERE t.project_id = p.id AND t.session_rowid IS NULL) e),
                    (SELECT count(*) FROM traces t
                       WHERE t.project_id = p.id AND t.session_rowid IS NULL),
                    p.description
                 FROM projects p WHERE {condition}"
            ),
            args,
        )?
        .into_iter()
        .map(|mut r| {
            let name = r.text(0)?;
            let (in_sessions, without_session) = (r.int(1)?, r.int(4)?);
            Ok(ProjectInfo {
                id: ids::project(&name),
                name,
                description: r.opt_text(5)?,
                trace_count: in_sessions.saturating_add(without_session),
                session_count: r.int(2)?,
                last_activity: r.opt_int(3)?.map(rfc3339),
                traces_without_session: without_session,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Byte order, the same in every backend whatever its collation.
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(projects)
}

fn one_project(tx: &mut dyn SqlTx, project: &str) -> Result<ProjectInfo, StoreError> {
    project_rows(tx, "p.name = $1", &[project.into()])?
        .pop()
        .ok_or(StoreError::NotFound("project"))
}

/// Deletes a session of a project with its traces, spans, events and
/// annotations.
fn delete_session_in<B: SqlBackend>(
    tx: &mut dyn SqlTx,
    pid: i64,
    session_id: &str,
) -> Result<(), StoreError> {
    let rowid = B::Spans::lock_session_for_delete(tx, pid, session_id)?;
    delete_locked_session::<B>(tx, pid, rowid, session_id)
}

/// Deletes a session locked for deletion (row id `rowid`) with everything it
/// holds: spans, events, traces, annotations, evaluation jobs.
fn delete_locked_session<B: SqlBackend>(
    tx: &mut dyn SqlTx,
    pid: i64,
    rowid: i64,
    session_id: &str,
) -> Result<(), StoreError> {
    B::Spans::delete_spans_of_session(tx, pid, rowid)?;
    tx.execute(
        "DELETE FROM span_events WHERE project_id = $1
         AND trace_id IN (SELECT trace_id FROM traces WHERE session_rowid = $2)",
        &[pid.into(), rowid.into()],
    )?;
    tx.execute(
        "DELETE FROM traces WHERE session_rowid = $1",
        &[rowid.into()],
    )?;
    // No foreign key deletes a session's users, tags and metadata with it
    // (PostgreSQL has none).
    for table in ["session_users", "session_tags", "session_metadata"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE session_rowid = $1"),
            &[rowid.into()],
        )?;
    }
    tx.execute("DELETE FROM sessions WHERE id = $1", &[rowid.into()])?;
    tx.execute(
        "DELETE FROM session_annotations WHERE project_id = $1 AND session_id = $2",
        &[pid.into(), session_id.into()],
    )?;
    tx.execute(
        "DELETE FROM evaluation_jobs WHERE project_id = $1 AND session_id = $2",
        &[pid.into(), session_id.into()],
    )?;
    Ok(())
}

/// The OpenInference kind a span is listed under (`UNKNOWN` without one).
pub const UNKNOWN_KIND: &str = "UNKNOWN";

/// Whether an attribute value is the value a span search asks for: numbers
/// compare as numbers (`1` finds `1.0`), everything else as JSON.
pub fn attribute_matches(stored: Option<&Value>, wanted: &Value) -> bool {
    match (stored, wanted) {
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// `IN ($n, ...)` over blobs (ids), one parameter each.
fn in_blobs(a: &mut Args, ids: impl IntoIterator<Item = Vec<u8>>) -> String {
    let list: Vec<String> = ids
        .into_iter()
        .map(|id| a.add(SqlValue::Blob(id)))
        .collect();
    format!("IN ({})", list.join(", "))
}

/// The span search: filters in SQL, attributes checked on the decoded spans,
/// newest (highest row id) first, as many candidates read as it takes to fill
/// a page.
fn search_spans<B: SqlBackend>(
    tx: &mut dyn SqlTx,
    project: &str,
    q: &SpanQuery,
) -> Result<Page<ProjectSpan>, StoreError> {
    let scope = "spans";
    let cursor = decode_cursor(&q.page, scope)?;
    let limit = page_limit(&q.page);
    let pid = project_rowid(tx, project)?;
    let d = tx.dialect();
    let mut a = Args::default();
    let project_param = a.add(pid);
    let mut sql = format!("SELECT s.id FROM spans s WHERE s.project_id = {project_param}");
    if let Some(start) = q.start_ns {
        sql.push_str(&format!(" AND s.start_ns >= {}", a.add(start)));
    }
    if let Some(end) = q.end_ns {
        sql.push_str(&format!(" AND s.start_ns < {}", a.add(end)));
    }
    if !q.trace_ids.is_empty() {
        let list = in_blobs(&mut a, q.trace_ids.iter().map(|t| t.to_vec()));
        sql.push_str(&format!(
            " AND {}",
            B::Spans::of_traces(&project_param, &list)
        ));
    }
    if !q.span_ids.is_empty() {
        let list = in_blobs(&mut a, q.span_ids.iter().map(|t| t.to_vec()));
        sql.push_str(&format!(" AND s.span_id {list}"));
    }
    match q.parent {
        Some(ParentFilter::Root) => sql.push_str(" AND s.parent_span_id IS NULL"),
        Some(ParentFilter::Of(parent)) => {
            let p = a.add(SqlValue::Blob(parent.to_vec()));
            sql.push_str(&format!(" AND s.parent_span_id = {p}"));
        }
        None => {}
    }
    if !q.names.is_empty() {
        let p = a.add(SqlValue::TextList(q.names.clone()));
        sql.push_str(&format!(" AND s.name {}", d.in_texts(&p)));
    }
    if !q.kinds.is_empty() {
        let p = a.add(SqlValue::TextList(q.kinds.clone()));
        let unknown = if q.kinds.iter().any(|k| k == UNKNOWN_KIND) {
            " OR s.oi_kind IS NULL"
        } else {
            ""
        };
        sql.push_str(&format!(" AND (s.oi_kind {}{unknown})", d.in_texts(&p)));
    }
    if !q.statuses.is_empty() {
        let codes = q.statuses.iter().map(|s| s.code()).collect();
        let p = a.add(SqlValue::IntList(codes));
        sql.push_str(&format!(" AND s.status_code {}", d.in_ints(&p)));
    }
    // Attributes are in the span bodies: without such a filter one page of
    // candidates is the page, with one a batch at a time is checked.
    let batch = if q.attributes.is_empty() {
        limit + 1
    } else {
        (limit + 1).max(256)
    };
    let mut after = cursor.map(|c| c.id);
    let mut found: Vec<(i64, ProjectSpan)> = Vec::new();
    loop {
        let mut args = Args(a.0.clone());
        let mut page_sql = sql.clone();
        if let Some(id) = after {
            page_sql.push_str(&format!(" AND s.id < {}", args.add(id)));
        }
        page_sql.push_str(&format!(
            " ORDER BY s.id DESC LIMIT {}",
            args.add(batch as i64)
        ));
        let candidates = tx
            .query(&page_sql, &args.0)?
            .iter()
            .map(|r| r.int(0))
            .collect::<Result<Vec<i64>, _>>()?;
        let mut spans: HashMap<i64, ProjectSpan> = B::Spans::spans_by_rowid(tx, &candidates)?
            .into_iter()
            .map(|(id, trace_id, span)| {
                let trace_id = hex(&trace_id);
                (id, ProjectSpan { trace_id, span })
            })
            .collect();
        for id in &candidates {
            let span = spans
                .remove(id)
                .ok_or_else(|| StoreError::Corrupt(format!("span {id} vanished")))?;
            if q.attributes
                .iter()
                .all(|(k, v)| attribute_matches(span.span.attributes.get(k), v))
            {
                found.push((*id, span));
            }
        }
        if found.len() > limit || candidates.len() < batch {
            break;
        }
        after = candidates.last().copied();
    }
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|(id, _)| {
            Cursor {
                scope: scope.to_owned(),
                value: String::new(),
                id: *id,
            }
            .encode()
        })
    } else {
        None
    };
    let mut data: Vec<ProjectSpan> = found.into_iter().map(|(_, s)| s).collect();
    for s in &mut data {
        s.span.step = crate::steps::step_of(&s.span.name, &s.span.attributes);
    }
    Ok(Page { data, next_cursor })
}

/// A project's session annotations, filtered, newest first.
fn list_annotations(
    tx: &mut dyn SqlTx,
    project: &str,
    q: &AnnotationQuery,
) -> Result<Page<Annotation>, StoreError> {
    let scope = "annotations";
    let cursor = decode_cursor(&q.page, scope)?;
    let limit = page_limit(&q.page);
    let pid = project_rowid(tx, project)?;
    let d = tx.dialect();
    let mut a = Args::default();
    let mut sql = format!(
        "SELECT {ANNOTATION_COLS} FROM session_annotations WHERE project_id = {}",
        a.add(pid)
    );
    let mut any_of = |a: &mut Args, column: &str, values: &[String], negate: bool| {
        if values.is_empty() {
            return;
        }
        let p = a.add(SqlValue::TextList(values.to_vec()));
        let not = if negate { "NOT " } else { "" };
        sql.push_str(&format!(" AND {not}({column} {})", d.in_texts(&p)));
    };
    any_of(&mut a, "session_id", &q.session_ids, false);
    any_of(&mut a, "identifier", &q.identifiers, false);
    any_of(&mut a, "name", &q.include_names, false);
    any_of(&mut a, "name", &q.exclude_names, true);
    if let Some(c) = &cursor {
        sql.push_str(&format!(" AND id < {}", a.add(c.id)));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        a.add(limit as i64 + 1)
    ));
    let rows = tx
        .query(&sql, &a.0)?
        .iter_mut()
        .map(|r| annotation_row(r).map(|ann| (ann.id, String::new(), ann)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let (data, next_cursor) = paged(rows, limit, scope);
    Ok(Page {
        data: data.into_iter().map(|(_, a)| a).collect(),
        next_cursor,
    })
}

/// The config of an annotation name in a project, when it has one.
fn annotation_config_of(
    tx: &mut dyn SqlTx,
    pid: i64,
    name: &str,
) -> Result<Option<AnnotationConfig>, StoreError> {
    tx.query_opt(
        "SELECT name, definition FROM annotation_configs WHERE project_id = $1 AND name = $2",
        &[pid.into(), name.into()],
    )?
    .map(|mut r| config_row(&mut r))
    .transpose()
}

fn config_row(r: &mut SqlRow) -> Result<AnnotationConfig, StoreError> {
    let name = r.text(0)?;
    let mut config: AnnotationConfig = r.json(1)?;
    config.name = name;
    Ok(config)
}

impl<B: SqlBackend> Store for B {
    fn write(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError> {
        if spans.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.write_spans(spans)
    }

    fn write_events(&self, events: &[EventRecord]) -> Result<WriteOutcome, StoreError> {
        if events.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.write_logged_events(events)
    }

    fn projects(&self) -> Result<Vec<ProjectInfo>, StoreError> {
        self.read(|tx| project_rows(tx, "TRUE", &[]))
    }

    fn project(&self, project: &str) -> Result<ProjectInfo, StoreError> {
        self.read(|tx| one_project(tx, project))
    }

    fn create_project(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<ProjectInfo, StoreError> {
        self.write(|tx| {
            let created = tx.execute(
                "INSERT INTO projects (name, description) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[name.into(), description.into()],
            )?;
            if created == 0 {
                return Err(StoreError::AlreadyExists("project"));
            }
            one_project(tx, name)
        })
    }

    fn update_project(
        &self,
        project: &str,
        description: Option<&str>,
    ) -> Result<ProjectInfo, StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            if let Some(description) = description {
                tx.execute(
                    "UPDATE projects SET description = $1 WHERE id = $2",
                    &[description.into(), pid.into()],
                )?;
            }
            one_project(tx, project)
        })
    }

    fn delete_project(&self, project: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            B::Spans::lock_project_for_delete(tx, pid)?;
            B::Spans::delete_spans_of_project(tx, pid)?;
            for table in [
                "span_events",
                "session_annotations",
                "traces",
                "session_users",
                "session_tags",
                "session_metadata",
                "sessions",
                "evaluation_jobs",
                "evaluation_backfills",
                "evaluators",
                "project_settings",
                "annotation_configs",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE project_id = $1"),
                    &[pid.into()],
                )?;
            }
            tx.execute("DELETE FROM projects WHERE id = $1", &[pid.into()])?;
            Ok(())
        })
    }

    fn sessions_named(&self, session_ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|tx| {
            let sql = format!(
                "SELECT s.session_id, p.name FROM sessions s JOIN projects p ON p.id = s.project_id
                 WHERE s.session_id {}",
                tx.dialect().in_texts("$1")
            );
            let mut found = tx
                .query(&sql, &[SqlValue::TextList(session_ids.to_vec())])?
                .into_iter()
                .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            found.sort();
            Ok(found)
        })
    }

    fn sessions(&self, project: &str, q: &SessionQuery) -> Result<Page<SessionInfo>, StoreError> {
        let idle = self.lifecycle().default_idle_ns();
        self.read(|tx| list_sessions(tx, project, q, idle))
    }

    fn session(&self, project: &str, session_id: &str) -> Result<SessionInfo, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let idle = self.lifecycle().default_idle_ns();
            let mut one = [session_lookup(tx, pid, project, session_id, idle)?];
            fill_sessions(tx, pid, &mut one)?;
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
        let cursor = decode_cursor(page, scope)?;
        let limit = page_limit(page);
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let rowid = session_rowid(tx, pid, session_id)?;
            let mut a = Args::default();
            let sql = format!(
                "SELECT {}, t.start_ns FROM traces t WHERE t.session_rowid = {}",
                trace_cols(tx),
                a.add(rowid)
            );
            let (data, next_cursor) = trace_page(
                tx,
                project,
                sql,
                a,
                "t.start_ns",
                cursor.as_ref(),
                Order::Asc,
                limit,
                scope,
            )?;
            Ok(Page {
                data: data.into_iter().map(Turn::from).collect(),
                next_cursor,
            })
        })
    }

    fn delete_session(&self, project: &str, session_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            delete_session_in::<B>(tx, pid, session_id)
        })
    }

    fn delete_sessions(&self, sessions: &[(String, String)]) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut deleted = 0;
            for (project, session_id) in sessions {
                let pid = match project_rowid(tx, project) {
                    Err(StoreError::NotFound(_)) => continue,
                    other => other?,
                };
                match delete_session_in::<B>(tx, pid, session_id) {
                    Ok(()) => deleted += 1,
                    Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(deleted)
        })
    }

    fn traces(&self, project: &str, q: &TraceQuery) -> Result<Page<TraceInfo>, StoreError> {
        let scope = format!(
            "traces:{}:{}",
            q.sort.name(),
            if q.order == Order::Asc { "asc" } else { "desc" }
        );
        let cursor = decode_cursor(&q.page, &scope)?;
        let limit = page_limit(&q.page);
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let column = trace_sort_column(q.sort);
            let mut a = Args::default();
            let mut sql = format!(
                "SELECT {}, {column} FROM traces t WHERE t.project_id = {}",
                trace_cols(tx),
                a.add(pid)
            );
            let mut sessions = q.session_ids.clone();
            sessions.extend(q.session_id.clone());
            if q.session_id.is_some() || !q.session_ids.is_empty() {
                let list = tx.dialect().in_texts(&a.add(SqlValue::TextList(sessions)));
                sql.push_str(&format!(
                    " AND t.session_rowid IN (SELECT id FROM sessions
                        WHERE project_id = {} AND session_id {list})",
                    a.add(pid),
                ));
            }
            match q.has_session {
                Some(true) => sql.push_str(" AND t.session_rowid IS NOT NULL"),
                Some(false) => sql.push_str(" AND t.session_rowid IS NULL"),
                None => {}
            }
            match q.has_error {
                Some(true) => sql.push_str(" AND t.has_error"),
                Some(false) => sql.push_str(" AND NOT t.has_error"),
                None => {}
            }
            if let Some(min) = q.min_latency_ns {
                sql.push_str(&format!(" AND t.end_ns - t.start_ns >= {}", a.add(min)));
            }
            if let Some(max) = q.max_latency_ns {
                sql.push_str(&format!(" AND t.end_ns - t.start_ns <= {}", a.add(max)));
            }
            if let Some(start) = q.start_ns {
                sql.push_str(&format!(" AND t.end_ns >= {}", a.add(start)));
            }
            if let Some(end) = q.end_ns {
                sql.push_str(&format!(" AND t.start_ns <= {}", a.add(end)));
            }
            let (data, next_cursor) = trace_page(
                tx,
                project,
                sql,
                a,
                column,
                cursor.as_ref(),
                q.order,
                limit,
                &scope,
            )?;
            Ok(Page { data, next_cursor })
        })
    }

    fn span_summaries(
        &self,
        project: &str,
        trace_ids: &[[u8; 16]],
    ) -> Result<Vec<(String, Vec<TraceSpan>)>, StoreError> {
        if trace_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let mut a = Args::default();
            let project_param = a.add(pid);
            let list = in_blobs(&mut a, trace_ids.iter().map(|t| t.to_vec()));
            let sql = format!(
                "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.oi_kind, s.status_code,
                        s.start_ns, s.end_ns
                 FROM spans s WHERE {}
                 ORDER BY s.trace_id, s.start_ns, s.span_id",
                B::Spans::of_traces(&project_param, &list)
            );
            let mut by_trace: Vec<(String, Vec<TraceSpan>)> = Vec::new();
            for mut r in tx.query(&sql, &a.0)? {
                let trace_id = hex(r.blob(0)?);
                let span_id = hex(r.blob(1)?);
                let span = TraceSpan {
                    id: ids::span(&trace_id, &span_id),
                    span_id,
                    parent_id: r.opt_blob(2)?.map(hex),
                    name: r.text(3)?,
                    span_kind: r.opt_text(4)?.unwrap_or_else(|| UNKNOWN_KIND.to_owned()),
                    status_code: SpanStatus::from_code(r.int(5)?).upper_name().to_owned(),
                    start_time: rfc3339(r.int(6)?),
                    end_time: rfc3339(r.int(7)?),
                };
                match by_trace.last_mut() {
                    Some((t, spans)) if *t == trace_id => spans.push(span),
                    _ => by_trace.push((trace_id, vec![span])),
                }
            }
            Ok(by_trace)
        })
    }

    fn spans(&self, project: &str, q: &SpanQuery) -> Result<Page<ProjectSpan>, StoreError> {
        self.read(|tx| search_spans::<B>(tx, project, q))
    }

    fn trace(&self, project: &str, trace_id: &[u8; 16]) -> Result<TraceDetail, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            let sql = format!(
                "SELECT {} FROM traces t WHERE t.project_id = $1 AND t.trace_id = $2",
                trace_cols(tx)
            );
            let mut row = tx
                .query_opt(&sql, &[pid.into(), trace_id[..].into()])?
                .ok_or(StoreError::NotFound("trace"))?;
            let (_, trace) = trace_row(&mut row, project)?;
            let mut spans = B::Spans::spans_of_trace(tx, pid, trace_id)?;
            add_logged_events(tx, pid, trace_id, &mut spans)?;
            for span in &mut spans {
                span.step = crate::steps::step_of(&span.name, &span.attributes);
            }
            Ok(TraceDetail { trace, spans })
        })
    }

    fn copy_spans(&self, after: i64, limit: usize) -> Result<Vec<super::CopiedSpan>, StoreError> {
        self.read(|tx| {
            let rows = tx.query(
                "SELECT s.id, p.name FROM spans s JOIN projects p ON p.id = s.project_id
                 WHERE s.id > $1 ORDER BY s.id LIMIT $2",
                &[after.into(), (limit as i64).into()],
            )?;
            let mut projects: HashMap<i64, String> = HashMap::with_capacity(rows.len());
            for mut r in rows {
                projects.insert(r.int(0)?, r.text(1)?);
            }
            let ids: Vec<i64> = projects.keys().copied().collect();
            let mut spans: Vec<super::CopiedSpan> = B::Spans::spans_by_rowid(tx, &ids)?
                .into_iter()
                .map(|(rowid, trace_id, mut span)| {
                    span.step = None;
                    super::CopiedSpan {
                        rowid,
                        project: projects.get(&rowid).cloned().unwrap_or_default(),
                        trace_id,
                        span,
                    }
                })
                .collect();
            spans.sort_by_key(|s| s.rowid);
            Ok(spans)
        })
    }

    fn copy_events(&self, after: i64, limit: usize) -> Result<Vec<(i64, EventRecord)>, StoreError> {
        self.read(|tx| {
            let rows = tx.query(
                "SELECT e.id, p.name, e.trace_id, e.span_id, e.digest, e.time_ns, e.seq, e.name,
                        e.user_message, e.reply, e.attributes, e.body
                 FROM span_events e JOIN projects p ON p.id = e.project_id
                 WHERE e.id > $1 ORDER BY e.id LIMIT $2",
                &[after.into(), (limit as i64).into()],
            )?;
            rows.into_iter()
                .map(|mut r| {
                    Ok((
                        r.int(0)?,
                        EventRecord {
                            project: r.text(1)?,
                            trace_id: r.id(2)?,
                            facts: crate::model::EventFacts {
                                span_id: r.id(3)?,
                                time_ns: r.int(5)?,
                                seq: r.int(6)?,
                                user_message: r.opt_text(8)?,
                                reply: r.opt_text(9)?,
                            },
                            name: r.text(7)?,
                            attributes: r.json(10)?,
                            body: r.json(11)?,
                            digest: r.int(4)?,
                        },
                    ))
                })
                .collect()
        })
    }

    fn copy_annotations(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(String, Annotation)>, StoreError> {
        self.read(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ANNOTATION_COLS}, (SELECT p.name FROM projects p
                       WHERE p.id = session_annotations.project_id)
                     FROM session_annotations WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[after.into(), (limit as i64).into()],
            )?;
            rows.into_iter()
                .map(|mut r| {
                    let project = r.text(14)?;
                    Ok((project, annotation_row(&mut r)?))
                })
                .collect()
        })
    }

    fn restore_last_activity(
        &self,
        project: &str,
        sessions: &[(String, i64)],
    ) -> Result<usize, StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            let mut set = 0;
            for (session_id, last_activity_ns) in sessions {
                set += tx.execute(
                    "UPDATE sessions SET last_activity_ns = $1
                     WHERE project_id = $2 AND session_id = $3",
                    &[
                        (*last_activity_ns).into(),
                        pid.into(),
                        session_id.as_str().into(),
                    ],
                )?;
            }
            Ok(set as usize)
        })
    }

    fn upsert_annotations(
        &self,
        project: &str,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<Annotation>, StoreError> {
        self.write(|tx| upsert_annotations(tx, annotations.iter().map(|a| (project, a)), None))
    }

    fn upsert_annotations_in(
        &self,
        annotations: &[(String, NewAnnotation)],
    ) -> Result<Vec<Annotation>, StoreError> {
        self.write(|tx| {
            upsert_annotations(tx, annotations.iter().map(|(p, a)| (p.as_str(), a)), None)
        })
    }

    fn annotations(&self, project: &str, session_id: &str) -> Result<Vec<Annotation>, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            session_rowid(tx, pid, session_id)?;
            annotations_of(tx, pid, session_id)
        })
    }

    fn list_annotations(
        &self,
        project: &str,
        query: &AnnotationQuery,
    ) -> Result<Page<Annotation>, StoreError> {
        self.read(|tx| list_annotations(tx, project, query))
    }

    fn delete_annotation(
        &self,
        project: &str,
        session_id: &str,
        id: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            let deleted = tx.execute(
                "DELETE FROM session_annotations
                 WHERE id = $1 AND project_id = $2 AND session_id = $3",
                &[id.into(), pid.into(), session_id.into()],
            )?;
            if deleted == 0 {
                return Err(StoreError::NotFound("annotation"));
            }
            Ok(())
        })
    }

    fn delete_annotations(
        &self,
        project: &str,
        filter: &AnnotationFilter,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            let mut a = Args::default();
            let mut sql = format!(
                "DELETE FROM session_annotations WHERE project_id = {}",
                a.add(pid)
            );
            let mut equal = |column: &str, value: Option<&str>| {
                if let Some(v) = value {
                    sql.push_str(&format!(" AND {column} = {}", a.add(v)));
                }
            };
            equal("name", filter.name.as_deref());
            equal("identifier", filter.identifier.as_deref());
            equal(
                "annotator_kind",
                filter.annotator_kind.map(AnnotatorKind::as_str),
            );
            if let Some(from) = filter.created_from_ns {
                sql.push_str(&format!(" AND created_ns >= {}", a.add(from)));
            }
            if let Some(before) = filter.created_before_ns {
                sql.push_str(&format!(" AND created_ns < {}", a.add(before)));
            }
            tx.execute(&sql, &a.0)
        })
    }

    fn health(&self) -> StoreHealth {
        let read = self.read(|tx| tx.query("SELECT count(*) FROM projects", &[]).map(drop));
        // A write that must reach the disk: a full disk or a read-only file
        // fails here, where a read would not notice.
        let write = read.as_ref().map_err(Clone::clone).and_then(|()| {
            self.write(|tx| {
                tx.execute(
                    "UPDATE server_health SET checked_ns = $1",
                    &[now_ns().into()],
                )
                .map(drop)
            })
        });
        StoreHealth {
            readable: read.is_ok(),
            writable: write.is_ok(),
            error: write.err().map(|e| e.to_string()),
            integrity: self.integrity(),
        }
    }

    fn set_default_session_idle(&self, idle_ns: i64) {
        self.lifecycle().set_default_idle_ns(idle_ns);
    }

    fn project_settings(&self, project: &str) -> Result<ProjectSettings, StoreError> {
        self.read(|tx| evaluations::project_settings(tx, project))
    }

    fn set_project_settings(
        &self,
        project: &str,
        settings: &ProjectSettings,
    ) -> Result<ProjectSettings, StoreError> {
        self.write(|tx| evaluations::set_project_settings(tx, project, settings))
    }

    fn evaluators(&self, project: &str) -> Result<Vec<StoredEvaluator>, StoreError> {
        self.read(|tx| evaluations::evaluators(tx, project))
    }

    fn evaluator(&self, project: &str, name: &str) -> Result<StoredEvaluator, StoreError> {
        self.read(|tx| evaluations::evaluator(tx, project, name))
    }

    fn put_evaluator(
        &self,
        project: &str,
        name: &str,
        enabled: bool,
        definition: &Value,
        put: Put,
    ) -> Result<StoredEvaluator, StoreError> {
        self.write(|tx| evaluations::put_evaluator(tx, project, name, enabled, definition, put))
    }

    fn delete_evaluator(&self, project: &str, name: &str) -> Result<(), StoreError> {
        self.write(|tx| evaluations::delete_evaluator(tx, project, name))
    }

    fn idle_sessions(&self, now_ns: i64, limit: usize) -> Result<Vec<IdleSession>, StoreError> {
        let idle = self.lifecycle().default_idle_ns();
        self.read(|tx| evaluations::idle_sessions(tx, idle, now_ns, limit))
    }

    fn enqueue_jobs(
        &self,
        project: &str,
        jobs: &[NewJob],
        seen_idle: &[(String, i64)],
    ) -> Result<usize, StoreError> {
        self.write(|tx| evaluations::enqueue_jobs(tx, project, jobs, seen_idle))
    }

    fn claim_jobs(
        &self,
        owner: &str,
        now_ns: i64,
        lease_ns: i64,
        limit: usize,
    ) -> Result<Vec<EvaluationJob>, StoreError> {
        if !self.read(|tx| evaluations::any_due(tx, now_ns))? {
            return Ok(Vec::new());
        }
        self.write(|tx| evaluations::claim_jobs(tx, owner, now_ns, lease_ns, limit))
    }

    fn finish_job(
        &self,
        job: &EvaluationJob,
        owner: &str,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        self.write(|tx| evaluations::finish_job(tx, job, owner, outcome))
    }

    fn jobs(&self, project: &str, query: &JobQuery) -> Result<Page<EvaluationJob>, StoreError> {
        self.read(|tx| evaluations::jobs(tx, project, query))
    }

    fn evaluator_job_counts(
        &self,
        project: &str,
        evaluator: &str,
    ) -> Result<JobCounts, StoreError> {
        self.read(|tx| evaluations::evaluator_job_counts(tx, project, evaluator))
    }

    fn create_backfill(
        &self,
        project: &str,
        evaluator: &str,
        filter: &Value,
    ) -> Result<i64, StoreError> {
        self.write(|tx| evaluations::create_backfill(tx, project, evaluator, filter))
    }

    fn update_backfill(
        &self,
        id: i64,
        matched: i64,
        skipped: i64,
        listed: bool,
    ) -> Result<(), StoreError> {
        self.write(|tx| evaluations::update_backfill(tx, id, matched, skipped, listed))
    }

    fn backfill(&self, project: &str, id: i64) -> Result<Backfill, StoreError> {
        self.read(|tx| evaluations::backfill(tx, project, id))
    }

    fn annotation_configs(&self, project: &str) -> Result<Vec<AnnotationConfig>, StoreError> {
        self.read(|tx| {
            let pid = project_rowid(tx, project)?;
            tx.query(
                "SELECT name, definition FROM annotation_configs WHERE project_id = $1 ORDER BY name",
                &[pid.into()],
            )?
            .iter_mut()
            .map(config_row)
            .collect()
        })
    }

    fn put_annotation_config(
        &self,
        project: &str,
        config: &AnnotationConfig,
        put: Put,
    ) -> Result<AnnotationConfig, StoreError> {
        let mut definition = serde_json::to_value(config)
            .map_err(|e| StoreError::Backend(format!("annotation config to JSON: {e}")))?;
        if let Some(object) = definition.as_object_mut() {
            object.remove("name");
        }
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            let exists = annotation_config_of(tx, pid, &config.name)?.is_some();
            match (put, exists) {
                (Put::Create, true) => return Err(StoreError::AlreadyExists("annotation config")),
                (Put::Replace, false) => return Err(StoreError::NotFound("annotation config")),
                _ => {}
            }
            tx.execute(
                "INSERT INTO annotation_configs (project_id, name, definition, created_ns, updated_ns)
                 VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (project_id, name) DO UPDATE SET
                   definition = excluded.definition, updated_ns = excluded.updated_ns",
                &[
                    pid.into(),
                    config.name.as_str().into(),
                    SqlValue::Json(definition.clone()),
                    now_ns().into(),
                ],
            )?;
            annotation_config_of(tx, pid, &config.name)?
                .ok_or_else(|| StoreError::Backend("the config just written is not there".to_owned()))
        })
    }

    fn delete_annotation_config(&self, project: &str, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let pid = project_rowid(tx, project)?;
            let deleted = tx.execute(
                "DELETE FROM annotation_configs WHERE project_id = $1 AND name = $2",
                &[pid.into(), name.into()],
            )?;
            if deleted == 0 {
                return Err(StoreError::NotFound("annotation config"));
            }
            Ok(())
        })
    }

    fn project_stats(
        &self,
        project: &str,
        query: &super::stats::StatsQuery,
    ) -> Result<super::stats::ProjectStats, StoreError> {
        self.read(|tx| super::stats::project_stats(tx, project, query))
    }

    fn set_default_retention(&self, retention_ns: i64) {
        self.lifecycle().set_default_retention_ns(retention_ns);
    }

    fn purge_expired(
        &self,
        now_ns: i64,
        limit: usize,
    ) -> Result<super::retention::PurgeRound, StoreError> {
        let retention = self.lifecycle().default_retention_ns();
        let expired = self.read(|tx| super::retention::expired(tx, retention, now_ns, limit))?;
        let mut deleted = 0;
        // one session (or trace) per transaction: the writer is never held
        // for long, and a session is deleted whole or not at all
        for e in &expired {
            let gone = self.write(|tx| match &e.item {
                Expiring::Session(session_id) => {
                    let rowid =
                        match B::Spans::lock_session_for_delete(tx, e.project_id, session_id) {
                            Err(StoreError::NotFound(_)) => return Ok(false),
                            other => other?,
                        };
                    // a trace may have arrived since the listing: then it stays
                    let last: i64 = tx
                        .query_opt(
                            "SELECT last_activity_ns FROM sessions WHERE id = $1",
                            &[rowid.into()],
                        )?
                        .ok_or(StoreError::NotFound("session"))?
                        .int(0)?;
                    if last >= e.cutoff_ns {
                        return Ok(false);
                    }
                    delete_locked_session::<B>(tx, e.project_id, rowid, session_id)?;
                    Ok(true)
                }
                Expiring::Trace(trace_id) => {
                    B::Spans::lock_trace_for_delete(tx, e.project_id, trace_id)?;
                    // a span may have linked it to a session since the listing
                    let still = tx.query_opt(
                        "SELECT 1 FROM traces WHERE project_id = $1 AND trace_id = $2
                         AND session_rowid IS NULL AND start_ns < $3",
                        &[e.project_id.into(), trace_id[..].into(), e.cutoff_ns.into()],
                    )?;
                    if still.is_none() {
                        return Ok(false);
                    }
                    B::Spans::delete_spans_of_trace(tx, e.project_id, trace_id)?;
                    for table in ["span_events", "traces"] {
                        tx.execute(
                            &format!("DELETE FROM {table} WHERE project_id = $1 AND trace_id = $2"),
                            &[e.project_id.into(), trace_id[..].into()],
                        )?;
                    }
                    Ok(true)
                }
            })?;
            deleted += usize::from(gone);
        }
        Ok(super::retention::PurgeRound {
            expired: expired.len(),
            deleted,
        })
    }

    fn reclaim_space(&self) -> Result<u64, StoreError> {
        self.give_back_free_pages()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_fold_case() {
        assert_eq!(like_pattern("100%_Ü\\"), "%100\\%\\_ü\\\\%");
    }

    #[test]
    fn search_trigrams_are_stable_and_cover_every_substring() {
        // Stored in PostgreSQL's index: these values must never change.
        let abc = (97 << 14) | (98 << 7) | 99;
        assert_eq!(trigram(['a', 'b', 'c']), abc);
        assert!(
            trigram(['é', 't', 'é']) < 0,
            "non-ASCII is hashed, its sign bit set"
        );
        assert_eq!(trigram_rank(abc), 348_333_232);
        // "abc" ranks below "bcd" and "cde": the one window keeps it.
        assert_eq!(search_trigrams(&["abcde"]), vec![abc]);
        // Under a window of trigrams (the word-spanning "o d" is none): none.
        for short in ["abcd", "ab", "to do", "été"] {
            assert_eq!(search_trigrams(&[short]), Vec::<i32>::new(), "{short:?}");
        }
        let text = "refund my order: ça va 🙂, a refund; the parcel never came";
        let kept = search_trigrams(&[text, "other"]);
        assert!(kept.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        let every = |t: &str| {
            let c: Vec<char> = t.chars().collect();
            let mut all: Vec<i32> = c
                .windows(3)
                .filter(|w| !w[1].is_whitespace())
                .map(|w| trigram([w[0], w[1], w[2]]))
                .collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            (n, all)
        };
        let (_, all) = every(text);
        assert!(
            kept.iter()
                .all(|t| all.contains(t) || every("other").1.contains(t))
        );
        assert!(
            kept.len() * 10 < all.len() * 7,
            "winnowing keeps about half: {} of {}",
            kept.len(),
            all.len()
        );
        // Every substring of a window of trigrams or more has trigrams, all
        // of them kept for the text: the index finds every text holding it.
        for (i, _) in text.char_indices() {
            for (j, _) in text[i..].char_indices().skip(1) {
                let q = &text[i..i + j];
                let found = search_trigrams(&[q]);
                assert_eq!(found.is_empty(), every(q).0 < TRIGRAM_WINDOW, "{q:?}");
                assert!(found.iter().all(|t| kept.contains(t)), "{q:?}");
            }
        }
    }

    #[test]
    fn search_texts_fold_input_and_output_apart() {
        let io = |v: &str| Io {
            value: v.to_owned(),
            mime_type: "text/plain".to_owned(),
            raw_value: None,
        };
        let s = TraceSummary {
            input: Some(io("ÉTÉ")),
            output: Some(io("Hiver")),
            ..Default::default()
        };
        assert_eq!(
            search_texts(&s),
            (Some("été".to_owned()), Some("hiver".to_owned()))
        );
        assert_eq!(search_texts(&TraceSummary::default()), (None, None));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
