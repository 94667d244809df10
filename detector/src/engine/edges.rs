//! Lock-order edges: the ways each edge was taken (its occurrences), kept few and distinct.

use std::sync::Arc;

use crate::engine::clock::VectorClock;
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::{Site, Stack};

/// The locks a thread held at an acquisition, with their modes, in acquisition order.
pub type HeldLocks = Arc<[(LockId, Mode)]>;

/// What an occurrence keeps of `stack`, the `len` locks the thread held (`from` among them): the
/// stack, or nothing when it held `from` alone — no other lock can be a gate then — so the most
/// common acquisition, one lock inside another, shares one empty set instead of allocating.
#[cfg(lockscan_active)] // the live detector's; the replay keeps held sets of its own
pub fn held_locks(len: usize, stack: impl Iterator<Item = (LockId, Mode)>) -> HeldLocks {
    if len <= 1 {
        static EMPTY: std::sync::OnceLock<HeldLocks> = std::sync::OnceLock::new();
        return EMPTY.get_or_init(|| Arc::from([])).clone();
    }
    stack.collect()
}

/// The most locks an acquisition takes order edges from: the innermost ones the thread holds.
/// A thread holding D locks at once makes an edge from each to every later one, D²/2 in all, and
/// memory grows with them (10,000 held locks took 5.5 GB offline, and live an 8 GiB allocation
/// that aborted), so past this depth the locks beneath the innermost ones give no edge and no
/// rank check, and lockscan warns once, live on standard error and offline as a trace warning.
/// Not lockdep's edge from the innermost lock alone: the edges it leaves out would be implied
/// only through a path of one thread's nested edges, which the classification judges otherwise
/// (its edges share a thread and the locks held beneath it), the cycle search bounds how long a
/// cycle it lists, and the live graph forgets a dropped lock's edges, the path's with them
/// (BENCHMARKS.md, "Nesting depth").
pub const MAX_ORDER_DEPTH: usize = 1024;

/// The locks an acquisition takes no order edge from, when the thread holds more than
/// [`MAX_ORDER_DEPTH`] locks other than `skip` (the lock it takes, when it holds it already):
/// those beneath the innermost [`MAX_ORDER_DEPTH`], each lock placed at its first hold. `held`
/// yields the held locks in acquisition order, a lock again for each re-entrant hold (live; the
/// replay keeps one entry per lock), so that live and offline leave out the same locks.
/// `None` when there are none.
pub fn beneath_order_window(
    held: impl Iterator<Item = LockId>,
    skip: Option<LockId>,
) -> Option<rustc_hash::FxHashSet<LockId>> {
    let mut beneath = rustc_hash::FxHashSet::default();
    let mut distinct = Vec::new();
    for lock in held {
        if Some(lock) != skip && beneath.insert(lock) {
            distinct.push(lock);
        }
    }
    if distinct.len() <= MAX_ORDER_DEPTH {
        return None;
    }
    for lock in &distinct[distinct.len() - MAX_ORDER_DEPTH..] {
        beneath.remove(lock);
    }
    Some(beneath)
}

/// The warning, live and offline, for the first acquisition by a thread (named `thread`) that
/// left locks beneath the window ([`beneath_order_window`]); said once per process or trace.
pub fn order_window_warning(thread: &str) -> String {
    format!(
        "thread `{thread}` held more than {MAX_ORDER_DEPTH} locks at once: the lock order is \
         checked only from the {MAX_ORDER_DEPTH} it took last (no order edge from the locks \
         beneath them was recorded, nor their ranks checked)"
    )
}

