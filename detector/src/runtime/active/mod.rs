//! The metadata every instrumented lock carries, and the acquire/release protocol the `sync`
//! shells call. A lock's identity is here; each part of the protocol has a file:
//!
//! - [`acquire`]: the acquisitions `sync` calls (blocking, try, upgrade, re-lock after a wait);
//! - [`enter`]: the checks before an acquisition (re-locks, order edges, ranks);
//! - [`contended`]: the wait for a lock that is taken (the wait-for check, spinning);
//! - [`release`]: releases and mode changes;
//! - [`condvar`]: condition variables;
//! - [`findings`]: the findings the protocol reports;
//! - [`recording`]: what the protocol writes into a running recording;
//! - [`ids`], [`names`]: lock ids and lock names;
//! - [`first_taken`]: the names of locks made from a `const`, where they were first taken;
//! - [`stand_in`]: the parking_lot stand-in's check of the lock file, once per process;
//! - [`task_wait`]: the requests, acquisitions and releases of async locks (`lockscan::tokio`).

mod acquire;
mod condvar;
mod contended;
mod enter;
mod findings;
mod first_taken;
mod ids;
mod names;
mod recording;
mod release;
mod stand_in;
#[cfg(feature = "tokio")]
mod task_wait;

use std::borrow::Cow;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use super::hb::LockClock;
use super::lazy_id::{self, LazyId};
use super::order_graph;
use super::order_graph::deferred;
use super::recorder::RecordSeq;
use super::state::{Held, LockInfo};
use crate::ids::{LockId, LockKind, Mode};
use ids::fresh_lock_id;

pub(crate) use condvar::CondvarMeta;
pub(crate) use findings::add_stack;
pub(crate) use names::intern;

/// What an instrumented lock knows about itself.
#[derive(Debug)]
pub(crate) struct LockMeta {
    id: LazyId,
    /// Whether the lock is a node of the global order graph, to leave when dropped.
    in_graph: AtomicBool,
    /// Whether order edges into the lock were deferred (`order_graph::deferred`), to forget
    /// when dropped.
    deferred: AtomicBool,
    /// Its operations in the running recording, numbered for the trace's reader.
    recorded: RecordSeq,
    /// What the last release knew, for race detection.
    clock: LockClock,
    /// Where the lock was made; for a lock whose maker is not known (a raw lock made from a
    /// `const`, see [`unclassified`](Self::unclassified)), where it was first acquired.
    class: AtomicPtr<Location<'static>>,
    /// Whether `class` is still to be set by the first acquisition.
    class_at_first_use: bool,
    name: Option<&'static str>,
    /// The name an [`unclassified`](Self::unclassified) lock gets at its first acquisition
    /// (see [`first_taken`]); null before, and for every other lock.
    first_taken: AtomicPtr<&'static str>,
    kind: LockKind,
    rank: Option<u32>,
}

impl LockMeta {
    pub(crate) const fn new(kind: LockKind, class: &'static Location<'static>) -> Self {
        LockMeta {
            id: LazyId::new(),
            in_graph: AtomicBool::new(false),
            deferred: AtomicBool::new(false),
            recorded: RecordSeq::new(),
            clock: LockClock::new(),
            // Never written through: only ever turned back into a shared reference.
            class: AtomicPtr::new(class as *const Location<'static> as *mut Location<'static>),
            class_at_first_use: false,
            name: None,
            first_taken: AtomicPtr::new(std::ptr::null_mut()),
            kind,
            rank: None,
        }
    }

    /// A lock whose maker is not known: it is named after the site of its first acquisition
    /// (`lock first taken at src/lib.rs:7:13`), or, when that site is a wrapper's, after the
    /// caller of the wrapper (see [`first_taken`]).
    #[track_caller]
    pub(crate) const fn unclassified(kind: LockKind) -> Self {
        let mut meta = LockMeta::new(kind, Location::caller());
        meta.class_at_first_use = true;
        meta
    }

