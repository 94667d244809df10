//! The instrumented raw reader-writer locks: lockscan's hooks around lockscan's uninstrumented
//! raw reader-writer lock, behind lock_api 0.5's traits. parking_lot 0.13 has one type for both
//! kinds, `RawRwLock<RECURSIVE>`: a recursive one lets a read in while other reads hold the
//! lock even when a writer waits (lockscan's recursive reads), so a thread may read it again.

use std::mem;
use std::time::{Duration, Instant};

use lock_api_04::{
    RawRwLock as _, RawRwLockDowngrade as _, RawRwLockFair as _, RawRwLockRecursive as _,
    RawRwLockRecursiveTimed as _, RawRwLockTimed as _, RawRwLockUpgrade as _,
    RawRwLockUpgradeDowngrade as _, RawRwLockUpgradeFair as _, RawRwLockUpgradeTimed as _,
};
use lockscan::instrument::LockHooks;
use lockscan::{LockKind, Mode};

use crate::GuardMarker;

/// Raw reader-writer lock type backed by the parking lot, instrumented by lockscan.
///
/// If `RECURSIVE` is `true`, readers are prioritized over writers: acquiring a read lock does
/// not block unless a writer holds the lock. This permits recursive read locking, but may
/// starve writers.
#[derive(Debug)]
pub struct RawRwLock<const RECURSIVE: bool = false> {
    inner: lockscan::raw::RawRwLock,
    hooks: LockHooks,
}

/// Raw reader-writer lock which permits recursive read locking (instrumented).
pub type RawRwLockRecursive = RawRwLock<true>;

impl<const RECURSIVE: bool> RawRwLock<RECURSIVE> {
    /// A non-blocking shared attempt on the inner lock, recursive for a recursive lock.
    #[inline]
    fn try_inner_shared(&self) -> bool {
        if RECURSIVE {
            self.inner.try_lock_shared_recursive()
        } else {
            self.inner.try_lock_shared()
        }
    }

    /// A successful upgrade attempt, recorded.
    #[track_caller]
    #[inline]
    fn upgraded(&self, upgraded: bool) -> Result<GuardMarker, GuardMarker> {
        if upgraded {
            self.hooks.change_mode(Mode::Upgradable, Mode::Exclusive);
            Ok(GuardMarker::new())
        } else {
            Err(GuardMarker::new())
        }
    }
}

/// Releases an upgradable hold if dropped: lock_api 0.5 hands the hold's guard to `upgrade`,
/// which must release it if it unwinds (a reported cycle or deadlock).
struct UnlockUpgradableOnUnwind<'a, const RECURSIVE: bool>(&'a RawRwLock<RECURSIVE>);

impl<const RECURSIVE: bool> Drop for UnlockUpgradableOnUnwind<'_, RECURSIVE> {
    fn drop(&mut self) {
        // SAFETY: made only while this thread holds the lock upgradable, and forgotten once the
        // hold changed.
        unsafe { lock_api::RawRwLockUpgrade::unlock_upgradable(self.0, GuardMarker::new()) }
    }
}

