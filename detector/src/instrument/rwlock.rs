//! The instrumented raw reader-writer lock: lockscan's hooks around lockscan's uninstrumented
//! raw reader-writer lock, with inherent methods (the logic) and `lock_api` 0.4's traits
//! (one-line forwards).

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use lock_api::{
    RawRwLock as _, RawRwLockDowngrade as _, RawRwLockFair as _, RawRwLockRecursive as _,
    RawRwLockRecursiveTimed as _, RawRwLockTimed as _, RawRwLockUpgrade as _,
    RawRwLockUpgradeDowngrade as _, RawRwLockUpgradeFair as _, RawRwLockUpgradeTimed as _,
};

use super::LockHooks;
use crate::ids::{LockKind, Mode};

/// A raw reader-writer lock lockscan sees, with modes: every acquisition, release and mode
/// change goes through [`LockHooks`] around lockscan's uninstrumented
/// [`RawRwLock`](crate::raw::RawRwLock). Made from a `const`, it is named after the site of its
/// first acquisition. `G` is the `lock_api` guard marker.
///
/// ```
/// use lockscan::instrument::RawRwLock;
///
/// let table = lock_api::RwLock::<RawRwLock, Vec<u32>>::new(Vec::new());
/// table.write().push(1);
/// assert_eq!(table.read().len(), 1);
/// ```
pub struct RawRwLock<G = lock_api::GuardNoSend> {
    inner: crate::raw::RawRwLock,
    hooks: LockHooks,
    // `fn() -> G`: the marker only names a guard type; the lock itself is `Send` and `Sync`.
    marker: PhantomData<fn() -> G>,
}

impl<G> RawRwLock<G> {
    /// An unlocked lock, named after the site of its first acquisition.
    #[track_caller]
    pub const fn new() -> Self {
        RawRwLock {
            inner: <crate::raw::RawRwLock as lock_api::RawRwLock>::INIT,
            hooks: LockHooks::new(LockKind::RwLock),
            marker: PhantomData,
        }
    }

