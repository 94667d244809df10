//! The instrumented raw mutexes behind lock_api 0.5's traits: newtypes over
//! `lockscan::instrument`'s (a foreign trait for a foreign type needs one), whose trait methods
//! forward to the core.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// Raw mutex type backed by the parking lot, instrumented by lockscan.
#[derive(Debug)]
pub struct RawMutex(pub(crate) lockscan::instrument::RawMutex);

/// Raw fair mutex type backed by the parking lot, instrumented by lockscan: every unlock is
/// fair.
#[derive(Debug)]
pub struct RawFairMutex(lockscan::instrument::RawFairMutex);

macro_rules! raw_mutex_traits {
    ($name:ident, $core:ty) => {
        // SAFETY: the core acquires and releases a correct raw mutex and records; a report that
        // unwinds does so before an acquisition, or (`bump`) with the lock held again and the
        // stateless guard marker untouched.
        unsafe impl lock_api::RawMutex for $name {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = $name(<$core>::new());
            type Guard = crate::GuardMarker;
            forward_guarded! { 0;
                #[track_caller] fn lock() -> Guard;
                #[track_caller] fn try_lock() -> Option<Guard>;
                unsafe fn unlock(guard);
            }

            #[inline]
            fn is_locked(&self) -> bool {
                self.0.is_locked()
            }
        }

        // SAFETY: see `lock_api::RawMutex` above.
        unsafe impl lock_api::RawMutexFair for $name {
            forward_guarded! { 0;
                unsafe fn unlock_fair(guard);
                #[track_caller] unsafe fn bump(&mut guard);
            }
        }

        // SAFETY: see `lock_api::RawMutex` above.
        unsafe impl lock_api::RawMutexTimed for $name {
            type Duration = Duration;
            type Instant = Instant;
            forward_guarded! { 0;
                #[track_caller] fn try_lock_for(timeout: Duration) -> Option<Guard>;
                #[track_caller] fn try_lock_until(timeout: Instant) -> Option<Guard>;
            }
        }
    };
}

raw_mutex_traits!(RawMutex, lockscan::instrument::RawMutex);
raw_mutex_traits!(RawFairMutex, lockscan::instrument::RawFairMutex);

/// Implementation of the `GetThreadId` trait for `lock_api::ReentrantMutex`: lockscan's thread
/// ids, which the 0.12 stand-in's reentrant mutexes use too.
#[derive(Debug)]
pub struct RawThreadId;

// SAFETY: lockscan's ids are never zero and never shared by two threads.
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: RawThreadId = RawThreadId;

    #[inline]
    fn nonzero_thread_id(&self) -> NonZeroUsize {
        lockscan::raw::RawThreadId.nonzero_thread_id()
    }
}
