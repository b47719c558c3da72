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
//! Small requests (a few spans) go further: each is queued ([`Queued`]),
//! and the first write to hold the writer writes every request queued
//! meanwhile as one write of the group: one summary pass over their traces,
//! one refresh of their sessions, one set of statements, where a write each
//! cost a request of one span five times what ten spans in one write cost.
//! Each request still hears its own counts, and is answered once the group
//! committed.
//!
//! A member whose write fails rolls the whole group back (SQLite savepoints,
//! one a member, made SQLite fail span writes with `SQLITE_FULL` once a
//! group held several requests: not used). The others write again, each in
//! a transaction of its own ([`Ended::RolledBack`]): one request whose write
//! fails (a corrupt stored trace it joins) costs the requests grouped with
//! it a second write, never their spans. Queued requests written together
//! whose write fails each write again on their own the same way
//! ([`QueuedEnd::Again`]).
//!
//! Invariant: the writer lock is released with a group open only while
//! another write is counted as waiting for it, and every write that takes
//! the lock decides again (commits the group, or leaves it to a write still
//! waiting; a write of its own commits it first): an open group always
//! ends, committed or rolled back, and its members hear which.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::durability::Written;
use super::poisoned;
use super::recent::RecentTraces;
use crate::model::SpanRecord;
use crate::store::{StoreError, WriteOutcome};

/// Spans a group holds before its member commits even with writes waiting:
/// a bound on the transaction's size and on how long its first member waits.
const GROUP_MAX_SPANS: usize = 4_096;

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

/// A value one thread fills and others wait for.
pub(super) struct Slot<T> {
    value: Mutex<Option<T>>,
    filled: Condvar,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            value: Mutex::new(None),
            filled: Condvar::new(),
        }
    }
}

impl<T: Clone> Slot<T> {
    pub(super) fn fill(&self, value: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        self.filled.notify_all();
    }

    /// Empties the slot, to be filled again.
    pub(super) fn clear(&self) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The value, once filled. A writer that panicked poisons the writer's
    /// lock: nobody would fill the slot then, so that ends the wait with
    /// `abandoned`.
    pub(super) fn wait(&self, lock: &WriterLock, abandoned: impl Fn() -> T) -> T {
        let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = &*value {
                return value.clone();
            }
            if lock.writer.is_poisoned() {
                return abandoned();
            }
            value = self
                .filled
                .wait_timeout(value, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// How a group's transaction ended, for its members.
pub(super) type Outcome = Slot<Ended>;

impl Outcome {
    /// How the group ended, once it did.
    pub(super) fn ended(&self, lock: &WriterLock) -> Ended {
        self.wait(lock, || Ended::RolledBack(poisoned()))
    }
}

/// A small request's spans, queued for the next write that holds the
/// writer: the requests queued meanwhile are written together, in one
/// write of the group (one summary of their traces, one refresh of their
/// sessions, one set of statements), where a write each cost five times as
/// much for requests of one span.
pub(super) struct Queued {
    pub(super) spans: Vec<SpanRecord>,
    pub(super) end: Arc<Slot<QueuedEnd>>,
}

/// What became of a [`Queued`] request's spans.
#[derive(Clone)]
pub(super) enum QueuedEnd {
    /// Written in the group whose outcome this is.
    Written(WriteOutcome, Arc<Outcome>),
    /// Not written (the write of the queued requests failed): the request
    /// writes again on its own.
    Again,
    /// Not written yet: the request's thread is to drain the queue, its
    /// drainer having left it to another write waiting for the writer.
    Drain,
}

/// How long one thread drains the queue of small requests before it leaves
/// the queue to another (its own request's answer waits meanwhile).
pub(super) const DRAIN_MAX: Duration = Duration::from_millis(5);

/// The small requests waiting to be written, and whether one request's
/// thread is draining them. Only the drainer takes the writer's lock for
/// them: the others wait for their answer alone, where each taking the
/// lock in turn, to find its spans written, cost every request a thread
/// hand-off on the writer's path.
#[derive(Default)]
pub(super) struct Queue {
    requests: Vec<Queued>,
    draining: bool,
}

impl Queue {
    /// Queues `request`: true if its thread is to drain the queue (no other
    /// thread is).
    pub(super) fn push(&mut self, request: Queued) -> bool {
        self.requests.push(request);
        !std::mem::replace(&mut self.draining, true)
    }

    /// Requests queued whose threads do not wait for the writer's lock:
    /// all but the drainer's.
    #[cfg(test)]
    pub(super) fn writes_waiting(&self) -> usize {
        self.requests.len() - usize::from(self.draining && !self.requests.is_empty())
    }

    /// The requests queued, taken by the drainer to write.
    pub(super) fn take(&mut self) -> Vec<Queued> {
        std::mem::take(&mut self.requests)
    }

    /// After the drainer's write: whether it writes again (requests were
    /// queued meanwhile, and it is not to `hand_off`). Else it stops
    /// draining: the queue is empty (the next request queued drains), or the
    /// oldest request's thread is to drain next.
    pub(super) fn drains_on(&mut self, hand_off: bool) -> bool {
        match self.requests.first() {
            None => {
                self.draining = false;
                false
            }
            Some(oldest) if hand_off => {
                oldest.end.fill(QueuedEnd::Drain);
                false
            }
            Some(_) => true,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (Queued, Arc<Slot<QueuedEnd>>) {
        let end = Arc::new(Slot::default());
        let queued = Queued {
            spans: Vec::new(),
            end: Arc::clone(&end),
        };
        (queued, end)
    }

    fn told(end: &Slot<QueuedEnd>) -> Option<&'static str> {
        match &*end.value.lock().unwrap() {
            None => None,
            Some(QueuedEnd::Drain) => Some("drain"),
            Some(_) => Some("other"),
        }
    }

    /// One thread drains at a time: the first request queued, or the
    /// oldest one when the drainer hands off; the next request queued after
    /// the queue ran empty drains again.
    #[test]
    fn one_request_drains_the_queue_and_hands_it_to_the_oldest() {
        let mut queue = Queue::default();
        let (first, _) = request();
        let (second, _) = request();
        assert!(queue.push(first), "no one drains: the first request does");
        assert!(!queue.push(second), "the second waits for its answer");
        assert_eq!(queue.take().len(), 2);
        let (third, third_end) = request();
        let (fourth, fourth_end) = request();
        assert!(!queue.push(third), "queued while the drainer writes");
        assert!(!queue.push(fourth));
        assert!(queue.drains_on(false), "the drainer writes again");
        assert_eq!(told(&third_end), None);
        assert!(!queue.drains_on(true), "it hands off");
        assert_eq!(told(&third_end), Some("drain"), "to the oldest");
        assert_eq!(told(&fourth_end), None);
        assert_eq!(queue.take().len(), 2, "which drains all queued");
        assert!(!queue.drains_on(false), "the queue ran empty");
        let (fifth, _) = request();
        assert!(queue.push(fifth), "the next request queued drains");
    }
}
