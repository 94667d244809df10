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
//!
//! Edges into a lock deferred by its first acquisition wait nearer still: in a table of the
//! thread that made that acquisition, which no other thread touches unless the lock is used
//! there, so that a lock made, taken under another and dropped on one thread touches no shared
//! memory beyond the lock itself. The lock's id is then assigned *fresh* (`LazyId`): its word
//! carries the table's index. The rules that keep this sound:
//! - only the first acquisition defers into the table ([`Deferral::open_for`]), and it checks
//!   that the mark is still there under the table's mutex;
//! - every later acquisition, on any thread, first clears the mark and moves what waits in the
//!   table into the shards ([`take_fresh`], then [`push_all`]; into the graph what a shard
//!   refuses), so the lock is seen by no other thread with edges still in a table. While the
//!   first acquisition holds it, the lock can become a source only on that thread, and
//!   [`take_and_mark_source`] looks in the current thread's table too;
//! - a lock dropped with its mark forgets its edges in the table the mark names;
//! - a thread that ends with edges in its table leaves the table where it is (the marks still
//!   name it); an empty one is given to the next thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use rustc_hash::FxHashMap;

use crate::engine::edges::Occurrence;
use crate::ids::LockId;
use crate::raw::{Mutex, MutexGuard};
use crate::runtime::lazy_id::{self, LazyId};

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

/// The shard of one lock, or the table of the thread that took it first, locked, to defer the
/// new edges of one acquisition into it.
pub(in crate::runtime) struct Deferral {
    place: Place,
    to: LockId,
}

enum Place {
    Shard(MutexGuard<'static, Shard>),
    Table(MutexGuard<'static, Option<Table>>),
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
            place: Place::Shard(shard(to).lock()),
            to,
        }
    }

    /// Locks the current thread's table when `id` (the id of `to`) is fresh and this thread
    /// assigned it (the lock's first acquisition, see the module's rules), else the shard.
    pub(in crate::runtime) fn open_for(to: LockId, id: &LazyId) -> Deferral {
        if let Some(owner) = lazy_id::fresh_owner(id.word())
            && own_table() == Some(owner)
        {
            let guard = TABLES[owner].lock();
            // Under the table's mutex: a use on another thread clears the mark before it
            // looks here, so either it finds what is deferred now or this sees the mark gone.
            if lazy_id::fresh_owner(id.word()) == Some(owner) {
                return Deferral {
                    place: Place::Table(guard),
                    to,
                };
            }
        }
        Deferral::open(to)
    }

    /// Whether the edges go to the thread's table (not the shards).
    pub(in crate::runtime) fn in_table(&self) -> bool {
        matches!(self.place, Place::Table(_))
    }

    /// Defers `from -> to`, unless `to` has been a source or has no room (then the edge is
    /// given back): one look-up.
    pub(in crate::runtime) fn push(&mut self, waiting: Waiting) -> Result<(), (Refused, Waiting)> {
        let map = match &mut self.place {
            Place::Table(table) => {
                return table
                    .get_or_insert_with(Table::default)
                    .push(self.to, waiting);
            }
            Place::Shard(guard) => guard.get_or_insert_with(FxHashMap::default),
        };
        match map.entry(self.to) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Entry::Waiting {
                    first: waiting,
                    more: Vec::new(),
                });
                Ok(())
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => match slot.get_mut() {
                Entry::Source => Err((Refused::Source, waiting)),
                Entry::Waiting { more, .. } if 1 + more.len() >= MAX_WAITING => {
                    Err((Refused::Full, waiting))
                }
                Entry::Waiting { more, .. } => {
                    more.push(waiting);
                    Ok(())
                }
            },
        }
    }
}

/// Defers `waiting` (edges into `to`, in order) into the shard of `to`; the edges the shard
/// refused, in order, which belong in the graph.
pub(in crate::runtime) fn push_all(to: LockId, waiting: Vec<Waiting>) -> Vec<Waiting> {
    let mut deferral = Deferral::open(to);
    let mut edges = waiting.into_iter();
    while let Some(edge) = edges.next() {
        if let Err((_, edge)) = deferral.push(edge) {
            return std::iter::once(edge).chain(edges).collect();
        }
    }
    Vec::new()
}

