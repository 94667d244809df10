//! Steering towards a predicted deadlock (`lockscan::steer`): a pause ends at its bound, or
//! early when the cycle's other threads arrive, and then the wait cycle forms and is reported;
//! a cycle the program cannot have is never made to happen, and nothing hangs.
//!
//! Each test first lets the program predict its cycle (the `potential-deadlock` or other cycle
//! finding, with the sites of the code below), then steers towards that finding, as
//! `lockscan confirm` does.

use std::sync::mpsc;
use std::sync::{Arc, Condvar as StdCondvar, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use lockscan::steer::{self, Cycle, Options};
use lockscan::{Finding, FindingKind, Mutex};

use crate::support::{HANG, findings_about, in_child, run_child, setup, within};

type Account = Arc<Mutex<i64>>;

/// Locks the source, then the destination: the edge every test steers at.
fn transfer(from: &Mutex<i64>, to: &Mutex<i64>) {
    let mut from = from.lock();
    let mut to = to.lock();
    *from -= 1;
    *to += 1;
}

fn named(a: &'static str, b: &'static str) -> (Account, Account) {
    (
        Arc::new(Mutex::named(a, 100)),
        Arc::new(Mutex::named(b, 100)),
    )
}

/// Two threads, alive together, transfer in opposite directions, one after the other: a
/// channel (which lockscan does not see) hands the turn over, so this run cannot collide.
/// Returns their outcomes (whether each finished without unwinding).
fn one_after_the_other(a: &Account, b: &Account, names: [&str; 2]) -> [bool; 2] {
    let (turn, wait_for_turn) = mpsc::channel::<()>();
    let first = {
        let (a, b) = (a.clone(), b.clone());
        thread::Builder::new()
            .name(names[0].into())
            .spawn(move || {
                transfer(&a, &b);
                let _ = turn.send(());
            })
            .unwrap()
    };
    let second = {
        let (a, b) = (a.clone(), b.clone());
        thread::Builder::new()
            .name(names[1].into())
            .spawn(move || {
                let _ = wait_for_turn.recv();
                transfer(&b, &a);
            })
            .unwrap()
    };
    [first.join().is_ok(), second.join().is_ok()]
}

/// Both transfers at once, on two threads: whether each finished without unwinding.
fn at_once(a: &Account, b: &Account, names: [&str; 2]) -> [bool; 2] {
    let spawn = |from: Account, to: Account, name: &str| {
        thread::Builder::new()
            .name(name.into())
            .spawn(move || transfer(&from, &to))
            .unwrap()
    };
    let first = spawn(a.clone(), b.clone(), names[0]);
    let second = spawn(b.clone(), a.clone(), names[1]);
    [first.join().is_ok(), second.join().is_ok()]
}

/// The finding of `kind` about exactly the locks `locks`.
fn finding(kind: FindingKind, locks: &[&str]) -> Finding {
    findings_about(locks)
        .into_iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} about {locks:?} in {:?}", lockscan::findings()))
}

/// The predicted cycle between the accounts `a` and `b` (named `locks`), from the run that
/// took both orders one after the other.
fn predict(a: &Account, b: &Account, locks: [&str; 2], threads: [&str; 2]) -> Cycle {
    assert_eq!(one_after_the_other(a, b, threads), [true, true]);
    let predicted = finding(FindingKind::PotentialDeadlock, &locks);
    Cycle::from_finding(&predicted).expect("a cycle with sites")
}

fn options(pause: Duration) -> Options {
    Options {
        pause,
        budget: pause * 20,
    }
}

#[test]
fn a_pause_ends_at_its_bound_when_no_other_thread_comes() {
    setup();
    let (a, b) = named("steer-bound:A", "steer-bound:B");
    let cycle = predict(
        &a,
        &b,
        ["steer-bound:A", "steer-bound:B"],
        ["steer-bound-1", "steer-bound-2"],
    );
    let steering = steer::steer(cycle, options(Duration::from_millis(50)));
    within(HANG, move || transfer(&a, &b));
    let stats = steering.stats();
    assert_eq!(
        (
            stats.points,
            stats.pauses,
            stats.timeouts,
            stats.released,
            stats.meetings
        ),
        (1, 1, 1, 0, 0),
        "{stats}"
    );
}

