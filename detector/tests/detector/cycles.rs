//! Lock-order cycles: reported when they are possible, not otherwise.

use std::sync::{Arc, Barrier};
use std::thread;

use lockscan::{FindingKind, Mode, Mutex, ReentrantMutex, RwLock};

use crate::support::{Step, findings_about, in_turn, kinds_about, setup};

#[test]
fn ab_ba_across_two_threads_taking_turns_is_a_potential_deadlock() {
    setup();
    let a = Mutex::named("seq:A", 0);
    let b = Mutex::named("seq:B", 0);
    // The second waits for the first to finish: these two never overlap, and no deadlock
    // can happen now; nothing lockscan sees orders them.
    in_turn(vec![
        (
            "first",
            Box::new(|| {
                let _a = a.lock();
                let _b = b.lock();
            }),
        ),
        (
            "second",
            Box::new(|| {
                let _b = b.lock();
                let _a = a.lock();
            }),
        ),
    ]);
    let found = findings_about(&["seq:A", "seq:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let finding = &found[0];
    assert_eq!(finding.kind, FindingKind::PotentialDeadlock);
    assert_eq!(finding.locks.len(), 2);
    let mut threads = finding.threads.clone();
    threads.sort();
    assert_eq!(threads, ["first", "second"]);
    for edge in &finding.edges {
        let from = edge.from_site.as_ref().expect("from site");
        let to = edge.to_site.as_ref().expect("to site");
        assert_eq!(
            from.file(),
            Some(file!()),
            "sites point at this test: {edge:?}"
        );
        assert_eq!(to.file(), Some(file!()));
        assert!(
            to.line() > from.line(),
            "the inner lock comes after the outer one"
        );
    }
    let text = finding.to_string();
    assert!(text.contains("error[potential-deadlock]"), "{text}");
    assert!(text.contains("= cycle: `seq:"), "{text}");
    assert!(text.contains("while holding `seq:"), "{text}");
}

#[test]
fn three_threads_in_a_ring_make_a_three_cycle() {
    setup();
    let names = ["ring:A", "ring:B", "ring:C"];
    let locks: Vec<Mutex<()>> = names.iter().map(|n| Mutex::named(*n, ())).collect();
    let locks = &locks;
    in_turn(
        (0..3)
            .map(|i| -> (&str, Step<'_>) {
                (
                    names[i],
                    Box::new(move || {
                        let _first = locks[i].lock();
                        let _second = locks[(i + 1) % 3].lock();
                    }),
                )
            })
            .collect(),
    );
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
    assert_eq!(found[0].edges.len(), 3);
    assert_eq!(found[0].threads.len(), 3);
}

#[test]
fn one_thread_in_both_orders_is_an_inversion() {
    setup();
    let a = Mutex::named("one:A", ());
    let b = Mutex::named("one:B", ());
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    assert_eq!(
        kinds_about(&["one:A", "one:B"]),
        [FindingKind::LockOrderInversion]
    );
}

#[test]
fn a_consistent_order_under_eight_threads_reports_nothing() {
    setup();
    const LOCKS: usize = 6;
    let names: Vec<String> = (0..LOCKS).map(|i| format!("consistent:{i}")).collect();
    let locks: Arc<Vec<Mutex<u64>>> =
        Arc::new(names.iter().map(|n| Mutex::named(n.clone(), 0)).collect());
    let threads: Vec<_> = (0..8u64)
        .map(|seed| {
            let locks = locks.clone();
            thread::spawn(move || {
                let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut next = move || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                };
                for _ in 0..10_000 {
                    // A random subset, always taken in index order.
                    let mask = next() as usize % (1 << LOCKS);
                    let guards: Vec<_> = (0..LOCKS)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| locks[i].lock())
                        .collect();
                    drop(guards);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(findings_about(&refs), []);
}

#[test]
fn try_lock_in_reverse_order_is_not_reported() {
    setup();
    let a = Mutex::named("try:A", ());
    let b = Mutex::named("try:B", ());
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    thread::scope(|s| {
        s.spawn(|| {
            let _b = b.lock();
            // Cannot block, so cannot deadlock: the usual back-off pattern.
            let a = a.try_lock();
            assert!(a.is_some());
        });
    });
    assert_eq!(findings_about(&["try:A", "try:B"]), []);
}

#[test]
fn a_lock_taken_with_try_lock_is_still_a_source_of_edges() {
    setup();
    let a = Mutex::named("trysrc:A", ());
    let b = Mutex::named("trysrc:B", ());
    in_turn(vec![
        (
            "trysrc-first",
            Box::new(|| {
                let _a = a.try_lock().unwrap();
                let _b = b.lock(); // a -> b, from a lock taken by try_lock
            }),
        ),
        (
            "trysrc-second",
            Box::new(|| {
                let _b = b.lock();
                let _a = a.lock();
            }),
        ),
    ]);
    assert_eq!(
        kinds_about(&["trysrc:A", "trysrc:B"]),
        [FindingKind::PotentialDeadlock]
    );
}

#[test]
fn reentrant_recursion_is_not_reported() {
    setup();
    let outer = ReentrantMutex::named("reent:outer", ());
    let inner = Mutex::named("reent:inner", 0);
    fn recurse(outer: &ReentrantMutex<()>, inner: &Mutex<i32>, depth: u32) {
        let _o = outer.lock();
        *inner.lock() += 1;
        if depth > 0 {
            recurse(outer, inner, depth - 1);
        }
    }
    recurse(&outer, &inner, 10);
    assert_eq!(*inner.lock(), 11);
    assert_eq!(findings_about(&["reent:outer", "reent:inner"]), []);
}

#[test]
fn a_gate_lock_makes_a_note_only() {
    setup();
    let gate = Arc::new(Mutex::named("gate:G", ()));
    let a = Arc::new(Mutex::named("gate:A", ()));
    let b = Arc::new(Mutex::named("gate:B", ()));
    let (g1, a1, b1) = (gate.clone(), a.clone(), b.clone());
    thread::spawn(move || {
        let _g = g1.lock();
        let _a = a1.lock();
        let _b = b1.lock();
    })
    .join()
    .unwrap();
    thread::spawn(move || {
        let _g = gate.lock();
        let _b = b.lock();
        let _a = a.lock();
    })
    .join()
    .unwrap();
    let found = findings_about(&["gate:A", "gate:B", "gate:G"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::GatedCycle);
    assert_eq!(found[0].severity, lockscan::Severity::Note);
    assert!(
        found[0].reason.contains("gate lock `gate:G`"),
        "{}",
        found[0].reason
    );
}

#[test]
fn read_read_cycles_cannot_block_and_are_not_reported() {
    setup();
    let a = RwLock::named("rw:A", ());
    let b = RwLock::named("rw:B", ());
    thread::scope(|s| {
        s.spawn(|| {
            let _a = a.read();
            let _b = b.read();
        })
        .join()
        .unwrap();
        s.spawn(|| {
            let _b = b.read();
            let _a = a.read();
        })
        .join()
        .unwrap();
    });
    assert_eq!(findings_about(&["rw:A", "rw:B"]), []);
}

#[test]
fn write_cycles_on_rwlocks_are_reported_with_modes() {
    setup();
    let a = RwLock::named("rww:A", ());
    let b = RwLock::named("rww:B", ());
    in_turn(vec![
        (
            "rww-first",
            Box::new(|| {
                let _a = a.read();
                let _b = b.write();
            }),
        ),
        (
            "rww-second",
            Box::new(|| {
                let _b = b.read();
                let _a = a.write();
            }),
        ),
    ]);
    let found = findings_about(&["rww:A", "rww:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
    assert!(
        found[0]
            .edges
            .iter()
            .all(|e| e.from_mode == Mode::Shared && e.to_mode == Mode::Exclusive)
    );
}

#[test]
fn each_distinct_cycle_is_reported_once() {
    setup();
    let a = Mutex::named("once:A", ());
    let b = Mutex::named("once:B", ());
    for _ in 0..1000 {
        thread::scope(|s| {
            s.spawn(|| {
                let _a = a.lock();
                let _b = b.lock();
            })
            .join()
            .unwrap();
            s.spawn(|| {
                let _b = b.lock();
                let _a = a.lock();
            })
            .join()
            .unwrap();
        });
    }
    assert_eq!(findings_about(&["once:A", "once:B"]).len(), 1);
}

#[test]
fn unnamed_locks_are_reported_by_their_creation_site() {
    setup();
    let a = Mutex::new(());
    let b = Mutex::new(());
    let a_line = line!() - 2;
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    let class = format!("{}:{a_line}:13", file!());
    let found: Vec<_> = lockscan::findings()
        .into_iter()
        .filter(|f| f.locks.contains(&class))
        .collect();
    assert_eq!(found.len(), 1, "no finding names {class}");
    assert_eq!(found[0].kind, FindingKind::LockOrderInversion);
}

#[test]
fn a_panic_while_holding_locks_leaves_the_state_consistent() {
    setup();
    let a = Arc::new(Mutex::named("panic:A", ()));
    let b = Arc::new(Mutex::named("panic:B", ()));
    let c = Arc::new(Mutex::named("panic:C", ()));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _a = a.lock();
        let _b = b.lock();
        panic!("boom while holding two locks");
    }));
    assert!(result.is_err());
    // parking_lot locks are not poisoned, and unwinding ran the guards: nothing is held.
    assert!(!a.is_locked() && !b.is_locked());
    // If the panic had left `panic:A` on this thread's held stack, this would record
    // `panic:A -> panic:C` and the reverse order below would be a cycle.
    drop(c.lock());
    let (a2, c2) = (a.clone(), c.clone());
    thread::spawn(move || {
        let _c = c2.lock();
        let _a = a2.lock();
    })
    .join()
    .unwrap();
    assert_eq!(findings_about(&["panic:A", "panic:B", "panic:C"]), []);
    // And the order the panicking code recorded is still known (an inversion: the spawn
    // orders it before the reverse order, on every platform with `lockscan::thread`).
    lockscan::thread::spawn(move || {
        let _b = b.lock();
        let _a = a.lock();
    })
    .join()
    .unwrap();
    assert_eq!(
        kinds_about(&["panic:A", "panic:B", "panic:C"]),
        [FindingKind::LockOrderInversion]
    );
}

#[test]
fn many_threads_taking_one_edge_do_not_grow_it() {
    setup();
    let a = Arc::new(Mutex::named("pool:A", ()));
    let b = Arc::new(Mutex::named("pool:B", ()));
    let barrier = Arc::new(Barrier::new(16));
    // The reverse order waits for the sixteen through a channel lockscan does not see: spawned
    // with them, it is concurrent with them.
    let (done, all_done) = std::sync::mpsc::channel();
    let reverse = {
        let (a, b) = (a.clone(), b.clone());
        thread::spawn(move || {
            for _ in 0..16 {
                all_done.recv().unwrap();
            }
            let _b = b.lock();
            let _a = a.lock();
        })
    };
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (a, b, barrier, done) = (a.clone(), b.clone(), barrier.clone(), done.clone());
            thread::spawn(move || {
                barrier.wait();
                {
                    let _a = a.lock();
                    let _b = b.lock();
                }
                done.send(()).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    reverse.join().unwrap();
    let found = findings_about(&["pool:A", "pool:B"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
}

#[test]
fn orders_separated_by_a_lockscan_spawn_are_an_inversion() {
    setup();
    let a = Arc::new(Mutex::named("spawned:A", ()));
    let b = Arc::new(Mutex::named("spawned:B", ()));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    // Spawned after the first order: this run could not deadlock, the order is still wrong.
    let (a2, b2) = (a.clone(), b.clone());
    lockscan::thread::spawn(move || {
        let _b = b2.lock();
        let _a = a2.lock();
    })
    .join()
    .unwrap();
    let found = findings_about(&["spawned:A", "spawned:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::LockOrderInversion);
    assert!(
        found[0].reason.contains("spawn or join"),
        "{}",
        found[0].reason
    );
}

#[test]
fn orders_separated_by_a_lockscan_join_are_an_inversion() {
    setup();
    let a = Arc::new(Mutex::named("joined:A", ()));
    let b = Arc::new(Mutex::named("joined:B", ()));
    let (a2, b2) = (a.clone(), b.clone());
    lockscan::thread::spawn(move || {
        let _a = a2.lock();
        let _b = b2.lock();
    })
    .join()
    .unwrap();
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    assert_eq!(
        kinds_about(&["joined:A", "joined:B"]),
        [FindingKind::LockOrderInversion]
    );
}

#[test]
fn unordered_lockscan_threads_are_a_potential_deadlock() {
    setup();
    let a = Arc::new(Mutex::named("unordered:A", ()));
    let b = Arc::new(Mutex::named("unordered:B", ()));
    // Both spawned before either takes a lock, and joined only at the end: nothing orders the
    // two orders, even though the handoff below makes them run one after the other.
    let (tx, rx) = std::sync::mpsc::channel();
    let (a1, b1) = (a.clone(), b.clone());
    let first = lockscan::thread::spawn(move || {
        let _a = a1.lock();
        let _b = b1.lock();
        drop((_a, _b));
        tx.send(()).unwrap();
    });
    let (a2, b2) = (a.clone(), b.clone());
    let second = lockscan::thread::spawn(move || {
        rx.recv().unwrap();
        let _b = b2.lock();
        let _a = a2.lock();
    });
    first.join().unwrap();
    second.join().unwrap();
    assert_eq!(
        kinds_about(&["unordered:A", "unordered:B"]),
        [FindingKind::PotentialDeadlock]
    );
}

/// A notify → wake-up does not order a cycle's edges, even in a handshake like this one: the
/// wake-up of this run proves nothing about another schedule in general (a wait that timed
/// out, another notifier, a chain of notifies through condition variables that have nothing to
/// do with the locks), and lockscan cannot see the predicate that makes this handshake hold in
/// every schedule. Regression: in a stress program, unrelated condition-variable traffic turned
/// a real AB/BA cycle into a `lock-order-inversion` ("could not deadlock").
#[test]
fn orders_separated_by_a_condvar_notify_stay_a_potential_deadlock() {
    setup();
    let a = Arc::new(Mutex::named("notified:A", ()));
    let b = Arc::new(Mutex::named("notified:B", ()));
    let gate = Arc::new((
        Mutex::named("notified:gate", false),
        lockscan::Condvar::new(),
    ));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let waiter = {
        let (a, b, gate) = (a.clone(), b.clone(), gate.clone());
        // A std thread: nothing but the notify orders it after the other order.
        thread::spawn(move || {
            let mut go = gate.0.lock();
            // Sent while holding the mutex: the notifier can only take it once this thread
            // waits, so the notify cannot be lost.
            ready_tx.send(()).unwrap();
            gate.1.wait_while(&mut go, |go| !*go);
            drop(go);
            let _b = b.lock();
            let _a = a.lock();
        })
    };
    ready_rx.recv().unwrap();
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    *gate.0.lock() = true;
    gate.1.notify_one();
    waiter.join().unwrap();
    assert_eq!(
        kinds_about(&["notified:A", "notified:B", "notified:gate"]),
        [FindingKind::PotentialDeadlock]
    );
}

/// Regression: a panic in the closure of `MutexGuard::unlocked` skipped the detector's relock,
/// so the lock was held again (parking_lot relocks while unwinding) but not recorded, its next
/// order edge was lost and the cycle below went unreported.
#[test]
fn a_panic_inside_unlocked_keeps_the_lock_recorded_as_held() {
    setup();
    let a = Mutex::named("unlocked-panic:A", ());
    let b = Mutex::named("unlocked-panic:B", ());
    let mut guard = a.lock();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lockscan::MutexGuard::unlocked(&mut guard, || panic!("boom with the lock released"))
    }));
    assert!(result.is_err());
    assert!(
        a.is_locked(),
        "parking_lot took the lock again while unwinding"
    );
    drop(b.lock()); // A -> B, with A held again
    drop(guard);
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    assert_eq!(
        kinds_about(&["unlocked-panic:A", "unlocked-panic:B"]),
        [FindingKind::LockOrderInversion]
    );
}

/// The same for a write guard of an `RwLock`.
#[test]
fn a_panic_inside_a_write_guards_unlocked_keeps_it_recorded() {
    setup();
    let a = RwLock::named("unlocked-panic-rw:A", ());
    let b = Mutex::named("unlocked-panic-rw:B", ());
    let mut guard = a.write();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lockscan::RwLockWriteGuard::unlocked(&mut guard, || panic!("boom"))
    }));
    assert!(result.is_err());
    drop(b.lock());
    drop(guard);
    {
        let _b = b.lock();
        let _a = a.write();
    }
    assert_eq!(
        kinds_about(&["unlocked-panic-rw:A", "unlocked-panic-rw:B"]),
        [FindingKind::LockOrderInversion]
    );
}

/// The sites of an edge of a finding, as lines of this file.
fn edge_lines(finding: &lockscan::Finding, from: &str, to: &str) -> (u32, u32) {
    let edge = finding
        .edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .unwrap_or_else(|| panic!("an edge {from} -> {to} in {finding:#?}"));
    let line = |site: &Option<lockscan::Site>| {
        let site = site.as_ref().expect("a site");
        assert_eq!(site.file(), Some(file!()));
        site.line().expect("a line")
    };
    (line(&edge.from_site), line(&edge.to_site))
}

#[test]
fn a_lock_only_ever_taken_inside_another_closes_the_cycle_once_it_becomes_a_source() {
    setup();
    let a = Mutex::named("deferred:A", ());
    let b = Mutex::named("deferred:B", ());
    let warm = Mutex::named("deferred:warm", ());
    let lines = std::sync::Mutex::new((0, 0));
    // The first step's `A -> B` waits in `B`, which nothing was taken inside yet: the second
    // step makes `B` a source, and the cycle must come out with the first step's sites.
    in_turn(vec![
        (
            "first",
            Box::new(|| {
                let (_a, a_line) = (a.lock(), line!());
                // `A` is a node of the graph after its first edge out.
                drop(warm.lock());
                let (_b, b_line) = (b.lock(), line!());
                *lines.lock().unwrap() = (a_line, b_line);
            }),
        ),
        (
            "second",
            Box::new(|| {
                let _b = b.lock();
                let _a = a.lock();
            }),
        ),
    ]);
    let found = findings_about(&["deferred:A", "deferred:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
    let (a_line, b_line) = *lines.lock().unwrap();
    assert_eq!(
        edge_lines(&found[0], "deferred:A", "deferred:B"),
        (a_line, b_line)
    );
    let mut threads = found[0].threads.clone();
    threads.sort();
    assert_eq!(threads, ["first", "second"]);
}

#[test]
fn edges_waiting_in_a_chain_of_locks_enter_the_graph_when_its_last_becomes_a_source() {
    setup();
    let names = ["chain:A", "chain:X", "chain:W"];
    let [a, x, w] = names.map(|name| Mutex::named(name, ()));
    let (outside, warm) = (Mutex::new(()), Mutex::new(()));
    {
        let _a = a.lock();
        // `A` is a node of the graph after its first edge out.
        drop(warm.lock());
        // Waits in `X`: `A` is a node, `X` is not.
        drop(x.lock());
    }
    {
        // `X` a node of the graph too (an edge into it from a lock that is not), no source.
        let _outside = outside.lock();
        drop(x.lock());
    }
    {
        // Waits in `W`: `X` is a node, `W` is not.
        let _x = x.lock();
        drop(w.lock());
    }
    assert!(findings_about(&names).is_empty());
    {
        // `W` becomes a source: `X -> W` enters the graph, which makes `X` one, so `A -> X`
        // enters too and closes `A -> X -> W -> A`.
        let _w = w.lock();
        drop(a.lock());
    }
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::LockOrderInversion);
    let mut locks = found[0].locks.clone();
    locks.sort();
    assert_eq!(locks, ["chain:A", "chain:W", "chain:X"]);
}

#[test]
fn an_edge_deferred_while_its_lock_becomes_a_source_elsewhere_still_closes_the_cycle() {
    setup();
    for round in 0..20 {
        let names = [
            format!("race{round}:A"),
            format!("race{round}:X"),
            format!("race{round}:B"),
        ];
        let [a, x, b] = names.each_ref().map(|name| Mutex::named(name.clone(), ()));
        let warm = Mutex::new(());
        {
            // `A` a node of the graph, and `B -> A` in it.
            let _a = a.lock();
            drop(warm.lock());
        }
        {
            let _b = b.lock();
            drop(a.lock());
        }
        // One thread defers `A -> X` while the other makes `X` a source with `X -> B`: in
        // either order, `A -> X -> B -> A` is found.
        let start = Barrier::new(2);
        thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                let _a = a.lock();
                drop(x.lock());
            });
            s.spawn(|| {
                start.wait();
                let _x = x.lock();
                drop(b.lock());
            });
        });
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let found = findings_about(&names);
        assert_eq!(found.len(), 1, "round {round}: {found:#?}");
        assert_eq!(found[0].locks.len(), 3, "round {round}: {found:#?}");
    }
}

#[test]
fn a_lock_that_becomes_a_source_in_its_first_hold_closes_the_cycle_with_its_first_edge() {
    setup();
    let names = ["first-hold:A", "first-hold:X", "first-hold:B"];
    let [a, x, b] = names.map(|name| Mutex::named(name, ()));
    let warm = Mutex::new(());
    let lines = std::sync::Mutex::new((0, 0));
    in_turn(vec![
        (
            "first",
            Box::new(|| {
                let (guard_a, a_line) = (a.lock(), line!());
                // `A` is a node of the graph after its first edge out.
                drop(warm.lock());
                // `A -> X` waits in this thread's table (the first acquisition of `X`), and
                // `X -> B`, in the same hold, makes `X` a source: `A -> X` must go first.
                let (_x, x_line) = (x.lock(), line!());
                drop(guard_a);
                drop(b.lock());
                *lines.lock().unwrap() = (a_line, x_line);
            }),
        ),
        (
            "second",
            Box::new(|| {
                let _b = b.lock();
                let _a = a.lock();
            }),
        ),
    ]);
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (a_line, x_line) = *lines.lock().unwrap();
    assert_eq!(
        edge_lines(&found[0], "first-hold:A", "first-hold:X"),
        (a_line, x_line)
    );
}

#[test]
fn a_lock_read_by_its_first_thread_becomes_a_source_in_another_that_reads_it_meanwhile() {
    setup();
    let names = ["shared-first:A", "shared-first:X", "shared-first:C"];
    let a = Mutex::named(names[0], ());
    let x = RwLock::named(names[1], ());
    let c = Mutex::named(names[2], ());
    let warm = Mutex::new(());
    let lines = std::sync::Mutex::new((0, 0));
    let (held, done) = (Barrier::new(2), Barrier::new(2));
    thread::scope(|s| {
        s.spawn(|| {
            let (guard_a, a_line) = (a.lock(), line!());
            drop(warm.lock());
            // `A -> X` waits in this thread's table while it still reads `X`.
            let (_x, x_line) = (x.read(), line!());
            drop(guard_a);
            *lines.lock().unwrap() = (a_line, x_line);
            held.wait();
            done.wait();
        });
        s.spawn(|| {
            held.wait();
            // Reads `X` while the first thread does, and makes it a source.
            let _x = x.read();
            drop(c.lock());
            done.wait();
        });
    });
    {
        // A writer of `X` waits for `C`, whose holder waits for `A`: with `A -> X`, a
        // deadlock.
        let _x = x.write();
        drop(c.lock());
    }
    {
        let _c = c.lock();
        drop(a.lock());
    }
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (a_line, x_line) = *lines.lock().unwrap();
    assert_eq!(
        edge_lines(&found[0], "shared-first:A", "shared-first:X"),
        (a_line, x_line)
    );
}

#[test]
fn an_edge_deferred_by_a_thread_that_ended_still_closes_the_cycle() {
    setup();
    let names = ["ended:A", "ended:X", "ended:B"];
    let [a, x, b] = names.map(|name| Mutex::named(name, ()));
    let warm = Mutex::new(());
    thread::scope(|s| {
        s.spawn(|| {
            let _a = a.lock();
            drop(warm.lock());
            // Waits in this thread's table, which outlives the thread.
            drop(x.lock());
        });
    });
    {
        let _x = x.lock();
        drop(b.lock());
    }
    {
        let _b = b.lock();
        drop(a.lock());
    }
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].locks.len(), 3, "{found:#?}");
}
