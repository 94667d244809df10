//! `lockscan::tokio::Semaphore`: tokio's semaphore, instrumented. A permit is a hold of the
//! semaphore: it makes order edges like a lock; several permits of one task are no re-lock.
//! The wait-cycle check follows a semaphore of one permit (made with one, never added to):
//! its waiter waits for the one holder, as for a mutex. With several permits it does not (a
//! waiter waits until enough holders give theirs back, not for one holder in particular).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{AcquireError, TryAcquireError, acquire, tried};
use crate::ids::{LockKind, Mode};
use crate::instrument::LockHooks;

/// tokio's [`Semaphore`](tokio::sync::Semaphore), instrumented.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use lockscan::tokio::{Instrument, Semaphore};
///
/// let pool = Semaphore::named("connections", 2);
/// async {
///     let _first = pool.acquire().await.unwrap();
///     let _second = pool.try_acquire().unwrap();
///     assert!(pool.try_acquire().is_err());
/// }
/// .instrumented()
/// .await;
/// # }
/// ```
pub struct Semaphore {
    hooks: LockHooks,
    inner: tokio::sync::Semaphore,
    /// Whether it was made with one permit: then (until permits are added) a waiter waits for
    /// the one holder, and the wait-cycle check follows it.
    one_permit: bool,
    /// Whether permits were added since.
    added: AtomicBool,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.inner.available_permits())
            .finish()
    }
}

impl Semaphore {
    /// The most permits a semaphore can hold (tokio's).
    pub const MAX_PERMITS: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits, named after the caller's location.
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            hooks: LockHooks::at(LockKind::Semaphore, Location::caller()),
            inner: tokio::sync::Semaphore::new(permits),
            one_permit: permits == 1,
            added: AtomicBool::new(false),
        }
    }

    /// A semaphore named after the caller's location, in a `const` or `static`.
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            hooks: LockHooks::at(LockKind::Semaphore, Location::caller()),
            inner: tokio::sync::Semaphore::const_new(permits),
            one_permit: permits == 1,
            added: AtomicBool::new(false),
        }
    }

    /// A semaphore with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, permits: usize) -> Semaphore {
        Semaphore {
            hooks: LockHooks::named(LockKind::Semaphore, Location::caller(), name.into()),
            inner: tokio::sync::Semaphore::new(permits),
            one_permit: permits == 1,
            added: AtomicBool::new(false),
        }
    }

    /// Declares the semaphore's rank, as for [`crate::Mutex::with_rank`].
    pub const fn with_rank(mut self, rank: u32) -> Self {
        self.hooks.set_rank(rank);
        self
    }

    /// The declared rank.
    pub fn rank(&self) -> Option<u32> {
        self.hooks.rank()
    }

    /// The permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits.
    pub fn add_permits(&self, n: usize) {
        if n > 0 {
            self.added.store(true, Ordering::Relaxed);
        }
        self.inner.add_permits(n);
    }

    /// Whether a waiter waits for the one holder of the one permit, which the wait-cycle check
    /// follows as it follows a mutex's holder.
    fn one_holder(&self) -> bool {
        self.one_permit && !self.added.load(Ordering::Relaxed)
    }

    /// Removes up to `n` available permits; how many it removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Closes the semaphore: waiting and later acquisitions fail.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Acquires a permit, waiting (asynchronously) while there is none.
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        self.acquire_many_at(1, Location::caller())
    }

    /// Acquires `n` permits at once.
    #[track_caller]
    pub fn acquire_many(
        &self,
        n: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        self.acquire_many_at(n, Location::caller())
    }

    async fn acquire_many_at(
        &self,
        n: u32,
        site: &'static Location<'static>,
    ) -> Result<SemaphorePermit<'_>, AcquireError> {
        let (permit, recorded) = acquire(
            &self.hooks,
            Mode::Exclusive,
            site,
            self.one_holder(),
            || self.inner.try_acquire_many(n).ok().map(Ok),
            self.inner.acquire_many(n),
            Result::is_ok,
        )
        .await;
        Ok(SemaphorePermit {
            semaphore: self,
            recorded,
            inner: ManuallyDrop::new(permit?),
        })
    }

    /// Acquires a permit if one is available.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many_at(1, Location::caller())
    }

    /// Acquires `n` permits if they are available.
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many_at(n, Location::caller())
    }

    fn try_acquire_many_at(
        &self,
        n: u32,
        site: &'static Location<'static>,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let inner = self.inner.try_acquire_many(n)?;
        let recorded = tried(&self.hooks, Mode::Exclusive, site);
        Ok(SemaphorePermit {
            semaphore: self,
            recorded,
            inner: ManuallyDrop::new(inner),
        })
    }

    /// Acquires a permit through an `Arc`, for a permit that owns it.
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let site = Location::caller();
        async move {
            let permit = self.acquire_many_at(1, site).await?;
            Ok(permit.into_owned(Arc::clone(&self)))
        }
    }

    /// Acquires `n` permits through an `Arc`.
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let site = Location::caller();
        async move {
            let permit = self.acquire_many_at(n, site).await?;
            Ok(permit.into_owned(Arc::clone(&self)))
        }
    }

    /// Acquires a permit through an `Arc` if one is available.
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let permit = self.try_acquire_many_at(1, Location::caller())?;
        Ok(permit.into_owned(Arc::clone(&self)))
    }

    /// Acquires `n` permits through an `Arc` if they are available.
    #[track_caller]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let permit = self.try_acquire_many_at(n, Location::caller())?;
        Ok(permit.into_owned(Arc::clone(&self)))
    }
}

