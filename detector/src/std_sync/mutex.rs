//! [`Mutex`] and [`MutexGuard`], with std's API.

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

constructors! { Mutex;
    /// Creates an unlocked mutex. Its class, used in reports, is the caller's location.
    fn new;
    /// Creates an unlocked mutex with a name that every report uses, such as
    /// `"account:ACC001"`.
    ///
    /// ```
    /// let account = lockscan::std_sync::Mutex::named("std:ACC001", 100);
    /// assert_eq!(*account.lock().unwrap(), 100);
    /// ```
    fn named;
    /// Consumes the mutex and returns the data; `Err` with the data inside if it is poisoned.
    fn into_inner;
}

impl<T: ?Sized> Mutex<T> {
    acquisitions! {
        /// Acquires the mutex, blocking until it is free; `Err` with the guard inside if it is
        /// poisoned.
        ///
        /// # Panics
        ///
        /// As [`crate::Mutex::lock`]: with the default policy, when this acquisition closes a
        /// lock-order cycle; whatever the policy, when the thread already holds this mutex (std
        /// may deadlock or panic then) or this wait would complete a deadlock.
        ///
        /// ```
        /// use std::panic::{AssertUnwindSafe, catch_unwind};
        /// use lockscan::std_sync::Mutex;
        ///
        /// let total = Mutex::new(10);
        /// // A panic while the guard is held poisons the mutex.
        /// let _ = catch_unwind(AssertUnwindSafe(|| {
        ///     let _guard = total.lock().unwrap();
        ///     panic!("interrupted mid-update");
        /// }));
        /// let guard = total.lock().unwrap_err().into_inner(); // the data is still there
        /// assert_eq!(*guard, 10);
        /// drop(guard);
        /// total.clear_poison();
        /// assert!(total.lock().is_ok());
        /// ```
        fn lock,
        /// Acquires the mutex if it is free right now.
        ///
        /// # Errors
        ///
        /// [`TryLockError::WouldBlock`] when another holder has it, [`TryLockError::Poisoned`]
        /// (with the guard) when it is poisoned.
        fn try_lock -> MutexGuard(lock, inner => MutexGuard::new(lock, inner));
    }
}

poison_api!(Mutex, try_lock);

/// Access to the data of a locked [`Mutex`]; unlocks when dropped, and poisons the mutex if
/// dropped during a panic.
///
/// ```
/// use lockscan::std_sync::{Mutex, MutexGuard};
///
/// let queue = Mutex::new(Vec::new());
/// let mut guard: MutexGuard<'_, Vec<u32>> = queue.lock().unwrap();
/// guard.push(1);
/// drop(guard);
/// assert_eq!(queue.into_inner().unwrap(), [1]);
/// ```
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

guard_impls!(MutexGuard, poisons through mutex);
