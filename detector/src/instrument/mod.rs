//! Instrumenting a [`lock_api`] raw lock: the hooks lockscan's own locks run on every
//! acquisition and release, for a raw lock type of your own, or for the parking_lot stand-in
//! crate that instruments a whole dependency tree (see the README).
//!
//! A raw lock keeps a [`LockHooks`] next to the real lock and calls it around each operation:
//! [`lock`](LockHooks::lock) with a non-blocking attempt and the blocking acquisition (order
//! edges are recorded and cycles reported before anything blocks, and a wait that would
//! complete a deadlock unwinds instead), [`try_lock`](LockHooks::try_lock) for the non-blocking
//! and timed ones, and [`release`](LockHooks::release) *before* the real unlock. Its methods
//! are `#[track_caller]`, and so are lock_api's, so the sites in reports are the caller's.
//!
//! A raw lock is made from a `const` (`lock_api`'s `INIT`), so nobody knows where it was
//! created: it is named after the site of its first acquisition, `lock first taken at
//! src/lib.rs:7:13`. When that site is inside a method of the program's own that takes its
//! locks without `#[track_caller]` (a wrapper: the site first takes distinct locks for
//! different callers), each lock is named after its wrapper's caller instead while a trace is
//! recorded (or `LOCKSCAN_BACKTRACE=1` asks for stacks), found in a stack captured once per lock
//! at its first acquisition there (the README says more).
//!
//! ```
//! use lockscan::instrument::LockHooks;
//! use lockscan::{LockKind, Mode};
//!
//! /// A spin lock that lockscan sees.
//! pub struct RawSpin {
//!     locked: std::sync::atomic::AtomicBool,
//!     hooks: LockHooks,
//! }
//!
//! impl RawSpin {
//!     fn try_take(&self) -> bool {
//!         use std::sync::atomic::Ordering::{Acquire, Relaxed};
//!         self.locked.compare_exchange(false, true, Acquire, Relaxed).is_ok()
//!     }
//! }
//!
//! // SAFETY: `try_take` succeeds for one thread at a time until `unlock`.
//! unsafe impl lock_api::RawMutex for RawSpin {
//!     const INIT: Self = RawSpin {
//!         locked: std::sync::atomic::AtomicBool::new(false),
//!         hooks: LockHooks::new(LockKind::Mutex),
//!     };
//!     type GuardMarker = lock_api::GuardNoSend;
//!
//!     #[track_caller]
//!     fn lock(&self) {
//!         self.hooks.lock(Mode::Exclusive, false, || self.try_take(), || {
//!             while !self.try_take() {
//!                 std::hint::spin_loop();
//!             }
//!         });
//!     }
//!
//!     #[track_caller]
//!     fn try_lock(&self) -> bool {
//!         self.hooks.try_lock(Mode::Exclusive, || self.try_take())
//!     }
//!
//!     unsafe fn unlock(&self) {
//!         self.hooks.release(Mode::Exclusive);
//!         self.locked.store(false, std::sync::atomic::Ordering::Release);
//!     }
//! }
//!
//! let counter = lock_api::Mutex::<RawSpin, u32>::new(0);
//! *counter.lock() += 1;
//! assert_eq!(*counter.lock(), 1);
//! ```

mod condvar;
mod mutex;
mod rwlock;
mod shell;

use std::borrow::Cow;
use std::panic::Location;

pub use condvar::Condvar;
pub use mutex::{RawFairMutex, RawMutex};
pub use rwlock::RawRwLock;

use crate::ids::{Flavour, LockKind, Mode};
use crate::runtime::{CondvarMeta, LockMeta};

/// What lockscan keeps for one raw lock. Dropping it forgets the lock (its order edges can close
/// no cycle any more).
///
/// The hooks alone record the order, whatever the lock beside them does:
///
/// ```
/// use lockscan::instrument::LockHooks;
/// use lockscan::{FindingKind, LockKind, Mode, Policy};
///
/// lockscan::set_policy(Policy::Collect);
/// let (a, b) = (LockHooks::new(LockKind::Mutex), LockHooks::new(LockKind::Mutex));
/// let take = |hooks: &LockHooks| hooks.lock(Mode::Exclusive, false, || true, || {});
/// take(&a);
/// take(&b);
/// b.release(Mode::Exclusive);
/// a.release(Mode::Exclusive);
/// take(&b);
/// take(&a); // `a` after `b`: the opposite order
/// a.release(Mode::Exclusive);
/// b.release(Mode::Exclusive);
/// let inverted = lockscan::findings().iter().any(|f| f.kind == FindingKind::LockOrderInversion);
/// assert_eq!(inverted, lockscan::is_active());
/// ```
#[derive(Debug)]
pub struct LockHooks {
    meta: LockMeta,
}

