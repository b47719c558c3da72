//! What the SQL backends have in common, as the shared store logic sees it: a
//! value and a row type free of any driver, a transaction that runs SQL text
//! with numbered parameters, the few places where the two SQL dialects differ,
//! and the [`SqlBackend`] trait over which [`Store`](super::Store) is
//! implemented once.
//!
//! Shared SQL is written with PostgreSQL's numbered placeholders (`$1`, `$2`);
//! SQLite reads `?1`, `?2` the same way, and its transaction rewrites one to the
//! other. Nothing else in the shared SQL may contain a `$`.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::StoreError;
use super::compression::Dictionaries;
use crate::model::{Cost, EventRecord, SpanInfo, SpanRecord, TokenCount};

use super::WriteOutcome;

/// A value bound to a parameter or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// An integer (`bigint`/`INTEGER`).
    Int(i64),
    /// A float (`double precision`/`REAL`).
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A boolean (an integer 0/1 in SQLite).
    Bool(bool),
    /// JSON (`jsonb` in PostgreSQL, text in SQLite).
    Json(Value),
    /// A list of integers, bound as one parameter (see [`Dialect::in_ints`]).
    IntList(Vec<i64>),
    /// A list of texts, bound as one parameter (see [`Dialect::in_texts`]).
    TextList(Vec<String>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<&[u8]> for SqlValue {
    fn from(v: &[u8]) -> Self {
        SqlValue::Blob(v.to_vec())
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One row of a result, columns in select order.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow(pub Vec<SqlValue>);

/// A column that does not hold what the query promised: the database holds
/// something this server did not write.
fn corrupt(at: usize, wanted: &str, got: &SqlValue) -> StoreError {
    StoreError::Corrupt(format!("column {at}: expected {wanted}, found {got:?}"))
}

impl SqlRow {
    fn at(&self, i: usize) -> Result<&SqlValue, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} missing")))
    }

    /// An integer column.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            SqlValue::Int(v) => Ok(*v),
            SqlValue::Bool(b) => Ok(i64::from(*b)),
            other => Err(corrupt(i, "an integer", other)),
        }
    }

    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// A float column (integers widen: SQLite returns `0` for `0.0` sums).
    pub fn real(&self, i: usize) -> Result<f64, StoreError> {
        match self.at(i)? {
            SqlValue::Real(v) => Ok(*v),
            SqlValue::Int(v) => Ok(*v as f64),
            other => Err(corrupt(i, "a number", other)),
        }
    }

    /// A nullable float column.
    pub fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            _ => self.real(i).map(Some),
        }
    }

    /// A boolean column (SQLite stores 0/1).
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.at(i)? {
            SqlValue::Bool(b) => Ok(*b),
            SqlValue::Int(v) => Ok(*v != 0),
            other => Err(corrupt(i, "a boolean", other)),
        }
    }

    /// A text column, moved out of the row.
    pub fn text(&mut self, i: usize) -> Result<String, StoreError> {
        match self.0.get_mut(i) {
            Some(SqlValue::Text(s)) => Ok(std::mem::take(s)),
            Some(other) => Err(corrupt(i, "text", other)),
            None => Err(StoreError::Corrupt(format!("column {i} missing"))),
        }
    }

    /// A nullable text column, moved out of the row.
    pub fn opt_text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// A bytes column.
    pub fn blob(&self, i: usize) -> Result<&[u8], StoreError> {
        match self.at(i)? {
            SqlValue::Blob(b) => Ok(b),
            other => Err(corrupt(i, "bytes", other)),
        }
    }

    /// A nullable bytes column.
    pub fn opt_blob(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            _ => self.blob(i).map(Some),
        }
    }

    /// A fixed-size id column (trace or span id).
    pub fn id<const N: usize>(&self, i: usize) -> Result<[u8; N], StoreError> {
        let bytes = self.blob(i)?;
        <[u8; N]>::try_from(bytes)
            .map_err(|_| StoreError::Corrupt(format!("column {i}: an id of {} bytes", bytes.len())))
    }

    /// A nullable fixed-size id column.
    pub fn opt_id<const N: usize>(&self, i: usize) -> Result<Option<[u8; N]>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            _ => self.id(i).map(Some),
        }
    }

    /// A JSON column (`jsonb`, or JSON text), decoded into `T`. A value that
    /// does not decode is reported, never replaced by an empty one.
    pub fn json<T: DeserializeOwned>(&mut self, i: usize) -> Result<T, StoreError> {
        let decoded = match self.0.get_mut(i) {
            Some(SqlValue::Json(v)) => serde_json::from_value(std::mem::take(v)),
            Some(SqlValue::Text(s)) => serde_json::from_str(s),
            Some(other) => return Err(corrupt(i, "json", other)),
            None => return Err(StoreError::Corrupt(format!("column {i} missing"))),
        };
        decoded.map_err(|e| StoreError::Corrupt(format!("column {i}: invalid json: {e}")))
    }

    /// Token counts from three integer columns from `at` (prompt, completion,
    /// total).
    pub fn tokens(&self, at: usize) -> Result<TokenCount, StoreError> {
        Ok(TokenCount {
            prompt: self.int(at)?,
            completion: self.int(at + 1)?,
            total: self.int(at + 2)?,
        })
    }

    /// A cost from three float columns from `at` (prompt, completion, total).
    pub fn cost(&self, at: usize) -> Result<Cost, StoreError> {
        Ok(Cost {
            prompt: self.real(at)?,
            completion: self.real(at + 1)?,
            total: self.real(at + 2)?,
        })
    }

    /// The column as text, whatever its type: the sort value a cursor keeps.
    /// Floats print as Rust prints them, which parses back to the same value.
    pub fn sort_value(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            SqlValue::Int(v) => Ok(v.to_string()),
            SqlValue::Real(v) => Ok(v.to_string()),
            SqlValue::Text(s) => Ok(s.clone()),
            other => Err(corrupt(i, "a sort value", other)),
        }
    }
}