#[test]
fn a_pause_ends_when_the_other_thread_arrives_and_the_deadlock_is_reported() {
    setup();
    let (a, b) = named("steer-meet:A", "steer-meet:B");
    let names = ["steer-meet-1", "steer-meet-2"];
    let cycle = predict(&a, &b, ["steer-meet:A", "steer-meet:B"], names);
    // A bound far above the test's run time: only the other thread's arrival ends the pause
    // (a pause that ended at its bound would count as a timeout below).
    let steering = steer::steer(cycle, options(Duration::from_secs(30)));
    let outcome = within(HANG, move || at_once(&a, &b, names));
    let stats = steering.stats();
    // The first thread paused; the second completed the meeting and let it go.
    assert_eq!(
        (
            stats.points,
            stats.pauses,
            stats.released,
            stats.timeouts,
            stats.meetings
        ),
        (2, 1, 1, 0, 1),
        "{stats}"
    );
    // The wait cycle formed: lockscan reported it and unwound one of the two threads.
    let mut outcome = outcome.to_vec();
    outcome.sort();
    assert_eq!(outcome, [false, true]);
    let deadlock = finding(FindingKind::Deadlock, &["steer-meet:A", "steer-meet:B"]);
    let mut threads = deadlock.threads.clone();
    threads.sort();
    assert_eq!(threads, names);
}

#[test]
fn stopping_lets_a_paused_thread_go() {
    setup();
    let (a, b) = named("steer-stop:A", "steer-stop:B");
    let cycle = predict(
        &a,
        &b,
        ["steer-stop:A", "steer-stop:B"],
        ["steer-stop-1", "steer-stop-2"],
    );
    // A bound far above the test's run time: only `stop` ends the pause early.
    let steering = steer::steer(cycle, options(Duration::from_secs(30)));
    let paused = thread::spawn(move || transfer(&a, &b));
    // Once the thread reached the point, it pauses there.
    let since = Instant::now();
    while steering.stats().points == 0 {
        assert!(since.elapsed() < HANG, "the thread never reached its point");
        thread::sleep(Duration::from_millis(1));
    }
    let stats = steering.stop();
    assert_eq!(
        (stats.points, stats.pauses, stats.released, stats.timeouts),
        (1, 1, 1, 0),
        "{stats}"
    );
    assert!(paused.join().is_ok());
}

#[test]
fn a_cycle_ordered_by_spawn_and_join_is_never_made_to_happen() {
    setup();
    let (a, b) = named("steer-join:A", "steer-join:B");
    // One thread after the other, joined: a lock-order inversion, no possible deadlock.
    let sequential = |a: &Account, b: &Account| {
        for (from, to) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
            lockscan::thread::spawn(move || transfer(&from, &to))
                .join()
                .unwrap();
        }
    };
    sequential(&a, &b);
    let inversion = finding(
        FindingKind::LockOrderInversion,
        &["steer-join:A", "steer-join:B"],
    );
    let steering = steer::steer(
        Cycle::from_finding(&inversion).unwrap(),
        options(Duration::from_millis(30)),
    );
    for _ in 0..3 {
        within(HANG, {
            let (a, b) = (a.clone(), b.clone());
            move || sequential(&a, &b)
        });
    }
    let stats = steering.stats();
    assert_eq!(stats.meetings, 0, "{stats}");
    assert_eq!(stats.pauses, 6, "every point paused, alone: {stats}");
    assert!(
        findings_about(&["steer-join:A", "steer-join:B"])
            .iter()
            .all(|f| f.kind != FindingKind::Deadlock)
    );
}

#[test]
fn a_cycle_behind_a_gate_lock_is_never_made_to_happen() {
    setup();
    let gate = Arc::new(Mutex::named("steer-gate:G", ()));
    let (a, b) = named("steer-gate:A", "steer-gate:B");
    let gated = |gate: &Arc<Mutex<()>>, a: &Account, b: &Account| {
        let spawn = |from: Account, to: Account| {
            let gate = gate.clone();
            thread::spawn(move || {
                let _gate = gate.lock();
                transfer(&from, &to);
            })
        };
        let first = spawn(a.clone(), b.clone());
        let second = spawn(b.clone(), a.clone());
        [first.join().is_ok(), second.join().is_ok()]
    };
    assert_eq!(gated(&gate, &a, &b), [true, true]);
    let locks = ["steer-gate:A", "steer-gate:B", "steer-gate:G"];
    let cycle = finding(FindingKind::GatedCycle, &locks);
    let steering = steer::steer(
        Cycle::from_finding(&cycle).unwrap(),
        options(Duration::from_millis(30)),
    );
    for _ in 0..5 {
        let outcome = within(HANG, {
            let (gate, a, b) = (gate.clone(), a.clone(), b.clone());
            move || gated(&gate, &a, &b)
        });
        assert_eq!(outcome, [true, true]);
    }
    let stats = steering.stats();
    assert_eq!(stats.meetings, 0, "{stats}");
    assert_eq!(stats.points, 10, "{stats}");
    assert!(
        findings_about(&locks)
            .iter()
            .all(|f| f.kind != FindingKind::Deadlock)
    );
}

