//! Condition variables: their metadata and notifications, and the check on a lock before a wait
//! on it.

use std::panic::Location;

use super::LockMeta;
use super::ids::fresh_condvar_id;
use rustc_hash::FxHashSet;

use crate::ids::CondvarId;
use crate::raw::Mutex;
use crate::runtime::lazy_id::LazyId;
use crate::runtime::recorder::{self, Rec, RecordSeq};
use crate::runtime::report;
use crate::runtime::state::{self, Held};

/// What an instrumented condition variable knows about itself.
#[derive(Debug)]
pub(crate) struct CondvarMeta {
    id: LazyId,
    /// Its operations in the running recording, numbered for the trace's reader.
    recorded: RecordSeq,
    site: &'static Location<'static>,
}

impl CondvarMeta {
    pub(crate) const fn new(site: &'static Location<'static>) -> Self {
        CondvarMeta {
            id: LazyId::new(),
            recorded: RecordSeq::new(),
            site,
        }
    }

    /// The id and the next operation number in the running recording, declaring the condition
    /// variable to the recording first when it is its first operation there.
    pub(super) fn record_seq(&self) -> (CondvarId, u64) {
        let id = CondvarId(self.id.get_or_assign(fresh_condvar_id));
        let seq = self.recorded.next_shared(recorder::epoch());
        if seq == 0 {
            recorder::declare_condvar(id, self.site);
        }
        (id, seq)
    }

    /// A notification, recorded when recording. It orders nothing for the lock order: a
    /// wake-up can come from a time-out, a spurious wake-up or another notifier, so it proves
    /// no order in another schedule.
    pub(crate) fn notified(&self, all: bool, site: &'static Location<'static>) {
        if recorder::on() {
            let Some(tid) = state::with(|st| st.id()) else {
                return;
            };
            let (condvar, seq) = self.record_seq();
            recorder::record(
                tid,
                Rec::Notify {
                    condvar,
                    seq,
                    all,
                    site,
                },
            );
        }
    }
}

impl LockMeta {
    /// A condition-variable wait on this lock: reports holding other locks meanwhile.
    #[track_caller]
    pub(crate) fn before_wait(&self, site: &'static Location<'static>) {
        let id = self.id();
        let others = state::with(|st| {
            let others: Vec<Held> = st.held.iter().filter(|h| h.id != id).copied().collect();
            (!others.is_empty()).then(|| (st.id(), others))
        })
        .flatten();
        if let Some((thread, others)) = others
            && first_wait_at(site, &others)
        {
            report(self.wait_finding(thread, &others, site));
        }
    }
}

/// The waits while holding reported so far, by their sites: the wait's and where each other
/// held lock was taken. Keyed by sites, not locks, so that a wait under ever new outer locks
/// (one per request, per entry) is one finding, and this set grows with the program's code,
/// not with its run.
static WAITS_REPORTED: Mutex<Option<FxHashSet<Vec<&'static Location<'static>>>>> = Mutex::new(None);

/// Whether no wait at `site` holding locks taken where `others` were was reported before.
fn first_wait_at(site: &'static Location<'static>, others: &[Held]) -> bool {
    let mut key: Vec<&'static Location<'static>> = others.iter().map(|held| held.site).collect();
    key.sort_unstable();
    key.dedup();
    key.push(site);
    WAITS_REPORTED
        .lock()
        .get_or_insert_with(FxHashSet::default)
        .insert(key)
}
