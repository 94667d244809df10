//! [`RwLock`] and its guards.

use std::borrow::Cow;
use std::fmt;
use std::ops::DerefMut;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::{LockKind, Mode};
use crate::runtime::LockMeta;
use crate::sync::{guard_impls, into_parts};

/// A reader-writer lock with parking_lot's API that records its acquisitions, with their
/// modes: a cycle that only passes through shared holds cannot block and is not reported.
///
/// ```
/// use lockscan::{RwLock, RwLockUpgradableReadGuard};
///
/// let config = RwLock::named("config", vec![1, 2]);
/// assert_eq!(config.read().len(), 2);
/// let upgradable = config.upgradable_read();
/// let mut writer = RwLockUpgradableReadGuard::upgrade(upgradable);
/// writer.push(3);
/// ```
pub struct RwLock<T: ?Sized> {
    pub(crate) meta: LockMeta,
    pub(crate) inner: crate::raw::RwLock<T>,
}

/// Creates a read-write lock in a `const` context, like `parking_lot::const_rwlock`.
#[track_caller]
pub const fn const_rwlock<T>(value: T) -> RwLock<T> {
    RwLock::new(value)
}

impl<T> RwLock<T> {
    /// Creates an unlocked lock. Its class, used in reports, is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(LockKind::RwLock, Location::caller()),
            inner: crate::raw::RwLock::new(value),
        }
    }

    /// Creates an unlocked lock with a name that every report uses.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock {
            meta: LockMeta::named(LockKind::RwLock, Location::caller(), name.into()),
            inner: crate::raw::RwLock::new(value),
        }
    }

    /// Declares the lock's rank: while holding a lock of rank `r`, a thread may only acquire
    /// locks of rank higher than `r`. An acquisition against the ranks is an `order-violation`
    /// finding at once, before any cycle exists. [`lock_all`](crate::lock_all) takes ranked
    /// locks in rank order. Ranks are checked only while detection is on.
    ///
    /// ```
    /// let accounts = lockscan::RwLock::new(()).with_rank(1);
    /// let log = lockscan::RwLock::new(()).with_rank(2);
    /// assert_eq!(accounts.rank(), if lockscan::is_active() { Some(1) } else { None });
    /// ```
    #[must_use]
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.meta.set_rank(rank);
        self
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    fn read_guard<'a>(
        &'a self,
        inner: crate::raw::RwLockReadGuard<'a, T>,
    ) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard { lock: self, inner }
    }

    fn write_guard<'a>(
        &'a self,
        inner: crate::raw::RwLockWriteGuard<'a, T>,
    ) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard { lock: self, inner }
    }

    /// Acquires shared read access, blocking while a writer holds the lock (or, parking_lot
    /// being fair, waits for it). Taking it again while this thread holds a read lock can
    /// deadlock, and is reported (`api-misuse`, handled by the policy): use
    /// [`read_recursive`](Self::read_recursive) for that.
    ///
    /// # Panics
    ///
    /// With the default policy, when this acquisition closes a lock-order cycle or is a
    /// second read by this thread; whatever the policy, when it would wait for this thread's
    /// own first read lock (a writer queued in between) or complete a deadlock.
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Shared,
            false,
            Location::caller(),
            || self.inner.try_read(),
            || self.inner.read(),
        );
        self.read_guard(inner)
    }

    /// Acquires shared read access even while this thread holds it already.
    #[track_caller]
    pub fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Shared,
            true,
            Location::caller(),
            || self.inner.try_read_recursive(),
            || self.inner.read_recursive(),
        );
        self.read_guard(inner)
    }

    /// Acquires shared read access if it is available right now.
    #[track_caller]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Shared, Location::caller(), || self.inner.try_read())?;
        Some(self.read_guard(inner))
    }

    /// Like [`try_read`](Self::try_read), even while this thread holds read access.
    #[track_caller]
    pub fn try_read_recursive(&self) -> Option<RwLockReadGuard<'_, T>> {
        let inner = self.meta.try_lock(Mode::Shared, Location::caller(), || {
            self.inner.try_read_recursive()
        })?;
        Some(self.read_guard(inner))
    }

    /// Acquires shared read access, waiting at most `timeout`.
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        let inner = self.meta.try_lock(Mode::Shared, Location::caller(), || {
            self.inner.try_read_for(timeout)
        })?;
        Some(self.read_guard(inner))
    }

    /// Acquires shared read access, waiting until `deadline` at most.
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        let inner = self.meta.try_lock(Mode::Shared, Location::caller(), || {
            self.inner.try_read_until(deadline)
        })?;
        Some(self.read_guard(inner))
    }

    /// Acquires exclusive write access, blocking until readers and writers are gone.
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Exclusive,
            false,
            Location::caller(),
            || self.inner.try_write(),
            || self.inner.write(),
        );
        self.write_guard(inner)
    }

    /// Acquires write access if it is available right now.
    #[track_caller]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_write()
            })?;
        Some(self.write_guard(inner))
    }

    /// Acquires write access, waiting at most `timeout`.
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_write_for(timeout)
            })?;
        Some(self.write_guard(inner))
    }

    /// Acquires write access, waiting until `deadline` at most.
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_write_until(deadline)
            })?;
        Some(self.write_guard(inner))
    }

    /// Acquires upgradable read access: shared with readers, exclusive against writers and
    /// other upgradable readers.
    #[track_caller]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Upgradable,
            false,
            Location::caller(),
            || self.inner.try_upgradable_read(),
            || self.inner.upgradable_read(),
        );
        RwLockUpgradableReadGuard { lock: self, inner }
    }

    /// Acquires upgradable read access if it is available right now.
    #[track_caller]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Upgradable, Location::caller(), || {
                self.inner.try_upgradable_read()
            })?;
        Some(RwLockUpgradableReadGuard { lock: self, inner })
    }

    /// The declared rank, if any (always `None` when detection is off).
    pub fn rank(&self) -> Option<u32> {
        self.meta.rank()
    }

    /// Whether the lock is held in any mode.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether the lock is held for writing.
    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    /// The data, through exclusive access to the lock: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// A raw pointer to the data.
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Shared access to the data of an [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    inner: crate::raw::RwLockReadGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// A guard for a part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let (lock, inner) = into_parts!(s, lock, inner);
        MappedRwLockReadGuard {
            meta: &lock.meta,
            inner: crate::raw::RwLockReadGuard::map(inner, f),
        }
    }

    /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let (lock, inner) = into_parts!(s, lock, inner);
        match crate::raw::RwLockReadGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedRwLockReadGuard {
                meta: &lock.meta,
                inner,
            }),
            Err(inner) => Err(RwLockReadGuard { lock, inner }),
        }
    }

    /// Releases the lock while `f` runs, then takes read access again.
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.lock.meta;
        meta.release(Mode::Shared);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Shared, Location::caller());
        crate::raw::RwLockReadGuard::unlocked(&mut s.inner, f)
    }

    /// Releases the lock with a fair unlock.
    pub fn unlock_fair(s: Self) {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.release(Mode::Shared);
        crate::raw::RwLockReadGuard::unlock_fair(inner);
    }
}

