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
//!
//! Blocks are kept as bytes and decoded one record at a time as the merge reaches them: memory
//! is the undecoded bytes (a few per event), and a thread's run of events is emitted in one go
//! while nothing holds it back.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::cursor::{BlockCursor, BlockError};
use crate::site::Site;
use crate::trace::Event;
use crate::trace::format::block::Recent;

/// A shared object whose operations are numbered: a lock, condition variable, tracked variable,
/// or a thread's life (1: spawned, 2: ended). Packed as kind (2 bits) and id (62 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key(u64);

impl Key {
    const SHIFT: u32 = 62;
    const ID: u64 = !(3 << Self::SHIFT);

    pub(crate) const fn lock(id: u64) -> Key {
        Key(id & Self::ID)
    }

    pub(crate) const fn condvar(id: u64) -> Key {
        Key(id & Self::ID | 1 << Self::SHIFT)
    }

    pub(crate) const fn var(id: u64) -> Key {
        Key(id & Self::ID | 2 << Self::SHIFT)
    }

    pub(crate) const fn thread(id: u64) -> Key {
        Key(id & Self::ID | 3 << Self::SHIFT)
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

/// A decoded thread record: an event, or a mark that orders the stream but is no event.
#[derive(Debug)]
pub(crate) enum Item {
    Event(Event),
    Mark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamState {
    /// Nothing to emit, and in no list.
    Idle,
    /// In the work list (or the one being emitted from).
    Work,
    /// Its head waits for an object, in that object's list.
    Waiting,
}

/// The undecoded rest of one block.
#[derive(Debug)]
struct Block {
    bytes: Vec<u8>,
    /// The next record's place in `bytes`.
    at: usize,
    /// The records not decoded yet.
    records: u64,
    /// The file offset of `bytes[0]`, for errors.
    offset: u64,
    /// Its records neither use nor change the thread's recent locks.
    detached: bool,
}

/// One thread's events.
#[derive(Debug)]
struct Stream {
    tid: u64,
    blocks: VecDeque<Block>,
    /// The next record, decoded, while it waits for an object.
    head: Option<(Item, Order)>,
    state: StreamState,
    /// The locks the thread operated on last, for its near records.
    recent: Recent,
}

impl Stream {
    /// The next record: the one held back, else the next one decoded; `None` when the stream
    /// has no more. Buffers of finished blocks go to `spare`.
    #[inline]
    fn next_record(
        &mut self,
        sites: &[Site],
        spare: &mut Vec<Vec<u8>>,
    ) -> Result<Option<(Item, Order)>, BlockError> {
        if let Some(head) = self.head.take() {
            return Ok(Some(head));
        }
        loop {
            let Some(block) = self.blocks.front_mut() else {
                return Ok(None);
            };
            if block.records == 0 {
                let left = block.bytes.len() - block.at;
                let offset = block.offset + block.at as u64;
                let done = self.blocks.pop_front().expect("the front block");
                if spare.len() < SPARE_BLOCKS {
                    spare.push(done.bytes);
                }
                if left > 0 {
                    return Err(BlockError {
                        offset,
                        expected: "the end of the block after its records".into(),
                        found: format!("{left} more bytes"),
                    });
                }
                continue;
            }
            block.records -= 1;
            let mut cursor = BlockCursor {
                bytes: &block.bytes,
                at: block.at,
                offset: block.offset,
                sites,
                recent: (!block.detached).then_some(&mut self.recent),
            };
            let decoded = cursor.thread_record(self.tid);
            block.at = cursor.at;
            return match decoded {
                Ok(record) => Ok(Some(record)),
                Err(error) => {
                    self.blocks.clear();
                    Err(error)
                }
            };
        }
    }
}

/// How many buffers of finished blocks are kept for new ones: a large block's buffer would
/// otherwise be mapped and faulted in afresh each time.
const SPARE_BLOCKS: usize = 4;

/// The number of each object's next operation (0 for an object not seen yet). Recorders number
/// their locks from 1 up, so the locks of most traces are counted in a table by id: the merge
/// looks one up per event.
#[derive(Debug, Default)]
struct Counters {
    /// By [`Key`] for the locks below [`Counters::DENSE`].
    dense: Vec<u64>,
    /// The others.
    sparse: FxHashMap<Key, u64>,
}

impl Counters {
    /// Lock ids counted in `dense`: 512 KiB at most.
    const DENSE: u64 = 1 << 16;

    #[inline]
    fn at(&self, key: Key) -> u64 {
        match self.dense.get(key.0 as usize) {
            Some(&at) if key.0 < Self::DENSE => at,
            _ => self.sparse.get(&key).copied().unwrap_or(0),
        }
    }

    #[inline]
    fn at_mut(&mut self, key: Key) -> &mut u64 {
        if key.0 >= Self::DENSE {
            return self.sparse.entry(key).or_insert(0);
        }
        let slot = key.0 as usize;
        if slot >= self.dense.len() {
            self.dense.resize(slot + 1, 0);
        }
        &mut self.dense[slot]
    }
}

/// Per-thread streams of events, emitted in an order that respects every stream and every
/// object's numbering.
#[derive(Debug, Default)]
pub(crate) struct Merge {
    streams: Vec<Stream>,
    /// Stream number of each thread id.
    stream_of: FxHashMap<u64, usize>,
    /// How far each object got: the number of its next operation.
    next: Counters,
    /// The streams whose head waits for an object, by object.
    waiting: FxHashMap<Key, Vec<usize>>,
    /// The streams that may be able to go on.
    work: Vec<usize>,
    /// The stream being emitted from: a thread's run of events goes out in one go.
    current: Option<usize>,
    /// Records pushed and not emitted yet.
    pending: u64,
    /// The input ended: what is left is emitted in stream order, whatever it waits for.
    forcing: bool,
    /// Events emitted by force.
    forced: u64,
    /// Buffers of finished blocks, for the next blocks read.
    spare: Vec<Vec<u8>>,
}

impl Merge {
    /// Appends a block of `records` records of thread `tid`, in that thread's order; `offset`
    /// is where its bytes start in the file.
    pub(crate) fn push_block(
        &mut self,
        tid: u64,
        bytes: Vec<u8>,
        records: u64,
        offset: u64,
        detached: bool,
    ) {
        let streams = &mut self.streams;
        let stream = *self.stream_of.entry(tid).or_insert_with(|| {
            streams.push(Stream {
                tid,
                blocks: VecDeque::new(),
                head: None,
                state: StreamState::Idle,
                recent: Recent::EMPTY,
            });
            streams.len() - 1
        });
        let target = &mut self.streams[stream];
        target.blocks.push_back(Block {
            bytes,
            at: 0,
            records,
            offset,
            detached,
        });
        self.pending += records;
        if target.state == StreamState::Idle {
            target.state = StreamState::Work;
            self.work.push(stream);
        }
    }

    /// An empty buffer for the next block's bytes.
    pub(crate) fn block_buffer(&mut self) -> Vec<u8> {
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer
    }

    /// The records pushed and not emitted yet.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> u64 {
        self.pending
    }

    /// At the end of the input: from now on whatever is left is emitted in stream order,
    /// though its predecessors never came (a trace cut off by a kill).
    pub(crate) fn finish(&mut self) {
        self.forcing = true;
        self.waiting.clear();
        self.work.clear();
        self.current = None;
        for (index, stream) in self.streams.iter_mut().enumerate() {
            stream.state = StreamState::Work;
            self.work.push(index);
        }
    }

    /// How many events were emitted by force since the last call.
    pub(crate) fn take_forced(&mut self) -> u64 {
        std::mem::take(&mut self.forced)
    }

    /// The next event in replay order, if one can be emitted now; `sites` are the trace's
    /// sites so far.
    pub(crate) fn next(&mut self, sites: &[Site]) -> Option<Result<Event, BlockError>> {
        loop {
            let index = match self.current {
                Some(index) => index,
                None => {
                    let index = self.work.pop()?;
                    self.current = Some(index);
                    index
                }
            };
            let stream = &mut self.streams[index];
            // Held in `head` only when it must wait: the common record goes out as decoded.
            let (item, order) = match stream.next_record(sites, &mut self.spare) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    stream.state = StreamState::Idle;
                    self.current = None;
                    continue;
                }
                Err(error) => {
                    stream.state = StreamState::Idle;
                    self.current = None;
                    return Some(Err(error));
                }
            };
            if let Some(key) = self.go(order) {
                let stream = &mut self.streams[index];
                stream.head = Some((item, order));
                stream.state = StreamState::Waiting;
                self.waiting.entry(key).or_default().push(index);
                self.current = None;
                continue;
            }
            self.pending -= 1;
            if let Item::Event(event) = item {
                if self.forcing {
                    self.forced += 1;
                }
                return Some(Ok(event));
            }
        }
    }

