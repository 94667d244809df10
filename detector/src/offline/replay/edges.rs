//! The replay's order edges, kept small: each occurrence a record of indices into the replay's
//! tables (threads, locks, interned sites, held sets and clock snapshots) instead of pointers,
//! so that a trace with hundreds of thousands of distinct edges fits in a few tens of bytes per
//! occurrence. The engine's [`EdgeData`] is built from them only where it is needed: for the
//! edges of the cycles classified at the end, for the merge across traces and for pictures.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::engine::clock::VectorClock;
use crate::engine::edges::{EdgeData, Occurrence};
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::Site;

/// One way an order edge was taken, as [`Occurrence`] says it, with indices for pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Taken {
    /// The replay's index of the thread.
    pub thread: u32,
    /// Where `from` was acquired and `to` requested ([`Sites`]; 0: unknown).
    pub from_site: u32,
    pub to_site: u32,
    /// The locks held ([`HeldSets`]; 0: none that could be a gate).
    pub held: u32,
    /// The thread's clock ([`Tables::clocks`]).
    pub clock: u32,
    pub from_mode: Mode,
    pub to_mode: Mode,
}

/// What the edge check compares of an acquisition about to add an occurrence, before it is
/// stored: the counterpart of the engine's `Taking`.
pub(super) struct Taking<'a, I> {
    pub thread: u32,
    pub from_mode: Mode,
    pub to_mode: Mode,
    /// The thread's clock snapshot, if it has one since its clock last changed.
    pub snapshot: Option<u32>,
    /// The thread's clock now, compared when there is no snapshot yet.
    pub clock: &'a VectorClock,
    /// How many locks `held` yields.
    pub held_len: usize,
    /// The locks held (the replay's lock indices), with their modes, in acquisition order.
    pub held: I,
}

/// An edge's occurrences, never empty, at most [`EdgeData::MAX_OCCURRENCES`]: the first in
/// place (most edges are taken one way only), the others in a list through [`Tables::more`],
/// which allocates nothing per edge.
#[derive(Debug)]
pub(super) struct TakenEdge {
    first: Taken,
    /// The entry in [`Tables::more`] plus one of the occurrence kept last (0: none but the
    /// first); each entry links to the one kept before it, so that keeping one more touches
    /// no other.
    more: u32,
    /// Bit `thread % 16` set for each thread with an occurrence here: most checks are for a
    /// thread the edge has not seen, and answering them needs no look at the occurrences.
    threads: u16,
    /// How many occurrences it keeps: a check for a thread it has not seen needs no walk.
    kept: u16,
}

fn thread_bit(thread: u32) -> u16 {
    1 << (thread % 16)
}

impl TakenEdge {
    pub fn new(first: Taken) -> Self {
        TakenEdge {
            threads: thread_bit(first.thread),
            first,
            more: 0,
            kept: 1,
        }
    }

    /// In the order they were seen.
    pub fn iter<'t>(&'t self, tables: &'t Tables) -> impl Iterator<Item = &'t Taken> {
        // The list runs from the last kept back: gather it (a few entries), then go forward.
        let mut later = [0_u32; EdgeData::MAX_OCCURRENCES];
        let mut len = 0;
        let mut next = self.more;
        while let Some(&(_, before)) = next
            .checked_sub(1)
            .and_then(|entry| tables.more.get(entry as usize))
        {
            if len == later.len() {
                break;
            }
            later[len] = next;
            len += 1;
            next = before;
        }
        std::iter::once(&self.first).chain(
            (0..len)
                .rev()
                .filter_map(move |i| tables.more.get(later[i] as usize - 1).map(|(t, _)| t)),
        )
    }

    /// Whether `taking` would be kept: the rule of [`EdgeData::wants`], over indices.
    pub fn wants<I>(&self, taking: &Taking<'_, I>, tables: &Tables) -> bool
    where
        I: Iterator<Item = (u32, Mode)> + Clone,
    {
        let room = usize::from(self.kept) < EdgeData::MAX_OCCURRENCES;
        if self.threads & thread_bit(taking.thread) == 0 {
            return room;
        }
        if !room || tables.covers(&self.first, taking) {
            return false;
        }
        // Newest first: any order answers, and a link always goes to an earlier entry.
        let mut next = self.more;
        while let Some((taken, before)) = next
            .checked_sub(1)
            .and_then(|entry| tables.more.get(entry as usize))
        {
            if tables.covers(taken, taking) {
                return false;
            }
            next = *before;
        }
        true
    }

    /// Keeps `taken` if it is wanted (`held` yields its held locks); returns whether it was.
    #[cfg(test)]
    pub fn add<I>(&mut self, taken: Taken, held: I, held_len: usize, tables: &mut Tables) -> bool
    where
        I: Iterator<Item = (u32, Mode)> + Clone,
    {
        let taking = Taking {
            thread: taken.thread,
            from_mode: taken.from_mode,
            to_mode: taken.to_mode,
            snapshot: Some(taken.clock),
            clock: &tables.clocks[taken.clock as usize],
            held_len,
            held,
        };
        if !self.wants(&taking, tables) {
            return false;
        }
        self.push(taken, tables);
        true
    }

    /// Keeps `taken`, which [`TakenEdge::wants`] said it wants.
    pub fn push(&mut self, taken: Taken, tables: &mut Tables) {
        self.threads |= thread_bit(taken.thread);
        self.kept += 1;
        tables.more.push((taken, self.more));
        self.more = index(tables.more.len());
    }
}

/// The replay's order edges with their occurrences, by the replay's indices of their two
/// locks: one probe finds an edge and what it keeps (the graph keeps only the edges' ends,
/// for the cycle search).
#[derive(Debug, Default)]
pub(super) struct Edges {
    map: FxHashMap<(u32, u32), TakenEdge>,
}

impl Edges {
    pub fn get(&self, from: u32, to: u32) -> Option<&TakenEdge> {
        self.map.get(&(from, to))
    }