/// Exclusive access to the data of an [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    inner: crate::raw::RwLockWriteGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// A guard for a part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (lock, inner) = into_parts!(s, lock, inner);
        MappedRwLockWriteGuard {
            meta: &lock.meta,
            inner: crate::raw::RwLockWriteGuard::map(inner, f),
        }
    }

    /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (lock, inner) = into_parts!(s, lock, inner);
        match crate::raw::RwLockWriteGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedRwLockWriteGuard {
                meta: &lock.meta,
                inner,
            }),
            Err(inner) => Err(RwLockWriteGuard { lock, inner }),
        }
    }

    /// Turns write access into read access without letting a writer in between.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.change_mode(Mode::Exclusive, Mode::Shared);
        RwLockReadGuard {
            lock,
            inner: crate::raw::RwLockWriteGuard::downgrade(inner),
        }
    }

    /// Turns write access into upgradable read access.
    pub fn downgrade_to_upgradable(s: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.change_mode(Mode::Exclusive, Mode::Upgradable);
        RwLockUpgradableReadGuard {
            lock,
            inner: crate::raw::RwLockWriteGuard::downgrade_to_upgradable(inner),
        }
    }

    /// Releases the lock while `f` runs, then takes write access again.
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.lock.meta;
        meta.release(Mode::Exclusive);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Exclusive, Location::caller());
        crate::raw::RwLockWriteGuard::unlocked(&mut s.inner, f)
    }

    /// Releases the lock with a fair unlock.
    pub fn unlock_fair(s: Self) {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.release(Mode::Exclusive);
        crate::raw::RwLockWriteGuard::unlock_fair(inner);
    }
}