    /// Lets an event with `order` go, counting it on its objects; or returns the object it
    /// waits for (never when forcing).
    #[inline]
    fn go(&mut self, order: Order) -> Option<Key> {
        match order {
            Order::Free => None,
            Order::Seq(key, seq) => self.take(key, seq),
            Order::Seq2(a, sa, b, sb) => {
                if !self.forcing {
                    if self.at(a) < sa {
                        return Some(a);
                    }
                    if self.at(b) < sb {
                        return Some(b);
                    }
                }
                self.advance(a, sa + 1);
                self.advance(b, sb + 1);
                None
            }
            Order::After(key, n) => (!self.forcing && self.at(key) < n).then_some(key),
            Order::Provide(key, n) => {
                self.advance(key, n);
                None
            }
        }
    }

    /// Operation `seq` on `key`: counted when it is next (one look-up), else its blocker.
    #[inline]
    fn take(&mut self, key: Key, seq: u64) -> Option<Key> {
        let at = self.next.at_mut(key);
        if *at < seq && !self.forcing {
            return Some(key);
        }
        if *at <= seq {
            *at = seq + 1;
            self.wake(key);
        }
        None
    }

    fn at(&self, key: Key) -> u64 {
        self.next.at(key)
    }

    fn advance(&mut self, key: Key, to: u64) {
        let at = self.next.at_mut(key);
        if *at < to {
            *at = to;
            self.wake(key);
        }
    }

