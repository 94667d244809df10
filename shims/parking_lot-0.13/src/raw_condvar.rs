//! The instrumented raw condition variable, for lock_api 0.5's `Condvar` over the stand-in's
//! `RawMutex`.

use std::fmt;
use std::time::{Duration, Instant};

use lockscan::Mode;
use lockscan::instrument::CondvarHooks;

use crate::{GuardMarker, RawMutex};

/// A raw condition variable (instrumented): a wait records the release and re-acquisition of
/// its mutex, and a wait while holding other locks is reported.
///
/// Waits return on a notification or a timeout only, and the notifications say how many
/// waiters they woke. All waiters at a given time must use the same mutex; a wait with another
/// one panics (before it releases its mutex).
pub struct RawCondvar {
    inner: lockscan::raw::Condvar,
    hooks: CondvarHooks,
}

impl RawCondvar {
    /// A wait on `mutex`, held by the caller, until a notification or `deadline`; true when
    /// it timed out.
    #[track_caller]
    fn wait_until_internal(&self, mutex: &RawMutex, deadline: Option<Instant>) -> bool {
        mutex.hooks.release_for_wait(&self.hooks);
        // SAFETY: this thread holds `mutex.inner` (the caller's contract); `wait_raw` releases
        // it while waiting and holds it again when it returns.
        let result = unsafe { self.inner.wait_raw(&mutex.inner, deadline) };
        mutex.hooks.relocked(Mode::Exclusive);
        result.timed_out()
    }
}

// SAFETY: `wait_raw` releases the mutex only once the waiter is queued (a notification after
// the release finds it) and holds it again before returning, also when a wait with a second
// mutex panics (it panics before releasing). The hooks only record; `relocked` may unwind (a
// reported cycle) with the mutex held again and the stateless guard marker untouched.
unsafe impl lock_api::RawCondvar for RawCondvar {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawCondvar {
        inner: lockscan::raw::Condvar::new(),
        hooks: CondvarHooks::new(),
    };

    type RawMutex = RawMutex;

    #[track_caller]
    unsafe fn wait(&self, mutex: &RawMutex, _guard: &mut GuardMarker) {
        self.wait_until_internal(mutex, None);
    }

    #[track_caller]
    #[inline]
    fn notify_one(&self) -> bool {
        self.hooks.notified(false);
        self.inner.notify_one()
    }

    #[track_caller]
    #[inline]
    fn notify_all(&self) -> usize {
        self.hooks.notified(true);
        self.inner.notify_all()
    }
}

// SAFETY: as for `RawCondvar` above.
unsafe impl lock_api::RawCondvarTimed for RawCondvar {
    fn checked_duration_to_instant(timeout: &Duration) -> Option<Instant> {
        Instant::now().checked_add(*timeout)
    }

    #[track_caller]
    unsafe fn wait_until(
        &self,
        mutex: &RawMutex,
        _guard: &mut GuardMarker,
        timeout: &Instant,
    ) -> bool {
        self.wait_until_internal(mutex, Some(*timeout))
    }

    #[track_caller]
    unsafe fn wait_for(
        &self,
        mutex: &RawMutex,
        _guard: &mut GuardMarker,
        timeout: &Duration,
    ) -> bool {
        self.wait_until_internal(mutex, Self::checked_duration_to_instant(timeout))
    }
}

impl fmt::Debug for RawCondvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("RawCondvar { .. }")
    }
}
