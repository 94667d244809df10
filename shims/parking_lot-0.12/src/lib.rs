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

#[cfg(feature = "deadlock_detection")]
pub mod deadlock;

lockscan::guard_marker!(lock_api);

pub use ::lock_api;
pub use lockscan::instrument::Condvar;
pub use lockscan::raw::{Once, OnceState, RawThreadId, WaitTimeoutResult};

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

/// Raw mutex type backed by the parking lot, instrumented by lockscan.
pub type RawMutex = lockscan::instrument::RawMutex<GuardMarker>;
/// Raw fair mutex type backed by the parking lot, instrumented by lockscan: every unlock is
/// fair.
pub type RawFairMutex = lockscan::instrument::RawFairMutex<GuardMarker>;
/// Raw reader-writer lock type backed by the parking lot, instrumented by lockscan.
pub type RawRwLock = lockscan::instrument::RawRwLock<GuardMarker>;

lockscan::lock_api_aliases!(lock_api; RawMutex, RawFairMutex, RawRwLock, RawThreadId);

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Condvar, Mutex};

    #[test]
    fn condvar_wait_while_for_times_out_without_checking_the_condition_again() {
        let (mutex, condvar) = (Mutex::new(()), Condvar::new());
        let mut guard = mutex.lock();
        let timeout = Duration::from_millis(5);
        // Holds until the timeout has passed: only a check after the timeout sees it false.
        let until = Instant::now() + timeout;
        let result = condvar.wait_while_for(&mut guard, |_| Instant::now() < until, timeout);
        assert!(
            result.timed_out(),
            "parking_lot answers timed out after a timeout"
        );
    }
}
