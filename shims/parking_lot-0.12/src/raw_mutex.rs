//! The instrumented raw mutexes: lockscan's hooks around lockscan's uninstrumented raw mutex.

use std::time::{Duration, Instant};

use lock_api::RawMutexFair as _;
use lockscan::instrument::LockHooks;
use lockscan::{LockKind, Mode};

macro_rules! raw_mutex {
    ($(#[$doc:meta])* $name:ident, unlock: $unlock:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            pub(crate) inner: lockscan::raw::RawMutex,
            pub(crate) hooks: LockHooks,
        }

        // SAFETY: every acquisition and release goes to `inner`, a correct raw mutex; the hooks
        // only record.
        unsafe impl lock_api::RawMutex for $name {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = $name {
                inner: lockscan::raw::RawMutex::INIT,
                hooks: LockHooks::new(LockKind::Mutex),
            };

            type GuardMarker = crate::GuardMarker;

            #[track_caller]
            #[inline]
            fn lock(&self) {
                self.hooks.lock(
                    Mode::Exclusive,
                    false,
                    || self.inner.try_lock(),
                    || self.inner.lock(),
                );
            }

            #[track_caller]
            #[inline]
            fn try_lock(&self) -> bool {
                self.hooks.try_lock(Mode::Exclusive, || self.inner.try_lock())
            }

            #[inline]
            unsafe fn unlock(&self) {
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
            unsafe fn unlock_fair(&self) {
                self.hooks.release(Mode::Exclusive);
                // SAFETY: the caller holds the lock.
                unsafe { self.inner.unlock_fair() }
            }

            #[track_caller]
            unsafe fn bump(&self) {
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
            fn try_lock_for(&self, timeout: Duration) -> bool {
                self.hooks
                    .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_for(timeout))
            }

            #[track_caller]
            fn try_lock_until(&self, timeout: Instant) -> bool {
                self.hooks
                    .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_until(timeout))
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
