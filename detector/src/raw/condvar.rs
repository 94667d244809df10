//! [`Condvar`]: a condition variable for [`MutexGuard`]s, on `parking_lot_core`.
//!
//! Waiters park on the condition variable's address. The mutex is released only after the
//! waiter is in the queue (in `park`'s before-sleep callback), so a notification sent by a thread
//! that took the mutex after the waiter released it always finds the waiter. The condition
//! variable remembers the mutex its current waiters use, to detect (and panic on) a second one.
//!
//! Simplification relative to parking_lot: a notification wakes the waiters, which then lock
//! the mutex again themselves; parking_lot instead moves them onto the mutex's queue
//! (`unpark_requeue`) so that `notify_all` does not wake every waiter at once only for all but
//! one of them to block on the mutex. The results are the same, only slower under contention.

use std::convert::Infallible;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use parking_lot_core::{DEFAULT_PARK_TOKEN, DEFAULT_UNPARK_TOKEN, FilterOp, ParkResult};

use super::{MutexGuard, RawMutex};

/// parking_lot's `Condvar` API for the `lock_api` 0.4 guards of a raw mutex, inside the
/// condition variable's `impl`: `condvar_api!([G] Raw)`, where `Raw` is the raw mutex type
/// (generic over `G` if named) and the `impl` has `wait_with(guard, deadline, site)`, one wait
/// (recorded at `site` by an instrumented condition variable); the wait-while methods loop
/// over it in [`wait_while_parking_lot`].
macro_rules! condvar_api {
    ([$($G:ident)?] $Raw:ty) => {
        /// Blocks until notified, releasing the guard's mutex meanwhile and locking it again
        /// before returning.
        ///
        /// # Panics
        ///
        /// If other threads wait on this condition variable with another mutex.
        #[track_caller]
        #[inline]
        pub fn wait<$($G,)? T: ?Sized>(&self, mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>) {
            self.wait_with(mutex_guard, None, ::std::panic::Location::caller());
        }

        /// Blocks until notified or until `timeout` is reached, like [`wait`](Self::wait).
        #[track_caller]
        #[inline]
        pub fn wait_until<$($G,)? T: ?Sized>(
            &self,
            mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>,
            timeout: Instant,
        ) -> WaitTimeoutResult {
            self.wait_with(mutex_guard, Some(timeout), ::std::panic::Location::caller())
        }

        /// Blocks until notified or for at most `timeout`, like [`wait`](Self::wait). A
        /// timeout beyond the clock's range waits forever.
        #[track_caller]
        #[inline]
        pub fn wait_for<$($G,)? T: ?Sized>(
            &self,
            mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>,
            timeout: Duration,
        ) -> WaitTimeoutResult {
            let deadline = $crate::raw::deadline_after(timeout);
            self.wait_with(mutex_guard, deadline, ::std::panic::Location::caller())
        }

        /// Blocks while `condition` returns true for the protected data, waiting for a
        /// notification before each re-check.
        #[track_caller]
        #[inline]
        pub fn wait_while<$($G,)? T, F>(
            &self,
            mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>,
            condition: F,
        ) where
            T: ?Sized,
            F: FnMut(&mut T) -> bool,
        {
            $crate::raw::condvar_api!(@while self, mutex_guard, condition, None);
        }

        /// Blocks while `condition` returns true, until `timeout` at most. As in parking_lot,
        /// a wait that timed out returns `timed_out() == true` at once, without checking the
        /// condition again.
        #[track_caller]
        #[inline]
        pub fn wait_while_until<$($G,)? T, F>(
            &self,
            mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>,
            condition: F,
            timeout: Instant,
        ) -> WaitTimeoutResult
        where
            T: ?Sized,
            F: FnMut(&mut T) -> bool,
        {
            $crate::raw::condvar_api!(@while self, mutex_guard, condition, Some(timeout))
        }

        /// Blocks while `condition` returns true, for at most `timeout` in all, like
        /// [`wait_while_until`](Self::wait_while_until).
        #[track_caller]
        #[inline]
        pub fn wait_while_for<$($G,)? T, F>(
            &self,
            mutex_guard: &mut lock_api::MutexGuard<'_, $Raw, T>,
            condition: F,
            timeout: Duration,
        ) -> WaitTimeoutResult
        where
            T: ?Sized,
            F: FnMut(&mut T) -> bool,
        {
            let deadline = $crate::raw::deadline_after(timeout);
            $crate::raw::condvar_api!(@while self, mutex_guard, condition, deadline)
        }
    };
    // The wait-while loop, in a `#[track_caller]` method: every wait is recorded at its caller.
    (@while $self:ident, $guard:ident, $condition:ident, $deadline:expr) => {{
        let (site, deadline, mut condition) = (::std::panic::Location::caller(), $deadline, $condition);
        $crate::raw::wait_while_parking_lot(
            $guard,
            |guard| condition(&mut **guard),
            |guard| $self.wait_with(guard, deadline, site),
        )
    }};
}
pub(crate) use condvar_api;

