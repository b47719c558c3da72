//! Small span writes queued and written together by one thread, for both
//! backends.
//!
//! A simple span processor (Phoenix's `register()` default, many JavaScript
//! examples) exports every span alone, as it ends, from as many threads as
//! the app serves requests with. A write has a fixed cost that such requests
//! pay once a span: summarizing the trace, refreshing its session (a dozen
//! statements), committing and syncing; ten spans in one write cost a fifth
//! of ten writes of one. So a request of at most [`QUEUED_MAX_SPANS`] spans
//! is queued ([`Queue::push`]), and one request's thread, the drainer, takes
//! every request queued ([`Queue::take`]) and writes them as one write, then
//! again what was queued meanwhile. The others wait for their answer alone,
//! each hearing its own spans' counts ([`QueuedEnd::Written`]) once the
//! write is committed, or [`QueuedEnd::Again`] if it failed (the request
//! then writes on its own: one request's bad spans cost the others a second
//! write, never their spans).
//!
//! The drainer stops after [`DRAIN_MAX`], or when the backend says another
//! write waits for it, and leaves the queue to the oldest request's thread
//! ([`QueuedEnd::Drain`]): a stream of small requests neither delays the
//! drainer's own answer nor keeps the writer from other writes.
//!
//! Invariant: while requests are queued, exactly one thread drains, or is
//! told to; every request taken from the queue hears how its write ended.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::model::SpanRecord;
use crate::store::{StoreError, WriteOutcome};

/// Span writes of at most this many spans are queued and written together
/// with the others queued meanwhile; larger ones are a write each, their
/// fixed cost small beside their spans'.
pub const QUEUED_MAX_SPANS: usize = 32;

/// How long one thread drains the queue before it leaves the queue to
/// another (its own request's answer waits meanwhile).
pub const DRAIN_MAX: Duration = Duration::from_millis(5);

/// How often a wait for a [`Slot`] asks whether its filler is gone.
const ABANDONED_CHECK: Duration = Duration::from_millis(100);

/// A value one thread fills and others wait for.
pub struct Slot<T> {
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
    /// Fills the slot and wakes its waiters.
    pub fn fill(&self, value: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        self.filled.notify_all();
    }

    /// Empties the slot, to be filled again.
    pub fn clear(&self) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The value, once filled; or what `abandoned` says, once it says
    /// something (asked every [`ABANDONED_CHECK`]: whoever was to fill the
    /// slot is gone, a writer that panicked).
    pub fn wait(&self, abandoned: impl Fn() -> Option<T>) -> T {
        let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = &*value {
                return value.clone();
            }
            if let Some(instead) = abandoned() {
                return instead;
            }
            value = self
                .filled
                .wait_timeout(value, ABANDONED_CHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A small request's spans, queued for the drainer to write.
pub struct Queued<T> {
    /// A copy of the request's spans (a few).
    pub spans: Vec<SpanRecord>,
    /// What the request's thread waits for.
    pub end: Arc<Slot<QueuedEnd<T>>>,
}

/// What became of a [`Queued`] request's spans.
#[derive(Clone)]
pub enum QueuedEnd<T> {
    /// Written: the request's counts, and what the backend tells it (the
    /// commit to wait for).
    Written(WriteOutcome, T),
    /// Not written (the write of the queued requests failed): the request
    /// writes again on its own.
    Again,
    /// Not written yet: the request's thread is to drain the queue.
    Drain,
}

/// The small requests waiting to be written, and whether a thread drains
/// them. Only the drainer takes the backend's writer for them: the others
/// wait for their answer alone, where each taking the writer in turn, to
/// find its spans written, cost every request a thread hand-off on the
/// writer's path.
pub struct Queue<T> {
    requests: Vec<Queued<T>>,
    draining: bool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            requests: Vec::new(),
            draining: false,
        }
    }
}

impl<T: Clone> Queue<T> {
    /// Queues `request`: true if its thread is to drain the queue (no other
    /// thread is).
    pub fn push(&mut self, request: Queued<T>) -> bool {
        self.requests.push(request);
        !std::mem::replace(&mut self.draining, true)
    }

    /// The requests queued, taken by the drainer to write.
    pub fn take(&mut self) -> Vec<Queued<T>> {
        std::mem::take(&mut self.requests)
    }

