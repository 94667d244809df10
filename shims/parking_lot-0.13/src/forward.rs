//! lock_api 0.5's raw-lock trait methods as one-line forwards to the instrumented core's
//! inherent methods of the same name (`lockscan::instrument`), which acquire, release and
//! record; lock_api 0.5's guard state is the stateless [`GuardMarker`](crate::GuardMarker),
//! made on each acquisition and dropped on each release.

/// `forward_guarded! { core; items }` inside a lock_api 0.5 trait impl of a newtype whose field
/// `core` is the core lock, each item a method of one of these shapes (with its attributes):
///
/// - `fn lock(args) -> Guard;`: an acquisition (the core returns nothing);
/// - `fn try_lock(args) -> Option<Guard>;`: an attempt (the core returns whether it took);
/// - `unsafe fn unlock(guard, args);`: a release, which takes the guard state back;
/// - `unsafe fn bump(&mut guard);`: a release and re-acquisition that keep the state;
/// - `unsafe fn downgrade(guard) -> Guard;`: a mode change;
/// - `unsafe fn try_upgrade(guard, args) -> Result<Guard, Guard>;`: an attempted mode change.
macro_rules! forward_guarded {
    ($core:tt;) => {};
    ($core:tt; $(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> Guard; $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        fn $name(&self $(, $arg: $ty)*) -> $crate::GuardMarker {
            self.$core.$name($($arg),*);
            $crate::GuardMarker::new()
        }
        forward_guarded!($core; $($rest)*);
    };
    ($core:tt; $(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> Option<Guard>; $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        fn $name(&self $(, $arg: $ty)*) -> Option<$crate::GuardMarker> {
            self.$core.$name($($arg),*).then($crate::GuardMarker::new)
        }
        forward_guarded!($core; $($rest)*);
    };
    ($core:tt; $(#[$attr:meta])* unsafe fn $name:ident(guard $(, $arg:ident: $ty:ty)*); $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        unsafe fn $name(&self, _guard: $crate::GuardMarker $(, $arg: $ty)*) {
            // SAFETY: forwarded with the caller's guarantee, which is the same.
            unsafe { self.$core.$name($($arg),*) }
        }
        forward_guarded!($core; $($rest)*);
    };
    ($core:tt; $(#[$attr:meta])* unsafe fn $name:ident(&mut guard); $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        unsafe fn $name(&self, _guard: &mut $crate::GuardMarker) {
            // SAFETY: forwarded with the caller's guarantee, which is the same.
            unsafe { self.$core.$name() }
        }
        forward_guarded!($core; $($rest)*);
    };
    ($core:tt; $(#[$attr:meta])* unsafe fn $name:ident(guard) -> Guard; $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        unsafe fn $name(&self, _guard: $crate::GuardMarker) -> $crate::GuardMarker {
            // SAFETY: forwarded with the caller's guarantee, which is the same.
            unsafe { self.$core.$name() };
            $crate::GuardMarker::new()
        }
        forward_guarded!($core; $($rest)*);
    };
    ($core:tt; $(#[$attr:meta])* unsafe fn $name:ident(guard $(, $arg:ident: $ty:ty)*) -> Result<Guard, Guard>; $($rest:tt)*) => {
        $(#[$attr])*
        #[inline]
        unsafe fn $name(
            &self,
            _guard: $crate::GuardMarker
            $(, $arg: $ty)*
        ) -> Result<$crate::GuardMarker, $crate::GuardMarker> {
            // SAFETY: forwarded with the caller's guarantee, which is the same.
            if unsafe { self.$core.$name($($arg),*) } {
                Ok($crate::GuardMarker::new())
            } else {
                Err($crate::GuardMarker::new())
            }
        }
        forward_guarded!($core; $($rest)*);
    };
}
