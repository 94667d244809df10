//! Traces deep and wide in the shapes real programs make: each once crashed the replay, or took
//! memory with the square or cube of its size. Sizes are kept modest so the debug test build
//! stays quick; BENCHMARKS.md measures the full sizes with the release CLI.

use lockscan::analysis::{MAX_ORDER_DEPTH, Replay, TraceResult};
use lockscan::trace::Event;
use lockscan::{FindingKind, Flavour, LockId, Mode, ThreadId};

fn acquire(tid: u64, lock: u64) -> Event {
    acquire_at(tid, lock, None)
}

fn acquire_at(tid: u64, lock: u64, site: Option<lockscan::Site>) -> Event {
    Event::Acquire {
        tid: ThreadId(tid),
        lock: LockId(lock),
        mode: Mode::Exclusive,
        try_lock: false,
        flavour: Flavour::Plain,
        site,
    }
}

fn acquire_in(tid: u64, lock: u64, mode: Mode) -> Event {
    let mut event = acquire(tid, lock);
    if let Event::Acquire { mode: taken, .. } = &mut event {
        *taken = mode;
    }
    event
}

fn release(tid: u64, lock: u64) -> Event {
    release_in(tid, lock, Mode::Exclusive)
}

fn release_in(tid: u64, lock: u64, mode: Mode) -> Event {
    Event::Release {
        tid: ThreadId(tid),
        lock: LockId(lock),
        mode,
        site: None,
    }
}

fn replay(events: impl IntoIterator<Item = Event>) -> TraceResult {
    let mut replay = Replay::default();
    for event in events {
        replay.event(event);
    }
    replay.finish()
}

fn kinds(result: &TraceResult) -> Vec<FindingKind> {
    result.findings.iter().map(|f| f.kind).collect()
}

/// Thread 1 walks locks 1..=n hand over hand, ending with lock `n` held.
fn hand_over_hand(n: u64) -> Vec<Event> {
    let mut events = vec![acquire(1, 1)];
    for lock in 2..=n {
        events.push(acquire(1, lock));
        events.push(release(1, lock - 1));
    }
    events
}

/// Regression: a linked-list walk that locks 60,000 nodes hand over hand overflowed the stack
/// (the strongly-connected-components search recursed once per lock of the chain).
#[test]
fn a_hand_over_hand_walk_of_60k_locks_replays_without_overflowing_the_stack() {
    let n = 60_000;
    let mut events = hand_over_hand(n);
    events.push(release(1, n));
    let result = replay(events);
    assert!(result.findings.is_empty(), "{:?}", kinds(&result));
    assert_eq!(result.edges, n as usize - 1);
}

/// The same chain closed into a ring by one more edge: a cycle far longer than the search's
/// length limit, in a component as large as the chain, still replays without recursion.
#[test]
fn a_60k_lock_ring_replays_without_overflowing_the_stack() {
    let n = 60_000;
    let mut events = hand_over_hand(n);
    events.push(acquire(1, 1));
    events.extend([release(1, 1), release(1, n)]);
    let result = replay(events);
    assert_eq!(result.edges, n as usize);
    assert!(
        !result.complete,
        "the ring is longer than the cycle search's limit"
    );
    // Reported all the same, as what one thread did: an inversion.
    assert_eq!(kinds(&result), [FindingKind::LockOrderInversion]);
    assert_eq!(result.findings[0].locks.len(), n as usize);
}

/// Each thread holds `depth` locks at once, in turn; the second in the opposite order when
/// `reverse`.
fn deep(depth: u64, reverse: bool) -> Vec<Event> {
    let mut events = Vec::new();
    for tid in [1, 2] {
        let order: Vec<u64> = if tid == 2 && reverse {
            (1..=depth).rev().collect()
        } else {
            (1..=depth).collect()
        };
        events.extend(order.iter().map(|&lock| acquire(tid, lock)));
        events.extend(order.iter().rev().map(|&lock| release(tid, lock)));
    }
    events
}

