//! Findings that the live detector and the trace replay both make: acquiring against declared
//! ranks, waiting on a condition variable while holding other locks, and threads blocked in a
//! wait cycle. Both build them here, so a finding reads the same whichever way it was found.

use crate::finding::{Finding, FindingEdge, FindingKind};
use crate::ids::{LockKind, Mode};
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

/// The edge `from` -> `to` taken by `thread` while holding `held` as well; `blocked`: the
/// thread waited (or would have waited) for `to` there.
fn edge(thread: String, from: LockAt, to: LockAt, held: Vec<String>, blocked: bool) -> FindingEdge {
    FindingEdge {
        from: from.name,
        to: to.name,
        thread,
        from_site: from.site,
        to_site: to.site,
        from_mode: from.mode,
        to_mode: to.mode,
        held,
        blocked,
        backtrace: None,
    }
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
    finding.edges = vec![edge(thread.to_owned(), held, acquired, Vec::new(), false)];
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

/// Thread `thread` locks `again` (a lock of kind `kind`), which it holds already as `held`: a
/// lock that is not re-entrant, so the thread would wait for itself; or, for a read lock taken
/// again with `read`, may wait behind a queued writer ([`reread`]).
pub fn relock(thread: &str, kind: LockKind, held: LockAt, again: LockAt) -> Finding {
    if kind == LockKind::RwLock && held.mode == Mode::Shared && again.mode == Mode::Shared {
        return reread(thread, held, again);
    }
    let reason = match kind {
        LockKind::RwLock => {
            "a read-write lock is not re-entrant: this thread waits for itself".to_owned()
        }
        LockKind::Mutex => {
            "a `Mutex` is not re-entrant: this thread waits for itself forever".to_owned()
        }
        other => format!(
            "a {} is not re-entrant: this thread waits for itself forever",
            other.as_str()
        ),
    };
    let mut finding = Finding::new(
        FindingKind::ApiMisuse,
        format!(
            "thread `{thread}` locked `{}` again while holding it",
            again.name
        ),
    );
    finding.reason = reason;
    finding.locks = vec![again.name.clone()];
    finding.threads = vec![thread.to_owned()];
    finding.site = again.site.clone();
    finding.edges = vec![edge(thread.to_owned(), held, again, Vec::new(), true)];
    finding.help = Some(
        "release the guard first, pass the guarded data down instead of locking again, or use a \
         `ReentrantMutex`"
            .to_owned(),
    );
    finding
}

/// Thread `thread` holds a read lock on a read-write lock (`held`) and calls `read()` on it
/// again (`again`). Nothing blocked: the second read was granted, or is about to be; but with a
/// writer queued between the two it would not be (see the reason), so it is a misuse either way.
fn reread(thread: &str, held: LockAt, again: LockAt) -> Finding {
    let mut finding = Finding::new(
        FindingKind::ApiMisuse,
        format!(
            "thread `{thread}` calls `read()` on `{}` again while holding a read lock on it",
            again.name
        ),
    );
    finding.reason = "`read()` can block behind a queued writer (parking_lot's read-write lock \
                      is task-fair), and that writer waits for this thread's first read lock: \
                      a writer arriving between the two reads deadlocks them both"
        .to_owned();
    finding.locks = vec![again.name.clone()];
    finding.threads = vec![thread.to_owned()];
    finding.site = again.site.clone();
    finding.edges = vec![edge(thread.to_owned(), held, again, Vec::new(), false)];
    finding.help = Some(
        "take the second read lock with `read_recursive()`, or pass the first guard's data down \
         instead of reading again"
            .to_owned(),
    );
    finding
}

/// One thread of a wait cycle: it holds `holds`, which the previous thread of the cycle waits
/// for, and waits for `wants`, which the next one holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedThread {
    /// The thread's name.
    pub thread: String,
    /// The lock it holds that the previous thread waits for, and where it took it.
    pub holds: LockAt,
    /// The lock it waits for, and where it asked.
    pub wants: LockAt,
    /// The other locks it holds.
    pub also_held: Vec<String>,
}