    /// Puts the streams waiting for `key` back to work.
    #[inline]
    fn wake(&mut self, key: Key) {
        if self.waiting.is_empty() {
            return;
        }
        if let Some(streams) = self.waiting.remove(&key) {
            for &stream in &streams {
                self.streams[stream].state = StreamState::Work;
            }
            self.work.extend(streams);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Flavour, Mode};
    use crate::trace::format::block::{self, How, MAX_RECORD};

    /// A plain exclusive acquisition.
    const PLAIN: How = How {
        mode: Mode::Exclusive,
        try_lock: false,
        flavour: Flavour::Plain,
    };

    /// Encodes one record, returning its length.
    type Encode = dyn Fn(&mut [u8; MAX_RECORD]) -> usize;

    /// A block of records, each encoded by one of `records`.
    fn block(records: &[&Encode]) -> (Vec<u8>, u64) {
        let mut bytes = Vec::new();
        for encode in records {
            let mut record = [0; MAX_RECORD];
            let len = encode(&mut record);
            bytes.extend_from_slice(&record[..len]);
        }
        (bytes, records.len() as u64)
    }

    fn acquire(lock: u64, seq: u64) -> impl Fn(&mut [u8; MAX_RECORD]) -> usize {
        move |out| block::acquire(out, None, lock, seq, 0, PLAIN)
    }

    fn release(lock: u64, seq: u64) -> impl Fn(&mut [u8; MAX_RECORD]) -> usize {
        move |out| block::release(out, None, lock, seq, Mode::Exclusive)
    }

    fn push(merge: &mut Merge, tid: u64, records: &[&Encode]) {
        let (bytes, count) = block(records);
        merge.push_block(tid, bytes, count, 0, false);
    }

    fn drain(merge: &mut Merge) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| merge.next(&[]))
            .map(|event| {
                let event = event.unwrap();
                let kind = match event {
                    Event::Acquire { .. } => "acq",
                    Event::Release { .. } => "rel",
                    Event::Request { .. } => "req",
                    Event::Spawn { .. } => "spawn",
                    Event::Join { .. } => "join",
                    _ => "other",
                };
                (event.thread().map_or(0, |t| t.0), kind)
            })
            .collect()
    }

    #[test]
    fn a_later_block_of_one_thread_waits_for_the_release_another_thread_made_first() {
        let mut merge = Merge::default();
        // Thread 2's block arrives first, but it took the lock second.
        push(&mut merge, 2, &[&acquire(7, 2), &release(7, 3)]);
        assert_eq!(drain(&mut merge), []);
        push(&mut merge, 1, &[&acquire(7, 0), &release(7, 1)]);
        assert_eq!(
            drain(&mut merge),
            [(1, "acq"), (1, "rel"), (2, "acq"), (2, "rel")]
        );
        assert_eq!(merge.pending(), 0);
    }

    #[test]
    fn a_request_goes_right_after_its_threads_previous_event() {
        let mut merge = Merge::default();
        push(&mut merge, 1, &[&acquire(1, 0)]);
        let request =
            |out: &mut [u8; MAX_RECORD]| block::request(out, 1, 0, Mode::Exclusive, Flavour::Plain);
        push(&mut merge, 2, &[&request, &acquire(1, 2)]);
        // The request needs nothing from thread 1; the acquisition waits for its release.
        let mut first = drain(&mut merge);
        first.sort_unstable();
        assert_eq!(first, [(1, "acq"), (2, "req")]);
        push(&mut merge, 1, &[&release(1, 1)]);
        assert_eq!(drain(&mut merge), [(1, "rel"), (2, "acq")]);
    }

    #[test]
    fn a_child_starts_after_its_spawn_and_its_join_waits_for_its_end() {
        let mut merge = Merge::default();
        push(
            &mut merge,
            5,
            &[&block::start, &acquire(1, 0), &block::exit],
        );
        let join = |out: &mut [u8; MAX_RECORD]| block::join(out, 5, 0, true);
        push(&mut merge, 1, &[&join]);
        assert_eq!(drain(&mut merge), []);
        let spawn = |out: &mut [u8; MAX_RECORD]| block::spawn(out, 5, 0);
        // Thread 1's spawn comes in a later block than its join: impossible in a real trace,
        // but the stream order puts the join first, so it stays stuck...
        push(&mut merge, 1, &[&spawn]);
        assert_eq!(drain(&mut merge), []);
        // ...until the end, where whatever waits is emitted anyway.
        merge.finish();
        assert_eq!(drain(&mut merge).len(), 3);
        assert_eq!(merge.take_forced(), 3);
        assert_eq!(merge.pending(), 0);
    }

    #[test]
    fn a_spawned_thread_goes_after_its_spawn_and_the_join_after_its_exit() {
        let mut merge = Merge::default();
        push(
            &mut merge,
            5,
            &[&block::start, &acquire(1, 0), &block::exit],
        );
        let spawn = |out: &mut [u8; MAX_RECORD]| block::spawn(out, 5, 0);
        let join = |out: &mut [u8; MAX_RECORD]| block::join(out, 5, 0, true);
        push(&mut merge, 1, &[&spawn, &join]);
        assert_eq!(drain(&mut merge), [(1, "spawn"), (5, "acq"), (1, "join")]);
        assert_eq!(merge.take_forced(), 0);
    }

    #[test]
    fn thousands_of_threads_waiting_on_one_lock_are_emitted_in_lock_order() {
        let mut merge = Merge::default();
        let n = 5_000_u64;
        // Blocks arrive newest first: every thread waits for the one before it.
        for t in (0..n).rev() {
            push(
                &mut merge,
                t + 1,
                &[&acquire(9, 2 * t), &release(9, 2 * t + 1)],
            );
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

    #[test]
    fn near_records_are_read_back_across_blocks_and_detached_blocks_leave_them_alone() {
        let mut recent = Recent::EMPTY;
        let mut op = |acquire: bool, lock: u64, seq: u64| {
            let mut out = [0; MAX_RECORD];
            let len = if acquire {
                block::acquire(&mut out, Some(&mut recent), lock, seq, 0, PLAIN)
            } else {
                block::release(&mut out, Some(&mut recent), lock, seq, Mode::Exclusive)
            };
            out[..len].to_vec()
        };
        let first: Vec<u8> = [
            op(true, 1, 0),
            op(true, 2, 0),
            op(false, 2, 1),
            op(false, 1, 1),
        ]
        .concat();
        let second: Vec<u8> = [op(true, 1, 2), op(false, 1, 3)].concat();
        assert!(second.len() == 3 + 2, "both near: {second:?}");
        let mut merge = Merge::default();
        merge.push_block(1, first, 4, 0, false);
        // A detached block in between, with a full record of another lock.
        let (detached, count) = block(&[&acquire(3, 0)]);
        merge.push_block(1, detached, count, 0, true);
        merge.push_block(1, second, 2, 0, false);
        let locks: Vec<(u64, &str)> = std::iter::from_fn(|| merge.next(&[]))
            .map(|e| match e.unwrap() {
                Event::Acquire { lock, .. } => (lock.0, "acq"),
                Event::Release { lock, .. } => (lock.0, "rel"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            locks,
            [
                (1, "acq"),
                (2, "acq"),
                (2, "rel"),
                (1, "rel"),
                (3, "acq"),
                (1, "acq"),
                (1, "rel")
            ]
        );
    }

    #[test]
    fn a_near_record_without_recent_locks_is_an_error() {
        let mut recent = Recent::EMPTY;
        let mut out = [0; MAX_RECORD];
        block::acquire(&mut out, Some(&mut recent), 1, 0, 0, PLAIN);
        let len = block::release(&mut out, Some(&mut recent), 1, 1, Mode::Exclusive);
        let mut merge = Merge::default();
        merge.push_block(1, out[..len].to_vec(), 1, 40, false);
        let error = merge.next(&[]).unwrap().unwrap_err();
        assert_eq!(error.offset, 40);
        assert!(error.expected.contains("recent locks"), "{error:?}");
    }

    #[test]
    fn a_block_with_bytes_after_its_records_is_an_error() {
        let mut merge = Merge::default();
        let (mut bytes, records) = block(&[&acquire(1, 0)]);
        bytes.push(0);
        merge.push_block(1, bytes, records, 100, false);
        assert!(matches!(merge.next(&[]), Some(Ok(_))));
        let error = merge.next(&[]).unwrap().unwrap_err();
        assert_eq!(error.offset, 104);
    }
}
