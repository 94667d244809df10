//! [`Once`]: one-time initialization on `parking_lot_core`.
//!
//! One state byte: `DONE` (a closure completed), `POISONED` (the last closure panicked),
//! `RUNNING` (a thread is running a closure) and `PARKED` (threads may be parked on the
//! `Once`'s address, waiting for the running closure). The thread that sets `RUNNING` runs the
//! closure, then replaces the whole state with `DONE` (or, if the closure panicked, `POISONED`)
//! and wakes every parked thread if `PARKED` was set. A parker's validation, under the queue
//! lock, requires the state to still be exactly `RUNNING | PARKED`, so it cannot miss that wake-up.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot_core::{DEFAULT_UNPARK_TOKEN, SpinWait};

use super::parking;

/// A closure completed: the `Once` is done for good.
const DONE: u8 = 0b0001;
/// The last closure run panicked.
const POISONED: u8 = 0b0010;
/// A thread is running a closure.
const RUNNING: u8 = 0b0100;
/// Threads may be parked waiting for the running closure.
const PARKED: u8 = 0b1000;

/// The state of a [`Once`], as [`Once::state`] reports it and `call_once_force`'s closure
/// receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnceState {
    /// No closure has run yet.
    New,
    /// A closure ran but panicked.
    Poisoned,
    /// A thread is running a closure.
    InProgress,
    /// A closure completed.
    Done,
}

impl OnceState {
    /// Whether a closure panicked (and none completed since).
    #[inline]
    pub const fn poisoned(self) -> bool {
        matches!(self, OnceState::Poisoned)
    }

    /// Whether a closure completed.
    #[inline]
    pub const fn done(self) -> bool {
        matches!(self, OnceState::Done)
    }

    /// Whether a closure panicked: parking_lot 0.13's name for [`poisoned`](Self::poisoned).
    #[inline]
    pub const fn is_poisoned(self) -> bool {
        self.poisoned()
    }

    /// Whether a closure completed: parking_lot 0.13's name for [`done`](Self::done).
    #[inline]
    pub const fn is_completed(self) -> bool {
        self.done()
    }
}

/// Runs a one-time initialization, with parking_lot's API: the first `call_once` runs its
/// closure, concurrent callers wait for it, later ones return at once.
///
/// If the closure panics, the `Once` is poisoned: later [`call_once`](Self::call_once) calls
/// panic, while [`call_once_force`](Self::call_once_force) runs its closure again.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use lockscan::{Once, OnceState};
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicU32 = AtomicU32::new(0);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| INIT.call_once(|| drop(RUNS.fetch_add(1, Ordering::Relaxed))));
///     }
/// });
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// assert_eq!(INIT.state(), OnceState::Done);
/// ```
pub struct Once {
    state: AtomicU8,
}

impl Once {
    /// Creates a `Once` whose closure has not run.
    #[inline]
    pub const fn new() -> Once {
        Once {
            state: AtomicU8::new(0),
        }
    }

    /// Creates a `Once` that is done already: no closure will run (parking_lot 0.13).
    #[inline]
    pub const fn new_completed() -> Once {
        Once {
            state: AtomicU8::new(DONE),
        }
    }

    /// Whether a closure completed (parking_lot 0.13); a completion makes its effects visible
    /// to the thread that sees it here.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// Blocks until a closure completed, without running one (parking_lot 0.13).
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned, now or while waiting; [`wait_force`](Self::wait_force) waits
    /// on.
    #[inline]
    pub fn wait(&self) {
        if !self.is_completed() {
            self.wait_slow(false);
        }
    }

    /// Blocks until a closure completed, even on a poisoned `Once` (parking_lot 0.13).
    #[inline]
    pub fn wait_force(&self) {
        if !self.is_completed() {
            self.wait_slow(true);
        }
    }

    /// The current state.
    #[inline]
    pub fn state(&self) -> OnceState {
        let state = self.state.load(Ordering::Acquire);
        if state & DONE != 0 {
            OnceState::Done
        } else if state & RUNNING != 0 {
            OnceState::InProgress
        } else if state & POISONED != 0 {
            OnceState::Poisoned
        } else {
            OnceState::New
        }
    }

    /// Runs `f` unless a closure already completed; waits if another thread is running one.
    /// When this returns, a closure has completed, and its effects are visible.
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned (a closure panicked), and if `f` panics (which poisons it).
    #[inline]
    pub fn call_once<F>(&self, f: F)
    where
        F: FnOnce(),
    {
        if self.state.load(Ordering::Acquire) == DONE {
            return;
        }
        let mut f = Some(f);
        self.call_once_slow(false, &mut |_| {
            if let Some(f) = f.take() {
                f();
            }
        });
    }