/// Threads blocked in a wait cycle: `cycle` in cycle order, from any thread of it. The finding
/// starts the cycle at the lock whose name sorts first, so that it reads the same whichever
/// thread's request closed the cycle (live, the last one to block; in a trace, the last one
/// replayed).
pub fn deadlock(mut cycle: Vec<BlockedThread>) -> Finding {
    if let Some(first) =
        (0..cycle.len()).min_by(|&a, &b| cycle[a].holds.name.cmp(&cycle[b].holds.name))
    {
        cycle.rotate_left(first);
    }
    let threads: Vec<String> = cycle.iter().map(|b| b.thread.clone()).collect();
    let locks: Vec<String> = cycle.iter().map(|b| b.holds.name.clone()).collect();
    let message = if let [only] = cycle.as_slice() {
        format!(
            "deadlock: thread `{}` is blocked on `{}`, which it holds itself",
            only.thread, only.holds.name
        )
    } else {
        format!(
            "deadlock: threads `{}` are blocked in a wait cycle on `{}`",
            threads.join("`, `"),
            locks.join("`, `")
        )
    };
    let mut finding = Finding::new(FindingKind::Deadlock, message);
    finding.reason = "every thread of the cycle is blocked on a lock held by the next one; none \
                      can go on"
        .to_owned();
    finding.site = cycle.first().and_then(|b| b.wants.site.clone());
    finding.edges = cycle
        .into_iter()
        .map(|b| edge(b.thread, b.holds, b.wants, b.also_held, true))
        .collect();
    finding.locks = locks;
    finding.threads = threads;
    finding.help = Some(
        "acquire these locks in one consistent order everywhere, for example with \
         `lockscan::lock_all`, or give them ranks"
            .to_owned(),
    );
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(thread: &str, holds: &str, wants: &str) -> BlockedThread {
        let at = |name: &str| LockAt {
            name: name.to_owned(),
            site: Some(Site::from(format!("src/{name}.rs:1:1").as_str())),
            mode: Mode::Exclusive,
        };
        BlockedThread {
            thread: thread.to_owned(),
            holds: at(holds),
            wants: at(wants),
            also_held: Vec::new(),
        }
    }

    fn held(mode: Mode, line: u32) -> LockAt {
        LockAt {
            name: "L".to_owned(),
            site: Some(Site::from(format!("src/l.rs:{line}:9").as_str())),
            mode,
        }
    }

    #[test]
    fn a_second_read_says_what_happened_and_what_to_use() {
        let finding = relock(
            "t",
            LockKind::RwLock,
            held(Mode::Shared, 1),
            held(Mode::Shared, 2),
        );
        assert_eq!(finding.kind, FindingKind::ApiMisuse);
        assert_eq!(
            finding.message,
            "thread `t` calls `read()` on `L` again while holding a read lock on it"
        );
        assert!(!finding.edges[0].blocked);
        assert_eq!(finding.site, Some(Site::from("src/l.rs:2:9")));
        // Without the source to draw on, the sites are in the line.
        let text = finding.to_string();
        assert!(
            text.contains(
                "thread `t` calls `read()` on `L` again at src/l.rs:2:9 while holding a read \
                 lock on it (acquired at src/l.rs:1:9)"
            ),
            "{text}"
        );
        assert!(text.contains("`read_recursive()`"), "{text}");
    }

    #[test]
    fn a_relock_of_a_mutex_says_again_not_the_lock_twice() {
        let finding = relock(
            "t",
            LockKind::Mutex,
            held(Mode::Exclusive, 1),
            held(Mode::Exclusive, 2),
        );
        assert_eq!(
            finding.message,
            "thread `t` locked `L` again while holding it"
        );
        let text = finding.to_string();
        assert!(
            text.contains(
                "thread `t` locks `L` again at src/l.rs:2:9 while holding it (acquired at \
                 src/l.rs:1:9)"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_deadlock_reads_the_same_from_whichever_thread_it_was_found() {
        let cycle = vec![
            blocked("t1", "A", "B"),
            blocked("t2", "B", "C"),
            blocked("t3", "C", "A"),
        ];
        let mut rotated = cycle.clone();
        rotated.rotate_left(2);
        let (a, b) = (deadlock(cycle), deadlock(rotated));
        assert_eq!(a, b);
        assert_eq!(
            a.message,
            "deadlock: threads `t1`, `t2`, `t3` are blocked in a wait cycle on `A`, `B`, `C`"
        );
        assert_eq!(a.site, Some(Site::from("src/B.rs:1:1")));
        assert!(a.edges.iter().all(|e| e.blocked));
    }
}
