//! Async tasks as the unit of the lock order (`lockscan::tokio`): a wrapped task has a state of
//! its own — id, held locks, edge cache, clocks — swapped with the worker thread's around each
//! poll, so that its holds travel with it across polls and worker threads, and two tasks
//! interleaving on one thread do not share a held set. After a poll that returns `Pending`, the
//! blocking locks the task still holds are reported (`lock-held-across-await`).

use std::panic::Location;
use std::task::Poll;

use super::parked::{self, PollPlace};
use super::state::{self, ThreadClocks, ThreadState, new_thread_id};
use crate::finding::{Finding, FindingKind};
use crate::ids::{LockId, ThreadId};
use crate::runtime::report;
use crate::site::Site;

/// One task's lockscan state, kept by the task's wrapper between polls.
pub(crate) struct TaskState {
    /// Boxed: the wrapper future stays small, and the swap moves the state's bytes only.
    state: Box<ThreadState>,
    name: &'static str,
    /// The holds reported held across an `.await` already (lock, acquisition site), so that a
    /// guard held over many awaits is reported once.
    reported: Vec<(LockId, &'static Location<'static>)>,
    /// The task's id while it is parked with blocking locks held (`runtime::parked`).
    parked: Option<ThreadId>,
}

impl std::fmt::Debug for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskState")
            .field("name", &self.name)
            .finish()
    }
}

impl TaskState {
    /// The state of a task named `name`, spawned by the current thread or task: a fresh id,
    /// and the spawner's clocks, so that what the spawner did before is ordered before the task
    /// (as for a thread's spawn).
    pub(crate) fn new(name: &'static str) -> TaskState {
        let inherited = state::with(|st| {
            st.tick();
            st.clocks()
        })
        .unwrap_or_else(ThreadClocks::default);
        let mut state = Box::new(ThreadState::new());
        state.adopt(new_thread_id(), &inherited);
        TaskState {
            state,
            name,
            reported: Vec::new(),
            parked: None,
        }
    }

    /// Runs one poll of the task with its state swapped in; when the poll returns `Pending`,
    /// reports the blocking locks the task still holds.
    pub(crate) fn poll<R>(&mut self, poll: impl FnOnce() -> Poll<R>) -> Poll<R> {
        let Some(outer) = state::swap(&mut self.state, Some(self.name)) else {
            return poll();
        };
        /// Swaps the thread's state back, also when the poll unwinds (a deadlock's panic).
        struct SwapBack<'a>(&'a mut ThreadState, Option<&'static str>);
        impl Drop for SwapBack<'_> {
            fn drop(&mut self) {
                state::swap(self.0, self.1);
            }
        }
        let back = SwapBack(&mut self.state, outer);
        if let Some(task) = self.parked.take() {
            parked::unpark(task);
        }
        let result = poll();
        if result.is_pending() {
            let (task, across) = state::with(|st| {
                let across = st
                    .held
                    .iter()
                    .filter(|h| !st.async_held.contains(&h.id))
                    .copied()
                    .collect::<Vec<_>>();
                (st.id(), across)
            })
            .unwrap_or((ThreadId(0), Vec::new()));
            for held in &across {
                if self.reported.contains(&(held.id, held.site)) {
                    continue;
                }
                self.reported.push((held.id, held.site));
                report(held_across_await(self.name, held.named()));
            }
            if !across.is_empty() {
                // Until its next poll, a thread that blocks on one of these checks who can poll
                // the task (a deadlock when only that thread can), and one blocked already is
                // an error now.
                self.parked = Some(task);
                let blocked = parked::park(task, self.name, PollPlace::here(), across);
                if let Some(finding) = blocked {
                    report(finding);
                }
            }
        }
        drop(back);
        result
    }
}

impl Drop for TaskState {
    fn drop(&mut self) {
        if let Some(task) = self.parked.take() {
            parked::unpark(task);
        }
    }
}

/// Task `task`'s poll returned `Pending` with the blocking lock `held` still held.
fn held_across_await(task: &str, held: crate::engine::rules::LockAt) -> Finding {
    let mut finding = Finding::new(
        FindingKind::LockHeldAcrossAwait,
        format!(
            "task `{task}` holds `{}` across an `.await`: its poll returned `Pending` with the \
             lock held",
            held.name
        ),
    );
    finding.reason = "a blocking lock held while the task is suspended blocks every thread, and \
                      every task on the same worker, that wants it until the task is polled \
                      again; on a current-thread runtime that never happens"
        .to_owned();
    finding.locks = vec![held.name.clone()];
    finding.threads = vec![task.to_owned()];
    finding.site = held.site.clone().or(None::<Site>);
    finding.help = Some(
        "drop the guard before the `.await` (end its scope), or use an async lock \
         (`lockscan::tokio::Mutex`)"
            .to_owned(),
    );
    finding
}

/// Whether the state of a wrapped task is swapped in on this thread: async locks record their
/// holds only then (a task that is not wrapped moves between threads with no state of its own).
pub(crate) fn in_task() -> bool {
    state::in_task()
}
