//! The thread's side of recording: each thread encodes its own events into a ring of its own
//! ([`super::ring`]), so the hot path takes no lock and writes no shared cache line but the
//! ring's published position.

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::Arc;

use super::ring::{Producer, Ring};
use super::{REC, epoch, on, wake_writer};
use crate::ids::{CondvarId, Flavour, LockId, Mode, ThreadId, VarId};
use crate::trace::format::block::{self, How, MAX_RECORD, Recent, RecordBuf};

#[cfg(feature = "tokio")]
mod task;
#[cfg(all(lockscan_active, feature = "tokio"))]
pub(crate) use task::TaskLog;

/// The ring a thread starts with; it doubles, up to [`MAX_RING`], each time the thread fills it
/// faster than the writer empties it. The writer is woken when a ring is half full, so the
/// limit need not cover its 20 ms sleep: 128 KiB measured fastest in the tight loops of
/// `examples/prof_record.rs` (1 MiB rings cost 0.5x to 1x more with 4 threads on 2 cores:
/// they fall out of the cache between the thread's write and the writer's read).
const FIRST_RING: usize = 1 << 14;
const MAX_RING: usize = 1 << 17;

/// Slots of the thread's cache of site numbers (direct-mapped by address).
const SITE_SLOTS: usize = 64;

/// One event of a thread, before encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rec {
    Acquire {
        lock: LockId,
        seq: u64,
        mode: Mode,
        try_lock: bool,
        flavour: Flavour,
        site: &'static Location<'static>,
    },
    Release {
        lock: LockId,
        seq: u64,
        mode: Mode,
    },
    Request {
        lock: LockId,
        mode: Mode,
        flavour: Flavour,
        site: &'static Location<'static>,
    },
    Wait {
        condvar: CondvarId,
        condvar_seq: u64,
        lock: LockId,
        lock_seq: u64,
        site: &'static Location<'static>,
    },
    Notify {
        condvar: CondvarId,
        seq: u64,
        all: bool,
        site: &'static Location<'static>,
    },
    Access {
        write: bool,
        var: VarId,
        seq: u64,
        site: &'static Location<'static>,
    },
    Spawn {
        child: ThreadId,
        site: &'static Location<'static>,
    },
    Join {
        child: ThreadId,
        site: &'static Location<'static>,
        after_exit: bool,
    },
    /// The first record of a thread spawned through lockscan while recording.
    Start,
    /// The last record of a thread spawned through lockscan.
    Exit,
}

impl Rec {
    /// The site the record names, if any (every record names at most one).
    #[inline]
    fn site(&self) -> Option<&'static Location<'static>> {
        match *self {
            Rec::Acquire { site, .. }
            | Rec::Request { site, .. }
            | Rec::Wait { site, .. }
            | Rec::Notify { site, .. }
            | Rec::Access { site, .. }
            | Rec::Spawn { site, .. }
            | Rec::Join { site, .. } => Some(site),
            Rec::Release { .. } | Rec::Start | Rec::Exit => None,
        }
    }

    /// Encodes the record; `recent` is the thread's recent locks, for near records (`None`:
    /// a detached block, full records only).
    // Always inlined, as the functions of the hot path below: each caller records one kind of
    // event, and the rest of the match folds away.
    #[inline(always)]
    fn encode(
        self,
        out: &mut RecordBuf,
        recent: Option<&mut Recent>,
        mut site: impl FnMut(&'static Location<'static>) -> u64,
    ) -> usize {
        match self {
            Rec::Acquire {
                lock,
                seq,
                mode,
                try_lock,
                flavour,
                site: s,
            } => {
                let how = How {
                    mode,
                    try_lock,
                    flavour,
                };
                block::acquire(out, recent, lock.0, seq, site(s), how)
            }
            Rec::Release { lock, seq, mode } => block::release(out, recent, lock.0, seq, mode),
            Rec::Request {
                lock,
                mode,
                flavour,
                site: s,
            } => block::request(out, lock.0, site(s), mode, flavour),
            Rec::Wait {
                condvar,
                condvar_seq,
                lock,
                lock_seq,
                site: s,
            } => block::wait(out, condvar.0, condvar_seq, lock.0, lock_seq, site(s)),
            Rec::Notify {
                condvar,
                seq,
                all,
                site: s,
            } => block::notify(out, condvar.0, seq, site(s), all),
            Rec::Access {
                write,
                var,
                seq,
                site: s,
            } => block::access(out, write, var.0, seq, site(s)),
            Rec::Spawn { child, site: s } => block::spawn(out, child.0, site(s)),
            Rec::Join {
                child,
                site: s,
                after_exit,
            } => block::join(out, child.0, site(s), after_exit),
            Rec::Start => block::start(out),
            Rec::Exit => block::exit(out),
        }
    }
}