/// Whether a wait on a [`Condvar`] ended because its timeout elapsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout elapsed, not because of a notification.
    #[inline]
    pub fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable with parking_lot's API: waits take the [`MutexGuard`] of the mutex that
/// protects the condition, release the mutex while blocked and hold it again on return.
///
/// Waits can wake spuriously, so wait in a loop or with [`wait_while`](Self::wait_while). All
/// waiters at a given time must use the same mutex; a wait with another one panics.
///
/// A notification wakes the waiters, which then lock the mutex again themselves; parking_lot's
/// moves them onto the mutex's queue instead, which saves wake-ups when `notify_all` wakes many.
pub struct Condvar {
    /// The mutex of the current waiters, null when there are none (or a notification emptied
    /// the queue). Changed under the queue lock only, except for reads.
    mutex: AtomicPtr<()>,
}

impl Condvar {
    /// Creates a condition variable with no waiters.
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            mutex: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The address waiters park on.
    fn key(&self) -> usize {
        super::parking::key(self)
    }

    /// Wakes one waiting thread, if any. Returns whether one was woken.
    #[inline]
    pub fn notify_one(&self) -> bool {
        // No waiter registered its mutex: nobody to wake. A waiter that a notifier must see
        // registered it before releasing the mutex that the notifier then took.
        if self.mutex.load(Ordering::Relaxed).is_null() {
            return false;
        }
        let callback = |result: parking_lot_core::UnparkResult| {
            if !result.have_more_threads {
                self.mutex.store(ptr::null_mut(), Ordering::Relaxed);
            }
            DEFAULT_UNPARK_TOKEN
        };
        // SAFETY: the key is this condition variable's address, used only by it; the callback
        // neither panics nor calls into parking_lot_core.
        let result = unsafe { parking_lot_core::unpark_one(self.key(), callback) };
        result.unparked_threads != 0
    }

    /// Wakes every waiting thread. Returns how many were woken.
    #[inline]
    pub fn notify_all(&self) -> usize {
        if self.mutex.load(Ordering::Relaxed).is_null() {
            return 0;
        }
        // `unpark_filter` rather than `unpark_all` for its callback, which forgets the waiters'
        // mutex under the queue lock, atomically with emptying the queue.
        let callback = |_| {
            self.mutex.store(ptr::null_mut(), Ordering::Relaxed);
            DEFAULT_UNPARK_TOKEN
        };
        // SAFETY: the key is this condition variable's address, used only by it; the filter and
        // the callback neither panic nor call into parking_lot_core.
        let result =
            unsafe { parking_lot_core::unpark_filter(self.key(), |_| FilterOp::Unpark, callback) };
        result.unparked_threads
    }

    condvar_api!([] RawMutex);