/// Regression: two threads each holding 1,000 locks at once took 13 GB, since every edge kept
/// its own copy of the other held locks. Now one held set per acquisition.
#[test]
fn two_threads_holding_a_thousand_locks_at_once_in_one_order_is_clean() {
    let result = replay(deep(1000, false));
    assert!(result.findings.is_empty(), "{:?}", kinds(&result));
    assert_eq!(result.edges, 1000 * 999 / 2);
}

/// The second thread in the opposite order: locks next to each other in the order form a
/// potential deadlock; any other pair is serialized by the locks between them, which both
/// threads hold (a gated cycle); longer cycles with two edges of one thread are inversions.
/// Regression: in this dense graph the cycle search used to spend its whole budget on long
/// cycles through the first lock and report no potential deadlock at all.
#[test]
fn two_threads_holding_many_locks_in_opposite_orders_are_potential_deadlocks() {
    let result = replay(deep(60, true));
    let count = |kind| result.findings.iter().filter(|f| f.kind == kind).count();
    assert!(
        count(FindingKind::PotentialDeadlock) > 0,
        "{:?}",
        kinds(&result)
    );
    assert!(count(FindingKind::GatedCycle) > 0, "{:?}", kinds(&result));
    for finding in &result.findings {
        assert!(
            matches!(
                finding.kind,
                FindingKind::PotentialDeadlock
                    | FindingKind::GatedCycle
                    | FindingKind::LockOrderInversion
            ),
            "{finding}"
        );
        if finding.kind == FindingKind::PotentialDeadlock {
            assert_eq!(finding.threads.len(), 2, "{finding}");
        }
    }
}

/// One thread holding locks `1..=depth` at once, the innermost in `mode`, then taking `OUTER`
/// and letting all go; then each of `closing` (a thread, a lock and its mode) takes `OUTER`, then
/// that lock.
fn deep_then_closing(depth: u64, mode: Mode, closing: &[(u64, u64, Mode)]) -> Vec<Event> {
    let mut events: Vec<Event> = (1..depth).map(|lock| acquire(1, lock)).collect();
    events.push(acquire_in(1, depth, mode));
    events.push(acquire(1, OUTER));
    events.push(release(1, OUTER));
    events.push(release_in(1, depth, mode));
    events.extend((1..depth).rev().map(|lock| release(1, lock)));
    for &(tid, lock, mode) in closing {
        events.extend([acquire(tid, OUTER), acquire_in(tid, lock, mode)]);
        events.extend([release_in(tid, lock, mode), release(tid, OUTER)]);
    }
    events
}

/// The lock `deep_then_closing` takes last.
const OUTER: u64 = 1_000_000;

/// Regression: one thread holding D locks at once made an edge from every held lock to each
/// new one, D²/2 in all (2,000 held: 2 million edges; 10,000 held: 5.5 GB offline, and live an
/// 8 GiB allocation that aborted). Past `MAX_ORDER_DEPTH` held locks, only the innermost give edges, and a warning says
/// so: the edges grow with the depth times that, not with its square.
#[test]
fn one_thread_holding_two_thousand_locks_takes_edges_from_the_innermost_only() {
    let (depth, window) = (2_000, MAX_ORDER_DEPTH);
    let result = replay(deep_then_closing(depth as u64, Mode::Exclusive, &[]));
    assert!(result.findings.is_empty(), "{:?}", kinds(&result));
    // Every lock among the first `window` gives an edge to each later one; each lock after
    // them gets one from each of the `window` before it, `OUTER` too.
    let expected = window * (window - 1) / 2 + (depth + 1 - window) * window;
    assert_eq!(result.edges, expected);
    assert!(result.edges <= window * (depth + 1));
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    assert!(
        result.warnings[0].contains(&format!("held more than {window} locks at once")),
        "{}",
        result.warnings[0]
    );
}

