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
use crate::runtime::hb;
use crate::runtime::recorder::TaskLog;
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
    /// The task's own stream in a recording: a task is a thread of the trace.
    log: TaskLog,
    id: ThreadId,
    /// The thread or task that made it, and where: a task that ends inside a poll of the task
    /// that made it (a wrapped future it awaits) is joined by it there.
    parent: Option<ThreadId>,
    site: &'static Location<'static>,
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
    /// The state of a task named `name`, spawned at `site` by the current thread or task: a
    /// fresh id, and the spawner's clocks, so that what the spawner did before is ordered before
    /// the task (as for a thread's spawn, which a trace records).
    pub(crate) fn new(name: &'static str, site: &'static Location<'static>) -> TaskState {
        // The clocks before the spawner's step, as a thread's fork takes them: what the spawner
        // does next is not ordered before the task.
        let spawner = state::with(|st| {
            let spawner = (st.id(), st.clocks());
            st.tick();
            spawner
        });
        let (parent, inherited) = match spawner {
            Some((parent, clocks)) => (Some(parent), clocks),
            None => (None, ThreadClocks::default()),
        };
        let id = new_thread_id();
        let mut state = Box::new(ThreadState::new());
        state.adopt(id, &inherited);
        TaskState {
            state,
            name,
            reported: Vec::new(),
            log: TaskLog::spawned(id, name, parent, site),
            id,
            parent,
            site,
            parked: None,
        }
    }

    /// Runs one poll of the task with its state (and its log, while recording) swapped in;
    /// when the poll returns `Pending`, reports the blocking locks the task still holds. When
    /// it returns `Ready` inside a poll of the task that made it, that task joins it: what it
    /// does next is ordered after everything this task did (a thread's join, which a trace
    /// records).
    /// Runs `drop_future`, the drop of the task's future, with the task's state (and log)
    /// swapped in: a task aborted or dropped before its end releases what its future holds as
    /// itself, not as whichever thread drops it (a trace would otherwise show a release by a
    /// thread that never took the lock, and the task holding it forever).
    pub(crate) fn dropping(&mut self, drop_future: impl FnOnce()) {
        let Some(outer) = state::swap(&mut self.state, Some(self.name)) else {
            return drop_future();
        };
        self.log.enter();
        let back = SwapBack(&mut self.state, outer, &mut self.log);
        drop_future();
        drop(back);
    }

    pub(crate) fn poll<R>(&mut self, poll: impl FnOnce() -> Poll<R>) -> Poll<R> {
        let Some(outer) = state::swap(&mut self.state, Some(self.name)) else {
            return poll();
        };
        // Whether the outer state, swapped out into `self.state` now, is the task that made
        // this one: this poll then runs inside that task's, which awaits this one. Not for a
        // thread that made it: on a current-thread runtime, a thread polls the tasks it spawned
        // without awaiting them.
        let joinable = outer.is_some() && self.parent == Some(self.state.id());
        self.log.enter();
        let back = SwapBack(&mut self.state, outer, &mut self.log);
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
        // Its end, in its own stream, before the state goes back.
        let ended = (joinable && result.is_ready()).then(hb::final_clock);
        drop(back);
        if let Some(clocks) = ended {
            hb::joined(self.id, Some(&clocks), self.site);
        }
        result
    }
}

/// Swaps the thread's state and log back after a poll or a drop of the task, also when it
/// unwinds (a deadlock's panic).
struct SwapBack<'a>(&'a mut ThreadState, Option<&'static str>, &'a mut TaskLog);

impl Drop for SwapBack<'_> {
    fn drop(&mut self) {
        self.2.leave();
        state::swap(self.0, self.1);
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
