//! The instrumented raw mutexes: lockscan's hooks around lockscan's uninstrumented raw mutex,
//! behind lock_api 0.5's traits (each acquisition returns a guard marker, each release takes it
//! back).

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lock_api_04::{GetThreadId as _, RawMutex as _, RawMutexFair as _, RawMutexTimed as _};
use lockscan::instrument::LockHooks;
use lockscan::{LockKind, Mode};

use crate::GuardMarker;

macro_rules! raw_mutex {
    ($(#[$doc:meta])* $name:ident, unlock: $unlock:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            pub(crate) inner: lockscan::raw::RawMutex,
            pub(crate) hooks: LockHooks,
        }

        // SAFETY: every acquisition and release goes to `inner`, a correct raw mutex; the hooks
        // only record. A hook that unwinds (a reported cycle or deadlock) does so before `lock`
        // acquires, or with the lock held again and the (stateless) guard marker untouched.
        unsafe impl lock_api::RawMutex for $name {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = $name {
                inner: lockscan::raw::RawMutex::INIT,
                hooks: LockHooks::new(LockKind::Mutex),
            };

            type Guard = GuardMarker;

            #[track_caller]
            #[inline]
            fn lock(&self) -> GuardMarker {
                self.hooks.lock(
                    Mode::Exclusive,
                    false,
                    || self.inner.try_lock(),
                    || self.inner.lock(),
                );
                GuardMarker::new()
            }

            #[track_caller]
            #[inline]
            fn try_lock(&self) -> Option<GuardMarker> {
                self.hooks
                    .try_lock(Mode::Exclusive, || self.inner.try_lock())
                    .then(GuardMarker::new)
            }

            #[inline]
            unsafe fn unlock(&self, _guard: GuardMarker) {
                self.hooks.release(Mode::Exclusive);
                // SAFETY: the caller holds the lock, as `unlock` requires.
                unsafe { self.inner.$unlock() }
            }

            #[inline]
            fn is_locked(&self) -> bool {
                self.inner.is_locked()
            }
        }

        // SAFETY: as for `RawMutex` above.
        unsafe impl lock_api::RawMutexFair for $name {
            #[inline]
            unsafe fn unlock_fair(&self, _guard: GuardMarker) {
                self.hooks.release(Mode::Exclusive);
                // SAFETY: the caller holds the lock.
                unsafe { self.inner.unlock_fair() }
            }

            #[track_caller]
            unsafe fn bump(&self, _guard: &mut GuardMarker) {
                self.hooks.release(Mode::Exclusive);
                // SAFETY: the caller holds the lock; `bump` gives it back before returning.
                unsafe { self.inner.bump() }
                self.hooks.relocked(Mode::Exclusive);
            }
        }

        // SAFETY: as for `RawMutex` above.
        unsafe impl lock_api::RawMutexTimed for $name {
            type Duration = Duration;
            type Instant = Instant;

            #[track_caller]
            fn try_lock_for(&self, timeout: Duration) -> Option<GuardMarker> {
                self.hooks
                    .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_for(timeout))
                    .then(GuardMarker::new)
            }

            #[track_caller]
            fn try_lock_until(&self, timeout: Instant) -> Option<GuardMarker> {
                self.hooks
                    .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_until(timeout))
                    .then(GuardMarker::new)
            }
        }
    };
}

raw_mutex!(
    /// Raw mutex type backed by the parking lot, instrumented by lockscan.
    RawMutex,
    unlock: unlock
);

raw_mutex!(
    /// Raw fair mutex type backed by the parking lot, instrumented by lockscan: every unlock is
    /// fair.
    RawFairMutex,
    unlock: unlock_fair
);

/// Implementation of the `GetThreadId` trait for `lock_api::ReentrantMutex`: lockscan's thread
/// ids, which the 0.12 stand-in's reentrant mutexes use too.
#[derive(Debug)]
pub struct RawThreadId;

// SAFETY: lockscan's ids are distinct among the live threads and fixed for each thread's life.
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: RawThreadId = RawThreadId;

    #[inline]
    fn nonzero_thread_id(&self) -> NonZeroUsize {
        lockscan::raw::RawThreadId.nonzero_thread_id()
    }
}