/// One way an order edge `from -> to` was taken: thread `thread` requested `to` while holding
/// `from` (and `held`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// The thread.
    pub thread: ThreadId,
    /// The mode `from` was held in.
    pub from_mode: Mode,
    /// The mode `to` was requested in.
    pub to_mode: Mode,
    /// Where `from` was acquired.
    pub from_site: Option<Site>,
    /// Where `to` was requested.
    pub to_site: Option<Site>,
    /// The locks held at that moment, with their modes, in acquisition order: the candidates
    /// for a gate lock. It may include `from` itself, which readers skip. Shared by every edge
    /// of one acquisition, so a thread holding many locks stores its held set once.
    pub held: HeldLocks,
    /// What the thread knew through spawn, join and notify at that moment, when known. Lock
    /// hand-offs are deliberately not in it: they order *this* schedule only, and a deadlock
    /// needs another schedule.
    pub clock: Option<Arc<VectorClock>>,
    /// The stack at that moment, when backtraces were asked for.
    pub backtrace: Option<Arc<Stack>>,
}

/// An occurrence as [`Occurrence::covers`] compares it, described by its parts: a replay
/// asks whether an edge [`wants`](EdgeData::wants) one before it builds it, which allocates.
#[derive(Clone, Debug)]
pub struct Taking<'a, I> {
    /// The thread.
    pub thread: ThreadId,
    /// The mode `from` is held in.
    pub from_mode: Mode,
    /// The mode `to` is requested in.
    pub to_mode: Mode,
    /// The thread's clock.
    pub clock: Option<&'a Arc<VectorClock>>,
    /// How many locks `held` yields.
    pub held_len: usize,
    /// The locks held, with their modes, in acquisition order.
    pub held: I,
}

impl Occurrence {
    /// This occurrence as [`Occurrence::covers`] compares it.
    pub fn taking(&self) -> Taking<'_, impl Iterator<Item = (LockId, Mode)> + Clone + '_> {
        Taking {
            thread: self.thread,
            from_mode: self.from_mode,
            to_mode: self.to_mode,
            clock: self.clock.as_ref(),
            held_len: self.held.len(),
            held: self.held.iter().copied(),
        }
    }

    /// Whether this occurrence makes another one, `other`, redundant: same thread, modes and
    /// clock, and this one held no lock the other did not. Classification could never prefer
    /// the other: every gate it has, this one has too or lacks (so this one is at least as
    /// severe), and the threads and clocks are the same. Keeping one occurrence per thread and
    /// clock, not per held set, is what keeps an edge taken under many different outer locks
    /// small.
    pub fn covers<I>(&self, other: &Taking<'_, I>) -> bool
    where
        I: Iterator<Item = (LockId, Mode)> + Clone,
    {
        let Taking {
            thread,
            from_mode,
            to_mode,
            clock,
            held_len,
            ref held,
        } = *other;
        let held = held.clone();
        if self.thread != thread || self.from_mode != from_mode || self.to_mode != to_mode {
            return false;
        }
        let same_clock = match (&self.clock, clock) {
            (None, None) => true,
            (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs) || mine == theirs,
            _ => false,
        };
        if !same_clock || self.held.len() > held_len.max(1) {
            return false;
        }
        // `held` may hold `from` alone where this keeps nothing (see `held_locks`): both mean
        // no gate.
        if self.held.is_empty() {
            return true;
        }
        if held_len > 16 {
            // Deep sets: equality only, so the check stays linear.
            return self.held.len() == held_len && self.held.iter().copied().eq(held);
        }
        self.held
            .iter()
            .all(|kept| held.clone().any(|other| other == *kept))
    }
}

/// The data of an order edge: the distinct ways it was taken (one per thread, first seen
/// first), at most [`EdgeData::MAX_OCCURRENCES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeData {
    /// The occurrences.
    pub occurrences: Occurrences,
}

/// An edge's occurrences, never empty: the first stored in place, since most edges are taken
/// one way only, and the others in a list that allocates only for a second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrences {
    first: Occurrence,
    more: Vec<Occurrence>,
    /// Bit `thread % 64` set for each thread with an occurrence here: most checks are for a
    /// thread the edge has not seen, and answering them needs no look at the occurrences.
    threads: u64,
}

