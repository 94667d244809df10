//! Vector clocks over lockscan thread ids.

use crate::ids::ThreadId;

/// A vector clock: for each thread, how many of its synchronization steps are known to have
/// happened before. Sparse and sorted by thread, because most threads know few others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: Vec<(ThreadId, u64)>,
}

impl VectorClock {
    /// The clock that knows nothing.
    pub const fn new() -> Self {
        VectorClock {
            entries: Vec::new(),
        }
    }

    /// The component of `thread` (0 when unknown).
    pub fn get(&self, thread: ThreadId) -> u64 {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1,
            Err(_) => 0,
        }
    }

    /// Sets the component of `thread`.
    pub fn set(&mut self, thread: ThreadId, value: u64) {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1 = value,
            Err(index) => self.entries.insert(index, (thread, value)),
        }
    }

    /// Forgets the component of `thread`: 0 from then on.
    #[cfg(lockscan_active)]
    pub(crate) fn remove(&mut self, thread: ThreadId) {
        if let Ok(index) = self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            self.entries.remove(index);
        }
    }

    /// Advances the component of `thread` by one.
    pub fn tick(&mut self, thread: ThreadId) {
        let value = self.get(thread) + 1;
        self.set(thread, value);
    }

    /// Takes the component-wise maximum with `other` (receiving what `other` knew).
    pub fn join(&mut self, other: &VectorClock) {
        if other.entries.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return;
        }
        // Linear however many threads are new to `self` (a thread spawned by one that joined
        // thousands inherits thousands of entries), and without allocating when none is: the
        // common case of a lock acquisition.
        let mut missing = 0;
        let mut at = 0;
        for &(thread, value) in &other.entries {
            while at < self.entries.len() && self.entries[at].0 < thread {
                at += 1;
            }
            match self.entries.get_mut(at) {
                Some(entry) if entry.0 == thread => entry.1 = entry.1.max(value),
                _ => missing += 1,
            }
        }
        if missing == 0 {
            return;
        }
        // Merge from the back into the grown list, so that nothing is moved twice.
        let mut write = self.entries.len() + missing;
        let mut mine = self.entries.len();
        let mut theirs = other.entries.len();
        self.entries.resize(write, (ThreadId(0), 0));
        while theirs > 0 {
            let candidate = other.entries[theirs - 1];
            if mine > 0 && self.entries[mine - 1].0 >= candidate.0 {
                // Equal threads were already maxed in place above.
                if self.entries[mine - 1].0 == candidate.0 {
                    theirs -= 1;
                }
                write -= 1;
                self.entries[write] = self.entries[mine - 1];
                mine -= 1;
            } else {
                write -= 1;
                self.entries[write] = candidate;
                theirs -= 1;
            }
        }
    }

    /// How many threads the clock knows of.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the clock knows of no thread.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every component of `self` is at most that of `other` (self happened before, or
    /// is, other).
    pub fn le(&self, other: &VectorClock) -> bool {
        self.entries.iter().all(|&(t, v)| v <= other.get(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_order() {
        let (a, b) = (ThreadId(1), ThreadId(2));
        let mut ca = VectorClock::new();
        ca.tick(a);
        let mut cb = VectorClock::new();
        cb.join(&ca);
        cb.tick(b);
        assert!(ca.le(&cb));
        assert!(!cb.le(&ca));
        ca.tick(a);
        assert!(!ca.le(&cb), "a's second step is concurrent with b");
        assert_eq!(cb.get(a), 1);
        assert_eq!(cb.get(ThreadId(9)), 0);
    }

    #[test]
    fn join_merges_interleaved_threads() {
        let clock = |entries: &[(u64, u64)]| {
            let mut c = VectorClock::new();
            for &(t, v) in entries {
                c.set(ThreadId(t), v);
            }
            c
        };
        let mut a = clock(&[(1, 5), (3, 1), (7, 2)]);
        a.join(&clock(&[(2, 4), (3, 9), (8, 1)]));
        assert_eq!(a, clock(&[(1, 5), (2, 4), (3, 9), (7, 2), (8, 1)]));
        assert_eq!(a.len(), 5);
        a.join(&clock(&[(0, 1), (3, 2), (9, 9)]));
        assert_eq!(
            a,
            clock(&[(0, 1), (1, 5), (2, 4), (3, 9), (7, 2), (8, 1), (9, 9)])
        );
        let mut b = clock(&[(4, 1)]);
        b.join(&clock(&[(1, 1), (2, 2), (3, 3)]));
        assert_eq!(b, clock(&[(1, 1), (2, 2), (3, 3), (4, 1)]));
        b.join(&clock(&[(4, 7)]));
        assert_eq!(b.get(ThreadId(4)), 7);
    }
}
