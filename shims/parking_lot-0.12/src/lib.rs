//! lockscan's stand-in for [parking_lot](https://docs.rs/parking_lot/0.12) 0.12: the same
//! public API — the same type aliases over [`lock_api`], the same raw locks, `Condvar`, `Once`,
//! the `deadlock` module and the same features — with every lock instrumented by
//! [lockscan](../lockscan/index.html), so that `[patch.crates-io]` checks every crate of a
//! dependency tree that uses parking_lot 0.12 without editing any of them.
//!
//! Detection is lockscan's: on in builds with debug assertions (tests), off in release builds,
//! where these are uninstrumented locks. Findings follow lockscan's policy (by default a
//! test panics at the acquisition that closes a lock-order cycle; `LOCKSCAN_ON_FINDING=warn`
//! reports and goes on). The locks are made from `const`s, so a lock is named after the site
//! of its first acquisition; lock_api passes the caller's location through, so the sites in
//! reports are the code that took the locks (for a `ReentrantMutex`, a line of lock_api).
//!
//! To check that the stand-in is the one in use: `cargo tree -i parking_lot@0.12.5
//! --all-features` shows it with its path (`--all-features`, or your tests' `--features`, in
//! case parking_lot is an optional dependency), and [`lockscan_is_active`] returns true in a
//! test that links it. A parking_lot from a registry
//! elsewhere in the tree (0.13) is not instrumented: a test process says so once on stderr;
//! patch `shims/parking_lot-0.13` in beside this one (the README's recipe).

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod condvar;
mod raw_mutex;
mod raw_rwlock;

#[cfg(feature = "deadlock_detection")]
pub mod deadlock;

#[cfg(all(feature = "send_guard", feature = "deadlock_detection"))]
compile_error!("the `send_guard` and `deadlock_detection` features cannot be used together");
#[cfg(feature = "send_guard")]
type GuardMarker = lock_api::GuardSend;
#[cfg(not(feature = "send_guard"))]
type GuardMarker = lock_api::GuardNoSend;

pub use ::lock_api;
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lockscan::raw::{Once, OnceState, RawThreadId};
pub use raw_mutex::{RawFairMutex, RawMutex};
pub use raw_rwlock::RawRwLock;

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

/// A mutual exclusion primitive useful for protecting shared data (instrumented).
pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;
/// An RAII implementation of a "scoped lock" of a mutex.
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;
/// An RAII mutex guard returned by `MutexGuard::map`.
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawMutex, T>;

/// Creates a new mutex in an unlocked state ready for use.
pub const fn const_mutex<T>(val: T) -> Mutex<T> {
    Mutex::const_new(<RawMutex as lock_api::RawMutex>::INIT, val)
}

/// A mutual exclusive primitive that is always fair (instrumented).
pub type FairMutex<T> = lock_api::Mutex<RawFairMutex, T>;
/// An RAII implementation of a "scoped lock" of a fair mutex.
pub type FairMutexGuard<'a, T> = lock_api::MutexGuard<'a, RawFairMutex, T>;
/// An RAII fair mutex guard returned by `FairMutexGuard::map`.
pub type MappedFairMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawFairMutex, T>;

/// Creates a new fair mutex in an unlocked state ready for use.
pub const fn const_fair_mutex<T>(val: T) -> FairMutex<T> {
    FairMutex::const_new(<RawFairMutex as lock_api::RawMutex>::INIT, val)
}

/// A reader-writer lock (instrumented).
pub type RwLock<T> = lock_api::RwLock<RawRwLock, T>;
/// RAII structure used to release the shared read access of a lock when dropped.
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;
/// RAII structure used to release the exclusive write access of a lock when dropped.
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;
/// An RAII read lock guard returned by `RwLockReadGuard::map`.
pub type MappedRwLockReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, RawRwLock, T>;
/// An RAII write lock guard returned by `RwLockWriteGuard::map`.
pub type MappedRwLockWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, RawRwLock, T>;
/// RAII structure used to release the upgradable read access of a lock when dropped.
pub type RwLockUpgradableReadGuard<'a, T> = lock_api::RwLockUpgradableReadGuard<'a, RawRwLock, T>;

/// Creates a new instance of an `RwLock<T>` which is unlocked.
pub const fn const_rwlock<T>(val: T) -> RwLock<T> {
    RwLock::const_new(<RawRwLock as lock_api::RawRwLock>::INIT, val)
}

/// A mutex which can be recursively locked by a single thread (instrumented).
pub type ReentrantMutex<T> = lock_api::ReentrantMutex<RawMutex, RawThreadId, T>;
/// An RAII implementation of a "scoped lock" of a reentrant mutex.
pub type ReentrantMutexGuard<'a, T> = lock_api::ReentrantMutexGuard<'a, RawMutex, RawThreadId, T>;
/// An RAII mutex guard returned by `ReentrantMutexGuard::map`.
pub type MappedReentrantMutexGuard<'a, T> =
    lock_api::MappedReentrantMutexGuard<'a, RawMutex, RawThreadId, T>;

/// Creates a new reentrant mutex in an unlocked state ready for use.
pub const fn const_reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
    ReentrantMutex::const_new(
        <RawMutex as lock_api::RawMutex>::INIT,
        <RawThreadId as lock_api::GetThreadId>::INIT,
        val,
    )
}