/// Permits of a [`Semaphore`]; given back when dropped.
#[must_use]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    recorded: bool,
    /// Dropped by `drop`, after the release is recorded.
    inner: ManuallyDrop<tokio::sync::SemaphorePermit<'a>>,
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.inner.num_permits())
            .finish()
    }
}

impl<'a> SemaphorePermit<'a> {
    /// Keeps the permits from going back to the semaphore (recorded as a release).
    pub fn forget(self) {
        let mut this = ManuallyDrop::new(self);
        if this.recorded {
            this.semaphore.hooks.release_async(Mode::Exclusive);
        }
        // SAFETY: `this` is never dropped, so `inner` is taken out once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        inner.forget();
    }

    /// How many permits this is.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }

    /// The same hold, owning an `Arc` of its semaphore (which must be `self.semaphore`).
    fn into_owned(self, semaphore: Arc<Semaphore>) -> OwnedSemaphorePermit {
        let mut this = ManuallyDrop::new(self);
        debug_assert!(std::ptr::eq(this.semaphore, &*semaphore));
        // SAFETY: `this` is never dropped, so `inner` is taken out once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        // SAFETY: the permit borrows `semaphore`'s inner semaphore, inside the `Arc`'s
        // allocation, which the owned permit keeps alive (and in place) until after it gives
        // the permit back in its `drop`; the lifetime is never handed out.
        let inner = unsafe {
            std::mem::transmute::<
                tokio::sync::SemaphorePermit<'_>,
                tokio::sync::SemaphorePermit<'static>,
            >(inner)
        };
        OwnedSemaphorePermit {
            inner: ManuallyDrop::new(inner),
            recorded: this.recorded,
            semaphore,
        }
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.recorded {
            self.semaphore.hooks.release_async(Mode::Exclusive);
        }
        // SAFETY: dropped once, here, and never used after.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}

/// Permits of a [`Semaphore`] that own an `Arc` of it.
#[must_use]
pub struct OwnedSemaphorePermit {
    inner: ManuallyDrop<tokio::sync::SemaphorePermit<'static>>,
    recorded: bool,
    semaphore: Arc<Semaphore>,
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.inner.num_permits())
            .finish()
    }
}

impl OwnedSemaphorePermit {
    /// Keeps the permits from going back to the semaphore (recorded as a release).
    pub fn forget(self) {
        let mut this = ManuallyDrop::new(self);
        if this.recorded {
            this.semaphore.hooks.release_async(Mode::Exclusive);
        }
        // SAFETY: `this` is never dropped, so `inner` and `semaphore` are taken out once;
        // the permit is forgotten before the `Arc` it borrows from goes.
        let (inner, semaphore) = unsafe {
            (
                ManuallyDrop::take(&mut this.inner),
                std::ptr::read(&this.semaphore),
            )
        };
        inner.forget();
        drop(semaphore);
    }

    /// How many permits this is.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }

    /// The semaphore.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.recorded {
            self.semaphore.hooks.release_async(Mode::Exclusive);
        }
        // SAFETY: dropped once, here, before the `Arc` it borrows from (a field dropped after).
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}
