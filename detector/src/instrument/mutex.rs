//! The instrumented raw mutexes: lockscan's hooks around lockscan's uninstrumented raw mutex,
//! with inherent methods (the logic) and `lock_api` 0.4's traits (one-line forwards), so that a
//! stand-in for any parking_lot line is a shell over them.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use lock_api::{RawMutex as _, RawMutexFair as _, RawMutexTimed as _};

use super::LockHooks;
use crate::ids::{LockKind, Mode};

/// A raw mutex lockscan sees: every acquisition and release goes through [`LockHooks`] around
/// lockscan's uninstrumented [`RawMutex`](crate::raw::RawMutex). Made from a `const`, it is
/// named after the site of its first acquisition (see [`LockHooks::new`]).
///
/// `G` is the `lock_api` guard marker (parking_lot's `send_guard` feature turns it into
/// `lock_api::GuardSend`); with `FAIR`, every unlock is fair ([`RawFairMutex`]).
///
/// ```
/// use lockscan::instrument::RawMutex;
///
/// let counter = lock_api::Mutex::<RawMutex, u32>::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
pub struct RawMutex<G = lock_api::GuardNoSend, const FAIR: bool = false> {
    inner: crate::raw::RawMutex,
    hooks: LockHooks,
    // `fn() -> G`: the marker only names a guard type; the lock itself is `Send` and `Sync`.
    marker: PhantomData<fn() -> G>,
}

/// A [`RawMutex`] whose every unlock is fair: an unlock hands the mutex to a waiting thread.
pub type RawFairMutex<G = lock_api::GuardNoSend> = RawMutex<G, true>;

impl<G, const FAIR: bool> RawMutex<G, FAIR> {
    /// An unlocked mutex, named after the site of its first acquisition.
    #[track_caller]
    pub const fn new() -> Self {
        RawMutex {
            inner: <crate::raw::RawMutex as lock_api::RawMutex>::INIT,
            hooks: LockHooks::new(LockKind::Mutex),
            marker: PhantomData,
        }
    }

    /// The hooks that record this mutex's operations (a condition variable's wait records the
    /// release and re-acquisition through them).
    pub fn hooks(&self) -> &LockHooks {
        &self.hooks
    }

    /// The uninstrumented mutex under the hooks.
    pub fn uninstrumented(&self) -> &crate::raw::RawMutex {
        &self.inner
    }

    /// Acquires the mutex, blocking; records the acquisition and its order edges first.
    #[track_caller]
    #[inline]
    pub fn lock(&self) {
        self.hooks.lock(
            Mode::Exclusive,
            false,
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
    }

    /// Acquires the mutex if it is free right now.
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> bool {
        self.hooks
            .try_lock(Mode::Exclusive, || self.inner.try_lock())
    }

    /// Acquires the mutex, waiting at most `timeout`.
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> bool {
        self.hooks
            .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_for(timeout))
    }

    /// Acquires the mutex, waiting until `deadline` at most.
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> bool {
        self.hooks
            .try_lock_timed(Mode::Exclusive, || self.inner.try_lock_until(deadline))
    }

    /// Releases the mutex (fairly for a [`RawFairMutex`]).
    ///
    /// # Safety
    ///
    /// This thread holds the mutex.
    #[inline]
    pub unsafe fn unlock(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the mutex, as `unlock` requires.
        unsafe {
            if FAIR {
                self.inner.unlock_fair()
            } else {
                self.inner.unlock()
            }
        }
    }

    /// Releases the mutex, handing it to a waiting thread if there is one.
    ///
    /// # Safety
    ///
    /// This thread holds the mutex.
    #[inline]
    pub unsafe fn unlock_fair(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the mutex.
        unsafe { self.inner.unlock_fair() }
    }

    /// Lets a waiting thread take the mutex, if any, then holds it again.
    ///
    /// # Safety
    ///
    /// This thread holds the mutex.
    #[track_caller]
    pub unsafe fn bump(&self) {
        self.hooks.release(Mode::Exclusive);
        // SAFETY: the caller holds the mutex; `bump` gives it back before returning.
        unsafe { self.inner.bump() }
        self.hooks.relocked(Mode::Exclusive);
    }

    /// Whether some thread holds the mutex.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<G, const FAIR: bool> Default for RawMutex<G, FAIR> {
    #[track_caller]
    fn default() -> Self {
        RawMutex::new()
    }
}

impl<G, const FAIR: bool> fmt::Debug for RawMutex<G, FAIR> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(if FAIR { "RawFairMutex" } else { "RawMutex" })
            .field("inner", &self.inner)
            .field("hooks", &self.hooks)
            .finish()
    }
}

// SAFETY: every acquisition and release goes to `inner`, a correct raw mutex; the hooks only
// record. The same holds for the traits below.
unsafe impl<G, const FAIR: bool> lock_api::RawMutex for RawMutex<G, FAIR> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawMutex::new();
    type GuardMarker = G;
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn lock();
        #[track_caller] fn try_lock() -> bool;
        unsafe fn unlock();
        fn is_locked() -> bool;
    }
}

// SAFETY: see `lock_api::RawMutex` above.
unsafe impl<G, const FAIR: bool> lock_api::RawMutexFair for RawMutex<G, FAIR> {
    crate::forward_raw_methods! { |this| this;
        unsafe fn unlock_fair();
        #[track_caller] unsafe fn bump();
    }
}

// SAFETY: see `lock_api::RawMutex` above.
unsafe impl<G, const FAIR: bool> lock_api::RawMutexTimed for RawMutex<G, FAIR> {
    type Duration = Duration;
    type Instant = Instant;
    crate::forward_raw_methods! { |this| this;
        #[track_caller] fn try_lock_for(timeout: Duration) -> bool;
        #[track_caller] fn try_lock_until(timeout: Instant) -> bool;
    }
}