/// The SQL that differs between the backends, as fragments the shared queries
/// splice in. Everything else is written once.
pub trait Dialect: Sync {
    /// `<expr> IN` a list bound as one [`SqlValue::IntList`] parameter, e.g.
    /// `= ANY($3::int8[])`.
    fn in_ints(&self, param: &str) -> String;
    /// As [`Dialect::in_ints`], for a [`SqlValue::TextList`].
    fn in_texts(&self, param: &str) -> String;
    /// `traces t` joined with each of its tags that is a string (its
    /// `tags`, a JSON array), as `j.value`: what `session_tags` is derived
    /// from.
    fn trace_tags(&self) -> &'static str;
    /// `traces t` joined with each entry of its metadata (a JSON object), as
    /// `j.key` and the value's text ([`Dialect::metadata_text`]): what
    /// `session_metadata` is derived from.
    fn trace_metadata(&self) -> &'static str;
    /// The text of entry `j`'s value in [`Dialect::trace_metadata`]: strings
    /// as they are, other values as JSON, NULL for null.
    fn metadata_text(&self) -> &'static str;
    /// The sum of an integer column over a group, saturating at `i64::MAX`
    /// instead of failing (SQLite's `sum` errors on overflow).
    fn saturating_sum(&self, column: &str) -> String;
    /// `a + b` of two integers, saturating at `i64::MAX` as
    /// [`Dialect::saturating_sum`] does (a sum grown by a later sum equals
    /// the sum of both at once).
    fn saturating_add(&self, a: &str, b: &str) -> String;
    /// How trace `t`'s turn input or output is read.
    fn trace_io(&self, side: Side) -> TraceIo;
    /// What ends a `SELECT` that takes rows for this transaction alone, so
    /// that concurrent transactions pass them by (`FOR UPDATE SKIP LOCKED`);
    /// nothing where one writer runs at a time.
    fn skip_locked(&self) -> &'static str;
    /// A condition on trace `t` that an index answers: its search texts hold
    /// every one of `trigrams` ([`super::queries::search_trigrams`]), bound
    /// in `args`; `None` (nothing bound) where the backend keeps no such index
    /// and `LIKE` looks at every trace of a session.
    fn search_index(&self, trigrams: &[i32], args: &mut Args) -> Option<String>;
}

