//! One thread's buffer of encoded events: a single-producer, single-consumer byte ring.
//!
//! The thread appends records and publishes how far it got with one release store; the writer
//! copies the published bytes out and publishes how far it read. Neither side takes a lock, and
//! the thread touches no cache line another thread writes, except to learn that the writer read
//! on (once per buffer's worth of events).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::ids::ThreadId;
use crate::trace::format::block::{MAX_RECORD, RecordBuf};

/// Bits of the published position that count bytes; the rest count records.
const BYTE_BITS: u32 = 40;
const BYTE_MASK: u64 = (1 << BYTE_BITS) - 1;
const RECORD_MASK: u64 = (1 << (64 - BYTE_BITS)) - 1;

/// A ring of `capacity` bytes (a power of two) written by one thread.
pub(super) struct Ring {
    pub(super) tid: ThreadId,
    bytes: Box<[UnsafeCell<u8>]>,
    /// Written by the thread: the bytes (low 40 bits) and records (high 24 bits) it wrote,
    /// both counted from the start and wrapping.
    published: AtomicU64,
    /// Written by the writer: the bytes it copied out, counted from the start.
    consumed: AtomicU64,
    /// The thread will write no more (it ended, or moved to a bigger ring).
    retired: AtomicBool,
}

// SAFETY: the bytes are shared between the one producer and the one consumer under the
// protocol of `published` and `consumed`: the producer writes only bytes the consumer has
// released (at or after `published`, before `consumed + capacity`), the consumer reads only
// bytes the producer has published (from `consumed` to `published`), and each side's release
// store is read with acquire by the other before it touches those bytes.
unsafe impl Sync for Ring {}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("tid", &self.tid)
            .field("capacity", &self.bytes.len())
            .field("published", &self.published.load(Ordering::Relaxed))
            .field("consumed", &self.consumed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Ring {
    pub(super) fn new(tid: ThreadId, capacity: usize) -> Ring {
        assert!(capacity.is_power_of_two());
        Ring {
            tid,
            bytes: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
            published: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.bytes.len()
    }

    fn base(&self) -> *mut u8 {
        // `UnsafeCell<u8>` has the layout of `u8`, and the cells give the right to write.
        UnsafeCell::raw_get(self.bytes.as_ptr())
    }

    pub(super) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    pub(super) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
}

/// The producer's side of a ring: the positions it keeps to itself.
#[derive(Debug)]
pub(super) struct Producer {
    /// Bytes and records written, from the start.
    head: u64,
    records: u64,
    /// How far it may write before it must ask whether the writer read on.
    limit: u64,
}

impl Producer {
    /// A producer of no ring yet.
    pub(super) const EMPTY: Producer = Producer {
        head: 0,
        records: 0,
        limit: 0,
    };

    /// The bytes written so far.
    #[inline]
    pub(super) fn written(&self) -> u64 {
        self.head
    }

    pub(super) fn new(ring: &Ring) -> Producer {
        Producer {
            head: 0,
            records: 0,
            limit: ring.capacity() as u64,
        }
    }

    /// Where the next record goes when the ring has room for the longest record there: the
    /// caller encodes into it and then [`publish`](Self::publish)es its length. `None` when the
    /// ring is near its end or the writer has not made room: the caller encodes elsewhere and
    /// [`push`](Self::push)es the record.
    ///
    /// It hands out a slot rather than taking the encoder as a closure: a closure defined in
    /// the recorder is one function for every kind of record, which the compiler kept out of
    /// line with the whole `match` over the kinds; the caller's own call of the encoder
    /// inlines and folds to its one kind (half the instructions per event).
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push); the slot is written by this producer only, before its
    /// `publish`.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // the ring's bytes are `UnsafeCell`s, this producer's own
    pub(super) unsafe fn slot<'r>(&mut self, ring: &'r Ring) -> Option<&'r mut RecordBuf> {
        let capacity = ring.capacity();
        let at = (self.head as usize) & (capacity - 1);
        let room = self.head + MAX_RECORD as u64 <= self.limit || {
            self.limit = ring.consumed.load(Ordering::Acquire) + capacity as u64;
            self.head + MAX_RECORD as u64 <= self.limit
        };
        if room && at + MAX_RECORD <= capacity {
            // SAFETY: `at..at + MAX_RECORD` is inside the ring and released by the consumer
            // (`head + MAX_RECORD <= consumed + capacity`), which reads none of it before the
            // release store in `publish`; only this producer writes it (the caller's promise).
            // `UnsafeCell<u8>` has the layout of `u8`.
            Some(unsafe { &mut *ring.base().add(at).cast::<RecordBuf>() })
        } else {
            None
        }
    }

    /// Publishes the record of `len` bytes written into the [`slot`](Self::slot).
    #[inline]
    pub(super) fn publish(&mut self, ring: &Ring, len: usize) {
        self.head += len as u64;
        self.records += 1;
        ring.published.store(
            (self.head & BYTE_MASK) | (self.records & RECORD_MASK) << BYTE_BITS,
            Ordering::Release,
        );
    }

    /// Appends one record to `ring`; `false`, writing nothing, when the writer has not made
    /// room for it yet.
    ///
    /// # Safety
    ///
    /// `ring` must be the ring this producer was made for, and only this producer may write
    /// into it.
    #[inline]
    pub(super) unsafe fn push(&mut self, ring: &Ring, record: &[u8]) -> bool {
        let len = record.len() as u64;
        if self.head + len > self.limit {
            self.limit = ring.consumed.load(Ordering::Acquire) + ring.capacity() as u64;
            if self.head + len > self.limit {
                return false;
            }
        }
        let capacity = ring.capacity();
        let at = (self.head as usize) & (capacity - 1);
        let first = record.len().min(capacity - at);
        // SAFETY: `at..at + first` and `0..record.len() - first` are inside the ring, and they
        // are bytes the consumer released (`head + len <= consumed + capacity`) and does not
        // read before the release store below publishes them; only this producer writes them
        // (the caller's promise).
        unsafe {
            std::ptr::copy_nonoverlapping(record.as_ptr(), ring.base().add(at), first);
            std::ptr::copy_nonoverlapping(
                record.as_ptr().add(first),
                ring.base(),
                record.len() - first,
            );
        }
        self.publish(ring, record.len());
        true
    }
}

