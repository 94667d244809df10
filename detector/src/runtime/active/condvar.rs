//! Condition variables: their metadata and notifications, and the check on a lock before a wait
//! on it.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::LockMeta;
use super::ids::fresh_condvar_id;
use rustc_hash::FxHashMap;

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
        if let Some((thread, others)) = others {
            let key = sites_key(site, &others);
            if !counted_again(&key) {
                let finding = self.wait_finding(thread, &others, site);
                let counter = crate::policy::counter(&finding);
                counter.fetch_add(1, Ordering::Relaxed);
                WAITS_REPORTED
                    .lock()
                    .get_or_insert_with(FxHashMap::default)
                    .insert(key, counter);
                report(finding);
            }
        }
    }
}

/// The waits while holding reported so far, by their sites: the wait's and where each other
/// held lock was taken, each with the count of the finding it was reported as. Keyed by sites,
/// not locks, so that a wait under ever new outer locks (one per request, per entry) is one
/// finding, counted, and this map grows with the program's code, not with its run.
type SitesKey = Vec<&'static Location<'static>>;
static WAITS_REPORTED: Mutex<Option<FxHashMap<SitesKey, Arc<AtomicU64>>>> = Mutex::new(None);

/// The sites of a wait at `site` holding locks taken where `others` were.
fn sites_key(site: &'static Location<'static>, others: &[Held]) -> SitesKey {
    let mut key: SitesKey = others.iter().map(|held| held.site).collect();
    key.sort_unstable();
    key.dedup();
    key.push(site);
    key
}

/// Counts a wait at the sites of `key` if one was reported before; false for the first.
fn counted_again(key: &SitesKey) -> bool {
    let reported = WAITS_REPORTED.lock();
    let count = reported.as_ref().and_then(|reported| reported.get(key));
    count.is_some_and(|count| {
        count.fetch_add(1, Ordering::Relaxed);
        true
    })
}
