//! Span writes that arrive while the writer is busy share one transaction:
//! group commit at the write, not only at the sync ([`super::durability`]).
//!
//! A request committed alone writes every page it changed to the WAL. One
//! span (what a simple span processor sends, Phoenix's `register()` default)
//! changes some twenty pages (the span, its trace, its session and their
//! indexes, the texts' counts): 80 kB of WAL and page cache writes for a
//! 1.8 kB span, measured. Requests that wait for the writer instead join the
//! transaction the writer has open, and the member that finds no one
//! waiting, or the group full, commits for all. Every member is answered
//! only after that commit, then only once it is synced: durable before
//! acknowledged stays true.
//!
//! Small requests (a few spans) go further (`store/queue.rs`): one thread
//! drains their queue and writes every request queued as one write of the
//! group: one summary pass over their traces, one refresh of their
//! sessions, one set of statements, where a write each cost a request of one
//! span five times what ten spans in one write cost. Each request still
//! hears its own counts, and is answered once the group committed.
//!
//! A member whose write fails rolls the whole group back (SQLite savepoints,
//! one a member, made SQLite fail span writes with `SQLITE_FULL` once a
//! group held several requests: not used). The others write again, each in
//! a transaction of its own ([`Ended::RolledBack`]): one request whose write
//! fails (a corrupt stored trace it joins) costs the requests grouped with
//! it a second write, never their spans. Queued requests written together
//! whose write fails each write again on their own the same way
//! ([`queue::QueuedEnd::Again`]).
//!
//! Invariant: the writer lock is released with a group open only while
//! another write is counted as waiting for it, and every write that takes
//! the lock decides again (commits the group, or leaves it to a write still
//! waiting; a write of its own commits it first): an open group always
//! ends, committed or rolled back, and its members hear which.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::durability::Written;
use super::poisoned;
use super::recent::RecentTraces;
use crate::store::StoreError;
use crate::store::queue::{self, Slot};

/// Spans a group holds before its member commits even with writes waiting:
/// a bound on the transaction's size and on how long its first member waits.
/// A few hundred spans already share a commit's fixed cost; each member
/// waits for every later one, and exporters that wait for their answer
/// before they send again (every SDK's batch processor) send less the longer
/// it takes. At 4,096 a group of batches of 510 spans took eight, and
/// ingest ran 7-16% slower, history-heavy or light, than at 512; one span
/// a request, as fast (issue 14, twenty-fourth step).
const GROUP_MAX_SPANS: usize = 512;

/// How long a group stays open before its member commits even with writes
/// waiting (the first member's answer waits for the whole group).
const GROUP_MAX_OPEN: Duration = Duration::from_millis(50);

/// The writer's connection, the group of span writes it holds open, and
/// what it knows of the traces it summarized last (forgotten whenever its
/// transaction rolls back).
pub(super) struct Writer {
    pub(super) conn: Connection,
    open: Option<Group>,
    pub(super) recent: RecentTraces,
}

/// Span writes in one open transaction.
struct Group {
    began: Instant,
    spans: usize,
    outcome: Arc<Outcome>,
}

/// How a group's transaction ended.
#[derive(Clone)]
pub(super) enum Ended {
    /// Committed: the commit to wait for.
    Committed(Written),
    /// Rolled back (a member's write or the commit failed): nothing of it
    /// is stored.
    RolledBack(StoreError),
}

/// How a group's transaction ended, for its members.
pub(super) type Outcome = Slot<Ended>;

impl Outcome {
    /// How the group ended, once it did. A writer that panicked poisons the
    /// writer's lock: nobody would tell then, so that ends the wait.
    pub(super) fn ended(&self, lock: &WriterLock) -> Ended {
        self.wait(|| lock.abandoned(|| Ended::RolledBack(poisoned())))
    }
}

/// What a queued request hears of its write: the group's outcome.
pub(super) type QueuedEnd = queue::QueuedEnd<Arc<Outcome>>;

/// The writer, behind its lock, with a count of the writes waiting for it.
pub(super) struct WriterLock {
    writer: Mutex<Writer>,
    waiting: AtomicUsize,
}

impl WriterLock {
    pub(super) fn new(conn: Connection) -> Self {
        Self {
            writer: Mutex::new(Writer {
                conn,
                open: None,
                recent: RecentTraces::default(),
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The writer, as it is: with the group open, if one is.
    pub(super) fn lock(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let writer = self.writer.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        writer.map_err(|_| poisoned())
    }

    /// `instead`, if the writer panicked holding its lock (a wait for what
    /// it was to tell would never end).
    pub(super) fn abandoned<T>(&self, instead: impl FnOnce() -> T) -> Option<T> {
        self.writer.is_poisoned().then(instead)
    }

    /// Writes waiting for the lock now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

impl Writer {
    /// Whether a group is open.
    pub(super) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens a group's transaction.
    pub(super) fn begin(&mut self) -> Result<(), StoreError> {
        debug_assert!(self.open.is_none());
        self.conn.execute_batch("BEGIN")?;
        self.open = Some(Group {
            began: Instant::now(),
            spans: 0,
            outcome: Arc::new(Outcome::default()),
        });
        Ok(())
    }

    /// Runs `write` of `spans` spans in the open group: the group's outcome
    /// to wait for, or `write`'s error (the group is then rolled back, and
    /// its other members told).
    pub(super) fn member<T>(
        &mut self,
        spans: usize,
        write: impl FnOnce(&Connection, &mut RecentTraces) -> Result<T, StoreError>,
    ) -> Result<(T, Arc<Outcome>), StoreError> {
        let Some(group) = &mut self.open else {
            return Err(StoreError::Backend("a span write outside a group".into()));
        };
        group.spans += spans;
        let outcome = Arc::clone(&group.outcome);
        match write(&self.conn, &mut self.recent) {
            Ok(value) => Ok((value, outcome)),
            Err(e) => {
                self.abort(e.clone());
                Err(e)
            }
        }
    }

    /// Whether the group's last member commits it: no write is waiting to
    /// join, or the group is full, or `alone` (a write that must not share).
    pub(super) fn commit_due(&self, waiting: usize, alone: bool) -> bool {
        self.open.as_ref().is_none_or(|group| {
            alone
                || waiting == 0
                || group.spans >= GROUP_MAX_SPANS
                || group.began.elapsed() >= GROUP_MAX_OPEN
        })
    }

    /// Commits the open group, if any (`written` records the commit), and
    /// tells its members. On failure the transaction is rolled back.
    pub(super) fn commit(
        &mut self,
        written: impl FnOnce() -> Written,
    ) -> Option<Result<(), StoreError>> {
        let group = self.open.take()?;
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                group.outcome.fill(Ended::Committed(written()));
                Some(Ok(()))
            }
            Err(e) => {
                let e = StoreError::from(e);
                self.roll_back(group, e.clone());
                Some(Err(e))
            }
        }
    }

    /// Rolls the open group back and tells its members why.
    fn abort(&mut self, why: StoreError) {
        if let Some(group) = self.open.take() {
            self.roll_back(group, why);
        }
    }

    /// Rolls `group`'s transaction back, forgets the traces the writer kept
    /// ([`RecentTraces`]: they may hold what was rolled back) and tells the
    /// members why.
    fn roll_back(&mut self, group: Group, why: StoreError) {
        self.recent.forget();
        if !self.conn.is_autocommit() {
            // SQLite may have left it open (a busy commit): nothing is kept.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        group.outcome.fill(Ended::RolledBack(why));
    }
}
