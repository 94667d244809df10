//! Mapped and downgraded guards of [`RwLock`], as tokio's: `map` and `try_map` on every guard,
//! `downgrade`, `downgrade_map`, `try_downgrade_map` and `into_mapped` on the write guards. A
//! guard made from another holds the lock as that one did, so lockscan's record of the hold is
//! handed over with it and released when the new guard drops; a downgrade records the change of
//! mode before the lock lets readers in.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

use super::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use crate::ids::Mode;
use crate::instrument::LockHooks;

write_guard!(
    /// A [`RwLock`] held for writing that reaches a part of its data, made by
    /// [`RwLockWriteGuard::map`]; released when dropped.
    RwLockMappedWriteGuard
);

/// A [`RwLock`] held for writing that reaches a part of its data and owns an `Arc` of the
/// lock, made by [`OwnedRwLockWriteGuard::map`]; released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockMappedWriteGuard<T: ?Sized, U: ?Sized = T> {
    // Declared first, so dropped before `lock`, whose gate it borrows.
    #[allow(dead_code)]
    gate: tokio::sync::RwLockWriteGuard<'static, ()>,
    recorded: bool,
    data: *mut U,
    lock: Arc<RwLock<T>>,
}

// SAFETY: as the other guards' (see `super`): a write guard gives `&T` and `&mut T`.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockMappedWriteGuard<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockMappedWriteGuard<'_, T> {}
// SAFETY: see above; an owned guard may also drop the last `Arc` of the lock where it is.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Send
    for OwnedRwLockMappedWriteGuard<T, U>
{
}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync
    for OwnedRwLockMappedWriteGuard<T, U>
{
}