/// Upgradable read access to an [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    inner: crate::raw::RwLockUpgradableReadGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Turns this into write access, waiting for the readers to leave.
    ///
    /// This is an exclusive request made while holding the lock: lockscan records it as an
    /// order edge from every other lock the thread holds, and a reader that waits for one of
    /// those locks is a deadlock, reported the moment it closes.
    #[track_caller]
    pub fn upgrade(s: Self) -> RwLockWriteGuard<'a, T> {
        let (lock, inner) = into_parts!(s, lock, inner);
        let inner = lock.meta.upgrade(
            Location::caller(),
            inner,
            crate::raw::RwLockUpgradableReadGuard::try_upgrade,
            crate::raw::RwLockUpgradableReadGuard::upgrade,
        );
        RwLockWriteGuard { lock, inner }
    }

    /// Turns this into write access if no reader is there right now.
    pub fn try_upgrade(s: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let (lock, inner) = into_parts!(s, lock, inner);
        match crate::raw::RwLockUpgradableReadGuard::try_upgrade(inner) {
            Ok(inner) => {
                lock.meta.change_mode(Mode::Upgradable, Mode::Exclusive);
                Ok(RwLockWriteGuard { lock, inner })
            }
            Err(inner) => Err(RwLockUpgradableReadGuard { lock, inner }),
        }
    }

    /// Turns this into write access, waiting at most `timeout` for the readers to leave.
    pub fn try_upgrade_for(s: Self, timeout: Duration) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let (lock, inner) = into_parts!(s, lock, inner);
        match crate::raw::RwLockUpgradableReadGuard::try_upgrade_for(inner, timeout) {
            Ok(inner) => {
                lock.meta.change_mode(Mode::Upgradable, Mode::Exclusive);
                Ok(RwLockWriteGuard { lock, inner })
            }
            Err(inner) => Err(RwLockUpgradableReadGuard { lock, inner }),
        }
    }

    /// Turns this into write access, waiting until `deadline` at most.
    pub fn try_upgrade_until(s: Self, deadline: Instant) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let (lock, inner) = into_parts!(s, lock, inner);
        match crate::raw::RwLockUpgradableReadGuard::try_upgrade_until(inner, deadline) {
            Ok(inner) => {
                lock.meta.change_mode(Mode::Upgradable, Mode::Exclusive);
                Ok(RwLockWriteGuard { lock, inner })
            }
            Err(inner) => Err(RwLockUpgradableReadGuard { lock, inner }),
        }
    }

    /// Turns this into plain read access.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.change_mode(Mode::Upgradable, Mode::Shared);
        RwLockReadGuard {
            lock,
            inner: crate::raw::RwLockUpgradableReadGuard::downgrade(inner),
        }
    }

    /// Releases the lock while `f` runs, then takes upgradable access again.
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.lock.meta;
        meta.release(Mode::Upgradable);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Upgradable, Location::caller());
        crate::raw::RwLockUpgradableReadGuard::unlocked(&mut s.inner, f)
    }

    /// Releases the lock with a fair unlock.
    pub fn unlock_fair(s: Self) {
        let (lock, inner) = into_parts!(s, lock, inner);
        lock.meta.release(Mode::Upgradable);
        crate::raw::RwLockUpgradableReadGuard::unlock_fair(inner);
    }
}

/// A guard for a part of a read-locked [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockReadGuard<'a, T: ?Sized> {
    meta: &'a LockMeta,
    inner: crate::raw::MappedRwLockReadGuard<'a, T>,
}

impl<'a, T: ?Sized> MappedRwLockReadGuard<'a, T> {
    /// A guard for a part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let (meta, inner) = into_parts!(s, meta, inner);
        MappedRwLockReadGuard {
            meta,
            inner: crate::raw::MappedRwLockReadGuard::map(inner, f),
        }
    }
}

/// A guard for a part of a write-locked [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockWriteGuard<'a, T: ?Sized> {
    meta: &'a LockMeta,
    inner: crate::raw::MappedRwLockWriteGuard<'a, T>,
}

impl<'a, T: ?Sized> MappedRwLockWriteGuard<'a, T> {
    /// A guard for a part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (meta, inner) = into_parts!(s, meta, inner);
        MappedRwLockWriteGuard {
            meta,
            inner: crate::raw::MappedRwLockWriteGuard::map(inner, f),
        }
    }
}

guard_impls!(RwLockReadGuard, Mode::Shared, |g| g.lock.meta);
guard_impls!(RwLockWriteGuard, Mode::Exclusive, |g| g.lock.meta);
guard_impls!(RwLockUpgradableReadGuard, Mode::Upgradable, |g| g.lock.meta);
guard_impls!(MappedRwLockReadGuard, Mode::Shared, |g| g.meta);
guard_impls!(MappedRwLockWriteGuard, Mode::Exclusive, |g| g.meta);

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