impl Occurrences {
    /// How many.
    pub fn len(&self) -> usize {
        1 + self.more.len()
    }

    /// Never: an edge exists because it was taken once.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// In the order they were seen.
    pub fn iter(&self) -> impl Iterator<Item = &Occurrence> {
        std::iter::once(&self.first).chain(&self.more)
    }

    /// Whether `thread` may have an occurrence here (false: certainly not).
    pub fn may_have(&self, thread: ThreadId) -> bool {
        self.threads & thread_bit(thread) != 0
    }

    fn push(&mut self, occurrence: Occurrence) {
        self.threads |= thread_bit(occurrence.thread);
        // Exactly one more: most edges keep one to three occurrences, and a doubling vector
        // would leave room for four.
        self.more.reserve_exact(1);
        self.more.push(occurrence);
    }
}

fn thread_bit(thread: ThreadId) -> u64 {
    1 << (thread.0 % 64)
}

impl std::ops::Index<usize> for Occurrences {
    type Output = Occurrence;

    fn index(&self, index: usize) -> &Occurrence {
        match index {
            0 => &self.first,
            _ => &self.more[index - 1],
        }
    }
}

impl<'a> IntoIterator for &'a Occurrences {
    type Item = &'a Occurrence;
    type IntoIter =
        std::iter::Chain<std::iter::Once<&'a Occurrence>, std::slice::Iter<'a, Occurrence>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(&self.first).chain(&self.more)
    }
}

impl EdgeData {
    /// How many occurrences an edge keeps: enough to find two threads that disagree, bounded so
    /// that a lock taken by every thread of a pool costs no more than a few.
    pub const MAX_OCCURRENCES: usize = 8;

    /// An edge with one occurrence.
    pub fn new(first: Occurrence) -> Self {
        EdgeData {
            occurrences: Occurrences {
                threads: thread_bit(first.thread),
                first,
                more: Vec::new(),
            },
        }
    }

    /// Records another occurrence if it adds a thread, or a gate set, not seen on this edge.
    /// Returns whether it was kept.
    pub fn add(&mut self, occurrence: Occurrence) -> bool {
        if self.occurrences.len() >= Self::MAX_OCCURRENCES || !self.wants(&occurrence.taking()) {
            return false;
        }
        self.occurrences.push(occurrence);
        true
    }

