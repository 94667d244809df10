//! The uninstrumented lock primitives lockscan's locks are built on, with parking_lot 0.12's API.
//!
//! These types record nothing: they are plain locks, built directly on `parking_lot_core` (the
//! thread-parking layer) and `lock_api` (the guard types), so that lockscan does not depend on
//! the `parking_lot` crate itself. The names and signatures are parking_lot 0.12's: [`Mutex`],
//! [`FairMutex`], [`RwLock`], [`ReentrantMutex`] and their guards are `lock_api` types over the
//! raw locks [`RawMutex`], [`RawFairMutex`] and [`RawRwLock`] and the thread identity
//! [`RawThreadId`]; [`Condvar`] works with [`MutexGuard`]; [`Once`] runs an initialization once.
//!
//! The algorithms are simpler than parking_lot's where its optimizations are not needed for
//! correctness: an unlocked read-write lock wakes every waiter instead of handing the lock over,
//! a notified condition variable wakes its waiters instead of requeueing them onto the mutex.
//! Each type's documentation says what it gives up, mostly fairness under contention.
//!
//! ```
//! use lockscan::raw::{Condvar, Mutex};
//!
//! let pair = (Mutex::new(false), Condvar::new());
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         *pair.0.lock() = true;
//!         pair.1.notify_one();
//!     });
//!     let mut ready = pair.0.lock();
//!     pair.1.wait_while(&mut ready, |ready| !*ready);
//! });
//! ```

mod condvar;
mod mutex;
mod once;
mod parking;
mod rwlock;
mod thread_id;

use std::time::{Duration, Instant};

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{RawFairMutex, RawMutex};
pub use once::{Once, OnceState};
pub use rwlock::RawRwLock;
pub use thread_id::RawThreadId;

/// A mutual exclusion lock, parking_lot's `Mutex`: `lock` returns a guard, no poisoning.
pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;

/// The guard of a locked [`Mutex`]: the mutex is unlocked when it is dropped.
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;

/// A [`MutexGuard`] narrowed by `MutexGuard::map` to a part of the protected data.
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawMutex, T>;

/// A [`Mutex`] whose guards unlock fairly: an unlock hands the lock to a waiting thread, if any.
pub type FairMutex<T> = lock_api::Mutex<RawFairMutex, T>;

/// The guard of a locked [`FairMutex`].
pub type FairMutexGuard<'a, T> = lock_api::MutexGuard<'a, RawFairMutex, T>;

/// A [`FairMutexGuard`] narrowed by `FairMutexGuard::map` to a part of the protected data.
pub type MappedFairMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawFairMutex, T>;

/// A reader-writer lock, parking_lot's `RwLock`: many readers or one writer, writer-preferring.
pub type RwLock<T> = lock_api::RwLock<RawRwLock, T>;

/// The guard of a shared (read) lock on an [`RwLock`].
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;

/// The guard of an exclusive (write) lock on an [`RwLock`].
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;

/// The guard of an upgradable read lock on an [`RwLock`]: shared access that can become
/// exclusive, one such guard at a time.
pub type RwLockUpgradableReadGuard<'a, T> = lock_api::RwLockUpgradableReadGuard<'a, RawRwLock, T>;

/// An [`RwLockReadGuard`] narrowed by `map` to a part of the protected data.
pub type MappedRwLockReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, RawRwLock, T>;

/// An [`RwLockWriteGuard`] narrowed by `map` to a part of the protected data.
pub type MappedRwLockWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, RawRwLock, T>;

/// A mutex that the thread holding it can lock again, parking_lot's `ReentrantMutex`; its guards
/// give shared access only.
pub type ReentrantMutex<T> = lock_api::ReentrantMutex<RawMutex, RawThreadId, T>;

/// The guard of a locked [`ReentrantMutex`].
pub type ReentrantMutexGuard<'a, T> = lock_api::ReentrantMutexGuard<'a, RawMutex, RawThreadId, T>;

/// A [`ReentrantMutexGuard`] narrowed by `map` to a part of the protected data.
pub type MappedReentrantMutexGuard<'a, T> =
    lock_api::MappedReentrantMutexGuard<'a, RawMutex, RawThreadId, T>;

/// Creates a [`Mutex`] in a `const` context, like `parking_lot::const_mutex`.
pub const fn const_mutex<T>(val: T) -> Mutex<T> {
    Mutex::const_new(<RawMutex as lock_api::RawMutex>::INIT, val)
}

/// Creates a [`FairMutex`] in a `const` context, like `parking_lot::const_fair_mutex`.
pub const fn const_fair_mutex<T>(val: T) -> FairMutex<T> {
    FairMutex::const_new(<RawFairMutex as lock_api::RawMutex>::INIT, val)
}

/// Creates an [`RwLock`] in a `const` context, like `parking_lot::const_rwlock`.
pub const fn const_rwlock<T>(val: T) -> RwLock<T> {
    RwLock::const_new(<RawRwLock as lock_api::RawRwLock>::INIT, val)
}

/// Creates a [`ReentrantMutex`] in a `const` context, like `parking_lot::const_reentrant_mutex`.
pub const fn const_reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
    ReentrantMutex::const_new(
        <RawMutex as lock_api::RawMutex>::INIT,
        <RawThreadId as lock_api::GetThreadId>::INIT,
        val,
    )
}

/// The deadline `timeout` from now; `None`, waiting forever, when it is beyond the clock's range
/// (as parking_lot does with `Duration::MAX`).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Waits until `done` returns true, for at most a minute: the tests' guard against hanging.
#[cfg(test)]
fn wait_until_true(what: &str, mut done: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static GLOBAL_MUTEX: Mutex<u32> = const_mutex(1);
    static GLOBAL_FAIR: FairMutex<u32> = const_fair_mutex(2);
    static GLOBAL_RWLOCK: RwLock<u32> = const_rwlock(3);
    static GLOBAL_REENTRANT: ReentrantMutex<u32> = const_reentrant_mutex(4);

    #[test]
    fn const_constructors_make_usable_statics() {
        *GLOBAL_MUTEX.lock() += 10;
        *GLOBAL_FAIR.lock() += 10;
        *GLOBAL_RWLOCK.write() += 10;
        assert_eq!(*GLOBAL_MUTEX.lock(), 11);
        assert_eq!(*GLOBAL_FAIR.lock(), 12);
        assert_eq!(*GLOBAL_RWLOCK.read(), 13);
        let outer = GLOBAL_REENTRANT.lock();
        let inner = GLOBAL_REENTRANT.lock();
        assert_eq!(*outer + *inner, 8);
    }

    #[test]
    fn guards_map() {
        let mutex = Mutex::new((1, 2));
        let mut second = MutexGuard::map(mutex.lock(), |pair| &mut pair.1);
        *second += 1;
        drop(second);
        assert_eq!(*mutex.lock(), (1, 3));

        let rwlock = RwLock::new((1, 2));
        let first = RwLockReadGuard::map(rwlock.read(), |pair| &pair.0);
        assert_eq!(*first, 1);
        drop(first);
        let mut first = RwLockWriteGuard::map(rwlock.write(), |pair| &mut pair.0);
        *first = 5;
        drop(first);
        assert_eq!(*rwlock.read(), (5, 2));
    }

    #[test]
    fn deadline_beyond_the_clock_waits_forever() {
        assert!(deadline_after(Duration::MAX).is_none());
        assert!(deadline_after(Duration::from_secs(1)).is_some());
    }
}
