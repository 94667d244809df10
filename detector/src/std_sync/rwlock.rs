//! [`RwLock`] and its guards, with std's API.

use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::{Flag, Panicking};

/// A reader-writer lock with `std::sync::RwLock`'s API, poisoning included, that records its
/// acquisitions as [`lockscan::RwLock`](crate::RwLock) does.
///
/// A read lock taken again by a thread that already holds one is reported: with a writer
/// queued in between, std's lock (like parking_lot's) can deadlock there.
///
/// ```
/// use lockscan::std_sync::RwLock;
///
/// let config = RwLock::named("std:config", vec![1, 2]);
/// assert_eq!(config.read().unwrap().len(), 2);
/// config.write().unwrap().push(3);
/// assert_eq!(*config.read().unwrap(), [1, 2, 3]);
/// ```
pub struct RwLock<T: ?Sized> {
    poison: Flag,
    inner: crate::RwLock<T>,
}

constructors! { RwLock;
    /// Creates an unlocked lock. Its class, used in reports, is the caller's location.
    fn new;
    /// Creates an unlocked lock with a name that every report uses.
    ///
    /// ```
    /// let hosts = lockscan::std_sync::RwLock::named("std:hosts", vec!["a"]);
    /// hosts.write().unwrap().push("b");
    /// assert_eq!(hosts.read().unwrap().len(), 2);
    /// ```
    fn named;
    /// Consumes the lock and returns the data; `Err` with the data inside if it is poisoned.
    fn into_inner;
}

impl<T: ?Sized> RwLock<T> {
    acquisitions! {
        /// Acquires shared read access, blocking while a writer holds the lock; `Err` with the
        /// guard inside if it is poisoned.
        ///
        /// # Panics
        ///
        /// As [`crate::RwLock::read`].
        fn read,
        /// Acquires shared read access if no writer holds the lock right now.
        ///
        /// # Errors
        ///
        /// [`TryLockError::WouldBlock`] when a writer holds it, [`TryLockError::Poisoned`] (with
        /// the guard) when it is poisoned.
        fn try_read -> RwLockReadGuard(_, inner => RwLockReadGuard { inner });
    }

    acquisitions! {
        /// Acquires exclusive write access, blocking until no one else holds the lock; `Err` with
        /// the guard inside if it is poisoned.
        ///
        /// # Panics
        ///
        /// As [`crate::RwLock::write`].
        fn write,
        /// Acquires exclusive write access if no one holds the lock right now.
        ///
        /// # Errors
        ///
        /// [`TryLockError::WouldBlock`] when it is held, [`TryLockError::Poisoned`] (with the
        /// guard) when it is poisoned.
        fn try_write ->
            RwLockWriteGuard(lock, inner => RwLockWriteGuard::new(lock, inner));
    }
}

poison_api!(RwLock, try_read);

/// Shared access to the data of an [`RwLock`]. A read guard never poisons the lock (as in std).
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind};
/// use lockscan::std_sync::RwLock;
///
/// let table = RwLock::new(vec![1]);
/// let _ = catch_unwind(AssertUnwindSafe(|| {
///     let _reader = table.read().unwrap();
///     panic!("a reader panics");
/// }));
/// assert!(!table.is_poisoned());
/// assert_eq!(table.read().unwrap().len(), 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: crate::RwLockReadGuard<'a, T>,
}

/// Exclusive access to the data of an [`RwLock`]; poisons the lock if dropped during a panic.
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind};
/// use lockscan::std_sync::RwLock;
///
/// let table = RwLock::new(vec![1]);
/// let _ = catch_unwind(AssertUnwindSafe(|| {
///     table.write().unwrap().push(2);
///     let _writer = table.write().unwrap();
///     panic!("a writer panics");
/// }));
/// assert!(table.is_poisoned());
/// assert_eq!(table.read().unwrap_err().into_inner().len(), 2);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    panicking: Panicking,
    // Dropped after `Drop::drop` has set the poison flag: the next holder sees it.
    inner: crate::RwLockWriteGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>, inner: crate::RwLockWriteGuard<'a, T>) -> Self {
        RwLockWriteGuard {
            lock,
            panicking: lock.poison.guard(),
            inner,
        }
    }
}

guard_impls!(RwLockReadGuard);
guard_impls!(RwLockWriteGuard, poisons through lock);
