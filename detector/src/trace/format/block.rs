//! The records inside a `block`: one thread's events, without the thread id (the block has it)
//! and with the numbers that order them against other threads' (see [`super::merge`]).
//!
//! Each encoder writes one record into a [`RecordBuf`] and returns its length; the recorder's
//! threads encode straight into their ring buffers.

use super::tags::{self as tag, lock_tag, mode_bits};
use super::varint;
use crate::ids::{Flavour, Mode};

/// The longest thread record: a tag and five varints of at most 10 bytes (an `acquire` with a
/// flavour byte has three).
pub(crate) const MAX_RECORD: usize = 1 + 5 * 10;

/// Room for one thread record.
pub(crate) type RecordBuf = [u8; MAX_RECORD];

/// Writes one record into a [`RecordBuf`].
struct Cursor<'a> {
    bytes: &'a mut RecordBuf,
    len: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn new(bytes: &'a mut RecordBuf, tag: u8) -> Self {
        bytes[0] = tag;
        Cursor { bytes, len: 1 }
    }

    #[inline]
    fn varint(mut self, value: u64) -> Self {
        // At most five varints follow a tag (MAX_RECORD): the index stays in bounds.
        self.len = varint::put(self.bytes, self.len, value);
        self
    }

    /// A byte, when there is one (a flavour byte).
    #[inline]
    fn maybe(self, byte: Option<u8>) -> Self {
        match byte {
            Some(byte) => self.raw(byte),
            None => self,
        }
    }

    #[inline]
    fn raw(mut self, byte: u8) -> Self {
        self.bytes[self.len] = byte;
        self.len += 1;
        self
    }

    fn len(self) -> usize {
        self.len
    }
}

/// How many of a thread's most recent locks a near record can refer to.
pub(crate) const RECENT: usize = 4;
const _: () = assert!(RECENT == 4, "`Recent::note` moves four slots");
/// The largest step from a lock's last number that a near record holds.
const NEAR_STEP: u64 = 64;

/// The locks a thread operated on last (`acquire`s and `release`s of its non-detached blocks),
/// most recent first, with their last numbers. Writer and reader keep one per thread, updated
/// alike, so that a `near` record needs neither the lock nor its whole number: it names a slot
/// here and the step from that lock's last number, which for a lock only this thread uses is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recent {
    locks: [(u64, u64); RECENT],
    len: usize,
}

impl Recent {
    pub(crate) const EMPTY: Recent = Recent {
        locks: [(0, 0); RECENT],
        len: 0,
    };

    /// Where `lock` is, with its last number.
    #[inline]
    fn find(&self, lock: u64) -> Option<(usize, u64)> {
        (0..RECENT)
            .find(|&slot| slot < self.len && self.locks[slot].0 == lock)
            .map(|slot| (slot, self.locks[slot].1))
    }

    /// The lock in `slot`, with its last number.
    pub(crate) fn slot(&self, slot: usize) -> Option<(u64, u64)> {
        (slot < self.len).then(|| self.locks[slot])
    }

    /// Operation `seq` on `lock`: to the front.
    #[inline]
    pub(crate) fn note(&mut self, lock: u64, seq: u64) {
        let end = match self.find(lock) {
            Some((slot, _)) => slot,
            None if self.len < RECENT => {
                self.len += 1;
                self.len - 1
            }
            None => RECENT - 1,
        };
        // Four slots: moved one by one rather than through a `memmove` call.
        let locks = &mut self.locks;
        if end >= 3 {
            locks[3] = locks[2];
        }
        if end >= 2 {
            locks[2] = locks[1];
        }
        if end >= 1 {
            locks[1] = locks[0];
        }
        locks[0] = (lock, seq);
    }
}

/// A near record's second byte: the slot (high 2 bits) and the step minus 1 (low 6 bits).
pub(crate) fn near_byte(byte: u8) -> (usize, u64) {
    (usize::from(byte >> 6), u64::from(byte & 0x3f) + 1)
}

