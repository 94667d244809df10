//! The instrumented raw reader-writer locks behind lock_api 0.5's traits: newtypes over
//! `lockscan::instrument::RawRwLock`, whose trait methods forward to the core. parking_lot 0.13
//! has one type for both kinds, `RawRwLock<RECURSIVE>`: a recursive one lets a read in while
//! other reads hold the lock even when a writer waits (the core's recursive reads), so a thread
//! may read it again.

use std::mem;
use std::time::{Duration, Instant};

use crate::GuardMarker;

/// Raw reader-writer lock type backed by the parking lot, instrumented by lockscan.
///
/// If `RECURSIVE` is `true`, readers are prioritized over writers: acquiring a read lock does
/// not block unless a writer holds the lock. This permits recursive read locking, but may
/// starve writers.
#[derive(Debug)]
pub struct RawRwLock<const RECURSIVE: bool = false>(lockscan::instrument::RawRwLock);

/// Raw reader-writer lock which permits recursive read locking (instrumented).
pub type RawRwLockRecursive = RawRwLock<true>;

/// Releases an upgradable hold if dropped: lock_api 0.5 hands the hold's guard to `upgrade`,
/// which must release it if it unwinds (a reported cycle or deadlock).
struct UnlockUpgradableOnUnwind<'a>(&'a lockscan::instrument::RawRwLock);

impl Drop for UnlockUpgradableOnUnwind<'_> {
    fn drop(&mut self) {
        // SAFETY: made only while this thread holds the lock upgradable, and forgotten once the
        // hold changed.
        unsafe { self.0.unlock_upgradable() }
    }
}

// SAFETY: the core acquires and releases a correct raw reader-writer lock and records; a
// report that unwinds does so before an acquisition, or with the hold it was given still held
// (and released by lock_api's guard), except in `upgrade`, which releases it. The same holds
// for every trait below.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLock for RawRwLock<RECURSIVE> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock(lockscan::instrument::RawRwLock::new());
    type SharedGuard = GuardMarker;
    type ExclusiveGuard = GuardMarker;
    forward_guarded! { 0;
        unsafe fn unlock_shared(guard);
        #[track_caller] fn lock_exclusive() -> Guard;
        #[track_caller] fn try_lock_exclusive() -> Option<Guard>;
        unsafe fn unlock_exclusive(guard);
    }

    #[track_caller]
    #[inline]
    fn lock_shared(&self) -> GuardMarker {
        if RECURSIVE {
            self.0.lock_shared_recursive();
        } else {
            self.0.lock_shared();
        }
        GuardMarker::new()
    }

    #[track_caller]
    #[inline]
    fn try_lock_shared(&self) -> Option<GuardMarker> {
        let taken = if RECURSIVE {
            self.0.try_lock_shared_recursive()
        } else {
            self.0.try_lock_shared()
        };
        taken.then(GuardMarker::new)
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.0.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.0.is_locked_exclusive()
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockFair for RawRwLock<RECURSIVE> {
    forward_guarded! { 0;
        unsafe fn unlock_shared_fair(guard);
        unsafe fn unlock_exclusive_fair(guard);
        #[track_caller] unsafe fn bump_shared(&mut guard);
        #[track_caller] unsafe fn bump_exclusive(&mut guard);
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockDowngrade for RawRwLock<RECURSIVE> {
    forward_guarded! { 0;
        #[track_caller] unsafe fn downgrade(guard) -> Guard;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockTimed for RawRwLock<RECURSIVE> {
    type Duration = Duration;
    type Instant = Instant;
    forward_guarded! { 0;
        #[track_caller] fn try_lock_exclusive_for(timeout: Duration) -> Option<Guard>;
        #[track_caller] fn try_lock_exclusive_until(timeout: Instant) -> Option<Guard>;
    }

    #[track_caller]
    fn try_lock_shared_for(&self, timeout: Duration) -> Option<GuardMarker> {
        let taken = if RECURSIVE {
            self.0.try_lock_shared_recursive_for(timeout)
        } else {
            self.0.try_lock_shared_for(timeout)
        };
        taken.then(GuardMarker::new)
    }

    #[track_caller]
    fn try_lock_shared_until(&self, timeout: Instant) -> Option<GuardMarker> {
        let taken = if RECURSIVE {
            self.0.try_lock_shared_recursive_until(timeout)
        } else {
            self.0.try_lock_shared_until(timeout)
        };
        taken.then(GuardMarker::new)
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgrade for RawRwLock<RECURSIVE> {
    type UpgradableGuard = GuardMarker;
    forward_guarded! { 0;
        #[track_caller] fn lock_upgradable() -> Guard;
        #[track_caller] fn try_lock_upgradable() -> Option<Guard>;
        unsafe fn unlock_upgradable(guard);
        #[track_caller] unsafe fn try_upgrade(guard) -> Result<Guard, Guard>;
    }

    #[track_caller]
    unsafe fn upgrade(&self, _guard: GuardMarker) -> GuardMarker {
        let unwinding = UnlockUpgradableOnUnwind(&self.0);
        // SAFETY: the caller holds the lock upgradable.
        unsafe { self.0.upgrade() };
        mem::forget(unwinding);
        GuardMarker::new()
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeFair for RawRwLock<RECURSIVE> {
    forward_guarded! { 0;
        unsafe fn unlock_upgradable_fair(guard);
        #[track_caller] unsafe fn bump_upgradable(&mut guard);
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeDowngrade for RawRwLock<RECURSIVE> {
    forward_guarded! { 0;
        #[track_caller] unsafe fn downgrade_upgradable(guard) -> Guard;
        #[track_caller] unsafe fn downgrade_to_upgradable(guard) -> Guard;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeTimed for RawRwLock<RECURSIVE> {
    forward_guarded! { 0;
        #[track_caller] fn try_lock_upgradable_for(timeout: Duration) -> Option<Guard>;
        #[track_caller] fn try_lock_upgradable_until(timeout: Instant) -> Option<Guard>;
        #[track_caller] unsafe fn try_upgrade_for(guard, timeout: Duration) -> Result<Guard, Guard>;
        #[track_caller] unsafe fn try_upgrade_until(guard, timeout: Instant) -> Result<Guard, Guard>;
    }
}
