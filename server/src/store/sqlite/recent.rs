//! What the writer knows of the traces it summarized last, so that a trace
//! whose spans arrive in two exports is summarized again without reading
//! back its row and its spans.
//!
//! An SDK's batch processor exports spans as they end: a chat turn's model
//! call ends in one export and the turn's root, seconds later, in the next.
//! The second write summarizes the trace anew from all its spans; it read
//! the trace's row and every stored span's facts back from the database,
//! which with the session's refresh made a turn split in two cost half
//! again the turn written whole (issue 14, eighteenth step). The writer now
//! keeps, for the traces it summarized last whose roots are still to come,
//! what it wrote: the trace row's columns a later summary compares against,
//! and its spans' facts, long texts by their row ids only (read back if a
//! summary reads them). A trace written whole is not kept.
//!
//! It also knows, for the sessions it wrote to last, their row ids and the
//! filter rows (`session_users`, `session_tags`, `session_metadata`) they
//! hold: the next turn of a session finds its row without a search, and a
//! turn whose user, tags and metadata are those of a turn before it in its
//! session (a chat's turns mostly are) gives its session no new row, and
//! the write does not look for one ([`SessionRows`]).
//!
//! Invariant: an entry is what the writer's open transaction holds for its
//! trace. Every span write that summarizes a trace takes its entry and
//! keeps the new one; the writer forgets every entry when its transaction
//! rolls back, and before any write other than a span write (such a write
//! may delete traces or their spans: retention, a session's deletion).
//! Entries are bounded in bytes ([`RECENT_MAX_BYTES`]); the trace summarized
//! longest ago leaves first.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use crate::model::SpanFacts;
use crate::store::queries::FilterHeld;
use crate::turn::FactText;

/// A span's texts in `texts`, in [`FactText`] order: input, output, what
/// the user said, the reply.
pub(super) type TextIds = [Option<i64>; 4];

/// The texts kept with a span's facts are at most this long; a longer one
/// (a model call's request JSON with the whole conversation) is kept by its
/// row id and read back only when a summary reads it.
const KEPT_TEXT_BYTES: usize = 512;

/// What the writer keeps of recent traces, in bytes (estimated, [`shed`]):
/// about 16,000 light spans, several exports' worth of traces whose roots
/// are still to come. A trace alone larger than an eighth of it is not
/// kept, and a write holds at most this much of the traces it summarized
/// until they are stored, however many large stored traces it touches.
pub(super) const RECENT_MAX_BYTES: usize = 8 << 20;

/// A stored span as the writer keeps it.
pub(super) struct KeptSpan {
    pub(super) facts: SpanFacts,
    /// The row ids of the span's texts, where known.
    pub(super) ids: TextIds,
    /// Which texts stand as an empty string in `facts`, to be read by id.
    pub(super) unread: [bool; 4],
}

impl KeptSpan {
    /// A span whose present texts are all in `facts`, with their row ids.
    pub(super) fn read(facts: SpanFacts, ids: TextIds) -> Self {
        Self {
            facts,
            ids,
            unread: [false; 4],
        }
    }

    /// A span read back with its texts unread ([`TextIds`] of the texts it has).
    pub(super) fn unread(facts: SpanFacts, ids: TextIds) -> Self {
        Self {
            facts,
            ids,
            unread: ids.map(|id| id.is_some()),
        }
    }

    /// The text `which` of the facts.
    pub(super) fn text(&mut self, which: FactText) -> &mut Option<String> {
        which.of_mut(&mut self.facts)
    }

    /// The row id of text `which`, if it is to be read.
    pub(super) fn unread_id(&self, which: FactText) -> Option<i64> {
        let at = which as usize;
        if self.unread[at] { self.ids[at] } else { None }
    }

    /// [`shed`] for one span.
    fn shed(&mut self) -> usize {
        let mut bytes = std::mem::size_of::<Self>();
        for which in FactText::ALL {
            let at = which as usize;
            let known = self.ids[at].is_some();
            if let Some(text) = which.of_mut(&mut self.facts) {
                if known && text.len() > KEPT_TEXT_BYTES {
                    *text = String::new();
                    self.unread[at] = true;
                }
                bytes += text.len();
            }
        }
        let f = &self.facts;
        for s in [
            &f.session_id,
            &f.user_id,
            &f.oi_kind,
            &f.input_mime,
            &f.output_mime,
        ]
        .into_iter()
        .flatten()
        {
            bytes += s.len();
        }
        bytes += f.tags.iter().map(|t| t.len() + 24).sum::<usize>();
        bytes += f
            .metadata
            .iter()
            .map(|(k, v)| {
                k.len()
                    + 64
                    + match v {
                        Value::String(s) => s.len(),
                        other => other.to_string().len(),
                    }
            })
            .sum::<usize>();
        bytes
    }
}