/// A trace's turn input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The turn's input.
    Input,
    /// The turn's output.
    Output,
}

/// The SQL expressions, over trace `t`, that read one side of its turn.
pub struct TraceIo {
    /// The value (may assemble a stored text).
    pub value: &'static str,
    /// A condition: there is a value (cheap: reads no text).
    pub present: &'static str,
    /// Its MIME type.
    pub mime: &'static str,
    /// The raw value it was read from (`raw_value`), if it differs.
    pub raw: &'static str,
}

/// A transaction, as the shared queries use it: SQL text with numbered
/// parameters in, driver-free rows out.
pub trait SqlTx {
    /// The backend's dialect.
    fn dialect(&self) -> &'static dyn Dialect;
    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, args: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError>;
    /// Runs a statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64, StoreError>;

    /// Runs statements without parameters (a migration's DDL).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// The SQLite connection under this transaction, for SQLite's migrations
    /// written against its own API.
    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        None
    }

    /// The zstd dictionaries the blobs this transaction decodes in Rust may
    /// name (PostgreSQL's span bodies; SQLite decodes its blobs in SQL
    /// functions, which hold their store's).
    fn dictionaries(&self) -> &Arc<Dictionaries> {
        Dictionaries::none()
    }

    /// Runs a query expected to return at most one row.
    fn query_opt(&mut self, sql: &str, args: &[SqlValue]) -> Result<Option<SqlRow>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }
}

