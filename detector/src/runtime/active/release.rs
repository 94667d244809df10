//! Releases, and the mode changes of a held read-write lock.

use std::panic::Location;
use std::sync::atomic::Ordering;

use super::{CondvarMeta, LockMeta};
use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::runtime::hb::races_on;
use crate::runtime::recorder;
use crate::runtime::state;

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

    #[inline]
    fn release_as(&self, mode: Mode, wait: Option<(&CondvarMeta, &'static Location<'static>)>) {
        let id = LockId(self.id.get());
        let released = state::with(|st| {
            // Guards usually drop in reverse order: the hold is the last one.
            let held = match st.held.last() {
                Some(last) if last.id == id => st.held.pop(),
                _ => st.position(id).map(|index| st.held.remove(index)),
            }?;
            let thread = st.id();
            if races_on() {
                self.clock.releasing(thread, &mut st.clock);
            }
            Some((held.out_edge, thread))
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
            st.held[index].mode = to;
            Some(st.id())
        })
        .flatten()
    }
}