    /// Waits with the guard's mutex until notified or until `deadline` (`None`: no deadline);
    /// `site` is for the instrumented condition variables' records.
    #[inline]
    fn wait_with<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
        _site: &'static std::panic::Location<'static>,
    ) -> WaitTimeoutResult {
        // SAFETY: the guard holds the mutex and stays borrowed throughout.
        unsafe { self.wait_raw(raw_mutex(mutex_guard), deadline) }
    }

    /// Waits with `mutex`, any raw mutex, locked by the caller: parks, releasing it once in
    /// the queue, and locks it again after waking (or timing out at `deadline`). For a mutex
    /// that wraps another (an instrumented one), pass the inner one and record around the call.
    ///
    /// # Safety
    ///
    /// The calling thread must hold `mutex`, and nothing may use the data it protects until
    /// this returns (it holds the mutex again then).
    ///
    /// # Panics
    ///
    /// If other threads wait on this condition variable with another mutex (before `mutex` is
    /// released).
    pub unsafe fn wait_raw<M: lock_api::RawMutex>(
        &self,
        mutex: &M,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult {
        let mutex_ptr = ptr::from_ref(mutex).cast_mut().cast::<()>();
        let mut bad_mutex = false;
        let result = {
            // Under the queue lock: register the waiters' mutex, or refuse a second one.
            let validate = || {
                let current = self.mutex.load(Ordering::Relaxed);
                if current.is_null() {
                    self.mutex.store(mutex_ptr, Ordering::Relaxed);
                } else if current != mutex_ptr {
                    bad_mutex = true;
                    return false;
                }
                true
            };
            // In the queue now: a notifier that takes the mutex after this will find us.
            let before_sleep = || {
                // SAFETY: the caller holds the mutex (`wait_raw`'s contract), and it is locked
                // again below before the caller can use what it protects.
                unsafe { mutex.unlock() }
            };
            // The last waiter to time out forgets the mutex, as a notification would have.
            let timed_out = |_key: usize, was_last: bool| {
                if was_last {
                    self.mutex.store(ptr::null_mut(), Ordering::Relaxed);
                }
            };
            // SAFETY: the key is this condition variable's address, used only by it; validate
            // and timed_out neither panic nor call into parking_lot_core; before_sleep only
            // unlocks a mutex, which may unpark (allowed there) but neither parks nor panics.
            unsafe {
                parking_lot_core::park(
                    self.key(),
                    validate,
                    before_sleep,
                    timed_out,
                    DEFAULT_PARK_TOKEN,
                    deadline,
                )
            }
        };
        // Validation failed before the mutex was released: the guard is still valid.
        if bad_mutex {
            panic!("attempted to use a condition variable with more than one mutex");
        }
        mutex.lock();
        WaitTimeoutResult(result == ParkResult::TimedOut)
    }
}

/// What a timed wait-while answers when its time runs out with the condition still holding at
/// its last check: each public condition variable keeps the answer of the API it mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// parking_lot's: timed out, without checking the condition again.
    TimedOut,
    /// std's (`wait_timeout_while`): the condition is checked once more, and the wait timed
    /// out only if it still holds.
    CheckAgain,
}

/// The one condition-variable wait-while loop of lockscan's condition variables: while
/// `condition` holds for `guard`, `wait`s (until a deadline the caller's `wait` knows), which
/// says whether it timed out or fails (a poisoned mutex, for std's API). Returns whether the
/// wait timed out, as `on_timeout` says.
pub fn wait_while<Guard: ?Sized, E>(
    guard: &mut Guard,
    mut condition: impl FnMut(&mut Guard) -> bool,
    on_timeout: OnTimeout,
    mut wait: impl FnMut(&mut Guard) -> Result<bool, E>,
) -> Result<bool, E> {
    while condition(guard) {
        if wait(guard)? {
            return Ok(match on_timeout {
                OnTimeout::TimedOut => true,
                OnTimeout::CheckAgain => condition(guard),
            });
        }
    }
    Ok(false)
}

