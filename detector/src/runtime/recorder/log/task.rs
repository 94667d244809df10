//! An async task's own log (`lockscan::tokio`): a task is a thread of the trace, so it records
//! into a ring of its own, swapped with the polling thread's log around each poll (as its
//! state is: `runtime::task`). The task's events then stay in the task's order whichever
//! worker polls it, and two tasks taking turns on one worker never share a stream.

use std::panic::Location;

use super::{LOG, Rec, TaskIdentity, ThreadLog, record};
use crate::ids::ThreadId;
use crate::runtime::recorder::{epoch, on, running};

/// A task's log, kept by the task between polls.
pub(crate) struct TaskLog {
    identity: TaskIdentity,
    /// Made when the task is first polled while recording: a task of a program that does not
    /// record costs no log.
    log: Option<Box<ThreadLog>>,
    /// The recording in which the task's spawn was recorded (0: none), whose trace must show
    /// the task's events after it: its first record there is a start.
    recorded_spawn: u64,
    /// The recording in which the task's start was recorded (0: none).
    started: u64,
    /// Whether the task's log is swapped in (between [`enter`](Self::enter) and
    /// [`leave`](Self::leave)).
    swapped: bool,
}

// SAFETY: the ring pointer in a `ThreadLog` is a strong count of an `Arc<Ring>` (`Ring` is
// `Sync`); a task's log is written only while swapped into the thread-local of the thread that
// polls the task, one thread at a time, and the runtime's hand-off of the task between threads
// orders those writes. Nothing is reachable through a `&TaskLog`.
unsafe impl Send for TaskLog {}
// SAFETY: see above: a shared reference reaches only the plain identity (for `Debug`).
unsafe impl Sync for TaskLog {}

impl std::fmt::Debug for TaskLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLog")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl TaskLog {
    /// The log of task `id`, named `name`, which `parent` (the current thread or task, when it
    /// has a state) spawned at `site`: the spawn is recorded in the parent's stream when a
    /// recording runs (which `LOCKSCAN_TRACE` may start here, as a thread's spawn does).
    pub(crate) fn spawned(
        id: ThreadId,
        name: &'static str,
        parent: Option<ThreadId>,
        site: &'static Location<'static>,
    ) -> TaskLog {
        let mut recorded_spawn = 0;
        if let Some(parent) = parent
            && on()
        {
            recorded_spawn = epoch();
            record(parent, Rec::Spawn { child: id, site });
        }
        TaskLog {
            identity: TaskIdentity { id, name, parent },
            log: None,
            recorded_spawn,
            started: 0,
            swapped: false,
        }
    }

    /// Swaps the task's log in, before its poll: what the poll records goes into the task's
    /// ring. Nothing to do when no recording runs and the task has no log yet.
    pub(crate) fn enter(&mut self) {
        if self.log.is_none() {
            if !running() {
                return;
            }
            let mut log = Box::new(ThreadLog::EMPTY);
            log.task = Some(self.identity);
            self.log = Some(log);
        }
        self.swapped = self.swap();
        let epoch = epoch();
        if self.swapped && self.recorded_spawn == epoch && self.started != epoch {
            self.started = epoch;
            record(self.identity.id, Rec::Start);
        }
    }

    /// Swaps the polling thread's log back in, after the poll (also when it unwinds).
    pub(crate) fn leave(&mut self) {
        if std::mem::take(&mut self.swapped) {
            self.swap();
        }
    }

    /// Swaps the task's log with the thread's; `false` when the thread's log is in use (the
    /// poll then records as before, into the thread's).
    fn swap(&mut self) -> bool {
        let Some(log) = self.log.as_deref_mut() else {
            return false;
        };
        LOG.try_with(|cell| {
            if cell.busy.get() {
                return false;
            }
            // SAFETY: `busy` is clear, so no reference to the thread's log exists on this
            // thread, and no other thread reaches this thread-local.
            std::mem::swap(unsafe { &mut *cell.log.get() }, log);
            true
        })
        .unwrap_or(false)
    }
}

impl Drop for TaskLog {
    fn drop(&mut self) {
        self.leave();
        if let Some(log) = self.log.as_deref_mut() {
            // The writer takes what is left in the task's ring.
            log.detach();
        }
    }
}
