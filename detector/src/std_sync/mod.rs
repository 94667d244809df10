//! The standard library's `std::sync` locks, instrumented: [`Mutex`], [`RwLock`] and
//! [`Condvar`] with std's API — `LockResult`, poisoning, `TryLockResult` — over lockscan's
//! detecting locks.
//!
//! Swap `use std::sync::{Mutex, RwLock, Condvar};` for
//! `use lockscan::std_sync::{Mutex, RwLock, Condvar};` and the code compiles unchanged: the
//! result and error types are std's own ([`LockResult`], [`PoisonError`], [`TryLockError`]),
//! and the rest of `std::sync` that code names next to them ([`Arc`], [`OnceLock`],
//! [`LazyLock`], [`Once`], [`Barrier`], [`mpsc`], [`atomic`], ...) is re-exported unchanged,
//! so the whole import line can switch.
//!
//! Detection is the same as for [`crate::Mutex`]: order cycles, actual deadlocks, a thread
//! re-locking a mutex it holds, a condition-variable wait while holding other locks; locks can
//! be [`named`](Mutex::named) and [ranked](Mutex::with_rank). Poisoning follows std: a guard
//! dropped while its thread panics poisons the lock (for an [`RwLock`], only a write guard),
//! and later acquisitions return `Err` with the guard inside.
//!
//! ```
//! use lockscan::std_sync::{Arc, Mutex};
//!
//! let balance = Arc::new(Mutex::named("std:balance", 100_u64));
//! let worker = {
//!     let balance = Arc::clone(&balance);
//!     std::thread::spawn(move || *balance.lock().unwrap() -= 30)
//! };
//! worker.join().unwrap();
//! assert_eq!(*balance.lock().unwrap(), 70);
//! ```
//!
//! What is not here: std's unstable lock APIs (`MappedMutexGuard`, `Mutex::map`, ...), and
//! `Condvar::wait_timeout_ms` (deprecated since Rust 1.6).

/// What std's `Mutex` and `RwLock` share beyond locking: the poison flag's API, `get_mut`,
/// `rank`, `Default` and `From`.
macro_rules! poison_api {
    ($lock:ident) => {
        impl<T: ?Sized> $lock<T> {
            /// Whether a thread panicked while holding the lock (for an `RwLock`, for writing).
            pub fn is_poisoned(&self) -> bool {
                self.poison.get()
            }

            /// Clears the poisoned state, for code that has restored the data's invariants.
            pub fn clear_poison(&self) {
                self.poison.clear();
            }

            /// The data, through exclusive access to the lock: no locking needed. `Err` with the
            /// reference inside if it is poisoned.
            pub fn get_mut(&mut self) -> LockResult<&mut T> {
                self.poison.result(self.inner.get_mut())
            }

            /// The declared rank, if any (always `None` when detection is off).
            pub fn rank(&self) -> Option<u32> {
                self.inner.rank()
            }
        }

        impl<T: Default> Default for $lock<T> {
            #[track_caller]
            fn default() -> Self {
                $lock::new(T::default())
            }
        }

        impl<T> From<T> for $lock<T> {
            #[track_caller]
            fn from(value: T) -> Self {
                $lock::new(value)
            }
        }
    };
}

mod condvar;
mod mutex;
mod poison;
mod rwlock;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
/// Re-exported from `std::sync` unchanged: the result types are std's own, so code that names
/// them (or matches on [`TryLockError`]) compiles as before; the others hold no lock that can
/// take part in a lock-order cycle, or are not locks.
pub use std::sync::{
    Arc, Barrier, BarrierWaitResult, LazyLock, LockResult, Once, OnceLock, OnceState, PoisonError,
    TryLockError, TryLockResult, Weak, atomic, mpsc,
};
