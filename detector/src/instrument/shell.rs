//! What a shell over the instrumented core is made with, for lockscan's own `lock_api` 0.4
//! impls and for every parking_lot stand-in (whatever its `lock_api` line): the trait methods
//! that forward to the core's inherent methods, and parking_lot's list of `lock_api` type
//! aliases and `const` constructors.

/// Trait methods that forward to inherent methods of the same name and arguments:
/// `forward_raw_methods! { |this| target; items }` inside a trait impl, where `target` is an
/// expression of `this` (the `&self` of the trait method: `this` for the type's own inherent
/// methods, `this.0` for a newtype over a core type) and each item a method signature without
/// `&self`, with its attributes (`#[track_caller]`):
///
/// ```text
/// unsafe impl lock_api::RawMutex for RawMutex {
///     const INIT: Self = RawMutex(lockscan::instrument::RawMutex::new());
///     type GuardMarker = lock_api::GuardNoSend;
///     lockscan::forward_raw_methods! { |this| this.0;
///         #[track_caller] fn lock();
///         #[track_caller] fn try_lock() -> bool;
///         unsafe fn unlock();
///         fn is_locked() -> bool;
///     }
/// }
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! forward_raw_methods {
    (|$this:ident| $target:expr;) => {};
    (|$this:ident| $target:expr;
        $(#[$attr:meta])* unsafe fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[inline]
        unsafe fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
            let $this = self;
            // SAFETY: forwarded with the caller's guarantee, which is the same.
            unsafe { $target.$name($($arg),*) }
        }
        $crate::forward_raw_methods!(|$this| $target; $($rest)*);
    };
    (|$this:ident| $target:expr;
        $(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[inline]
        fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
            let $this = self;
            $target.$name($($arg),*)
        }
        $crate::forward_raw_methods!(|$this| $target; $($rest)*);
    };
}

