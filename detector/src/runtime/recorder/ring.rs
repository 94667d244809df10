//! One thread's buffer of raw events: a single-producer, single-consumer ring of fixed-size
//! slots.
//!
//! The thread writes slots and publishes how far it got with one release store; the writer
//! copies the published slots out and publishes how far it read. Neither side takes a lock, and
//! the thread touches no cache line another thread writes, except to learn that the writer read
//! on (once per ring's worth of events).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::ids::ThreadId;

/// A ring of `capacity` slots (a power of two) written by one thread.
pub(super) struct Ring<T> {
    pub(super) tid: ThreadId,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Written by the thread: the slots it wrote, counted from the start.
    published: AtomicU64,
    /// Written by the writer: the slots it copied out, counted from the start.
    consumed: AtomicU64,
    /// The thread will write no more (it ended, or moved to a bigger ring).
    retired: AtomicBool,
}

// SAFETY: the slots are shared between the one producer and the one consumer under the
// protocol of `published` and `consumed`: the producer writes only slots the consumer has
// released (at or after `published`, before `consumed + capacity`), the consumer reads only
// slots the producer has published (from `consumed` to `published`), and each side's release
// store is read with acquire by the other before it touches those slots. The slots hold `T`s
// handed from one thread to the other.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("tid", &self.tid)
            .field("capacity", &self.slots.len())
            .field("published", &self.published.load(Ordering::Relaxed))
            .field("consumed", &self.consumed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Copy> Ring<T> {
    pub(super) fn new(tid: ThreadId, capacity: usize) -> Ring<T> {
        assert!(capacity.is_power_of_two());
        Ring {
            tid,
            slots: (0..capacity)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            published: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The slot that position `at` (counted from the start) falls in.
    #[inline(always)]
    fn slot(&self, at: u64) -> *mut MaybeUninit<T> {
        let index = (at as usize) & (self.slots.len() - 1);
        // SAFETY: the capacity is a power of two (`new`), so the index is below it.
        unsafe { self.slots.get_unchecked(index) }.get()
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
    /// Slots written, from the start.
    head: u64,
    /// How far it may write before it must ask whether the writer read on.
    limit: u64,
}

impl Producer {
    /// A producer of no ring yet.
    pub(super) const EMPTY: Producer = Producer { head: 0, limit: 0 };

    /// The slots written so far.
    #[inline]
    pub(super) fn written(&self) -> u64 {
        self.head
    }

    pub(super) fn new<T: Copy>(ring: &Ring<T>) -> Producer {
        Producer {
            head: 0,
            limit: ring.capacity() as u64,
        }
    }

    /// Writes `value` into the next slot and publishes it: a store and a release store.
    /// `false`, writing nothing, when the writer has not made room for it yet.
    ///
    /// # Safety
    ///
    /// `ring` must be the ring this producer was made for, and only this producer may write
    /// into it.
    #[inline(always)]
    pub(super) unsafe fn push<T: Copy>(&mut self, ring: &Ring<T>, value: T) -> bool {
        if self.head >= self.limit && !self.refresh(ring, 1) {
            return false;
        }
        // SAFETY: the slot at `head` is released by the consumer (`head < consumed +
        // capacity`), which reads none of it before the release store below publishes it;
        // only this producer writes it (the caller's promise).
        unsafe { (*ring.slot(self.head)).write(value) };
        self.head += 1;
        ring.published.store(self.head, Ordering::Release);
        true
    }

    /// Writes `values` into the next slots and publishes them at once; `false`, writing
    /// nothing, when the writer has not made room for all of them yet.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push).
    pub(super) unsafe fn push_all<T: Copy>(&mut self, ring: &Ring<T>, values: &[T]) -> bool {
        let len = values.len() as u64;
        if self.head + len > self.limit && !self.refresh(ring, len) {
            return false;
        }
        for (at, &value) in (self.head..).zip(values) {
            // SAFETY: as in `push`, for each of the slots up to `head + len`.
            unsafe { (*ring.slot(at)).write(value) };
        }
        self.head += len;
        ring.published.store(self.head, Ordering::Release);
        true
    }

    /// Learns how far the consumer read; whether `len` more slots fit now.
    #[cold]
    #[inline(never)]
    fn refresh<T: Copy>(&mut self, ring: &Ring<T>, len: u64) -> bool {
        self.limit = ring.consumed.load(Ordering::Acquire) + ring.capacity() as u64;
        self.head + len <= self.limit
    }
}

/// The consumer's side of a ring: how far it read.
#[derive(Debug, Default)]
pub(super) struct Consumer {
    taken: u64,
}

impl Consumer {
    /// Hands what `ring` published since the last call to `read` (in two parts: up to the
    /// ring's end, and from its start), then releases those slots to the producer.
    ///
    /// # Safety
    ///
    /// `ring` must be the ring this consumer was made for, and only this consumer may read it.
    pub(super) unsafe fn take<T: Copy, R>(
        &mut self,
        ring: &Ring<T>,
        read: impl FnOnce(&[T], &[T]) -> R,
    ) -> R {
        let published = ring.published.load(Ordering::Acquire);
        let len = (published - self.taken) as usize;
        let at = (self.taken as usize) & (ring.capacity() - 1);
        let first = len.min(ring.capacity() - at);
        // SAFETY: the slots from `taken` to `published` (`first` from `at`, the rest from the
        // ring's start) were written and published by the release store read above (acquire),
        // and the producer does not write them again before `consumed` moves past them below;
        // only this consumer reads them (the caller's promise). `MaybeUninit<T>` and
        // `UnsafeCell` have the layout of `T`.
        let result = unsafe {
            let base = ring.slot(0).cast::<T>().cast_const();
            read(
                std::slice::from_raw_parts(base.add(at), first),
                std::slice::from_raw_parts(base, len - first),
            )
        };
        self.taken = published;
        ring.consumed.store(self.taken, Ordering::Release);
        result
    }

    /// Whether everything the ring's producer ever published was taken.
    pub(super) fn caught_up<T: Copy>(&self, ring: &Ring<T>) -> bool {
        ring.published.load(Ordering::Acquire) == self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_wrap_around_the_end_and_come_out_whole_and_in_order() {
        let ring = Ring::new(ThreadId(1), 16);
        let (mut producer, mut consumer) = (Producer::new(&ring), Consumer::default());
        let mut seen = Vec::new();
        for i in 0..100_u32 {
            let pair = [i * 2, i * 2 + 1];
            // SAFETY: one producer and one consumer of this ring, on this thread.
            unsafe {
                if !producer.push_all(&ring, &pair) {
                    consumer.take(&ring, |a, b| seen.extend(a.iter().chain(b)));
                    assert!(producer.push_all(&ring, &pair), "room after the take");
                }
            }
        }
        // SAFETY: as above.
        let last = unsafe {
            consumer.take(&ring, |a, b| {
                seen.extend(a.iter().chain(b));
                a.len() + b.len()
            })
        };
        assert!(last > 0);
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert!(consumer.caught_up(&ring));
    }

    #[test]
    fn a_full_ring_refuses_the_slot() {
        let ring = Ring::new(ThreadId(1), 4);
        let mut producer = Producer::new(&ring);
        // SAFETY: the only producer.
        unsafe {
            assert!(producer.push_all(&ring, &[1, 1, 1]));
            assert!(!producer.push_all(&ring, &[2, 2]));
            assert!(producer.push(&ring, 3));
            assert!(!producer.push(&ring, 4));
        }
    }

    #[test]
    fn a_consumer_on_another_thread_sees_every_slot() {
        let ring = std::sync::Arc::new(Ring::new(ThreadId(1), 64));
        let producer_ring = ring.clone();
        let total = 20_000_u32;
        let writer = std::thread::spawn(move || {
            let mut producer = Producer::new(&producer_ring);
            for i in 0..total {
                // SAFETY: the only producer of this ring.
                while !unsafe { producer.push(&producer_ring, i) } {
                    std::thread::yield_now();
                }
            }
            producer_ring.retire();
        });
        let mut consumer = Consumer::default();
        let mut seen = Vec::new();
        loop {
            let retired = ring.is_retired();
            // SAFETY: the only consumer of this ring.
            unsafe { consumer.take(&ring, |a, b| seen.extend(a.iter().chain(b))) };
            if retired && consumer.caught_up(&ring) {
                break;
            }
            std::thread::yield_now();
        }
        writer.join().unwrap();
        assert_eq!(seen, (0..total).collect::<Vec<_>>());
    }
}
