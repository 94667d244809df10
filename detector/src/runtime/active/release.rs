//! Releases, and the mode changes of a held read-write lock.

use std::panic::Location;
use std::sync::atomic::Ordering;

use super::{CondvarMeta, LockMeta};
use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::runtime::hb::races_on;
use crate::runtime::recorder;
use crate::runtime::state;
use crate::runtime::switches;

impl LockMeta {
    /// Records a release, before the lock is actually unlocked.
    #[inline]
    pub(crate) fn release(&self, mode: Mode) {
        self.release_as(mode, None);
    }

    /// Records the release of a condition-variable wait: in a trace, a `wait` record stands for
    /// the release.
    pub(crate) fn release_for_wait(&self, condvar: &CondvarMeta, site: &'static Location<'static>) {
        self.release_as(Mode::Exclusive, Some((condvar, site)));
    }

    /// The fast path, inlined into the guard's drop: the hold is on top of the stack (guards
    /// usually drop in reverse order), made no order edge, and nothing is recorded (one load:
    /// [`switches`]). A pop.
    #[inline]
    fn release_as(&self, mode: Mode, wait: Option<(&CondvarMeta, &'static Location<'static>)>) {
        let id = LockId(self.id.get());
        let popped = wait.is_none() && state::with(|st| st.pop_plain(id)) == Some(true);
        if popped && !switches::any_on() {
            return;
        }
        self.release_slow(id, mode, wait, popped);
    }

    /// [`release_as`](Self::release_as) past the fast path: when the hold was popped there
    /// already, only the race clock and the recording are left.
    #[cold]
    #[inline(never)]
    fn release_slow(
        &self,
        id: LockId,
        mode: Mode,
        wait: Option<(&CondvarMeta, &'static Location<'static>)>,
        popped: bool,
    ) {
        let released = state::with(|st| {
            let out_edge = if popped {
                false
            } else {
                // Guards usually drop in reverse order: the hold is the last one.
                let held = match st.held.last() {
                    Some(last) if last.id == id => st.held.pop(),
                    _ => st.position(id).map(|index| st.held.remove(index)),
                }?;
                held.out_edge
            };
            let thread = st.id();
            if races_on() {
                self.clock.releasing(thread, &mut st.clock);
            }
            Some((out_edge, thread))
        })
        .flatten();
        let Some((out_edge, thread)) = released else {
            return;
        };
        if out_edge {
            self.in_graph.store(true, Ordering::Relaxed);
        }
        if recorder::on() {
            self.record_release(thread, id, mode, wait);
        }
    }

    /// Records a change of mode of a held read-write lock that cannot wait forever: a
    /// downgrade, called before the lock changes (so that, in a trace, it comes before the
    /// readers it lets in), or an upgrade attempt that succeeded (`to` exclusive), called after.
    pub(crate) fn change_mode(&self, _from: Mode, to: Mode, site: &'static Location<'static>) {
        let Some(thread) = self.set_mode(to) else {
            return;
        };
        if recorder::on() {
            let (try_lock, flavour) = if to == Mode::Exclusive {
                // `try_upgrade` and the timed ones: like a try, no edge into the lock.
                (true, Flavour::Upgrade)
            } else {
                (false, Flavour::Downgrade)
            };
            let id = LockId(self.id.get());
            self.record_acquire(thread, id, to, try_lock, flavour, site);
        }
    }

    /// Sets the mode of this thread's hold of the lock; the thread, if it holds it.
    pub(super) fn set_mode(&self, to: Mode) -> Option<ThreadId> {
        let id = LockId(self.id.get());
        state::with(|st| {
            let index = st.position(id)?;
            st.held.set_mode(index, to);
            Some(st.id())
        })
        .flatten()
    }
}
