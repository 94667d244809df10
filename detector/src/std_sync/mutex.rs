//! [`Mutex`] and [`MutexGuard`], with std's API.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::{Flag, Panicking};

/// A mutual-exclusion lock with `std::sync::Mutex`'s API, poisoning included, that records its
/// acquisitions as [`lockscan::Mutex`](crate::Mutex) does.
///
/// ```
/// use lockscan::std_sync::Mutex;
///
/// static HITS: Mutex<u32> = Mutex::new(0);
///
/// *HITS.lock().unwrap() += 1;
/// let account = Mutex::named("std:account", 100_u64);
/// *account.lock().unwrap() -= 30;
/// assert_eq!(account.into_inner().unwrap(), 70);
/// ```
pub struct Mutex<T: ?Sized> {
    poison: Flag,
    pub(super) inner: crate::Mutex<T>,
}

// As in std: a lock that a panic left in the middle of an update says so (poisoning), so
// catching the panic and going on is not silently unsafe.
impl<T: ?Sized> UnwindSafe for Mutex<T> {}
impl<T: ?Sized> RefUnwindSafe for Mutex<T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex. Its class, used in reports, is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            poison: Flag::new(),
            inner: crate::Mutex::new(value),
        }
    }

    /// Creates an unlocked mutex with a name that every report uses, such as
    /// `"account:ACC001"`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex {
            poison: Flag::new(),
            inner: crate::Mutex::named(name, value),
        }
    }

    /// Declares the lock's rank, as [`crate::Mutex::with_rank`] does.
    #[must_use]
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.inner.meta.set_rank(rank);
        self
    }

    /// Consumes the mutex and returns the data; `Err` with the data inside if it is poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let Mutex { poison, inner } = self;
        poison.result(inner.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is free; `Err` with the guard inside if it is
    /// poisoned.
    ///
    /// # Panics
    ///
    /// As [`crate::Mutex::lock`]: with the default policy, when this acquisition closes a
    /// lock-order cycle; whatever the policy, when the thread already holds this mutex (std
    /// may deadlock or panic then) or this wait would complete a deadlock.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let inner = self.inner.lock();
        self.poison.result(MutexGuard::new(self, inner))
    }

    /// Acquires the mutex if it is free right now.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] when another holder has it, [`TryLockError::Poisoned`]
    /// (with the guard) when it is poisoned.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let inner = self.inner.try_lock().ok_or(TryLockError::WouldBlock)?;
        Ok(self.poison.result(MutexGuard::new(self, inner))?)
    }
}

poison_api!(Mutex);

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        // The raw lock, as std and parking_lot do: formatting is not an acquisition to record.
        match self.inner.inner.try_lock() {
            Some(data) => d.field("data", &&*data),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped, and poisons the mutex if
/// dropped during a panic.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    panicking: Panicking,
    // Dropped after `Drop::drop` has set the poison flag: the next holder sees it.
    pub(super) inner: crate::MutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    fn new(mutex: &'a Mutex<T>, inner: crate::MutexGuard<'a, T>) -> Self {
        MutexGuard {
            mutex,
            panicking: mutex.poison.guard(),
            inner,
        }
    }

    /// The poison flag of its mutex, for a condition variable's wake-up.
    pub(super) fn poison(&self) -> &'a Flag {
        &self.mutex.poison
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.poison.done(&self.panicking);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