    /// Whether the lock is held in any mode.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether the lock is held exclusively.
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    /// Acquires shared access, blocking.
    #[track_caller]
    #[inline]
    pub fn lock_shared(&self) {
        self.hooks.lock(
            Mode::Shared,
            false,
            || self.inner.try_lock_shared(),
            || self.inner.lock_shared(),
        );
    }
    /// Acquires shared access even while this thread holds it already, blocking.
    #[track_caller]
    #[inline]
    pub fn lock_shared_recursive(&self) {
        self.hooks.lock(
            Mode::Shared,
            true,
            || self.inner.try_lock_shared_recursive(),
            || self.inner.lock_shared_recursive(),
        );
    }
    /// Acquires exclusive access, blocking.
    #[track_caller]
    #[inline]
    pub fn lock_exclusive(&self) {
        self.hooks.lock(
            Mode::Exclusive,
            false,
            || self.inner.try_lock_exclusive(),
            || self.inner.lock_exclusive(),
        );
    }
    /// Acquires upgradable access, blocking.
    #[track_caller]
    #[inline]
    pub fn lock_upgradable(&self) {
        self.hooks.lock(
            Mode::Upgradable,
            false,
            || self.inner.try_lock_upgradable(),
            || self.inner.lock_upgradable(),
        );
    }
    /// Acquires shared access if it is free right now.
    #[track_caller]
    #[inline]
    pub fn try_lock_shared(&self) -> bool {
        self.hooks
            .try_lock(Mode::Shared, || self.inner.try_lock_shared())
    }
    /// Like `try_lock_shared`, even while this thread holds shared access.
    #[track_caller]
    #[inline]
    pub fn try_lock_shared_recursive(&self) -> bool {
        self.hooks
            .try_lock(Mode::Shared, || self.inner.try_lock_shared_recursive())
    }
    /// Acquires exclusive access if it is free right now.
    #[track_caller]
    #[inline]
    pub fn try_lock_exclusive(&self) -> bool {
        self.hooks
            .try_lock(Mode::Exclusive, || self.inner.try_lock_exclusive())
    }
    /// Acquires upgradable access if it is free right now.
    #[track_caller]
    #[inline]
    pub fn try_lock_upgradable(&self) -> bool {
        self.hooks
            .try_lock(Mode::Upgradable, || self.inner.try_lock_upgradable())
    }
    /// Acquires shared access, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.hooks
            .try_lock_timed(Mode::Shared, || self.inner.try_lock_shared_for(timeout))
    }
    /// Acquires shared access, waiting until `timeout` at most.
    #[track_caller]
    pub fn try_lock_shared_until(&self, timeout: Instant) -> bool {
        self.hooks
            .try_lock_timed(Mode::Shared, || self.inner.try_lock_shared_until(timeout))
    }
    /// Like `try_lock_shared_for`, even while this thread holds shared access.
    #[track_caller]
    pub fn try_lock_shared_recursive_for(&self, timeout: Duration) -> bool {
        self.hooks.try_lock_timed(Mode::Shared, || {
            self.inner.try_lock_shared_recursive_for(timeout)
        })
    }
    /// Like `try_lock_shared_until`, even while this thread holds shared access.
    #[track_caller]
    pub fn try_lock_shared_recursive_until(&self, timeout: Instant) -> bool {
        self.hooks.try_lock_timed(Mode::Shared, || {
            self.inner.try_lock_shared_recursive_until(timeout)
        })
    }
    /// Acquires exclusive access, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.hooks.try_lock_timed(Mode::Exclusive, || {
            self.inner.try_lock_exclusive_for(timeout)
        })
    }
    /// Acquires exclusive access, waiting until `timeout` at most.
    #[track_caller]
    pub fn try_lock_exclusive_until(&self, timeout: Instant) -> bool {
        self.hooks.try_lock_timed(Mode::Exclusive, || {
            self.inner.try_lock_exclusive_until(timeout)
        })
    }
    /// Acquires upgradable access, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_upgradable_for(&self, timeout: Duration) -> bool {
        self.hooks.try_lock_timed(Mode::Upgradable, || {
            self.inner.try_lock_upgradable_for(timeout)
        })
    }
    /// Acquires upgradable access, waiting until `timeout` at most.
    #[track_caller]
    pub fn try_lock_upgradable_until(&self, timeout: Instant) -> bool {
        self.hooks.try_lock_timed(Mode::Upgradable, || {
            self.inner.try_lock_upgradable_until(timeout)
        })
    }
    /// Releases shared access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_shared(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_shared() }
    }
    /// Releases shared access fairly.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_shared_fair(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_shared_fair() }
    }
    /// Releases exclusive access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_exclusive(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_exclusive() }
    }
    /// Releases exclusive access fairly.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_exclusive_fair(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_exclusive_fair() }
    }
    /// Releases upgradable access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_upgradable(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_upgradable() }
    }
    /// Releases upgradable access fairly.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[inline]
    pub unsafe fn unlock_upgradable_fair(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the lock in this mode.
        unsafe { self.inner.unlock_upgradable_fair() }
    }
    /// Lets waiting threads take the lock, if any, then holds it again in the same mode.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[track_caller]
    pub unsafe fn bump_shared(&self) {
        self.hooks.release(Mode::Shared);
        // SAFETY: the caller holds the lock in this mode, which `bump_shared` gives back.
        unsafe { self.inner.bump_shared() }
        self.hooks.relocked(Mode::Shared);
    }
    /// Lets waiting threads take the lock, if any, then holds it again in the same mode.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[track_caller]
    pub unsafe fn bump_exclusive(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the lock in this mode, which `bump_exclusive` gives back.
        unsafe { self.inner.bump_exclusive() }
        self.hooks.relocked(Mode::Exclusive);
    }
    /// Lets waiting threads take the lock, if any, then holds it again in the same mode.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in that mode.
    #[track_caller]
    pub unsafe fn bump_upgradable(&self) {
        self.hooks.release(Mode::Upgradable);
        // SAFETY: the caller holds the lock in this mode, which `bump_upgradable` gives back.
        unsafe { self.inner.bump_upgradable() }
        self.hooks.relocked(Mode::Upgradable);
    }
    /// Turns exclusive access into shared access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in the mode it turns from.
    #[track_caller]
    pub unsafe fn downgrade(&self) {
        self.hooks.change_mode(Mode::Exclusive, Mode::Shared);
        // SAFETY: the caller holds the lock in the mode it turns from.
        unsafe { self.inner.downgrade() }
    }
    /// Turns upgradable access into shared access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in the mode it turns from.
    #[track_caller]
    pub unsafe fn downgrade_upgradable(&self) {
        self.hooks.change_mode(Mode::Upgradable, Mode::Shared);
        // SAFETY: the caller holds the lock in the mode it turns from.
        unsafe { self.inner.downgrade_upgradable() }
    }
    /// Turns exclusive access into upgradable access.
    ///
    /// # Safety
    ///
    /// This thread holds the lock in the mode it turns from.
    #[track_caller]
    pub unsafe fn downgrade_to_upgradable(&self) {
        self.hooks.change_mode(Mode::Exclusive, Mode::Upgradable);
        // SAFETY: the caller holds the lock in the mode it turns from.
        unsafe { self.inner.downgrade_to_upgradable() }
    }
    /// Turns upgradable access into exclusive access, waiting for the readers to leave.
    ///
    /// # Safety
    ///
    /// This thread holds the lock upgradable.
    #[track_caller]
    pub unsafe fn upgrade(&self) {
        self.hooks.upgrade(
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.try_upgrade() },
            // SAFETY: the caller holds the upgradable lock.
            || unsafe { self.inner.upgrade() },
        );
    }
    /// Turns upgradable access into exclusive access if no reader is there right now.
    ///
    /// # Safety
    ///
    /// This thread holds the lock upgradable.
    #[track_caller]
    pub unsafe fn try_upgrade(&self) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade() })
    }
    /// Turns upgradable access into exclusive access, waiting at most `timeout`.
    ///
    /// # Safety
    ///
    /// This thread holds the lock upgradable.
    #[track_caller]
    pub unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade_for(timeout) })
    }
    /// Turns upgradable access into exclusive access, waiting until `timeout` at most.
    ///
    /// # Safety
    ///
    /// This thread holds the lock upgradable.
    #[track_caller]
    pub unsafe fn try_upgrade_until(&self, timeout: Instant) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        self.upgraded(unsafe { self.inner.try_upgrade_until(timeout) })
    }

    /// Records an upgrade attempt that succeeded; returns whether it did.
    #[track_caller]
    fn upgraded(&self, upgraded: bool) -> bool {
        if upgraded {
            self.hooks.change_mode(Mode::Upgradable, Mode::Exclusive);
        }
        upgraded
    }
}