    pub fn entry(
        &mut self,
        from: u32,
        to: u32,
    ) -> std::collections::hash_map::Entry<'_, (u32, u32), TakenEdge> {
        self.map.entry((from, to))
    }
}

/// The tables a [`Taken`] indexes, but for the replay's threads and locks.
#[derive(Debug)]
pub(super) struct Tables {
    pub sites: Sites,
    pub held: HeldSets,
    /// Clock snapshots: one per change of a thread's clock that an occurrence kept.
    pub clocks: Vec<Arc<VectorClock>>,
    /// The occurrences of edges after their first, each with the entry of the one its edge
    /// kept before it plus one (0: none, after the first).
    more: Vec<(Taken, u32)>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            sites: Sites::default(),
            held: HeldSets::new(),
            clocks: Vec::new(),
            more: Vec::new(),
        }
    }
}

impl Tables {
    /// Whether `kept` makes `taking` redundant: the rule of the engine's `Occurrence::covers`,
    /// over indices (a lock index stands for its lock, a clock index for its snapshot).
    fn covers<I>(&self, kept: &Taken, taking: &Taking<'_, I>) -> bool
    where
        I: Iterator<Item = (u32, Mode)> + Clone,
    {
        if kept.thread != taking.thread
            || kept.from_mode != taking.from_mode
            || kept.to_mode != taking.to_mode
        {
            return false;
        }
        let mine = &*self.clocks[kept.clock as usize];
        let same_clock = match taking.snapshot {
            Some(theirs) => theirs == kept.clock || *mine == *self.clocks[theirs as usize],
            None => mine == taking.clock,
        };
        let kept_held = self.held.get(kept.held);
        if !same_clock || kept_held.len() > taking.held_len.max(1) {
            return false;
        }
        // An empty set stands for a held set of `from` alone (see `HeldSets::add`): both mean
        // no gate.
        if kept_held.is_empty() {
            return true;
        }
        let held = taking.held.clone();
        if taking.held_len > 16 {
            // Deep sets: equality only, so the check stays linear.
            return kept_held.len() == taking.held_len && kept_held.iter().copied().eq(held);
        }
        kept_held
            .iter()
            .all(|mine| held.clone().any(|theirs| theirs == *mine))
    }

    /// The snapshot of `clock` as a new table entry.
    pub fn snapshot(&mut self, clock: &VectorClock) -> u32 {
        self.clocks.push(Arc::new(clock.clone()));
        index(self.clocks.len() - 1)
    }

    /// `taken` as the engine keeps it: `thread` is its thread's id, `lock` gives a lock index's
    /// id.
    pub fn occurrence(
        &self,
        taken: &Taken,
        thread: ThreadId,
        lock: impl Fn(u32) -> LockId,
    ) -> Occurrence {
        Occurrence {
            thread,
            from_mode: taken.from_mode,
            to_mode: taken.to_mode,
            from_site: self.sites.get(taken.from_site).cloned(),
            to_site: self.sites.get(taken.to_site).cloned(),
            held: self
                .held
                .get(taken.held)
                .iter()
                .map(|&(l, mode)| (lock(l), mode))
                .collect(),
            clock: Some(self.clocks[taken.clock as usize].clone()),
            backtrace: None,
        }
    }

    /// The edge's occurrences as the engine keeps them (`thread` gives a thread index's id).
    pub fn edge_data(
        &self,
        edge: &TakenEdge,
        thread: impl Fn(u32) -> ThreadId,
        lock: impl Fn(u32) -> LockId + Copy,
    ) -> EdgeData {
        let mut occurrences = edge
            .iter(self)
            .map(|taken| self.occurrence(taken, thread(taken.thread), lock));
        let first = occurrences.next().expect("an edge has an occurrence");
        let mut data = EdgeData::new(first);
        for occurrence in occurrences {
            // Kept once under the same rule, so kept again.
            let kept = data.add(occurrence);
            debug_assert!(kept, "the engine keeps what the replay kept");
        }
        data
    }
}

/// A table index: tables never hold more entries than a trace has events, which a `u32` counts
/// for any trace that fits in memory; past that, the last index is shared (sites then shown
/// wrong, never a crash).
fn index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Site texts, each stored once; index 0 is "no site".
#[derive(Debug, Default)]
pub(super) struct Sites {
    index: FxHashMap<Site, u32>,
    sites: Vec<Site>,
}

impl Sites {
    /// The index of `site`.
    pub fn intern(&mut self, site: Option<&Site>) -> u32 {
        let Some(site) = site else {
            return 0;
        };
        if let Some(&known) = self.index.get(site) {
            return known;
        }
        self.sites.push(site.clone());
        let new = index(self.sites.len());
        self.index.insert(site.clone(), new);
        new
    }

