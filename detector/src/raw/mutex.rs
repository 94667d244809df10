//! [`RawMutex`] and [`RawFairMutex`]: a one-byte mutex on `parking_lot_core`.
//!
//! The state byte has two bits: `LOCKED` (a thread holds the mutex) and `PARKED` (threads may be
//! parked on the mutex's address, so an unlock must go through `parking_lot_core` to wake one).
//! A blocked thread spins briefly, then sets `PARKED` and parks; the park's validation, which runs
//! under the queue lock, re-checks that the mutex is still locked with `PARKED` set, so an
//! unlocker that has already cleared the bits is never missed.
//!
//! An unlock wakes one waiter. Normally it releases the mutex and the woken thread competes for
//! it with newcomers (barging, for throughput); a fair unlock, or an unlock that
//! `parking_lot_core` flags as due for fairness (about every 0.5 ms per lock), instead hands the
//! locked mutex directly to the woken thread. This is the same protocol as parking_lot's mutex.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use parking_lot_core::UnparkResult;

use super::parking::{self, TOKEN_HANDOFF, TOKEN_RETRY};

/// A thread holds the mutex.
const LOCKED: u8 = 0b01;
/// Threads may be parked on the mutex.
const PARKED: u8 = 0b10;

/// The raw mutex behind [`Mutex`](super::Mutex): one byte, eventually fair.
///
/// Threads that cannot take it spin briefly, then park on its address. Unlocks let newcomers
/// barge in ahead of woken waiters, except that about every 0.5 ms `parking_lot_core` asks for a
/// fair unlock, which hands the mutex to the longest waiter, so no waiter starves.
pub struct RawMutex {
    state: AtomicU8,
}

impl RawMutex {
    /// Takes the mutex, blocking until `deadline` (`None`: forever). True if taken.
    #[cold]
    fn lock_slow(&self, deadline: Option<Instant>) -> bool {
        // SAFETY: the key is this mutex's address, used only by this mutex's protocol; the
        // blocked check only reads the state.
        unsafe {
            parking::acquire_slow(
                &self.state,
                parking::key(self),
                PARKED,
                deadline,
                |state| state & LOCKED != 0,
                |state| state | LOCKED,
            )
        }
    }

    /// Unlocks with waiters parked: wakes one, handing it the mutex if `fair` (or if
    /// `parking_lot_core` says this unlock is due to be fair).
    #[cold]
    fn unlock_slow(&self, fair: bool) {
        // The callback runs under the queue lock, so no thread can park or give up in between:
        // `have_more_threads` is exact when the new state is stored. Only PARKED can change
        // concurrently (set by a thread about to park, whose validation then fails), so a plain
        // store is correct.
        let callback = |result: UnparkResult| {
            let parked = if result.have_more_threads { PARKED } else { 0 };
            if result.unparked_threads != 0 && (fair || result.be_fair) {
                self.state.store(LOCKED | parked, Ordering::Release);
                TOKEN_HANDOFF
            } else {
                self.state.store(parked, Ordering::Release);
                TOKEN_RETRY
            }
        };
        // SAFETY: the key is this mutex's address; the callback neither panics nor calls into
        // parking_lot_core.
        unsafe {
            parking_lot_core::unpark_one(parking::key(self), callback);
        }
    }

    /// Unlocks, waking a waiter if any; with `fair`, hands the mutex to it.
    ///
    /// # Safety
    ///
    /// The current context must hold the mutex.
    unsafe fn release(&self, fair: bool) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow(fair);
        }
    }

    /// Whether threads are parked waiting for the mutex.
    fn has_waiters(&self) -> bool {
        self.state.load(Ordering::Relaxed) & PARKED != 0
    }
}

// SAFETY: `lock`/`try_lock` succeed only by setting LOCKED while it is clear (or by receiving the
// still-locked mutex from an unlocker), and only `unlock` clears it, so at most one context holds
// the mutex; Acquire on locking and Release on unlocking order the critical sections.
unsafe impl lock_api::RawMutex for RawMutex {
    const INIT: Self = RawMutex {
        state: AtomicU8::new(0),
    };

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow(None);
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        parking::try_acquire(
            &self.state,
            |state| state & LOCKED != 0,
            |state| state | LOCKED,
        )
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the mutex (this method's contract).
        unsafe { self.release(false) }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }
}

