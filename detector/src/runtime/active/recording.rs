//! What the lock protocol writes into a running recording (see `recorder`).

use std::panic::Location;

use super::{CondvarMeta, LockMeta};
use crate::ids::{Flavour, LockId, LockKind, Mode, ThreadId};
use crate::runtime::recorder::{self, Rec};

impl LockMeta {
    /// The lock's next operation number in the running recording (see `recorder`), declaring
    /// the lock to the recording first when it is its first operation there. Called only while
    /// holding the lock: a mutex is numbered without a read-modify-write.
    #[inline]
    fn record_seq(&self, id: LockId) -> u64 {
        let epoch = recorder::epoch();
        let seq = match self.kind {
            LockKind::Mutex | LockKind::Reentrant => self.recorded.next_exclusive(epoch),
            LockKind::RwLock | LockKind::Semaphore => self.recorded.next_shared(epoch),
        };
        if seq == 0 {
            recorder::declare_lock(id, self.kind, self.label(), self.class(), self.rank);
        }
        seq
    }

    #[inline]
    pub(super) fn record_acquire(
        &self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        try_lock: bool,
        flavour: Flavour,
        site: &'static Location<'static>,
    ) {
        let seq = self.record_seq(lock);
        recorder::record(
            tid,
            Rec::Acquire {
                lock,
                seq,
                mode,
                try_lock,
                flavour,
                site,
            },
        );
    }

    #[inline]
    pub(super) fn record_release(
        &self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        wait: Option<(&CondvarMeta, &'static Location<'static>)>,
    ) {
        let seq = self.record_seq(lock);
        let rec = match wait {
            Some((condvar, site)) => {
                let (condvar, condvar_seq) = condvar.record_seq();
                Rec::Wait {
                    condvar,
                    condvar_seq,
                    lock,
                    lock_seq: seq,
                    site,
                }
            }
            None => Rec::Release { lock, seq, mode },
        };
        recorder::record(tid, rec);
    }
}