/// Readies a trace's spans to be kept: drops their texts longer than
/// [`KEPT_TEXT_BYTES`] whose row ids are known (they become unread), and
/// estimates the bytes they then hold.
pub(super) fn shed(spans: &mut [KeptSpan]) -> usize {
    spans.iter_mut().map(KeptSpan::shed).sum()
}

/// A trace as the writer last stored it.
pub(super) struct RecentTrace {
    pub(super) project_id: i64,
    pub(super) trace_id: [u8; 16],
    /// The trace row's session, input and output texts.
    pub(super) session_rowid: Option<i64>,
    pub(super) input_text: Option<i64>,
    pub(super) output_text: Option<i64>,
    /// What the row gives its session's filter rows.
    pub(super) held: FilterHeld,
    /// All its spans.
    pub(super) spans: Vec<KeptSpan>,
}

/// What a trace gives its session's filter rows, as the trace row stores
/// it: its user and its tags' and metadata's JSON (two traces equal in
/// these give the same rows).
#[derive(PartialEq, Eq)]
pub(super) struct RowsGiven {
    pub(super) user_id: Option<String>,
    pub(super) tags: String,
    pub(super) metadata: String,
}

impl RowsGiven {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.user_id.as_ref().map_or(0, String::len)
            + self.tags.len()
            + self.metadata.len()
    }
}

/// What [`SessionRows`] keeps, in bytes (estimated): tens of thousands of
/// sessions' worth. Past it, it starts over empty.
const SESSION_ROWS_MAX_BYTES: usize = 4 << 20;

/// What the rows of one session are remembered from, at most: a session
/// whose turns each give different rows (a turn number in the metadata)
/// is then looked up as before.
const ROWS_GIVEN_A_SESSION: usize = 4;

/// The sessions the writer's transaction wrote to or found: each one's row
/// id by project and session id, and the filter rows it holds, as the
/// [`RowsGiven`] of traces whose rows the transaction stored in it (or found
/// stored). A session's row stays while the session has traces, and every
/// such filter row while a trace gives it: a write in which a trace leaves a
/// session or changes in it (the only way a span write deletes a session or
/// its rows) forgets the session ([`SessionRows::forget_session`]).
#[derive(Default)]
pub(super) struct SessionRows {
    by_session: HashMap<i64, KnownSession>,
    /// Row ids by project and session id.
    rows: HashMap<i64, HashMap<String, i64>>,
    bytes: usize,
}

#[derive(Default)]
struct KnownSession {
    /// Its project and session id, when its row id is kept in
    /// [`SessionRows::rows`].
    name: Option<(i64, String)>,
    given: Vec<RowsGiven>,
}

/// What keeping a session's row id costs, in bytes (estimated) besides its
/// session id, kept twice.
const SESSION_ROW_BYTES: usize = 96;

impl SessionRows {
    /// The row id of session `session_id` of project `project_id`, if known.
    pub(super) fn row_of(&self, project_id: i64, session_id: &str) -> Option<i64> {
        self.rows.get(&project_id)?.get(session_id).copied()
    }

    /// Notes that session `session_id` of project `project_id` is the row
    /// `session`.
    pub(super) fn learn_row(&mut self, project_id: i64, session_id: &str, session: i64) {
        let known = self.by_session.entry(session).or_default();
        if known.name.is_some() {
            return;
        }
        known.name = Some((project_id, session_id.to_owned()));
        self.rows
            .entry(project_id)
            .or_default()
            .insert(session_id.to_owned(), session);
        self.add_bytes(SESSION_ROW_BYTES + 2 * session_id.len());
    }

    /// Whether session `session` is known to hold every row `given` gives.
    pub(super) fn hold(&self, session: i64, given: &RowsGiven) -> bool {
        self.by_session
            .get(&session)
            .is_some_and(|known| known.given.contains(given))
    }

    /// Notes that session `session` holds the rows `given` gives.
    pub(super) fn learn(&mut self, session: i64, given: RowsGiven) {
        let known = self.by_session.entry(session).or_default();
        if known.given.len() >= ROWS_GIVEN_A_SESSION || known.given.contains(&given) {
            return;
        }
        let bytes = given.bytes();
        known.given.push(given);
        self.add_bytes(bytes);
    }

