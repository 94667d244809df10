//! Findings about one acquisition or one wait, checked against a rule rather than found in a
//! cycle: acquiring against declared ranks, and waiting on a condition variable while holding
//! other locks. The live detector and the trace replay both build them here, so a finding reads
//! the same whichever way it was found.

use crate::finding::{Finding, FindingEdge, FindingKind};
use crate::ids::Mode;
use crate::site::Site;

/// A lock as a finding names it: its name, where it was taken (or requested), in which mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockAt {
    /// The lock's name, else class, else id.
    pub name: String,
    /// Where it was acquired or requested.
    pub site: Option<Site>,
    /// The mode.
    pub mode: Mode,
}

/// Thread `thread` acquired `acquired` (rank `rank`) while holding `held` (rank `held_rank`,
/// not lower).
pub fn order_violation(
    thread: &str,
    held: LockAt,
    held_rank: u64,
    acquired: LockAt,
    rank: u64,
) -> Finding {
    let mut finding = Finding::new(
        FindingKind::OrderViolation,
        format!(
            "`{}` (rank {rank}) acquired while holding `{}` (rank {held_rank})",
            acquired.name, held.name
        ),
    );
    finding.reason = "a lock may only be acquired while holding locks of lower rank; this \
                      order, run concurrently with the declared one, can deadlock"
        .to_owned();
    finding.locks = vec![held.name.clone(), acquired.name.clone()];
    finding.threads = vec![thread.to_owned()];
    finding.site = acquired.site.clone();
    finding.edges = vec![FindingEdge {
        from: held.name,
        to: acquired.name,
        thread: thread.to_owned(),
        from_site: held.site,
        to_site: acquired.site,
        from_mode: held.mode,
        to_mode: acquired.mode,
        held: Vec::new(),
        blocked: false,
        backtrace: None,
    }];
    finding.help = Some(
        "take the lower-ranked lock first, for example with `lockscan::lock_all`, or fix the \
         declared ranks"
            .to_owned(),
    );
    finding
}

/// Thread `thread` waits on a condition variable (named `condvar`, when known) with `mutex`,
/// at `site`, while holding `held` as well.
pub fn wait_while_holding(
    thread: &str,
    condvar: Option<&str>,
    mutex: &str,
    held: &[LockAt],
    site: Option<Site>,
) -> Finding {
    let listed = held
        .iter()
        .map(|h| format!("`{}`", h.name))
        .collect::<Vec<_>>()
        .join(", ");
    let on = condvar.map_or_else(String::new, |c| format!(" `{c}`"));
    let mut finding = Finding::new(
        FindingKind::WaitWhileHolding,
        format!(
            "thread `{thread}` waits on condition variable{on} with `{mutex}` while holding {listed}"
        ),
    );
    finding.reason = format!(
        "the wait releases `{mutex}` only; the other locks stay held while the thread sleeps, \
         so a thread that needs them, perhaps the one that would notify, is blocked"
    );
    finding.locks = std::iter::once(mutex.to_owned())
        .chain(held.iter().map(|h| h.name.clone()))
        .collect();
    finding.threads = vec![thread.to_owned()];
    finding.edges = held
        .iter()
        .map(|h| FindingEdge {
            from: h.name.clone(),
            to: mutex.to_owned(),
            thread: thread.to_owned(),
            from_site: h.site.clone(),
            to_site: site.clone(),
            from_mode: h.mode,
            to_mode: Mode::Exclusive,
            held: Vec::new(),
            blocked: false,
            backtrace: None,
        })
        .collect();
    finding.site = site;
    finding.help = Some(
        "release the other locks before waiting, or make the condition variable's mutex the \
         only lock held"
            .to_owned(),
    );
    finding
}
