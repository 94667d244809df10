//! The protocol of async locks (`lockscan::tokio`), whose waits suspend a task instead of
//! blocking a thread: the request of a lock the task could not take at once (order edges, then
//! the task registered as waiting, so that a wait cycle among tasks is a deadlock the moment
//! it forms), the acquisition, and the release.

use std::panic::Location;

use super::LockMeta;
use crate::ids::{LockId, LockKind, Mode, ThreadId};
use crate::runtime::order_graph;
use crate::runtime::state;
use crate::runtime::waits::{self, Waiter};
use crate::runtime::{report, report_fatal};

impl LockMeta {
    /// A task's request of this async lock in `mode`, which it could not take at once: records
    /// the order edges from what the task holds (reporting the cycles they close), then, when
    /// `wait_check`, registers the task as waiting. Returns the task, which must
    /// [`end_async_wait`](Self::end_async_wait) when the wait ends.
    ///
    /// # Panics
    ///
    /// Whatever the policy, when the wait completes a wait cycle: a deadlock.
    #[track_caller]
    pub(crate) fn request_async(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
        wait_check: bool,
    ) -> Option<ThreadId> {
        self.classify_at(site);
        let id = self.id();
        let request = self.hold(id, mode, site);
        let relock = state::with(|st| {
            let index = st.position(id)?;
            Some((st.id(), st.held[index]))
        })
        .flatten();
        // A semaphore's waits are checked only when it has one permit (`wait_check`): with
        // several, the task waits for the other holders' permits too, not only its own.
        if let Some((thread, held)) = relock
            && self.kind != LockKind::Reentrant
            && (self.kind != LockKind::Semaphore || wait_check)
        {
            // The task waits for itself: tokio's locks are not re-entrant, and a second read
            // waits behind a queued writer, which waits for the first.
            report_fatal(self.self_deadlock(thread, held, mode, site));
        }
        let (thread, name, held, findings) = state::with(|st| {
            let findings = self.record_edges(st, &request, None);
            let thread = st.id();
            let name = (!st.registered).then(|| state::current_thread_name(thread));
            st.registered = true;
            (thread, name, st.held.to_vec(), findings)
        })?;
        for finding in findings {
            report(finding);
        }
        if !wait_check {
            return None;
        }
        if let Some(name) = name {
            order_graph::register_thread(thread, name);
        }
        let waiter = Waiter {
            thread,
            lock: id,
            info: request.info,
            mode,
            site,
            held,
        };
        if let Err(deadlock) = waits::begin(waiter) {
            report_fatal(*deadlock);
        }
        Some(thread)
    }

    /// Ends the wait [`request_async`](Self::request_async) registered: the lock was taken, or
    /// the request dropped.
    pub(crate) fn end_async_wait(thread: ThreadId) {
        waits::end(thread);
    }

    /// Records that the current task took this async lock in `mode` (order edges as for a
    /// blocking acquisition, known already when it waited), as a hold that may stay across an
    /// `.await`.
    #[track_caller]
    pub(crate) fn acquired_async(&self, mode: Mode, site: &'static Location<'static>) {
        self.lock(mode, false, site, || Some(()), || ());
        let id = LockId(self.id.get());
        state::with(|st| st.async_held.push(id));
    }

    /// Records the release of a hold [`acquired_async`](Self::acquired_async) recorded.
    pub(crate) fn release_async(&self, mode: Mode) {
        let id = LockId(self.id.get());
        state::with(|st| {
            if let Some(index) = st.async_held.iter().rposition(|&h| h == id) {
                st.async_held.swap_remove(index);
            }
        });
        self.release(mode);
    }
}

impl LockMeta {
    /// Records that the current task took this async lock without waiting (`try_lock`): no
    /// order edge into it, a hold that may stay across an `.await`.
    pub(crate) fn tried_async(&self, mode: Mode, site: &'static Location<'static>) {
        self.try_lock(mode, crate::ids::Flavour::Plain, site, || Some(()));
        let id = LockId(self.id.get());
        state::with(|st| st.async_held.push(id));
    }
}
