//! The findings the lock protocol reports, built by the rules both paths share
//! ([`analysis::rules`](crate::engine::rules)).

use std::panic::Location;

use super::LockMeta;
use crate::engine::rules::{self, LockAt};
use crate::finding::{Finding, FindingKind};
use crate::ids::{Mode, ThreadId};
use crate::runtime::order_graph;
use crate::runtime::state::{self, Held};
use crate::site::{Site, Stack};

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
        finding.severity = FindingKind::Deadlock.default_severity();
        finding.message = format!(
            "deadlock: thread `{}` calls `read()` on `{}` again while holding a read lock on \
             it, behind a queued writer",
            state::current_thread_name(thread),
            self.info().display_name()
        );
        finding.reason = "the writer waits for this thread's first read lock, and this `read()` \
            waits for the writer (parking_lot's read-write lock is task-fair): neither can go on"
            .to_owned();
        for edge in &mut finding.edges {
            edge.blocked = true;
        }
        finding
    }
}

/// Adds the current thread's stack to its step of `finding` (its first edge), when
/// `LOCKSCAN_BACKTRACE` asks for stacks and none of its edges has one: a re-lock, a rank
/// violation, a wait while holding, the deadlock this thread closes. The policy calls it once
/// per new finding, on the thread that found it, so it costs nothing per lock operation. The
/// edges of a cycle have theirs already, from when each edge was first seen; a data race has
/// no edge for one.
pub(crate) fn add_stack(finding: &mut Finding) {
    if !order_graph::backtraces_wanted() {
        return;
    }
    let Some(thread) = state::with(|st| st.id()) else {
        return;
    };
    let name = state::current_thread_name(thread);
    let mut mine = finding.edges.iter_mut().filter(|edge| edge.thread == name);
    let Some(first) = mine.next() else {
        return;
    };
    if first.backtrace.is_some() || mine.any(|edge| edge.backtrace.is_some()) {
        return;
    }
    first.backtrace = Some(Stack::capture().text().to_owned());
}
