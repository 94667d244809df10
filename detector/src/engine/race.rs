//! Data races by happens-before, with FastTrack's epochs (Flanagan & Freund, PLDI 2009): a
//! variable remembers its last write as one epoch (thread, clock) and its reads as one epoch
//! until reads by concurrent threads make them a vector, so most accesses cost O(1).
//!
//! [`VarState`] is the per-variable part, used by the live `Tracked` values and by the offline
//! [`RaceEngine`], which also keeps the thread and lock clocks of a replayed trace.

use rustc_hash::FxHashMap;

use crate::engine::clock::VectorClock;
use crate::finding::{Finding, FindingKind, VarAccess};
use crate::ids::{LockId, ThreadId, VarId};
use crate::site::Site;

/// One access: by whom, at which of its clock values, where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The accessing thread.
    pub thread: ThreadId,
    /// The thread's own clock component at the access.
    pub clock: u64,
    /// Where it happened.
    pub site: Option<Site>,
    /// Whether it wrote.
    pub write: bool,
}

impl Access {
    /// Whether this access happened before a thread whose clock is `now`.
    fn before(&self, now: &VectorClock) -> bool {
        self.clock <= now.get(self.thread)
    }
}

/// A data race: `earlier` and `later` conflict (one writes) and neither happened before the
/// other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Race {
    /// The access that came first in this run.
    pub earlier: Access,
    /// The access that found the race.
    pub later: Access,
}

/// The finding for a race on the variable `var`.
pub fn race_finding(var: &str, race: &Race, name_of: impl Fn(ThreadId) -> String) -> Finding {
    let describe = |write: bool| if write { "wrote" } else { "read" };
    let earlier = name_of(race.earlier.thread);
    let later = name_of(race.later.thread);
    let mut finding = Finding::new(
        FindingKind::DataRace,
        format!(
            "data race on `{var}`: thread `{later}` {} it while thread `{earlier}` {} it, unordered",
            describe(race.later.write),
            describe(race.earlier.write)
        ),
    );
    finding.reason = "neither access happens before the other through a lock, spawn, join or \
                      notify, and at least one writes: the result depends on the schedule"
        .to_owned();
    finding.threads = vec![earlier.clone(), later.clone()];
    finding.vars = vec![
        VarAccess {
            var: var.to_owned(),
            thread: earlier,
            write: race.earlier.write,
            site: race.earlier.site.clone(),
        },
        VarAccess {
            var: var.to_owned(),
            thread: later,
            write: race.later.write,
            site: race.later.site.clone(),
        },
    ];
    finding.site = race.later.site.clone();
    finding.help = Some(
        "protect every access with the same lock, or order them in a way lockscan sees: a \
         spawn, a join, a lockscan lock or condition variable (`std::thread::scope` waits for \
         its threads at its end without a join lockscan sees: join them explicitly, or use \
         `lockscan::thread::scope`)"
            .to_owned(),
    );
    finding
}

/// The name std gives the main thread, the one thread nothing spawned: live, and in a trace
/// lockscan recorded, every other thread should have a spawn lockscan saw.
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) const MAIN_THREAD: &str = "main";

/// Adds to `finding`'s reason that `threads` (names) were started in a way lockscan did not
/// see, so that their spawns and joins ordered nothing, and what to do about it. The same words
/// for races and lock-order cycles, live and offline.
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) fn note_unseen_spawns(finding: &mut Finding, threads: &[String]) {
    let listed = format!("`{}`", threads.join("`, `"));
    let note = match threads {
        [] => return,
        [_] => format!(
            "; thread {listed} was started in a way lockscan does not see, so its spawn and \
             join order nothing here: if they order these operations, start it with \
             `lockscan::thread` (lockscan sees `std::thread`'s on Linux with glibc only)"
        ),
        _ => format!(
            "; threads {listed} were started in ways lockscan does not see, so their spawns and \
             joins order nothing here: if one of them orders these operations, start that \
             thread with `lockscan::thread` (lockscan sees `std::thread`'s on Linux with glibc \
             only)"
        ),
    };
    finding.reason.push_str(&note);
}

/// What a variable remembers about its accesses: the latest access of each thread at each
/// site, reading and writing apart. That is enough to find every racy pair of sites under
/// happens-before: accesses of one thread at one site are ordered by the thread's program
/// order, so an earlier access there happens before a later one exactly when the latest of
/// them does. (FastTrack's single last-write epoch loses earlier unordered accesses once a
/// later write replaces it.) The list grows with the distinct (thread, site, kind) triples that
/// touch the variable, not with the number of accesses.
#[derive(Clone, Debug, Default)]
pub struct VarState {
    accesses: Vec<Access>,
}

impl VarState {
    /// An untouched variable.
    pub const fn new() -> Self {
        VarState {
            accesses: Vec::new(),
        }
    }

    /// Records a read by `thread` whose clock is `now`; returns the races with the writes it
    /// is concurrent with, one per earlier (thread, site).
    pub fn read(&mut self, thread: ThreadId, now: &VectorClock, site: Option<Site>) -> Vec<Race> {
        self.access(thread, now, site, false)
    }

