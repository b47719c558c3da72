//! The retention task: one per server, it deletes sessions past their
//! project's retention (`--retention`, or the project's own setting; kept for
//! ever by default), a few at a time and one per transaction, so ingest keeps
//! the writer; when a round leaves nothing to delete, the freed pages go back
//! to the file system in small steps. Several servers on one database may run
//! it at once: a session deleted by one is skipped by the others.

use std::time::Duration;

use crate::AppState;
use crate::store::queries::now_ns;

/// Sessions deleted per round (then the task yields to ingest).
pub const BATCH: usize = 100;
/// How often the task looks for expired sessions when the last look found none.
pub const TICK: Duration = Duration::from_secs(10);

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    // a first round at start-up: a server that was down a while catches up
    let mut idle = false;
    // sessions deleted since the purge began, reported when it ends
    let mut purged = 0;
    loop {
        if idle {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        } else if *stop.borrow() {
            return;
        }
        let store = state.store.clone();
        let round = tokio::task::spawn_blocking(move || {
            let round = store.purge_expired(now_ns(), BATCH)?;
            // once nothing is left to delete, give the space back, a step a round
            let reclaimed = if round.expired < BATCH {
                store.reclaim_space()?
            } else {
                0
            };
            Ok::<_, crate::store::StoreError>((round, reclaimed))
        })
        .await;
        match round {
            Ok(Ok((round, reclaimed))) => {
                if round.deleted > 0 {
                    tracing::info!(
                        sessions = round.deleted,
                        "retention: deleted sessions past their retention"
                    );
                }
                if reclaimed > 0 {
                    tracing::debug!(pages = reclaimed, "retention: gave free pages back");
                }
                purged += round.deleted;
                // a full listing means more may wait (even when another
                // server deleted these first); so may more free pages
                let more = round.expired == BATCH;
                if !more && purged > 0 {
                    tracing::info!(sessions = purged, "retention: nothing left to delete");
                    purged = 0;
                }
                idle = !more && reclaimed == 0;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "retention: deleting expired sessions failed; trying again later");
                idle = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "retention round panicked");
                idle = true;
            }
        }
    }
}
