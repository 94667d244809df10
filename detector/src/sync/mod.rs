//! The user-facing lock types: parking_lot's API, method for method, over an instrumented core.
//!
//! Swap `use parking_lot::{Mutex, RwLock, ReentrantMutex, Condvar};` for
//! `use lockscan::{Mutex, RwLock, ReentrantMutex, Condvar};` and the code compiles unchanged.
//! Each type is a thin shell: a parking_lot lock plus the lock's metadata; every acquiring
//! method is `#[track_caller]`, so reports point at your code, and every guard records its
//! release when dropped.

mod condvar;
mod mutex;
mod reentrant;
mod rwlock;

/// parking_lot's `Once`, re-exported unchanged so that a `use parking_lot::{...}` line that
/// names it can switch to lockscan whole. It is not instrumented: a `Once` holds no lock that
/// another can wait for in a cycle (parking_lot panics on a recursive `call_once`).
pub use crate::raw::{Once, OnceState};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, const_mutex};
pub use reentrant::{
    MappedReentrantMutexGuard, ReentrantMutex, ReentrantMutexGuard, const_reentrant_mutex,
};
pub use rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard, const_rwlock,
};

/// Moves the fields out of a guard without running its `Drop` (which would record a release
/// that did not happen): the caller hands the hold on to another guard.
macro_rules! into_parts {
    ($guard:expr, $($field:ident),+) => {{
        let guard = ::core::mem::ManuallyDrop::new($guard);
        // SAFETY: `guard` is never dropped nor used after this, and each field is read once,
        // so ownership of every field moves out exactly once.
        unsafe { ($(::core::ptr::read(&guard.$field)),+) }
    }};
}
pub(crate) use into_parts;

/// Deref, Drop (recording the release in the guard's mode), Debug and Display for a guard.
macro_rules! guard_impls {
    ($guard:ident, $mode:expr, |$g:ident| $meta:expr) => {
        impl<T: ?Sized> ::core::ops::Deref for $guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.inner
            }
        }

        impl<T: ?Sized> Drop for $guard<'_, T> {
            fn drop(&mut self) {
                let $g = &*self;
                $meta.release($mode);
            }
        }

        impl<T: ?Sized + ::core::fmt::Debug> ::core::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + ::core::fmt::Display> ::core::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&**self, f)
            }
        }
    };
}
pub(crate) use guard_impls;
