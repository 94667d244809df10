//! [`RwLock`] and its guards.

use std::panic::Location;
use std::time::{Duration, Instant};

use crate::instrument::LockHooks;
use crate::sync::{guard, guard_methods, into_parts, lock_impls, lock_methods};

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
    pub(crate) hooks: LockHooks,
    pub(crate) inner: crate::raw::RwLock<T>,
}

/// Creates a read-write lock in a `const` context, like `parking_lot::const_rwlock`.
///
/// ```
/// use lockscan::{RwLock, const_rwlock};
///
/// static SETTINGS: RwLock<Vec<&str>> = const_rwlock(Vec::new());
/// SETTINGS.write().push("verbose");
/// assert_eq!(SETTINGS.read().len(), 1);
/// ```
#[track_caller]
pub const fn const_rwlock<T>(value: T) -> RwLock<T> {
    RwLock::new(value)
}

impl<T> RwLock<T> {
    lock_methods! { RwLock, RwLock;
        /// Creates an unlocked lock. Its class, used in reports, is the caller's location.
        fn new;
        /// Creates an unlocked lock with a name that every report uses.
        ///
        /// ```
        /// let routes = lockscan::RwLock::named("doc:routes", vec!["/"]);
        /// routes.write().push("/health");
        /// assert_eq!(*routes.read(), ["/", "/health"]);
        /// ```
        fn named;
        fn with_rank;
        /// Consumes the lock and returns the data.
        fn into_inner;
    }
}

impl<T: ?Sized> RwLock<T> {
    lock_methods! { RwLock, RwLock;
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
        fn read -> RwLockReadGuard: blocks(Shared, try_read);
        /// Acquires shared read access even while this thread holds it already.
        ///
        /// ```
        /// let table = lockscan::RwLock::new(3);
        /// let first = table.read();
        /// let second = table.read_recursive(); // no `api-misuse` finding
        /// assert_eq!(*first + *second, 6);
        /// ```
        fn read_recursive -> RwLockReadGuard: blocks_recursively(Shared, try_read_recursive);
        /// Acquires shared read access if it is available right now.
        fn try_read -> RwLockReadGuard: tries(Shared);
        /// Like [`try_read`](Self::try_read), even while this thread holds read access.
        fn try_read_recursive -> RwLockReadGuard: tries(Shared);
        /// Acquires shared read access, waiting at most `timeout`.
        fn try_read_for(timeout: Duration) -> RwLockReadGuard: tries(Shared);
        /// Acquires shared read access, waiting until `deadline` at most.
        fn try_read_until(deadline: Instant) -> RwLockReadGuard: tries(Shared);
        /// Acquires exclusive write access, blocking until readers and writers are gone.
        fn write -> RwLockWriteGuard: blocks(Exclusive, try_write);
        /// Acquires write access if it is available right now.
        ///
        /// ```
        /// let lock = lockscan::RwLock::new(0);
        /// let reader = lock.read();
        /// assert!(lock.try_write().is_none());
        /// drop(reader);
        /// *lock.try_write().unwrap() += 1;
        /// assert_eq!(*lock.read(), 1);
        /// ```
        fn try_write -> RwLockWriteGuard: tries(Exclusive);
        /// Acquires write access, waiting at most `timeout`.
        fn try_write_for(timeout: Duration) -> RwLockWriteGuard: tries(Exclusive);
        /// Acquires write access, waiting until `deadline` at most.
        fn try_write_until(deadline: Instant) -> RwLockWriteGuard: tries(Exclusive);
        /// Acquires upgradable read access: shared with readers, exclusive against writers and
        /// other upgradable readers.
        fn upgradable_read -> RwLockUpgradableReadGuard: blocks(Upgradable, try_upgradable_read);
        /// Acquires upgradable read access if it is available right now.
        fn try_upgradable_read -> RwLockUpgradableReadGuard: tries(Upgradable);
        fn rank;
        /// Whether the lock is held in any mode.
        fn is_locked;
    }

    /// Whether the lock is held for writing.
    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    lock_methods! { RwLock, RwLock;
        /// The data, through exclusive access to the lock: no locking needed.
        fn get_mut;
        fn data_ptr;
    }
}

lock_impls!(RwLock);

guard! {
    /// Shared access to the data of an [`RwLock`].
    ///
    /// ```
    /// use lockscan::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::new(5);
    /// let reader = lock.read();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(*lock.read(), 5)); // readers share the lock
    /// });
    /// assert!(std::ptr::eq(RwLockReadGuard::rwlock(&reader), &lock));
    /// ```
    pub struct RwLockReadGuard of RwLock by lock in Shared;
    /// The lock this guard holds.
    fn rwlock;
    methods {
        /// A guard for a part of the data.
        ///
        /// ```
        /// use lockscan::{RwLock, RwLockReadGuard};
        ///
        /// let user = RwLock::new(("ada", 36));
        /// let name = RwLockReadGuard::map(user.read(), |user| &user.0);
        /// assert_eq!(*name, "ada");
        /// ```
        fn map -> MappedRwLockReadGuard, &;
        /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
        fn try_map -> MappedRwLockReadGuard, &;
        /// Releases the lock while `f` runs, then takes read access again.
        ///
        /// ```
        /// use lockscan::{RwLock, RwLockReadGuard};
        ///
        /// let cache = RwLock::new(vec![1]);
        /// let mut reader = cache.read();
        /// // A writer would wait for this reader: let it in meanwhile.
        /// RwLockReadGuard::unlocked(&mut reader, || cache.write().push(2));
        /// assert_eq!(*reader, [1, 2]);
        /// ```
        fn unlocked;
        /// Releases the lock with a fair unlock.
        fn unlock_fair;
    }
}

