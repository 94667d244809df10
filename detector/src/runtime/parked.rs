//! Tasks parked with blocking locks held (`lockscan::tokio`): a wrapped task whose poll returns
//! `Pending` while it holds a `lockscan` blocking lock (the `lock-held-across-await` warning) is
//! registered here, with where its poll ran, until it is polled again. A thread that is about
//! to block on such a lock checks the registry first:
//!
//! - when the parked holder can only be polled by this very thread, which is about to block,
//!   neither can go on: an actual `deadlock`, reported (unwinding the blocking thread, as for
//!   every actual deadlock) instead of hanging the runtime;
//! - otherwise (another worker can poll the holder) the across-await hold becomes an error: the
//!   same `lock-held-across-await` kind with severity `error`, naming both tasks and both sites.
//!
//! The rule for "only this thread can poll it" (no false positive on a multi-thread runtime,
//! whose other workers go on polling the holder): the holder's last poll returned `Pending`
//!
//! 1. inside the tokio task this thread is polling right now (the same `tokio::task::Id`: a
//!    future joined or selected inside the task that blocks), on any runtime; or
//! 2. on this thread, inside a *current-thread* runtime, and this thread is inside that same
//!    runtime now (`Handle::try_current()`, same `runtime::Id`): a current-thread runtime polls
//!    its tasks only on the thread that drives it.
//!
//! What the rule misses (no report, the hang stays): a holder moved out of the task that last
//! polled it (sent to another task before it is polled again), a `LocalSet`'s tasks on a
//! multi-thread runtime, and a multi-thread runtime whose every worker is blocked. What it could
//! get wrong: a current-thread runtime that one thread leaves while still inside its context
//! (`Handle::enter`) and another thread goes on driving.
//!
//! The order of the two checks makes one of them see the other: a blocking thread registers as
//! waiting (`runtime::waits`) before it reads this registry, and a task parks here before it
//! reads the waiting threads, so a thread that blocked just before the holder parked is found
//! by the holder's park (an error finding; never a deadlock, since a thread blocked on the
//! holder's own thread could not be polling it).

use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Handle, RuntimeFlavor};

use super::state::Held;
use crate::finding::{Finding, FindingKind, Severity};
use crate::ids::{LockId, Mode, ThreadId};
use crate::raw::Mutex;
use crate::site::Site;

/// Where a poll ran: what decides which threads can poll a task again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PollPlace {
    thread: std::thread::ThreadId,
    /// The tokio task being polled; `None` for a `block_on` future, or outside tokio.
    task: Option<tokio::task::Id>,
    /// The runtime whose context the thread is in, when it is a current-thread runtime.
    current_thread_runtime: Option<tokio::runtime::Id>,
}

impl PollPlace {
    /// Where the current thread is.
    pub(super) fn here() -> PollPlace {
        PollPlace {
            thread: std::thread::current().id(),
            task: tokio::task::try_id(),
            current_thread_runtime: Handle::try_current()
                .ok()
                .filter(|handle| handle.runtime_flavor() == RuntimeFlavor::CurrentThread)
                .map(|handle| handle.id()),
        }
    }

    /// Whether a task whose last poll returned `Pending` at `self` can be polled again only by
    /// the thread at `blocker` (see the module's rule): why, when it can.
    fn only_polled_by(&self, blocker: &PollPlace) -> Option<&'static str> {
        if self.task.is_some() && self.task == blocker.task {
            return Some("it is part of the tokio task this thread is polling");
        }
        let same_current_thread_runtime = self.thread == blocker.thread
            && self.current_thread_runtime.is_some()
            && self.current_thread_runtime == blocker.current_thread_runtime;
        same_current_thread_runtime
            .then_some("a current-thread runtime polls its tasks only on the thread that drives it")
    }
}

/// A wrapped task suspended with blocking locks held.
struct ParkedTask {
    task: ThreadId,
    name: &'static str,
    place: PollPlace,
    /// The blocking locks it holds across the `.await`.
    held: Vec<Held>,
}