impl LockHooks {
    /// The hooks of a lock of `kind` that is named after the site of its first acquisition
    /// (`lock first taken at src/lib.rs:7:13`), or after its wrapper's caller (see the module).
    ///
    /// ```
    /// use lockscan::instrument::LockHooks;
    /// use lockscan::{LockKind, Mode, Policy};
    ///
    /// lockscan::set_policy(Policy::Collect);
    /// let (a, b) = (LockHooks::new(LockKind::Mutex), LockHooks::new(LockKind::Mutex));
    /// for (first, second) in [(&a, &b), (&b, &a)] {
    ///     first.lock(Mode::Exclusive, false, || true, || {});
    ///     second.lock(Mode::Exclusive, false, || true, || {});
    ///     second.release(Mode::Exclusive);
    ///     first.release(Mode::Exclusive);
    /// }
    /// # if lockscan::is_active() {
    /// let inversion = lockscan::findings().pop().unwrap();
    /// let here = format!("lock first taken at {}:", file!());
    /// assert!(inversion.locks.iter().all(|name| name.starts_with(&here)));
    /// # }
    /// ```
    #[track_caller]
    pub const fn new(kind: LockKind) -> Self {
        LockHooks {
            meta: LockMeta::unclassified(kind),
        }
    }

    /// The hooks of a lock of `kind` classified at `site` (a shell's constructor, whose caller
    /// names the lock).
    pub(crate) const fn at(kind: LockKind, site: &'static Location<'static>) -> Self {
        LockHooks {
            meta: LockMeta::new(kind, site),
        }
    }

    /// The hooks of a lock of `kind` made at `site` and called `name` in every report.
    pub(crate) fn named(
        kind: LockKind,
        site: &'static Location<'static>,
        name: Cow<'static, str>,
    ) -> Self {
        LockHooks {
            meta: LockMeta::named(kind, site, name),
        }
    }

    /// Declares the lock's rank (checked only while detection is on).
    pub(crate) const fn set_rank(&mut self, rank: u32) {
        self.meta.set_rank(rank);
    }

    /// The metadata under the hooks, for the runtime's own tests.
    #[cfg(test)]
    pub(crate) fn meta(&self) -> &LockMeta {
        &self.meta
    }

    /// The declared rank, if any (always `None` when detection is off).
    pub(crate) fn rank(&self) -> Option<u32> {
        self.meta.rank()
    }

    /// The lock's place in lockscan's global order (0 when detection is off).
    pub(crate) fn sequence(&self) -> u64 {
        self.meta.sequence()
    }

    /// [`lock`](Self::lock) at `site`, for a shell whose raw lock hands out a guard: `attempt`
    /// and `block` return it, and so does this.
    #[track_caller]
    #[inline]
    pub(crate) fn lock_at<G>(
        &self,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
        attempt: impl FnMut() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        self.meta.lock(mode, recursive, site, attempt, block)
    }

    /// [`try_lock`](Self::try_lock) (or with [`Flavour::Timed`],
    /// [`try_lock_timed`](Self::try_lock_timed)) at `site`, for a shell whose raw lock hands out
    /// a guard.
    #[track_caller]
    #[inline]
    pub(crate) fn try_lock_at<G>(
        &self,
        mode: Mode,
        flavour: Flavour,
        site: &'static Location<'static>,
        attempt: impl FnOnce() -> Option<G>,
    ) -> Option<G> {
        self.meta.try_lock(mode, flavour, site, attempt)
    }

    /// [`change_mode`](Self::change_mode) at `site`.
    #[track_caller]
    pub(crate) fn change_mode_at(&self, from: Mode, to: Mode, site: &'static Location<'static>) {
        self.meta.change_mode(from, to, site);
    }

    /// [`upgrade`](Self::upgrade) at `site`, for a shell whose upgradable guard becomes a write
    /// guard: `attempt` gives the guard back when it fails.
    #[track_caller]
    pub(crate) fn upgrade_at<G, W>(
        &self,
        site: &'static Location<'static>,
        guard: G,
        attempt: impl FnOnce(G) -> Result<W, G>,
        block: impl FnOnce(G) -> W,
    ) -> W {
        self.meta.upgrade(site, guard, attempt, block)
    }

    /// Records the lock as taken again in `mode` at `site` when the value returned is dropped
    /// (a guard's `unlocked`: the raw guard takes the lock again even if the closure panics).
    pub(crate) fn relock_on_drop(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> impl Sized + '_ {
        self.meta.relock_on_drop(mode, site)
    }

