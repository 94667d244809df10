//! A thread's events as the thread leaves them in its ring: fixed-size raw records, a few plain
//! stores each, which the writer encodes into a block's records (`trace::format::block`) off the
//! hot path. The thread numbers the sites (its cache hits nearly always, and a new site is
//! defined in the trace when the thread first names it, as before); the writer keeps the
//! thread's recent locks for near records and writes the varints.

use crate::ids::{Flavour, Mode};
use crate::trace::format::block::{self, How, MAX_RECORD, Recent, RecordBuf};

/// One slot of a thread's ring. Every event takes one, but a condition-variable wait, which
/// takes two ([`Raw::WaitCondvar`] then [`Raw::Wait`]), published together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Raw {
    Acquire {
        lock: u64,
        seq: u64,
        site: u64,
        mode: Mode,
        try_lock: bool,
        flavour: Flavour,
    },
    Release {
        lock: u64,
        seq: u64,
        mode: Mode,
    },
    Request {
        lock: u64,
        site: u64,
        mode: Mode,
        flavour: Flavour,
    },
    /// The first half of a `wait`: the condition variable and its operation number.
    WaitCondvar {
        condvar: u64,
        seq: u64,
    },
    /// The second half of a `wait`: the lock released for it, its operation number, the site.
    Wait {
        lock: u64,
        seq: u64,
        site: u64,
    },
    Notify {
        condvar: u64,
        seq: u64,
        site: u64,
        all: bool,
    },
    Access {
        var: u64,
        seq: u64,
        site: u64,
        write: bool,
    },
    Spawn {
        child: u64,
        site: u64,
    },
    Join {
        child: u64,
        site: u64,
        after_exit: bool,
    },
    Start,
    Exit,
}

// Half a cache line: the hot path's record is three or four stores.
const _: () = assert!(std::mem::size_of::<Raw>() == 32);

/// Encodes a thread's raw records into the records of a block, for the writer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    /// The thread's recent locks, as the trace's reader will know them (`None`: a detached
    /// block, full records only).
    recent: Recent,
    /// The first half of a wait whose second half is the next slot.
    wait: Option<(u64, u64)>,
}

impl Encoder {
    /// The encoder of a stream that goes on where `self`'s stopped (the thread's ring grew).
    pub(crate) fn carried_on(&self) -> Encoder {
        Encoder {
            recent: self.recent,
            wait: None,
        }
    }

    /// Encodes `raws` (the slots taken from the ring, in its two parts) into `scratch`: how
    /// many records (a wait's two slots make one), and their bytes.
    pub(crate) fn encode<'s>(
        &mut self,
        raws: [&[Raw]; 2],
        scratch: &'s mut Scratch,
    ) -> (u64, &'s [u8]) {
        encode_into(raws, Some(&mut self.recent), &mut self.wait, scratch)
    }
}

/// Encodes `raws` as a detached block's records (full records only), as [`Encoder::encode`].
pub(crate) fn encode_detached<'s>(raws: &[Raw], scratch: &'s mut Scratch) -> (u64, &'s [u8]) {
    encode_into([raws, &[]], None, &mut None, scratch)
}

/// The writer's buffer for encoded records: it only grows, so that it is zeroed once (the
/// encoders write into a `RecordBuf` each).
#[derive(Debug, Default)]
pub(crate) struct Scratch(Vec<u8>);

impl Scratch {
    pub(crate) const EMPTY: Scratch = Scratch(Vec::new());
}

