//! `lockscan::tokio::RwLock`: tokio's async read-write lock, instrumented.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

use super::{TryLockError, acquire, tried};
use crate::ids::{LockKind, Mode};
use crate::instrument::LockHooks;

/// tokio's [`RwLock`](tokio::sync::RwLock), instrumented (fair: a second `read` of a task
/// behind a queued writer waits for itself, and is reported).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use lockscan::tokio::{Instrument, RwLock};
///
/// let routes = RwLock::named("routes", vec!["/"]);
/// async {
///     routes.write().await.push("/about");
///     assert_eq!(routes.read().await.len(), 2);
/// }
/// .instrumented()
/// .await;
/// # }
/// ```
pub struct RwLock<T: ?Sized> {
    hooks: LockHooks,
    /// tokio's lock, of nothing: the data is beside it (see [`super::Mutex`]).
    gate: tokio::sync::RwLock<()>,
    data: UnsafeCell<T>,
}

// SAFETY: as tokio's `RwLock<T>`: sending the lock sends a `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as tokio's: readers on several threads share `&T` (Sync), a writer takes the `T` on
// another thread (Send).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A lock named after the caller's location.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::const_new(value)
    }

    /// A lock named after the caller's location, in a `const` or `static`.
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            hooks: LockHooks::at(LockKind::RwLock, Location::caller()),
            gate: tokio::sync::RwLock::const_new(()),
            data: UnsafeCell::new(value),
        }
    }

    /// A lock with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock {
            hooks: LockHooks::named(LockKind::RwLock, Location::caller(), name.into()),
            gate: tokio::sync::RwLock::const_new(()),
            data: UnsafeCell::new(value),
        }
    }

    /// Declares the lock's rank, as for [`crate::RwLock::with_rank`].
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.hooks.set_rank(rank);
        self
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

/// The acquiring methods of a mode: `async_name`, `owned_name`, `try_name`, `try_owned_name`,
/// over the gate's `gate_name` and `try_gate_name`.
macro_rules! acquiring {
    ($mode:ident, $Guard:ident, $Owned:ident, $doc:literal,
     $name:ident, $owned:ident, $try_name:ident, $try_owned:ident,
     $gate_name:ident, $try_gate:ident, $take:ident) => {
        #[doc = concat!("Locks for ", $doc, ", waiting (asynchronously) while it conflicts.")]
        ///
        /// # Panics
        ///
        /// Inside a wrapped task, when the wait would complete a wait cycle (a deadlock), and,
        /// with the default policy, when the acquisition closes a lock-order cycle.
        #[track_caller]
        pub fn $name(&self) -> impl Future<Output = $Guard<'_, T>> {
            let site = Location::caller();
            async move {
                let (gate, recorded) = self.$take(site).await;
                $Guard::new(self, gate, recorded)
            }
        }

        #[doc = concat!("Locks for ", $doc, " through an `Arc`, for a guard that owns it.")]
        #[track_caller]
        pub fn $owned(self: Arc<Self>) -> impl Future<Output = $Owned<T>> {
            let site = Location::caller();
            async move {
                let (gate, recorded) = self.$take(site).await;
                {
                    // SAFETY: the owned guard keeps `self`, whose gate `gate` holds, alive and
                    // in place until after `gate` is dropped (fields drop in declaration order).
                    let gate = unsafe { $crate::tokio::rwlock::detach(gate) };
                    $Owned::new(gate, recorded, self)
                }
            }
        }

        /// The gate, taken in a task in this mode: whether lockscan recorded the hold.
        async fn $take(
            &self,
            site: &'static Location<'static>,
        ) -> (tokio::sync::$Guard<'_, ()>, bool) {
            let attempt = || self.gate.$try_gate().ok();
            acquire(
                &self.hooks,
                Mode::$mode,
                site,
                true,
                attempt,
                self.gate.$gate_name(),
                |_| true,
            )
            .await
        }

        #[doc = concat!("Locks for ", $doc, " if nothing conflicts.")]
        #[track_caller]
        pub fn $try_name(&self) -> Result<$Guard<'_, T>, TryLockError> {
            let gate = self.gate.$try_gate()?;
            let recorded = tried(&self.hooks, Mode::$mode, Location::caller());
            Ok($Guard::new(self, gate, recorded))
        }

        #[doc = concat!("Locks for ", $doc, " through an `Arc` if nothing conflicts.")]
        #[track_caller]
        pub fn $try_owned(self: Arc<Self>) -> Result<$Owned<T>, TryLockError> {
            let gate = self.gate.$try_gate()?;
            let recorded = tried(&self.hooks, Mode::$mode, Location::caller());
            // SAFETY: the owned guard keeps `self`, whose gate `gate` holds, alive and in
            // place until after `gate` is dropped (fields drop in declaration order).
            let gate = unsafe { $crate::tokio::rwlock::detach(gate) };
            Ok($Owned::new(gate, recorded, self))
        }
    };
}