/// The consumer's side of a ring: how far it read.
#[derive(Debug, Default)]
pub(super) struct Consumer {
    bytes: u64,
    records: u64,
}

impl Consumer {
    /// Appends what `ring` published since the last call to `out`, after what `header` writes
    /// given how many records and bytes that is (it is not called when there is nothing new).
    /// Returns the number of records and bytes.
    ///
    /// # Safety
    ///
    /// `ring` must be the ring this consumer was made for, and only this consumer may read it.
    pub(super) unsafe fn take(
        &mut self,
        ring: &Ring,
        out: &mut Vec<u8>,
        header: impl FnOnce(&mut Vec<u8>, u64, u64),
    ) -> (u64, u64) {
        let published = ring.published.load(Ordering::Acquire);
        let len = (published & BYTE_MASK).wrapping_sub(self.bytes) & BYTE_MASK;
        let records = (published >> BYTE_BITS).wrapping_sub(self.records) & RECORD_MASK;
        if len == 0 {
            return (0, 0);
        }
        header(out, records, len);
        let capacity = ring.capacity();
        let at = (self.bytes as usize) & (capacity - 1);
        let first = (len as usize).min(capacity - at);
        out.reserve(len as usize);
        // SAFETY: the bytes from `self.bytes` for `len` were published by the release store
        // read above (acquire) and the producer does not write them again before `consumed`
        // moves past them below; only this consumer reads them (the caller's promise).
        unsafe {
            let start = out.len();
            let dst = out.as_mut_ptr().add(start);
            std::ptr::copy_nonoverlapping(ring.base().add(at), dst, first);
            std::ptr::copy_nonoverlapping(ring.base(), dst.add(first), len as usize - first);
            out.set_len(start + len as usize);
        }
        self.bytes += len;
        self.records += records;
        ring.consumed.store(self.bytes, Ordering::Release);
        (records, len)
    }

    /// Whether everything the ring's producer ever published was taken.
    pub(super) fn caught_up(&self, ring: &Ring) -> bool {
        ring.published.load(Ordering::Acquire) & BYTE_MASK == self.bytes & BYTE_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_wrap_around_the_end_and_come_out_whole_and_in_order() {
        let ring = Ring::new(ThreadId(1), 16);
        let (mut producer, mut consumer) = (Producer::new(&ring), Consumer::default());
        let mut seen = Vec::new();
        for i in 0..100_u8 {
            let record = [i, i, i, i, i];
            // SAFETY: one producer and one consumer of this ring, on this thread.
            unsafe {
                if !producer.push(&ring, &record) {
                    let mut out = Vec::new();
                    consumer.take(&ring, &mut out, |_, _, _| {});
                    seen.extend(out);
                    assert!(producer.push(&ring, &record), "room after the take");
                }
            }
        }
        let mut out = Vec::new();
        // SAFETY: as above.
        let (records, bytes) = unsafe { consumer.take(&ring, &mut out, |_, _, _| {}) };
        assert!(records > 0 && bytes == records * 5);
        seen.extend(out);
        let expected: Vec<u8> = (0..100_u8).flat_map(|i| [i; 5]).collect();
        assert_eq!(seen, expected);
        assert!(consumer.caught_up(&ring));
    }

    #[test]
    fn a_full_ring_refuses_the_record() {
        let ring = Ring::new(ThreadId(1), 8);
        let mut producer = Producer::new(&ring);
        // SAFETY: the only producer.
        unsafe {
            assert!(producer.push(&ring, &[1; 6]));
            assert!(!producer.push(&ring, &[2; 3]));
            assert!(producer.push(&ring, &[3; 2]));
        }
    }

    #[test]
    fn a_consumer_on_another_thread_sees_every_byte() {
        let ring = std::sync::Arc::new(Ring::new(ThreadId(1), 64));
        let producer_ring = ring.clone();
        let total = 20_000_u32;
        let writer = std::thread::spawn(move || {
            let mut producer = Producer::new(&producer_ring);
            for i in 0..total {
                let record = i.to_le_bytes();
                // SAFETY: the only producer of this ring.
                while !unsafe { producer.push(&producer_ring, &record) } {
                    std::thread::yield_now();
                }
            }
            producer_ring.retire();
        });
        let mut consumer = Consumer::default();
        let mut out = Vec::new();
        loop {
            let retired = ring.is_retired();
            // SAFETY: the only consumer of this ring.
            unsafe { consumer.take(&ring, &mut out, |_, _, _| {}) };
            if retired && consumer.caught_up(&ring) {
                break;
            }
            std::thread::yield_now();
        }
        writer.join().unwrap();
        let values: Vec<u32> = out
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values, (0..total).collect::<Vec<_>>());
    }
}
