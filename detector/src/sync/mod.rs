//! The user-facing lock types: parking_lot's API, method for method, over an instrumented core.
//!
//! Swap `use parking_lot::{Mutex, RwLock, ReentrantMutex, Condvar};` for
//! `use lockscan::{Mutex, RwLock, ReentrantMutex, Condvar};` and the code compiles unchanged.
//! Each type is a thin shell: a parking_lot lock plus the lock's metadata; every acquiring
//! method is `#[track_caller]`, so reports point at your code, and every guard records its
//! release when dropped.

use crate::instrument::LockHooks;

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

/// What a guard holds its lock through, for the lock's hooks in the instrumented core: the
/// lock itself, or for a mapped guard (which no longer knows the lock's type) the hooks.
pub(crate) trait Held {
    fn hooks(&self) -> &LockHooks;
}

impl Held for LockHooks {
    fn hooks(&self) -> &LockHooks {
        self
    }
}

/// The methods every instrumented lock has, with the same code: `lock_methods! { Lock, Kind;
/// items }` inside the lock's `impl` block, where `Lock` is also the name of the raw lock it
/// wraps, `Kind` its `LockKind` and each item one method, written
/// with its docs:
///
/// - `fn new;`, `fn named;`, `fn into_inner;` (in `impl<T>`), `fn get_mut;`, `fn is_locked;`;
/// - `fn with_rank;`, `fn rank;`, `fn data_ptr;`, whose docs are the same for every lock and
///   written here;
/// - `fn name -> Guard: blocks(Mode, try_name);`: a blocking acquisition in `Mode` (a
///   `blocks_recursively` one may re-enter a lock this thread holds), `try_name` being the raw
///   lock's non-blocking attempt;
/// - `fn name(arg: Type) -> Guard: tries(Mode);`: an attempt, the raw lock's method of the
///   same name, returning `None` when it fails.
///
/// Every acquiring method is `#[track_caller]`, so that the acquisition is recorded at the
/// caller's line; the guard is made as `Guard { lock: self, inner }`.
macro_rules! lock_methods {
    ($Lock:ident, $kind:ident; $($items:tt)*) => {
        $crate::sync::lock_methods!(@item [$Lock $kind] $($items)*);
    };
    (@item $lock:tt) => {};
    (@item [$Lock:ident $kind:ident] $(#[$doc:meta])* fn new; $($rest:tt)*) => {
        $(#[$doc])*
        #[track_caller]
        pub const fn new(value: T) -> $Lock<T> {
            $Lock {
                hooks: $crate::instrument::LockHooks::at(
                    $crate::ids::LockKind::$kind,
                    ::std::panic::Location::caller(),
                ),
                inner: $crate::raw::$Lock::new(value),
            }
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] $(#[$doc:meta])* fn named; $($rest:tt)*) => {
        $(#[$doc])*
        #[track_caller]
        pub fn named(name: impl Into<::std::borrow::Cow<'static, str>>, value: T) -> $Lock<T> {
            $Lock {
                hooks: $crate::instrument::LockHooks::named(
                    $crate::ids::LockKind::$kind,
                    ::std::panic::Location::caller(),
                    name.into(),
                ),
                inner: $crate::raw::$Lock::new(value),
            }
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] fn with_rank; $($rest:tt)*) => {
        /// Declares the lock's rank: while holding a lock of rank `r`, a thread may only acquire
        /// locks of rank higher than `r`. An acquisition against the ranks is an `order-violation`
        /// finding at once, before any cycle exists. [`lock_all`](crate::lock_all) takes ranked
        /// locks in rank order. Ranks are checked only while detection is on.
        ///
        /// ```
        #[doc = concat!("let accounts = lockscan::", stringify!($Lock), "::new(()).with_rank(1);")]
        #[doc = concat!("let log = lockscan::", stringify!($Lock), "::new(()).with_rank(2);")]
        /// assert_eq!(accounts.rank(), if lockscan::is_active() { Some(1) } else { None });
        /// ```
        #[must_use]
        pub const fn with_rank(mut self, rank: u32) -> Self {
            self.hooks.set_rank(rank);
            self
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] $(#[$doc:meta])* fn into_inner; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn into_inner(self) -> T {
            self.inner.into_inner()
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident]
        $(#[$doc:meta])* fn $name:ident -> $Guard:ident: blocks($mode:ident, $try:ident);
        $($rest:tt)*
    ) => {
        $crate::sync::lock_methods!(@blocking $(#[$doc])* $name $Guard $mode $try false);
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident]
        $(#[$doc:meta])*
        fn $name:ident -> $Guard:ident: blocks_recursively($mode:ident, $try:ident);
        $($rest:tt)*
    ) => {
        $crate::sync::lock_methods!(@blocking $(#[$doc])* $name $Guard $mode $try true);
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@blocking
        $(#[$doc:meta])* $name:ident $Guard:ident $mode:ident $try:ident $recursive:literal
    ) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self) -> $Guard<'_, T> {
            let inner = self.hooks.lock_at(
                $crate::ids::Mode::$mode,
                $recursive,
                ::std::panic::Location::caller(),
                || self.inner.$try(),
                || self.inner.$name(),
            );
            $Guard { lock: self, inner }
        }
    };
    (@item [$Lock:ident $kind:ident]
        $(#[$doc:meta])*
        fn $name:ident $(($arg:ident: $Arg:ty))? -> $Guard:ident: tries($mode:ident);
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self $(, $arg: $Arg)?) -> Option<$Guard<'_, T>> {
            let inner = self.hooks.try_lock_at(
                $crate::ids::Mode::$mode,
                $crate::sync::lock_methods!(@flavour $($arg)?),
                ::std::panic::Location::caller(),
                || self.inner.$name($($arg)?),
            )?;
            Some($Guard { lock: self, inner })
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    // A `try_*` method with an argument (a timeout or a deadline) is timed.
    (@flavour) => {
        $crate::ids::Flavour::Plain
    };
    (@flavour $arg:ident) => {
        $crate::ids::Flavour::Timed
    };
    (@item [$Lock:ident $kind:ident] fn rank; $($rest:tt)*) => {
        /// The declared rank, if any (always `None` when detection is off).
        pub fn rank(&self) -> Option<u32> {
            self.hooks.rank()
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] $(#[$doc:meta])* fn is_locked; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn is_locked(&self) -> bool {
            self.inner.is_locked()
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] $(#[$doc:meta])* fn get_mut; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn get_mut(&mut self) -> &mut T {
            self.inner.get_mut()
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
    (@item [$Lock:ident $kind:ident] fn data_ptr; $($rest:tt)*) => {
        /// A raw pointer to the data.
        pub fn data_ptr(&self) -> *mut T {
            self.inner.data_ptr()
        }
        $crate::sync::lock_methods!(@item [$Lock $kind] $($rest)*);
    };
}
pub(crate) use lock_methods;

/// `Default` and `From` for a lock type with a `#[track_caller]` constructor `new`: the lock
/// made is classified at the caller's location, not here.
macro_rules! default_and_from {
    ($Lock:ident) => {
        impl<T: Default> Default for $Lock<T> {
            #[track_caller]
            fn default() -> Self {
                $Lock::new(T::default())
            }
        }

        impl<T> From<T> for $Lock<T> {
            #[track_caller]
            fn from(value: T) -> Self {
                $Lock::new(value)
            }
        }
    };
}
pub(crate) use default_and_from;

/// `Default` for a type with a `#[track_caller]` constructor `new` and no data, such as a
/// condition variable: made at the caller's location, not here.
macro_rules! default_at_caller {
    ($Type:ident) => {
        impl Default for $Type {
            #[track_caller]
            fn default() -> Self {
                $Type::new()
            }
        }
    };
}
pub(crate) use default_at_caller;

/// `default_and_from!`, `Debug` (the raw lock's, which formats the data if it is free) and
/// `Held` (for its guards) for a lock.
macro_rules! lock_impls {
    ($Lock:ident) => {
        $crate::sync::default_and_from!($Lock);

        impl<T: ?Sized + ::core::fmt::Debug> ::core::fmt::Debug for $Lock<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.inner, f)
            }
        }

        impl<T: ?Sized> $crate::sync::Held for $Lock<T> {
            fn hooks(&self) -> &$crate::instrument::LockHooks {
                &self.hooks
            }
        }
    };
}
pub(crate) use lock_impls;

/// The methods guards share, with the same code: `guard_methods! { Raw by holder in Mode;
/// items }` inside the guard's `impl` block, where `Raw` is the raw guard type it wraps (its
/// field `inner`), `holder` its field holding the lock (`Held`) and `Mode` the mode it holds
/// the lock in. Each item is one method, written with its docs:
///
/// - `fn map -> Mapped, &mut;` (or `&` for a guard giving shared access only), and `fn try_map`
///   likewise: narrow the guard to a part of the data, with the raw guard's own `map`;
/// - `fn unlocked;`, `fn unlocked_fair;`: release the lock while a closure runs (recorded as
///   held again even if it panics, as the raw guard takes the lock again then too);
/// - `fn unlock_fair;`: release the lock handing it to a waiting thread;
/// - `fn name -> Guard: changes(From => To);`: turn the hold into another mode, with the raw
///   guard's method of the same name, which cannot fail (a downgrade);
/// - `fn name(arg: Type) -> Guard: tries_change(From => To);`: likewise with a raw method that
///   may fail (an upgrade attempt), giving the guard back then.
macro_rules! guard_methods {
    ($Raw:ident by $holder:ident in $mode:ident; $($items:tt)*) => {
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($items)*);
    };
    (@item $guard:tt) => {};
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])* fn map -> $Mapped:ident, & $($mut:ident)?;
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        pub fn map<U: ?Sized, F>(s: Self, f: F) -> $Mapped<'a, U>
        where
            F: FnOnce(& $($mut)? T) -> & $($mut)? U,
        {
            let ($holder, inner) = $crate::sync::into_parts!(s, $holder, inner);
            $Mapped {
                hooks: $crate::sync::Held::hooks($holder),
                inner: $crate::raw::$Raw::map(inner, f),
            }
        }
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])* fn try_map -> $Mapped:ident, & $($mut:ident)?;
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<$Mapped<'a, U>, Self>
        where
            F: FnOnce(& $($mut)? T) -> Option<& $($mut)? U>,
        {
            let ($holder, inner) = $crate::sync::into_parts!(s, $holder, inner);
            match $crate::raw::$Raw::try_map(inner, f) {
                Ok(inner) => Ok($Mapped {
                    hooks: $crate::sync::Held::hooks($holder),
                    inner,
                }),
                Err(inner) => Err(Self { $holder, inner }),
            }
        }
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@item [$Raw:ident $holder:ident $mode:ident] $(#[$doc:meta])* fn unlocked; $($rest:tt)*) => {
        $crate::sync::guard_methods!(@unlocked $(#[$doc])* unlocked $Raw $holder $mode);
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])* fn unlocked_fair; $($rest:tt)*
    ) => {
        $crate::sync::guard_methods!(@unlocked $(#[$doc])* unlocked_fair $Raw $holder $mode);
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@unlocked $(#[$doc:meta])* $name:ident $Raw:ident $holder:ident $mode:ident) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
            let hooks = $crate::sync::Held::hooks(s.$holder);
            hooks.release($crate::ids::Mode::$mode);
            // Recorded as held again even if `f` panics: the raw guard takes the lock again
            // then too.
            let _relock =
                hooks.relock_on_drop($crate::ids::Mode::$mode, ::std::panic::Location::caller());
            $crate::raw::$Raw::$name(&mut s.inner, f)
        }
    };
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])* fn $name:ident -> $Guard:ident: changes($from:ident => $to:ident);
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name(s: Self) -> $Guard<'a, T> {
            let ($holder, inner) = $crate::sync::into_parts!(s, $holder, inner);
            $crate::sync::Held::hooks($holder).change_mode_at(
                $crate::ids::Mode::$from,
                $crate::ids::Mode::$to,
                ::std::panic::Location::caller(),
            );
            $Guard {
                $holder,
                inner: $crate::raw::$Raw::$name(inner),
            }
        }
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])*
        fn $name:ident $(($arg:ident: $Arg:ty))? -> $Guard:ident:
            tries_change($from:ident => $to:ident);
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name(s: Self $(, $arg: $Arg)?) -> Result<$Guard<'a, T>, Self> {
            let ($holder, inner) = $crate::sync::into_parts!(s, $holder, inner);
            match $crate::raw::$Raw::$name(inner $(, $arg)?) {
                Ok(inner) => {
                    $crate::sync::Held::hooks($holder).change_mode_at(
                        $crate::ids::Mode::$from,
                        $crate::ids::Mode::$to,
                        ::std::panic::Location::caller(),
                    );
                    Ok($Guard { $holder, inner })
                }
                Err(inner) => Err(Self { $holder, inner }),
            }
        }
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
    (@item [$Raw:ident $holder:ident $mode:ident]
        $(#[$doc:meta])* fn unlock_fair; $($rest:tt)*
    ) => {
        $(#[$doc])*
        pub fn unlock_fair(s: Self) {
            let ($holder, inner) = $crate::sync::into_parts!(s, $holder, inner);
            $crate::sync::Held::hooks($holder).release($crate::ids::Mode::$mode);
            $crate::raw::$Raw::unlock_fair(inner);
        }
        $crate::sync::guard_methods!(@item [$Raw $holder $mode] $($rest)*);
    };
}
pub(crate) use guard_methods;

/// Declares a guard: `guard! { docs pub struct Guard of Lock by holder in Mode; }`, where
/// the guard wraps the raw guard of the same name (its field `inner`) and holds `Lock` in `Mode`
/// through its field `holder`: `lock`, the lock itself, or for a mapped guard `hooks`, the
/// lock's hooks. With `, DerefMut` it gives mutable access. Besides the struct, this writes the
/// impls every guard has: `deref_and_fmt!`'s, DerefMut if named, and Drop (recording the
/// release); then, if written after the struct, `fn getter;` (with its docs: the lock the guard
/// holds) and `methods { items }`, the items of `guard_methods!`.
macro_rules! guard {
    (
        $(#[$doc:meta])*
        pub struct $Guard:ident of $Lock:ident by $holder:ident in $mode:ident $(, $DerefMut:ident)?;
        $($(#[$getter_doc:meta])* fn $getter:ident;)?
        $(methods { $($methods:tt)* })?
    ) => {
        $(#[$doc])*
        #[must_use = concat!("if unused the ", stringify!($Lock), " will immediately unlock")]
        pub struct $Guard<'a, T: ?Sized> {
            $holder: $crate::sync::guard!(@holder $holder $Lock),
            pub(crate) inner: $crate::raw::$Guard<'a, T>,
        }
        $crate::sync::guard!(@impls $Guard $holder $mode $($DerefMut)?);

        impl<'a, T: ?Sized> $Guard<'a, T> {
            $(
                $(#[$getter_doc])*
                pub fn $getter(s: &Self) -> &'a $Lock<T> {
                    s.lock
                }
            )?

            $crate::sync::guard_methods! { $Guard by $holder in $mode; $($($methods)*)? }
        }
    };
    (@holder lock $Lock:ident) => { &'a $Lock<T> };
    (@holder hooks $Lock:ident) => { &'a $crate::instrument::LockHooks };
    (@impls $Guard:ident $holder:ident $mode:ident $($DerefMut:ident)?) => {
        $crate::sync::deref_and_fmt!($Guard);

        $(
            impl<T: ?Sized> ::core::ops::$DerefMut for $Guard<'_, T> {
                fn deref_mut(&mut self) -> &mut T {
                    &mut self.inner
                }
            }
        )?

        impl<T: ?Sized> Drop for $Guard<'_, T> {
            #[inline]
            fn drop(&mut self) {
                $crate::sync::Held::hooks(self.$holder).release($crate::ids::Mode::$mode);
            }
        }
    };
}
pub(crate) use guard;

/// Deref to the data, the guard's field `inner`, and Debug and Display as the data's: what every
/// guard of this crate has.
macro_rules! deref_and_fmt {
    ($Guard:ident) => {
        impl<T: ?Sized> ::core::ops::Deref for $Guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.inner
            }
        }

        impl<T: ?Sized + ::core::fmt::Debug> ::core::fmt::Debug for $Guard<'_, T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + ::core::fmt::Display> ::core::fmt::Display for $Guard<'_, T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&**self, f)
            }
        }
    };
}
pub(crate) use deref_and_fmt;
