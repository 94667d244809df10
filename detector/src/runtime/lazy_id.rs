//! [`LazyId`]: the id of a lock, condition variable or variable, assigned on first use.

use std::sync::atomic::{AtomicU64, Ordering};

/// An id assigned on first use rather than at construction, so that constructors can be
/// `const` (statics work). 0 means none yet; ids start at 1.
#[derive(Debug)]
pub(super) struct LazyId(AtomicU64);

impl LazyId {
    /// No id yet.
    pub(super) const fn new() -> Self {
        LazyId(AtomicU64::new(0))
    }

    /// The id, taking `fresh()` when there is none yet. Threads racing on the first use agree
    /// on one id: the first to store wins, and the others' fresh ids go unused.
    #[inline]
    pub(super) fn get_or_assign(&self, fresh: impl FnOnce() -> u64) -> u64 {
        match self.0.load(Ordering::Relaxed) {
            0 => self.assign(fresh()),
            id => id,
        }
    }

    #[cold]
    fn assign(&self, fresh: u64) -> u64 {
        // Relaxed: the id is a name, it publishes no other data.
        match self
            .0
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(winner) => winner,
        }
    }

    /// The id, or 0 when it was never used.
    #[inline]
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The id, or 0, through exclusive access (a drop).
    pub(super) fn get_mut(&mut self) -> u64 {
        *self.0.get_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_assignment_wins_and_stays() {
        let id = LazyId::new();
        assert_eq!(id.get(), 0);
        assert_eq!(id.get_or_assign(|| 7), 7);
        assert_eq!(id.get_or_assign(|| 9), 7);
        assert_eq!(id.get(), 7);
    }

    #[test]
    fn racing_first_uses_agree() {
        let id = LazyId::new();
        let next = AtomicU64::new(1);
        let seen: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| id.get_or_assign(|| next.fetch_add(1, Ordering::Relaxed))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.iter().all(|&v| v == seen[0]), "{seen:?}");
    }
}