/// A hand-off through a condition variable whose wait cannot time out: the second thread
/// starts its transfer only after the first one's is done and notified.
fn handed_off(a: &Account, b: &Account, names: [&str; 2]) -> [bool; 2] {
    let done = Arc::new((StdMutex::new(false), StdCondvar::new()));
    let first = {
        let (a, b, done) = (a.clone(), b.clone(), done.clone());
        thread::Builder::new()
            .name(names[0].into())
            .spawn(move || {
                transfer(&a, &b);
                *done.0.lock().unwrap() = true;
                done.1.notify_all();
            })
            .unwrap()
    };
    let second = {
        let (a, b, done) = (a.clone(), b.clone(), done.clone());
        thread::Builder::new()
            .name(names[1].into())
            .spawn(move || {
                let guard = done.0.lock().unwrap();
                drop(done.1.wait_while(guard, |done| !*done).unwrap());
                transfer(&b, &a);
            })
            .unwrap()
    };
    [first.join().is_ok(), second.join().is_ok()]
}

#[test]
fn a_cycle_handed_off_through_a_condition_variable_is_never_made_to_happen() {
    setup();
    let (a, b) = named("steer-handoff:A", "steer-handoff:B");
    let names = ["steer-handoff-1", "steer-handoff-2"];
    assert_eq!(handed_off(&a, &b, names), [true, true]);
    // lockscan does not see std's condition variable: the prediction stands...
    let predicted = finding(
        FindingKind::PotentialDeadlock,
        &["steer-handoff:A", "steer-handoff:B"],
    );
    let steering = steer::steer(
        Cycle::from_finding(&predicted).unwrap(),
        options(Duration::from_millis(30)),
    );
    // ...but no pause can make the second transfer overlap the first.
    for _ in 0..3 {
        let outcome = within(HANG, {
            let (a, b) = (a.clone(), b.clone());
            move || handed_off(&a, &b, names)
        });
        assert_eq!(outcome, [true, true]);
    }
    let stats = steering.stats();
    assert_eq!((stats.meetings, stats.timeouts), (0, 6), "{stats}");
}

#[test]
fn the_budget_caps_the_pauses() {
    setup();
    let (a, b) = named("steer-budget:A", "steer-budget:B");
    let cycle = predict(
        &a,
        &b,
        ["steer-budget:A", "steer-budget:B"],
        ["steer-budget-1", "steer-budget-2"],
    );
    let steering = steer::steer(
        cycle,
        Options {
            pause: Duration::from_millis(20),
            budget: Duration::from_millis(50),
        },
    );
    within(HANG, move || {
        for _ in 0..10 {
            transfer(&a, &b);
        }
    });
    let stats = steering.stats();
    assert_eq!(stats.points, 10, "{stats}");
    // 20 + 20 + 10 ms, then nothing left.
    assert_eq!(stats.pauses, 3, "{stats}");
    assert_eq!(stats.over_budget, 7, "{stats}");
}

/// Run in a child process with `LOCKSCAN_STEER` set by the parent.
#[test]
#[ignore = "a scenario that the steering tests run in a child process"]
fn child_transfers_at_once() {
    assert!(in_child(), "run by the steering tests");
    setup();
    let (a, b) = named("steer-env:A", "steer-env:B");
    let outcome = at_once(&a, &b, ["steer-env-1", "steer-env-2"]);
    let deadlocks = findings_about(&["steer-env:A", "steer-env:B"])
        .iter()
        .filter(|f| f.kind == FindingKind::Deadlock)
        .count();
    println!("outcome {outcome:?}, deadlocks: {deadlocks}");
}

#[test]
fn the_environment_names_the_cycle() {
    setup();
    let (a, b) = named("steer-env:A", "steer-env:B");
    let cycle = predict(
        &a,
        &b,
        ["steer-env:A", "steer-env:B"],
        ["steer-env-p1", "steer-env-p2"],
    );
    let spec = cycle.to_string();
    let (ok, output) = run_child(
        "steer::child_transfers_at_once",
        &[
            (steer::STEER_ENV, spec.as_ref()),
            (steer::STEER_PAUSE_ENV, "30000".as_ref()),
        ],
    );
    assert!(ok, "{output}");
    assert!(output.contains("deadlocks: 1"), "{output}");
    assert!(
        output.contains("lockscan-steer: points=2 pauses=1 released=1 timeouts=0 meetings=1"),
        "{output}"
    );
    // A malformed value steers nothing, and says so.
    let (ok, output) = run_child(
        "steer::child_transfers_at_once",
        &[(steer::STEER_ENV, "steer-env:A => steer-env:B".as_ref())],
    );
    assert!(ok, "{output}");
    assert!(output.contains("LOCKSCAN_STEER ignored"), "{output}");
    // Nothing steered: no steering point was set, so none reports its statistics. (Whether the
    // two unsteered transfers happen to deadlock is up to the scheduler: a loaded machine can
    // line them up, so the count of deadlocks proves nothing here.)
    assert!(!output.contains(steer::STATS_LINE_PREFIX), "{output}");
}