    /// Like [`call_once`](Self::call_once), but also runs on a poisoned `Once`; `f` receives
    /// [`OnceState::Poisoned`] then, [`OnceState::New`] otherwise. If `f` completes, the `Once`
    /// is done and no longer poisoned.
    ///
    /// # Panics
    ///
    /// If `f` panics (which poisons the `Once`).
    #[inline]
    pub fn call_once_force<F>(&self, f: F)
    where
        F: FnOnce(OnceState),
    {
        if self.state.load(Ordering::Acquire) == DONE {
            return;
        }
        let mut f = Some(f);
        self.call_once_slow(true, &mut |state| {
            if let Some(f) = f.take() {
                f(state);
            }
        });
    }

    /// Takes `RUNNING` and runs `f`, or waits for the thread running a closure. Not generic, to
    /// keep the generic wrappers small.
    #[cold]
    fn call_once_slow(&self, force: bool, f: &mut dyn FnMut(OnceState)) {
        let mut spin = SpinWait::new();
        let mut state = self.state.load(Ordering::Acquire);
        let poisoned = loop {
            if state & DONE != 0 {
                return;
            }
            if state & POISONED != 0 && !force {
                panic!("Once instance has previously been poisoned");
            }
            if state & RUNNING == 0 {
                // Run the closure; a successful run clears the poison.
                match self.state.compare_exchange_weak(
                    state,
                    (state | RUNNING) & !POISONED,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break state & POISONED != 0,
                    Err(now) => state = now,
                }
                continue;
            }
            if let Some(now) =
                parking::spin_or_flag(&self.state, &mut spin, state, PARKED, Ordering::Acquire)
            {
                state = now;
                continue;
            }
            let validate = || self.state.load(Ordering::Relaxed) == RUNNING | PARKED;
            // SAFETY: the key is this `Once`'s address, used only by it; validate neither
            // panics nor calls into parking_lot_core; there is no timeout.
            unsafe { parking::park(parking::key(self), validate, |_, _| {}, None) };
            spin.reset();
            state = self.state.load(Ordering::Acquire);
        };

        // Poisons the `Once` (and wakes the waiters) if `f` unwinds.
        struct PoisonOnUnwind<'a>(&'a Once);
        impl Drop for PoisonOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.finish(POISONED);
            }
        }
        let guard = PoisonOnUnwind(self);
        f(if poisoned {
            OnceState::Poisoned
        } else {
            OnceState::New
        });
        std::mem::forget(guard);
        self.finish(DONE);
    }

    /// Parks until `DONE`, flagging `PARKED` first (a closure's end wakes the parked threads,
    /// whether a run was going or starts later); panics on `POISONED` unless `force`.
    #[cold]
    fn wait_slow(&self, force: bool) {
        let mut spin = SpinWait::new();
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & DONE != 0 {
                return;
            }
            if state & POISONED != 0 && !force {
                panic!("Once instance has previously been poisoned");
            }
            if state & RUNNING != 0 && state & PARKED == 0 && spin.spin() {
                state = self.state.load(Ordering::Acquire);
                continue;
            }
            if state & PARKED == 0
                && let Err(now) = self.state.compare_exchange_weak(
                    state,
                    state | PARKED,
                    Ordering::Relaxed,
                    Ordering::Acquire,
                )
            {
                state = now;
                continue;
            }
            let validate = || {
                let state = self.state.load(Ordering::Relaxed);
                state & PARKED != 0 && state & DONE == 0 && (force || state & POISONED == 0)
            };
            // SAFETY: the key is this `Once`'s address, used only by it; validate neither
            // panics nor calls into parking_lot_core; there is no timeout.
            unsafe { parking::park(parking::key(self), validate, |_, _| {}, None) };
            spin.reset();
            state = self.state.load(Ordering::Acquire);
        }
    }

    /// Ends the run: replaces the state with `outcome` and wakes the waiters.
    fn finish(&self, outcome: u8) {
        let before = self.state.swap(outcome, Ordering::Release);
        if before & PARKED != 0 {
            // SAFETY: the key is this `Once`'s address, used only by it.
            unsafe {
                parking_lot_core::unpark_all(parking::key(self), DEFAULT_UNPARK_TOKEN);
            }
        }
    }
}