/// Marks `lock` a source, from now on, and returns the edges that waited in it, in the order
/// they were deferred: those in the current thread's table first (deferred by the first
/// acquisition, which this thread may still hold), then those in the shard.
pub(in crate::runtime) fn take_and_mark_source(lock: LockId) -> Vec<Waiting> {
    let mut taken = own_table_any().map_or_else(Vec::new, |own| take_waiting(own, lock));
    let mut guard = shard(lock).lock();
    let map = guard.get_or_insert_with(FxHashMap::default);
    match map.insert(lock, Entry::Source) {
        Some(Entry::Waiting { first, more }) => {
            taken.push(first);
            taken.extend(more);
        }
        Some(Entry::Source) | None => {}
    }
    taken
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

/// The edges waiting in the table `owner` for a dropped lock, or one used again (whoever
/// cleared its fresh mark), in the order they were deferred.
pub(in crate::runtime) fn take_waiting(owner: usize, lock: LockId) -> Vec<Waiting> {
    TABLES[owner]
        .lock()
        .as_mut()
        .map_or_else(Vec::new, |table| table.take(lock))
}

/// Forgets the edges waiting in the table `owner` for `lock`, dropped with its fresh mark.
pub(in crate::runtime) fn forget_waiting(owner: usize, lock: LockId) {
    if let Some(table) = TABLES[owner].lock().as_mut() {
        // Dropped under the table's mutex: only its thread and the lock's users take it.
        table.forget(lock);
    }
}

/// How many edges wait for one lock in a thread's table: the first acquisition takes it under
/// a few held locks at most, the rest go to the shards.
const TABLE_WAITING: usize = 4;

/// How many edges a table keeps in its list before it moves the older half into its map.
const RECENT: usize = 64;

/// How many threads can have a table at once (the rest defer into the shards).
const TABLE_COUNT: usize = 4096;
const _: () = assert!(TABLE_COUNT <= lazy_id::OWNERS);

/// The edges waiting in the locks whose first acquisition a thread made.
#[derive(Default)]
struct Table {
    /// The most recent ones, newest last: a lock made, taken and dropped finds its edges at the
    /// end.
    recent: Vec<(LockId, Waiting)>,
    /// The older ones, by lock, each lock's in order.
    older: FxHashMap<LockId, Vec<Waiting>>,
}

impl Table {
    fn push(&mut self, to: LockId, waiting: Waiting) -> Result<(), (Refused, Waiting)> {
        // One acquisition's edges are pushed together, on top.
        let already = self.recent.iter().rev().take_while(|(lock, _)| *lock == to);
        if already.count() >= TABLE_WAITING {
            return Err((Refused::Full, waiting));
        }
        if self.recent.len() >= RECENT {
            for (lock, edge) in self.recent.drain(..RECENT / 2) {
                self.older.entry(lock).or_default().push(edge);
            }
        }
        self.recent.push((to, waiting));
        Ok(())
    }

    fn take(&mut self, lock: LockId) -> Vec<Waiting> {
        let mut taken = if self.older.is_empty() {
            Vec::new()
        } else {
            self.older.remove(&lock).unwrap_or_default()
        };
        let first = taken.len();
        let mut index = self.recent.len();
        while index > 0 {
            index -= 1;
            if self.recent[index].0 == lock {
                taken.push(self.recent.remove(index).1);
            }
        }
        taken[first..].reverse();
        taken
    }

    /// Drops the edges waiting for `lock`, without collecting them: a lock made, taken and
    /// dropped finds its edges on top.
    fn forget(&mut self, lock: LockId) {
        while self.recent.last().is_some_and(|(top, _)| *top == lock) {
            self.recent.pop();
        }
        if self.recent.iter().any(|(l, _)| *l == lock) {
            self.recent.retain(|(l, _)| *l != lock);
        }
        if !self.older.is_empty() {
            self.older.remove(&lock);
        }
    }

    fn is_empty(&self) -> bool {
        self.recent.is_empty() && self.older.is_empty()
    }
}

static TABLES: [Mutex<Option<Table>>; TABLE_COUNT] = [const { Mutex::new(None) }; TABLE_COUNT];

/// How many tables were ever given out; those of ended threads that were empty are reused.
static TABLES_USED: AtomicUsize = AtomicUsize::new(0);
static TABLES_FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The index of this thread's table, held for the thread's life.
struct OwnTable(Option<usize>);

impl OwnTable {
    fn claim() -> OwnTable {
        let reused = TABLES_FREE.lock().pop();
        OwnTable(reused.or_else(|| {
            let next = TABLES_USED.fetch_add(1, Ordering::Relaxed);
            (next < TABLE_COUNT).then_some(next)
        }))
    }
}

impl Drop for OwnTable {
    fn drop(&mut self) {
        // A table with edges in it stays this thread's: the marks of their locks name it.
        if let Some(index) = self.0
            && TABLES[index].lock().as_ref().is_none_or(Table::is_empty)
        {
            TABLES_FREE.lock().push(index);
        }
    }
}

thread_local! {
    static OWN: OwnTable = OwnTable::claim();
}

/// The index of the current thread's table, whether or not the thread may defer into it now.
fn own_table_any() -> Option<usize> {
    OWN.try_with(|own| own.0).ok().flatten()
}

/// The index of the table the current thread defers into at the first acquisition of a lock:
/// none while an async task's state is swapped in (the task may go on on another thread while
/// holding the lock, where its table is not the thread's).
pub(in crate::runtime) fn own_table() -> Option<usize> {
    #[cfg(feature = "tokio")]
    if crate::runtime::state::in_task() {
        return None;
    }
    own_table_any()
}

/// Whether anything is kept for `lock` here (edges waiting in it in a shard or a thread's
/// table, or its mark), for tests of memory use.
#[cfg(test)]
pub(in crate::runtime) fn knows(lock: LockId) -> bool {
    shard(lock)
        .lock()
        .as_ref()
        .is_some_and(|map| map.contains_key(&lock))
        || waiting_in_tables(lock) > 0
}

/// How many edges wait in `lock` in the shards, for tests.
#[cfg(test)]
pub(in crate::runtime) fn waiting_in(lock: LockId) -> usize {
    match shard(lock).lock().as_ref().and_then(|map| map.get(&lock)) {
        Some(Entry::Waiting { more, .. }) => 1 + more.len(),
        _ => 0,
    }
}

/// How many edges wait in `lock` in the threads' tables, for tests.
#[cfg(test)]
pub(in crate::runtime) fn waiting_in_tables(lock: LockId) -> usize {
    let used = TABLES_USED.load(Ordering::Relaxed).min(TABLE_COUNT);
    TABLES[..used]
        .iter()
        .map(|table| {
            table.lock().as_ref().map_or(0, |table| {
                table.recent.iter().filter(|(l, _)| *l == lock).count()
                    + table.older.get(&lock).map_or(0, Vec::len)
            })
        })
        .sum()
}