    /// A blocking acquisition in `mode`: records it (and the order edges into it), then runs
    /// `attempt`, a non-blocking try (again a few times, spinning, while it fails), and if that
    /// still fails `block`, which must take the lock.
    /// `recursive`: a shared acquisition that may re-enter a shared hold of this thread (a
    /// recursive read), which is no misuse.
    ///
    /// # Panics
    ///
    /// With the default policy, when the acquisition closes a lock-order cycle; whatever the
    /// policy, when the wait would complete a deadlock or wait for this thread itself.
    #[track_caller]
    #[inline]
    pub fn lock(
        &self,
        mode: Mode,
        recursive: bool,
        mut attempt: impl FnMut() -> bool,
        block: impl FnOnce(),
    ) {
        self.lock_at(
            mode,
            recursive,
            Location::caller(),
            || attempt().then_some(()),
            block,
        );
    }

    /// A non-blocking acquisition in `mode`: `attempt` tries; a success is recorded, with no
    /// order edge into the lock (it could not wait forever). Returns what `attempt` did.
    #[track_caller]
    #[inline]
    pub fn try_lock(&self, mode: Mode, attempt: impl FnOnce() -> bool) -> bool {
        self.try_lock_at(mode, Flavour::Plain, Location::caller(), || {
            attempt().then_some(())
        })
        .is_some()
    }

    /// A timed acquisition in `mode` (`try_lock_for`, `try_lock_shared_until`, ...): as
    /// [`try_lock`](Self::try_lock), no order edge into the lock (it gives up), and recorded as
    /// timed.
    ///
    /// ```
    /// use lockscan::instrument::LockHooks;
    /// use lockscan::{LockKind, Mode};
    ///
    /// let hooks = LockHooks::new(LockKind::Mutex);
    /// assert!(hooks.try_lock_timed(Mode::Exclusive, || true)); // the timed raw attempt
    /// hooks.release(Mode::Exclusive);
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_lock_timed(&self, mode: Mode, attempt: impl FnOnce() -> bool) -> bool {
        self.try_lock_at(mode, Flavour::Timed, Location::caller(), || {
            attempt().then_some(())
        })
        .is_some()
    }

    /// Records a release in `mode`; call it before the real unlock.
    #[inline]
    pub fn release(&self, mode: Mode) {
        self.meta.release(mode);
    }

    /// Records that this thread's hold changed mode: a downgrade (call it before the real
    /// downgrade, so that in a trace it comes before the readers it lets in), or an upgrade
    /// attempt that succeeded (`try_upgrade` and the timed ones; call it after).
    ///
    /// ```
    /// use lockscan::instrument::LockHooks;
    /// use lockscan::{LockKind, Mode};
    ///
    /// let hooks = LockHooks::new(LockKind::RwLock);
    /// assert!(!hooks.try_lock(Mode::Upgradable, || false)); // the raw attempt failed
    /// hooks.lock(Mode::Upgradable, false, || true, || {});
    /// hooks.upgrade(|| true, || {}); // `block` would wait for the readers to leave
    /// hooks.change_mode(Mode::Exclusive, Mode::Shared); // a downgrade
    /// hooks.release(Mode::Shared);
    /// assert!(lockscan::findings().is_empty());
    /// ```
    #[track_caller]
    pub fn change_mode(&self, from: Mode, to: Mode) {
        self.change_mode_at(from, to, Location::caller());
    }

    /// An upgrade of this thread's upgradable hold to exclusive: records the order edges of an
    /// exclusive request, runs `attempt`, and if that fails `block` (registered as waiting, so
    /// that a deadlock through it is found), then records the new mode.
    #[track_caller]
    pub fn upgrade(&self, attempt: impl FnOnce() -> bool, block: impl FnOnce()) {
        self.upgrade_at(
            Location::caller(),
            (),
            |()| if attempt() { Ok(()) } else { Err(()) },
            |()| block(),
        );
    }

    /// Records that a condition-variable wait on `condvar` released this lock (it reports a
    /// wait made while holding other locks); call it before the real wait.
    #[track_caller]
    pub fn release_for_wait(&self, condvar: &CondvarHooks) {
        self.release_for_wait_at(condvar, Location::caller());
    }

    /// [`release_for_wait`](Self::release_for_wait) at `site`.
    #[track_caller]
    pub(crate) fn release_for_wait_at(
        &self,
        condvar: &CondvarHooks,
        site: &'static Location<'static>,
    ) {
        self.meta.before_wait(site);
        self.meta.release_for_wait(&condvar.meta, site);
    }

    /// Records that the lock was taken again after a condition-variable wait (or by code that
    /// released and re-took it without going through [`lock`](Self::lock)): order edges as for
    /// `lock`, no wait check.
    #[track_caller]
    pub fn relocked(&self, mode: Mode) {
        self.relocked_at(mode, Location::caller());
    }