/// The slot-and-step byte of a near record for operation `seq` of `lock`, when the thread's
/// `recent` locks allow one (`None`: a detached block, full records only); `recent` is updated
/// either way. The byte: the slot (high 2 bits) and the step minus 1 (low 6 bits).
#[inline(always)]
fn near(recent: Option<&mut Recent>, lock: u64, seq: u64) -> Option<u8> {
    let recent = recent?;
    let near = recent
        .find(lock)
        .filter(|&(_, last)| seq > last && seq - last <= NEAR_STEP);
    recent.note(lock, seq);
    let (slot, last) = near?;
    Some(((slot as u64) << 6 | (seq - last - 1)) as u8)
}

fn flag(on: bool) -> u8 {
    if on { tag::FLAG } else { 0 }
}

/// What an `acquire` records of how it was made: its mode, whether it could not wait forever
/// (`try`), and its flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct How {
    pub(crate) mode: Mode,
    pub(crate) try_lock: bool,
    pub(crate) flavour: Flavour,
}

/// `acquire`: lock, its operation number, site; mode bits (or a flavour byte after the tag,
/// see `lock_tag`); flag = `try`. As a near record (`near acquire`: the slot-and-step byte,
/// site) when `recent` allows, see [`near`].
#[inline(always)]
pub(crate) fn acquire(
    out: &mut RecordBuf,
    recent: Option<&mut Recent>,
    lock: u64,
    seq: u64,
    site: u64,
    how: How,
) -> usize {
    // The tag's bits but its type.
    let (bits, flavour_byte) = lock_tag(flag(how.try_lock), how.mode, how.flavour);
    match near(recent, lock, seq) {
        Some(byte) => Cursor::new(out, tag::NEAR_ACQUIRE | bits)
            .maybe(flavour_byte)
            .raw(byte)
            .varint(site)
            .len(),
        None => Cursor::new(out, tag::ACQUIRE | bits)
            .maybe(flavour_byte)
            .varint(lock)
            .varint(seq)
            .varint(site)
            .len(),
    }
}

/// `release`: lock, its operation number; mode bits. As a near record (`near release`: the
/// slot-and-step byte) when `recent` allows, see [`near`].
#[inline(always)]
pub(crate) fn release(
    out: &mut RecordBuf,
    recent: Option<&mut Recent>,
    lock: u64,
    seq: u64,
    mode: Mode,
) -> usize {
    let bits = mode_bits(mode);
    match near(recent, lock, seq) {
        Some(byte) => Cursor::new(out, tag::NEAR_RELEASE | bits).raw(byte).len(),
        None => Cursor::new(out, tag::RELEASE | bits)
            .varint(lock)
            .varint(seq)
            .len(),
    }
}

/// `request`: lock, site; mode bits (or a flavour byte after the tag, see `lock_tag`). Not
/// numbered: it goes just before its thread's next event.
pub(crate) fn request(
    out: &mut RecordBuf,
    lock: u64,
    site: u64,
    mode: Mode,
    flavour: Flavour,
) -> usize {
    let (t, flavour_byte) = lock_tag(tag::REQUEST, mode, flavour);
    Cursor::new(out, t)
        .maybe(flavour_byte)
        .varint(lock)
        .varint(site)
        .len()
}

/// `wait` (the release of the lock for a condition-variable wait): condvar and its operation
/// number, lock and its operation number, site.
pub(crate) fn wait(
    out: &mut RecordBuf,
    condvar: u64,
    condvar_seq: u64,
    lock: u64,
    lock_seq: u64,
    site: u64,
) -> usize {
    Cursor::new(out, tag::WAIT)
        .varint(condvar)
        .varint(condvar_seq)
        .varint(lock)
        .varint(lock_seq)
        .varint(site)
        .len()
}

/// `notify`: condvar, its operation number, site; flag = `all`.
pub(crate) fn notify(out: &mut RecordBuf, condvar: u64, seq: u64, site: u64, all: bool) -> usize {
    Cursor::new(out, tag::NOTIFY | flag(all))
        .varint(condvar)
        .varint(seq)
        .varint(site)
        .len()
}

/// `read` or `write`: variable, its operation number, site.
pub(crate) fn access(out: &mut RecordBuf, write: bool, var: u64, seq: u64, site: u64) -> usize {
    Cursor::new(out, if write { tag::WRITE } else { tag::READ })
        .varint(var)
        .varint(seq)
        .varint(site)
        .len()
}

