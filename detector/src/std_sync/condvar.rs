//! [`Condvar`], with std's API, for the [`MutexGuard`]s of this module.

use std::fmt;
use std::panic::Location;
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::MutexGuard;
use crate::raw::{OnTimeout, deadline_after, wait_while};

/// Whether a timed wait returned because its time ran out: std's type of the same name
/// (`std::sync::WaitTimeoutResult` has no public constructor, so this is lockscan's, with the
/// same method).
pub use crate::sync::WaitTimeoutResult;

/// A condition variable with `std::sync::Condvar`'s API, recorded as
/// [`lockscan::Condvar`](crate::Condvar) is: a wait while holding other locks is reported.
///
/// ```
/// use lockscan::std_sync::{Arc, Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     *pair2.0.lock().unwrap() = true;
///     pair2.1.notify_one();
/// });
/// let ready = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// ```
pub struct Condvar {
    inner: crate::Condvar,
}

impl Condvar {
    /// Creates a condition variable.
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            inner: crate::Condvar::new(),
        }
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiting thread.
    #[track_caller]
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }

    /// Blocks until notified, releasing the guard's mutex meanwhile; `Err` with the guard
    /// inside if the mutex is poisoned when the thread wakes up. Spurious wake-ups happen, as
    /// with std's: check the condition in a loop, or use [`wait_while`](Self::wait_while).
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
    ) -> LockResult<MutexGuard<'a, T>> {
        self.inner.wait(&mut guard.inner);
        guard.poison().result(guard)
    }

    /// Blocks while `condition` holds for the data, re-checking after every wake-up.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) with the guard inside if the mutex is poisoned
    /// at a wake-up.
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        guard: MutexGuard<'a, T>,
        condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_at(guard, condition, None, Location::caller())
            .map(|(guard, _)| guard)
            .map_err(|poisoned| PoisonError::new(poisoned.into_inner().0))
    }

    /// Blocks until notified or until `timeout` has passed.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) with the guard and the result inside if the
    /// mutex is poisoned when the thread wakes up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lockscan::std_sync::{Condvar, Mutex};
    ///
    /// let (queue, arrived) = (Mutex::new(0), Condvar::new());
    /// let guard = queue.lock().unwrap();
    /// let (guard, result) = arrived.wait_timeout(guard, Duration::from_millis(1)).unwrap();
    /// assert!(result.timed_out()); // nobody notified
    /// assert_eq!(*guard, 0);
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let result = self.inner.wait_for(&mut guard.inner, timeout);
        let poison = guard.poison();
        poison.result((guard, result))
    }

    /// Blocks while `condition` holds, for at most `timeout` in all. The result says whether
    /// the time ran out with the condition still holding.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) with the guard and the result inside if the
    /// mutex is poisoned at a wake-up.
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
        condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_at(
            guard,
            condition,
            deadline_after(timeout),
            Location::caller(),
        )
    }

    /// Waits while `condition` holds, until `deadline` (`None`: no deadline), with std's
    /// answer: after the time runs out the condition is checked once more, and the wait timed
    /// out only if it still holds. A poisoned mutex at a wake-up ends the wait with an `Err`.
    fn wait_while_at<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
        deadline: Option<Instant>,
        site: &'static Location<'static>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let poison = guard.poison();
        let answer = wait_while(
            &mut guard,
            |guard| condition(&mut **guard),
            OnTimeout::CheckAgain,
            |guard| {
                // As std: no wait once the time has run out.
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok(true);
                }
                let timed_out = self
                    .inner
                    .wait_at(&mut guard.inner, deadline, site)
                    .timed_out();
                if poison.get() {
                    Err(timed_out)
                } else {
                    Ok(timed_out)
                }
            },
        );
        match answer {
            Ok(timed_out) => Ok((guard, WaitTimeoutResult::new(timed_out))),
            Err(timed_out) => Err(PoisonError::new((guard, WaitTimeoutResult::new(timed_out)))),
        }
    }
}

crate::sync::default_at_caller!(Condvar);

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