    /// [`relocked`](Self::relocked) at `site`.
    #[track_caller]
    pub(crate) fn relocked_at(&self, mode: Mode, site: &'static Location<'static>) {
        self.meta.relocked(mode, site);
    }
}

/// The async protocol of `lockscan::tokio`'s locks (a task, not a thread, waits and holds),
/// or nothing when detection is off.
#[cfg(feature = "tokio")]
impl LockHooks {
    /// Whether the current code runs inside a task that lockscan wraps (only those are
    /// recorded).
    pub(crate) fn in_task() -> bool {
        #[cfg(lockscan_active)]
        return crate::runtime::task::in_task();
        #[cfg(not(lockscan_active))]
        false
    }

    /// Records an async request in `mode` at `site` (order edges, and with `wait_check` the
    /// task registered as waiting, so that a wait cycle is reported); the wait ends when the
    /// value returned is dropped.
    #[cfg_attr(not(lockscan_active), allow(unused_variables))]
    #[track_caller]
    pub(crate) fn request_async(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
        wait_check: bool,
    ) -> AsyncWait {
        #[cfg(lockscan_active)]
        return AsyncWait(self.meta.request_async(mode, site, wait_check));
        #[cfg(not(lockscan_active))]
        AsyncWait()
    }

    /// Records an async acquisition in `mode` at `site`.
    #[cfg_attr(not(lockscan_active), allow(unused_variables))]
    pub(crate) fn acquired_async(&self, mode: Mode, site: &'static Location<'static>) {
        #[cfg(lockscan_active)]
        self.meta.acquired_async(mode, site);
    }

    /// Records a successful non-blocking async acquisition; whether it was recorded.
    #[cfg_attr(not(lockscan_active), allow(unused_variables))]
    pub(crate) fn tried_async(&self, mode: Mode, site: &'static Location<'static>) -> bool {
        #[cfg(lockscan_active)]
        {
            self.meta.tried_async(mode, site);
            true
        }
        #[cfg(not(lockscan_active))]
        false
    }

    /// Records the release of a hold [`acquired_async`](Self::acquired_async) or
    /// [`tried_async`](Self::tried_async) recorded.
    #[cfg_attr(not(lockscan_active), allow(unused_variables))]
    pub(crate) fn release_async(&self, mode: Mode) {
        #[cfg(lockscan_active)]
        self.meta.release_async(mode);
    }
}

/// Ends a registered async wait when dropped: the lock was taken, or the lock future dropped.
#[cfg(feature = "tokio")]
pub(crate) struct AsyncWait(#[cfg(lockscan_active)] Option<crate::ids::ThreadId>);

#[cfg(feature = "tokio")]
impl Drop for AsyncWait {
    fn drop(&mut self) {
        #[cfg(lockscan_active)]
        if let Some(task) = self.0 {
            LockMeta::end_async_wait(task);
        }
    }
}

/// What lockscan keeps for one condition variable.
///
/// ```
/// use lockscan::instrument::{CondvarHooks, LockHooks};
/// use lockscan::{FindingKind, LockKind, Mode, Policy};
///
/// lockscan::set_policy(Policy::Collect);
/// let (outer, inner) = (LockHooks::new(LockKind::Mutex), LockHooks::new(LockKind::Mutex));
/// let ready = CondvarHooks::new();
/// outer.lock(Mode::Exclusive, false, || true, || {});
/// inner.lock(Mode::Exclusive, false, || true, || {});
/// inner.release_for_wait(&ready); // a wait on `inner` while `outer` is held
/// ready.notified(false); // (another thread would notify while the waiter sleeps)
/// inner.relocked(Mode::Exclusive);
/// inner.release(Mode::Exclusive);
/// outer.release(Mode::Exclusive);
/// let reported = lockscan::findings().iter().any(|f| f.kind == FindingKind::WaitWhileHolding);
/// assert_eq!(reported, lockscan::is_active());
/// ```
#[derive(Debug)]
pub struct CondvarHooks {
    meta: CondvarMeta,
}

impl CondvarHooks {
    /// The hooks of a condition variable made at the caller's location.
    #[track_caller]
    pub const fn new() -> Self {
        CondvarHooks {
            meta: CondvarMeta::new(Location::caller()),
        }
    }

    /// Records a notification (of every waiter when `all`).
    #[track_caller]
    pub fn notified(&self, all: bool) {
        self.notified_at(all, Location::caller());
    }

    /// [`notified`](Self::notified) at `site`.
    pub(crate) fn notified_at(&self, all: bool, site: &'static Location<'static>) {
        self.meta.notified(all, site);
    }
}

impl Default for CondvarHooks {
    #[track_caller]
    fn default() -> Self {
        CondvarHooks::new()
    }
}