/// A cycle through a lock held among the innermost `MAX_ORDER_DEPTH` is found at any depth, and
/// classified as at a shallow one: here with the innermost lock held for reading too, which a
/// second reader does not wait for (thread 2) and a writer does (thread 3).
#[test]
fn a_cycle_through_the_innermost_held_locks_is_classified_the_same_at_any_depth() {
    let view = |depth: u64, mode: Mode| {
        let closing = [
            (2, depth, Mode::Shared),
            (3, depth, Mode::Exclusive),
            (4, depth - 5, Mode::Exclusive),
        ];
        let result = replay(deep_then_closing(depth, mode, &closing));
        let shown: Vec<(FindingKind, Vec<String>, usize)> = result
            .findings
            .iter()
            .map(|f| {
                // Which thread a report names first follows where the cycle starts.
                let mut threads = f.threads.clone();
                threads.sort();
                (f.kind, threads, f.locks.len())
            })
            .collect();
        (shown, result.warnings.len())
    };
    for mode in [Mode::Shared, Mode::Exclusive] {
        let (shallow, no_warning) = view(10, mode);
        let (deep, warned) = view(2_000, mode);
        assert_eq!(deep, shallow, "{mode:?}");
        assert_eq!((no_warning, warned), (0, 1));
        // One cycle through the innermost lock (threads 2 and 3 are two ways to close it) and
        // one through the lock five beneath it; a reader cannot close it against a reader.
        let potential: Vec<&Vec<String>> = deep
            .iter()
            .filter(|(kind, ..)| *kind == FindingKind::PotentialDeadlock)
            .map(|(_, threads, _)| threads)
            .collect();
        assert_eq!(potential.len(), 2, "{mode:?}: {deep:?}");
        let reader_named = potential.iter().any(|t| t.contains(&"thread#2".to_owned()));
        assert!(mode == Mode::Exclusive || !reader_named, "{deep:?}");
    }
}

/// The degrade past `MAX_ORDER_DEPTH`, never silent: a cycle through a lock beneath the
/// innermost ones is not found (no edge from it was recorded), and the replay warns that the
/// thread held too many locks for its order to be checked from all of them.
#[test]
fn a_thread_holding_more_locks_than_order_is_checked_from_is_warned_about() {
    let depth = MAX_ORDER_DEPTH as u64 + 10;
    let result = replay(deep_then_closing(
        depth,
        Mode::Exclusive,
        &[(2, 1, Mode::Exclusive)],
    ));
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    assert!(
        result.warnings[0].starts_with("thread `thread#1` held more than"),
        "{}",
        result.warnings[0]
    );
    // One lock less and nothing is left out: the cycle is found, and nothing is said.
    let result = replay(deep_then_closing(
        MAX_ORDER_DEPTH as u64,
        Mode::Exclusive,
        &[(2, 1, Mode::Exclusive)],
    ));
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
}

/// Regression: 20,000 threads spawned and joined one after another, each taking two locks,
/// took 3 GB and 20 s: every thread inherited, and kept, a clock of all threads before it.
#[test]
fn thousands_of_short_threads_spawned_one_after_another_are_clean() {
    let threads = 5_000;
    let mut events = Vec::new();
    for child in 2..threads + 2 {
        events.push(Event::Spawn {
            tid: ThreadId(1),
            child: ThreadId(child),
            site: None,
        });
        events.extend([acquire(child, 1), acquire(child, 2), release(child, 2)]);
        events.push(release(child, 1));
        events.push(Event::Join {
            tid: ThreadId(1),
            child: ThreadId(child),
            site: None,
        });
    }
    // And one inversion by main after all of them: ordered after every thread by the joins.
    events.extend([acquire(1, 2), acquire(1, 1), release(1, 1), release(1, 2)]);
    let result = replay(events);
    assert_eq!(kinds(&result), [FindingKind::LockOrderInversion]);
    assert_eq!(result.threads, threads as usize + 1);
}

