//! Commits made durable off the writer's path: group commit.
//!
//! The writer commits with `synchronous = NORMAL`: the transaction's pages
//! are written to the WAL (in the OS, safe from a killed process) but not
//! synced, and the writer goes on with the next transaction at once. A write
//! is acknowledged only after [`Durability::wait`]: a thread of its own syncs
//! the WAL file (`fdatasync`) and one sync covers every commit written before
//! it began, so under load a sync serves several requests and the writer never
//! waits on the disk. This is what `synchronous = FULL` gives (the WAL synced
//! after the commit's frames, before the write returns), its syncs shared.
//!
//! SQLite keeps its own order in NORMAL mode: the WAL is synced before a
//! checkpoint copies it into the database, and the database after; a WAL
//! started over after a checkpoint only overwrites frames already in the
//! synced database.
//!
//! The WAL stays open on one file descriptor for the store's life: Linux
//! reports a failed write-back to the descriptors open when it failed, and a
//! sync that failed once is never retried as if nothing happened (the
//! kernel may have dropped the pages): every later write fails until the
//! server restarts and SQLite recovers from what reached the disk.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::store::StoreError;

/// Where the writer's commits stand.
#[derive(Default)]
struct Progress {
    /// Commits written to the WAL, numbered in order.
    written: u64,
    /// Commits synced: every one up to this number.
    synced: u64,
    /// Why a sync failed, once one has.
    failed: Option<String>,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        // Plain counters: a panic elsewhere cannot leave them half-updated.
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sync thread of one database's WAL.
pub(super) struct Durability {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A commit written to the WAL, not yet known to be synced.
#[must_use = "a commit is durable only once waited for"]
#[derive(Clone, Copy)]
pub(super) struct Written(u64);

impl Durability {
    /// Starts syncing `wal` (the database's `-wal` file, which must exist: a
    /// WAL-mode database has one while a connection is open).
    pub(super) fn start(wal: &Path) -> Result<Self, StoreError> {
        let file = File::open(wal).map_err(|e| {
            StoreError::Backend(format!("cannot open the WAL {}: {e}", wal.display()))
        })?;
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("sqlite-sync".to_owned())
                .spawn(move || sync_loop(&shared, &file))
                .map_err(|e| StoreError::Backend(format!("cannot start the WAL sync: {e}")))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Records a commit the writer has just made (call it before the writer
    /// lock is released: commits are numbered in the WAL's order).
    pub(super) fn written(&self) -> Written {
        let mut p = self.shared.lock();
        p.written += 1;
        let n = p.written;
        drop(p);
        self.shared.changed.notify_all();
        Written(n)
    }

    /// Commits recorded so far.
    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.shared.lock().written
    }

    /// Returns once the commit is synced to disk (an error if a sync failed).
    pub(super) fn wait(&self, commit: Written) -> Result<(), StoreError> {
        let mut p = self.shared.lock();
        loop {
            if let Some(why) = &p.failed {
                return Err(StoreError::Unavailable(format!(
                    "the disk failed to keep a write ({why}); writes are refused until the \
                     server restarts"
                )));
            }
            if p.synced >= commit.0 {
                return Ok(());
            }
            p = self
                .shared
                .changed
                .wait(p)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn sync_loop(shared: &Shared, wal: &File) {
    let mut p = shared.lock();
    loop {
        if p.failed.is_some() || (p.stop && p.synced == p.written) {
            return;
        }
        if p.synced == p.written {
            p = shared.changed.wait(p).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        // Every commit numbered so far is in the WAL file: one sync for all.
        let target = p.written;
        drop(p);
        let result = wal.sync_data();
        p = shared.lock();
        match result {
            Ok(()) => p.synced = target,
            Err(e) => {
                tracing::error!(error = %e, "syncing the WAL failed; writes are refused");
                p.failed = Some(e.to_string());
            }
        }
        shared.changed.notify_all();
    }
}

impl Drop for Durability {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits from several threads each return once synced, and the sync
    /// thread stops with the store.
    #[test]
    fn every_commit_waited_for_returns_once_synced() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let durability = Durability::start(&wal).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let commit = durability.written();
                        let n = commit.0;
                        durability.wait(commit).unwrap();
                        assert!(durability.shared.lock().synced >= n);
                    }
                });
            }
        });
        assert_eq!(durability.shared.lock().written, 200);
        drop(durability);
    }

    #[test]
    fn a_missing_wal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Durability::start(&dir.path().join("none-wal")).is_err());
    }
}
