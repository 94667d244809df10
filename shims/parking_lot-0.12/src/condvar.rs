//! The instrumented condition variable, for the stand-in's `MutexGuard`.

use std::fmt;
use std::time::{Duration, Instant};

use lockscan::Mode;
use lockscan::instrument::CondvarHooks;

use crate::{MutexGuard, RawMutex};

pub use lockscan::raw::WaitTimeoutResult;

/// A condition variable (instrumented): a wait records the release and re-acquisition of its
/// mutex, and a wait while holding other locks is reported.
pub struct Condvar {
    inner: lockscan::raw::Condvar,
    hooks: CondvarHooks,
}

impl Condvar {
    /// Creates a new condition variable which is ready to be waited on and notified.
    #[track_caller]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            inner: lockscan::raw::Condvar::new(),
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

    /// Blocks the current thread until this condition variable receives a notification.
    #[track_caller]
    #[inline]
    pub fn wait<T: ?Sized>(&self, mutex_guard: &mut MutexGuard<'_, T>) {
        self.wait_until_internal(mutex_guard, None);
    }

    /// Waits on this condition variable for a notification, timing out after the specified
    /// time instant.
    #[track_caller]
    #[inline]
    pub fn wait_until<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        timeout: Instant,
    ) -> WaitTimeoutResult {
        self.wait_until_internal(mutex_guard, Some(timeout))
    }

    /// Waits on this condition variable for a notification, timing out after a specified
    /// duration.
    #[track_caller]
    #[inline]
    pub fn wait_for<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        let deadline = Instant::now().checked_add(timeout);
        self.wait_until_internal(mutex_guard, deadline)
    }

    /// Blocks the current thread until this condition variable receives a notification and
    /// the provided condition is false.
    #[track_caller]
    #[inline]
    pub fn wait_while<T, F>(&self, mutex_guard: &mut MutexGuard<'_, T>, mut condition: F)
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *mutex_guard) {
            self.wait_until_internal(mutex_guard, None);
        }
    }

    /// Waits on this condition variable for a notification while the condition holds, timing
    /// out after the specified time instant (the condition is checked once more then).
    #[track_caller]
    #[inline]
    pub fn wait_while_until<T, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Instant,
    ) -> WaitTimeoutResult
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_internal(mutex_guard, condition, Some(timeout))
    }

    /// Waits on this condition variable for a notification while the condition holds, timing
    /// out after the specified duration.
    #[track_caller]
    #[inline]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(timeout);
        self.wait_while_until_internal(mutex_guard, condition, deadline)
    }

    #[track_caller]
    fn wait_while_until_internal<T, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        timeout: Option<Instant>,
    ) -> WaitTimeoutResult
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        let mut result = WaitTimeoutResult::default();
        while !result.timed_out() && condition(&mut *mutex_guard) {
            result = self.wait_until_internal(mutex_guard, timeout);
        }
        result
    }

    #[track_caller]
    fn wait_until_internal<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        timeout: Option<Instant>,
    ) -> WaitTimeoutResult {
        // SAFETY: the raw mutex is only used to release and re-take the lock that this guard
        // holds, as a condition variable must; the guard stays borrowed throughout.
        let raw: &RawMutex = unsafe { MutexGuard::mutex(mutex_guard).raw() };
        raw.hooks.release_for_wait(&self.hooks);
        // SAFETY: this thread holds `raw.inner` (through the guard); `wait_raw` releases it
        // while waiting and holds it again when it returns.
        let result = unsafe { self.inner.wait_raw(&raw.inner, timeout) };
        raw.hooks.relocked(Mode::Exclusive);
        result
    }
}

impl Default for Condvar {
    #[track_caller]
    #[inline]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
