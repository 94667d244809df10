//! The instrumented raw reader-writer lock: lockscan's hooks around lockscan's uninstrumented
//! raw reader-writer lock.

use std::time::{Duration, Instant};

use lockscan::instrument::LockHooks;
use lockscan::{LockKind, Mode};

/// Raw reader-writer lock type backed by the parking lot, instrumented by lockscan.
#[derive(Debug)]
pub struct RawRwLock {
    inner: lockscan::raw::RawRwLock,
    hooks: LockHooks,
}

impl RawRwLock {
    /// A timed or non-blocking acquisition in `mode`.
    #[track_caller]
    #[inline]
    fn attempt(&self, mode: Mode, attempt: impl FnOnce() -> bool) -> bool {
        self.hooks.try_lock(mode, attempt)
    }

    /// A timed acquisition in `mode`: recorded as timed, like a try no edge into the lock.
    #[track_caller]
    #[inline]
    fn timed(&self, mode: Mode, attempt: impl FnOnce() -> bool) -> bool {
        self.hooks.try_lock_timed(mode, attempt)
    }
}

// SAFETY: every acquisition and release goes to `inner`, a correct raw reader-writer lock; the
// hooks only record. The same holds for every trait below.
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock {
        inner: lockscan::raw::RawRwLock::INIT,
        hooks: LockHooks::new(LockKind::RwLock),
    };

    type GuardMarker = crate::GuardMarker;

    #[track_caller]
    #[inline]
    fn lock_shared(&self) {
        self.hooks.lock(
            Mode::Shared,
            false,
            || self.inner.try_lock_shared(),
            || self.inner.lock_shared(),
        );
    }

    #[track_caller]
    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.attempt(Mode::Shared, || self.inner.try_lock_shared())
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock.
        unsafe { self.inner.unlock_shared() }
    }

    #[track_caller]
    #[inline]
    fn lock_exclusive(&self) {
        self.hooks.lock(
            Mode::Exclusive,
            false,
            || self.inner.try_lock_exclusive(),
            || self.inner.lock_exclusive(),
        );
    }

    #[track_caller]
    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.attempt(Mode::Exclusive, || self.inner.try_lock_exclusive())
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
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
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    unsafe fn unlock_shared_fair(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock.
        unsafe { self.inner.unlock_shared_fair() }
    }

    unsafe fn unlock_exclusive_fair(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.unlock_exclusive_fair() }
    }

    #[track_caller]
    unsafe fn bump_shared(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds a shared lock, which `bump_shared` gives back.
        unsafe { self.inner.bump_shared() }
        self.hooks.relocked(Mode::Shared);
    }

    #[track_caller]
    unsafe fn bump_exclusive(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the exclusive lock, which `bump_exclusive` gives back.
        unsafe { self.inner.bump_exclusive() }
        self.hooks.relocked(Mode::Exclusive);
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    unsafe fn downgrade(&self) {
        self.hooks.change_mode(Mode::Exclusive, Mode::Shared);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.downgrade() }
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockTimed for RawRwLock {
    type Duration = Duration;
    type Instant = Instant;

    #[track_caller]
    fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.timed(Mode::Shared, || self.inner.try_lock_shared_for(timeout))
    }

    #[track_caller]
    fn try_lock_shared_until(&self, timeout: Instant) -> bool {
        self.timed(Mode::Shared, || self.inner.try_lock_shared_until(timeout))
    }

    #[track_caller]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.timed(Mode::Exclusive, || {
            self.inner.try_lock_exclusive_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_exclusive_until(&self, timeout: Instant) -> bool {
        self.timed(Mode::Exclusive, || {
            self.inner.try_lock_exclusive_until(timeout)
        })
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockRecursive for RawRwLock {
    #[track_caller]
    fn lock_shared_recursive(&self) {
        self.hooks.lock(
            Mode::Shared,
            true,
            || self.inner.try_lock_shared_recursive(),
            || self.inner.lock_shared_recursive(),
        );
    }

    #[track_caller]
    fn try_lock_shared_recursive(&self) -> bool {
        self.attempt(Mode::Shared, || self.inner.try_lock_shared_recursive())
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockRecursiveTimed for RawRwLock {
    #[track_caller]
    fn try_lock_shared_recursive_for(&self, timeout: Duration) -> bool {
        self.timed(Mode::Shared, || {
            self.inner.try_lock_shared_recursive_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_shared_recursive_until(&self, timeout: Instant) -> bool {
        self.timed(Mode::Shared, || {
            self.inner.try_lock_shared_recursive_until(timeout)
        })
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    #[track_caller]
    fn lock_upgradable(&self) {
        self.hooks.lock(
            Mode::Upgradable,
            false,
            || self.inner.try_lock_upgradable(),
            || self.inner.lock_upgradable(),
        );
    }

    #[track_caller]
    fn try_lock_upgradable(&self) -> bool {
        self.attempt(Mode::Upgradable, || self.inner.try_lock_upgradable())
    }

    unsafe fn unlock_upgradable(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.unlock_upgradable() }
    }

    #[track_caller]
    unsafe fn upgrade(&self) {
        self.hooks.upgrade(
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.try_upgrade() },
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.upgrade() },
        );
    }

    #[track_caller]
    unsafe fn try_upgrade(&self) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        let upgraded = unsafe { self.inner.try_upgrade() };
        if upgraded {
            self.hooks.change_mode(Mode::Upgradable, Mode::Exclusive);
        }
        upgraded
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    unsafe fn unlock_upgradable_fair(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.unlock_upgradable_fair() }
    }

    #[track_caller]
    unsafe fn bump_upgradable(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the upgradable lock, which `bump_upgradable` gives back.
        unsafe { self.inner.bump_upgradable() }
        self.hooks.relocked(Mode::Upgradable);
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    unsafe fn downgrade_upgradable(&self) {
        self.hooks.change_mode(Mode::Upgradable, Mode::Shared);
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.inner.downgrade_upgradable() }
    }

    unsafe fn downgrade_to_upgradable(&self) {
        self.hooks.change_mode(Mode::Exclusive, Mode::Upgradable);
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.downgrade_to_upgradable() }
    }
}

// SAFETY: see `RawRwLock`.
unsafe impl lock_api::RawRwLockUpgradeTimed for RawRwLock {
    #[track_caller]
    fn try_lock_upgradable_for(&self, timeout: Duration) -> bool {
        self.timed(Mode::Upgradable, || {
            self.inner.try_lock_upgradable_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_upgradable_until(&self, timeout: Instant) -> bool {
        self.timed(Mode::Upgradable, || {
            self.inner.try_lock_upgradable_until(timeout)
        })
    }

    #[track_caller]
    unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        let upgraded = unsafe { self.inner.try_upgrade_for(timeout) };
        if upgraded {
            self.hooks.change_mode(Mode::Upgradable, Mode::Exclusive);
        }
        upgraded
    }

    #[track_caller]
    unsafe fn try_upgrade_until(&self, timeout: Instant) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        let upgraded = unsafe { self.inner.try_upgrade_until(timeout) };
        if upgraded {
            self.hooks.change_mode(Mode::Upgradable, Mode::Exclusive);
        }
        upgraded
    }
}