static PARKED: Mutex<Vec<ParkedTask>> = Mutex::new(Vec::new());
/// How many tasks are in `PARKED`: the blocking path reads nothing else when none is.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Registers task `task`, named `name`, whose poll just returned `Pending` at `place` while
/// holding the blocking locks `held`; returns the error finding for a thread blocked on one of
/// them already.
pub(super) fn park(
    task: ThreadId,
    name: &'static str,
    place: PollPlace,
    held: Vec<Held>,
) -> Option<Finding> {
    let mut all = PARKED.lock();
    all.push(ParkedTask {
        task,
        name,
        place,
        held: held.clone(),
    });
    COUNT.store(all.len(), Ordering::SeqCst);
    drop(all);
    let (hold, blocker, site) = super::waits::blocked_on(&held)?;
    let blocker = super::order_graph::names(|names| names.thread_name(blocker));
    Some(escalated(name, &hold, &blocker, site))
}

/// Task `task` is polled again (or dropped): it is not parked any more.
pub(super) fn unpark(task: ThreadId) {
    let mut all = PARKED.lock();
    if let Some(index) = all.iter().position(|p| p.task == task) {
        all.swap_remove(index);
    }
    COUNT.store(all.len(), Ordering::SeqCst);
}

/// The finding for the thread `blocker` (named `blocker_name`), registered as waiting already,
/// about to block on `lock` in `mode` at `site`, when a parked task holds the lock: a
/// `deadlock` when only this thread can poll the holder, else the across-await hold as an
/// error.
pub(super) fn blocking_on(
    lock: LockId,
    mode: Mode,
    site: &'static Location<'static>,
    blocker_name: impl FnOnce() -> String,
) -> Option<Finding> {
    if COUNT.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let here = PollPlace::here();
    let all = PARKED.lock();
    let (holder, hold) = all.iter().find_map(|parked| {
        let hold = parked
            .held
            .iter()
            .find(|h| h.id == lock && mode.conflicts_with(h.mode))?;
        Some((parked, *hold))
    })?;
    let why = holder.place.only_polled_by(&here);
    let holder = holder.name;
    drop(all);
    let blocker = blocker_name();
    Some(match why {
        Some(why) => parked_holder_deadlock(holder, &hold, &blocker, site, why),
        None => escalated(holder, &hold, &blocker, site),
    })
}

/// `blocker` blocks at `site` on the lock of `hold`, which `holder` holds across an `.await`,
/// and only the blocking thread can poll `holder`.
fn parked_holder_deadlock(
    holder: &str,
    hold: &Held,
    blocker: &str,
    site: &'static Location<'static>,
    why: &str,
) -> Finding {
    let lock = hold.info.display_name();
    let mut finding = Finding::new(
        FindingKind::Deadlock,
        format!(
            "deadlock: `{blocker}` blocks its thread on `{lock}`, which task `{}` holds across \
             an `.await` and only this thread can poll",
            holder
        ),
    );
    finding.reason = format!(
        "task `{holder}` took `{lock}` at {} and is suspended with it; it can only be polled \
         again by this thread ({why}), which would block until `{lock}` is free: neither can \
         go on",
        Site::Caller(hold.site),
    );
    fill(&mut finding, holder, hold, blocker, site);
    finding
}

/// `blocker` blocks at `site` on the lock of `hold`, which `holder` holds across an `.await`:
/// the warning becomes an error.
fn escalated(
    holder: &str,
    hold: &Held,
    blocker: &str,
    site: &'static Location<'static>,
) -> Finding {
    let lock = hold.info.display_name();
    let mut finding = Finding::new(
        FindingKind::LockHeldAcrossAwait,
        format!("`{blocker}` blocks on `{lock}`, which task `{holder}` holds across an `.await`"),
    );
    finding.severity = Severity::Error;
    finding.reason = format!(
        "task `{}` took `{lock}` at {} and is suspended with it: the thread of `{blocker}` is \
         blocked, and every task that worker would poll waits, until `{}` is polled again \
         elsewhere and lets it go",
        holder,
        Site::Caller(hold.site),
        holder
    );
    fill(&mut finding, holder, hold, blocker, site);
    finding
}

/// What both findings about a blocked acquisition of a lock held across an `.await` share.
fn fill(
    finding: &mut Finding,
    holder: &str,
    hold: &Held,
    blocker: &str,
    site: &'static Location<'static>,
) {
    finding.locks = vec![hold.info.display_name()];
    finding.threads = vec![holder.to_owned(), blocker.to_owned()];
    finding.site = Some(Site::Caller(site));
    finding.help = Some(format!(
        "in task `{}`, drop the guard before the `.await` (end its scope), or make `{}` an \
         async lock (`lockscan::tokio::Mutex`)",
        holder,
        hold.info.display_name()
    ));
}
