//! [`Event`]: one recorded operation, at the level the analysis works on.
//!
//! Readers turn their wire formats (JSONL, RAPID STD) into events; the replay consumes them.
//! Nothing here knows about any wire format.

use std::sync::Arc;

use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;

/// The first record of a lockscan trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The format version (1).
    pub version: u64,
    /// The tool that wrote the trace.
    pub tool: Option<Arc<str>>,
    /// The recorded process.
    pub pid: Option<u64>,
    /// The recorded program.
    pub program: Option<Arc<str>>,
}

/// One operation of a trace, in replay order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first record.
    Header(Header),
    /// A thread became known.
    Thread {
        /// The thread.
        tid: ThreadId,
        /// Its name.
        name: Option<Arc<str>>,
        /// The thread that started it.
        parent: Option<ThreadId>,
    },
    /// A lock became known.
    Lock {
        /// The lock.
        lock: LockId,
        /// What kind of lock it is.
        kind: LockKind,
        /// Its human name; locks of several traces merge by it.
        name: Option<Arc<str>>,
        /// Its class (by default the creation site); locks merge by it when unnamed.
        class: Option<Arc<str>>,
        /// Where it was created.
        site: Option<Site>,
        /// Its declared rank.
        rank: Option<u64>,
    },
    /// A condition variable became known.
    Condvar {
        /// The condition variable.
        condvar: CondvarId,
        /// Its name.
        name: Option<Arc<str>>,
        /// Where it was created.
        site: Option<Site>,
    },
    /// An instrumented shared variable became known.
    Var {
        /// The variable.
        var: VarId,
        /// Its name.
        name: Option<Arc<str>>,
        /// Where it was created.
        site: Option<Site>,
    },
    /// `tid` started `child`.
    Spawn {
        /// The parent.
        tid: ThreadId,
        /// The new thread.
        child: ThreadId,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` waited for `child` to finish.
    Join {
        /// The joining thread.
        tid: ThreadId,
        /// The finished thread.
        child: ThreadId,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` is about to block on `lock`.
    Request {
        /// The thread.
        tid: ThreadId,
        /// The lock.
        lock: LockId,
        /// The requested mode.
        mode: Mode,
        /// How: a plain request, a recursive read, or an upgrade of this thread's upgradable
        /// hold.
        flavour: Flavour,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` now holds `lock`.
    Acquire {
        /// The thread.
        tid: ThreadId,
        /// The lock.
        lock: LockId,
        /// The mode it is held in.
        mode: Mode,
        /// Whether the acquisition could not block forever (a successful `try_lock`, or a timed
        /// one): no order edge into the lock.
        try_lock: bool,
        /// How: plain, a recursive read, timed, or a change of mode of this thread's hold.
        flavour: Flavour,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` released `lock`.
    Release {
        /// The thread.
        tid: ThreadId,
        /// The lock.
        lock: LockId,
        /// The mode it was held in.
        mode: Mode,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` released `lock` (if it held it) and waits on `condvar`; the wake-up is its next
    /// acquisition of `lock`.
    Wait {
        /// The thread.
        tid: ThreadId,
        /// The condition variable.
        condvar: CondvarId,
        /// The lock it waits with.
        lock: LockId,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` signalled `condvar`.
    Notify {
        /// The thread.
        tid: ThreadId,
        /// The condition variable.
        condvar: CondvarId,
        /// Whether every waiter was woken (`notify_all`).
        all: bool,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` read `var`.
    Read {
        /// The thread.
        tid: ThreadId,
        /// The variable.
        var: VarId,
        /// Where.
        site: Option<Site>,
    },
    /// `tid` wrote `var`.
    Write {
        /// The thread.
        tid: ThreadId,
        /// The variable.
        var: VarId,
        /// Where.
        site: Option<Site>,
    },
    /// A finding the program reported live (the recorder writes every one, whatever the
    /// policy): the events may not show it, since a thread that stopped unwound before it
    /// blocked. The replay reports it unless it finds the same finding in the events.
    Finding(Box<crate::Finding>),
    /// The last record of a complete trace.
    End {
        /// How many events the recorder wrote, when it says.
        events: Option<u64>,
        /// How many events the recorder lost, when it says.
        dropped: Option<u64>,
    },
}

impl Event {
    /// The event as read from a trace written before acquisitions carried their flavour: a
    /// shared acquisition or request may then have been a recursive read, and is taken as one
    /// (a plain `read` again is misuse, a recursive one is not, and such a trace cannot tell).
    pub(crate) fn without_recorded_flavour(mut self) -> Event {
        if let Event::Acquire {
            mode: Mode::Shared,
            flavour: flavour @ Flavour::Plain,
            ..
        }
        | Event::Request {
            mode: Mode::Shared,
            flavour: flavour @ Flavour::Plain,
            ..
        } = &mut self
        {
            *flavour = Flavour::Recursive;
        }
        self
    }

    /// The acting thread, for events that have one.
    pub fn thread(&self) -> Option<ThreadId> {
        match self {
            Event::Thread { tid, .. }
            | Event::Spawn { tid, .. }
            | Event::Join { tid, .. }
            | Event::Request { tid, .. }
            | Event::Acquire { tid, .. }
            | Event::Release { tid, .. }
            | Event::Wait { tid, .. }
            | Event::Notify { tid, .. }
            | Event::Read { tid, .. }
            | Event::Write { tid, .. } => Some(*tid),
            Event::Header(_)
            | Event::Finding(_)
            | Event::Lock { .. }
            | Event::Condvar { .. }
            | Event::Var { .. }
            | Event::End { .. } => None,
        }
    }

    /// Where it happened, for events that say.
    pub(crate) fn site(&self) -> Option<&Site> {
        match self {
            Event::Lock { site, .. }
            | Event::Condvar { site, .. }
            | Event::Var { site, .. }
            | Event::Spawn { site, .. }
            | Event::Join { site, .. }
            | Event::Request { site, .. }
            | Event::Acquire { site, .. }
            | Event::Release { site, .. }
            | Event::Wait { site, .. }
            | Event::Notify { site, .. }
            | Event::Read { site, .. }
            | Event::Write { site, .. } => site.as_ref(),
            Event::Header(_) | Event::Thread { .. } | Event::Finding(_) | Event::End { .. } => None,
        }
    }
}
