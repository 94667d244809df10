//! [`ReentrantMutex`] and its guards.

use std::time::{Duration, Instant};

use crate::instrument::LockHooks;
use crate::sync::{guard, lock_impls, lock_methods};

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
    hooks: LockHooks,
    inner: crate::raw::ReentrantMutex<T>,
}

/// Creates a re-entrant mutex in a `const` context.
///
/// ```
/// use lockscan::{ReentrantMutex, const_reentrant_mutex};
///
/// static LOG: ReentrantMutex<()> = const_reentrant_mutex(());
/// let outer = LOG.lock();
/// let inner = LOG.lock(); // the same thread: no deadlock
/// assert!(LOG.is_owned_by_current_thread());
/// # drop((inner, outer));
/// ```
#[track_caller]
pub const fn const_reentrant_mutex<T>(value: T) -> ReentrantMutex<T> {
    ReentrantMutex::new(value)
}

impl<T> ReentrantMutex<T> {
    lock_methods! { ReentrantMutex, Reentrant;
        /// Creates an unlocked re-entrant mutex. Its class is the caller's location.
        fn new;
        /// Creates an unlocked re-entrant mutex with a name that every report uses.
        ///
        /// ```
        /// let console = lockscan::ReentrantMutex::named("doc:console", String::new());
        /// let _outer = console.lock();
        /// assert_eq!(console.lock().len(), 0);
        /// ```
        fn named;
        fn with_rank;
        /// Consumes the mutex and returns the data.
        fn into_inner;
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    lock_methods! { ReentrantMutex, Reentrant;
        /// Acquires the mutex, blocking until it is free or returning at once when this thread
        /// holds it already.
        fn lock -> ReentrantMutexGuard: blocks_recursively(Exclusive, try_lock);
        /// Acquires the mutex if it is free, or held by this thread, right now.
        fn try_lock -> ReentrantMutexGuard: tries(Exclusive);
        /// Acquires the mutex, waiting at most `timeout`.
        fn try_lock_for(timeout: Duration) -> ReentrantMutexGuard: tries(Exclusive);
        /// Acquires the mutex, waiting until `deadline` at most.
        fn try_lock_until(deadline: Instant) -> ReentrantMutexGuard: tries(Exclusive);
        fn rank;
        /// Whether some thread holds the mutex.
        fn is_locked;
    }

    /// Whether the current thread holds the mutex.
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.inner.is_owned_by_current_thread()
    }

    lock_methods! { ReentrantMutex, Reentrant;
        /// The data, through exclusive access to the mutex.
        fn get_mut;
        fn data_ptr;
    }
}

lock_impls!(ReentrantMutex);

guard! {
    /// Shared access to the data of a locked [`ReentrantMutex`].
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use lockscan::{ReentrantMutex, ReentrantMutexGuard};
    ///
    /// let log = ReentrantMutex::new(RefCell::new(Vec::new()));
    /// let guard = log.lock();
    /// guard.borrow_mut().push("shared access: mutate through a RefCell");
    /// assert!(std::ptr::eq(ReentrantMutexGuard::remutex(&guard), &log));
    /// assert_eq!(log.lock().borrow().len(), 1);
    /// ```
    pub struct ReentrantMutexGuard of ReentrantMutex by lock in Exclusive;
    /// The mutex this guard holds.
    fn remutex;
    methods {
        /// A guard for a part of the data.
        ///
        /// ```
        /// use std::cell::Cell;
        /// use lockscan::{ReentrantMutex, ReentrantMutexGuard};
        ///
        /// let stats = ReentrantMutex::new((Cell::new(0), Cell::new(0)));
        /// let hits = ReentrantMutexGuard::map(stats.lock(), |stats| &stats.0);
        /// hits.set(hits.get() + 1);
        /// drop(hits);
        /// assert_eq!(stats.lock().0.get(), 1);
        /// ```
        fn map -> MappedReentrantMutexGuard, &;
        /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
        fn try_map -> MappedReentrantMutexGuard, &;
        /// Releases this hold while `f` runs (the mutex is free only if it was the last one), then
        /// takes it again.
        fn unlocked;
        /// Releases this hold with a fair unlock.
        fn unlock_fair;
    }
}

guard! {
    /// A guard for a part of a locked [`ReentrantMutex`]'s data.
    pub struct MappedReentrantMutexGuard of ReentrantMutex by hooks in Exclusive;
    methods {
        /// A guard for a part of this part.
        fn map -> MappedReentrantMutexGuard, &;
    }
}
