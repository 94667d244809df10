//! [`LazyId`]: the id of a lock, condition variable or variable, assigned on first use.

use std::sync::atomic::{AtomicU64, Ordering};

/// An id assigned on first use rather than at construction, so that constructors can be
/// `const` (statics work). 0 means none yet; ids start at 1.
///
/// A lock's id may be assigned *fresh* by its first blocking acquisition: the word then also
/// carries [`FRESH`] and the index of the assigning thread's table of waiting edges
/// (`order_graph::deferred`), which may keep the edges into the lock deferred by that
/// acquisition until the lock is used again or dropped. Every later use of the id as an
/// acquisition clears the mark first ([`take_fresh`](LazyId::take_fresh)); [`get`](LazyId::get)
/// and [`get_or_assign`](LazyId::get_or_assign) give the id without it.
#[derive(Debug)]
pub(super) struct LazyId(AtomicU64);

/// The mark of an id assigned fresh (the word's top bit, so that one signed comparison tells a
/// plain id from "none yet or fresh").
pub(super) const FRESH: u64 = 1 << 63;
/// Where the owner's table index starts in a fresh word.
const OWNER_SHIFT: u32 = 48;
/// The id's bits: ids stay below 2^48.
const ID_MASK: u64 = (1 << OWNER_SHIFT) - 1;
/// How many table indexes a fresh word can carry.
pub(super) const OWNERS: usize = 1 << (63 - OWNER_SHIFT);

/// The id in a word.
#[inline]
pub(super) const fn id_of(word: u64) -> u64 {
    word & ID_MASK
}

/// The table index a fresh word carries, `None` for a plain one.
#[inline]
pub(super) const fn fresh_owner(word: u64) -> Option<usize> {
    if word & FRESH == 0 {
        None
    } else {
        Some(((word & !FRESH) >> OWNER_SHIFT) as usize)
    }
}

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
            0 => id_of(self.assign(fresh())),
            word => id_of(word),
        }
    }

    /// Assigns `id` fresh, owned by table `owner`, when there is no id yet; the word there is
    /// otherwise (another first use won).
    pub(super) fn assign_fresh(&self, id: u64, owner: usize) -> Result<u64, u64> {
        debug_assert!(id <= ID_MASK && owner < OWNERS);
        let word = FRESH | (owner as u64) << OWNER_SHIFT | id;
        self.0
            .compare_exchange(0, word, Ordering::Relaxed, Ordering::Relaxed)
            .map(|_| id)
    }

    /// Clears the fresh mark; the table index it carried when this call cleared it (exactly
    /// one caller gets it).
    pub(super) fn take_fresh(&self) -> Option<usize> {
        // Relaxed: the table's mutex orders what was deferred there before the mark went.
        let before = self.0.fetch_and(ID_MASK, Ordering::Relaxed);
        fresh_owner(before)
    }

    /// The whole word: the id with its fresh mark and owner, 0 when none yet.
    #[inline]
    pub(super) fn word(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Assigns `fresh` if there is no id yet; the word there after (a fresh one if another
    /// first use assigned it so).
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
        id_of(self.0.load(Ordering::Relaxed))
    }

    /// The whole word (see [`word`](Self::word)), through exclusive access (a drop).
    pub(super) fn word_mut(&mut self) -> u64 {
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
    fn a_fresh_id_reads_as_its_id_and_its_mark_is_taken_once() {
        let id = LazyId::new();
        assert_eq!(id.assign_fresh(42, 5), Ok(42));
        assert_eq!(id.get(), 42);
        assert_eq!(id.get_or_assign(|| 9), 42);
        assert_eq!(fresh_owner(id.word()), Some(5));
        assert!(
            (id.word() as i64) < 0,
            "one signed comparison tells it from a plain id"
        );
        assert_eq!(
            id.assign_fresh(43, 6),
            Err(id.word()),
            "the first assignment stays"
        );
        assert_eq!(id.take_fresh(), Some(5));
        assert_eq!(id.take_fresh(), None);
        assert_eq!(id.word(), 42);
        assert_eq!(fresh_owner(id.word()), None);
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
