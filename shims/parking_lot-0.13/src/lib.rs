//! lockscan's stand-in for [parking_lot](https://docs.rs/parking_lot/0.13) 0.13: the same
//! public API — the same type aliases over [`lock_api`] 0.5, the same raw locks (including the
//! recursive read-write lock and the raw condition variable), `Once`, the `deadlock` module and
//! the same features — with every lock instrumented by [lockscan](../lockscan/index.html), so
//! that `[patch.crates-io]` checks every crate of a dependency tree that uses parking_lot 0.13
//! without editing any of them. Its sibling `shims/parking_lot-0.12` does the same for 0.12;
//! patched in together, both lines report into one lockscan, so a cycle through a lock of each
//! is found too.
//!
//! Detection is lockscan's: on in builds with debug assertions (tests), off in release builds,
//! where these are uninstrumented locks. Findings follow lockscan's policy (by default a
//! test panics at the acquisition that closes a lock-order cycle; `LOCKSCAN_ON_FINDING=warn`
//! reports and goes on). The locks are made from `const`s, so a lock is named after the site
//! of its first acquisition; lock_api passes the caller's location through, so the sites in
//! reports are the code that took the locks (for a `ReentrantMutex` and a `Condvar`'s waits, a
//! line of lock_api, whose methods there are not `#[track_caller]`).
//!
//! lock_api 0.5 aborts the process when an upgrade inside `with_upgraded` unwinds, and a
//! finding with the default policy unwinds the acquisition that closes a cycle: there,
//! `LOCKSCAN_ON_FINDING=warn` reports it and goes on. (An actual deadlock unwinds whatever the
//! policy.)
//!
//! To check that the stand-in is the one in use: `cargo tree -i parking_lot@0.13.0
//! --all-features` shows it with its path (`--all-features`, or your tests' `--features`, in
//! case parking_lot is an optional dependency), and [`lockscan_is_active`] returns true in a
//! test that links it. A parking_lot from a registry elsewhere in the tree is not
//! instrumented: a test process says so once on stderr.

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

#[macro_use]
mod forward;
mod raw_condvar;
mod raw_mutex;
mod raw_rwlock;

/// parking_lot's deadlock detection API, answered by lockscan: the same module as the 0.12
/// stand-in's (`check_deadlock` and `DeadlockedThread` did not change in 0.13).
#[cfg(feature = "deadlock_detection")]
#[path = "../../parking_lot-0.12/src/deadlock.rs"]
pub mod deadlock;

lockscan::guard_marker!(lock_api);

pub use ::lock_api;
pub use lock_api::WaitTimeoutResult;
pub use lockscan::raw::{Once, OnceState};
pub use raw_condvar::RawCondvar;
pub use raw_mutex::{RawFairMutex, RawMutex, RawThreadId};
pub use raw_rwlock::{RawRwLock, RawRwLockRecursive};

#[cfg(feature = "arc_lock")]
pub use self::lock_api::{
    ArcMutexGuard, ArcReentrantMutexGuard, ArcRwLockReadGuard, ArcRwLockUpgradableReadGuard,
    ArcRwLockWriteGuard,
};

/// Whether this stand-in is linked and lockscan's detection is on in this build: a test can
/// assert it to make sure the `[patch]` took effect.
pub const fn lockscan_is_active() -> bool {
    lockscan::is_active()
}

lockscan::lock_api_aliases!(types only: lock_api; RawMutex, RawFairMutex, RawRwLock, RawThreadId);

/// A reader-writer lock whose reads may recurse: a read blocks only behind a writer that holds
/// the lock, not one that waits.
pub type RecursiveRwLock<T> = lock_api::RwLock<RawRwLockRecursive, T>;
/// The guard of a shared (read) lock on a [`RecursiveRwLock`].
pub type RecursiveRwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLockRecursive, T>;
/// The guard of an exclusive (write) lock on a [`RecursiveRwLock`].
pub type RecursiveRwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLockRecursive, T>;
/// The guard of an upgradable read lock on a [`RecursiveRwLock`].
pub type RecursiveRwLockUpgradableReadGuard<'a, T> =
    lock_api::RwLockUpgradableReadGuard<'a, RawRwLockRecursive, T>;
