//! The waiting protocol the raw locks share, over `parking_lot_core`.
//!
//! A thread that cannot take a lock spins a little, then sets a "parked" bit in the lock's state
//! and parks on an address the lock owns. The park's validation, which runs under the queue
//! lock, re-checks that the bit is still set and the lock still unavailable; whoever makes the
//! lock available clears the bit in the same atomic update and then wakes the queue. So either
//! the parker sees the change and does not sleep, or it is already queued when the waker looks.

use std::ops::{BitAnd, BitOr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot_core::{DEFAULT_PARK_TOKEN, ParkResult, SpinWait, UnparkToken};

/// Passed to a woken waiter: the lock was released, try to take it.
pub(super) const TOKEN_RETRY: UnparkToken = UnparkToken(0);
/// Passed to a woken waiter: the lock was handed over still held, the waiter now holds it.
pub(super) const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

/// A raw lock's atomic state: one byte for the mutex and the `Once` (their size is
/// parking_lot's), a word for the read-write lock (its reader count).
pub(super) trait State {
    /// The state's bits.
    type Bits: Copy + Eq + BitAnd<Output = Self::Bits> + BitOr<Output = Self::Bits>;
    /// No bit set.
    const NONE: Self::Bits;

    fn load(&self, order: Ordering) -> Self::Bits;

    fn compare_exchange_weak(
        &self,
        current: Self::Bits,
        new: Self::Bits,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Self::Bits, Self::Bits>;

    /// Clears `bits`.
    fn clear(&self, bits: Self::Bits, order: Ordering);
}

macro_rules! state {
    ($atomic:ty, $bits:ty) => {
        impl State for $atomic {
            type Bits = $bits;
            const NONE: $bits = 0;

            #[inline]
            fn load(&self, order: Ordering) -> $bits {
                <$atomic>::load(self, order)
            }

            #[inline]
            fn compare_exchange_weak(
                &self,
                current: $bits,
                new: $bits,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$bits, $bits> {
                <$atomic>::compare_exchange_weak(self, current, new, success, failure)
            }

            #[inline]
            fn clear(&self, bits: $bits, order: Ordering) {
                <$atomic>::fetch_and(self, !bits, order);
            }
        }
    };
}
state!(AtomicU8, u8);
state!(AtomicUsize, usize);

/// The address that threads waiting for `lock` park on.
pub(super) fn key<L>(lock: &L) -> usize {
    std::ptr::from_ref(lock).addr()
}

/// Takes a lock without blocking: replaces the state with `next(state)` unless `blocked(state)`.
#[inline]
pub(super) fn try_acquire<S: State>(
    state: &S,
    blocked: impl Fn(S::Bits) -> bool,
    next: impl Fn(S::Bits) -> S::Bits,
) -> bool {
    let mut current = state.load(Ordering::Relaxed);
    take_unless_blocked(state, &mut current, &blocked, &next)
}

/// Replaces the state, last seen as `current`, with `next(state)` while it is not `blocked`,
/// retrying when it changes meanwhile. False when blocked, with `current` the blocking state.
#[inline]
fn take_unless_blocked<S: State>(
    state: &S,
    current: &mut S::Bits,
    blocked: &impl Fn(S::Bits) -> bool,
    next: &impl Fn(S::Bits) -> S::Bits,
) -> bool {
    while !blocked(*current) {
        match state.compare_exchange_weak(
            *current,
            next(*current),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return true,
            Err(now) => *current = now,
        }
    }
    false
}

/// What a thread that must wait does before parking: spins while `spin` allows, then sets
/// `parked` so that whoever releases the lock wakes the queue. Returns the state to check
/// again (after a spin, or when it changed meanwhile), or `None` once `parked` is set and the
/// thread may park. `order` is used for every access.
#[inline]
pub(super) fn spin_or_flag<S: State>(
    state: &S,
    spin: &mut SpinWait,
    current: S::Bits,
    parked: S::Bits,
    order: Ordering,
) -> Option<S::Bits> {
    if current & parked != S::NONE {
        return None;
    }
    if spin.spin() {
        return Some(state.load(order));
    }
    state
        .compare_exchange_weak(current, current | parked, order, order)
        .err()
}

/// Parks the thread on `key` until woken or until `deadline` (`None`: forever), if `validate`,
/// run under the queue lock, returns true; `timed_out` runs under the queue lock when the
/// deadline passes, told whether this was the last thread parked on `key`.
///
/// # Safety
///
/// `key` must be an address that the calling lock owns and uses only for its own protocol, and
/// `validate` and `timed_out` must neither panic nor call into `parking_lot_core`.
#[inline]
pub(super) unsafe fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    timed_out: impl FnOnce(usize, bool),
    deadline: Option<Instant>,
) -> ParkResult {
    // SAFETY: the caller's contract is `park`'s; the before-sleep callback does nothing.
    unsafe {
        parking_lot_core::park(
            key,
            validate,
            || {},
            timed_out,
            DEFAULT_PARK_TOKEN,
            deadline,
        )
    }
}

/// The slow path of taking a lock (the mutex, or the read-write lock's main queue): replaces
/// the state with `next(state)` as soon as it is not `blocked`; meanwhile spins, then parks on
/// `key` with `parked` set, until `deadline` (`None`: forever). True once taken, false on
/// timeout. A releaser may hand the lock over, waking the thread with [`TOKEN_HANDOFF`]: it
/// then holds the lock already.
///
/// # Safety
///
/// `key` must be an address that the calling lock owns and uses only for its own protocol, and
/// `blocked`, which also runs under the queue lock, must not panic.
#[cold]
pub(super) unsafe fn acquire_slow<S: State>(
    state: &S,
    key: usize,
    parked: S::Bits,
    deadline: Option<Instant>,
    blocked: impl Fn(S::Bits) -> bool,
    next: impl Fn(S::Bits) -> S::Bits,
) -> bool {
    let mut spin = SpinWait::new();
    let mut current = state.load(Ordering::Relaxed);
    loop {
        if take_unless_blocked(state, &mut current, &blocked, &next) {
            return true;
        }
        if let Some(now) = spin_or_flag(state, &mut spin, current, parked, Ordering::Relaxed) {
            current = now;
            continue;
        }
        // Sleep only if nobody released the lock (clearing `parked`) since the check above.
        let validate = || {
            let current = state.load(Ordering::Relaxed);
            current & parked != S::NONE && blocked(current)
        };
        // The last waiter to give up clears `parked`, or releases would keep waking nobody.
        let timed_out = |_key: usize, was_last: bool| {
            if was_last {
                state.clear(parked, Ordering::Relaxed);
            }
        };
        // SAFETY: the caller owns `key` and gives a `blocked` that does not panic; the
        // callbacks above only touch the state.
        match unsafe { park(key, validate, timed_out, deadline) } {
            ParkResult::Unparked(TOKEN_HANDOFF) => {
                // The releaser stored the held state with Release; acquire its writes.
                let _ = state.load(Ordering::Acquire);
                return true;
            }
            ParkResult::TimedOut => return false,
            ParkResult::Unparked(_) | ParkResult::Invalid => {}
        }
        spin.reset();
        current = state.load(Ordering::Relaxed);
    }
}
