//! [`Condvar`], working with lockscan's [`MutexGuard`].

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::Mode;
use crate::runtime::CondvarMeta;
use crate::sync::MutexGuard;

/// Whether a timed wait returned because its time ran out (parking_lot's type of the same
/// name and method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub(crate) fn new(timed_out: bool) -> Self {
        WaitTimeoutResult(timed_out)
    }

    /// Whether the wait timed out.
    pub fn timed_out(self) -> bool {
        self.0
    }
}

impl From<crate::raw::WaitTimeoutResult> for WaitTimeoutResult {
    fn from(result: crate::raw::WaitTimeoutResult) -> Self {
        WaitTimeoutResult(result.timed_out())
    }
}

/// A condition variable with parking_lot's API, for lockscan's [`MutexGuard`].
///
/// Waiting releases the mutex and takes it again on wake-up, and lockscan records both. A wait
/// while the thread holds other locks is reported (`wait-while-holding`): the thread that would
/// notify may need one of them.
///
/// ```
/// use std::sync::Arc;
/// use lockscan::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     *pair2.0.lock() = true;
///     pair2.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// pair.1.wait_while(&mut ready, |ready| !*ready);
/// assert!(*ready);
/// ```
pub struct Condvar {
    meta: CondvarMeta,
    inner: crate::raw::Condvar,
}

impl Condvar {
    /// Creates a condition variable.
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            meta: CondvarMeta::new(Location::caller()),
            inner: crate::raw::Condvar::new(),
        }
    }

    /// Wakes one waiting thread; returns whether one was woken.
    #[track_caller]
    pub fn notify_one(&self) -> bool {
        self.meta.notified(false, Location::caller());
        self.inner.notify_one()
    }

    /// Wakes every waiting thread; returns how many were woken.
    #[track_caller]
    pub fn notify_all(&self) -> usize {
        self.meta.notified(true, Location::caller());
        self.inner.notify_all()
    }

    /// Blocks until notified, releasing the guard's mutex meanwhile.
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        let site = Location::caller();
        self.around_wait(guard, site, |inner| self.inner.wait(inner));
    }

    /// Blocks until notified or until `timeout` has passed.
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        let site = Location::caller();
        self.around_wait(guard, site, |inner| self.inner.wait_for(inner, timeout))
            .into()
    }

    /// Blocks until notified or until `deadline`.
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let site = Location::caller();
        self.around_wait(guard, site, |inner| self.inner.wait_until(inner, deadline))
            .into()
    }

    /// Blocks while `condition` holds for the data, re-checking after every wake-up.
    #[track_caller]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut MutexGuard<'_, T>, mut condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        let site = Location::caller();
        while condition(&mut **guard) {
            self.around_wait(guard, site, |inner| self.inner.wait(inner));
        }
    }

    /// Blocks while `condition` holds, for at most `timeout` in all.
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let site = Location::caller();
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_while_until_at(guard, condition, deadline, site),
            // A timeout beyond the clock's range never runs out.
            None => {
                let mut condition = condition;
                while condition(&mut **guard) {
                    self.around_wait(guard, site, |inner| self.inner.wait(inner));
                }
                WaitTimeoutResult(false)
            }
        }
    }

    /// Blocks while `condition` holds, until `deadline` at most.
    #[track_caller]
    pub fn wait_while_until<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        deadline: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_at(guard, condition, deadline, Location::caller())
    }

    fn wait_while_until_at<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Instant,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut **guard) {
            let result =
                self.around_wait(guard, site, |inner| self.inner.wait_until(inner, deadline));
            if result.timed_out() {
                // Like parking_lot: the condition is checked once more after the timeout.
                return WaitTimeoutResult(condition(&mut **guard));
            }
        }
        WaitTimeoutResult(false)
    }

    /// Records the release before parking_lot releases the mutex, and the re-acquisition after.
    fn around_wait<T: ?Sized, R>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        site: &'static Location<'static>,
        wait: impl FnOnce(&mut crate::raw::MutexGuard<'_, T>) -> R,
    ) -> R {
        let meta = MutexGuard::meta(guard);
        meta.before_wait(site);
        meta.release_for_wait(&self.meta, site);
        let result = wait(&mut guard.inner);
        meta.relocked(Mode::Exclusive, site);
        result
    }
}

crate::sync::default_at_caller!(Condvar);

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
