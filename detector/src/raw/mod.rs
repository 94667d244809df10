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
#[doc(hidden)]
pub use condvar::{OnTimeout, wait_while};
pub(crate) use condvar::{condvar_api, condvar_impls, raw_mutex, wait_while_parking_lot};
pub use mutex::{RawFairMutex, RawMutex};
pub use once::{Once, OnceState};
pub use rwlock::RawRwLock;
pub use thread_id::RawThreadId;

crate::lock_api_aliases!(lock_api; RawMutex, RawFairMutex, RawRwLock, RawThreadId);

/// The deadline `timeout` from now; `None`, waiting forever, when it is beyond the clock's range
/// (as parking_lot does with `Duration::MAX`). Every timed wait of lockscan's locks and
/// condition variables computes its deadline here.
#[doc(hidden)]
pub fn deadline_after(timeout: Duration) -> Option<Instant> {
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
