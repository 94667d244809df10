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

/// The constructors std's `Mutex` and `RwLock` share, inside `constructors! { Lock; items }`:
/// `fn new;`, `fn named;` and `fn into_inner;`, each written with its docs, and `with_rank`,
/// whose docs are written here.
macro_rules! constructors {
    (
        $Lock:ident;
        $(#[$new:meta])* fn new;
        $(#[$named:meta])* fn named;
        $(#[$into_inner:meta])* fn into_inner;
    ) => {
        impl<T> $Lock<T> {
            $(#[$new])*
            #[track_caller]
            pub const fn new(value: T) -> $Lock<T> {
                $Lock {
                    poison: Flag::new(),
                    inner: crate::$Lock::new(value),
                }
            }

            $(#[$named])*
            #[track_caller]
            pub fn named(name: impl Into<::std::borrow::Cow<'static, str>>, value: T) -> $Lock<T> {
                $Lock {
                    poison: Flag::new(),
                    inner: crate::$Lock::named(name, value),
                }
            }

            #[doc = concat!(
                "Declares the lock's rank, as [`crate::", stringify!($Lock), "::with_rank`] does."
            )]
            #[must_use]
            pub const fn with_rank(mut self, rank: u32) -> Self {
                self.inner.hooks.set_rank(rank);
                self
            }

            $(#[$into_inner])*
            pub fn into_inner(self) -> LockResult<T> {
                let $Lock { poison, inner } = self;
                poison.result(inner.into_inner())
            }
        }
    };
}

/// A blocking acquisition and its non-blocking attempt, each with std's poisoning:
/// `acquisitions! { docs fn lock, docs fn try_lock -> Guard(this, inner => make); }` inside
/// the lock's `impl`, where `lock` and `try_lock` are the `sync` lock's methods of the same
/// names and `make` turns its guard `inner` (and `this`, the lock, or `_`) into this module's
/// `Guard`. Both are
/// `#[track_caller]`, so the acquisition is recorded at the caller's line.
macro_rules! acquisitions {
    (
        $(#[$doc:meta])* fn $lock:ident,
        $(#[$try_doc:meta])* fn $try:ident -> $Guard:ident($this:pat, $inner:ident => $make:expr);
    ) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $lock(&self) -> LockResult<$Guard<'_, T>> {
            let ($this, $inner) = (self, self.inner.$lock());
            self.poison.result($make)
        }

        $(#[$try_doc])*
        #[track_caller]
        pub fn $try(&self) -> TryLockResult<$Guard<'_, T>> {
            let $inner = self.inner.$try().ok_or(TryLockError::WouldBlock)?;
            let $this = self;
            Ok(self.poison.result($make)?)
        }
    };
}

/// What std's `Mutex` and `RwLock` share beyond locking and constructing: the poison flag's
/// API, `get_mut`, `rank`, `Default`, `From`, unwind safety, and `Debug`, which looks at the
/// data through the raw lock's `peek` (an attempt to lock that is not recorded) as std does.
macro_rules! poison_api {
    ($Lock:ident, $peek:ident) => {
        impl<T: ?Sized> $Lock<T> {
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

        crate::sync::default_and_from!($Lock);

        impl<T: ?Sized + ::std::fmt::Debug> ::std::fmt::Debug for $Lock<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut d = f.debug_struct(stringify!($Lock));
                // The raw lock, as std and parking_lot do: formatting is not an acquisition to
                // record.
                match self.inner.inner.$peek() {
                    Some(data) => d.field("data", &&*data),
                    None => d.field("data", &format_args!("<locked>")),
                };
                d.field("poisoned", &self.poison.get());
                d.finish_non_exhaustive()
            }
        }

        // As in std: a lock that a panic left in the middle of an update says so (poisoning),
        // so catching the panic and going on is not silently unsafe.
        impl<T: ?Sized> ::std::panic::UnwindSafe for $Lock<T> {}
        impl<T: ?Sized> ::std::panic::RefUnwindSafe for $Lock<T> {}
    };
}

/// Deref, Debug and Display for a guard of this module (`deref_and_fmt!`),
/// whose field `inner` is the detecting lock's guard; with `poisons`, also DerefMut and a Drop
/// that poisons the lock if the guard is dropped during a panic (its fields `panicking` and
/// `holder`, the lock).
macro_rules! guard_impls {
    ($Guard:ident) => {
        crate::sync::deref_and_fmt!($Guard);
    };
    ($Guard:ident, poisons through $holder:ident) => {
        guard_impls!($Guard);

        impl<T: ?Sized> ::std::ops::DerefMut for $Guard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.inner
            }
        }

        impl<T: ?Sized> Drop for $Guard<'_, T> {
            fn drop(&mut self) {
                self.$holder.poison.done(&self.panicking);
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
