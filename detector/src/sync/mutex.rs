//! [`Mutex`] and its guards.

use std::borrow::Cow;
use std::fmt;
use std::ops::DerefMut;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::{LockKind, Mode};
use crate::runtime::LockMeta;
use crate::sync::{guard_impls, into_parts};

/// A mutual-exclusion lock with parking_lot's API that records its acquisitions.
///
/// Locking it while holding other lockscan locks records lock-order edges; an edge that closes
/// a cycle is reported before the thread blocks, and a thread about to block in a real
/// deadlock (or on a mutex it already holds) is reported instead of hanging.
///
/// ```
/// use lockscan::Mutex;
///
/// static COUNTER: Mutex<u32> = Mutex::new(0);
///
/// *COUNTER.lock() += 1;
/// let account = Mutex::named("account:ACC001", 100_u64);
/// *account.lock() -= 30;
/// assert_eq!(account.into_inner(), 70);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(crate) meta: LockMeta,
    pub(crate) inner: crate::raw::Mutex<T>,
}

/// Creates a mutex in a `const` context, like `parking_lot::const_mutex`.
#[track_caller]
pub const fn const_mutex<T>(value: T) -> Mutex<T> {
    Mutex::new(value)
}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex. Its class, used in reports, is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            meta: LockMeta::new(LockKind::Mutex, Location::caller()),
            inner: crate::raw::Mutex::new(value),
        }
    }

    /// Creates an unlocked mutex with a name that every report uses, such as
    /// `"account:ACC001"`. Each distinct name is stored once for the life of the program.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex {
            meta: LockMeta::named(LockKind::Mutex, Location::caller(), name.into()),
            inner: crate::raw::Mutex::new(value),
        }
    }

    /// Declares the lock's rank: while holding a lock of rank `r`, a thread may only acquire
    /// locks of rank higher than `r`. An acquisition against the ranks is an `order-violation`
    /// finding at once, before any cycle exists. [`lock_all`](crate::lock_all) takes ranked
    /// locks in rank order. Ranks are checked only while detection is on.
    ///
    /// ```
    /// let accounts = lockscan::Mutex::new(()).with_rank(1);
    /// let log = lockscan::Mutex::new(()).with_rank(2);
    /// assert_eq!(accounts.rank(), if lockscan::is_active() { Some(1) } else { None });
    /// ```
    #[must_use]
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.meta.set_rank(rank);
        self
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is free.
    ///
    /// # Panics
    ///
    /// With the default policy, when this acquisition closes a lock-order cycle; whatever the
    /// policy, when the thread already holds this mutex or this wait would complete a deadlock,
    /// since then the lock can never be acquired.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Exclusive,
            false,
            Location::caller(),
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
        MutexGuard { mutex: self, inner }
    }

    /// Acquires the mutex if it is free right now.
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock()
            })?;
        Some(MutexGuard { mutex: self, inner })
    }

    /// Acquires the mutex, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock_for(timeout)
            })?;
        Some(MutexGuard { mutex: self, inner })
    }

    /// Acquires the mutex, waiting until `deadline` at most.
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock_until(deadline)
            })?;
        Some(MutexGuard { mutex: self, inner })
    }

    /// The declared rank, if any (always `None` when detection is off).
    pub fn rank(&self) -> Option<u32> {
        self.meta.rank()
    }

    /// Whether some thread holds the mutex.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// The lock's place in lockscan's global order: assigned on first use from a counter,
    /// stable for the life of the lock. Always 0 when detection is off.
    pub fn sequence(&self) -> u64 {
        self.meta.sequence()
    }

    /// The data, through exclusive access to the mutex: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// A raw pointer to the data.
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }

    /// Unlocks a mutex whose guard was leaked with [`std::mem::forget`].
    ///
    /// # Safety
    ///
    /// The mutex must be locked by the current thread through a guard that was forgotten.
    pub unsafe fn force_unlock(&self) {
        self.meta.release(Mode::Exclusive);
        // SAFETY: the caller guarantees the mutex is locked by this thread's forgotten guard.
        unsafe { self.inner.force_unlock() }
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks (and records the release) when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    pub(crate) inner: crate::raw::MutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub fn mutex(s: &Self) -> &'a Mutex<T> {
        s.mutex
    }

    pub(crate) fn meta(s: &Self) -> &'a LockMeta {
        &s.mutex.meta
    }

    /// A guard for a part of the data; the mutex stays locked until that guard drops.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        MappedMutexGuard {
            meta: &mutex.meta,
            inner: crate::raw::MutexGuard::map(inner, f),
        }
    }

    /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        match crate::raw::MutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedMutexGuard {
                meta: &mutex.meta,
                inner,
            }),
            Err(inner) => Err(MutexGuard { mutex, inner }),
        }
    }

    /// Unlocks the mutex while `f` runs, then locks it again.
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.mutex.meta;
        meta.release(Mode::Exclusive);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Exclusive, Location::caller());
        crate::raw::MutexGuard::unlocked(&mut s.inner, f)
    }

    /// Unlocks the mutex handing it to a waiting thread, if any (a fair unlock).
    pub fn unlock_fair(s: Self) {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        mutex.meta.release(Mode::Exclusive);
        crate::raw::MutexGuard::unlock_fair(inner);
    }

    /// Like [`unlocked`](Self::unlocked), with a fair unlock.
    #[track_caller]
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.mutex.meta;
        meta.release(Mode::Exclusive);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Exclusive, Location::caller());
        crate::raw::MutexGuard::unlocked_fair(&mut s.inner, f)
    }

    /// Lets a waiting thread take the mutex, if any, then locks it again.
    #[track_caller]
    pub fn bump(s: &mut Self) {
        let meta = &s.mutex.meta;
        meta.release(Mode::Exclusive);
        crate::raw::MutexGuard::bump(&mut s.inner);
        meta.relocked(Mode::Exclusive, Location::caller());
    }

    /// Leaks the guard: the mutex stays locked for good, and lockscan keeps it as held.
    pub fn leak(s: Self) -> &'a mut T {
        let (_mutex, inner) = into_parts!(s, mutex, inner);
        crate::raw::MutexGuard::leak(inner)
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

/// A guard for a part of a locked mutex's data, made by [`MutexGuard::map`].
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    meta: &'a LockMeta,
    inner: crate::raw::MappedMutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// A guard for a part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (meta, inner) = into_parts!(s, meta, inner);
        MappedMutexGuard {
            meta,
            inner: crate::raw::MappedMutexGuard::map(inner, f),
        }
    }

    /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (meta, inner) = into_parts!(s, meta, inner);
        match crate::raw::MappedMutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedMutexGuard { meta, inner }),
            Err(inner) => Err(MappedMutexGuard { meta, inner }),
        }
    }

    /// Unlocks the mutex handing it to a waiting thread, if any.
    pub fn unlock_fair(s: Self) {
        let (meta, inner) = into_parts!(s, meta, inner);
        meta.release(Mode::Exclusive);
        crate::raw::MappedMutexGuard::unlock_fair(inner);
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

guard_impls!(MutexGuard, Mode::Exclusive, |g| g.mutex.meta);
guard_impls!(MappedMutexGuard, Mode::Exclusive, |g| g.meta);