    /// Counts `bytes` more kept; past [`SESSION_ROWS_MAX_BYTES`], starts over
    /// empty.
    fn add_bytes(&mut self, bytes: usize) {
        self.bytes += bytes;
        if self.bytes > SESSION_ROWS_MAX_BYTES {
            *self = Self::default();
        }
    }

    /// Forgets session `session`: a trace left it (it may be deleted, and
    /// its row id taken by a new session) or changed in it (the rows no
    /// trace gives any more are deleted).
    pub(super) fn forget_session(&mut self, session: i64) {
        let Some(known) = self.by_session.remove(&session) else {
            return;
        };
        self.bytes -= known.given.iter().map(RowsGiven::bytes).sum::<usize>();
        if let Some((project_id, session_id)) = known.name {
            self.bytes -= SESSION_ROW_BYTES + 2 * session_id.len();
            if let Some(rows) = self.rows.get_mut(&project_id) {
                rows.remove(&session_id);
            }
        }
    }
}

/// The traces the writer summarized last, by row id, and the filter rows
/// of the sessions it wrote to.
#[derive(Default)]
pub(super) struct RecentTraces {
    /// Forgotten with the traces.
    pub(super) sessions: SessionRows,
    by_rowid: HashMap<i64, (u64, usize, RecentTrace)>,
    /// Row ids in the order kept, with the count each was kept at: an
    /// entry kept again leaves its old place stale.
    order: VecDeque<(i64, u64)>,
    kept: u64,
    bytes: usize,
}

impl RecentTraces {
    /// Takes the entry of the trace at `rowid`, if it is this trace's.
    pub(super) fn take(
        &mut self,
        rowid: i64,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Option<RecentTrace> {
        let (_, bytes, trace) = self.by_rowid.remove(&rowid)?;
        self.bytes -= bytes;
        (trace.project_id == project_id && trace.trace_id == *trace_id).then_some(trace)
    }

    /// Keeps `trace`, stored at `rowid`, its spans [`shed`] to `bytes`; the
    /// traces kept longest ago leave while the whole is over
    /// [`RECENT_MAX_BYTES`].
    pub(super) fn keep(&mut self, rowid: i64, trace: RecentTrace, bytes: usize) {
        if let Some((_, old, _)) = self.by_rowid.remove(&rowid) {
            self.bytes -= old;
        }
        if bytes > RECENT_MAX_BYTES / 8 {
            return;
        }
        self.kept += 1;
        self.by_rowid.insert(rowid, (self.kept, bytes, trace));
        self.order.push_back((rowid, self.kept));
        self.bytes += bytes;
        while self.bytes > RECENT_MAX_BYTES {
            let Some((oldest, at)) = self.order.pop_front() else {
                break;
            };
            if self.by_rowid.get(&oldest).is_some_and(|e| e.0 == at)
                && let Some((_, gone, _)) = self.by_rowid.remove(&oldest)
            {
                self.bytes -= gone;
            }
        }
        // Stale places go once they outnumber the entries.
        if self.order.len() > 2 * self.by_rowid.len() + 1024 {
            let by_rowid = &self.by_rowid;
            self.order
                .retain(|(rowid, at)| by_rowid.get(rowid).is_some_and(|e| e.0 == *at));
        }
    }

    /// Forgets every trace and every session's rows: the writer's
    /// transaction rolled back, or a write other than a span write (which
    /// may delete sessions, whose row ids a new session may take again) is
    /// about to run.
    pub(super) fn forget(&mut self) {
        *self = Self::default();
    }

    /// Estimated bytes kept.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Traces kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_rowid.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(user: &str, tags: &str) -> RowsGiven {
        RowsGiven {
            user_id: Some(user.to_owned()),
            tags: tags.to_owned(),
            metadata: "{}".to_owned(),
        }
    }

