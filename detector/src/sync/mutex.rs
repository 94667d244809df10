//! [`Mutex`] and its guards.

use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::Mode;
use crate::instrument::LockHooks;
use crate::sync::{guard, guard_methods, into_parts, lock_impls, lock_methods};

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
    pub(crate) hooks: LockHooks,
    pub(crate) inner: crate::raw::Mutex<T>,
}

/// Creates a mutex in a `const` context, like `parking_lot::const_mutex`.
///
/// ```
/// use lockscan::{Mutex, const_mutex};
///
/// static REQUESTS: Mutex<u64> = const_mutex(0);
/// *REQUESTS.lock() += 1;
/// assert_eq!(*REQUESTS.lock(), 1);
/// ```
#[track_caller]
pub const fn const_mutex<T>(value: T) -> Mutex<T> {
    Mutex::new(value)
}

impl<T> Mutex<T> {
    lock_methods! { Mutex, Mutex;
        /// Creates an unlocked mutex. Its class, used in reports, is the caller's location.
        fn new;
        /// Creates an unlocked mutex with a name that every report uses, such as
        /// `"account:ACC001"`. Each distinct name is stored once for the life of the program.
        ///
        /// ```
        /// let account = lockscan::Mutex::named(format!("account:{}", "ACC001"), 100_u64);
        /// *account.lock() -= 30;
        /// assert_eq!(*account.lock(), 70);
        /// ```
        fn named;
        fn with_rank;
        /// Consumes the mutex and returns the data.
        fn into_inner;
    }
}

impl<T: ?Sized> Mutex<T> {
    lock_methods! { Mutex, Mutex;
        /// Acquires the mutex, blocking until it is free.
        ///
        /// # Panics
        ///
        /// With the default policy, when this acquisition closes a lock-order cycle; whatever the
        /// policy, when the thread already holds this mutex or this wait would complete a deadlock,
        /// since then the lock can never be acquired.
        fn lock -> MutexGuard: blocks(Exclusive, try_lock);
        /// Acquires the mutex if it is free right now.
        ///
        /// ```
        /// let mutex = lockscan::Mutex::new(1);
        /// let guard = mutex.try_lock().unwrap();
        /// std::thread::scope(|s| {
        ///     s.spawn(|| assert!(mutex.try_lock().is_none()));
        /// });
        /// drop(guard);
        /// assert!(mutex.try_lock().is_some());
        /// ```
        fn try_lock -> MutexGuard: tries(Exclusive);
        /// Acquires the mutex, waiting at most `timeout`.
        fn try_lock_for(timeout: Duration) -> MutexGuard: tries(Exclusive);
        /// Acquires the mutex, waiting until `deadline` at most.
        fn try_lock_until(deadline: Instant) -> MutexGuard: tries(Exclusive);
        fn rank;
        /// Whether some thread holds the mutex.
        fn is_locked;
    }

    /// The lock's place in lockscan's global order: assigned on first use from a counter,
    /// stable for the life of the lock. Always 0 when detection is off.
    pub fn sequence(&self) -> u64 {
        self.hooks.sequence()
    }

    lock_methods! { Mutex, Mutex;
        /// The data, through exclusive access to the mutex: no locking needed.
        fn get_mut;
        fn data_ptr;
    }

    /// Unlocks a mutex whose guard was leaked with [`std::mem::forget`].
    ///
    /// # Safety
    ///
    /// The mutex must be locked by the current thread through a guard that was forgotten.
    pub unsafe fn force_unlock(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller guarantees the mutex is locked by this thread's forgotten guard.
        unsafe { self.inner.force_unlock() }
    }
}

lock_impls!(Mutex);

