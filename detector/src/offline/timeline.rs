//! Builds a [`TracePicture`](crate::offline::picture::TracePicture) from a replay: the timeline
//! recorder watches the events and keeps who held which lock when and who was blocked, with
//! bookkeeping of its own so that the replay's state stays as it is. The picture model itself
//! is the report side's ([`crate::offline::picture`]). Built with the feature `analyze`.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::ids::{CondvarId, LockId, LockKind, ThreadId};
use crate::offline::picture::{BlockedWait, Clock, Hold, Moment, WaitFor};
use crate::trace::Event;

/// A hold or wait not yet closed.
#[derive(Debug)]
struct Open {
    index: usize,
    /// Re-entrant acquisitions not yet released (holds only).
    count: u32,
}

/// Builds the timeline part of a [`TracePicture`](crate::offline::picture::TracePicture) from
/// events.
#[derive(Debug, Default)]
pub(crate) struct TimelineRecorder {
    pub(crate) threads: Vec<ThreadId>,
    thread_index: FxHashMap<ThreadId, usize>,
    pub(crate) locks: Vec<LockId>,
    lock_index: FxHashMap<LockId, usize>,
    pub(crate) holds: Vec<Hold>,
    pub(crate) waits: Vec<BlockedWait>,
    open_holds: FxHashMap<(usize, usize), Open>,
    /// Each thread's wait in progress (a thread blocks on one thing at a time).
    open_waits: FxHashMap<usize, usize>,
    condvar_names: FxHashMap<CondvarId, Arc<str>>,
    /// The timestamp of the next event, as the reader saw it.
    pub(crate) next_ts: Option<u64>,
    /// Whether every lock event so far had a timestamp.
    pub(crate) all_timed: bool,
    pub(crate) timed_events: u64,
    pub(crate) last: Moment,
}

impl TimelineRecorder {
    pub(crate) fn new() -> Self {
        TimelineRecorder {
            all_timed: true,
            ..TimelineRecorder::default()
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
            && let Some(&w) = self.open_waits.get(&t)
        {
            // A blocked thread does nothing else: an event of its own other than the wait's
            // end (its request or acquisition of that lock) means it gave up waiting.
            let lock = self.waits[w].lock;
            let own_lock = |id: &LockId| self.lock_index.get(id) == Some(&lock);
            let goes_on = match event {
                Event::Request { lock: l, .. } | Event::Acquire { lock: l, .. } => own_lock(l),
                _ => false,
            };
            if !goes_on {
                self.open_waits.remove(&t);
                self.waits[w].end = Some(now);
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
                self.open_waits.insert(t, self.waits.len());
                self.waits.push(BlockedWait {
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
                if let Some(&w) = self.open_waits.get(&t)
                    && self.waits[w].lock == l
                {
                    self.open_waits.remove(&t);
                    if w + 1 == self.waits.len() && self.waits[w].start.event + 1 == number {
                        // Nothing happened between the request and the acquisition: the
                        // thread did not wait (STD traces write a request before every
                        // acquisition).
                        self.waits.pop();
                    } else {
                        self.waits[w].end = Some(now);
                        self.waits[w].acquired = true;
                    }
                }
                if let Some(open) = self.open_holds.get_mut(&(t, l)) {
                    // A change of mode (an upgrade, a downgrade) goes on with the same hold.
                    if !flavour.changes_mode() {
                        open.count += 1;
                    }
                    return;
                }
                self.open_holds.insert(
                    (t, l),
                    Open {
                        index: self.holds.len(),
                        count: 1,
                    },
                );
                self.holds.push(Hold {
                    thread: t,
                    lock: l,
                    mode: *mode,
                    try_lock: *try_lock,
                    site: site.clone(),
                    start: now,
                    end: None,
                });
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
                        .min_by_key(|(_, open)| open.index)
                        .map(|(&key, _)| key)
                } else {
                    None // a release of a lock not held: misuse, the replay reports it
                };
                if let Some(key) = key {
                    let open = self.open_holds.get_mut(&key).expect("an open hold");
                    open.count -= 1;
                    if open.count == 0 {
                        let index = open.index;
                        self.open_holds.remove(&key);
                        self.holds[index].end = Some(now);
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
                    self.holds[open.index].end = Some(now);
                }
                let name = self
                    .condvar_names
                    .get(condvar)
                    .map_or_else(|| condvar.to_string(), ToString::to_string);
                self.open_waits.insert(t, self.waits.len());
                self.waits.push(BlockedWait {
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
        let mut recorder = TimelineRecorder::new();
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
        assert_eq!(recorder.holds.len(), 1);
        assert_eq!(recorder.holds[0].end.map(|m| m.event), Some(4));
    }

    #[test]
    fn timestamps_are_the_clock_only_when_every_lock_event_has_one() {
        let mut recorder = TimelineRecorder::new();
        let acquire = acquire_one();
        recorder.next_ts = Some(500);
        recorder.event(&acquire, 1, |_| LockKind::Mutex);
        assert_eq!(recorder.clock(), Clock::Nanoseconds);
        assert_eq!(recorder.holds[0].start.ts_ns, Some(500));
        recorder.event(&acquire, 2, |_| LockKind::Mutex);
        assert_eq!(recorder.clock(), Clock::Events, "the second had none");
    }
}