impl Default for Once {
    #[inline]
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("state", &self.state())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use super::super::wait_until_true;
    use super::{Once, OnceState};

    #[test]
    fn runs_once_across_threads() {
        const THREADS: usize = 8;
        let once = Once::new();
        let runs = AtomicUsize::new(0);
        let value = AtomicUsize::new(0);
        assert_eq!(once.state(), OnceState::New);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    once.call_once(|| {
                        runs.fetch_add(1, Ordering::Relaxed);
                        thread::yield_now();
                        value.store(42, Ordering::Relaxed);
                    });
                    // Whoever ran it, its effects are visible once call_once returns.
                    assert_eq!(value.load(Ordering::Relaxed), 42);
                });
            }
        });
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(once.state(), OnceState::Done);
        assert!(once.state().done());
        once.call_once(|| unreachable!());
        once.call_once_force(|_| unreachable!());
    }

    #[test]
    fn waiters_park_until_the_closure_ends() {
        let once = Once::new();
        let release = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        thread::scope(|s| {
            s.spawn(|| {
                once.call_once(|| {
                    wait_until_true("the test releases the closure", || {
                        release.load(Ordering::SeqCst) == 1
                    });
                });
            });
            wait_until_true("the closure runs", || once.state() == OnceState::InProgress);
            for _ in 0..2 {
                s.spawn(|| {
                    once.call_once(|| unreachable!());
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            wait_until_true("a waiter parks", || {
                once.state.load(Ordering::SeqCst) & super::PARKED != 0
            });
            assert_eq!(done.load(Ordering::SeqCst), 0);
            release.store(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panic_poisons_and_force_recovers() {
        let once = Once::new();
        let panicked = catch_unwind(AssertUnwindSafe(|| once.call_once(|| panic!("boom"))));
        assert!(panicked.is_err());
        assert_eq!(once.state(), OnceState::Poisoned);
        assert!(once.state().poisoned());
        // A plain call panics on the poisoned Once, without running its closure.
        let panicked = catch_unwind(AssertUnwindSafe(|| once.call_once(|| unreachable!())));
        assert!(panicked.is_err());
        // A forced call runs again and sees the poison; its panic keeps it poisoned.
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            once.call_once_force(|state| {
                assert!(state.poisoned());
                panic!("again");
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(once.state(), OnceState::Poisoned);
        let mut seen = None;
        once.call_once_force(|state| seen = Some(state));
        assert_eq!(seen, Some(OnceState::Poisoned));
        assert_eq!(once.state(), OnceState::Done);
        once.call_once(|| unreachable!());
    }

    #[test]
    fn waiters_block_until_a_closure_completes() {
        let once = Once::new();
        let woken = AtomicUsize::new(0);
        thread::scope(|s| {
            for force in [false, true] {
                let (once, woken) = (&once, &woken);
                s.spawn(move || {
                    if force {
                        once.wait_force();
                    } else {
                        once.wait();
                    }
                    assert!(once.is_completed());
                    woken.fetch_add(1, Ordering::SeqCst);
                });
            }
            wait_until_true("both waiters park", || {
                once.state.load(Ordering::SeqCst) & super::PARKED != 0
            });
            assert_eq!(woken.load(Ordering::SeqCst), 0);
            assert!(!once.is_completed());
            once.call_once(|| ());
        });
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        assert!(Once::new_completed().is_completed());
        assert!(Once::new_completed().state().is_completed());
        Once::new_completed().wait();
    }

    #[test]
    fn wait_panics_on_a_poisoned_once_and_wait_force_waits_on() {
        let once = Once::new();
        let _ = catch_unwind(AssertUnwindSafe(|| once.call_once(|| panic!("boom"))));
        assert!(once.state().is_poisoned());
        assert!(catch_unwind(AssertUnwindSafe(|| once.wait())).is_err());
        thread::scope(|s| {
            let waiter = s.spawn(|| once.wait_force());
            wait_until_true("the forced waiter parks", || {
                once.state.load(Ordering::SeqCst) & super::PARKED != 0
            });
            once.call_once_force(|state| assert!(state.is_poisoned()));
            waiter.join().unwrap();
        });
        assert!(once.is_completed());
    }

    #[test]
    fn force_on_a_new_once_sees_new() {
        let once = Once::default();
        let mut seen = None;
        once.call_once_force(|state| seen = Some(state));
        assert_eq!(seen, Some(OnceState::New));
        assert_eq!(format!("{once:?}"), "Once { state: Done }");
    }
}
