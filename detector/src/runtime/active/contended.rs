//! The contended path: waiting for a lock another thread holds. The thread first spins, then
//! registers as blocked so that a deadlock is reported the moment it forms, then blocks.

use std::panic::Location;

use super::LockMeta;
use crate::finding::Finding;
use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::runtime::order_graph;
use crate::runtime::recorder::{self, Rec};
use crate::runtime::report_fatal;
use crate::runtime::state::{self, Held, ThreadState};
use crate::runtime::waits::{self, Waiter};

impl LockMeta {
    /// The contended path: registers this thread as blocked, reports a deadlock that closes,
    /// and blocks.
    ///
    /// `pushed`: whether the last hold of the thread's stack is this very acquisition, pushed
    /// by `enter` and not held yet (an upgrade pushes none: the lock is held, upgradable).
    #[cold]
    #[track_caller]
    pub(super) fn block<G>(
        &self,
        id: LockId,
        mode: Mode,
        flavour: Flavour,
        site: &'static Location<'static>,
        pushed: bool,
        block: impl FnOnce() -> G,
    ) -> G {
        if pushed && let Some(first) = self.held_before(id) {
            // This thread holds the lock already and still has to wait: a second `read` behind
            // a queued writer, which waits for the first. It can never be granted.
            state::with(|st| {
                if st.held.last().is_some_and(|h| h.id == id) {
                    st.held.pop();
                }
            });
            let thread = state::with(ThreadState::id).unwrap_or(ThreadId(0));
            report_fatal(self.read_behind_writer(thread, first, mode, site));
        }
        let Some((thread, name, held)) = state::with(|st| {
            let thread = st.id();
            let name = (!st.registered).then(|| state::current_thread_name(thread));
            st.registered = true;
            let held = st.held[..st.held.len().saturating_sub(usize::from(pushed))].to_vec();
            (thread, name, held)
        }) else {
            return block();
        };
        if let Some(name) = name {
            order_graph::register_thread(thread, name);
        }
        if recorder::on() {
            // Not numbered (this thread does not hold the lock): the trace's reader puts it
            // right after this thread's previous event.
            recorder::record(
                thread,
                Rec::Request {
                    lock: id,
                    mode,
                    flavour,
                    site,
                },
            );
        }
        let waiter = Waiter {
            thread,
            lock: id,
            info: self.info(),
            mode,
            site,
            held,
        };
        if let Err(deadlock) = waits::begin(waiter) {
            give_up(id, *deadlock);
        }
        // Leave the registry even if `block` unwinds, so no stale entry points at this lock.
        struct Leave(ThreadId);
        impl Drop for Leave {
            fn drop(&mut self) {
                waits::end(self.0);
            }
        }
        let leave = Leave(thread);
        // A lock an async task holds across an `.await` (after registering as waiting, so that
        // a task that parks with it meanwhile sees this thread: `runtime::parked`).
        #[cfg(feature = "tokio")]
        if let Some(finding) = crate::runtime::parked::blocking_on(id, mode, site, || {
            state::current_thread_name(thread)
        }) {
            if finding.kind == crate::finding::FindingKind::Deadlock {
                drop(leave);
                give_up(id, finding);
            }
            // An error: a panicking policy unwinds here, before the lock is held.
            let pop = pushed.then_some(super::enter::PopOnUnwind(id));
            crate::runtime::report(finding);
            std::mem::forget(pop);
        }
        let _leave = leave;
        block()
    }

    /// The hold of `id` this thread had before the one `enter` just pushed, if any.
    fn held_before(&self, id: LockId) -> Option<Held> {
        state::with(|st| {
            let before = &st.held[..st.held.len().saturating_sub(1)];
            before.iter().find(|h| h.id == id).copied()
        })
        .flatten()
    }
}

/// Unwinds a thread that will not get lock `id`, reporting `finding`: drops the hold `enter`
/// pushed for it (or, for an upgrade, the upgradable hold, which unwinding releases).
#[cold]
#[track_caller]
fn give_up(id: LockId, finding: Finding) -> ! {
    state::with(|st| {
        if let Some(index) = st.position(id) {
            st.held.remove(index);
        }
    });
    report_fatal(finding);
}

/// A lock that is taken is usually let go within a few microseconds: try again a few times, as
/// parking_lot spins before it parks, before registering as a blocked thread (the registry of
/// blocked threads is one lock for the whole process).
#[cold]
pub(super) fn spin<G>(attempt: &mut impl FnMut() -> Option<G>) -> Option<G> {
    for round in 0..10_u32 {
        if round < 3 {
            for _ in 0..(2_u32 << round) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        if let Some(guard) = attempt() {
            return Some(guard);
        }
    }
    None
}