    pub fn get(&self, index: u32) -> Option<&Site> {
        index
            .checked_sub(1)
            .and_then(|i| self.sites.get(i as usize))
    }
}

/// The held sets of acquisitions that added an occurrence, one after another in one list: set
/// `i` is `locks[ends[i - 1]..ends[i]]`, set 0 the empty one.
#[derive(Debug)]
pub(super) struct HeldSets {
    locks: Vec<(u32, Mode)>,
    ends: Vec<usize>,
}

impl HeldSets {
    fn new() -> Self {
        HeldSets {
            locks: Vec::new(),
            ends: vec![0],
        }
    }

    /// Stores the `len` locks of `held` (`from` among them): nothing when that is `from` alone
    /// — no other lock can be a gate then — so that the most common acquisition, one lock
    /// inside another, stores no set.
    pub fn add(&mut self, len: usize, held: impl Iterator<Item = (u32, Mode)>) -> u32 {
        if len <= 1 {
            return 0;
        }
        self.locks.extend(held);
        self.ends.push(self.locks.len());
        index(self.ends.len() - 1)
    }

    pub fn get(&self, set: u32) -> &[(u32, Mode)] {
        match set as usize {
            0 => &[],
            set => match (self.ends.get(set - 1), self.ends.get(set)) {
                (Some(&start), Some(&end)) => &self.locks[start..end],
                _ => &[],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What makes 454,000 distinct edges fit in 100 MB: an occurrence is six words of 4 bytes,
    /// and an edge with its first occurrence in place is 32 bytes (40 with its key).
    #[test]
    fn occurrences_are_small_records() {
        assert_eq!(std::mem::size_of::<Taken>(), 24);
        assert_eq!(std::mem::size_of::<TakenEdge>(), 32);
        assert_eq!(std::mem::size_of::<((u32, u32), TakenEdge)>(), 40);
    }

    /// Occurrences come back in the order they were kept, however many edges interleave.
    #[test]
    fn occurrences_keep_their_order_per_edge() {
        let mut tables = Tables::default();
        let clock = tables.snapshot(&VectorClock::new());
        let taken = |thread| Taken {
            thread,
            from_site: 0,
            to_site: 0,
            held: 0,
            clock,
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
        };
        let mut edges = [TakenEdge::new(taken(0)), TakenEdge::new(taken(10))];
        for thread in 1..4 {
            for (e, edge) in edges.iter_mut().enumerate() {
                let none = std::iter::empty();
                assert!(edge.add(taken(thread + 10 * e as u32), none, 0, &mut tables));
            }
        }
        // Covered: the same thread, clock and modes, no held lock.
        assert!(!edges[0].add(taken(2), std::iter::empty(), 0, &mut tables));
        let threads = |edge: &TakenEdge| edge.iter(&tables).map(|t| t.thread).collect::<Vec<_>>();
        assert_eq!(threads(&edges[0]), [0, 1, 2, 3]);
        assert_eq!(threads(&edges[1]), [10, 11, 12, 13]);
        for thread in 20..40 {
            edges[0].add(taken(thread), std::iter::empty(), 0, &mut tables);
        }
        assert_eq!(edges[0].iter(&tables).count(), EdgeData::MAX_OCCURRENCES);
    }

    #[test]
    fn held_sets_and_sites_round_trip() {
        let mut held = HeldSets::new();
        assert_eq!(held.add(1, [(7, Mode::Shared)].into_iter()), 0);
        let two = held.add(2, [(1, Mode::Exclusive), (2, Mode::Shared)].into_iter());
        let three = held.add(3, (0..3).map(|l| (l, Mode::Exclusive)));
        assert_eq!(held.get(0), &[]);
        assert_eq!(held.get(two), &[(1, Mode::Exclusive), (2, Mode::Shared)]);
        assert_eq!(held.get(three).len(), 3);
        let mut sites = Sites::default();
        let a = Site::Text(Arc::new("a.rs:1:1".into()));
        let first = sites.intern(Some(&a));
        assert_eq!(sites.intern(Some(&a.clone())), first);
        assert_eq!(sites.intern(None), 0);
        assert_eq!(sites.get(first), Some(&a));
        assert_eq!(sites.get(0), None);
    }
}
