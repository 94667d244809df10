//! [`Condvar`], working with lockscan's [`MutexGuard`].

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::ids::Mode;
use crate::instrument::CondvarHooks;
use crate::raw::wait_while_parking_lot;
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
    hooks: CondvarHooks,
    inner: crate::raw::Condvar,
}

impl Condvar {
    /// Creates a condition variable.
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            hooks: CondvarHooks::new(),
            inner: crate::raw::Condvar::new(),
        }
    }

    /// Wakes one waiting thread; returns whether one was woken.
    #[track_caller]
    pub fn notify_one(&self) -> bool {
        self.hooks.notified_at(false, Location::caller());
        self.inner.notify_one()
    }

    /// Wakes every waiting thread; returns how many were woken.
    #[track_caller]
    pub fn notify_all(&self) -> usize {
        self.hooks.notified_at(true, Location::caller());
        self.inner.notify_all()
    }

    /// Blocks until notified, releasing the guard's mutex meanwhile.
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_at(guard, None, Location::caller());
    }

    /// Blocks until notified or until `timeout` has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lockscan::{Condvar, Mutex};
    ///
    /// let (jobs, arrived) = (Mutex::new(0), Condvar::new());
    /// let mut count = jobs.lock();
    /// // Nobody notifies: the wait times out, holding the mutex again.
    /// let result = arrived.wait_for(&mut count, Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// *count += 1;
    /// ```
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_at(
            guard,
            crate::raw::deadline_after(timeout),
            Location::caller(),
        )
    }

    /// Blocks until notified or until `deadline`.
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        self.wait_at(guard, Some(deadline), Location::caller())
    }

    /// Blocks while `condition` holds for the data, re-checking after every wake-up.
    #[track_caller]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut MutexGuard<'_, T>, condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_at(guard, condition, None, Location::caller());
    }

    /// Blocks while `condition` holds, for at most `timeout` in all; after a timeout it answers
    /// `timed_out() == true` without checking the condition again, as parking_lot does.
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
        let deadline = crate::raw::deadline_after(timeout);
        self.wait_while_at(guard, condition, deadline, Location::caller())
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
        self.wait_while_at(guard, condition, Some(deadline), Location::caller())
    }

    /// Waits while `condition` holds, until `deadline` (`None`: no deadline). As parking_lot's,
    /// a wait that times out answers `timed_out() == true` without checking the condition again.
    #[track_caller]
    fn wait_while_at<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let result = wait_while_parking_lot(
            guard,
            |guard| condition(&mut **guard),
            |guard| self.wait_raw_at(guard, deadline, site),
        );
        result.into()
    }

    /// Waits until notified or until `deadline` (`None`: no deadline), recording the release
    /// before the raw condition variable releases the mutex, and the re-acquisition after.
    #[track_caller]
    pub(crate) fn wait_at<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult {
        self.wait_raw_at(guard, deadline, site).into()
    }

    /// [`wait_at`](Self::wait_at), with the raw condition variable's result.
    fn wait_raw_at<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> crate::raw::WaitTimeoutResult {
        let hooks = MutexGuard::hooks(guard);
        hooks.release_for_wait_at(&self.hooks, site);
        let result = match deadline {
            Some(deadline) => self.inner.wait_until(&mut guard.inner, deadline),
            None => {
                self.inner.wait(&mut guard.inner);
                crate::raw::WaitTimeoutResult::default()
            }
        };
        hooks.relocked_at(Mode::Exclusive, site);
        result
    }
}

crate::sync::default_at_caller!(Condvar);

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
