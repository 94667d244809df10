//! [`Condvar`], with std's API, for the [`MutexGuard`]s of this module.

use std::fmt;
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::MutexGuard;

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
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
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
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        // A timeout beyond the clock's range never runs out.
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult::new(false)));
            }
            guard = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok((guard, WaitTimeoutResult::new(true)));
                    }
                    self.wait_timeout(guard, left)?.0
                }
                None => self.wait(guard).map_err(|e| {
                    PoisonError::new((e.into_inner(), WaitTimeoutResult::new(false)))
                })?,
            };
        }
    }
}

crate::sync::default_at_caller!(Condvar);

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
