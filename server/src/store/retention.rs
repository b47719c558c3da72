//! Retention: which sessions are past their project's retention (the
//! project's own, else the server's `--retention`; kept for ever by default),
//! judged by their last activity (when their last trace arrived), and which
//! traces outside any session are, judged by their start. The store deletes
//! them one per transaction ([`Store::purge_expired`]), so ingest never waits
//! long for the writer and a session is never half deleted.
//!
//! [`Store::purge_expired`]: super::Store::purge_expired

use super::StoreError;
use super::sql::SqlTx;

/// What one call of [`Store::purge_expired`] did.
///
/// [`Store::purge_expired`]: super::Store::purge_expired
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeRound {
    /// Expired sessions and traces outside sessions found (at most the
    /// limit): fewer than the limit means none is left beyond them.
    pub expired: usize,
    /// Those this call deleted; the others were deleted meanwhile by another
    /// server, or got a new trace (a session) or a session (a trace).
    pub deleted: usize,
}

/// A session, or a trace outside any session, past its retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Its project's row id.
    pub project_id: i64,
    /// What expired.
    pub item: Expiring,
    /// Sessions last active (traces started) before this instant are
    /// expired (Unix ns).
    pub cutoff_ns: i64,
}

/// What expires: a whole session, or a trace that belongs to none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiring {
    /// A session, by its id.
    Session(String),
    /// A trace without a session, by its id.
    Trace([u8; 16]),
}

/// Up to `limit` expired sessions at `now`, oldest activity first, then
/// expired traces outside sessions, oldest first, project by project (each
/// walks the `(project, last activity)` index, then the partial index of
/// traces without a session).
pub(super) fn expired(
    tx: &mut dyn SqlTx,
    default_retention_ns: i64,
    now: i64,
    limit: usize,
) -> Result<Vec<Expired>, StoreError> {
    let projects = tx.query(
        "SELECT p.id, ps.retention_ns FROM projects p
         LEFT JOIN project_settings ps ON ps.project_id = p.id ORDER BY p.id",
        &[],
    )?;
    let mut out = Vec::new();
    for p in projects {
        if out.len() >= limit {
            break;
        }
        let pid = p.int(0)?;
        let retention = p.opt_int(1)?.unwrap_or(default_retention_ns);
        if retention <= 0 {
            continue; // kept for ever
        }
        let cutoff = now.saturating_sub(retention);
        let rows = tx.query(
            "SELECT session_id FROM sessions WHERE project_id = $1 AND last_activity_ns < $2
             ORDER BY last_activity_ns LIMIT $3",
            &[
                pid.into(),
                cutoff.into(),
                ((limit - out.len()) as i64).into(),
            ],
        )?;
        for mut r in rows {
            out.push(Expired {
                project_id: pid,
                item: Expiring::Session(r.text(0)?),
                cutoff_ns: cutoff,
            });
        }
        if out.len() >= limit {
            break;
        }
        let traces = tx.query(
            "SELECT trace_id FROM traces WHERE project_id = $1 AND session_rowid IS NULL
             AND start_ns < $2 ORDER BY start_ns LIMIT $3",
            &[
                pid.into(),
                cutoff.into(),
                ((limit - out.len()) as i64).into(),
            ],
        )?;
        for r in traces {
            out.push(Expired {
                project_id: pid,
                item: Expiring::Trace(r.id::<16>(0)?),
                cutoff_ns: cutoff,
            });
        }
    }
    Ok(out)
}
