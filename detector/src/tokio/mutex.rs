//! `lockscan::tokio::Mutex`: tokio's async mutex, instrumented.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

mod mapped;

pub use mapped::{MappedMutexGuard, OwnedMappedMutexGuard};

use super::{TryLockError, acquire, tried};
use crate::ids::{LockKind, Mode};
use crate::instrument::LockHooks;

/// tokio's [`Mutex`](tokio::sync::Mutex), instrumented: its acquisitions inside a wrapped task
/// (see [the module](crate::tokio)) make order edges from the locks the task holds, and a
/// wait that closes a wait cycle among tasks is reported as a deadlock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use lockscan::tokio::{Instrument, Mutex};
///
/// let queue = Mutex::named("queue", vec![1, 2]);
/// async {
///     queue.lock().await.push(3);
///     assert_eq!(queue.try_lock().unwrap().len(), 3);
/// }
/// .instrumented()
/// .await;
/// # }
/// ```
pub struct Mutex<T: ?Sized> {
    hooks: LockHooks,
    /// tokio's mutex, of nothing: the data is beside it, so that an owned guard can borrow the
    /// gate of the `Arc`'s mutex for `'static` (its type does not mention `T`).
    gate: tokio::sync::Mutex<()>,
    data: UnsafeCell<T>,
}

// SAFETY: as tokio's `Mutex<T>`: the gate lets one task at a time reach the data, so sending
// the mutex sends a `T`, and sharing it lets another thread take the `T` by `&mut`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: see above; only `T: Send` is needed, as for tokio's and std's mutexes.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex named after the caller's location.
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex::const_new(value)
    }

    /// A mutex named after the caller's location, in a `const` or `static`.
    #[track_caller]
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex {
            hooks: LockHooks::at(LockKind::Mutex, Location::caller()),
            gate: tokio::sync::Mutex::const_new(()),
            data: UnsafeCell::new(value),
        }
    }

    /// A mutex with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex {
            hooks: LockHooks::named(LockKind::Mutex, Location::caller(), name.into()),
            gate: tokio::sync::Mutex::const_new(()),
            data: UnsafeCell::new(value),
        }
    }

    /// Declares the mutex's rank, as for [`crate::Mutex::with_rank`]: acquiring it while
    /// holding a lock of a rank not lower is an `order-violation`.
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.hooks.set_rank(rank);
        self
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// The declared rank.
    pub fn rank(&self) -> Option<u32> {
        self.hooks.rank()
    }

    /// Locks the mutex, waiting (asynchronously) while another task holds it.
    ///
    /// # Panics
    ///
    /// Inside a wrapped task, when the wait would complete a wait cycle (a deadlock), and,
    /// with the default policy, when the acquisition closes a lock-order cycle.
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> {
        let site = Location::caller();
        async move {
            let (gate, recorded) = self.take(site).await;
            MutexGuard {
                lock: self,
                recorded,
                gate,
                _data: PhantomData,
            }
        }
    }

    /// Locks the mutex through an `Arc`, for a guard that owns it.
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let site = Location::caller();
        async move {
            let (gate, recorded) = self.take(site).await;
            {
                // SAFETY: the owned guard keeps `self`, whose gate `gate` holds, alive and in
                // place until after `gate` is dropped (fields drop in declaration order).
                let gate = unsafe { detach(gate) };
                OwnedMutexGuard::new(gate, recorded, self)
            }
        }
    }

    /// The gate, taken in a task: whether lockscan recorded the hold.
    async fn take(
        &self,
        site: &'static Location<'static>,
    ) -> (tokio::sync::MutexGuard<'_, ()>, bool) {
        let attempt = || self.gate.try_lock().ok();
        acquire(
            &self.hooks,
            Mode::Exclusive,
            site,
            true,
            attempt,
            self.gate.lock(),
            |_| true,
        )
        .await
    }

    /// Locks the mutex if no one holds it.
    #[track_caller]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let gate = self.gate.try_lock()?;
        let recorded = tried(&self.hooks, Mode::Exclusive, Location::caller());
        Ok(MutexGuard {
            lock: self,
            recorded,
            gate,
            _data: PhantomData,
        })
    }

    /// Locks the mutex through an `Arc` if no one holds it.
    #[track_caller]
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        let gate = self.gate.try_lock()?;
        let recorded = tried(&self.hooks, Mode::Exclusive, Location::caller());
        // SAFETY: the owned guard keeps `self`, whose gate `gate` holds, alive and in place
        // until after `gate` is dropped (fields drop in declaration order).
        let gate = unsafe { detach(gate) };
        Ok(OwnedMutexGuard::new(gate, recorded, self))
    }

    /// Locks the mutex from synchronous code, blocking the thread (as tokio's; not from inside
    /// a runtime): a blocking acquisition of the thread, as for [`crate::Mutex::lock`].
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let site = Location::caller();
        let gate = self.hooks.lock_at(
            Mode::Exclusive,
            false,
            site,
            || self.gate.try_lock().ok(),
            || self.gate.blocking_lock(),
        );
        MutexGuard {
            lock: self,
            recorded: crate::is_active(),
            gate,
            _data: PhantomData,
        }
    }

    /// The value, through the `&mut` that proves no one holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.gate.try_lock() {
            // SAFETY: the gate is held for the borrow.
            Ok(_gate) => d.field("data", &unsafe { &*self.data.get() }),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// A held [`Mutex`]; unlocks it when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    /// Whether lockscan recorded the hold, so that the drop records its release.
    recorded: bool,
    // Dropped after `drop` recorded the release: the real unlock comes second.
    #[allow(dead_code)]
    gate: tokio::sync::MutexGuard<'a, ()>,
    /// Send and Sync as a `T` is, whatever the gate's guard is.
    _data: PhantomData<Box<T>>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.recorded {
            self.lock.hooks.release_async(Mode::Exclusive);
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the gate, so no one else reaches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the gate, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A held [`Mutex`] that owns an `Arc` of it, as tokio's `OwnedMutexGuard`.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMutexGuard<T: ?Sized> {
    // Declared first, so dropped before `lock`, whose gate it borrows.
    #[allow(dead_code)]
    gate: tokio::sync::MutexGuard<'static, ()>,
    recorded: bool,
    lock: Arc<Mutex<T>>,
    /// Sync only if `T` is (the `Arc` is as soon as `T` is Send).
    _data: PhantomData<Box<T>>,
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The guard for `gate`, made by [`detach`] from the guard of `lock`'s gate.
    fn new(
        gate: tokio::sync::MutexGuard<'static, ()>,
        recorded: bool,
        lock: Arc<Mutex<T>>,
    ) -> Self {
        OwnedMutexGuard {
            gate,
            recorded,
            lock,
            _data: PhantomData,
        }
    }

    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        if self.recorded {
            self.lock.hooks.release_async(Mode::Exclusive);
        }
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the gate, so no one else reaches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the gate, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The guard of a gate inside an `Arc`, for an owned guard that keeps the `Arc`.
///
/// # Safety
///
/// The gate `gate` borrows must stay alive and in place for as long as the returned guard
/// lives; the `'static` lifetime must not be handed out.
unsafe fn detach(gate: tokio::sync::MutexGuard<'_, ()>) -> tokio::sync::MutexGuard<'static, ()> {
    // SAFETY: the caller's promise; only the lifetime changes.
    unsafe {
        std::mem::transmute::<tokio::sync::MutexGuard<'_, ()>, tokio::sync::MutexGuard<'static, ()>>(
            gate,
        )
    }
}
