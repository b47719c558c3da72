//! How many write transactions one PostgreSQL store runs at once.
//!
//! Every export is its own transaction, and the server processes many
//! exports at once (a share of its processing slots each, by size). With
//! sixteen exporters of 510-span requests sixteen transactions ran together:
//! the backends waited on each other (the tables' extension lock, the WAL)
//! and on the server's threads mid-transaction, the two cores were 1.2 busy
//! and ingest fell from 28-31k spans/s with four exporters to 20-24k.
//! Admitting [`MAX_CONCURRENT_WRITES`] at once, the others waiting for one to
//! end before they take a connection, it ran 29.5-30.4k with sixteen
//! (`docs/benchmarks.md`, issue 14's twenty-third step). Reads are not
//! gated.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Write transactions a store runs at once: as many as the exports of the
/// largest size the server processes at once ([`crate::MAX_CONCURRENT_EXPORTS`]).
pub(super) const MAX_CONCURRENT_WRITES: usize = crate::MAX_CONCURRENT_EXPORTS;

/// Admits at most `max` holders at once; the others wait (in no particular
/// order) until one leaves.
pub(super) struct WriteGate {
    inside: Mutex<usize>,
    left: Condvar,
    max: usize,
}

/// A place in the gate, given back when dropped.
pub(super) struct Admitted<'a>(&'a WriteGate);

impl WriteGate {
    pub(super) fn new(max: usize) -> Self {
        Self {
            inside: Mutex::new(0),
            left: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Waits for a place, and holds it until the returned value is dropped.
    pub(super) fn enter(&self) -> Admitted<'_> {
        let mut inside = self.lock();
        while *inside >= self.max {
            inside = self.left.wait(inside).unwrap_or_else(|e| e.into_inner());
        }
        *inside += 1;
        Admitted(self)
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // A count changed only under the lock, by one, cannot be left
        // half-changed by a panic elsewhere.
        self.inside.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
        self.0.left.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Eight threads through a gate of two: never more than two inside, and
    /// every thread gets in. Each holder waits (up to 20 ms) for a third to
    /// join it, which a gate letting too many in allows at once.
    #[test]
    fn no_more_than_max_are_inside_and_every_one_gets_in() {
        let gate = WriteGate::new(2);
        let inside = Mutex::new(0usize);
        let changed = Condvar::new();
        let (most, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let _admitted = gate.enter();
                    let mut n = inside.lock().unwrap();
                    *n += 1;
                    most.fetch_max(*n, Ordering::SeqCst);
                    changed.notify_all();
                    let (mut n, _) = changed
                        .wait_timeout_while(n, Duration::from_millis(20), |n| *n <= 2)
                        .unwrap();
                    most.fetch_max(*n, Ordering::SeqCst);
                    *n -= 1;
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 8);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    /// A place given back by a holder that panicked is a place again.
    #[test]
    fn a_holder_that_panics_gives_its_place_back() {
        let gate = WriteGate::new(1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _admitted = gate.enter();
            panic!("a write failed");
        }));
        assert!(panicked.is_err());
        let _admitted = gate.enter();
        assert_eq!(*gate.lock(), 1);
    }
}