/// Who an async task's log records for (`lockscan::tokio`): the task's thread of the trace.
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskIdentity {
    pub id: ThreadId,
    pub name: &'static str,
    /// The thread or task that spawned it, when it had a state.
    pub parent: Option<ThreadId>,
}

/// A thread's recording state. It needs no destructor, so that the thread-local holding it is
/// a plain one, without the lazy-registration check of thread-locals that have one: its ring
/// is let go by [`LogOwner`]'s destructor.
struct ThreadLog {
    /// The recording it belongs to (0: none): a log of an earlier recording is replaced on
    /// first use.
    epoch: u64,
    tid: ThreadId,
    /// One strong count of the ring's `Arc` (`Arc::into_raw`), or null.
    ring: *const Ring,
    producer: Producer,
    /// Where in the ring the writer is asked to empty it: half-way, so that it usually does
    /// before the thread would have to wait.
    wake_at: u64,
    /// Site address -> number in this recording.
    sites: [(usize, u64); SITE_SLOTS],
    /// The thread's recent locks, as the trace's reader will know them.
    recent: Recent,
    /// Whose log it is when it is an async task's ([`TaskLog`]): its ring declares the task.
    task: Option<TaskIdentity>,
}

/// How [`ThreadLog::attach`] went.
enum Attached {
    Yes,
    /// No recording is running: nothing to record.
    NotRecording,
    /// The thread is ending and its log cannot be let go any more: record another way.
    Ending,
}

impl ThreadLog {
    const EMPTY: ThreadLog = ThreadLog {
        epoch: 0,
        tid: ThreadId(0),
        ring: std::ptr::null(),
        producer: Producer::EMPTY,
        wake_at: 0,
        sites: [(0, 0); SITE_SLOTS],
        recent: Recent::EMPTY,
        task: None,
    };

    fn ring(&self) -> &Ring {
        debug_assert!(!self.ring.is_null());
        // SAFETY: a non-null `ring` holds a strong count of a live `Arc<Ring>` (`attach`),
        // given back only by `detach`, which nulls it.
        unsafe { &*self.ring }
    }

    /// Gives the log a new ring for thread `tid` in the running recording, registered with the
    /// writer after the ring it replaces, which is retired. `same_stream`: the new ring goes
    /// on where the old one stopped (same recording and thread), so the site numbers and
    /// recent locks stay.
    #[cold]
    fn attach(&mut self, tid: ThreadId, capacity: usize, same_stream: bool) -> Attached {
        // The owner's destructor lets the ring go at thread exit; past it, a ring would never
        // be retired.
        if LOG_OWNER.try_with(|_| ()).is_err() {
            return Attached::Ending;
        }
        let epoch = epoch();
        let task = self.task.filter(|task| task.id == tid);
        let Some(ring) = REC.lock().register(tid, capacity, epoch, task) else {
            return Attached::NotRecording;
        };
        self.detach();
        self.producer = Producer::new(&ring);
        self.wake_at = capacity as u64 / 2;
        self.ring = Arc::into_raw(ring);
        self.epoch = epoch;
        self.tid = tid;
        if !same_stream {
            self.sites = [(0, 0); SITE_SLOTS];
            self.recent = Recent::EMPTY;
        }
        Attached::Yes
    }

    /// Retires the ring and lets it go: the writer takes what is left in it.
    fn detach(&mut self) {
        if self.ring.is_null() {
            return;
        }
        self.ring().retire();
        // SAFETY: `ring` holds a strong count from `Arc::into_raw` (see `ring`), given back
        // once: it is nulled right after.
        drop(unsafe { Arc::from_raw(self.ring) });
        self.ring = std::ptr::null();
        self.epoch = 0;
    }

    #[inline(always)]
    fn site(&mut self, site: &'static Location<'static>) -> u64 {
        let addr = std::ptr::from_ref(site).addr();
        let slot = &mut self.sites[(addr >> 3) % SITE_SLOTS];
        if slot.0 == addr {
            return slot.1;
        }
        let number = REC.lock().collected.site(site);
        *slot = (addr, number);
        number
    }

    #[inline(always)]
    fn record(&mut self, rec: Rec) {
        // The site first: numbering a new one takes the writer's lock, which is no place to be
        // half-way through a record.
        let site = rec.site().map_or(0, |site| self.site(site));
        // SAFETY: `ring` is live (see `ring`); `producer` was made for it, and this log, owned
        // by one thread, is its only producer (a replaced ring is retired and never written
        // again).
        let ring = unsafe { &*self.ring };
        // SAFETY: as above.
        match unsafe { self.producer.slot(ring) } {
            Some(slot) => {
                let len = rec.encode(slot, Some(&mut self.recent), |_| site);
                self.producer.publish(ring, len);
            }
            None => self.record_spilled(rec, site),
        }
        if self.producer.written() >= self.wake_at {
            self.half_full();
        }
    }

