//! Mapped guards of [`Mutex`]: tokio's `MutexGuard::map`, `try_map` and the owned ones. A
//! mapped guard holds the lock as the guard it came from did, so lockscan's record of the
//! hold (the task's held set, the lock's holder) is handed over with it and released when the
//! mapped guard drops.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::{Mutex, MutexGuard, OwnedMutexGuard};
use crate::ids::Mode;
use crate::instrument::LockHooks;

/// `map` and `try_map` of a guard over `$Target`, making `$Made` (of `$U`) with its
/// `into_mapped`: the hold moves from the old guard into the new one.
macro_rules! mapping {
    ([$($params:tt)*] $Guard:ty, $Target:ident => $Made:ty, $U:ident) => {
        impl<$($params)*> $Guard {
            /// A guard of a part of the data, holding the lock as this guard did (tokio's
            /// `map`).
            pub fn map<$U: ?Sized>(
                mut this: Self,
                f: impl FnOnce(&mut $Target) -> &mut $U,
            ) -> $Made {
                let data: *mut $U = f(&mut *this);
                this.into_mapped(data)
            }

            /// [`map`](Self::map), or the guard back when `f` returns `None`.
            #[allow(clippy::result_large_err)] // tokio's signature
            pub fn try_map<$U: ?Sized>(
                mut this: Self,
                f: impl FnOnce(&mut $Target) -> Option<&mut $U>,
            ) -> Result<$Made, Self> {
                match f(&mut *this) {
                    Some(data) => {
                        let data: *mut $U = data;
                        Ok(this.into_mapped(data))
                    }
                    None => Err(this),
                }
            }
        }
    };
}

mapping!(['a, T: ?Sized] MutexGuard<'a, T>, T => MappedMutexGuard<'a, U>, U);
mapping!(['a, T: ?Sized] MappedMutexGuard<'a, T>, T => MappedMutexGuard<'a, U>, U);
mapping!([T: ?Sized] OwnedMutexGuard<T>, T => OwnedMappedMutexGuard<T, U>, U);
mapping!([T: ?Sized, U: ?Sized] OwnedMappedMutexGuard<T, U>, U => OwnedMappedMutexGuard<T, S>, S);

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mapped guard of `data`, a part of the data, with this guard's hold.
    fn into_mapped<U: ?Sized>(self, data: *mut U) -> MappedMutexGuard<'a, U> {
        let this = ManuallyDrop::new(self);
        let lock: &'a Mutex<T> = this.lock;
        MappedMutexGuard {
            hooks: &lock.hooks,
            recorded: this.recorded,
            // SAFETY: read once from a guard that is never dropped: the gate moves.
            gate: unsafe { std::ptr::read(&this.gate) },
            data,
            _data: PhantomData,
        }
    }
}

/// The owned mapped guard of `data` with the hold of the owned guard `guard`, which is taken
/// apart without running its drop.
macro_rules! owned_mapped {
    ($guard:expr, $data:expr) => {{
        let this = ManuallyDrop::new($guard);
        // SAFETY: each field read once from a guard that is never dropped: they move.
        let (gate, lock) = unsafe { (std::ptr::read(&this.gate), std::ptr::read(&this.lock)) };
        let (recorded, data) = (this.recorded, $data);
        OwnedMappedMutexGuard {
            gate,
            recorded,
            data,
            lock,
        }
    }};
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    fn into_mapped<U: ?Sized>(self, data: *mut U) -> OwnedMappedMutexGuard<T, U> {
        owned_mapped!(self, data)
    }
}

/// A held [`Mutex`] that reaches a part of its data, made by [`MutexGuard::map`]; unlocks the
/// mutex when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use lockscan::tokio::{Mutex, MutexGuard};
///
/// let pair = Mutex::new((1, 2));
/// *MutexGuard::map(pair.lock().await, |pair| &mut pair.1) += 1;
/// assert_eq!(*pair.lock().await, (1, 3));
/// # }
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    hooks: &'a LockHooks,
    /// Whether lockscan recorded the hold, so that the drop records its release.
    recorded: bool,
    // Dropped after `drop` recorded the release: the real unlock comes second.
    #[allow(dead_code)]
    gate: tokio::sync::MutexGuard<'a, ()>,
    data: *mut T,
    _data: PhantomData<&'a mut T>,
}

// SAFETY: as tokio's `MappedMutexGuard`: the guard gives `&mut T` on the thread it is sent to.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
// SAFETY: as tokio's: a shared guard gives `&T` to every thread that shares it.
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    fn into_mapped<U: ?Sized>(self, data: *mut U) -> MappedMutexGuard<'a, U> {
        let this = ManuallyDrop::new(self);
        MappedMutexGuard {
            hooks: this.hooks,
            recorded: this.recorded,
            // SAFETY: read once from a guard that is never dropped: the gate moves.
            gate: unsafe { std::ptr::read(&this.gate) },
            data,
            _data: PhantomData,
        }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.recorded {
            self.hooks.release_async(Mode::Exclusive);
        }
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the mutex's data, which the gate keeps to this guard.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as `deref`, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.data }
    }
}

/// A held [`Mutex`] that reaches a part of its data and owns an `Arc` of it, made by
/// [`OwnedMutexGuard::map`]; unlocks the mutex when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized = T> {
    // Declared first, so dropped before `lock`, whose gate it borrows.
    #[allow(dead_code)]
    gate: tokio::sync::MutexGuard<'static, ()>,
    recorded: bool,
    data: *mut U,
    lock: Arc<Mutex<T>>,
}

// SAFETY: as tokio's `OwnedMappedMutexGuard`: the guard gives `&mut U` on the thread it is sent
// to, and may drop the last `Arc` of the mutex (and its `T`) there.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
// SAFETY: as tokio's: a shared guard gives `&U` to every thread that shares it.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }

    fn into_mapped<S: ?Sized>(self, data: *mut S) -> OwnedMappedMutexGuard<T, S> {
        owned_mapped!(self, data)
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    fn drop(&mut self) {
        if self.recorded {
            self.lock.hooks.release_async(Mode::Exclusive);
        }
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: `data` points into the mutex's data, which the gate keeps to this guard.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as `deref`, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.data }
    }
}

/// `Debug` and `Display` as the data's, as for tokio's guards.
macro_rules! formatted_as_data {
    ([$($params:tt)*] $Guard:ty) => {
        impl<$($params)*> fmt::Debug for $Guard
        where
            <$Guard as Deref>::Target: fmt::Debug,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($params)*> fmt::Display for $Guard
        where
            <$Guard as Deref>::Target: fmt::Display,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

formatted_as_data!(['a, T: ?Sized] MappedMutexGuard<'a, T>);
formatted_as_data!([T: ?Sized, U: ?Sized] OwnedMappedMutexGuard<T, U>);