guard! {
    /// Access to the data of a locked [`Mutex`]; unlocks (and records the release) when dropped.
    ///
    /// ```
    /// use lockscan::{Mutex, MutexGuard};
    ///
    /// let names = Mutex::new(vec!["a"]);
    /// let mut guard: MutexGuard<'_, Vec<&str>> = names.lock();
    /// guard.push("b"); // DerefMut to the data
    /// assert!(std::ptr::eq(MutexGuard::mutex(&guard), &names));
    /// drop(guard);
    /// assert!(!names.is_locked());
    /// ```
    pub struct MutexGuard of Mutex by lock in Exclusive, DerefMut;
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub fn mutex(s: &Self) -> &'a Mutex<T> {
        s.lock
    }

    pub(crate) fn hooks(s: &Self) -> &'a LockHooks {
        &s.lock.hooks
    }

    guard_methods! { MutexGuard by lock in Exclusive;
        /// A guard for a part of the data; the mutex stays locked until that guard drops.
        ///
        /// ```
        /// use lockscan::{Mutex, MutexGuard};
        ///
        /// let point = Mutex::new((1, 2));
        /// let mut y = MutexGuard::map(point.lock(), |point| &mut point.1);
        /// *y += 10;
        /// assert!(point.is_locked());
        /// drop(y);
        /// assert_eq!(*point.lock(), (1, 12));
        /// ```
        fn map -> MappedMutexGuard, &mut;
        /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
        ///
        /// ```
        /// use lockscan::{Mutex, MutexGuard};
        ///
        /// let names = Mutex::new(vec!["a".to_string()]);
        /// let missing = MutexGuard::try_map(names.lock(), |names| names.get_mut(5));
        /// let guard = missing.unwrap_err(); // the guard comes back, still locked
        /// let mut first = MutexGuard::try_map(guard, |names| names.first_mut()).unwrap();
        /// first.push('b');
        /// drop(first);
        /// assert_eq!(names.lock()[0], "ab");
        /// ```
        fn try_map -> MappedMutexGuard, &mut;
        /// Unlocks the mutex while `f` runs, then locks it again.
        ///
        /// ```
        /// use lockscan::{Mutex, MutexGuard};
        ///
        /// let queue = Mutex::new(vec![1]);
        /// let mut guard = queue.lock();
        /// // Another thread may take the mutex meanwhile: here, to push a job.
        /// MutexGuard::unlocked(&mut guard, || {
        ///     std::thread::scope(|s| {
        ///         s.spawn(|| queue.lock().push(2));
        ///     });
        /// });
        /// assert_eq!(*guard, [1, 2]);
        /// ```
        fn unlocked;
        /// Unlocks the mutex handing it to a waiting thread, if any (a fair unlock).
        fn unlock_fair;
        /// Like [`unlocked`](Self::unlocked), with a fair unlock.
        fn unlocked_fair;
    }

    /// Lets a waiting thread take the mutex, if any, then locks it again.
    #[track_caller]
    pub fn bump(s: &mut Self) {
        let hooks = &s.lock.hooks;
        hooks.release(Mode::Exclusive);
        crate::raw::MutexGuard::bump(&mut s.inner);
        hooks.relocked_at(Mode::Exclusive, Location::caller());
    }

    /// Leaks the guard: the mutex stays locked for good, and lockscan keeps it as held.
    pub fn leak(s: Self) -> &'a mut T {
        let (_lock, inner) = into_parts!(s, lock, inner);
        crate::raw::MutexGuard::leak(inner)
    }
}

guard! {
    /// A guard for a part of a locked mutex's data, made by [`MutexGuard::map`].
    ///
    /// ```
    /// use lockscan::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let grid = Mutex::new([[0; 3]; 3]);
    /// let row = MutexGuard::map(grid.lock(), |grid| &mut grid[1]);
    /// let mut cell = MappedMutexGuard::map(row, |row| &mut row[2]);
    /// *cell = 9;
    /// drop(cell);
    /// assert_eq!(grid.lock()[1][2], 9);
    /// ```
    pub struct MappedMutexGuard of Mutex by hooks in Exclusive, DerefMut;
    methods {
        /// A guard for a part of this part.
        fn map -> MappedMutexGuard, &mut;
        /// Like [`map`](Self::map), giving the guard back when `f` returns `None`.
        fn try_map -> MappedMutexGuard, &mut;
        /// Unlocks the mutex handing it to a waiting thread, if any.
        fn unlock_fair;
    }
}
