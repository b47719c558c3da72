//! Session annotations in PostgreSQL: one row per (project, session id, name,
//! identifier), a request's annotations written in one transaction.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use postgres::{Row, Transaction};
use serde_json::{Map, Value};

use super::{Fail, clean, clean_json, project_rowid, session_lookup};
use crate::annotation::{Annotation, AnnotationSummary, AnnotatorKind, NewAnnotation, summarize};
use crate::model::rfc3339;
use crate::store::StoreError;

const COLS: &str = "a.id, a.session_id, a.name, a.identifier, a.annotator_kind, a.label, a.score,
    a.explanation, a.metadata, a.user_id, a.created_ns, a.updated_ns";

fn row(r: &Row) -> Annotation {
    let kind: String = r.get(4);
    Annotation {
        id: r.get(0),
        session_id: r.get(1),
        name: r.get(2),
        identifier: r.get(3),
        annotator_kind: AnnotatorKind::parse(&kind).unwrap_or_default(),
        label: r.get(5),
        score: r.get(6),
        explanation: r.get(7),
        metadata: serde_json::from_value::<Map<String, Value>>(r.get(8)).unwrap_or_default(),
        user_id: r.get(9),
        created_at: rfc3339(r.get(10)),
        updated_at: rfc3339(r.get(11)),
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The annotations of a session, oldest first.
pub(super) fn of_session(
    tx: &mut Transaction<'_>,
    project: &str,
    session_id: &str,
) -> Result<Vec<Annotation>, StoreError> {
    Ok(tx
        .query(
            &format!(
                "SELECT {COLS} FROM session_annotations a JOIN projects p ON p.id = a.project_id
                 WHERE p.name = $1 AND a.session_id = $2 ORDER BY a.created_ns, a.id"
            ),
            &[&clean(project).as_ref(), &clean(session_id).as_ref()],
        )?
        .iter()
        .map(row)
        .collect())
}

/// The per-name summaries shown with each of a page of sessions, in one query.
pub(super) fn summaries_of(
    tx: &mut Transaction<'_>,
    project: &str,
    session_ids: &[&str],
) -> Result<HashMap<String, Vec<AnnotationSummary>>, StoreError> {
    let ids: Vec<String> = session_ids.iter().map(|s| clean(s).into_owned()).collect();
    let mut by_session: HashMap<String, Vec<Annotation>> = HashMap::new();
    for r in tx.query(
        &format!(
            "SELECT {COLS} FROM session_annotations a JOIN projects p ON p.id = a.project_id
             WHERE p.name = $1 AND a.session_id = ANY($2::text[])
             ORDER BY a.created_ns, a.id"
        ),
        &[&clean(project).as_ref(), &ids],
    )? {
        let a = row(&r);
        by_session.entry(a.session_id.clone()).or_default().push(a);
    }
    Ok(by_session
        .into_iter()
        .map(|(id, list)| (id, summarize(&list)))
        .collect())
}

/// Deletes every annotation of a session (the session is being deleted).
pub(super) fn delete_all(
    tx: &mut Transaction<'_>,
    project_id: i64,
    session_id: &str,
) -> Result<(), postgres::Error> {
    tx.execute(
        "DELETE FROM session_annotations WHERE project_id = $1 AND session_id = $2",
        &[&project_id, &clean(session_id).as_ref()],
    )?;
    Ok(())
}

/// Creates or replaces annotations; any unknown session fails the whole call.
pub(super) fn upsert(
    tx: &mut Transaction<'_>,
    project: &str,
    annotations: &[NewAnnotation],
) -> Result<Vec<Annotation>, Fail> {
    let pid = project_rowid(tx, project)?;
    let now = now_ns();
    let stmt = tx.prepare(&format!(
        "INSERT INTO session_annotations AS a
           (project_id, session_id, name, identifier, annotator_kind, label, score,
            explanation, metadata, user_id, created_ns, updated_ns)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (project_id, session_id, name, identifier) DO UPDATE SET
           annotator_kind = excluded.annotator_kind, label = excluded.label,
           score = excluded.score, explanation = excluded.explanation,
           metadata = excluded.metadata, user_id = excluded.user_id,
           updated_ns = excluded.updated_ns
         RETURNING {COLS}"
    ))?;
    let mut stored = Vec::with_capacity(annotations.len());
    for a in annotations {
        // every session must exist: an annotation of nothing is a mistake
        session_lookup(tx, project, &a.session_id)?;
        let c = |s: &Option<String>| s.as_deref().map(|s| clean(s).into_owned());
        let metadata = clean_json(&Value::Object(a.metadata.clone()));
        let r = tx.query_one(
            &stmt,
            &[
                &pid,
                &clean(&a.session_id).as_ref(),
                &clean(&a.name).as_ref(),
                &clean(&a.identifier).as_ref(),
                &a.annotator_kind.as_str(),
                &c(&a.label),
                &a.score,
                &c(&a.explanation),
                &metadata,
                &c(&a.user_id),
                &now,
            ],
        )?;
        stored.push(row(&r));
    }
    Ok(stored)
}

/// Deletes one annotation of a session.
pub(super) fn delete_one(
    tx: &mut Transaction<'_>,
    project: &str,
    session_id: &str,
    id: i64,
) -> Result<(), Fail> {
    let pid = project_rowid(tx, project)?;
    let deleted = tx.execute(
        "DELETE FROM session_annotations WHERE id = $1 AND project_id = $2 AND session_id = $3",
        &[&id, &pid, &clean(session_id).as_ref()],
    )?;
    if deleted == 0 {
        return Err(StoreError::NotFound("annotation").into());
    }
    Ok(())
}