impl<T: ?Sized> RwLock<T> {
    /// The declared rank.
    pub fn rank(&self) -> Option<u32> {
        self.hooks.rank()
    }

    acquiring!(
        Shared,
        RwLockReadGuard,
        OwnedRwLockReadGuard,
        "reading",
        read,
        read_owned,
        try_read,
        try_read_owned,
        read,
        try_read,
        take_read
    );
    acquiring!(
        Exclusive,
        RwLockWriteGuard,
        OwnedRwLockWriteGuard,
        "writing",
        write,
        write_owned,
        try_write,
        try_write_owned,
        write,
        try_write,
        take_write
    );

    /// The value, through the `&mut` that proves no one holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.gate.try_read() {
            // SAFETY: the gate is held for reading for the borrow.
            Ok(_gate) => d.field("data", &unsafe { &*self.data.get() }),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// A [`RwLock`] held for reading; released when dropped. `T` is the lock's data, or a part of
/// it ([`RwLockReadGuard::map`]).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    hooks: &'a LockHooks,
    /// Whether lockscan recorded the hold, so that the drop records its release.
    recorded: bool,
    // Dropped after `drop` recorded the release: the real unlock comes second.
    #[allow(dead_code)]
    gate: tokio::sync::RwLockReadGuard<'a, ()>,
    data: *const T,
    _data: PhantomData<&'a T>,
}

/// A borrowing write guard type (the plain one and the mapped one are alike).
macro_rules! write_guard {
    ($(#[$doc:meta])* $Guard:ident) => {
        $(#[$doc])*
        #[must_use = "if unused the RwLock will immediately unlock"]
        pub struct $Guard<'a, T: ?Sized> {
            hooks: &'a LockHooks,
            recorded: bool,
            #[allow(dead_code)]
            gate: tokio::sync::RwLockWriteGuard<'a, ()>,
            data: *mut T,
            _data: PhantomData<&'a mut T>,
        }
    };
}

write_guard!(
    /// A [`RwLock`] held for writing; released when dropped.
    RwLockWriteGuard
);

/// A [`RwLock`] held for reading by a guard that owns an `Arc` of it. `U` is the lock's data,
/// or a part of it ([`OwnedRwLockReadGuard::map`]).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockReadGuard<T: ?Sized, U: ?Sized = T> {
    // Declared first, so dropped before `lock`, whose gate it borrows.
    #[allow(dead_code)]
    gate: tokio::sync::RwLockReadGuard<'static, ()>,
    recorded: bool,
    data: *const U,
    lock: Arc<RwLock<T>>,
}

/// A [`RwLock`] held for writing by a guard that owns an `Arc` of it.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    // Declared first, so dropped before `lock`, whose gate it borrows.
    #[allow(dead_code)]
    gate: tokio::sync::RwLockWriteGuard<'static, ()>,
    recorded: bool,
    data: *mut T,
    lock: Arc<RwLock<T>>,
}

