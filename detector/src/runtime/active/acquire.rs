//! The acquisitions the `sync` shells call: blocking, non-blocking, the re-acquisition after a
//! condition-variable wait, and the upgrade of a read-write lock.

use std::panic::Location;

use super::LockMeta;
use super::contended::spin;
use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::runtime::hb::races_on;
use crate::runtime::recorder;
use crate::runtime::report;
use crate::runtime::state::{self, ThreadState};
use crate::runtime::switches;

impl LockMeta {
    /// A blocking acquisition: records order edges (reporting the cycles they close before
    /// anything blocks), tries `attempt`, and when that fails checks for a deadlock and `block`s.
    ///
    /// `#[track_caller]` down to the report, so that a panicking policy is located at the
    /// caller's line (see [`report`]); likewise everything on the way from here to a report.
    ///
    /// The fast path, inlined into the caller: a lock with an id, taken on top of a held stack
    /// the thread's chain cache knows (see [`state::ThreadState::push_known`]), free, with
    /// steering, recording and race detection off (one load: [`switches`]). It reads the lock's
    /// id and rank and nothing else of it, writes only the thread's own state, and calls
    /// nothing; everything else is out of line.
    #[inline]
    #[track_caller]
    pub(crate) fn lock<G>(
        &self,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
        mut attempt: impl FnMut() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        // Once the lock has an id, the one field of it read before it is taken (with its rank),
        // so that readers on other cores do not bounce more of it than the lock word.
        let id = self.id_at(site);
        if !switches::any_on()
            && state::with(|st| st.push_if_known(id, mode, site, self.rank)) == Some(true)
        {
            return match attempt() {
                Some(guard) => guard,
                None => self.lock_taken(None, id, mode, recursive, site, None, attempt, block),
            };
        }
        self.lock_slow(id, mode, recursive, site, attempt, block)
    }