/// A [`RecursiveRwLockReadGuard`] narrowed by `map` to a part of the protected data.
pub type MappedRecursiveRwLockReadGuard<'a, T> =
    lock_api::MappedRwLockReadGuard<'a, RawRwLockRecursive, T>;
/// A [`RecursiveRwLockWriteGuard`] narrowed by `map` to a part of the protected data.
pub type MappedRecursiveRwLockWriteGuard<'a, T> =
    lock_api::MappedRwLockWriteGuard<'a, RawRwLockRecursive, T>;

/// A condition variable for [`MutexGuard`]s: a wait records the release and re-acquisition of
/// its mutex, and a wait while holding other locks is reported.
pub type Condvar = lock_api::Condvar<RawCondvar>;

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    /// lock_api 0.5 hands an upgradable hold to `upgrade` and forgets its guard: an upgrade
    /// that unwinds (here at lockscan's report of the lock-order cycle it closes) must release
    /// the hold itself, or the lock stays taken for good.
    #[test]
    fn an_upgrade_that_unwinds_releases_the_upgradable_hold() {
        let (lock, other) = (RwLock::new(0), Mutex::new(0));
        // `lock` before `other`...
        drop((lock.write(), other.lock()));
        // ...and `other` (a try: no edge into it) before the upgrade's exclusive `lock`.
        let upgradable = lock.upgradable_read();
        let held = other.try_lock().unwrap();
        let upgraded = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockUpgradableReadGuard::upgrade(upgradable));
        }));
        drop(held);
        assert_eq!(
            upgraded.is_err(),
            lockscan_is_active(),
            "the cycle is reported"
        );
        assert!(!lock.is_locked(), "the upgradable hold is released");
        *lock.write() += 1;
    }

    /// A recursive lock's second read, which a plain lock would report, is no finding, and its
    /// reads pass a writer that waits.
    #[test]
    fn a_recursive_lock_reads_again() {
        let lock = std::sync::Arc::new(RecursiveRwLock::new(1));
        let first = lock.read();
        let writer = {
            let lock = lock.clone();
            std::thread::spawn(move || *lock.write() += 1)
        };
        let second = lock.read();
        assert_eq!(*first + *second, 2);
        drop((first, second));
        writer.join().unwrap();
        assert_eq!(*lock.read(), 2);
    }

    /// parking_lot 0.13's answer, lock_api 0.5's: after a timeout the condition is checked once
    /// more, and a false one is no time-out (0.12 answered timed out).
    #[test]
    fn condvar_wait_while_for_checks_the_condition_again_after_the_timeout() {
        let (mutex, condvar) = (Mutex::new(()), Condvar::new());
        let mut guard = mutex.lock();
        let timeout = std::time::Duration::from_millis(5);
        // Holds until the timeout has passed: only a check after the timeout sees it false.
        let until = std::time::Instant::now() + timeout;
        let result =
            condvar.wait_while_for(&mut guard, |_| std::time::Instant::now() < until, timeout);
        assert!(!result.timed_out(), "the condition is false by now");
    }

    #[test]
    fn a_condvar_says_whom_it_woke() {
        let pair = std::sync::Arc::new((Mutex::new(false), Condvar::new()));
        assert!(!pair.1.notify_one());
        let waiter = {
            let pair = pair.clone();
            std::thread::spawn(move || {
                let mut ready = pair.0.lock();
                pair.1.wait_while(&mut ready, |ready| !*ready);
            })
        };
        let mut woken = 0;
        while !waiter.is_finished() {
            let mut ready = pair.0.lock();
            *ready = true;
            woken += pair.1.notify_all();
            drop(ready);
            std::thread::yield_now();
        }
        waiter.join().unwrap();
        assert!(woken <= 1, "one waiter, woken once at most: {woken}");
        let timed_out = pair
            .1
            .wait_for(&mut pair.0.lock(), std::time::Duration::from_millis(1));
        assert!(timed_out.timed_out());
    }
}
