//! Restoring one replay order from the per-thread blocks of a recorded compact trace.
//!
//! The recorder lets each thread write its events into a buffer of its own, so the hot path
//! shares nothing with other threads, and the trace holds each thread's events in that thread's
//! order, in blocks. What the replay needs besides each thread's order is the order of the
//! operations on each shared object: a lock's release before the acquisition it enabled, a
//! spawn before the child's events, a thread's last event before its join. Every such operation
//! carries a number taken from a counter in the object at the moment it happened (for a lock:
//! while holding it), and [`Merge`] emits each object's operations in the order of their
//! numbers, interleaving the threads' streams accordingly. Any interleaving that respects the
//! streams and the numbers is a valid replay order: the order that happened, up to swapping
//! operations that touched no common object.
//!
//! A lock request is not numbered (the requester does not hold the lock, and numbering it would
//! cost every holder an atomic read-modify-write): it goes as early as its thread's order lets
//! it, right after the thread's previous event. That can only make a wait-for cycle appear
//! where one thread of it never gets its lock: each acquisition of such a cycle would otherwise
//! come after the next one's, through the holder's release. So the replay still reports the
//! deadlocks the threads were really stuck in (or unwound from), and no others.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::trace::Event;

/// A shared object whose operations are numbered: a lock, condition variable, tracked variable,
/// or a thread's life (1: spawned, 2: ended). Packed as kind (2 bits) and id (62 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key(u64);

impl Key {
    const SHIFT: u32 = 62;

    pub(crate) const fn lock(id: u64) -> Key {
        Key(id & !(3 << Self::SHIFT))
    }

    pub(crate) const fn condvar(id: u64) -> Key {
        Key(id & !(3 << Self::SHIFT) | 1 << Self::SHIFT)
    }

    pub(crate) const fn var(id: u64) -> Key {
        Key(id & !(3 << Self::SHIFT) | 2 << Self::SHIFT)
    }

    pub(crate) const fn thread(id: u64) -> Key {
        Key(id & !(3 << Self::SHIFT) | 3 << Self::SHIFT)
    }
}

/// What orders an event against other threads' events, beyond its own thread's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Nothing more.
    Free,
    /// Operation number `.1` on `.0`: after the one numbered `.1 - 1`.
    Seq(Key, u64),
    /// Two at once: a condition-variable wait is an operation on its lock and on itself.
    Seq2(Key, u64, Key, u64),
    /// Once `.0` reached `.1` (a spawned thread's first event, after its spawn; a join, after
    /// the joined thread's end).
    After(Key, u64),
    /// `.0` reaches `.1` (a spawn; a thread's end).
    Provide(Key, u64),
}

/// Marks in a thread's stream that order it but are no events: dropped when emitted.
#[derive(Debug)]
pub(crate) enum Item {
    Event(Event),
    Mark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamState {
    Idle,
    Work,
    Waiting,
}

/// Per-thread streams of events, emitted in an order that respects every stream and every
/// object's numbering.
#[derive(Debug, Default)]
pub(crate) struct Merge {
    streams: Vec<VecDeque<(Item, Order)>>,
    /// Where each stream is: idle (empty), in the work list, or waiting for an object.
    state: Vec<StreamState>,
    /// Stream number of each thread id.
    stream_of: FxHashMap<u64, usize>,
    /// How far each object got: the number of its next operation.
    next: FxHashMap<Key, u64>,
    /// The streams whose first event waits for an object, by object.
    waiting: FxHashMap<Key, Vec<usize>>,
    /// The streams that may be able to go on.
    work: Vec<usize>,
    /// Events ready, in emission order.
    ready: VecDeque<Event>,
    pending: usize,
}

impl Merge {
    /// Appends `item` to the stream of thread `tid`, in that thread's order.
    pub(crate) fn push(&mut self, tid: u64, item: Item, order: Order) {
        let (streams, state) = (&mut self.streams, &mut self.state);
        let stream = *self.stream_of.entry(tid).or_insert_with(|| {
            streams.push(VecDeque::new());
            state.push(StreamState::Idle);
            streams.len() - 1
        });
        self.streams[stream].push_back((item, order));
        self.pending += 1;
        if self.state[stream] == StreamState::Idle {
            self.state[stream] = StreamState::Work;
            self.work.push(stream);
        }
    }

