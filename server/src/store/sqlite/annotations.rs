//! Session annotations in SQLite: one row per (project, session id, name,
//! identifier), written in one transaction per request.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::{Map, Value};

use super::{SqliteStore, json_text, poisoned, project_rowid, session_lookup};
use crate::annotation::{Annotation, AnnotationSummary, AnnotatorKind, NewAnnotation, summarize};
use crate::model::rfc3339;
use crate::store::StoreError;

/// Migration 3: the annotations table. The unique key is the upsert key.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE session_annotations (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        session_id TEXT NOT NULL,
        name TEXT NOT NULL,
        identifier TEXT NOT NULL,
        annotator_kind TEXT NOT NULL,
        label TEXT,
        score REAL,
        explanation TEXT,
        metadata TEXT NOT NULL,
        user_id TEXT,
        created_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (project_id, session_id, name, identifier)
    );
"#;

const COLS: &str = "a.id, a.session_id, a.name, a.identifier, a.annotator_kind, a.label, a.score,
    a.explanation, a.metadata, a.user_id, a.created_ns, a.updated_ns";

fn row(r: &Row<'_>) -> rusqlite::Result<Annotation> {
    let kind: String = r.get(4)?;
    let metadata: String = r.get(8)?;
    Ok(Annotation {
        id: r.get(0)?,
        session_id: r.get(1)?,
        name: r.get(2)?,
        identifier: r.get(3)?,
        annotator_kind: AnnotatorKind::parse(&kind).unwrap_or_default(),
        label: r.get(5)?,
        score: r.get(6)?,
        explanation: r.get(7)?,
        metadata: serde_json::from_str::<Map<String, Value>>(&metadata).unwrap_or_default(),
        user_id: r.get(9)?,
        created_at: rfc3339(r.get(10)?),
        updated_at: rfc3339(r.get(11)?),
    })
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The annotations of a session, oldest first.
pub(super) fn of_session(
    tx: &Transaction<'_>,
    project: &str,
    session_id: &str,
) -> rusqlite::Result<Vec<Annotation>> {
    tx.prepare_cached(&format!(
        "SELECT {COLS} FROM session_annotations a JOIN projects p ON p.id = a.project_id
         WHERE p.name = ?1 AND a.session_id = ?2 ORDER BY a.created_ns, a.id"
    ))?
    .query_map(params![project, session_id], row)?
    .collect()
}

/// The per-name summaries shown with a session.
pub(super) fn summaries(
    tx: &Transaction<'_>,
    project: &str,
    session_id: &str,
) -> rusqlite::Result<Vec<AnnotationSummary>> {
    Ok(summarize(&of_session(tx, project, session_id)?))
}

/// Deletes every annotation of a session (the session is being deleted).
pub(super) fn delete_all(
    tx: &Transaction<'_>,
    project_id: i64,
    session_id: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM session_annotations WHERE project_id = ?1 AND session_id = ?2")?
        .execute(params![project_id, session_id])?;
    Ok(())
}

impl SqliteStore {
    pub(super) fn upsert_annotations_impl(
        &self,
        project: &str,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<Annotation>, StoreError> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction()?;
        let pid = project_rowid(&tx, project)?;
        let now = now_ns();
        let mut ids = Vec::with_capacity(annotations.len());
        for a in annotations {
            // every session must exist: an annotation of nothing is a mistake
            session_lookup(&tx, project, &a.session_id)?;
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO session_annotations
                       (project_id, session_id, name, identifier, annotator_kind, label, score,
                        explanation, metadata, user_id, created_ns, updated_ns)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                     ON CONFLICT (project_id, session_id, name, identifier) DO UPDATE SET
                       annotator_kind = excluded.annotator_kind, label = excluded.label,
                       score = excluded.score, explanation = excluded.explanation,
                       metadata = excluded.metadata, user_id = excluded.user_id,
                       updated_ns = excluded.updated_ns
                     RETURNING id",
                )?
                .query_row(
                    params![
                        pid,
                        a.session_id,
                        a.name,
                        a.identifier,
                        a.annotator_kind.as_str(),
                        a.label,
                        a.score,
                        a.explanation,
                        json_text(&a.metadata),
                        a.user_id,
                        now,
                    ],
                    |r| r.get(0),
                )?;
            ids.push(id);
        }
        let mut stored = Vec::with_capacity(ids.len());
        for id in ids {
            stored.push(
                tx.prepare_cached(&format!(
                    "SELECT {COLS} FROM session_annotations a WHERE a.id = ?1"
                ))?
                .query_row([id], row)?,
            );
        }
        tx.commit()?;
        Ok(stored)
    }

    pub(super) fn annotations_impl(
        &self,
        project: &str,
        session_id: &str,
    ) -> Result<Vec<Annotation>, StoreError> {
        self.read(|tx| {
            session_lookup(tx, project, session_id)?;
            Ok(of_session(tx, project, session_id)?)
        })
    }

    pub(super) fn delete_annotation_impl(
        &self,
        project: &str,
        session_id: &str,
        id: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction()?;
        let pid = project_rowid(&tx, project)?;
        let found: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM session_annotations WHERE id = ?1 AND project_id = ?2 AND session_id = ?3",
            )?
            .query_row(params![id, pid, session_id], |r| r.get(0))
            .optional()?;
        if found.is_none() {
            return Err(StoreError::NotFound("annotation"));
        }
        tx.execute("DELETE FROM session_annotations WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }
}