    /// Records `rec` when the ring has no room for the longest record where it is: encoded
    /// aside, then copied in (around the ring's end) or, when the ring is full, made room for.
    #[cold]
    fn record_spilled(&mut self, rec: Rec, site: u64) {
        let mut record: RecordBuf = [0; MAX_RECORD];
        let len = rec.encode(&mut record, Some(&mut self.recent), |_| site);
        // SAFETY: as in `record`.
        if !unsafe { self.producer.push(&*self.ring, &record[..len]) } {
            self.make_room(&record[..len]);
        }
    }

    #[cold]
    fn half_full(&mut self) {
        self.wake_at = self.producer.written() + self.ring().capacity() as u64 / 2;
        wake_writer();
    }

    /// The ring is full: move to a bigger one while it may grow, else wait for the writer.
    #[cold]
    fn make_room(&mut self, record: &[u8]) {
        let capacity = self.ring().capacity();
        if capacity < MAX_RING
            && let Attached::Yes = self.attach(self.tid, capacity * 2, true)
        {
            // SAFETY: as in `record`, for the new ring.
            let pushed = unsafe { self.producer.push(&*self.ring, record) };
            debug_assert!(pushed, "a fresh ring has room for one record");
            return;
        }
        let mut spins = 0_u32;
        loop {
            wake_writer();
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            spins += 1;
            // SAFETY: as in `record`.
            if unsafe { self.producer.push(&*self.ring, record) } {
                return;
            }
            if !on() || self.epoch != epoch() {
                // The recording ended while this thread waited: the event is after its end.
                return;
            }
        }
    }
}

/// The thread's log, and whether it is in use further up the stack.
struct LogCell {
    busy: Cell<bool>,
    log: UnsafeCell<ThreadLog>,
}

/// Lets the thread's ring go when the thread ends.
struct LogOwner;

impl Drop for LogOwner {
    fn drop(&mut self) {
        let _ = LOG.try_with(|cell| {
            if !cell.busy.replace(true) {
                // SAFETY: `busy` was clear, so no other reference to the log exists on this
                // thread, and no other thread reaches this thread-local.
                unsafe { &mut *cell.log.get() }.detach();
                cell.busy.set(false);
            }
        });
    }
}

thread_local! {
    static LOG: LogCell = const {
        LogCell {
            busy: Cell::new(false),
            log: UnsafeCell::new(ThreadLog::EMPTY),
        }
    };
    static LOG_OWNER: LogOwner = const { LogOwner };
}

/// Records `rec` as the next event of thread `tid`.
#[inline(always)]
pub(crate) fn record(tid: ThreadId, rec: Rec) {
    // Only the address is taken inside `with`, so that the call inlines and each caller's
    // record folds to its own few instructions: the thread-local has no destructor, so it
    // lives as long as this thread, which is running this call.
    let cell: *const LogCell = LOG.with(std::ptr::from_ref);
    // SAFETY: see above; a shared reference (the log itself is behind an `UnsafeCell`).
    let cell = unsafe { &*cell };
    if cell.busy.replace(true) {
        record_elsewhere(tid, rec);
        return;
    }
    // SAFETY: `busy` was clear, so no other reference to the log exists on this thread (it is
    // set until this one is gone), and no other thread reaches this thread-local.
    let log = unsafe { &mut *cell.log.get() };
    let attached = if log.epoch == epoch() && log.tid == tid && !log.ring.is_null() {
        Attached::Yes
    } else {
        log.attach(tid, FIRST_RING, false)
    };
    // One call of `record` (and through it of the record's encoder), so that it inlines and
    // the record's `match` folds to the caller's kind; two made it a function of its own.
    if let Attached::Yes = attached {
        log.record(rec);
    }
    cell.busy.set(false);
    if let Attached::Ending = attached {
        record_elsewhere(tid, rec);
    }
}

/// Records an event of a thread that is ending (an event from a thread-local destructor) or
/// whose log is in use further up the stack.
#[cold]
fn record_elsewhere(tid: ThreadId, rec: Rec) {
    REC.lock().record_directly(tid, rec);
}

/// Encodes `rec` for a detached block (full records only), with `site` numbering its sites:
/// for the writer's side, which records an event of a thread whose log is gone or in use.
pub(super) fn encode_detached(
    rec: Rec,
    out: &mut RecordBuf,
    site: impl FnMut(&'static Location<'static>) -> u64,
) -> usize {
    rec.encode(out, None, site)
}
