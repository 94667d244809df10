//! One word for the fast path of a lock operation: whether steering, race detection or
//! recording may be on. Each keeps its own state; this word only says, in one load and one
//! branch, that all three are off, so that the fast path need not ask each.

use std::sync::atomic::{AtomicU8, Ordering};

/// Steering towards a predicted cycle (`runtime::steer`).
pub(crate) const STEER: u8 = 1;
/// Race detection, on from the first tracked access (`runtime::hb`).
pub(crate) const RACES: u8 = 2;
/// A recording (`runtime::recorder`).
pub(crate) const RECORD: u8 = 4;

/// The switches that may be on. A bit is set while its switch is on, and while it is not known
/// yet: steering and recording read the environment at their first use, which the slow path
/// makes. A bit may stay set while its switch is off (that only sends operations to the slow
/// path); it is never clear while its switch is on.
static MAYBE_ON: AtomicU8 = AtomicU8::new(STEER | RECORD);

/// Whether any of the switches may be on; false: none is.
#[inline(always)]
pub(crate) fn any_on() -> bool {
    MAYBE_ON.load(Ordering::Relaxed) != 0
}

/// Sets `switch`'s bit; call it after storing the switch's new state with `SeqCst`.
pub(crate) fn turned_on(switch: u8) {
    MAYBE_ON.fetch_or(switch, Ordering::SeqCst);
}

/// Clears `switch`'s bit, after the switch's state was stored as off; `still_on` reads that
/// state again (with `SeqCst`). A turn-on racing with this one sets the bit again: either its
/// `turned_on` comes after the clearing here, or its state store comes before the check here
/// (all four in one total order).
pub(crate) fn turned_off(switch: u8, still_on: impl FnOnce() -> bool) {
    MAYBE_ON.fetch_and(!switch, Ordering::SeqCst);
    if still_on() {
        MAYBE_ON.fetch_or(switch, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_turned_on_while_turning_off_stays_on() {
        // A bit not used by the runtime, so that the test does not race with it.
        const SPARE: u8 = 128;
        turned_on(SPARE);
        turned_off(SPARE, || true);
        assert_ne!(MAYBE_ON.load(Ordering::SeqCst) & SPARE, 0);
        turned_off(SPARE, || false);
        assert_eq!(MAYBE_ON.load(Ordering::SeqCst) & SPARE, 0);
    }
}