    /// [`lock`](Self::lock) past the fast path's push: the lock was taken by the first attempt
    /// (`guard`), or is taken now; then the race clock and the recording, if on. `thread`: the
    /// thread's id, when the caller has it already.
    #[cold]
    #[inline(never)]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    fn lock_taken<G>(
        &self,
        thread: Option<ThreadId>,
        id: LockId,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
        guard: Option<G>,
        mut attempt: impl FnMut() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        let flavour = Self::flavour(mode, recursive);
        let guard = match guard.or_else(|| spin(&mut attempt)) {
            Some(guard) => guard,
            None => self.block(id, mode, flavour, site, true, block),
        };
        if let Some(thread) = thread.or_else(|| state::with(ThreadState::id)) {
            self.after_acquire(thread, id, mode, flavour, site);
        }
        guard
    }

    /// A recursive read is what the trace's replay needs to tell from a plain one; a
    /// re-entrant mutex is re-entrant by its kind.
    fn flavour(mode: Mode, recursive: bool) -> Flavour {
        if recursive && mode == Mode::Shared {
            Flavour::Recursive
        } else {
            Flavour::Plain
        }
    }

    /// The race clock and the recording of an acquisition made, when on.
    #[inline]
    fn after_acquire(
        &self,
        thread: ThreadId,
        id: LockId,
        mode: Mode,
        flavour: Flavour,
        site: &'static Location<'static>,
    ) {
        if races_on() {
            self.clock.acquired();
        }
        if recorder::on() {
            self.record_acquire(thread, id, mode, false, flavour, site);
        }
    }

    /// [`lock`](Self::lock) past the fast path: while steering, recording or race detection
    /// may be on, the steering point, then the chain cache as on the fast path, then the race
    /// clock and the recording; when the chain cache does not know the held stack (or the
    /// thread's state is unavailable), the checks of [`enter`](Self::enter), then the
    /// acquisition.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn lock_slow<G>(
        &self,
        id: LockId,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
        mut attempt: impl FnMut() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        if switches::any_on() {
            // Confirming a predicted deadlock may pause here (`lockscan::steer`).
            crate::runtime::steer::point(self, site);
            let known = state::with(|st| st.push_known(id, mode, site, self.rank));
            if let Some(Some(thread)) = known {
                return match attempt() {
                    Some(guard) if !races_on() && !recorder::on() => guard,
                    guard => {
                        let thread = Some(thread);
                        self.lock_taken(thread, id, mode, recursive, site, guard, attempt, block)
                    }
                };
            }
        }
        // The chain cache missed: straight to the checks. The hold is pushed before
        // the lock is taken, as on the fast path; taking the lock cannot fail, only unwind
        // through `report_fatal`, which pops it first.
        let thread = self.enter_slow(self.hold(id, mode, site), recursive);
        // `lock_taken`'s tail, written out: calling it here (a miss of the chain cache, common
        // with locks per object) measured 4–15% slower on the per-object bench at 64 locks.
        let flavour = Self::flavour(mode, recursive);
        let guard = match attempt().or_else(|| spin(&mut attempt)) {
            Some(guard) => guard,
            None => self.block(id, mode, flavour, site, true, block),
        };
        if let Some(thread) = thread {
            self.after_acquire(thread, id, mode, flavour, site);
        }
        guard
    }

    /// A non-blocking (or timed: `flavour` says) acquisition: no edge into this lock, since it
    /// cannot wait forever, but once held it is the source of edges like any other.
    #[inline]
    pub(crate) fn try_lock<G>(
        &self,
        mode: Mode,
        flavour: Flavour,
        site: &'static Location<'static>,
        attempt: impl FnOnce() -> Option<G>,
    ) -> Option<G> {
        let guard = attempt()?;
        self.classify_at(site);
        let id = self.id();
        if let Some(thread) = self.acquired(id, mode, site) {
            if races_on() {
                self.clock.acquired();
            }
            if recorder::on() {
                self.record_acquire(thread, id, mode, true, flavour, site);
            }
        }
        Some(guard)
    }

    /// Records that the lock was re-acquired by code that blocks inside parking_lot (a
    /// condition variable wake-up, the end of `unlocked`): edges as for `lock`, no wait check.
    #[track_caller]
    pub(crate) fn relocked(&self, mode: Mode, site: &'static Location<'static>) {
        let id = self.id();
        if let Some(thread) = self.enter(id, mode, true, site) {
            if races_on() {
                self.clock.acquired();
            }
            if recorder::on() {
                self.record_acquire(thread, id, mode, false, Flavour::Plain, site);
            }
        }
    }

    /// Records the re-acquisition, as [`relocked`](Self::relocked) does, when the returned
    /// guard drops: for code that runs the caller's closure with the lock released
    /// (`unlocked`), so that a panic in the closure cannot leave the lock taken again by
    /// parking_lot but not recorded as held (its later order edges would be lost).
    pub(crate) fn relock_on_drop(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Relock<'_> {
        Relock {
            meta: self,
            mode,
            site,
        }
    }

    /// An upgrade of this read-write lock, held upgradable by this thread, to exclusive access:
    /// an exclusive request made while holding it and whatever else the thread holds. Records
    /// the order edges from the other held locks (reporting the cycles they close before
    /// anything blocks), tries `attempt`, and when that fails registers the thread as blocked —
    /// on the readers, which the wait-for check follows — and `block`s.
    #[track_caller]
    pub(crate) fn upgrade<G, W>(
        &self,
        site: &'static Location<'static>,
        guard: G,
        attempt: impl FnOnce(G) -> Result<W, G>,
        block: impl FnOnce(G) -> W,
    ) -> W {
        let id = self.id();
        let request = self.hold(id, Mode::Exclusive, site);
        let findings = state::with(|st| self.record_edges(st, &request, Some(id)));
        for finding in findings.into_iter().flatten() {
            report(finding);
        }
        let upgraded = match attempt(guard) {
            Ok(upgraded) => upgraded,
            Err(guard) => self.block(
                id,
                Mode::Exclusive,
                Flavour::Upgrade,
                site,
                false,
                move || block(guard),
            ),
        };
        // Exclusive now: numbered after every reader's release.
        if let Some(thread) = self.set_mode(Mode::Exclusive)
            && recorder::on()
        {
            self.record_acquire(thread, id, Mode::Exclusive, false, Flavour::Upgrade, site);
        }
        upgraded
    }

    /// Records a hold taken without blocking.
    #[inline]
    fn acquired(
        &self,
        id: LockId,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Option<ThreadId> {
        let hold = self.hold(id, mode, site);
        state::with(|st| {
            st.held.push(hold);
            st.id()
        })
    }
}

/// See [`LockMeta::relock_on_drop`].
#[derive(Debug)]
pub(crate) struct Relock<'a> {
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
}

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        self.meta.relocked(self.mode, self.site);
    }
}