// SAFETY: a fair unlock releases the mutex like `unlock`, or hands it, still locked, to exactly
// one woken thread, which then holds it.
unsafe impl lock_api::RawMutexFair for RawMutex {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the mutex (this method's contract).
        unsafe { self.release(true) }
    }

    #[inline]
    unsafe fn bump(&self) {
        if self.has_waiters() {
            // SAFETY: the caller holds the mutex (this method's contract); it holds it again
            // when `lock` returns.
            unsafe { self.release(true) };
            lock_api::RawMutex::lock(self);
        }
    }
}

// SAFETY: the timed variants run the same protocol as `lock`, giving up only before taking
// the mutex.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        lock_api::RawMutex::try_lock(self) || self.lock_slow(super::deadline_after(timeout))
    }

    #[inline]
    fn try_lock_until(&self, timeout: Instant) -> bool {
        lock_api::RawMutex::try_lock(self) || self.lock_slow(Some(timeout))
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("RawMutex")
            .field("locked", &(state & LOCKED != 0))
            .field("parked", &(state & PARKED != 0))
            .finish()
    }
}

/// The raw mutex behind [`FairMutex`](super::FairMutex): a [`RawMutex`] whose every unlock is
/// fair, handing the mutex to the longest-waiting thread when there is one.
pub struct RawFairMutex(RawMutex);

// SAFETY: all operations are the inner `RawMutex`'s, whose `unlock_fair` is a valid unlock.
unsafe impl lock_api::RawMutex for RawFairMutex {
    const INIT: Self = RawFairMutex(<RawMutex as lock_api::RawMutex>::INIT);

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        lock_api::RawMutex::lock(&self.0);
    }

    #[inline]
    fn try_lock(&self) -> bool {
        lock_api::RawMutex::try_lock(&self.0)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the mutex, that is the inner one (this method's contract).
        unsafe { self.0.release(true) }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        lock_api::RawMutex::is_locked(&self.0)
    }
}

// SAFETY: delegates to the inner `RawMutex`.
unsafe impl lock_api::RawMutexFair for RawFairMutex {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the mutex (this method's contract).
        unsafe { self.0.release(true) }
    }

    #[inline]
    unsafe fn bump(&self) {
        // SAFETY: the caller holds the mutex (this method's contract).
        unsafe { lock_api::RawMutexFair::bump(&self.0) }
    }
}

// SAFETY: delegates to the inner `RawMutex`.
unsafe impl lock_api::RawMutexTimed for RawFairMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        lock_api::RawMutexTimed::try_lock_for(&self.0, timeout)
    }

    #[inline]
    fn try_lock_until(&self, timeout: Instant) -> bool {
        lock_api::RawMutexTimed::try_lock_until(&self.0, timeout)
    }
}