    /// Records a write by `thread` whose clock is `now`; returns the races with the accesses it
    /// is concurrent with, one per earlier (thread, site, kind).
    pub fn write(&mut self, thread: ThreadId, now: &VectorClock, site: Option<Site>) -> Vec<Race> {
        self.access(thread, now, site, true)
    }

    fn access(
        &mut self,
        thread: ThreadId,
        now: &VectorClock,
        site: Option<Site>,
        write: bool,
    ) -> Vec<Race> {
        let access = Access {
            thread,
            clock: now.get(thread),
            site,
            write,
        };
        let mine = self.accesses.iter().position(|earlier| {
            earlier.thread == thread && earlier.write == write && earlier.site == access.site
        });
        // The same access in the same epoch (nothing synchronized since): every pair of sites
        // it could race in was reported the first time (FastTrack's fast path).
        if mine.is_some_and(|index| self.accesses[index].clock == access.clock) {
            return Vec::new();
        }
        let mut races = Vec::new();
        for earlier in &self.accesses {
            if earlier.thread == thread {
                continue;
            }
            if (write || earlier.write) && !earlier.before(now) {
                races.push(Race {
                    earlier: earlier.clone(),
                    later: access.clone(),
                });
            }
        }
        match mine {
            Some(index) => self.accesses[index] = access,
            None => self.accesses.push(access),
        }
        races
    }
}

/// Happens-before and races over a replayed trace: thread clocks, lock release clocks, and the
/// state of every variable.
///
/// ```
/// use lockscan::analysis::RaceEngine;
/// use lockscan::{LockId, ThreadId, VarId};
///
/// let (main, worker) = (ThreadId(1), ThreadId(2));
/// let (balance, lock) = (VarId(1), LockId(1));
/// let mut engine = RaceEngine::new();
/// engine.spawn(main, worker);
/// // Both threads update the balance under the lock: ordered, no race.
/// for thread in [worker, main] {
///     engine.acquire(thread, lock);
///     assert!(engine.read(thread, balance, None).is_empty());
///     assert!(engine.write(thread, balance, None).is_empty());
///     engine.release(thread, lock);
/// }
/// // The worker writes again without the lock: it races with main's read and main's write.
/// let races = engine.write(worker, balance, None);
/// assert_eq!(races.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct RaceEngine {
    threads: FxHashMap<ThreadId, VectorClock>,
    locks: FxHashMap<LockId, VectorClock>,
    /// The clock each thread had when it finished, for joins.
    finished: FxHashMap<ThreadId, VectorClock>,
    vars: FxHashMap<VarId, VarState>,
}

impl RaceEngine {
    /// An engine that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn clock(&mut self, thread: ThreadId) -> &mut VectorClock {
        clock_of(&mut self.threads, thread)
    }

    /// `parent` started `child`: everything the parent did so far happens before the child.
    pub fn spawn(&mut self, parent: ThreadId, child: ThreadId) {
        let mut inherited = self.clock(parent).clone();
        self.clock(parent).tick(parent);
        inherited.set(child, inherited.get(child).max(1));
        self.clock(child).join(&inherited);
    }

    /// `parent` waited for `child` to finish.
    pub fn join(&mut self, parent: ThreadId, child: ThreadId) {
        // A joined thread is over: its clock moves into the joiner's, so a program that runs
        // thousands of short threads keeps no clock per finished thread.
        let child_clock = self
            .finished
            .remove(&child)
            .or_else(|| self.threads.remove(&child))
            .unwrap_or_default();
        self.clock(parent).join(&child_clock);
    }

    /// `thread` ends (its last event was seen); later joins receive its clock.
    pub fn finish(&mut self, thread: ThreadId) {
        let clock = self.clock(thread).clone();
        self.finished.insert(thread, clock);
    }

    // The per-event methods below borrow the thread's clock in place rather than cloning it:
    // a clone allocates, and these run for every lock and variable event of a trace.

    /// `thread` acquired `lock`: it learns what the last releaser knew.
    pub fn acquire(&mut self, thread: ThreadId, lock: LockId) {
        if let Some(released) = self.locks.get(&lock) {
            clock_of(&mut self.threads, thread).join(released);
        }
    }

    /// `thread` released `lock`.
    pub fn release(&mut self, thread: ThreadId, lock: LockId) {
        let clock = clock_of(&mut self.threads, thread);
        match self.locks.get_mut(&lock) {
            Some(released) => released.join(clock),
            None => {
                self.locks.insert(lock, clock.clone());
            }
        }
        clock.tick(thread);
    }

    /// A read of `var` by `thread`.
    pub fn read(&mut self, thread: ThreadId, var: VarId, site: Option<Site>) -> Vec<Race> {
        let now = clock_of(&mut self.threads, thread);
        self.vars.entry(var).or_default().read(thread, now, site)
    }

    /// A write of `var` by `thread`.
    pub fn write(&mut self, thread: ThreadId, var: VarId, site: Option<Site>) -> Vec<Race> {
        let now = clock_of(&mut self.threads, thread);
        self.vars.entry(var).or_default().write(thread, now, site)
    }
}

