//! The checks before an acquisition that may block, then the push of the hold: re-locking a
//! lock this thread holds, rank violations, and the order edges from every held lock.

use std::panic::Location;
use std::sync::atomic::Ordering;

use super::LockMeta;
use crate::finding::Finding;
use crate::ids::{LockId, LockKind, Mode, ThreadId};
use crate::runtime::order_graph;
use crate::runtime::state::{self, Held, ThreadState};
use crate::runtime::{report, report_fatal};

impl LockMeta {
    /// The checks before an acquisition that may block, then the push of the hold: re-locking a
    /// lock this thread holds, then the order edges from every held lock to this one. Reports
    /// before anything blocks. Returns the thread, or `None` when its state is unavailable.
    #[inline]
    #[track_caller]
    pub(super) fn enter(
        &self,
        id: LockId,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
    ) -> Option<ThreadId> {
        let hold = self.hold(id, mode, site);
        // The fast path: this lock is not held yet, and this thread has recorded every edge
        // from what it holds to this lock before. Nothing but the thread's own state.
        let fast = state::with(|st| {
            let ThreadState { held, cache, .. } = st;
            let known = held
                .iter()
                .all(|h| h.id != id && cache.contains(h.id, h.mode, id, mode));
            known.then(|| {
                st.held.push(hold);
                st.id()
            })
        })?;
        match fast {
            Some(thread) => Some(thread),
            None => self.enter_slow(hold, recursive),
        }
    }

    /// [`enter`](Self::enter) when the lock is held already or some edge is new. The new edges
    /// go to the global graph from inside the thread's state, which lockscan's own code only
    /// touches, so the held stack is used in place; the findings are reported after it is let
    /// go, and before the hold is pushed, so a panicking policy leaves no hold behind.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn enter_slow(&self, hold: Held, recursive: bool) -> Option<ThreadId> {
        let Held { id, mode, site, .. } = hold;
        enum Next {
            Pushed(ThreadId),
            SelfDeadlock(ThreadId, Held),
            Report(ThreadId, Vec<Finding>),
            /// A second `read`, pushed already.
            ReadAgain(ThreadId, Finding),
        }
        let next = state::with(|st| {
            let thread = st.id();
            if let Some(index) = st.position(id) {
                let held = st.held[index];
                let shared_again = held.mode == Mode::Shared && mode == Mode::Shared;
                if self.kind == LockKind::RwLock && shared_again && !recursive {
                    // A second `read`: it waits only if a writer is queued between the two
                    // (then `block` unwinds it). Reported either way; the policy decides.
                    let finding = self.self_deadlock(thread, held, mode, site);
                    st.held.push(hold);
                    return Next::ReadAgain(thread, finding);
                }
                // A semaphore's permits are taken again by the holder without waiting for itself.
                let reentrant = matches!(self.kind, LockKind::Reentrant | LockKind::Semaphore)
                    || (recursive && shared_again);
                if !reentrant {
                    return Next::SelfDeadlock(thread, held);
                }
                // Re-entering adds no edge.
                st.held.push(hold);
                return Next::Pushed(thread);
            }
            let findings = self.record_edges(st, &hold, None);
            if findings.is_empty() {
                st.held.push(hold);
                return Next::Pushed(thread);
            }
            Next::Report(thread, findings)
        })?;
        match next {
            Next::Pushed(thread) => Some(thread),
            Next::SelfDeadlock(thread, held) => {
                report_fatal(self.self_deadlock(thread, held, mode, site))
            }
            Next::ReadAgain(thread, finding) => {
                // The hold has no guard yet: if a panicking policy unwinds here, pop it.
                let pop = PopOnUnwind(id);
                report(finding);
                std::mem::forget(pop);
                Some(thread)
            }
            Next::Report(thread, findings) => {
                for finding in findings {
                    report(finding);
                }
                state::with(|st| st.held.push(hold));
                Some(thread)
            }
        }
    }

    /// Records the order edges from every lock this thread holds (but `skip`) to `hold`, the
    /// acquisition it is about to make, in the global graph when new; returns the findings,
    /// for the caller to report once the thread's state is let go.
    pub(super) fn record_edges(
        &self,
        st: &mut ThreadState,
        hold: &Held,
        skip: Option<LockId>,
    ) -> Vec<Finding> {
        let thread = st.id();
        let Held { id, mode, site, .. } = *hold;
        let mut session = None;
        let mut findings = Vec::new();
        for index in 0..st.held.len() {
            let from = st.held[index];
            if Some(from.id) == skip || st.cache.contains(from.id, from.mode, id, mode) {
                continue;
            }
            findings.extend(self.rank_violation(thread, &from, mode, site));
            if order_graph::is_full(from.id, id) {
                // Nothing to add to it, and no cycle to look for again.
                st.cache.insert(from.id, from.mode, id, mode);
                continue;
            }
            let session = session.get_or_insert_with(|| {
                let name = (!st.registered).then(|| state::current_thread_name(thread));
                st.registered = true;
                let clock = st.order_snapshot();
                order_graph::session(thread, name, hold, clock)
            });
            findings.extend(session.add_edge(&st.held, index));
            st.held[index].out_edge = true;
            st.cache.insert(from.id, from.mode, id, mode);
        }
        if session.is_some() {
            self.in_graph.store(true, Ordering::Relaxed);
        }
        findings
    }
}

/// Pops the hold of the lock from the top of the thread's stack if a report unwinds before
/// the guard for it exists (see `enter_slow`, `contended`); forgotten when the report returns.
pub(super) struct PopOnUnwind(pub(super) LockId);

impl Drop for PopOnUnwind {
    fn drop(&mut self) {
        state::with(|st| {
            if st.held.last().is_some_and(|h| h.id == self.0) {
                st.held.pop();
            }
        });
    }
}