// SAFETY: every acquisition and release goes to `inner`, a correct raw reader-writer lock; the
// hooks only record, and one that unwinds (a reported cycle or deadlock) does so before an
// acquisition, or with the hold it was given still held (released by lock_api's guard), except
// in `upgrade`, which releases it. The same holds for every trait below.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLock for RawRwLock<RECURSIVE> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock {
        inner: lockscan::raw::RawRwLock::INIT,
        hooks: LockHooks::new(LockKind::RwLock),
    };

    type SharedGuard = GuardMarker;
    type ExclusiveGuard = GuardMarker;

    #[track_caller]
    #[inline]
    fn lock_shared(&self) -> GuardMarker {
        self.hooks.lock(
            Mode::Shared,
            RECURSIVE,
            || self.try_inner_shared(),
            || {
                if RECURSIVE {
                    self.inner.lock_shared_recursive()
                } else {
                    self.inner.lock_shared()
                }
            },
        );
        GuardMarker::new()
    }

    #[track_caller]
    #[inline]
    fn try_lock_shared(&self) -> Option<GuardMarker> {
        self.hooks
            .try_lock(Mode::Shared, || self.try_inner_shared())
            .then(GuardMarker::new)
    }

    #[inline]
    unsafe fn unlock_shared(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock.
        unsafe { self.inner.unlock_shared() }
    }

    #[track_caller]
    #[inline]
    fn lock_exclusive(&self) -> GuardMarker {
        self.hooks.lock(
            Mode::Exclusive,
            false,
            || self.inner.try_lock_exclusive(),
            || self.inner.lock_exclusive(),
        );
        GuardMarker::new()
    }

    #[track_caller]
    #[inline]
    fn try_lock_exclusive(&self) -> Option<GuardMarker> {
        self.hooks
            .try_lock(Mode::Exclusive, || self.inner.try_lock_exclusive())
            .then(GuardMarker::new)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.unlock_exclusive() }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockFair for RawRwLock<RECURSIVE> {
    unsafe fn unlock_shared_fair(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock.
        unsafe { self.inner.unlock_shared_fair() }
    }

    unsafe fn unlock_exclusive_fair(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.unlock_exclusive_fair() }
    }

    #[track_caller]
    unsafe fn bump_shared(&self, _guard: &mut GuardMarker) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock, which `bump_shared` gives back.
        unsafe { self.inner.bump_shared() }
        self.hooks.relocked(Mode::Shared);
    }

    #[track_caller]
    unsafe fn bump_exclusive(&self, _guard: &mut GuardMarker) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the exclusive lock, which `bump_exclusive` gives back.
        unsafe { self.inner.bump_exclusive() }
        self.hooks.relocked(Mode::Exclusive);
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockDowngrade for RawRwLock<RECURSIVE> {
    #[track_caller]
    unsafe fn downgrade(&self, _guard: GuardMarker) -> GuardMarker {
        self.hooks.change_mode(Mode::Exclusive, Mode::Shared);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.downgrade() }
        GuardMarker::new()
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockTimed for RawRwLock<RECURSIVE> {
    type Duration = Duration;
    type Instant = Instant;

    #[track_caller]
    fn try_lock_shared_for(&self, timeout: Duration) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Shared, || {
                if RECURSIVE {
                    self.inner.try_lock_shared_recursive_for(timeout)
                } else {
                    self.inner.try_lock_shared_for(timeout)
                }
            })
            .then(GuardMarker::new)
    }

    #[track_caller]
    fn try_lock_shared_until(&self, timeout: Instant) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Shared, || {
                if RECURSIVE {
                    self.inner.try_lock_shared_recursive_until(timeout)
                } else {
                    self.inner.try_lock_shared_until(timeout)
                }
            })
            .then(GuardMarker::new)
    }

    #[track_caller]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Exclusive, || {
                self.inner.try_lock_exclusive_for(timeout)
            })
            .then(GuardMarker::new)
    }

    #[track_caller]
    fn try_lock_exclusive_until(&self, timeout: Instant) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Exclusive, || {
                self.inner.try_lock_exclusive_until(timeout)
            })
            .then(GuardMarker::new)
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgrade for RawRwLock<RECURSIVE> {
    type UpgradableGuard = GuardMarker;

    #[track_caller]
    fn lock_upgradable(&self) -> GuardMarker {
        self.hooks.lock(
            Mode::Upgradable,
            false,
            || self.inner.try_lock_upgradable(),
            || self.inner.lock_upgradable(),
        );
        GuardMarker::new()
    }

    #[track_caller]
    fn try_lock_upgradable(&self) -> Option<GuardMarker> {
        self.hooks
            .try_lock(Mode::Upgradable, || self.inner.try_lock_upgradable())
            .then(GuardMarker::new)
    }

    unsafe fn unlock_upgradable(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.unlock_upgradable() }
    }

    #[track_caller]
    unsafe fn upgrade(&self, _guard: GuardMarker) -> GuardMarker {
        let unwinding = UnlockUpgradableOnUnwind(self);
        self.hooks.upgrade(
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.try_upgrade() },
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.upgrade() },
        );
        mem::forget(unwinding);
        GuardMarker::new()
    }

    #[track_caller]
    unsafe fn try_upgrade(&self, _guard: GuardMarker) -> Result<GuardMarker, GuardMarker> {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade() })
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeFair for RawRwLock<RECURSIVE> {
    unsafe fn unlock_upgradable_fair(&self, _guard: GuardMarker) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.unlock_upgradable_fair() }
    }

    #[track_caller]
    unsafe fn bump_upgradable(&self, _guard: &mut GuardMarker) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock, which `bump_upgradable` gives back.
        unsafe { self.inner.bump_upgradable() }
        self.hooks.relocked(Mode::Upgradable);
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeDowngrade for RawRwLock<RECURSIVE> {
    #[track_caller]
    unsafe fn downgrade_upgradable(&self, _guard: GuardMarker) -> GuardMarker {
        self.hooks.change_mode(Mode::Upgradable, Mode::Shared);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.downgrade_upgradable() }
        GuardMarker::new()
    }

    #[track_caller]
    unsafe fn downgrade_to_upgradable(&self, _guard: GuardMarker) -> GuardMarker {
        self.hooks.change_mode(Mode::Exclusive, Mode::Upgradable);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.downgrade_to_upgradable() }
        GuardMarker::new()
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl<const RECURSIVE: bool> lock_api::RawRwLockUpgradeTimed for RawRwLock<RECURSIVE> {
    #[track_caller]
    fn try_lock_upgradable_for(&self, timeout: Duration) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Upgradable, || {
                self.inner.try_lock_upgradable_for(timeout)
            })
            .then(GuardMarker::new)
    }

    #[track_caller]
    fn try_lock_upgradable_until(&self, timeout: Instant) -> Option<GuardMarker> {
        self.hooks
            .try_lock_timed(Mode::Upgradable, || {
                self.inner.try_lock_upgradable_until(timeout)
            })
            .then(GuardMarker::new)
    }

    #[track_caller]
    unsafe fn try_upgrade_for(
        &self,
        _guard: GuardMarker,
        timeout: Duration,
    ) -> Result<GuardMarker, GuardMarker> {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade_for(timeout) })
    }

    #[track_caller]
    unsafe fn try_upgrade_until(
        &self,
        _guard: GuardMarker,
        timeout: Instant,
    ) -> Result<GuardMarker, GuardMarker> {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade_until(timeout) })
    }
}
