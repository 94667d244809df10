//! Releases, and the mode changes of a held read-write lock.

use std::panic::Location;
use std::sync::atomic::Ordering;

use super::{CondvarMeta, LockMeta};
use crate::ids::{LockId, Mode};
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

    /// Records an upgrade or downgrade of a held read-write lock.
    pub(crate) fn change_mode(&self, _from: Mode, to: Mode) {
        let id = LockId(self.id.get());
        state::with(|st| {
            if let Some(index) = st.position(id) {
                st.held[index].mode = to;
            }
        });
    }
}