guard! {
    /// Exclusive access to the data of an [`RwLock`].
    ///
    /// ```
    /// let lock = lockscan::RwLock::new(5);
    /// let mut writer = lock.write();
    /// *writer += 1;
    /// assert!(lock.is_locked_exclusive());
    /// drop(writer);
    /// assert_eq!(*lock.read(), 6);
    /// ```
    pub struct RwLockWriteGuard of RwLock by lock in Exclusive, DerefMut;
    /// The lock this guard holds.
    fn rwlock;
    methods {
        /// A guard for a part of the data.
        ///
        /// ```
        /// use lockscan::{RwLock, RwLockWriteGuard};
        ///
        /// let user = RwLock::new(("ada", 36));
        /// *RwLockWriteGuard::map(user.write(), |user| &mut user.1) += 1;
        /// assert_eq!(user.read().1, 37);
        /// ```
        fn map -> MappedRwLockWriteGuard, &mut;
        /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
        fn try_map -> MappedRwLockWriteGuard, &mut;
        /// Turns write access into read access without letting a writer in between.
        ///
        /// ```
        /// use lockscan::{RwLock, RwLockWriteGuard};
        ///
        /// let log = RwLock::new(Vec::new());
        /// let mut writer = log.write();
        /// writer.push("started");
        /// let reader = RwLockWriteGuard::downgrade(writer);
        /// assert!(log.try_read().is_some()); // other readers may join now
        /// assert_eq!(*reader, ["started"]);
        /// ```
        fn downgrade -> RwLockReadGuard: changes(Exclusive => Shared);
        /// Turns write access into upgradable read access.
        fn downgrade_to_upgradable -> RwLockUpgradableReadGuard: changes(Exclusive => Upgradable);
        /// Releases the lock while `f` runs, then takes write access again.
        fn unlocked;
        /// Releases the lock with a fair unlock.
        fn unlock_fair;
    }
}

guard! {
    /// Upgradable read access to an [`RwLock`].
    ///
    /// ```
    /// let lock = lockscan::RwLock::new(5);
    /// let upgradable = lock.upgradable_read();
    /// assert!(lock.try_read().is_some()); // shared with readers
    /// assert!(lock.try_upgradable_read().is_none()); // not with another upgradable reader
    /// assert_eq!(*upgradable, 5);
    /// ```
    pub struct RwLockUpgradableReadGuard of RwLock by lock in Upgradable;
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
    ///
    /// ```
    /// use lockscan::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let ids = RwLock::new(vec![1, 2]);
    /// let candidate = ids.upgradable_read();
    /// if !candidate.contains(&3) {
    ///     let mut writer = RwLockUpgradableReadGuard::upgrade(candidate);
    ///     writer.push(3);
    /// }
    /// assert_eq!(*ids.read(), [1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn upgrade(s: Self) -> RwLockWriteGuard<'a, T> {
        let (lock, inner) = into_parts!(s, lock, inner);
        let inner = lock.hooks.upgrade_at(
            Location::caller(),
            inner,
            crate::raw::RwLockUpgradableReadGuard::try_upgrade,
            crate::raw::RwLockUpgradableReadGuard::upgrade,
        );
        RwLockWriteGuard { lock, inner }
    }

    guard_methods! { RwLockUpgradableReadGuard by lock in Upgradable;
        /// Turns this into write access if no reader is there right now.
        ///
        /// ```
        /// use std::sync::Barrier;
        /// use lockscan::{RwLock, RwLockUpgradableReadGuard};
        ///
        /// let lock = RwLock::new(0);
        /// let (reading, done) = (Barrier::new(2), Barrier::new(2));
        /// let upgradable = lock.upgradable_read();
        /// let upgradable = std::thread::scope(|s| {
        ///     s.spawn(|| {
        ///         let _reader = lock.read();
        ///         reading.wait();
        ///         done.wait();
        ///     });
        ///     reading.wait();
        ///     // Another thread reads: no upgrade now, and the guard comes back.
        ///     let upgradable = RwLockUpgradableReadGuard::try_upgrade(upgradable).unwrap_err();
        ///     done.wait();
        ///     upgradable
        /// });
        /// let mut writer = RwLockUpgradableReadGuard::try_upgrade(upgradable).unwrap();
        /// *writer += 1;
        /// drop(writer);
        /// assert_eq!(*lock.read(), 1);
        /// ```
        fn try_upgrade -> RwLockWriteGuard: tries_change(Upgradable => Exclusive);
        /// Turns this into write access, waiting at most `timeout` for the readers to leave.
        fn try_upgrade_for(timeout: Duration) -> RwLockWriteGuard:
            tries_change(Upgradable => Exclusive);
        /// Turns this into write access, waiting until `deadline` at most.
        fn try_upgrade_until(deadline: Instant) -> RwLockWriteGuard:
            tries_change(Upgradable => Exclusive);
        /// Turns this into plain read access.
        fn downgrade -> RwLockReadGuard: changes(Upgradable => Shared);
        /// Releases the lock while `f` runs, then takes upgradable access again.
        fn unlocked;
        /// Releases the lock with a fair unlock.
        fn unlock_fair;
    }
}

guard! {
    /// A guard for a part of a read-locked [`RwLock`]'s data.
    pub struct MappedRwLockReadGuard of RwLock by hooks in Shared;
    methods {
        /// A guard for a part of this part.
        fn map -> MappedRwLockReadGuard, &;
    }
}

guard! {
    /// A guard for a part of a write-locked [`RwLock`]'s data.
    pub struct MappedRwLockWriteGuard of RwLock by hooks in Exclusive, DerefMut;
    methods {
        /// A guard for a part of this part.
        fn map -> MappedRwLockWriteGuard, &mut;
    }
}