impl<G> Default for RawRwLock<G> {
    #[track_caller]
    fn default() -> Self {
        RawRwLock::new()
    }
}

impl<G> fmt::Debug for RawRwLock<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRwLock")
            .field("inner", &self.inner)
            .field("hooks", &self.hooks)
            .finish()
    }
}

// SAFETY: every acquisition and release goes to `inner`, a correct raw reader-writer lock;
// the hooks only record. The same holds for the traits below.
unsafe impl<G> lock_api::RawRwLock for RawRwLock<G> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock::new();
    type GuardMarker = G;
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn lock_shared();
        #[track_caller] fn try_lock_shared() -> bool;
        unsafe fn unlock_shared();
        #[track_caller] fn lock_exclusive();
        #[track_caller] fn try_lock_exclusive() -> bool;
        unsafe fn unlock_exclusive();
        fn is_locked() -> bool;
        fn is_locked_exclusive() -> bool;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockFair for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        unsafe fn unlock_shared_fair();
        unsafe fn unlock_exclusive_fair();
        #[track_caller] unsafe fn bump_shared();
        #[track_caller] unsafe fn bump_exclusive();
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockDowngrade for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] unsafe fn downgrade();
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockTimed for RawRwLock<G> {
    type Duration = Duration;
    type Instant = Instant;
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn try_lock_shared_for(timeout: Duration) -> bool;
        #[track_caller] fn try_lock_shared_until(timeout: Instant) -> bool;
        #[track_caller] fn try_lock_exclusive_for(timeout: Duration) -> bool;
        #[track_caller] fn try_lock_exclusive_until(timeout: Instant) -> bool;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockRecursive for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn lock_shared_recursive();
        #[track_caller] fn try_lock_shared_recursive() -> bool;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockRecursiveTimed for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn try_lock_shared_recursive_for(timeout: Duration) -> bool;
        #[track_caller] fn try_lock_shared_recursive_until(timeout: Instant) -> bool;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockUpgrade for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn lock_upgradable();
        #[track_caller] fn try_lock_upgradable() -> bool;
        unsafe fn unlock_upgradable();
        #[track_caller] unsafe fn upgrade();
        #[track_caller] unsafe fn try_upgrade() -> bool;
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockUpgradeFair for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        unsafe fn unlock_upgradable_fair();
        #[track_caller] unsafe fn bump_upgradable();
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockUpgradeDowngrade for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] unsafe fn downgrade_upgradable();
        #[track_caller] unsafe fn downgrade_to_upgradable();
    }
}

// SAFETY: see `lock_api::RawRwLock` above.
unsafe impl<G> lock_api::RawRwLockUpgradeTimed for RawRwLock<G> {
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn try_lock_upgradable_for(timeout: Duration) -> bool;
        #[track_caller] fn try_lock_upgradable_until(timeout: Instant) -> bool;
        #[track_caller] unsafe fn try_upgrade_for(timeout: Duration) -> bool;
        #[track_caller] unsafe fn try_upgrade_until(timeout: Instant) -> bool;
    }
}