    /// Sets the class and name of an [`unclassified`](Self::unclassified) lock at its first
    /// acquisition, at `site`: only then, before the lock has an id, so an already named lock
    /// pays one comparison.
    #[inline]
    pub(super) fn classify_at(&self, site: &'static Location<'static>) {
        if self.class_at_first_use && self.id.get() == 0 {
            self.adopt_class(site);
        }
    }

    #[cold]
    #[inline(never)]
    fn adopt_class(&self, site: &'static Location<'static>) {
        // The first acquisition of a lock made from a `const`: the stand-in's are.
        stand_in::check_once();
        // Racing first acquisitions each store one of their sites and names.
        let name = first_taken::name(site, std::ptr::from_ref(self).addr());
        let class = site as *const Location<'static> as *mut Location<'static>;
        self.class.store(class, Ordering::Relaxed);
        let name = name as *const &'static str as *mut &'static str;
        self.first_taken.store(name, Ordering::Release);
    }

    /// The name reports use when there is one: the given name, else the name an unclassified
    /// lock got at its first acquisition.
    #[inline]
    pub(super) fn label(&self) -> Option<&'static str> {
        self.name.or_else(|| {
            let name = self.first_taken.load(Ordering::Acquire);
            // SAFETY: `first_taken` is null or was made from an interned `&'static &'static
            // str` (`intern_thin`), which is never freed; Acquire pairs with the Release that
            // published it.
            (!name.is_null()).then(|| unsafe { *name })
        })
    }

    pub(super) fn class(&self) -> &'static Location<'static> {
        // SAFETY: `class` only ever holds pointers made from `&'static Location` references.
        unsafe { &*self.class.load(Ordering::Relaxed) }
    }

    pub(crate) fn named(
        kind: LockKind,
        class: &'static Location<'static>,
        name: Cow<'static, str>,
    ) -> Self {
        let mut meta = LockMeta::new(kind, class);
        meta.name = Some(intern(name));
        meta
    }

    /// The id, for a use of the lock that may make it a source (any acquisition) or show it to
    /// another thread: a fresh id (see [`id_at`](Self::id_at)) is made plain first, and what
    /// its first acquisition deferred into its thread's table moves to the shards.
    #[inline]
    pub(super) fn id(&self) -> LockId {
        let word = self.id.word();
        if (word as i64) > 0 {
            return LockId(word);
        }
        if word != 0 {
            self.publish_fresh();
        }
        LockId(self.id.get_or_assign(fresh_lock_id))
    }

    /// The id of a lock about to be taken at `site`: one load once the lock has a plain one; at
    /// its first acquisition, the class and name of an unclassified lock first, then a fresh
    /// id, whose order edges may wait in this thread's table (`order_graph::deferred`) until
    /// the lock is used again or dropped.
    #[inline]
    pub(super) fn id_at(&self, site: &'static Location<'static>) -> LockId {
        let word = self.id.word();
        // Neither none yet (0) nor fresh (the top bit): one comparison.
        if (word as i64) > 0 {
            return LockId(word);
        }
        self.first_or_fresh(word, site)
    }

    #[cold]
    #[inline(never)]
    fn first_or_fresh(&self, word: u64, site: &'static Location<'static>) -> LockId {
        if word == 0 {
            self.classify_at(site);
            if let Some(owner) = deferred::own_table()
                && let Ok(id) = self.id.assign_fresh(fresh_lock_id(), owner)
            {
                return LockId(id);
            }
        }
        // Used again, or another first use won.
        self.id()
    }

    /// Makes a fresh id plain and moves what waits in its table into the shards (into the graph
    /// what a shard refuses), reporting the cycles that closes.
    #[cold]
    #[inline(never)]
    fn publish_fresh(&self) {
        let Some(owner) = self.id.take_fresh() else {
            return;
        };
        let id = LockId(self.id.get());
        let waiting = deferred::take_waiting(owner, id);
        if waiting.is_empty() {
            return;
        }
        let pushed = waiting.len();
        let refused = deferred::push_all(id, waiting);
        if refused.len() < pushed {
            self.deferred.store(true, Ordering::Relaxed);
        }
        if !refused.is_empty() {
            let findings = order_graph::adopt_waiting(id, self.info(), refused);
            self.in_graph.store(true, Ordering::Relaxed);
            for finding in findings {
                super::report(finding);
            }
        }
    }

    /// The id without making a fresh one plain, for tests.
    #[cfg(test)]
    pub(super) fn peek_id(&self) -> LockId {
        LockId(self.id.get())
    }

    /// Whether a hold of this lock may be remembered in a chain cache with its name: an
    /// unclassified lock only once the name its first acquisition gave it is visible here (a
    /// racing first acquisition on another thread may not have published it yet).
    pub(super) fn named_for_good(&self, hold: &Held) -> bool {
        !self.class_at_first_use || hold.info.name.is_some()
    }

    /// Declares the lock's rank.
    pub(crate) const fn set_rank(&mut self, rank: u32) {
        self.rank = Some(rank);
    }

    /// The declared rank.
    pub(crate) fn rank(&self) -> Option<u32> {
        self.rank
    }

    /// A number that orders locks globally and never changes for this lock: its id, assigned on
    /// first use from a counter.
    pub(crate) fn sequence(&self) -> u64 {
        self.id().0
    }

    /// A hold of this lock (`id`) in `mode`, taken at `site`, before any order edge out of it.
    #[inline]
    pub(super) fn hold(&self, id: LockId, mode: Mode, site: &'static Location<'static>) -> Held {
        Held {
            id,
            mode,
            site,
            info: self.info(),
            out_edge: false,
            in_graph: self.in_graph.load(Ordering::Relaxed),
            under: 0,
        }
    }

    #[inline]
    pub(super) fn info(&self) -> LockInfo {
        LockInfo {
            class: self.class(),
            name: self.label(),
            rank: self.rank,
        }
    }
}