/// The wait-while loop of every condition variable with parking_lot's API
/// ([`OnTimeout::TimedOut`]): while `condition` holds for `guard`, `wait`s once.
pub(crate) fn wait_while_parking_lot<Guard: ?Sized>(
    guard: &mut Guard,
    condition: impl FnMut(&mut Guard) -> bool,
    mut wait: impl FnMut(&mut Guard) -> WaitTimeoutResult,
) -> WaitTimeoutResult {
    let timed_out = wait_while(guard, condition, OnTimeout::TimedOut, |guard| {
        Ok::<_, Infallible>(wait(guard).timed_out())
    });
    WaitTimeoutResult(timed_out.unwrap_or_else(|never| match never {}))
}

/// The raw mutex under `guard`, with the guard's lifetime rather than the borrow's.
pub(crate) fn raw_mutex<'a, R: lock_api::RawMutex, T: ?Sized>(
    guard: &lock_api::MutexGuard<'a, R, T>,
) -> &'a R {
    // SAFETY: `raw` is unsafe because unlocking through it would invalidate the guard; the
    // condition variable unlocks only while it holds the guard's `&mut`, and locks again before
    // returning it.
    unsafe { lock_api::MutexGuard::mutex(guard).raw() }
}

/// `Default` (made at the caller's location) and `Debug` (`Condvar { .. }`, as parking_lot's)
/// for a condition variable type with a `#[track_caller]` constructor `new`.
macro_rules! condvar_impls {
    ($Condvar:ident) => {
        impl Default for $Condvar {
            #[track_caller]
            #[inline]
            fn default() -> $Condvar {
                $Condvar::new()
            }
        }

        impl ::std::fmt::Debug for $Condvar {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad("Condvar { .. }")
            }
        }
    };
}
pub(crate) use condvar_impls;