    #[test]
    fn session_rows_are_bounded_and_forgotten() {
        let mut rows = SessionRows::default();
        for n in 0..=ROWS_GIVEN_A_SESSION {
            rows.learn(1, given(&format!("u{n}"), "[]"));
        }
        assert!(rows.hold(1, &given("u0", "[]")));
        assert!(
            !rows.hold(1, &given(&format!("u{ROWS_GIVEN_A_SESSION}"), "[]")),
            "a session keeps at most ROWS_GIVEN_A_SESSION"
        );
        assert!(!rows.hold(2, &given("u0", "[]")), "another session's");
        assert!(!rows.hold(1, &given("u0", "[\"t\"]")), "other tags");
        rows.forget_session(1);
        assert!(!rows.hold(1, &given("u0", "[]")));
        assert_eq!(rows.bytes, 0);
        // Past the byte bound it starts over: what it keeps stays bounded.
        let long = "x".repeat(SESSION_ROWS_MAX_BYTES / 4);
        for session in 0..8 {
            rows.learn(session, given(&long, "[]"));
            assert!(rows.bytes <= SESSION_ROWS_MAX_BYTES);
        }
        assert!(rows.by_session.len() < 8);
        // Row ids: by project and session id, forgotten with the session.
        let mut rows = SessionRows::default();
        rows.learn_row(1, "s", 7);
        rows.learn(7, given("u", "[]"));
        assert_eq!(rows.row_of(1, "s"), Some(7));
        assert_eq!(rows.row_of(2, "s"), None, "another project's");
        rows.forget_session(7);
        assert_eq!(rows.row_of(1, "s"), None);
        assert_eq!(rows.bytes, 0);
        for session in 0..(SESSION_ROWS_MAX_BYTES / SESSION_ROW_BYTES) as i64 {
            rows.learn_row(1, &session.to_string(), session);
            assert!(rows.bytes <= SESSION_ROWS_MAX_BYTES);
        }
        assert!(rows.row_of(1, "0").is_none(), "started over past the bound");
        // Forgetting the whole writer's knowledge forgets it too.
        let mut recent = RecentTraces::default();
        recent.sessions.learn(1, given("u", "[]"));
        recent.sessions.learn_row(1, "s", 1);
        recent.forget();
        assert!(!recent.sessions.hold(1, &given("u", "[]")));
        assert_eq!(recent.sessions.row_of(1, "s"), None);
    }

    fn keep(recent: &mut RecentTraces, rowid: i64, mut trace: RecentTrace) {
        let bytes = shed(&mut trace.spans);
        recent.keep(rowid, trace, bytes);
    }

    fn trace(n: u8, spans: usize, text: usize) -> RecentTrace {
        RecentTrace {
            project_id: 1,
            trace_id: [n; 16],
            session_rowid: None,
            input_text: None,
            output_text: None,
            held: FilterHeld::default(),
            spans: (0..spans)
                .map(|i| {
                    KeptSpan::read(
                        SpanFacts {
                            span_id: [i as u8; 8],
                            input_value: Some("x".repeat(text)),
                            ..Default::default()
                        },
                        [Some(i as i64), None, None, None],
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn what_is_kept_stays_under_its_bound_oldest_leaving_first() {
        let mut recent = RecentTraces::default();
        for n in 0..=255u8 {
            keep(&mut recent, i64::from(n), trace(n, 200, 400));
            assert!(
                recent.bytes() <= RECENT_MAX_BYTES,
                "{} bytes",
                recent.bytes()
            );
        }
        assert!(recent.len() < 256, "nothing left");
        assert!(recent.take(255, 1, &[255; 16]).is_some(), "the newest left");
        assert!(recent.take(0, 1, &[0; 16]).is_none(), "the oldest stayed");
    }

    #[test]
    fn long_texts_are_kept_by_row_id_and_another_trace_at_the_row_is_not_taken() {
        let mut recent = RecentTraces::default();
        keep(&mut recent, 7, trace(7, 2, KEPT_TEXT_BYTES + 1));
        assert!(
            recent.take(7, 1, &[8; 16]).is_none(),
            "another trace's entry"
        );
        keep(&mut recent, 7, trace(7, 2, KEPT_TEXT_BYTES + 1));
        let mut kept = recent.take(7, 1, &[7; 16]).expect("kept");
        assert_eq!(kept.spans[1].unread_id(FactText::Input), Some(1));
        assert_eq!(kept.spans[1].text(FactText::Input).as_deref(), Some(""));
        keep(&mut recent, 7, trace(7, 2, KEPT_TEXT_BYTES));
        let mut kept = recent.take(7, 1, &[7; 16]).expect("kept");
        assert_eq!(kept.spans[0].unread_id(FactText::Input), None);
        assert_eq!(
            kept.spans[0]
                .text(FactText::Input)
                .as_ref()
                .map(String::len),
            Some(KEPT_TEXT_BYTES)
        );
        assert_eq!(recent.bytes(), 0);
    }

    #[test]
    fn a_trace_too_large_is_not_kept() {
        let mut recent = RecentTraces::default();
        keep(&mut recent, 1, trace(1, 1, 10));
        keep(
            &mut recent,
            1,
            trace(1, RECENT_MAX_BYTES / 8 / 400 + 1, 400),
        );
        assert_eq!(recent.len(), 0, "the old entry of the row stays");
        assert_eq!(recent.bytes(), 0);
    }
}