    /// An event that needs no place among the threads' (a declaration, a finding): it comes
    /// after everything emitted so far.
    pub(crate) fn push_free(&mut self, event: Event) {
        self.run();
        self.ready.push_back(event);
    }

    /// The next event in replay order, if one can be emitted now.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        if self.ready.is_empty() {
            self.run();
        }
        self.ready.pop_front()
    }

    /// The events pushed and not emitted yet.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// At the end of the input: emits whatever still waits, in stream order, though its
    /// predecessors never came (a trace cut off by a kill). Returns how many that were.
    pub(crate) fn finish(&mut self) -> usize {
        self.run();
        let mut forced = 0;
        for stream in 0..self.streams.len() {
            while let Some((item, _)) = self.streams[stream].pop_front() {
                self.pending -= 1;
                if let Item::Event(event) = item {
                    forced += 1;
                    self.ready.push_back(event);
                }
            }
        }
        self.waiting.clear();
        self.work.clear();
        self.state.fill(StreamState::Idle);
        forced
    }

    fn at(&self, key: Key) -> u64 {
        self.next.get(&key).copied().unwrap_or(0)
    }

    /// The object `order` waits for, if it cannot be emitted yet.
    fn blocker(&self, order: Order) -> Option<Key> {
        match order {
            Order::Free | Order::Provide(..) => None,
            Order::Seq(key, seq) => (self.at(key) < seq).then_some(key),
            Order::Seq2(a, sa, b, sb) => {
                if self.at(a) < sa {
                    Some(a)
                } else {
                    (self.at(b) < sb).then_some(b)
                }
            }
            Order::After(key, n) => (self.at(key) < n).then_some(key),
        }
    }

    fn advance(&mut self, key: Key, to: u64) {
        let at = self.next.entry(key).or_insert(0);
        if *at >= to {
            return;
        }
        *at = to;
        if let Some(streams) = self.waiting.remove(&key) {
            for &stream in &streams {
                self.state[stream] = StreamState::Work;
            }
            self.work.extend(streams);
        }
    }

    /// Emits from every stream that can go on until none can.
    fn run(&mut self) {
        while let Some(stream) = self.work.pop() {
            self.drain_stream(stream);
        }
    }

    fn drain_stream(&mut self, stream: usize) {
        loop {
            let Some(&(_, order)) = self.streams[stream].front() else {
                self.state[stream] = StreamState::Idle;
                return;
            };
            if let Some(key) = self.blocker(order) {
                self.state[stream] = StreamState::Waiting;
                self.waiting.entry(key).or_default().push(stream);
                return;
            }
            let (item, order) = self.streams[stream].pop_front().expect("a front item");
            self.pending -= 1;
            match order {
                Order::Seq(key, seq) => self.advance(key, seq + 1),
                Order::Seq2(a, sa, b, sb) => {
                    self.advance(a, sa + 1);
                    self.advance(b, sb + 1);
                }
                Order::Provide(key, n) => self.advance(key, n),
                Order::Free | Order::After(..) => {}
            }
            if let Item::Event(event) = item {
                self.ready.push_back(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{LockId, Mode, ThreadId};

    fn acquire(tid: u64, lock: u64) -> Item {
        Item::Event(Event::Acquire {
            tid: ThreadId(tid),
            lock: LockId(lock),
            mode: Mode::Exclusive,
            try_lock: false,
            site: None,
        })
    }

    fn release(tid: u64, lock: u64) -> Item {
        Item::Event(Event::Release {
            tid: ThreadId(tid),
            lock: LockId(lock),
            mode: Mode::Exclusive,
            site: None,
        })
    }

    fn drain(merge: &mut Merge) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| merge.pop())
            .map(|event| {
                let kind = match event {
                    Event::Acquire { .. } => "acq",
                    Event::Release { .. } => "rel",
                    Event::Request { .. } => "req",
                    _ => "other",
                };
                (event.thread().map_or(0, |t| t.0), kind)
            })
            .collect()
    }

    #[test]
    fn a_later_block_of_one_thread_waits_for_the_release_another_thread_made_first() {
        let mut merge = Merge::default();
        let l = Key::lock(7);
        // Thread 2's block arrives first, but it took the lock second.
        merge.push(2, acquire(2, 7), Order::Seq(l, 2));
        merge.push(2, release(2, 7), Order::Seq(l, 3));
        assert_eq!(merge.pop(), None);
        merge.push(1, acquire(1, 7), Order::Seq(l, 0));
        merge.push(1, release(1, 7), Order::Seq(l, 1));
        assert_eq!(
            drain(&mut merge),
            [(1, "acq"), (1, "rel"), (2, "acq"), (2, "rel")]
        );
        assert_eq!(merge.pending(), 0);
    }

    #[test]
    fn a_request_goes_right_after_its_threads_previous_event() {
        let mut merge = Merge::default();
        let l = Key::lock(1);
        merge.push(1, acquire(1, 1), Order::Seq(l, 0));
        let request = Item::Event(Event::Request {
            tid: ThreadId(2),
            lock: LockId(1),
            mode: Mode::Exclusive,
            site: None,
        });
        merge.push(2, request, Order::Free);
        merge.push(2, acquire(2, 1), Order::Seq(l, 2));
        // The request needs nothing from thread 1; the acquisition waits for its release.
        let mut first = drain(&mut merge);
        first.sort_unstable();
        assert_eq!(first, [(1, "acq"), (2, "req")]);
        merge.push(1, release(1, 1), Order::Seq(l, 1));
        assert_eq!(drain(&mut merge), [(1, "rel"), (2, "acq")]);
    }

    #[test]
    fn a_child_starts_after_its_spawn_and_its_join_waits_for_its_end() {
        let mut merge = Merge::default();
        let child = Key::thread(5);
        merge.push(5, Item::Mark, Order::After(child, 1));
        merge.push(5, acquire(5, 1), Order::Seq(Key::lock(1), 0));
        merge.push(5, Item::Mark, Order::Provide(child, 2));
        let join = Item::Event(Event::Join {
            tid: ThreadId(1),
            child: ThreadId(5),
            site: None,
        });
        merge.push(1, join, Order::After(child, 2));
        assert_eq!(merge.pop(), None);
        let spawn = Item::Event(Event::Spawn {
            tid: ThreadId(1),
            child: ThreadId(5),
            site: None,
        });
        // Thread 1's spawn comes in a later block than its join: impossible in a real trace,
        // but the stream order puts the join first, so it stays stuck...
        merge.push(1, spawn, Order::Provide(child, 1));
        assert_eq!(merge.pop(), None);
        // ...until the end, where whatever waits is emitted anyway.
        assert_eq!(merge.finish(), 3);
        assert_eq!(merge.pending(), 0);
    }

    #[test]
    fn thousands_of_threads_waiting_on_one_lock_are_emitted_in_lock_order() {
        let mut merge = Merge::default();
        let l = Key::lock(9);
        let n = 5_000_u64;
        // Blocks arrive newest first: every thread waits for the one before it.
        for t in (0..n).rev() {
            merge.push(t + 1, acquire(t + 1, 9), Order::Seq(l, 2 * t));
            merge.push(t + 1, release(t + 1, 9), Order::Seq(l, 2 * t + 1));
        }
        let order = drain(&mut merge);
        assert_eq!(order.len(), 2 * n as usize);
        assert!(
            order
                .chunks(2)
                .enumerate()
                .all(|(i, pair)| pair == [(i as u64 + 1, "acq"), (i as u64 + 1, "rel")])
        );
    }
}