/// parking_lot's type aliases over `lock_api` and its `const` constructors, for raw locks:
/// `lock_api_aliases!(lock_api; RawMutex, RawFairMutex, RawRwLock, RawThreadId)` writes
/// `Mutex`, `MutexGuard`, `MappedMutexGuard`, `FairMutex` (and its guards), `RwLock` (and its
/// read, write, upgradable and mapped guards), `ReentrantMutex` (and its guards),
/// `const_mutex`, `const_fair_mutex`, `const_rwlock` and `const_reentrant_mutex`, each with
/// parking_lot's docs. `lock_api` is the name, in scope where the macro is called, of the
/// `lock_api` crate the raw locks implement (`lock_api`, or a renamed `lock_api` 0.5).
///
/// `lock_api_aliases!(types only: lock_api; ...)` writes the type aliases alone: lock_api 0.5
/// (parking_lot 0.13) has no `const_new`, its `new` is `const`.
#[doc(hidden)]
#[macro_export]
macro_rules! lock_api_aliases {
    ($lock_api:ident; $RawMutex:ty, $RawFairMutex:ty, $RawRwLock:ty, $RawThreadId:ty) => {
        $crate::lock_api_aliases!(
            types only: $lock_api; $RawMutex, $RawFairMutex, $RawRwLock, $RawThreadId
        );

        /// Creates a [`Mutex`] in a `const` context, like `parking_lot::const_mutex`.
        pub const fn const_mutex<T>(val: T) -> Mutex<T> {
            Mutex::const_new(<$RawMutex as $lock_api::RawMutex>::INIT, val)
        }

        /// Creates a [`FairMutex`] in a `const` context, like `parking_lot::const_fair_mutex`.
        pub const fn const_fair_mutex<T>(val: T) -> FairMutex<T> {
            FairMutex::const_new(<$RawFairMutex as $lock_api::RawMutex>::INIT, val)
        }

        /// Creates an [`RwLock`] in a `const` context, like `parking_lot::const_rwlock`.
        pub const fn const_rwlock<T>(val: T) -> RwLock<T> {
            RwLock::const_new(<$RawRwLock as $lock_api::RawRwLock>::INIT, val)
        }

        /// Creates a [`ReentrantMutex`] in a `const` context, like
        /// `parking_lot::const_reentrant_mutex`.
        pub const fn const_reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
            ReentrantMutex::const_new(
                <$RawMutex as $lock_api::RawMutex>::INIT,
                <$RawThreadId as $lock_api::GetThreadId>::INIT,
                val,
            )
        }
    };
    (types only: $lock_api:ident; $RawMutex:ty, $RawFairMutex:ty, $RawRwLock:ty, $RawThreadId:ty) => {
        /// A mutual exclusion lock, parking_lot's `Mutex`: `lock` returns a guard, no
        /// poisoning.
        pub type Mutex<T> = $lock_api::Mutex<$RawMutex, T>;

        /// The guard of a locked [`Mutex`]: the mutex is unlocked when it is dropped.
        pub type MutexGuard<'a, T> = $lock_api::MutexGuard<'a, $RawMutex, T>;

        /// A [`MutexGuard`] narrowed by `MutexGuard::map` to a part of the protected data.
        pub type MappedMutexGuard<'a, T> = $lock_api::MappedMutexGuard<'a, $RawMutex, T>;

        /// A [`Mutex`] whose guards unlock fairly: an unlock hands the lock to a waiting
        /// thread, if any.
        pub type FairMutex<T> = $lock_api::Mutex<$RawFairMutex, T>;

        /// The guard of a locked [`FairMutex`].
        pub type FairMutexGuard<'a, T> = $lock_api::MutexGuard<'a, $RawFairMutex, T>;

        /// A [`FairMutexGuard`] narrowed by `FairMutexGuard::map` to a part of the protected
        /// data.
        pub type MappedFairMutexGuard<'a, T> = $lock_api::MappedMutexGuard<'a, $RawFairMutex, T>;

        /// A reader-writer lock, parking_lot's `RwLock`: many readers or one writer.
        pub type RwLock<T> = $lock_api::RwLock<$RawRwLock, T>;

        /// The guard of a shared (read) lock on an [`RwLock`].
        pub type RwLockReadGuard<'a, T> = $lock_api::RwLockReadGuard<'a, $RawRwLock, T>;

        /// The guard of an exclusive (write) lock on an [`RwLock`].
        pub type RwLockWriteGuard<'a, T> = $lock_api::RwLockWriteGuard<'a, $RawRwLock, T>;

        /// The guard of an upgradable read lock on an [`RwLock`]: shared access that can become
        /// exclusive, one such guard at a time.
        pub type RwLockUpgradableReadGuard<'a, T> =
            $lock_api::RwLockUpgradableReadGuard<'a, $RawRwLock, T>;

        /// An [`RwLockReadGuard`] narrowed by `map` to a part of the protected data.
        pub type MappedRwLockReadGuard<'a, T> = $lock_api::MappedRwLockReadGuard<'a, $RawRwLock, T>;

        /// An [`RwLockWriteGuard`] narrowed by `map` to a part of the protected data.
        pub type MappedRwLockWriteGuard<'a, T> =
            $lock_api::MappedRwLockWriteGuard<'a, $RawRwLock, T>;

        /// A mutex that the thread holding it can lock again, parking_lot's `ReentrantMutex`;
        /// its guards give shared access only.
        pub type ReentrantMutex<T> = $lock_api::ReentrantMutex<$RawMutex, $RawThreadId, T>;

        /// The guard of a locked [`ReentrantMutex`].
        pub type ReentrantMutexGuard<'a, T> =
            $lock_api::ReentrantMutexGuard<'a, $RawMutex, $RawThreadId, T>;

        /// A [`ReentrantMutexGuard`] narrowed by `map` to a part of the protected data.
        pub type MappedReentrantMutexGuard<'a, T> =
            $lock_api::MappedReentrantMutexGuard<'a, $RawMutex, $RawThreadId, T>;
    };
}

/// parking_lot's `send_guard` and `deadlock_detection` features as every stand-in has them:
/// `guard_marker!(lock_api)` writes the crate-private `GuardMarker` (`lock_api`'s `GuardSend`
/// with `send_guard`, `GuardNoSend` without) and the error parking_lot gives for both features
/// at once. Expanded in the stand-in, so its `cfg`s read the stand-in's features.
#[doc(hidden)]
#[macro_export]
macro_rules! guard_marker {
    ($lock_api:ident) => {
        #[cfg(all(feature = "send_guard", feature = "deadlock_detection"))]
        compile_error!(
            "the `send_guard` and `deadlock_detection` features cannot be used together"
        );
        /// The guard marker of every lock (parking_lot's `send_guard` makes guards `Send`).
        #[cfg(feature = "send_guard")]
        type GuardMarker = $lock_api::GuardSend;
        /// The guard marker of every lock (parking_lot's `send_guard` makes guards `Send`).
        #[cfg(not(feature = "send_guard"))]
        type GuardMarker = $lock_api::GuardNoSend;
    };
}