fn encode_into<'s>(
    raws: [&[Raw]; 2],
    mut recent: Option<&mut Recent>,
    wait: &mut Option<(u64, u64)>,
    scratch: &'s mut Scratch,
) -> (u64, &'s [u8]) {
    let out = &mut scratch.0;
    let room = (raws[0].len() + raws[1].len()) * MAX_RECORD;
    if out.len() < room {
        out.resize(room, 0);
    }
    let mut at = 0;
    let mut records = 0;
    for part in raws {
        for &raw in part {
            let buf: &mut RecordBuf = out[at..]
                .first_chunk_mut()
                .expect("room for the longest record");
            let recent = recent.as_deref_mut();
            let len = match raw {
                Raw::Acquire {
                    lock,
                    seq,
                    site,
                    mode,
                    try_lock,
                    flavour,
                } => {
                    let how = How {
                        mode,
                        try_lock,
                        flavour,
                    };
                    block::acquire(buf, recent, lock, seq, site, how)
                }
                Raw::Release { lock, seq, mode } => block::release(buf, recent, lock, seq, mode),
                Raw::Request {
                    lock,
                    site,
                    mode,
                    flavour,
                } => block::request(buf, lock, site, mode, flavour),
                Raw::WaitCondvar { condvar, seq } => {
                    *wait = Some((condvar, seq));
                    continue;
                }
                Raw::Wait { lock, seq, site } => {
                    // The thread publishes both halves at once: the first is always there.
                    let Some((condvar, condvar_seq)) = wait.take() else {
                        debug_assert!(false, "a wait's second half without its first");
                        continue;
                    };
                    block::wait(buf, condvar, condvar_seq, lock, seq, site)
                }
                Raw::Notify {
                    condvar,
                    seq,
                    site,
                    all,
                } => block::notify(buf, condvar, seq, site, all),
                Raw::Access {
                    var,
                    seq,
                    site,
                    write,
                } => block::access(buf, write, var, seq, site),
                Raw::Spawn { child, site } => block::spawn(buf, child, site),
                Raw::Join {
                    child,
                    site,
                    after_exit,
                } => block::join(buf, child, site, after_exit),
                Raw::Start => block::start(buf),
                Raw::Exit => block::exit(buf),
            };
            at += len;
            records += 1;
        }
    }
    (records, &out[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acquire(lock: u64, seq: u64) -> Raw {
        Raw::Acquire {
            lock,
            seq,
            site: 3,
            mode: Mode::Exclusive,
            try_lock: false,
            flavour: Flavour::Plain,
        }
    }

    /// What the thread encoded in place before, record by record into a `RecordBuf`.
    fn encoded_in_place(records: &[fn(&mut RecordBuf, Option<&mut Recent>) -> usize]) -> Vec<u8> {
        let mut recent = Recent::EMPTY;
        let mut out = Vec::new();
        for record in records {
            let mut buf = [0; MAX_RECORD];
            let len = record(&mut buf, Some(&mut recent));
            out.extend_from_slice(&buf[..len]);
        }
        out
    }

    #[test]
    fn raw_records_encode_to_the_bytes_the_thread_wrote_in_place() {
        let raws = [
            acquire(70_000, 5_000),
            Raw::WaitCondvar { condvar: 9, seq: 2 },
            Raw::Wait {
                lock: 70_000,
                seq: 5_001,
                site: 4,
            },
            acquire(70_000, 5_002),
            Raw::Release {
                lock: 70_000,
                seq: 5_003,
                mode: Mode::Exclusive,
            },
            Raw::Exit,
        ];
        let (mut encoder, mut scratch) = (Encoder::default(), Scratch::default());
        // Taken in two collections, the second from the wait's second half.
        let mut out = Vec::new();
        let (records, bytes) = encoder.encode([&raws[..1], &raws[1..2]], &mut scratch);
        assert_eq!(records, 1);
        out.extend_from_slice(bytes);
        let (records, bytes) = encoder.encode([&raws[2..], &[]], &mut scratch);
        assert_eq!(records, 4);
        out.extend_from_slice(bytes);
        let expected = encoded_in_place(&[
            |b, r| block::acquire(b, r, 70_000, 5_000, 3, plain_how()),
            |b, _| block::wait(b, 9, 2, 70_000, 5_001, 4),
            |b, r| block::acquire(b, r, 70_000, 5_002, 3, plain_how()),
            |b, r| block::release(b, r, 70_000, 5_003, Mode::Exclusive),
            |b, _| block::exit(b),
        ]);
        assert_eq!(out, expected);
        // A detached block has full records only.
        let (records, detached) = encode_detached(&raws[3..5], &mut scratch);
        assert_eq!(records, 2);
        let expected = [
            block::acquire(&mut [0; MAX_RECORD], None, 70_000, 5_002, 3, plain_how()),
            block::release(&mut [0; MAX_RECORD], None, 70_000, 5_003, Mode::Exclusive),
        ];
        assert_eq!(detached.len(), expected.iter().sum::<usize>());
    }

    fn plain_how() -> How {
        How {
            mode: Mode::Exclusive,
            try_lock: false,
            flavour: Flavour::Plain,
        }
    }

    #[test]
    fn a_grown_ring_carries_the_recent_locks_on() {
        let (mut encoder, mut scratch) = (Encoder::default(), Scratch::default());
        encoder.encode([&[acquire(7, 10)], &[]], &mut scratch);
        let mut next = encoder.carried_on();
        let (_, bytes) = next.encode([&[], &[acquire(7, 11)]], &mut scratch);
        assert_eq!(bytes.len(), 3, "a near acquire: {bytes:?}");
        let (_, bytes) = Encoder::default().encode([&[acquire(7, 12)], &[]], &mut scratch);
        assert_eq!(bytes.len(), 4, "a full acquire: {bytes:?}");
    }
}
