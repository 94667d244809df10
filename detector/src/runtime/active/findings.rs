//! The findings the lock protocol reports, built by the rules both paths share
//! ([`analysis::rules`](crate::analysis::rules)).

use std::panic::Location;

use super::LockMeta;
use crate::analysis::rules::{self, LockAt};
use crate::finding::{Finding, FindingKind};
use crate::ids::{Mode, ThreadId};
use crate::runtime::state::{self, Held};
use crate::site::Site;

impl LockMeta {
    pub(super) fn wait_finding(
        &self,
        thread: ThreadId,
        others: &[Held],
        site: &'static Location<'static>,
    ) -> Finding {
        let held: Vec<LockAt> = others.iter().map(Held::named).collect();
        rules::wait_while_holding(
            &state::current_thread_name(thread),
            None,
            &self.info().display_name(),
            &held,
            Some(Site::Caller(site)),
        )
    }

    /// The finding for acquiring this lock while holding `held`, when their declared ranks say
    /// `held` must come after it.
    pub(super) fn rank_violation(
        &self,
        thread: ThreadId,
        held: &Held,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Option<Finding> {
        let (Some(mine), Some(theirs)) = (self.rank, held.info.rank) else {
            return None;
        };
        if mine > theirs {
            return None;
        }
        let acquired = LockAt {
            name: self.info().display_name(),
            site: Some(Site::Caller(site)),
            mode,
        };
        Some(rules::order_violation(
            &state::current_thread_name(thread),
            held.named(),
            u64::from(theirs),
            acquired,
            u64::from(mine),
        ))
    }

    pub(super) fn self_deadlock(
        &self,
        thread: ThreadId,
        held: Held,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Finding {
        let name = self.info().display_name();
        rules::relock(
            &state::current_thread_name(thread),
            self.kind,
            LockAt {
                name: name.clone(),
                site: Some(Site::Caller(held.site)),
                mode: held.mode,
            },
            LockAt {
                name,
                site: Some(Site::Caller(site)),
                mode,
            },
        )
    }

    /// The finding for a second `read` of this lock, held for reading by this thread, queued
    /// behind a writer that waits for the first.
    pub(super) fn read_behind_writer(
        &self,
        thread: ThreadId,
        first: Held,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Finding {
        let mut finding = self.self_deadlock(thread, first, mode, site);
        finding.kind = FindingKind::Deadlock;
        finding.message = format!(
            "`{}` read again by a thread that holds it, behind a queued writer",
            self.info().display_name()
        );
        finding.reason = "the writer waits for this thread's first read lock, and this read \
            waits for the writer: use `read_recursive`, or do not read the lock twice"
            .to_owned();
        finding
    }
}