guard_impls!(borrowed Exclusive, RwLockMappedWriteGuard, RwLockWriteGuard);
guard_impls!(writable ['a, T: ?Sized] RwLockMappedWriteGuard<'a, T>, T);
guard_impls!(owned Exclusive, [T: ?Sized, U: ?Sized] OwnedRwLockMappedWriteGuard<T, U>, U,
    RwLockWriteGuard);
guard_impls!(writable [T: ?Sized, U: ?Sized] OwnedRwLockMappedWriteGuard<T, U>, U);

impl<T: ?Sized, U: ?Sized> OwnedRwLockMappedWriteGuard<T, U> {
    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

/// `map` and `try_map` of a guard type whose closure gets `$Ref` (`&` or `&mut`), making
/// `$Made` with the new data; the hold moves from the old guard into the new one.
macro_rules! mapping {
    (borrowed [$($Ref:tt)+] $Guard:ident => $Made:ident, $ptr:ty) => {
        impl<'a, T: ?Sized> $Guard<'a, T> {
            #[doc = concat!("A [`", stringify!($Made), "`] of a part of the data, holding the \
                             lock as this guard did (tokio's `", stringify!($Guard), "::map`).")]
            pub fn map<U: ?Sized>(
                #[allow(unused_mut)] mut this: Self,
                f: impl FnOnce($($Ref)+ T) -> $($Ref)+ U,
            ) -> $Made<'a, U> {
                let data: $ptr = f(mapping!(@borrow [$($Ref)+] this));
                let (hooks, recorded, gate) = this.into_parts();
                $Made { hooks, recorded, gate, data, _data: PhantomData }
            }

            /// [`map`](Self::map), or the guard back when `f` returns `None`.
            pub fn try_map<U: ?Sized>(
                #[allow(unused_mut)] mut this: Self,
                f: impl FnOnce($($Ref)+ T) -> Option<$($Ref)+ U>,
            ) -> Result<$Made<'a, U>, Self> {
                let data: $ptr = match f(mapping!(@borrow [$($Ref)+] this)) {
                    Some(data) => data,
                    None => return Err(this),
                };
                let (hooks, recorded, gate) = this.into_parts();
                Ok($Made { hooks, recorded, gate, data, _data: PhantomData })
            }
        }
    };
    (owned [$($Ref:tt)+] [$($params:tt)*] $Guard:ty, $Target:ident => $Made:ident, $ptr:ty) => {
        impl<$($params)*> $Guard {
            #[doc = concat!("A [`", stringify!($Made), "`] of a part of the data, holding the \
                             lock as this guard did (tokio's `map`).")]
            pub fn map<V: ?Sized>(
                #[allow(unused_mut)] mut this: Self,
                f: impl FnOnce($($Ref)+ $Target) -> $($Ref)+ V,
            ) -> $Made<T, V> {
                let data: $ptr = f(mapping!(@borrow [$($Ref)+] this));
                let (lock, recorded, gate) = this.into_parts();
                $Made { gate, recorded, data, lock }
            }

            /// [`map`](Self::map), or the guard back when `f` returns `None`.
            pub fn try_map<V: ?Sized>(
                #[allow(unused_mut)] mut this: Self,
                f: impl FnOnce($($Ref)+ $Target) -> Option<$($Ref)+ V>,
            ) -> Result<$Made<T, V>, Self> {
                let data: $ptr = match f(mapping!(@borrow [$($Ref)+] this)) {
                    Some(data) => data,
                    None => return Err(this),
                };
                let (lock, recorded, gate) = this.into_parts();
                Ok($Made { gate, recorded, data, lock })
            }
        }
    };
    (@borrow [&] $this:ident) => { &*$this };
    (@borrow [&mut] $this:ident) => { &mut *$this };
}

mapping!(borrowed [&] RwLockReadGuard => RwLockReadGuard, *const U);
mapping!(borrowed [&mut] RwLockWriteGuard => RwLockMappedWriteGuard, *mut U);
mapping!(borrowed [&mut] RwLockMappedWriteGuard => RwLockMappedWriteGuard, *mut U);
mapping!(owned [&] [T: ?Sized, U: ?Sized] OwnedRwLockReadGuard<T, U>, U
    => OwnedRwLockReadGuard, *const V);
mapping!(owned [&mut] [T: ?Sized] OwnedRwLockWriteGuard<T>, T
    => OwnedRwLockMappedWriteGuard, *mut V);
mapping!(owned [&mut] [T: ?Sized, U: ?Sized] OwnedRwLockMappedWriteGuard<T, U>, U
    => OwnedRwLockMappedWriteGuard, *mut V);

/// Records the downgrade of a recorded hold at `site`, before the gate lets readers in.
fn record_downgrade(hooks: &LockHooks, recorded: bool, site: &'static Location<'static>) {
    if recorded {
        hooks.change_mode_at(Mode::Exclusive, Mode::Shared, site);
    }
}

/// `into_mapped`, `downgrade`, `downgrade_map` and `try_downgrade_map` of a write guard,
/// whose `downgraded` makes the read guard `$Read` of `$U`.
macro_rules! downgrading {
    ([$($params:tt)*] $Guard:ty => $Mapped:ty, $Read:ty, $Whole:ty, $U:ident) => {
        impl<$($params)*> $Guard {
            /// The whole data, as a mapped write guard (tokio's `into_mapped`).
            pub fn into_mapped(this: Self) -> $Mapped {
                Self::map(this, |data| data)
            }

            /// Holds the lock for reading instead, letting other readers in, without a moment
            /// when it is free (tokio's `downgrade`).
            #[track_caller]
            pub fn downgrade(self) -> $Whole {
                let site = Location::caller();
                let data: *const T = self.data;
                Self::downgraded(self, data, site)
            }

            /// [`downgrade`](Self::downgrade) to a part of the data (tokio's `downgrade_map`).
            #[track_caller]
            pub fn downgrade_map<$U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &$U) -> $Read {
                let site = Location::caller();
                let data: *const $U = f(&*this);
                Self::downgraded(this, data, site)
            }

            /// [`downgrade_map`](Self::downgrade_map), or the guard back when `f` returns
            /// `None`.
            #[track_caller]
            pub fn try_downgrade_map<$U: ?Sized>(
                this: Self,
                f: impl FnOnce(&T) -> Option<&$U>,
            ) -> Result<$Read, Self> {
                let site = Location::caller();
                let data: *const $U = match f(&*this) {
                    Some(data) => data,
                    None => return Err(this),
                };
                Ok(Self::downgraded(this, data, site))
            }
        }
    };
}

downgrading!(['a, T: ?Sized] RwLockWriteGuard<'a, T> => RwLockMappedWriteGuard<'a, T>,
    RwLockReadGuard<'a, U>, RwLockReadGuard<'a, T>, U);
downgrading!([T: ?Sized] OwnedRwLockWriteGuard<T> => OwnedRwLockMappedWriteGuard<T>,
    OwnedRwLockReadGuard<T, U>, OwnedRwLockReadGuard<T>, U);

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn downgraded<U: ?Sized>(
        this: Self,
        data: *const U,
        site: &'static Location<'static>,
    ) -> RwLockReadGuard<'a, U> {
        let (hooks, recorded, gate) = this.into_parts();
        record_downgrade(hooks, recorded, site);
        let gate = gate.downgrade();
        RwLockReadGuard {
            hooks,
            recorded,
            gate,
            data,
            _data: PhantomData,
        }
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    fn downgraded<U: ?Sized>(
        this: Self,
        data: *const U,
        site: &'static Location<'static>,
    ) -> OwnedRwLockReadGuard<T, U> {
        let (lock, recorded, gate) = this.into_parts();
        record_downgrade(&lock.hooks, recorded, site);
        let gate = gate.downgrade();
        OwnedRwLockReadGuard {
            gate,
            recorded,
            data,
            lock,
        }
    }
}