    /// After the drainer's write: whether it writes again (requests were
    /// queued meanwhile, and it is not to `hand_off`). Else it stops
    /// draining: the queue is empty (the next request queued drains), or the
    /// oldest request's thread is to drain next.
    pub fn drains_on(&mut self, hand_off: bool) -> bool {
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

    /// Requests queued whose threads do not drain: all but the drainer's.
    #[cfg(test)]
    pub fn not_draining(&self) -> usize {
        self.requests.len() - usize::from(self.draining && !self.requests.is_empty())
    }
}

/// Queues a small request's `spans` and waits for how their write ended:
/// their counts and what the backend tells with them, or `None` if the
/// write failed (the request then writes on its own). The calling thread
/// drains the queue itself (`drain`, which calls [`drain`]) when no other
/// does, or when the drainer leaves the queue to it; `abandoned` as for
/// [`Slot::wait`].
pub fn write_queued<T: Clone>(
    queue: &Mutex<Queue<T>>,
    spans: &[SpanRecord],
    drain: impl Fn() -> Result<(), StoreError>,
    abandoned: impl Fn() -> Option<QueuedEnd<T>>,
) -> Result<Option<(WriteOutcome, T)>, StoreError> {
    let end = Arc::new(Slot::default());
    let drains = lock(queue)?.push(Queued {
        spans: spans.to_vec(),
        end: Arc::clone(&end),
    });
    if drains {
        drain()?;
    }
    loop {
        match end.wait(&abandoned) {
            QueuedEnd::Drain => {
                end.clear();
                drain()?;
            }
            QueuedEnd::Again => return Ok(None),
            QueuedEnd::Written(outcome, also) => return Ok(Some((outcome, also))),
        }
    }
}

/// Drains the queue, as the thread whose turn it is: `write` writes the
/// spans of the requests queued as one write (whether each was stored, and
/// what to tell with the counts; `None` if it failed), then again those
/// queued meanwhile, until the queue is empty. It leaves the queue to its
/// oldest request's thread ([`Queue::drains_on`]) when `others_waiting`
/// (writes other than these wait for the backend's writer) or after
/// [`DRAIN_MAX`].
pub fn drain<T: Clone>(
    queue: &Mutex<Queue<T>>,
    mut write: impl FnMut(&[SpanRecord]) -> Option<(Vec<bool>, T)>,
    others_waiting: impl Fn() -> bool,
) -> Result<(), StoreError> {
    let began = Instant::now();
    loop {
        let (all, ends) = gathered(lock(queue)?.take());
        if !all.is_empty() {
            let written = write(&all);
            ends.answer(
                written
                    .as_ref()
                    .map(|(stored, also)| (&stored[..], also.clone())),
            );
        }
        let hand_off = others_waiting() || began.elapsed() >= DRAIN_MAX;
        if !lock(queue)?.drains_on(hand_off) {
            return Ok(());
        }
    }
}

fn lock<T>(queue: &Mutex<Queue<T>>) -> Result<MutexGuard<'_, Queue<T>>, StoreError> {
    queue
        .lock()
        .map_err(|_| StoreError::Backend("span write queue lock poisoned".to_owned()))
}

/// The requests of one write, each to be told how it ended: if dropped
/// before (the write panicked), each hears [`QueuedEnd::Again`], so that no
/// request waits for an answer that will not come.
struct Ends<T: Clone>(Vec<(Arc<Slot<QueuedEnd<T>>>, usize)>);

/// The spans of `queued` requests, as one write, and the requests to tell,
/// with their span counts, in order.
fn gathered<T: Clone>(queued: Vec<Queued<T>>) -> (Vec<SpanRecord>, Ends<T>) {
    let mut ends = Vec::with_capacity(queued.len());
    let mut all = Vec::new();
    for request in queued {
        ends.push((request.end, request.spans.len()));
        all.extend(request.spans);
    }
    (all, Ends(ends))
}

impl<T: Clone> Ends<T> {
    /// Tells each request how the write ended: its spans' counts, by the
    /// write's `stored` flags (one a span, in the order [`gathered`] gave),
    /// and `also`; [`QueuedEnd::Again`] if the write failed.
    fn answer(mut self, written: Option<(&[bool], T)>) {
        let ends = std::mem::take(&mut self.0);
        match written {
            Some((stored, also)) => {
                let mut at = 0;
                for (end, n) in ends {
                    let counted = WriteOutcome::counted(&stored[at..at + n]);
                    end.fill(QueuedEnd::Written(counted, also.clone()));
                    at += n;
                }
            }
            None => {
                for (end, _) in ends {
                    end.fill(QueuedEnd::Again);
                }
            }
        }
    }
}

impl<T: Clone> Drop for Ends<T> {
    fn drop(&mut self) {
        for (end, _) in self.0.drain(..) {
            end.fill(QueuedEnd::Again);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (Queued<()>, Arc<Slot<QueuedEnd<()>>>) {
        let end = Arc::new(Slot::default());
        let queued = Queued {
            spans: Vec::new(),
            end: Arc::clone(&end),
        };
        (queued, end)
    }

    fn told(end: &Slot<QueuedEnd<()>>) -> Option<&'static str> {
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
        assert_eq!(queue.not_draining(), 1);
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

    /// Each request of a write hears its own spans' counts; all hear
    /// `Again` when the write failed.
    #[test]
    fn each_request_hears_its_own_counts() {
        let (_, a) = request();
        let (_, b) = request();
        let ends = Ends(vec![(Arc::clone(&a), 2), (Arc::clone(&b), 1)]);
        ends.answer(Some((&[true, false, true][..], ())));
        let counts = |end: &Slot<QueuedEnd<()>>| match end.wait(|| None) {
            QueuedEnd::Written(o, ()) => (o.inserted, o.duplicates),
            _ => panic!("written"),
        };
        assert_eq!(counts(&a), (1, 1));
        assert_eq!(counts(&b), (1, 0));
        let (_, c) = request();
        Ends(vec![(Arc::clone(&c), 1)]).answer(None);
        assert!(matches!(c.wait(|| None), QueuedEnd::Again));
        // A write that never answered (it panicked): its requests write again.
        let (_, d) = request();
        drop(Ends(vec![(Arc::clone(&d), 1)]));
        assert!(matches!(d.wait(|| None), QueuedEnd::Again));
    }
}