condvar_impls!(Condvar);

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::super::{Mutex, MutexGuard, wait_until_true};
    use super::{Condvar, WaitTimeoutResult};

    const LIMIT: Duration = Duration::from_secs(60);

    /// Has a thread wait with `wait` for a flag under a mutex, then sets the flag and wakes it
    /// with one `notify_one`, which must find it queued.
    fn wake_one_waiter(
        condvar: &Condvar,
        wait: impl Fn(&Condvar, &mut MutexGuard<'_, bool>) + Sync,
    ) {
        let mutex = Mutex::new(false);
        let (tx, rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(|| {
                let mut ready = mutex.lock();
                tx.send(()).unwrap();
                while !*ready {
                    wait(condvar, &mut ready);
                }
            });
            rx.recv().unwrap();
            // The waiter releases the mutex only by parking: once we hold it, it is queued.
            let mut ready = mutex.lock();
            *ready = true;
            assert!(condvar.notify_one());
        });
    }

    #[test]
    fn notify_one_wakes_a_waiter() {
        let condvar = Condvar::new();
        assert!(!condvar.notify_one(), "nobody waits yet");
        wake_one_waiter(&condvar, |condvar, ready| condvar.wait(ready));
        assert!(!condvar.notify_one(), "the queue is empty again");
    }

    #[test]
    fn notify_all_wakes_every_waiter() {
        const WAITERS: usize = 3;
        let mutex = Mutex::new(false);
        let condvar = Condvar::new();
        let parked = AtomicUsize::new(0);
        let woken = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..WAITERS {
                s.spawn(|| {
                    let mut go = mutex.lock();
                    parked.fetch_add(1, Ordering::SeqCst);
                    condvar.wait_while(&mut go, |go| !*go);
                    woken.fetch_add(1, Ordering::SeqCst);
                });
            }
            // Each waiter counted itself under the mutex and then released it only by parking:
            // once all counted and the mutex is free, all are in the queue.
            wait_until_true("all waiters park", || {
                parked.load(Ordering::SeqCst) == WAITERS && !mutex.is_locked()
            });
            let mut go = mutex.lock();
            *go = true;
            assert_eq!(condvar.notify_all(), WAITERS);
            drop(go);
        });
        assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
        assert_eq!(condvar.notify_all(), 0);
        assert!(!condvar.notify_one());
    }

    #[test]
    fn wait_for_times_out_and_keeps_the_mutex() {
        let mutex = Mutex::new(5);
        let condvar = Condvar::new();
        let mut guard = mutex.lock();
        let result = condvar.wait_for(&mut guard, Duration::from_millis(10));
        assert!(result.timed_out());
        assert!(mutex.is_locked());
        *guard += 1;
        let result = condvar.wait_until(&mut guard, Instant::now());
        assert!(result.timed_out());
        drop(guard);
        assert_eq!(*mutex.lock(), 6);
        // The timed-out waiter forgot its mutex: another mutex may be used now.
        let other = Mutex::new(());
        let mut other_guard = other.lock();
        assert!(
            condvar
                .wait_for(&mut other_guard, Duration::ZERO)
                .timed_out()
        );
    }

    #[test]
    fn wait_for_is_woken_before_its_timeout() {
        wake_one_waiter(&Condvar::new(), |condvar, ready| {
            assert!(!condvar.wait_for(ready, LIMIT).timed_out());
        });
    }

    #[test]
    fn wait_while_variants() {
        let mutex = Mutex::new(0);
        let condvar = Condvar::new();
        thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..10 {
                    *mutex.lock() += 1;
                    condvar.notify_all();
                    thread::yield_now();
                }
            });
            let mut count = mutex.lock();
            condvar.wait_while(&mut count, |count| *count < 5);
            assert!(*count >= 5);
            let result = condvar.wait_while_for(&mut count, |count| *count < 10, LIMIT);
            assert_eq!(result, WaitTimeoutResult(false));
            assert_eq!(*count, 10);
        });
        let mut count = mutex.lock();
        // A condition that never changes: times out.
        let result = condvar.wait_while_for(&mut count, |_| true, Duration::from_millis(5));
        assert!(result.timed_out());
        let result = condvar.wait_while_until(&mut count, |_| true, Instant::now());
        assert!(result.timed_out());
        // As in parking_lot, a timed-out wait returns without checking the condition again.
        let mut checks = 0;
        let result = condvar.wait_while_for(
            &mut count,
            |_| {
                checks += 1;
                checks == 1
            },
            Duration::ZERO,
        );
        assert!(result.timed_out());
        assert_eq!(checks, 1);
        // A condition that is false from the start does not wait at all.
        let result = condvar.wait_while_until(&mut count, |_| false, Instant::now());
        assert!(!result.timed_out());
    }

    #[test]
    fn a_second_mutex_panics() {
        let first = Mutex::new(());
        let second = Mutex::new(());
        let condvar = Condvar::new();
        thread::scope(|s| {
            s.spawn(|| {
                let mut guard = first.lock();
                condvar.wait_for(&mut guard, LIMIT);
            });
            // It registers its mutex, then releases it once queued.
            wait_until_true("the first waiter parks", || {
                !condvar.mutex.load(Ordering::SeqCst).is_null() && !first.is_locked()
            });
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut guard = second.lock();
                condvar.wait_for(&mut guard, LIMIT);
            }));
            assert!(panicked.is_err());
            // The panicking wait released its mutex through its guard.
            assert!(!second.is_locked());
            assert_eq!(condvar.notify_all(), 1);
        });
    }

    #[test]
    fn debug_and_default() {
        assert_eq!(format!("{:?}", Condvar::default()), "Condvar { .. }");
        assert_eq!(
            format!("{:?}", WaitTimeoutResult(true)),
            "WaitTimeoutResult(true)"
        );
    }
}
