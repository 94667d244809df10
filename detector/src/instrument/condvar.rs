//! The instrumented condition variable: lockscan's hooks around lockscan's uninstrumented
//! condition variable, with parking_lot's API for the `lock_api` guards of the instrumented
//! [`RawMutex`].

use std::panic::Location;
use std::time::{Duration, Instant};

use lock_api::MutexGuard;

use super::{CondvarHooks, RawMutex};
use crate::ids::Mode;
use crate::raw::{WaitTimeoutResult, raw_mutex, wait_while_parking_lot};

/// A condition variable lockscan sees, with parking_lot's API: a wait records the release and
/// re-acquisition of its mutex, and a wait while holding other locks is reported
/// (`wait-while-holding`).
///
/// ```
/// use lockscan::instrument::{Condvar, RawMutex};
///
/// let (ready, changed) = (lock_api::Mutex::<RawMutex, bool>::new(false), Condvar::new());
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         *ready.lock() = true;
///         changed.notify_one();
///     });
///     let mut guard = ready.lock();
///     changed.wait_while(&mut guard, |ready| !*ready);
/// });
/// ```
pub struct Condvar {
    inner: crate::raw::Condvar,
    hooks: CondvarHooks,
}

impl Condvar {
    /// Creates a condition variable made at the caller's location.
    #[track_caller]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            inner: crate::raw::Condvar::new(),
            hooks: CondvarHooks::new(),
        }
    }

    /// Wakes up one blocked thread on this condvar; returns whether a thread was woken up.
    #[track_caller]
    #[inline]
    pub fn notify_one(&self) -> bool {
        self.hooks.notified(false);
        self.inner.notify_one()
    }

    /// Wakes up all blocked threads on this condvar; returns the number of threads woken up.
    #[track_caller]
    #[inline]
    pub fn notify_all(&self) -> usize {
        self.hooks.notified(true);
        self.inner.notify_all()
    }

    crate::raw::condvar_api!([G] RawMutex<G>);

    /// Waits with `mutex`, held by this thread, until notified or until `deadline` (`None`:
    /// no deadline): records the release, waits on the uninstrumented condition variable
    /// (which releases the mutex once in its queue and takes it again), records the
    /// re-acquisition. For a shell whose guards are not `lock_api` 0.4's.
    ///
    /// # Safety
    ///
    /// This thread holds `mutex`, and nothing uses the data it protects until this returns
    /// (it holds the mutex again then).
    ///
    /// # Panics
    ///
    /// If other threads wait on this condition variable with another mutex.
    #[track_caller]
    pub unsafe fn wait_on<G>(
        &self,
        mutex: &RawMutex<G>,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult {
        // SAFETY: as this function's contract.
        unsafe { self.wait_at(mutex, deadline, Location::caller()) }
    }

    /// Waits with `mutex` while `condition` holds, until `deadline` at most (`None`: no
    /// deadline), as parking_lot's `wait_while_until` does: a wait that times out returns
    /// `timed_out() == true` without checking the condition again. `condition` reads the
    /// data through the caller's guard. For a shell whose guards are not `lock_api` 0.4's.
    ///
    /// # Safety
    ///
    /// As [`wait_on`](Self::wait_on).
    #[track_caller]
    pub unsafe fn wait_while_on<G>(
        &self,
        mutex: &RawMutex<G>,
        deadline: Option<Instant>,
        mut condition: impl FnMut() -> bool,
    ) -> WaitTimeoutResult {
        let site = Location::caller();
        wait_while_parking_lot(
            &mut (),
            |()| condition(),
            // SAFETY: as this function's contract.
            |()| unsafe { self.wait_at(mutex, deadline, site) },
        )
    }

    /// [`wait_on`](Self::wait_on), recorded at `site`.
    unsafe fn wait_at<G>(
        &self,
        mutex: &RawMutex<G>,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult {
        mutex.hooks().release_for_wait_at(&self.hooks, site);
        // SAFETY: this thread holds the mutex (the caller's contract); `wait_raw` releases the
        // uninstrumented one under the hooks while waiting and holds it again on return.
        let result = unsafe { self.inner.wait_raw(mutex.uninstrumented(), deadline) };
        mutex.hooks().relocked_at(Mode::Exclusive, site);
        result
    }

    fn wait_with<G, T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, RawMutex<G>, T>,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult {
        // SAFETY: the guard holds the mutex, and stays borrowed throughout.
        unsafe { self.wait_at(raw_mutex(mutex_guard), deadline, site) }
    }
}

crate::raw::condvar_impls!(Condvar);
