//! [`RwLock`] and its guards, with std's API.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
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

// As in std (see `Mutex`).
impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

impl<T> RwLock<T> {
    /// Creates an unlocked lock. Its class, used in reports, is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            poison: Flag::new(),
            inner: crate::RwLock::new(value),
        }
    }

    /// Creates an unlocked lock with a name that every report uses.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock {
            poison: Flag::new(),
            inner: crate::RwLock::named(name, value),
        }
    }

    /// Declares the lock's rank, as [`crate::RwLock::with_rank`] does.
    #[must_use]
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.inner.meta.set_rank(rank);
        self
    }

    /// Consumes the lock and returns the data; `Err` with the data inside if it is poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let RwLock { poison, inner } = self;
        poison.result(inner.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Acquires shared read access, blocking while a writer holds the lock; `Err` with the
    /// guard inside if it is poisoned.
    ///
    /// # Panics
    ///
    /// As [`crate::RwLock::read`].
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let inner = self.inner.read();
        self.poison.result(RwLockReadGuard { inner })
    }

    /// Acquires shared read access if no writer holds the lock right now.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] when a writer holds it, [`TryLockError::Poisoned`] (with
    /// the guard) when it is poisoned.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let inner = self.inner.try_read().ok_or(TryLockError::WouldBlock)?;
        Ok(self.poison.result(RwLockReadGuard { inner })?)
    }

    /// Acquires exclusive write access, blocking until no one else holds the lock; `Err` with
    /// the guard inside if it is poisoned.
    ///
    /// # Panics
    ///
    /// As [`crate::RwLock::write`].
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let inner = self.inner.write();
        self.poison.result(RwLockWriteGuard::new(self, inner))
    }

    /// Acquires exclusive write access if no one holds the lock right now.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] when it is held, [`TryLockError::Poisoned`] (with the
    /// guard) when it is poisoned.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let inner = self.inner.try_write().ok_or(TryLockError::WouldBlock)?;
        Ok(self.poison.result(RwLockWriteGuard::new(self, inner))?)
    }
}

poison_api!(RwLock);

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        // The raw lock, as std and parking_lot do: formatting is not an acquisition to record.
        match self.inner.inner.try_read() {
            Some(data) => d.field("data", &&*data),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

/// Shared access to the data of an [`RwLock`]. A read guard never poisons the lock (as in std).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: crate::RwLockReadGuard<'a, T>,
}

/// Exclusive access to the data of an [`RwLock`]; poisons the lock if dropped during a panic.
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

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.done(&self.panicking);
    }
}

macro_rules! format_impls {
    ($guard:ident) => {
        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

format_impls!(RwLockReadGuard);
format_impls!(RwLockWriteGuard);
