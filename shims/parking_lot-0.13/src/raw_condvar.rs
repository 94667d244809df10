//! The instrumented raw condition variable, for lock_api 0.5's `Condvar` over the stand-in's
//! `RawMutex`: a newtype over `lockscan::instrument::Condvar`, whose waits on a raw mutex record
//! the release and re-acquisition and report a wait while holding other locks.

use std::fmt;
use std::time::{Duration, Instant};

use crate::{GuardMarker, RawMutex};

/// A raw condition variable (instrumented).
///
/// Waits return on a notification or a timeout only, and the notifications say how many
/// waiters they woke. All waiters at a given time must use the same mutex; a wait with another
/// one panics (before it releases its mutex).
pub struct RawCondvar(lockscan::instrument::Condvar);

// SAFETY: the core's `wait_on` releases the mutex only once the waiter is queued (a
// notification after the release finds it) and holds it again before returning, also when a
// wait with a second mutex panics (it panics before releasing); a report that unwinds after
// the wait does so with the mutex held again and the stateless guard marker untouched.
unsafe impl lock_api::RawCondvar for RawCondvar {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawCondvar(lockscan::instrument::Condvar::new());

    type RawMutex = RawMutex;

    #[track_caller]
    unsafe fn wait(&self, mutex: &RawMutex, _guard: &mut GuardMarker) {
        // SAFETY: the caller holds `mutex` (this method's contract is `wait_on`'s).
        unsafe { self.0.wait_on(&mutex.0, None) };
    }

    #[track_caller]
    #[inline]
    fn notify_one(&self) -> bool {
        self.0.notify_one()
    }

    #[track_caller]
    #[inline]
    fn notify_all(&self) -> usize {
        self.0.notify_all()
    }
}

// SAFETY: as for `RawCondvar` above.
unsafe impl lock_api::RawCondvarTimed for RawCondvar {
    fn checked_duration_to_instant(timeout: &Duration) -> Option<Instant> {
        lockscan::raw::deadline_after(*timeout)
    }

    #[track_caller]
    unsafe fn wait_until(
        &self,
        mutex: &RawMutex,
        _guard: &mut GuardMarker,
        timeout: &Instant,
    ) -> bool {
        // SAFETY: as in `wait`.
        unsafe { self.0.wait_on(&mutex.0, Some(*timeout)) }.timed_out()
    }

    #[track_caller]
    unsafe fn wait_for(
        &self,
        mutex: &RawMutex,
        _guard: &mut GuardMarker,
        timeout: &Duration,
    ) -> bool {
        let deadline = Self::checked_duration_to_instant(timeout);
        // SAFETY: as in `wait`.
        unsafe { self.0.wait_on(&mutex.0, deadline) }.timed_out()
    }
}

impl fmt::Debug for RawCondvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("RawCondvar { .. }")
    }
}
