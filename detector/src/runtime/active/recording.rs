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
        // An `if` rather than a `match` over the four kinds, which compiled to a jump table.
        let seq = if matches!(self.kind, LockKind::Mutex | LockKind::Reentrant) {
            self.recorded.next_exclusive(epoch)
        } else {
            self.recorded.next_shared(epoch)
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
        // A call of `record` per kind, so that each folds to its own record's stores.
        match wait {
            Some((condvar, site)) => Self::record_wait(tid, lock, seq, condvar, site),
            None => recorder::record(tid, Rec::Release { lock, seq, mode }),
        }
    }

    /// The release of a condition-variable wait, as a `wait` record.
    #[cold]
    #[inline(never)]
    fn record_wait(
        tid: ThreadId,
        lock: LockId,
        lock_seq: u64,
        condvar: &CondvarMeta,
        site: &'static Location<'static>,
    ) {
        let (condvar, condvar_seq) = condvar.record_seq();
        let rec = Rec::Wait {
            condvar,
            condvar_seq,
            lock,
            lock_seq,
            site,
        };
        recorder::record(tid, rec);
    }
}