    /// Whether `add` would keep an occurrence: the edge has room, and no occurrence kept
    /// [`covers`](Occurrence::covers) it.
    pub fn wants<I>(&self, occurrence: &Taking<'_, I>) -> bool
    where
        I: Iterator<Item = (LockId, Mode)> + Clone,
    {
        self.occurrences.len() < Self::MAX_OCCURRENCES
            && !(self.occurrences.may_have(occurrence.thread)
                && self.occurrences.iter().any(|o| o.covers(occurrence)))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::classify::classify;

    // Locks of the edge and cycle tests here and in `classify`; `G` for a gate.
    pub(in crate::engine) const A: LockId = LockId(1);
    pub(in crate::engine) const B: LockId = LockId(2);
    pub(in crate::engine) const C: LockId = LockId(3);
    pub(in crate::engine) const G: LockId = LockId(9);

    /// An occurrence by `thread`, both locks exclusive, holding `held`.
    pub(in crate::engine) fn occ(thread: u64, held: &[LockId]) -> Occurrence {
        Occurrence {
            thread: ThreadId(thread),
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
            from_site: None,
            to_site: None,
            held: held.iter().map(|&l| (l, Mode::Exclusive)).collect(),
            clock: None,
            backtrace: None,
        }
    }

    #[test]
    fn edges_keep_distinct_occurrences_only() {
        let mut edge = EdgeData::new(occ(1, &[G, C]));
        assert!(!edge.add(occ(1, &[G, C])));
        // Fewer held locks is a weaker gate: kept. More is redundant: what it could show, the
        // occurrence with fewer shows too.
        assert!(edge.add(occ(1, &[G])));
        assert!(!edge.add(occ(1, &[G, C, A])));
        // A different clock (here: none against one) is another moment of the thread: kept.
        let mut later = occ(1, &[G, C]);
        later.clock = Some(Arc::new(VectorClock::new()));
        assert!(edge.add(later));
        assert_eq!(edge.occurrences.len(), 3);
        for t in 2..20 {
            edge.add(occ(t, &[]));
        }
        assert_eq!(edge.occurrences.len(), EdgeData::MAX_OCCURRENCES);
    }

    /// The window counts each lock once, at its first hold, and never the lock being taken:
    /// the live stack has an entry per re-entrant hold, the replay's one per lock, and both must
    /// leave out the same locks.
    #[test]
    fn the_order_window_counts_locks_at_their_first_hold() {
        let deepest = |n: u64| (1..=n).map(LockId);
        assert_eq!(
            beneath_order_window(deepest(MAX_ORDER_DEPTH as u64), None),
            None
        );
        let over = MAX_ORDER_DEPTH as u64 + 2;
        let expected: rustc_hash::FxHashSet<LockId> = [LockId(1), LockId(2)].into_iter().collect();
        assert_eq!(
            beneath_order_window(deepest(over), None),
            Some(expected.clone())
        );
        // Lock 1 held again on top (re-entrant), lock 5 again in the middle: the same window.
        let live = deepest(over).chain([LockId(5), LockId(1)]);
        assert_eq!(beneath_order_window(live, None), Some(expected));
        // The lock being taken (an upgrade of a held lock) is not counted.
        let upgrade = deepest(MAX_ORDER_DEPTH as u64 + 1);
        assert_eq!(beneath_order_window(upgrade, Some(LockId(3))), None);
    }

    proptest::proptest! {
        /// Dropping the occurrences that another covers never changes a cycle's classification
        /// (nor which occurrences show it): the search prefers the earlier, covering one.
        #[test]
        fn covered_occurrences_change_no_classification(
            raw in proptest::collection::vec(
                proptest::collection::vec((1..4_u64, 0..2_u8, proptest::collection::vec(0..4_usize, 0..3)), 1..5),
                2..4,
            )
        ) {
            let gates = [G, LockId(10), LockId(11), LockId(12)];
            let clocks = [None, Some(Arc::new(VectorClock::new()))];
            let locks: Vec<LockId> = (0..raw.len() as u64).map(|i| LockId(100 + i)).collect();
            let occurrence = |&(thread, clock, ref held): &(u64, u8, Vec<usize>)| {
                let mut o = occ(thread, &held.iter().map(|&g| gates[g]).collect::<Vec<_>>());
                o.clock = clocks[clock as usize].clone();
                o
            };
            let all: Vec<EdgeData> = raw
                .iter()
                .map(|edge| {
                    let mut data = EdgeData::new(occurrence(&edge[0]));
                    for o in &edge[1..] {
                        data.occurrences.push(occurrence(o));
                    }
                    data
                })
                .collect();
            let filtered: Vec<EdgeData> = raw
                .iter()
                .map(|edge| {
                    let mut data = EdgeData::new(occurrence(&edge[0]));
                    for o in &edge[1..] {
                        data.add(occurrence(o));
                    }
                    data
                })
                .collect();
            let view = |edges: &[EdgeData]| {
                let refs: Vec<&EdgeData> = edges.iter().collect();
                classify(&locks, &refs).map(|c| {
                    let shown: Vec<Occurrence> = c
                        .chosen
                        .iter()
                        .enumerate()
                        .map(|(i, &k)| edges[i].occurrences[k].clone())
                        .collect();
                    (c.kind, c.gate, shown)
                })
            };
            proptest::prop_assert_eq!(view(&all), view(&filtered));
        }
    }
}
