//! The checks before an acquisition that may block, then the push of the hold: re-locking a
//! lock this thread holds, rank violations, and the order edges from every held lock.

use std::panic::Location;
use std::sync::atomic::Ordering;

use super::LockMeta;
use crate::engine::edges::{self, held_locks};
use crate::finding::Finding;
use crate::ids::{LockId, LockKind, Mode, ThreadId};
use crate::runtime::lazy_id;
use crate::runtime::order_graph;
use crate::runtime::order_graph::deferred::{Deferral, Refused, Waiting};
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
        // The fast path: the chain cache knows this lock in this mode on top of this held
        // stack (so the lock is not held, and every edge into it is recorded). One lookup in
        // the thread's own state, however many locks it holds, and a push.
        let fast = state::with(|st| st.push_known(id, mode, site, self.rank))?;
        match fast {
            Some(thread) => Some(thread),
            None => self.enter_slow(self.hold(id, mode, site), recursive),
        }
    }

    /// [`enter`](Self::enter) when the chain cache does not know the held stack: the lock is
    /// held already, some edge is new, or only the edge cache knows them. The last is the
    /// common case where a thread takes many distinct chains (each held lock's edge known,
    /// the combination not): one edge-cache check per held lock and a push, as before there
    /// was a chain cache, with nothing else on the way (`enter_checked` does the rest).
    #[inline(never)]
    #[track_caller]
    pub(super) fn enter_slow(&self, hold: Held, recursive: bool) -> Option<ThreadId> {
        let remember = self.named_for_good(&hold);
        match state::with(|st| st.push_if_edges_known(hold, remember))? {
            Some(thread) => Some(thread),
            None => self.enter_checked(hold, recursive),
        }
    }

    /// [`enter_slow`](Self::enter_slow) when the lock is held already or some edge is not in
    /// the edge cache. The new edges go to the global graph from inside the thread's state,
    /// which lockscan's own code only touches, so the held stack is used in place; the
    /// findings are reported after it is let go, and before the hold is pushed, so a panicking
    /// policy leaves no hold behind.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn enter_checked(&self, hold: Held, recursive: bool) -> Option<ThreadId> {
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
                // Every edge into the lock is recorded now: if the stack comes again, one
                // lookup.
                st.push_recorded(hold, self.named_for_good(&hold));
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

    /// Records the order edges from every lock this thread holds (but `skip`, and but those
    /// beneath the innermost [`edges::MAX_ORDER_DEPTH`]) to `hold`, the acquisition it is about
    /// to make, when new: deferred into this lock while it has never been a source (see
    /// `order_graph::deferred`), else in the global graph; returns the findings, for the
    /// caller to report once the thread's state is let go.
    pub(super) fn record_edges(
        &self,
        st: &mut ThreadState,
        hold: &Held,
        skip: Option<LockId>,
    ) -> Vec<Finding> {
        let thread = st.id();
        let Held { id, mode, site, .. } = *hold;
        let mut findings = Vec::new();
        // Past the window's depth only: the look costs as much as the held locks.
        let beneath = if st.held.len() > edges::MAX_ORDER_DEPTH {
            edges::beneath_order_window(st.held.iter().map(|h| h.id), skip)
        } else {
            None
        };
        if beneath.is_some() {
            warn_order_window(thread);
        }
        let beneath = |lock: LockId| beneath.as_ref().is_some_and(|b| b.contains(&lock));
        if self.defer_edges(st, hold, skip, beneath, &mut findings) {
            self.deferred.store(true, Ordering::Relaxed);
        }
        // What could not wait: the edges from locks not in the graph yet, or into a source.
        let mut session = None;
        for index in 0..st.held.len() {
            let from = st.held[index];
            if Some(from.id) == skip
                || beneath(from.id)
                || st.cache.contains(from.id, from.mode, id, mode)
            {
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
            session.add_edge(&st.held, index, &mut findings);
            // A node of the graph now, with its name: the next edges out of it may wait.
            st.held.mark_out_edge(index);
            st.cache.insert(from.id, from.mode, id, mode);
        }
        if session.is_some() {
            self.in_graph.store(true, Ordering::Relaxed);
        }
        findings
    }

    /// Defers into this lock the new edges to `hold` from the held locks that are nodes of the
    /// graph already, while this lock is not (see `order_graph::deferred`; once an edge into it
    /// is in the graph, the others join it there): into this thread's table at the lock's first
    /// acquisition, else into its shard; returns whether any went into the shard (to forget
    /// there when the lock drops). The others are left to [`record_edges`](Self::record_edges)'s
    /// loop.
    fn defer_edges(
        &self,
        st: &mut ThreadState,
        hold: &Held,
        skip: Option<LockId>,
        beneath: impl Fn(LockId) -> bool,
        findings: &mut Vec<Finding>,
    ) -> bool {
        let thread = st.id();
        let Held {
            id,
            mode,
            site,
            in_graph,
            ..
        } = *hold;
        if in_graph {
            return false;
        }
        // The lock's first acquisition, which gave it its id: no edge into it is known yet,
        // and it is mostly dropped before it is taken again (see `EdgeCache::insert_fresh`).
        let fresh = lazy_id::fresh_owner(self.id.word()).is_some();
        let mut deferral = None;
        let mut held_set = None;
        let mut backtrace = None;
        let mut deferred_any = false;
        for index in 0..st.held.len() {
            let from = st.held[index];
            if !from.in_graph
                || Some(from.id) == skip
                || beneath(from.id)
                || if fresh {
                    st.cache.contains_fresh(from.id, from.mode, id, mode)
                } else {
                    st.cache.contains(from.id, from.mode, id, mode)
                }
                || order_graph::is_full(from.id, id)
            {
                continue;
            }
            if deferral.is_none() {
                if !st.registered {
                    // A finding its edges close may name this thread later.
                    order_graph::register_thread(thread, state::current_thread_name(thread));
                    st.registered = true;
                }
                // Before the shard's lock: capturing a stack is slow.
                backtrace = order_graph::capture_backtrace();
            }
            let deferral = deferral.get_or_insert_with(|| Deferral::open_for(id, &self.id));
            let held = held_set
                .get_or_insert_with(|| {
                    held_locks(st.held.len(), st.held.iter().map(|h| (h.id, h.mode)))
                })
                .clone();
            let clock = Some(st.order_snapshot());
            let occurrence =
                order_graph::occurrence(thread, &from, mode, site, held, clock, backtrace.clone());
            let waiting = Waiting {
                from: from.id,
                occurrence,
            };
            match deferral.push(waiting) {
                Ok(()) => {}
                // A source already (it can be on no other push than the first): every edge goes
                // into the graph, in `record_edges`'s loop.
                Err((Refused::Source, _)) => return deferred_any,
                Err((Refused::Full, _)) => break,
            }
            findings.extend(self.rank_violation(thread, &from, mode, site));
            if fresh {
                st.cache.insert_fresh(from.id, from.mode, id, mode);
            } else {
                st.cache.insert(from.id, from.mode, id, mode);
            }
            deferred_any |= !deferral.in_table();
        }
        deferred_any
    }
}

/// Says once per process that a thread held more locks at once than order edges are taken from
/// (see [`edges::MAX_ORDER_DEPTH`]); in the words the replay of its trace uses.
#[cold]
fn warn_order_window(thread: ThreadId) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        let warning = edges::order_window_warning(&state::current_thread_name(thread));
        // Straight to the process's stderr: libtest captures what `eprintln!` writes in a test.
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "lockscan: warning: {warning}");
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
