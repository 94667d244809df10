//! std's poisoning: a flag on the lock, set when a guard is dropped during a panic that started
//! after the guard was made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};
use std::thread;

/// Whether a lock is poisoned.
pub(super) struct Flag {
    poisoned: AtomicBool,
}

impl Flag {
    pub(super) const fn new() -> Flag {
        Flag {
            poisoned: AtomicBool::new(false),
        }
    }

    pub(super) fn get(&self) -> bool {
        // Relaxed, as in std: the lock itself orders the data; the flag only reports.
        self.poisoned.load(Ordering::Relaxed)
    }

    pub(super) fn clear(&self) {
        self.poisoned.store(false, Ordering::Relaxed);
    }

    /// What a guard made now must remember: whether its thread is already panicking (then
    /// dropping it during that panic does not poison, as in std).
    pub(super) fn guard(&self) -> Panicking {
        Panicking(thread::panicking())
    }

    /// Called when a guard made with `guard` is dropped.
    pub(super) fn done(&self, guard: &Panicking) {
        if !guard.0 && thread::panicking() {
            self.poisoned.store(true, Ordering::Relaxed);
        }
    }

    /// `Ok(value)`, or `Err` with it inside when the lock is poisoned.
    pub(super) fn result<T>(&self, value: T) -> LockResult<T> {
        if self.get() {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

/// Whether the thread was panicking when a guard was made.
pub(super) struct Panicking(bool);
