//! Order edges into locks that have never been the source of an edge in the graph, kept
//! beside the graph until their target becomes one. A cycle through a lock needs an edge out
//! of it, so until then its in-edges cannot close one; a lock made, taken under another and
//! dropped (a per-request or per-entry lock) so never costs a trip to the global graph, only
//! to one shard here.
//!
//! The rules that keep every cycle found (`order_graph` applies them):
//! - an edge waits here only when its source is a node of the graph already, so a source that
//!   was dropped meanwhile is known by its absence from the graph and its edges are let go;
//! - before a lock gets its first edge out in the graph, it is [marked a
//!   source](take_and_mark_source) here and the edges waiting in it go into the graph first,
//!   with their own acquisition sites and threads; an edge deferred after the mark is refused
//!   and goes into the graph directly (the shard's mutex orders the two);
//! - a lock's waiting edges are dropped with it ([`forget`]).

use rustc_hash::FxHashMap;

use crate::engine::edges::Occurrence;
use crate::ids::LockId;
use crate::raw::{Mutex, MutexGuard};

/// How many edges may wait in one lock; past that they go into the graph (a lock taken under
/// many different locks is not short-lived).
const MAX_WAITING: usize = 16;

const SHARDS: usize = 64;

/// An edge `from -> to` waiting in `to`, as it was taken.
#[derive(Debug)]
pub(in crate::runtime) struct Waiting {
    pub from: LockId,
    pub occurrence: Occurrence,
}

#[derive(Debug)]
enum Entry {
    /// The lock has been a source in the graph: nothing waits in it any more.
    Source,
    /// The edges waiting in the lock, the first in place (most short-lived locks are taken
    /// under one lock, once).
    Waiting { first: Waiting, more: Vec<Waiting> },
}

type Shard = Option<FxHashMap<LockId, Entry>>;

static TABLE: [Mutex<Shard>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

fn shard(lock: LockId) -> &'static Mutex<Shard> {
    // Ids are handed out in sequence: consecutive locks fall in different shards.
    &TABLE[(lock.0 % SHARDS as u64) as usize]
}

/// The shard of one lock, locked, to defer the new edges of one acquisition into it.
pub(in crate::runtime) struct Deferral {
    guard: MutexGuard<'static, Shard>,
    to: LockId,
}

/// Why [`Deferral::push`] refused an edge, which then goes into the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::runtime) enum Refused {
    /// The lock has been a source: nothing waits in it any more.
    Source,
    /// [`MAX_WAITING`] edges wait in it already.
    Full,
}

impl Deferral {
    /// Locks the shard of `to`.
    pub(in crate::runtime) fn open(to: LockId) -> Deferral {
        Deferral {
            guard: shard(to).lock(),
            to,
        }
    }

    /// Defers `from -> to`, unless `to` has been a source or has no room: one look-up.
    pub(in crate::runtime) fn push(&mut self, waiting: Waiting) -> Result<(), Refused> {
        let map = self.guard.get_or_insert_with(FxHashMap::default);
        match map.entry(self.to) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Entry::Waiting {
                    first: waiting,
                    more: Vec::new(),
                });
                Ok(())
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => match slot.get_mut() {
                Entry::Source => Err(Refused::Source),
                Entry::Waiting { more, .. } if 1 + more.len() >= MAX_WAITING => Err(Refused::Full),
                Entry::Waiting { more, .. } => {
                    more.push(waiting);
                    Ok(())
                }
            },
        }
    }
}

/// Marks `lock` a source, from now on, and returns the edges that waited in it, in the order
/// they were deferred.
pub(in crate::runtime) fn take_and_mark_source(lock: LockId) -> Vec<Waiting> {
    let mut guard = shard(lock).lock();
    let map = guard.get_or_insert_with(FxHashMap::default);
    match map.insert(lock, Entry::Source) {
        Some(Entry::Waiting { first, mut more }) => {
            more.insert(0, first);
            more
        }
        Some(Entry::Source) | None => Vec::new(),
    }
}

/// Forgets what waits in a dropped lock, and its mark.
pub(in crate::runtime) fn forget(lock: LockId) {
    let removed = shard(lock)
        .lock()
        .as_mut()
        .and_then(|map| map.remove(&lock));
    // Dropped outside the shard's lock: the occurrences' clocks and stacks may be large.
    drop(removed);
}

/// Whether anything is kept for `lock` here (edges waiting in it, or its mark), for tests of
/// memory use.
#[cfg(test)]
pub(in crate::runtime) fn knows(lock: LockId) -> bool {
    shard(lock)
        .lock()
        .as_ref()
        .is_some_and(|map| map.contains_key(&lock))
}

/// How many edges wait in `lock`, for tests.
#[cfg(test)]
pub(in crate::runtime) fn waiting_in(lock: LockId) -> usize {
    match shard(lock).lock().as_ref().and_then(|map| map.get(&lock)) {
        Some(Entry::Waiting { more, .. }) => 1 + more.len(),
        _ => 0,
    }
}