/// Threads `1..=n` each holding lock `t`, then each requesting lock `t % n + 1`: a wait cycle
/// of `n` threads.
fn wait_cycle(n: u64) -> TraceResult {
    let mut events: Vec<Event> = (1..=n).map(|t| acquire(t, t)).collect();
    events.extend((1..=n).map(|t| Event::Request {
        tid: ThreadId(t),
        lock: LockId(t % n + 1),
        mode: Mode::Exclusive,
        flavour: Flavour::Plain,
        site: None,
    }));
    replay(events)
}

/// Regression: a wait cycle of more than 64 threads at the end of a trace exited 0 (the search
/// stopped at 64).
#[test]
fn a_wait_cycle_of_a_hundred_threads_is_a_deadlock() {
    let result = wait_cycle(100);
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
    assert_eq!(result.findings[0].threads.len(), 100);
}

/// Regression: a 9-lock order cycle exited 0 with the default cycle length limit of 8.
#[test]
fn a_nine_lock_order_cycle_is_reported_past_the_length_limit() {
    let mut events = Vec::new();
    for t in 1..=9 {
        let (a, b) = (t, t % 9 + 1);
        events.extend([acquire(t, a), acquire(t, b), release(t, b), release(t, a)]);
    }
    let result = replay(events);
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
    assert_eq!(result.findings[0].locks.len(), 9);
    assert!(
        !result.complete,
        "the enumeration itself stopped at 8 locks"
    );
}

/// Regression: a lock-order cycle of 100,000 locks, each edge taken by a thread of its own,
/// was dropped with exit 0 ("the cycle search hit its limits"): classifying the cycle spent
/// its whole step budget choosing one occurrence per edge before it could judge any choice.
#[test]
fn a_lock_order_cycle_of_100k_locks_is_a_potential_deadlock() {
    let n = 100_000;
    let mut events = Vec::with_capacity(4 * n as usize);
    for t in 1..=n {
        let (a, b) = (t, t % n + 1);
        events.extend([acquire(t, a), acquire(t, b), release(t, b), release(t, a)]);
    }
    let result = replay(events);
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
    assert_eq!(result.findings[0].locks.len(), n as usize);
    assert_eq!(result.findings[0].threads.len(), n as usize);
}

/// Regression: a thread waiting on a condition variable under a new outer lock each time (one
/// per request) made one finding per outer lock, 40,400 of them, and memory grew with the run.
/// The waits at the same sites are one finding that counts the others.
#[test]
fn waits_while_holding_forty_thousand_different_outer_locks_are_one_finding() {
    let n = 40_400_u64;
    let site = |line: u32| Some(lockscan::Site::from(format!("waits.rs:{line}:9").as_str()));
    let at = |tid: u64, lock: u64, line: u32| acquire_at(tid, lock, site(line));
    let (queue, ready) = (1, lockscan::CondvarId(1));
    let mut events = Vec::new();
    for outer in 2..n + 2 {
        events.extend([at(1, outer, 20), at(1, queue, 21)]);
        events.push(Event::Wait {
            tid: ThreadId(1),
            condvar: ready,
            lock: LockId(queue),
            site: site(22),
        });
        events.push(Event::Notify {
            tid: ThreadId(2),
            condvar: ready,
            all: false,
            site: site(31),
        });
        events.extend([at(1, queue, 22), release(1, queue), release(1, outer)]);
    }
    let result = replay(events);
    assert_eq!(kinds(&result), [FindingKind::WaitWhileHolding]);
    let reason = &result.findings[0].reason;
    assert!(
        reason.contains(&format!("{} more waits at these sites", n - 1)),
        "{reason}"
    );
}

/// Regression: a wait cycle of 300,000 threads took 23 s: the search through the chain of
/// waiting threads scanned its whole path at every step.
#[test]
fn a_wait_cycle_of_300k_threads_is_a_deadlock() {
    let result = wait_cycle(300_000);
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
    assert_eq!(result.findings[0].threads.len(), 300_000);
}