impl fmt::Debug for RawFairMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0.state.load(Ordering::Relaxed);
        f.debug_struct("RawFairMutex")
            .field("locked", &(state & LOCKED != 0))
            .field("parked", &(state & PARKED != 0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use lock_api::{RawMutex as _, RawMutexFair as _};

    use super::super::{FairMutex, Mutex, MutexGuard};
    use super::{RawFairMutex, RawMutex};

    const THREADS: usize = 4;
    const ROUNDS: usize = 10_000;

    /// A counter incremented without atomics: only the lock makes it exact.
    struct Racy(UnsafeCell<usize>);
    // SAFETY: the tests access the cell only while holding the lock under test.
    unsafe impl Sync for Racy {}

    impl Racy {
        fn get(&self) -> *mut usize {
            self.0.get()
        }
    }

    fn exclusion<R: lock_api::RawMutex + Sync>(raw: &R) {
        let counter = Racy(UnsafeCell::new(0));
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        raw.lock();
                        // SAFETY: the lock is held, so no other thread accesses the counter.
                        unsafe { *counter.get() += 1 };
                        // SAFETY: this thread locked it just above.
                        unsafe { raw.unlock() };
                    }
                });
            }
        });
        assert_eq!(counter.0.into_inner(), THREADS * ROUNDS);
    }

    #[test]
    fn mutual_exclusion_under_contention() {
        let (raw, fair) = (RawMutex::INIT, RawFairMutex::INIT);
        exclusion(&raw);
        exclusion(&fair);
    }

    #[test]
    fn guards_count_exactly() {
        let mutex = Mutex::new(0usize);
        let fair = FairMutex::new(0usize);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for round in 0..ROUNDS {
                        let mut guard = mutex.lock();
                        *guard += 1;
                        if round % 100 == 0 {
                            MutexGuard::bump(&mut guard);
                        }
                        drop(guard);
                        *fair.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*mutex.lock(), THREADS * ROUNDS);
        assert_eq!(*fair.lock(), THREADS * ROUNDS);
    }

    #[test]
    fn try_lock_fails_while_held() {
        let raw = RawMutex::INIT;
        assert!(!raw.is_locked());
        assert!(raw.try_lock());
        assert!(raw.is_locked());
        assert!(!raw.try_lock());
        thread::scope(|s| {
            s.spawn(|| assert!(!raw.try_lock()));
        });
        // SAFETY: locked above by this thread.
        unsafe { raw.unlock() };
        assert!(raw.try_lock());
        // SAFETY: locked just above.
        unsafe { raw.unlock_fair() };
        assert!(!raw.is_locked());
    }

    #[test]
    fn timed_lock_times_out_then_succeeds() {
        let mutex = Mutex::new(());
        let held = mutex.lock();
        thread::scope(|s| {
            s.spawn(|| {
                assert!(mutex.try_lock_for(Duration::from_millis(20)).is_none());
                let past = Instant::now();
                assert!(mutex.try_lock_until(past).is_none());
            });
        });
        // The timed-out waiters left no PARKED bit behind: the unlock takes the fast path and
        // the state is clean.
        drop(held);
        assert!(!mutex.is_locked());
        assert!(mutex.try_lock_for(Duration::from_millis(20)).is_some());
        assert!(mutex.try_lock_until(Instant::now()).is_some());
        assert!(mutex.try_lock_for(Duration::MAX).is_some());
    }

    #[test]
    fn timed_lock_succeeds_when_released_in_time() {
        let mutex = Mutex::new(0);
        let (tx, rx) = mpsc::channel();
        let held = mutex.lock();
        thread::scope(|s| {
            s.spawn(|| {
                tx.send(()).unwrap();
                let guard = mutex.try_lock_for(Duration::from_secs(60));
                assert_eq!(guard.as_deref(), Some(&7));
            });
            rx.recv().unwrap();
            let mut held = held;
            *held = 7;
            drop(held);
        });
    }

    #[test]
    fn fair_unlock_hands_over_to_a_parked_waiter() {
        let raw = RawFairMutex::INIT;
        let acquired = AtomicBool::new(false);
        raw.lock();
        thread::scope(|s| {
            s.spawn(|| {
                raw.lock();
                acquired.store(true, Ordering::SeqCst);
                // SAFETY: locked just above.
                unsafe { raw.unlock() };
            });
            super::super::wait_until_true("the waiter parks", || raw.0.has_waiters());
            // SAFETY: locked by this thread above.
            unsafe { raw.unlock() };
        });
        assert!(acquired.load(Ordering::SeqCst));
        assert!(!raw.is_locked());
        assert!(!raw.0.has_waiters());
    }

    #[test]
    fn debug_shows_the_state() {
        let raw = RawMutex::INIT;
        raw.lock();
        assert_eq!(
            format!("{raw:?}"),
            "RawMutex { locked: true, parked: false }"
        );
        // SAFETY: locked just above.
        unsafe { raw.unlock() };
        assert_eq!(
            format!("{:?}", RawFairMutex::INIT),
            "RawFairMutex { locked: false, parked: false }"
        );
    }
}
