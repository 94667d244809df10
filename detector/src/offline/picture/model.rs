//! What a trace looks like drawn: the locks, the lock-order edges with the ways they were taken,
//! and per thread the intervals it held a lock or was blocked. [`TracePicture`] is the plain data
//! the graph and timeline renderers read; a replay builds one when asked with
//! [`Replay::keep_timeline`](crate::analysis::Replay::keep_timeline).
//!
//! Traces usually have no timestamps, so time is the event number (the record's position in
//! the trace, from 1). When every lock event of a trace has a `ts_ns`, those are used instead.

use crate::ids::{LockId, LockKind, Mode, ThreadId};
use crate::site::Site;

/// A moment of a trace: its event number, and its timestamp when the trace has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    /// The event's position in the trace, from 1.
    pub event: u64,
    /// The event's `ts_ns`, when the trace recorded one.
    pub ts_ns: Option<u64>,
}

/// How a picture measures time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Event numbers: the trace has no (or incomplete) timestamps.
    Events,
    /// Nanoseconds from the trace's `ts_ns` fields.
    Nanoseconds,
}

/// A lock as a picture shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureLock {
    /// Its id in the trace.
    pub id: LockId,
    /// The name reports use: its name, else its class, else its id.
    pub name: String,
    /// Whether `name` is a real name or class, the same in other traces of the program (an id
    /// is not).
    pub named: bool,
    /// What kind of lock it is.
    pub kind: LockKind,
}

/// A thread as a picture shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureThread {
    /// Its id in the trace.
    pub id: ThreadId,
    /// Its name, else its id.
    pub name: String,
}

/// One way an order edge was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureOccurrence {
    /// The thread's name.
    pub thread: String,
    /// Where the held lock was acquired.
    pub from_site: Option<Site>,
    /// Where the next lock was acquired or requested.
    pub to_site: Option<Site>,
    /// The mode the held lock was held in.
    pub from_mode: Mode,
    /// The mode the next lock was requested in.
    pub to_mode: Mode,
}

/// A lock-order edge: some thread acquired `to` while holding `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureEdge {
    /// The held lock, an index into [`TracePicture::locks`].
    pub from: usize,
    /// The acquired lock, an index into [`TracePicture::locks`].
    pub to: usize,
    /// The distinct ways it was taken (a bounded number, as the analysis keeps them).
    pub occurrences: Vec<PictureOccurrence>,
}

/// An interval a thread held a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The thread, an index into [`TracePicture::threads`].
    pub thread: usize,
    /// The lock, an index into [`TracePicture::locks`].
    pub lock: usize,
    /// The mode it was held in.
    pub mode: Mode,
    /// Whether it was taken with a successful `try_lock`.
    pub try_lock: bool,
    /// Where it was acquired.
    pub site: Option<Site>,
    /// When it was acquired.
    pub start: Moment,
    /// When it was released; `None` when still held at the end of the trace.
    pub end: Option<Moment>,
}

/// What a blocked thread waited for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// A lock it requested.
    Lock,
    /// A condition variable, named, with the lock it waits with.
    Condvar(String),
}

/// An interval a thread was blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedWait {
    /// The thread, an index into [`TracePicture::threads`].
    pub thread: usize,
    /// The lock it waited for (or waits with, for a condition variable).
    pub lock: usize,
    /// What it waited for.
    pub waiting_for: WaitFor,
    /// Where.
    pub site: Option<Site>,
    /// When it started waiting.
    pub start: Moment,
    /// When it ended; `None` when still blocked at the end of the trace.
    pub end: Option<Moment>,
    /// Whether it ended with the lock acquired; false for a request that gave up (a timed
    /// lock) and for a wait still blocked at the end.
    pub acquired: bool,
}

/// Everything a graph or timeline of one trace shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracePicture {
    /// Every lock the trace used, in order of first appearance.
    pub locks: Vec<PictureLock>,
    /// Every thread, in order of first appearance.
    pub threads: Vec<PictureThread>,
    /// The lock-order edges, sorted by lock index.
    pub edges: Vec<PictureEdge>,
    /// The lock holds, in order of acquisition (the first ones, when the replay kept a
    /// bounded number: see `left_out_holds`).
    pub holds: Vec<Hold>,
    /// The blocked waits, in order of their start (the first ones, as `holds`).
    pub waits: Vec<BlockedWait>,
    /// The holds of the trace that a bounded replay did not keep, after the first ones.
    pub left_out_holds: u64,
    /// The waits of the trace that a bounded replay did not keep, after the first ones.
    pub left_out_waits: u64,
    /// The earliest start of any hold or wait, kept or left out (its event number and its
    /// timestamp each the earliest); `None` when there is none.
    pub first_start: Option<Moment>,
    /// The last event of the trace.
    pub end: Moment,
    /// Which time the renderers should use.
    pub clock: Clock,
}

impl TracePicture {
    /// A moment as a number on this picture's clock.
    pub fn time(&self, moment: Moment) -> u64 {
        match (self.clock, moment.ts_ns) {
            (Clock::Nanoseconds, Some(ts)) => ts,
            _ => moment.event,
        }
    }

    /// The first moment of the picture's intervals, on its clock (0 when there is none).
    pub fn start_time(&self) -> u64 {
        self.first_start.map_or(0, |m| self.time(m))
    }

    /// The end of the trace on the picture's clock.
    pub fn end_time(&self) -> u64 {
        self.time(self.end)
    }

    /// The index of the lock with id `id`.
    pub fn lock_index(&self, id: LockId) -> Option<usize> {
        self.locks.iter().position(|l| l.id == id)
    }
}
