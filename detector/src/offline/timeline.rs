//! Builds a [`TracePicture`](crate::offline::picture::TracePicture) from a replay: the timeline
//! recorder watches the events and keeps who held which lock when and who was blocked, with
//! bookkeeping of its own so that the replay's state stays as it is. The picture model itself
//! is the report side's ([`crate::offline::picture`]). Built with the feature `analyze`.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::ids::{CondvarId, LockId, LockKind, ThreadId};
use crate::offline::picture::{BlockedWait, Clock, Hold, Moment, TracePicture, WaitFor};
use crate::trace::Event;

/// A hold not yet closed.
#[derive(Debug)]
struct OpenHold {
    hold: Hold,
    /// Re-entrant acquisitions not yet released.
    count: u32,
    /// Whether it is one of the holds kept (the first `limit` to start).
    kept: bool,
}

/// A blocked wait not yet closed.
#[derive(Debug)]
struct OpenWait {
    wait: BlockedWait,
    kept: bool,
}

/// Builds the timeline part of a [`TracePicture`](crate::offline::picture::TracePicture) from
/// events. Holds and waits are closed into `holds` and `waits` as they end (the ones still
/// open at the end by [`TimelineRecorder::close_open`]); of each, only the first `limit` to
/// start are kept, the rest counted, so that a picture's memory is bounded whatever the trace.
#[derive(Debug)]
pub(crate) struct TimelineRecorder {
    pub(crate) threads: Vec<ThreadId>,
    thread_index: FxHashMap<ThreadId, usize>,
    pub(crate) locks: Vec<LockId>,
    lock_index: FxHashMap<LockId, usize>,
    /// The holds kept and closed, in order of their end (until [`TimelineRecorder::sorted`]).
    pub(crate) holds: Vec<Hold>,
    /// The waits kept and closed, in order of their end (until [`TimelineRecorder::sorted`]).
    pub(crate) waits: Vec<BlockedWait>,
    open_holds: FxHashMap<(usize, usize), OpenHold>,
    /// Each thread's wait in progress (a thread blocks on one thing at a time).
    open_waits: FxHashMap<usize, OpenWait>,
    condvar_names: FxHashMap<CondvarId, Arc<str>>,
    /// The timestamp of the next event, as the reader saw it.
    pub(crate) next_ts: Option<u64>,
    /// Whether every lock event so far had a timestamp.
    pub(crate) all_timed: bool,
    pub(crate) timed_events: u64,
    pub(crate) last: Moment,
    /// How many holds, and how many waits, are kept at most.
    limit: usize,
    /// How many holds and waits started and were kept (a wait that turns out to be none gives
    /// its place back).
    kept_holds: usize,
    kept_waits: usize,
    /// The holds and waits that ended but were not kept.
    pub(crate) left_out_holds: u64,
    pub(crate) left_out_waits: u64,
    /// The earliest start of any hold or wait, kept or not: the event number and the
    /// timestamp each the earliest.
    pub(crate) first_start: Option<Moment>,
}

impl TimelineRecorder {
    /// A recorder that keeps the first `limit` holds and the first `limit` waits.
    pub(crate) fn new(limit: usize) -> Self {
        TimelineRecorder {
            threads: Vec::new(),
            thread_index: FxHashMap::default(),
            locks: Vec::new(),
            lock_index: FxHashMap::default(),
            holds: Vec::new(),
            waits: Vec::new(),
            open_holds: FxHashMap::default(),
            open_waits: FxHashMap::default(),
            condvar_names: FxHashMap::default(),
            next_ts: None,
            all_timed: true,
            timed_events: 0,
            last: Moment::default(),
            limit,
            kept_holds: 0,
            kept_waits: 0,
            left_out_holds: 0,
            left_out_waits: 0,
            first_start: None,
        }
    }

    fn thread(&mut self, id: ThreadId) -> usize {
        *self.thread_index.entry(id).or_insert_with(|| {
            self.threads.push(id);
            self.threads.len() - 1
        })
    }

    fn lock(&mut self, id: LockId) -> usize {
        *self.lock_index.entry(id).or_insert_with(|| {
            self.locks.push(id);
            self.locks.len() - 1
        })
    }