// SAFETY: as tokio's guards, which also keep a raw pointer to the data: a read guard gives
// `&T` wherever it is (`T: Sync`), a write guard also `&mut T` (`T: Send`); an owned guard may
// drop the last `Arc` of the lock, and its `T`, where it is. The same for the mapped guards.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Send for OwnedRwLockReadGuard<T, U> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedRwLockReadGuard<T, U> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Send for OwnedRwLockWriteGuard<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedRwLockWriteGuard<T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn new(
        lock: &'a RwLock<T>,
        gate: tokio::sync::RwLockReadGuard<'a, ()>,
        recorded: bool,
    ) -> Self {
        RwLockReadGuard {
            hooks: &lock.hooks,
            recorded,
            gate,
            data: lock.data.get(),
            _data: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(
        lock: &'a RwLock<T>,
        gate: tokio::sync::RwLockWriteGuard<'a, ()>,
        recorded: bool,
    ) -> Self {
        RwLockWriteGuard {
            hooks: &lock.hooks,
            recorded,
            gate,
            data: lock.data.get(),
            _data: PhantomData,
        }
    }
}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// The guard for `gate`, made by `detach` from the guard of `lock`'s gate.
    fn new(
        gate: tokio::sync::RwLockReadGuard<'static, ()>,
        recorded: bool,
        lock: Arc<RwLock<T>>,
    ) -> Self {
        OwnedRwLockReadGuard {
            gate,
            recorded,
            data: lock.data.get(),
            lock,
        }
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// The guard for `gate`, made by `detach` from the guard of `lock`'s gate.
    fn new(
        gate: tokio::sync::RwLockWriteGuard<'static, ()>,
        recorded: bool,
        lock: Arc<RwLock<T>>,
    ) -> Self {
        OwnedRwLockWriteGuard {
            gate,
            recorded,
            data: lock.data.get(),
            lock,
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized, U: ?Sized> OwnedRwLockReadGuard<T, U> {
    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

/// What every guard type has: `into_parts` (its hold, taken apart without the drop, for a
/// guard made from it: the hooks or the `Arc` of the lock, whether the hold was recorded, the
/// gate's guard), the drop that records the release, `Deref`, `Debug` and `Display` as the
/// data's; `writable` is `DerefMut`.
macro_rules! guard_impls {
    (borrowed $mode:ident, $Guard:ident, $Gate:ident) => {
        impl<'a, T: ?Sized> $Guard<'a, T> {
            #[allow(dead_code)] // not every guard is made into another
            fn into_parts(self) -> (&'a LockHooks, bool, tokio::sync::$Gate<'a, ()>) {
                let this = std::mem::ManuallyDrop::new(self);
                // SAFETY: read once from a guard that is never dropped: the gate moves.
                let gate = unsafe { std::ptr::read(&this.gate) };
                (this.hooks, this.recorded, gate)
            }
        }
        guard_impls!(@common $mode, ['a, T: ?Sized] $Guard<'a, T>, T, |this| this.hooks);
    };
    (owned $mode:ident, [$($params:tt)*] $Guard:ty, $Target:ident, $Gate:ident) => {
        impl<$($params)*> $Guard {
            #[allow(dead_code)] // not every guard is made into another
            fn into_parts(self) -> (Arc<RwLock<T>>, bool, tokio::sync::$Gate<'static, ()>) {
                let this = std::mem::ManuallyDrop::new(self);
                // SAFETY: each field read once from a guard that is never dropped: they move.
                let (gate, lock) = unsafe { (std::ptr::read(&this.gate), std::ptr::read(&this.lock)) };
                (lock, this.recorded, gate)
            }
        }
        guard_impls!(@common $mode, [$($params)*] $Guard, $Target, |this| &this.lock.hooks);
    };
    (@common $mode:ident, [$($params:tt)*] $Guard:ty, $Target:ident, |$this:ident| $hooks:expr) => {
        impl<$($params)*> Drop for $Guard {
            fn drop(&mut self) {
                let $this = &*self;
                if $this.recorded {
                    $hooks.release_async(Mode::$mode);
                }
            }
        }

        impl<$($params)*> Deref for $Guard {
            type Target = $Target;
            fn deref(&self) -> &$Target {
                // SAFETY: `data` points into the lock's data, which the gate keeps from
                // writers (other than this guard, in write mode).
                unsafe { &*self.data }
            }
        }

        impl<$($params)*> fmt::Debug for $Guard where $Target: fmt::Debug {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($params)*> fmt::Display for $Guard where $Target: fmt::Display {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
    (writable [$($params:tt)*] $Guard:ty, $Target:ident) => {
        impl<$($params)*> DerefMut for $Guard {
            fn deref_mut(&mut self) -> &mut $Target {
                // SAFETY: the gate is held for writing, and `&mut self` makes this the only
                // borrow.
                unsafe { &mut *self.data }
            }
        }
    };
}

guard_impls!(borrowed Shared, RwLockReadGuard, RwLockReadGuard);
guard_impls!(borrowed Exclusive, RwLockWriteGuard, RwLockWriteGuard);
guard_impls!(writable ['a, T: ?Sized] RwLockWriteGuard<'a, T>, T);
guard_impls!(owned Shared, [T: ?Sized, U: ?Sized] OwnedRwLockReadGuard<T, U>, U, RwLockReadGuard);
guard_impls!(owned Exclusive, [T: ?Sized] OwnedRwLockWriteGuard<T>, T, RwLockWriteGuard);
guard_impls!(writable [T: ?Sized] OwnedRwLockWriteGuard<T>, T);

mod mapped;

pub use mapped::{OwnedRwLockMappedWriteGuard, RwLockMappedWriteGuard};

/// The guard of a gate inside an `Arc`, for an owned guard that keeps the `Arc`: a read or
/// write guard of tokio's.
///
/// # Safety
///
/// The gate `gate` borrows must stay alive and in place for as long as the returned guard
/// lives; the `'static` lifetime must not be handed out.
pub(super) unsafe fn detach<G: Detach>(gate: G) -> G::Static {
    // SAFETY: the caller's promise; only the lifetime changes.
    unsafe { gate.detach() }
}

/// A tokio guard whose lifetime [`detach`] can extend.
pub(super) trait Detach {
    type Static;
    /// # Safety
    ///
    /// As [`detach`].
    unsafe fn detach(self) -> Self::Static;
}

impl Detach for tokio::sync::RwLockReadGuard<'_, ()> {
    type Static = tokio::sync::RwLockReadGuard<'static, ()>;
    unsafe fn detach(self) -> Self::Static {
        // SAFETY: the caller's promise (see `detach`); only the lifetime changes.
        unsafe { std::mem::transmute::<Self, Self::Static>(self) }
    }
}

impl Detach for tokio::sync::RwLockWriteGuard<'_, ()> {
    type Static = tokio::sync::RwLockWriteGuard<'static, ()>;
    unsafe fn detach(self) -> Self::Static {
        // SAFETY: the caller's promise (see `detach`); only the lifetime changes.
        unsafe { std::mem::transmute::<Self, Self::Static>(self) }
    }
}