/// One step of a backend's schema: SQL, or code for what SQL cannot compute
/// (a column derived by the server's own rules).
pub enum Migration {
    /// Statements run as they are.
    Sql(&'static str),
    /// A step written in Rust over the transaction.
    Code(fn(&mut dyn SqlTx) -> Result<(), StoreError>),
}

/// The step after each backend's own `CREATE TABLE session_users`: the
/// users of the sessions stored before, and the index over every trace it
/// replaces dropped.
pub const FILL_SESSION_USERS: Migration = Migration::Sql(
    "INSERT INTO session_users (project_id, user_id, session_rowid)
     SELECT DISTINCT project_id, user_id, session_rowid FROM traces
     WHERE user_id IS NOT NULL AND session_rowid IS NOT NULL;
     DROP INDEX traces_by_user;",
);

/// The step after each backend's own `CREATE TABLE session_tags`: the tags
/// of the sessions stored before.
pub const FILL_SESSION_TAGS: Migration = Migration::Code(|tx| {
    let sql = format!(
        "INSERT INTO session_tags (project_id, tag, session_rowid)
         SELECT DISTINCT t.project_id, j.value, t.session_rowid FROM {}
         WHERE t.session_rowid IS NOT NULL",
        tx.dialect().trace_tags()
    );
    tx.execute(&sql, &[])?;
    Ok(())
});

/// The step after each backend's own `CREATE TABLE session_metadata`: the
/// metadata of the sessions stored before.
pub const FILL_SESSION_METADATA: Migration = Migration::Code(|tx| {
    let d = tx.dialect();
    let sql = format!(
        "INSERT INTO session_metadata (project_id, key, value, session_rowid)
         SELECT DISTINCT t.project_id, j.key, {}, t.session_rowid FROM {}
         WHERE t.session_rowid IS NOT NULL AND {}",
        d.metadata_text(),
        d.trace_metadata(),
        super::queries::metadata_indexed(d)
    );
    tx.execute(&sql, &[])?;
    Ok(())
});

/// Applies the steps after version `current` in the caller's transaction, so
/// that a server stopped midway leaves the schema as it was; returns the new
/// version for the caller to record. A schema newer than this server is
/// refused rather than guessed at.
pub fn apply_migrations(
    tx: &mut dyn SqlTx,
    current: usize,
    steps: &[Migration],
) -> Result<usize, StoreError> {
    if current > steps.len() {
        return Err(StoreError::Backend(format!(
            "database schema version {current} is newer than this server ({})",
            steps.len()
        )));
    }
    for (i, step) in steps.iter().enumerate().skip(current) {
        match step {
            Migration::Sql(sql) => tx.batch(sql)?,
            Migration::Code(f) => f(tx)?,
        }
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(steps.len())
}

/// Parameters numbered as they are added, for SQL built piece by piece.
#[derive(Debug, Default)]
pub struct Args(pub Vec<SqlValue>);

impl Args {
    /// Adds a value and returns its placeholder (`$n`).
    pub fn add(&mut self, value: impl Into<SqlValue>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }
}

/// What one SQL backend provides: its transactions, its write path, and how it
/// stores span bodies. [`Store`](super::Store) is implemented once over this
/// (see [`super::queries`]).
pub trait SqlBackend: Send + Sync + 'static {
    /// How this backend keeps spans.
    type Spans: SpanTables;

    /// Runs `f` in one read-only snapshot: every query of a response sees the
    /// same data.
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// Runs `f` in one read-write transaction, committed before returning. A
    /// backend with concurrent writers may run `f` again from the start when
    /// another writer got in the way ([`StoreError::Conflict`]).
    fn write<T>(
        &self,
        f: impl FnMut(&mut dyn SqlTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// The idle period this backend applies to projects without their own.
    fn lifecycle(&self) -> &super::evaluations::Lifecycle;

    /// Gives pages freed by deletes back to the file system, in small steps;
    /// the pages given back. Nothing to do where the database does it itself.
    fn give_back_free_pages(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The outcome of the backend's last integrity check, when it runs one.
    fn integrity(&self) -> Option<super::IntegrityCheck> {
        None
    }

    /// Stores a batch of spans (see [`Store::write`](super::Store::write)).
    fn write_spans(&self, spans: &[SpanRecord]) -> Result<WriteOutcome, StoreError>;

    /// Stores a batch of GenAI events (see
    /// [`Store::write_events`](super::Store::write_events)).
    fn write_logged_events(&self, events: &[EventRecord]) -> Result<WriteOutcome, StoreError>;
}

/// How a backend keeps spans, as the shared queries need it: reading a
/// trace's spans back and removing a session's.
pub trait SpanTables {
    /// Every span of a trace, ordered by start then span id, attributes and
    /// events decoded from however this backend stores them.
    fn spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<Vec<SpanInfo>, StoreError>;

    /// The spans with these row ids, as (row id, trace id, span), in any order.
    fn spans_by_rowid(
        tx: &mut dyn SqlTx,
        rowids: &[i64],
    ) -> Result<Vec<(i64, [u8; 16], SpanInfo)>, StoreError>;

    /// Locks a session for deletion against concurrent writers and returns its
    /// row id; `NotFound("session")` when it does not exist.
    fn lock_session_for_delete(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_id: &str,
    ) -> Result<i64, StoreError>;

    /// Deletes the spans of a session's traces, with anything only they held.
    fn delete_spans_of_session(
        tx: &mut dyn SqlTx,
        project_id: i64,
        session_rowid: i64,
    ) -> Result<(), StoreError>;

    /// Locks one trace for deletion against concurrent writers of its spans.
    fn lock_trace_for_delete(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<(), StoreError>;

    /// Deletes the spans of one trace, with anything only they held.
    fn delete_spans_of_trace(
        tx: &mut dyn SqlTx,
        project_id: i64,
        trace_id: &[u8; 16],
    ) -> Result<(), StoreError>;

    /// Locks a project for deletion against concurrent writers of its spans,
    /// traces and sessions (nothing where one writer runs at a time).
    fn lock_project_for_delete(tx: &mut dyn SqlTx, project_id: i64) -> Result<(), StoreError>;

    /// Deletes every span of a project, with anything only they held.
    fn delete_spans_of_project(tx: &mut dyn SqlTx, project_id: i64) -> Result<(), StoreError>;

    /// The condition on `spans s` selecting the spans of project `project`'s
    /// traces whose ids are in `trace_ids` (a parameter and an `IN (...)`
    /// list), by whatever index this backend keeps a trace's spans in.
    fn of_traces(project: &str, trace_ids: &str) -> String;
}
