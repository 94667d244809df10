//! [`ReentrantMutex`] and its guards.

use std::borrow::Cow;
use std::fmt;

use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::{LockKind, Mode};
use crate::runtime::LockMeta;
use crate::sync::{guard_impls, into_parts};

/// A mutex that the thread holding it may lock again, with parking_lot's API. Re-acquiring it
/// adds no lock-order edge; the first acquisition does.
///
/// ```
/// use lockscan::ReentrantMutex;
///
/// fn depth(lock: &ReentrantMutex<()>, n: u32) -> u32 {
///     let _guard = lock.lock();
///     if n == 0 { 0 } else { 1 + depth(lock, n - 1) }
/// }
/// assert_eq!(depth(&ReentrantMutex::new(()), 5), 5);
/// ```
pub struct ReentrantMutex<T: ?Sized> {
    meta: LockMeta,
    inner: crate::raw::ReentrantMutex<T>,
}

/// Creates a re-entrant mutex in a `const` context.
#[track_caller]
pub const fn const_reentrant_mutex<T>(value: T) -> ReentrantMutex<T> {
    ReentrantMutex::new(value)
}

impl<T> ReentrantMutex<T> {
    /// Creates an unlocked re-entrant mutex. Its class is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> ReentrantMutex<T> {
        ReentrantMutex {
            meta: LockMeta::new(LockKind::Reentrant, Location::caller()),
            inner: crate::raw::ReentrantMutex::new(value),
        }
    }

    /// Creates an unlocked re-entrant mutex with a name that every report uses.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> ReentrantMutex<T> {
        ReentrantMutex {
            meta: LockMeta::named(LockKind::Reentrant, Location::caller(), name.into()),
            inner: crate::raw::ReentrantMutex::new(value),
        }
    }

    /// Declares the lock's rank: while holding a lock of rank `r`, a thread may only acquire
    /// locks of rank higher than `r`. An acquisition against the ranks is an `order-violation`
    /// finding at once, before any cycle exists. [`lock_all`](crate::lock_all) takes ranked
    /// locks in rank order. Ranks are checked only while detection is on.
    ///
    /// ```
    /// let accounts = lockscan::ReentrantMutex::new(()).with_rank(1);
    /// let log = lockscan::ReentrantMutex::new(()).with_rank(2);
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

impl<T: ?Sized> ReentrantMutex<T> {
    /// Acquires the mutex, blocking until it is free or returning at once when this thread
    /// holds it already.
    #[track_caller]
    pub fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        let inner = self.meta.lock(
            Mode::Exclusive,
            true,
            Location::caller(),
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
        ReentrantMutexGuard { mutex: self, inner }
    }

    /// Acquires the mutex if it is free, or held by this thread, right now.
    #[track_caller]
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock()
            })?;
        Some(ReentrantMutexGuard { mutex: self, inner })
    }

    /// Acquires the mutex, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock_for(timeout)
            })?;
        Some(ReentrantMutexGuard { mutex: self, inner })
    }

    /// Acquires the mutex, waiting until `deadline` at most.
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<ReentrantMutexGuard<'_, T>> {
        let inner = self
            .meta
            .try_lock(Mode::Exclusive, Location::caller(), || {
                self.inner.try_lock_until(deadline)
            })?;
        Some(ReentrantMutexGuard { mutex: self, inner })
    }

    /// The declared rank, if any (always `None` when detection is off).
    pub fn rank(&self) -> Option<u32> {
        self.meta.rank()
    }

    /// Whether some thread holds the mutex.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether the current thread holds the mutex.
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.inner.is_owned_by_current_thread()
    }

    /// The data, through exclusive access to the mutex.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// A raw pointer to the data.
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    #[track_caller]
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Shared access to the data of a locked [`ReentrantMutex`].
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct ReentrantMutexGuard<'a, T: ?Sized> {
    mutex: &'a ReentrantMutex<T>,
    inner: crate::raw::ReentrantMutexGuard<'a, T>,
}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub fn remutex(s: &Self) -> &'a ReentrantMutex<T> {
        s.mutex
    }

    /// A guard for a part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedReentrantMutexGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        MappedReentrantMutexGuard {
            meta: &mutex.meta,
            inner: crate::raw::ReentrantMutexGuard::map(inner, f),
        }
    }

    /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedReentrantMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        match crate::raw::ReentrantMutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedReentrantMutexGuard {
                meta: &mutex.meta,
                inner,
            }),
            Err(inner) => Err(ReentrantMutexGuard { mutex, inner }),
        }
    }

    /// Releases this hold while `f` runs (the mutex is free only if it was the last one), then
    /// takes it again.
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        let meta = &s.mutex.meta;
        meta.release(Mode::Exclusive);
        // Recorded as held again even if `f` panics: parking_lot takes the lock again then too.
        let _relock = meta.relock_on_drop(Mode::Exclusive, Location::caller());
        crate::raw::ReentrantMutexGuard::unlocked(&mut s.inner, f)
    }

    /// Releases this hold with a fair unlock.
    pub fn unlock_fair(s: Self) {
        let (mutex, inner) = into_parts!(s, mutex, inner);
        mutex.meta.release(Mode::Exclusive);
        crate::raw::ReentrantMutexGuard::unlock_fair(inner);
    }
}

/// A guard for a part of a locked [`ReentrantMutex`]'s data.
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct MappedReentrantMutexGuard<'a, T: ?Sized> {
    meta: &'a LockMeta,
    inner: crate::raw::MappedReentrantMutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MappedReentrantMutexGuard<'a, T> {
    /// A guard for a part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedReentrantMutexGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let (meta, inner) = into_parts!(s, meta, inner);
        MappedReentrantMutexGuard {
            meta,
            inner: crate::raw::MappedReentrantMutexGuard::map(inner, f),
        }
    }
}

guard_impls!(ReentrantMutexGuard, Mode::Exclusive, |g| g.mutex.meta);
guard_impls!(MappedReentrantMutexGuard, Mode::Exclusive, |g| g.meta);