impl Drop for LockMeta {
    fn drop(&mut self) {
        let word = self.id.word_mut();
        let id = LockId(lazy_id::id_of(word));
        if let Some(owner) = lazy_id::fresh_owner(word) {
            // Never used again since its first acquisition: what that deferred is in the
            // table of its thread (this one, mostly), nowhere else.
            deferred::forget_waiting(owner, id);
        }
        if *self.in_graph.get_mut() {
            order_graph::forget_lock(id);
        } else if *self.deferred.get_mut() {
            // Never in the graph: what waits in it is all there is to forget.
            order_graph::forget_deferred(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Mutex;

    #[test]
    fn dropped_locks_leave_the_graph() {
        let outer = Mutex::new(());
        let _outer = outer.lock();
        let (nodes_before, _) = order_graph::size();
        for _ in 0..100_000 {
            let inner = Mutex::new(0_u8);
            *inner.lock() += 1;
        }
        let (nodes_after, edges_after) = order_graph::size();
        // The outer lock may stay; none of the 100k inner locks may.
        assert!(
            nodes_after <= nodes_before + 1,
            "{nodes_before} nodes before, {nodes_after} after ({edges_after} edges)"
        );
    }

    #[test]
    fn a_full_edge_is_known_without_the_graph_and_forgotten_with_its_lock() {
        let a = Mutex::new(());
        let b = Mutex::new(());
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    let _a = a.lock();
                    drop(b.lock());
                })
                .join()
                .unwrap();
            }
        });
        let (ida, idb) = (a.hooks.meta().id(), b.hooks.meta().id());
        assert!(
            order_graph::is_full(ida, idb),
            "eight threads fill the edge"
        );
        drop(a);
        assert!(!order_graph::is_full(ida, idb), "gone with its lock");
    }

    use crate::runtime::order_graph::deferred;

    /// The id of a lock of `sync`.
    fn id_of<T>(lock: &Mutex<T>) -> LockId {
        lock.hooks.meta().id()
    }

    #[test]
    fn a_lock_never_a_source_keeps_its_edges_out_of_the_graph_and_forgets_them_when_dropped() {
        let outer = Mutex::new(());
        let first = Mutex::new(());
        let _outer = outer.lock();
        // The first edge out of `outer` makes it a node of the graph; the next ones may wait.
        drop(first.lock());
        assert!(order_graph::contains(id_of(&outer)));
        let mut dropped = Vec::new();
        for _ in 0..3 {
            let inner = Mutex::new(0_u8);
            *inner.lock() += 1;
            let id = id_of(&inner);
            assert!(!order_graph::contains(id), "no trip to the graph");
            assert_eq!(deferred::waiting_in(id), 1, "the edge waits in the lock");
            drop(inner);
            assert!(!deferred::knows(id), "forgotten with its lock");
            dropped.push(id);
        }
        // A new lock, made where the dropped ones were, has its own id and nothing of theirs.
        let again = Mutex::new(0_u8);
        let id = id_of(&again);
        assert!(!dropped.contains(&id), "ids are not reused");
        assert!(!deferred::knows(id));
        drop(again.lock());
        assert_eq!(deferred::waiting_in(id), 1);
    }

    #[test]
    fn a_lock_that_becomes_a_source_takes_its_waiting_edges_into_the_graph() {
        let outer = Mutex::new(());
        let first = Mutex::new(());
        let inner = Mutex::new(());
        let next = Mutex::new(());
        {
            let _outer = outer.lock();
            drop(first.lock());
            drop(inner.lock());
        }
        let (o, i, n) = (id_of(&outer), id_of(&inner), id_of(&next));
        assert_eq!(deferred::waiting_in(i), 1);
        {
            let _inner = inner.lock();
            drop(next.lock());
        }
        // `inner -> next` entered the graph; `outer -> inner` before it.
        assert!(order_graph::contains(i) && order_graph::contains(n));
        assert_eq!(deferred::waiting_in(i), 0);
        assert!(
            deferred::knows(i),
            "marked a source: nothing waits in it any more"
        );
        // Another edge into it goes to the graph directly.
        let other = Mutex::new(());
        {
            let _other = other.lock();
            let _warm = Mutex::new(());
            drop(_warm.lock());
            drop(inner.lock());
        }
        assert_eq!(deferred::waiting_in(i), 0);
        drop(inner);
        assert!(!deferred::knows(i) && !order_graph::contains(i));
        assert!(order_graph::contains(o));
    }

    #[test]
    fn a_lock_made_taken_and_dropped_on_one_thread_keeps_its_edge_in_the_threads_table() {
        let outer = Mutex::new(());
        let first = Mutex::new(());
        let _outer = outer.lock();
        drop(first.lock());
        for _ in 0..3 {
            let inner = Mutex::new(0_u8);
            *inner.lock() += 1;
            let id = inner.hooks.meta().peek_id();
            assert_eq!(deferred::waiting_in_tables(id), 1, "in this thread's table");
            assert_eq!(deferred::waiting_in(id), 0, "no trip to a shard");
            assert!(!order_graph::contains(id));
            drop(inner);
            assert!(!deferred::knows(id), "forgotten with its lock");
        }
    }

    /// A lock taken once, under `outer` after `outer` became a node of the graph: its edge
    /// waits in this thread's table.
    fn taken_once_under(outer: &Mutex<()>) -> (Mutex<u8>, LockId) {
        let first = Mutex::new(());
        let inner = Mutex::new(0_u8);
        {
            let _outer = outer.lock();
            drop(first.lock());
            *inner.lock() += 1;
        }
        let id = inner.hooks.meta().peek_id();
        assert_eq!(deferred::waiting_in_tables(id), 1);
        (inner, id)
    }

    #[test]
    fn a_fresh_lock_used_again_moves_its_edge_into_the_shard_first() {
        let outer = Mutex::new(());
        let (inner, id) = taken_once_under(&outer);
        std::thread::scope(|s| {
            s.spawn(|| *inner.lock() += 1);
        });
        assert_eq!(deferred::waiting_in_tables(id), 0, "out of the table");
        assert_eq!(deferred::waiting_in(id), 1, "waiting in the shard");
        drop(inner);
        assert!(!deferred::knows(id));
    }

    #[test]
    fn a_fresh_lock_dropped_on_another_thread_forgets_its_edge_in_the_first_ones_table() {
        let outer = Mutex::new(());
        let (inner, id) = taken_once_under(&outer);
        std::thread::scope(|s| {
            s.spawn(move || drop(inner));
        });
        assert!(!deferred::knows(id), "forgotten with its lock");
    }
}