/// `spawn`: child, site. The child's events that wait for it (after `start` with its flag) come
/// after it.
pub(crate) fn spawn(out: &mut RecordBuf, child: u64, site: u64) -> usize {
    Cursor::new(out, tag::SPAWN)
        .varint(child)
        .varint(site)
        .len()
}

/// `join`: child, site; flag = after the child's `exit`.
pub(crate) fn join(out: &mut RecordBuf, child: u64, site: u64, after_exit: bool) -> usize {
    Cursor::new(out, tag::JOIN | flag(after_exit))
        .varint(child)
        .varint(site)
        .len()
}

/// `start`: the thread's first record when it was spawned through lockscan; its events come
/// after the parent's `spawn`.
pub(crate) fn start(out: &mut RecordBuf) -> usize {
    Cursor::new(out, tag::START | tag::FLAG).len()
}

/// `exit`: the thread's last record; a `join` with its flag comes after it.
pub(crate) fn exit(out: &mut RecordBuf) -> usize {
    Cursor::new(out, tag::EXIT).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_record_fits() {
        let mut out = [0; MAX_RECORD];
        let len = wait(&mut out, u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(len, MAX_RECORD);
    }

    #[test]
    fn a_private_locks_next_operations_take_two_and_three_bytes() {
        let mut recent = Recent::default();
        let mut out = [0; MAX_RECORD];
        let full = acquire(
            &mut out,
            Some(&mut recent),
            70_000,
            5_000,
            3,
            how(Mode::Exclusive, false, Flavour::Plain),
        );
        assert_eq!(full, 1 + 3 + 2 + 1);
        let near_release = release(&mut out, Some(&mut recent), 70_000, 5_001, Mode::Exclusive);
        assert_eq!(out[..near_release], [tag::NEAR_RELEASE, 0]);
        let near_acquire = acquire(
            &mut out,
            Some(&mut recent),
            70_000,
            5_002,
            3,
            how(Mode::Shared, true, Flavour::Plain),
        );
        assert_eq!(near_acquire, 3);
        // A recursive read: one byte more, for its flavour.
        let recursive = acquire(
            &mut out,
            Some(&mut recent),
            70_000,
            5_003,
            3,
            how(Mode::Shared, false, Flavour::Recursive),
        );
        assert_eq!(
            out[..recursive],
            [tag::NEAR_ACQUIRE | tag::FLAVOURED, 1 | 1 << 2, 0, 3]
        );
        // A step past 64, or a lock not among the last four, takes the full form.
        let far = release(&mut out, Some(&mut recent), 70_000, 5_100, Mode::Exclusive);
        assert_eq!(out[0], tag::RELEASE);
        assert!(far > 2);
    }

    #[test]
    fn recent_locks_are_kept_most_recent_first() {
        let mut recent = Recent::default();
        for lock in 1..=5 {
            recent.note(lock, lock * 10);
        }
        assert_eq!(recent.slot(0), Some((5, 50)));
        assert_eq!(recent.slot(3), Some((2, 20)));
        assert_eq!(recent.slot(4), None);
        recent.note(3, 31);
        assert_eq!(
            (0..4)
                .map(|s| recent.slot(s).unwrap().0)
                .collect::<Vec<_>>(),
            [3, 5, 4, 2]
        );
    }

    fn how(mode: Mode, try_lock: bool, flavour: Flavour) -> How {
        How {
            mode,
            try_lock,
            flavour,
        }
    }

    #[test]
    fn a_lock_event_with_small_numbers_takes_four_bytes() {
        let mut out = [0; MAX_RECORD];
        let plain = how(Mode::Exclusive, false, Flavour::Plain);
        let len = acquire(&mut out, None, 5, 100, 3, plain);
        assert_eq!(out[..len], [tag::ACQUIRE, 5, 100, 3]);
        let timed = how(Mode::Exclusive, true, Flavour::Timed);
        let len = acquire(&mut out, None, 5, 101, 3, timed);
        assert_eq!(
            out[..len],
            [tag::ACQUIRE | tag::FLAVOURED | tag::FLAG, 2 << 2, 5, 101, 3]
        );
        let len = request(&mut out, 5, 3, Mode::Exclusive, Flavour::Upgrade);
        assert_eq!(out[..len], [tag::REQUEST | tag::FLAVOURED, 3 << 2, 5, 3]);
    }
}