/// The clock of `thread`, created knowing only the thread's own first step.
fn clock_of(threads: &mut FxHashMap<ThreadId, VectorClock>, thread: ThreadId) -> &mut VectorClock {
    threads.entry(thread).or_insert_with(|| {
        let mut clock = VectorClock::new();
        clock.set(thread, 1);
        clock
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: ThreadId = ThreadId(1);
    const T2: ThreadId = ThreadId(2);
    const T3: ThreadId = ThreadId(3);
    const X: VarId = VarId(1);
    const M: LockId = LockId(1);
    const N: LockId = LockId(2);

    #[test]
    fn unprotected_increment_in_parent_and_child_races() {
        let mut e = RaceEngine::new();
        e.spawn(T1, T2);
        assert!(e.read(T1, X, None).is_empty());
        assert!(e.write(T1, X, None).is_empty());
        assert_eq!(
            e.read(T2, X, None).len(),
            1,
            "the child's read races the parent's write"
        );
    }

    #[test]
    fn writes_under_one_lock_do_not_race() {
        let mut e = RaceEngine::new();
        e.spawn(T1, T2);
        for t in [T1, T2, T1] {
            e.acquire(t, M);
            assert!(e.write(t, X, None).is_empty());
            e.release(t, M);
        }
    }

    #[test]
    fn writes_under_different_locks_race() {
        let mut e = RaceEngine::new();
        e.spawn(T1, T2);
        e.acquire(T1, M);
        e.write(T1, X, None);
        e.release(T1, M);
        e.acquire(T2, N);
        assert_eq!(e.write(T2, X, None).len(), 1);
        e.release(T2, N);
    }

    #[test]
    fn spawn_and_join_order_accesses() {
        let mut e = RaceEngine::new();
        e.write(T1, X, None);
        e.spawn(T1, T2);
        assert!(e.write(T2, X, None).is_empty(), "after the spawn");
        e.finish(T2);
        e.join(T1, T2);
        assert!(e.write(T1, X, None).is_empty(), "after the join");
    }

    #[test]
    fn a_hand_off_through_a_lock_protected_flag_does_not_race() {
        // T1 writes X unprotected, then sets a flag under M; T2 sees the flag under M and then
        // writes X unprotected. A lockset algorithm warns; happens-before does not.
        let mut e = RaceEngine::new();
        let flag = VarId(2);
        e.spawn(T1, T2);
        e.write(T1, X, None);
        e.acquire(T1, M);
        e.write(T1, flag, None);
        e.release(T1, M);
        e.acquire(T2, M);
        assert!(e.read(T2, flag, None).is_empty());
        e.release(T2, M);
        assert!(e.write(T2, X, None).is_empty());
    }

    #[test]
    fn read_shared_then_a_write_races() {
        let mut e = RaceEngine::new();
        e.write(T1, X, None);
        e.spawn(T1, T2);
        e.spawn(T1, T3);
        assert!(e.read(T2, X, None).is_empty());
        assert!(
            e.read(T3, X, None).is_empty(),
            "concurrent reads do not race"
        );
        let races = e.write(T2, X, None);
        assert_eq!(races.len(), 1, "T3's read is concurrent with T2's write");
        assert_eq!(races[0].earlier.thread, T3);
        assert!(!races[0].earlier.write && races[0].later.write);
    }

    #[test]
    fn write_write_races_name_both_sites() {
        let mut e = RaceEngine::new();
        e.spawn(T1, T2);
        e.write(T1, X, Some(Site::from("a.rs:1:1")));
        let race = e.write(T2, X, Some(Site::from("b.rs:2:2"))).remove(0);
        assert_eq!(race.earlier.site, Some(Site::from("a.rs:1:1")));
        assert_eq!(race.later.site, Some(Site::from("b.rs:2:2")));
    }

    /// Regression: with FastTrack's single last-write epoch, T1's write at site 1 was lost
    /// once T2's own write (ordered after nothing) replaced it, and T2's later read at site 3
    /// was not reported against it. Every racy pair of sites is reported.
    #[test]
    fn every_racy_pair_of_sites_is_found_after_a_later_write() {
        let mut e = RaceEngine::new();
        e.spawn(T1, T2);
        let at = |n: u32| Some(Site::from(format!("s.rs:{n}:1").as_str()));
        assert!(e.write(T1, X, at(1)).is_empty());
        assert_eq!(e.read(T2, X, at(2)).len(), 1, "(1, 2)");
        assert_eq!(e.write(T2, X, at(3)).len(), 1, "(1, 3)");
        let races = e.read(T2, X, at(4));
        assert_eq!(
            races.len(),
            1,
            "(1, 4): T1's write is still unordered with T2"
        );
        assert_eq!(races[0].earlier.site, at(1));
        // The same thread and site again, in the same epoch: nothing new.
        assert!(e.read(T2, X, at(4)).is_empty());
    }
}
