//! A progress line on stderr for long commands (export, import, migrate),
//! drawn only when stderr is a terminal: scripts and logs get none.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraws at most this often.
const EVERY: Duration = Duration::from_millis(100);

/// A count of things done, with a total when known.
pub struct Progress {
    what: &'static str,
    total: Option<u64>,
    done: u64,
    shown: Option<Instant>,
    started: Instant,
    on: bool,
}

impl Progress {
    /// A progress line counting `what` (sessions, spans), out of `total` when known.
    pub fn new(what: &'static str, total: Option<u64>) -> Self {
        Self {
            what,
            total,
            done: 0,
            shown: None,
            started: Instant::now(),
            on: std::io::stderr().is_terminal(),
        }
    }

    /// Sets what is counted now (a phase of a migration), from zero.
    pub fn phase(&mut self, what: &'static str, total: Option<u64>) {
        self.finish();
        *self = Self::new(what, total);
    }

    /// Counts `n` more done.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.on && self.shown.is_none_or(|t| t.elapsed() >= EVERY) {
            self.shown = Some(Instant::now());
            self.draw();
        }
    }

    fn draw(&self) {
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let line = match self.total {
            Some(total) if total > 0 => {
                let fraction = (self.done as f64 / total as f64).min(1.0);
                let filled = (fraction * 30.0).round() as usize;
                format!(
                    "[{}{}] {}/{} {} ({:.0}/s)",
                    "#".repeat(filled),
                    "-".repeat(30 - filled),
                    self.done,
                    total,
                    self.what,
                    rate
                )
            }
            _ => format!("{} {} ({:.0}/s)", self.done, self.what, rate),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// Draws the final count and ends the line.
    pub fn finish(&mut self) {
        if self.on && self.shown.is_some() {
            self.draw();
            let _ = writeln!(std::io::stderr());
            self.shown = None;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