    /// Notes that an interval starting at `start` ended (kept or not).
    fn note_start(&mut self, start: Moment) {
        let first = self.first_start.get_or_insert(start);
        first.event = first.event.min(start.event);
        first.ts_ns = match (first.ts_ns, start.ts_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn close_hold(&mut self, open: OpenHold, end: Option<Moment>) {
        self.note_start(open.hold.start);
        if open.kept {
            self.holds.push(Hold { end, ..open.hold });
        } else {
            self.left_out_holds += 1;
        }
    }

    fn close_wait(&mut self, open: OpenWait, end: Option<Moment>, acquired: bool) {
        self.note_start(open.wait.start);
        if open.kept {
            self.waits.push(BlockedWait {
                end,
                acquired,
                ..open.wait
            });
        } else {
            self.left_out_waits += 1;
        }
    }

    fn open_wait(&mut self, wait: BlockedWait) {
        let kept = self.kept_waits < self.limit;
        self.kept_waits += usize::from(kept);
        self.open_waits.insert(wait.thread, OpenWait { wait, kept });
    }

    /// Notes event number `number`; `kind_of` tells a lock's kind as the replay knows it.
    pub(crate) fn event(
        &mut self,
        event: &Event,
        number: u64,
        kind_of: impl Fn(LockId) -> LockKind,
    ) {
        let ts_ns = self.next_ts.take();
        let now = Moment {
            event: number,
            ts_ns,
        };
        self.last = now;
        let timed = matches!(
            event,
            Event::Request { .. }
                | Event::Acquire { .. }
                | Event::Release { .. }
                | Event::Wait { .. }
        );
        if timed {
            match ts_ns {
                Some(_) => self.timed_events += 1,
                None => self.all_timed = false,
            }
        }
        if let Some(tid) = event.thread()
            && let Some(&t) = self.thread_index.get(&tid)
            && let Some(open) = self.open_waits.get(&t)
        {
            // A blocked thread does nothing else: an event of its own other than the wait's
            // end (its request or acquisition of that lock) means it gave up waiting.
            let lock = open.wait.lock;
            let own_lock = |id: &LockId| self.lock_index.get(id) == Some(&lock);
            let goes_on = match event {
                Event::Request { lock: l, .. } | Event::Acquire { lock: l, .. } => own_lock(l),
                _ => false,
            };
            if !goes_on && let Some(open) = self.open_waits.remove(&t) {
                self.close_wait(open, Some(now), false);
            }
        }
        match event {
            Event::Thread { tid, .. } => {
                self.thread(*tid);
            }
            Event::Lock { lock, .. } => {
                self.lock(*lock);
            }
            Event::Condvar {
                condvar,
                name: Some(name),
                ..
            } => {
                self.condvar_names.insert(*condvar, name.clone());
            }
            Event::Request {
                tid, lock, site, ..
            } => {
                let (t, l) = (self.thread(*tid), self.lock(*lock));
                if self.open_holds.contains_key(&(t, l)) && kind_of(*lock) == LockKind::Reentrant {
                    return; // cannot block
                }
                // A condition variable's wake-up shows as a request in STD traces: the wait
                // goes on until the lock is acquired.
                if self.open_waits.contains_key(&t) {
                    return;
                }
                self.open_wait(BlockedWait {
                    thread: t,
                    lock: l,
                    waiting_for: WaitFor::Lock,
                    site: site.clone(),
                    start: now,
                    end: None,
                    acquired: false,
                });
            }
            Event::Acquire {
                tid,
                lock,
                mode,
                try_lock,
                flavour,
                site,
            } => {
                let (t, l) = (self.thread(*tid), self.lock(*lock));
                if self.open_waits.get(&t).is_some_and(|o| o.wait.lock == l)
                    && let Some(open) = self.open_waits.remove(&t)
                {
                    if open.wait.start.event + 1 == number {
                        // Nothing happened between the request and the acquisition: the
                        // thread did not wait (STD traces write a request before every
                        // acquisition).
                        self.kept_waits -= usize::from(open.kept);
                    } else {
                        self.close_wait(open, Some(now), true);
                    }
                }
                if let Some(open) = self.open_holds.get_mut(&(t, l)) {
                    // A change of mode (an upgrade, a downgrade) goes on with the same hold.
                    if !flavour.changes_mode() {
                        open.count += 1;
                    }
                    return;
                }
                let kept = self.kept_holds < self.limit;
                self.kept_holds += usize::from(kept);
                self.open_holds.insert(
                    (t, l),
                    OpenHold {
                        hold: Hold {
                            thread: t,
                            lock: l,
                            mode: *mode,
                            try_lock: *try_lock,
                            site: site.clone(),
                            start: now,
                            end: None,
                        },
                        count: 1,
                        kept,
                    },
                );
            }
            Event::Release { tid, lock, .. } => {
                let (t, l) = (self.thread(*tid), self.lock(*lock));
                let key = if self.open_holds.contains_key(&(t, l)) {
                    Some((t, l))
                } else if kind_of(*lock) == LockKind::Semaphore {
                    // Any thread may return a permit: it ends the earliest open hold.
                    self.open_holds
                        .iter()
                        .filter(|((_, held), _)| *held == l)
                        .min_by_key(|(_, open)| open.hold.start.event)
                        .map(|(&key, _)| key)
                } else {
                    None // a release of a lock not held: misuse, the replay reports it
                };
                if let Some(key) = key
                    && let Some(open) = self.open_holds.get_mut(&key)
                {
                    open.count -= 1;
                    if open.count == 0
                        && let Some(open) = self.open_holds.remove(&key)
                    {
                        self.close_hold(open, Some(now));
                    }
                }
            }
            Event::Wait {
                tid,
                condvar,
                lock,
                site,
            } => {
                let (t, l) = (self.thread(*tid), self.lock(*lock));
                // The wait releases the lock however often it was taken.
                if let Some(open) = self.open_holds.remove(&(t, l)) {
                    self.close_hold(open, Some(now));
                }
                let name = self
                    .condvar_names
                    .get(condvar)
                    .map_or_else(|| condvar.to_string(), ToString::to_string);
                self.open_wait(BlockedWait {
                    thread: t,
                    lock: l,
                    waiting_for: WaitFor::Condvar(name),
                    site: site.clone(),
                    start: now,
                    end: None,
                    acquired: false,
                });
            }
            Event::Spawn { tid, child, .. } | Event::Join { tid, child, .. } => {
                self.thread(*tid);
                self.thread(*child);
            }
            Event::Notify { tid, .. } | Event::Read { tid, .. } | Event::Write { tid, .. } => {
                self.thread(*tid);
            }
            _ => {}
        }
    }

    /// Closes what is still open at the end of the trace (without an end), in order of start.
    pub(crate) fn close_open(&mut self) {
        let mut holds: Vec<OpenHold> = self.open_holds.drain().map(|(_, open)| open).collect();
        holds.sort_unstable_by_key(|open| open.hold.start.event);
        for open in holds {
            self.close_hold(open, None);
        }
        let mut waits: Vec<OpenWait> = self.open_waits.drain().map(|(_, open)| open).collect();
        waits.sort_unstable_by_key(|open| open.wait.start.event);
        for open in waits {
            self.close_wait(open, None, false);
        }
    }

    /// Puts the kept holds and waits in order of their start, as a picture lists them (each
    /// starts at an event of its own).
    pub(crate) fn sorted(&mut self) {
        self.holds.sort_unstable_by_key(|hold| hold.start.event);
        self.waits.sort_unstable_by_key(|wait| wait.start.event);
    }

    /// The position of lock `id` in `locks`.
    pub(crate) fn lock_position(&self, id: LockId) -> Option<usize> {
        self.lock_index.get(&id).copied()
    }

    /// The clock the finished picture should use.
    pub(crate) fn clock(&self) -> Clock {
        if self.all_timed && self.timed_events > 0 {
            Clock::Nanoseconds
        } else {
            Clock::Events
        }
    }
}

/// One trace's holds and waits handed out as they end, for an export that streams them: the
/// memory it keeps is what is open at a time, not the trace. A second pass over a trace that a
/// replay has pictured (with [`Replay::keep_timeline_bounded`](crate::analysis::Replay) and any
/// bound): the intervals' lock and thread indices are that picture's, and the lock kinds its.
#[derive(Debug)]
pub struct TimelineStream {
    recorder: TimelineRecorder,
    kinds: FxHashMap<LockId, LockKind>,
    events: u64,
}

impl TimelineStream {
    /// A stream over the trace that `picture` was made of.
    pub fn new(picture: &TracePicture) -> Self {
        let mut recorder = TimelineRecorder::new(usize::MAX);
        for thread in &picture.threads {
            recorder.thread(thread.id);
        }
        for lock in &picture.locks {
            recorder.lock(lock.id);
        }
        TimelineStream {
            recorder,
            kinds: picture.locks.iter().map(|l| (l.id, l.kind)).collect(),
            events: 0,
        }
    }

    /// The trace's next event, with its timestamp when the reader has one.
    pub fn event(&mut self, event: &Event, ts_ns: Option<u64>) {
        self.events += 1;
        self.recorder.next_ts = ts_ns;
        let kinds = &self.kinds;
        let kind_of = |id: LockId| kinds.get(&id).copied().unwrap_or(LockKind::Mutex);
        self.recorder.event(event, self.events, kind_of);
    }

    /// The holds and waits that ended since the last call, in order of their end.
    pub fn ended(
        &mut self,
    ) -> (
        impl Iterator<Item = Hold> + '_,
        impl Iterator<Item = BlockedWait> + '_,
    ) {
        let recorder = &mut self.recorder;
        (recorder.holds.drain(..), recorder.waits.drain(..))
    }

    /// Ends the trace: what is still open ends with it, without an end, for
    /// [`TimelineStream::ended`] to hand out.
    pub fn end_of_trace(&mut self) {
        self.recorder.close_open();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Flavour, Mode};
    use crate::offline::picture::tests::picture;

    #[test]
    fn holds_run_from_acquisition_to_release_in_event_numbers() {
        // Events 1-9 declare the locks and threads; the steps are events 10 on.
        let (picture, _) = picture("acq 1 1; acq 1 2; rel 1 2; rel 1 1");
        assert_eq!(picture.clock, Clock::Events);
        let spans: Vec<(usize, u64, Option<u64>)> = picture
            .holds
            .iter()
            .map(|h| (h.lock, h.start.event, h.end.map(|m| m.event)))
            .collect();
        assert_eq!(spans, [(0, 10, Some(13)), (1, 11, Some(12))]);
        assert_eq!(
            picture.holds[0].site.as_ref().unwrap().to_string(),
            "src/x.rs:1:5"
        );
        assert_eq!(picture.threads[0].name, "t1");
        assert_eq!(picture.end.event, 13);
    }

    #[test]
    fn a_request_is_a_wait_until_the_acquisition() {
        let (picture, _) = picture("acq 2 2; req 1 2; rel 2 2; acq 1 2");
        assert_eq!(picture.waits.len(), 1);
        let wait = &picture.waits[0];
        assert_eq!((wait.thread, wait.lock), (0, 1));
        assert_eq!(
            (wait.start.event, wait.end.map(|m| m.event)),
            (11, Some(13))
        );
        assert!(wait.acquired);
        assert_eq!(wait.waiting_for, WaitFor::Lock);
    }

    #[test]
    fn a_request_acquired_at_once_is_no_wait() {
        let (picture, _) = picture("req 1 2; acq 1 2; rel 1 2");
        assert!(picture.waits.is_empty(), "{:?}", picture.waits);
        assert_eq!(picture.holds.len(), 1);
    }

    #[test]
    fn a_thread_that_goes_on_without_the_lock_gave_up() {
        let (picture, _) = picture("acq 1 1; acq 2 2; req 1 2; rel 1 1");
        let wait = &picture.waits[0];
        assert_eq!(wait.end.map(|m| m.event), Some(13));
        assert!(!wait.acquired);
    }

    #[test]
    fn what_lasts_to_the_end_stays_open() {
        let (picture, _) = picture("acq 1 1; acq 2 2; req 1 2; req 2 1");
        assert!(picture.holds.iter().all(|h| h.end.is_none()));
        assert!(picture.waits.iter().all(|w| w.end.is_none() && !w.acquired));
    }

    /// Thread 1 takes lock 1, exclusively.
    fn acquire_one() -> Event {
        Event::Acquire {
            tid: ThreadId(1),
            lock: LockId(1),
            mode: Mode::Exclusive,
            try_lock: false,
            flavour: Flavour::Plain,
            site: None,
        }
    }

    #[test]
    fn re_acquiring_a_held_lock_is_one_hold() {
        let mut recorder = TimelineRecorder::new(usize::MAX);
        let acquire = acquire_one();
        let release = Event::Release {
            tid: ThreadId(1),
            lock: LockId(1),
            mode: Mode::Exclusive,
            site: None,
        };
        let kind = |_| LockKind::Reentrant;
        for (number, event) in [&acquire, &acquire, &release, &release].iter().enumerate() {
            recorder.event(event, number as u64 + 1, kind);
        }
        recorder.close_open();
        assert_eq!(recorder.holds.len(), 1);
        assert_eq!(recorder.holds[0].end.map(|m| m.event), Some(4));
    }

    #[test]
    fn timestamps_are_the_clock_only_when_every_lock_event_has_one() {
        let mut recorder = TimelineRecorder::new(usize::MAX);
        let acquire = acquire_one();
        recorder.next_ts = Some(500);
        recorder.event(&acquire, 1, |_| LockKind::Mutex);
        assert_eq!(recorder.clock(), Clock::Nanoseconds);
        recorder.close_open();
        assert_eq!(recorder.holds[0].start.ts_ns, Some(500));
        recorder.event(&acquire, 2, |_| LockKind::Mutex);
        assert_eq!(recorder.clock(), Clock::Events, "the second had none");
    }
}
