//! How far indexing has got: files done of all listed, told to a caller's callback a bounded
//! number of times (about every twentieth of the files, and at the end), whatever the threads.
//!
//! Invariant: for a given number of files the callback sees the same sequence of counts in every
//! run (reports fall on fixed thresholds, not on time), so journals stay reproducible.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Files indexed so far of all listed; `reused` of them came from the persisted index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexProgress {
    pub done: usize,
    pub total: usize,
    pub reused: usize,
}

/// Reports per indexing run, at most (plus the first and the last).
const REPORTS: usize = 20;

/// Counts files as threads finish them and reports on thresholds.
pub(crate) struct Progress<'a> {
    total: usize,
    step: usize,
    done: AtomicUsize,
    reused: AtomicUsize,
    sink: &'a (dyn Fn(IndexProgress) + Sync),
}

impl<'a> Progress<'a> {
    /// Starts counting `total` files; reports 0 of `total` at once.
    pub(crate) fn new(total: usize, sink: &'a (dyn Fn(IndexProgress) + Sync)) -> Progress<'a> {
        sink(IndexProgress {
            done: 0,
            total,
            reused: 0,
        });
        Progress {
            total,
            step: total.div_ceil(REPORTS).max(1),
            done: AtomicUsize::new(0),
            reused: AtomicUsize::new(0),
            sink,
        }
    }

    /// One more file done (`reused` when it came from the persisted index).
    pub(crate) fn advance(&self, reused: bool) {
        let reused_now = if reused {
            self.reused.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.reused.load(Ordering::Relaxed)
        };
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if done.is_multiple_of(self.step) && done < self.total {
            (self.sink)(IndexProgress {
                done,
                total: self.total,
                reused: reused_now,
            });
        }
    }

    /// Reports the end: every file done.
    pub(crate) fn finish(&self) {
        (self.sink)(IndexProgress {
            done: self.total,
            total: self.total,
            reused: self.reused.load(Ordering::Relaxed),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::Mutex;

    #[test]
    fn reports_are_bounded_ordered_in_count_and_end_at_the_total() {
        let seen = Mutex::new(Vec::new());
        let sink = |p: IndexProgress| seen.lock().unwrap().push(p);
        let progress = Progress::new(1000, &sink);
        (0..1000)
            .into_par_iter()
            .for_each(|i| progress.advance(i % 2 == 0));
        progress.finish();
        let mut seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), REPORTS + 1);
        assert_eq!(seen[0].done, 0);
        let last = seen.pop().unwrap();
        assert_eq!((last.done, last.total, last.reused), (1000, 1000, 500));
        let mut counts: Vec<usize> = seen.iter().map(|p| p.done).collect();
        counts.sort();
        assert_eq!(counts, (0..20).map(|i| i * 50).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_run_reports_start_and_end() {
        let seen = Mutex::new(Vec::new());
        let sink = |p: IndexProgress| seen.lock().unwrap().push(p.done);
        let progress = Progress::new(0, &sink);
        progress.finish();
        assert_eq!(seen.into_inner().unwrap(), [0, 0]);
    }
}
