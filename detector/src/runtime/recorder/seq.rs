//! Operation numbers: the order of the operations on one shared object, which the trace's
//! reader uses to interleave the threads' blocks (trace::compact's `merge`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The bits of a [`RecordSeq`] that count; the rest hold the recording's epoch, so that every
/// object's numbers start from 0 in each recording (number 0 declares the object).
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const EPOCH_MASK: u64 = (1 << (64 - COUNT_BITS)) - 1;

/// The number of the next operation on an object in the running recording.
#[derive(Debug)]
pub(crate) struct RecordSeq(AtomicU64);

impl Default for RecordSeq {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordSeq {
    pub(crate) const fn new() -> Self {
        RecordSeq(AtomicU64::new(0))
    }

    fn split(value: u64, epoch: u64) -> (u64, u64) {
        if value >> COUNT_BITS == epoch {
            (value & COUNT_MASK, value + 1)
        } else {
            (0, epoch << COUNT_BITS | 1)
        }
    }

    /// The number of this operation in recording `epoch`, for a caller that excludes every
    /// other numbering of this object (it holds the object's lock exclusively): a plain load
    /// and store, no read-modify-write.
    #[inline]
    pub(crate) fn next_exclusive(&self, epoch: u64) -> u64 {
        let (seq, next) = Self::split(self.0.load(Ordering::Relaxed), epoch & EPOCH_MASK);
        // Relaxed: the lock orders its holders, and with them these accesses.
        self.0.store(next, Ordering::Relaxed);
        seq
    }

    /// The number of this operation in recording `epoch`, for callers that may number the
    /// object at the same time (readers of a read-write lock, notifiers of a condvar).
    pub(crate) fn next_shared(&self, epoch: u64) -> u64 {
        let epoch = epoch & EPOCH_MASK;
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let (seq, next) = Self::split(current, epoch);
            // Relaxed: the numbers only need to be unique and in the order the operations
            // happened on this object, which the read-modify-write's total order gives.
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return seq,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_count_from_zero_in_each_recording() {
        let seq = RecordSeq::new();
        assert_eq!(seq.next_exclusive(1), 0);
        assert_eq!(seq.next_exclusive(1), 1);
        assert_eq!(seq.next_shared(1), 2);
        assert_eq!(seq.next_shared(2), 0);
        assert_eq!(seq.next_exclusive(2), 1);
    }

    #[test]
    fn shared_numbering_from_many_threads_hands_out_each_number_once() {
        let seq = RecordSeq::new();
        let mut all: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..10_000).map(|_| seq.next_shared(3)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        all.sort_unstable();
        assert_eq!(all, (0..40_000).collect::<Vec<_>>());
    }
}
