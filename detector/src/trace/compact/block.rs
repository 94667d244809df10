//! The records inside a `block`: one thread's events, without the thread id (the block has it)
//! and with the numbers that order them against other threads' (see [`super::merge`]).
//!
//! Each encoder writes one record into a [`RecordBuf`] and returns its length; the recorder's
//! threads encode straight into their ring buffers.

use super::tag;
use crate::ids::Mode;

/// The longest thread record: a tag and five varints of at most 10 bytes.
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
    fn varint(mut self, mut value: u64) -> Self {
        // At most five varints follow a tag (MAX_RECORD): the index stays in bounds.
        while value >= 0x80 {
            self.bytes[self.len] = (value as u8) | 0x80;
            self.len += 1;
            value >>= 7;
        }
        self.bytes[self.len] = value as u8;
        self.len += 1;
        self
    }

    fn len(self) -> usize {
        self.len
    }
}

fn flag(on: bool) -> u8 {
    if on { tag::FLAG } else { 0 }
}

/// `acquire`: lock, its operation number, site; mode bits; flag = `try`.
#[inline]
pub(crate) fn acquire(
    out: &mut RecordBuf,
    lock: u64,
    seq: u64,
    site: u64,
    mode: Mode,
    try_lock: bool,
) -> usize {
    Cursor::new(out, tag::ACQUIRE | super::mode_bits(mode) | flag(try_lock))
        .varint(lock)
        .varint(seq)
        .varint(site)
        .len()
}

/// `release`: lock, its operation number; mode bits.
#[inline]
pub(crate) fn release(out: &mut RecordBuf, lock: u64, seq: u64, mode: Mode) -> usize {
    Cursor::new(out, tag::RELEASE | super::mode_bits(mode))
        .varint(lock)
        .varint(seq)
        .len()
}

/// `request`: lock, site; mode bits. Not numbered: it goes just before its thread's next event.
pub(crate) fn request(out: &mut RecordBuf, lock: u64, site: u64, mode: Mode) -> usize {
    Cursor::new(out, tag::REQUEST | super::mode_bits(mode))
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
    fn a_lock_event_with_small_numbers_takes_four_bytes() {
        let mut out = [0; MAX_RECORD];
        let len = acquire(&mut out, 5, 100, 3, Mode::Exclusive, false);
        assert_eq!(out[..len], [tag::ACQUIRE, 5, 100, 3]);
    }
}
