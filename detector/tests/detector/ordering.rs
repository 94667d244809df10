//! `lock_all` and `lock_both`: locks taken in one global order cannot deadlock, whatever order
//! the callers name them in, and lockscan still sees every acquisition.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use lockscan::{FindingKind, Mutex};

use crate::support::{HANG, findings_about, in_turn, kinds_about, setup, within};

/// Transfers per thread; two threads go in opposite directions.
const TRANSFERS: usize = 50_000;

fn account(name: &str, balance: i64) -> Arc<Mutex<i64>> {
    Arc::new(Mutex::named(name.to_owned(), balance))
}

#[test]
fn opposite_transfers_through_lock_both_neither_deadlock_nor_report() {
    setup();
    let names = ["ordering:both:A", "ordering:both:B"];
    let balances = within(HANG, move || {
        let a = account(names[0], 1_000);
        let b = account(names[1], 1_000);
        let transfer = |from: Arc<Mutex<i64>>, to: Arc<Mutex<i64>>| {
            thread::spawn(move || {
                for _ in 0..TRANSFERS {
                    let (mut from, mut to) = lockscan::lock_both(&*from, &*to);
                    *from -= 1;
                    *to += 1;
                }
            })
        };
        let a_to_b = transfer(a.clone(), b.clone());
        let b_to_a = transfer(b.clone(), a.clone());
        a_to_b.join().expect("no thread was unwound");
        b_to_a.join().expect("no thread was unwound");
        // One at a time: `(*a.lock(), *b.lock())` would hold both, in an order of its own.
        let a_balance = *a.lock();
        let b_balance = *b.lock();
        (a_balance, b_balance)
    });
    assert_eq!(balances, (1_000, 1_000));
    assert_eq!(findings_about(&names), []);
}

#[test]
fn opposite_transfers_through_lock_all_neither_deadlock_nor_report() {
    setup();
    let names = ["ordering:all:A", "ordering:all:B", "ordering:all:C"];
    let total = within(HANG, move || {
        let accounts: Arc<Vec<Mutex<i64>>> =
            Arc::new(names.iter().map(|n| Mutex::named(*n, 1_000)).collect());
        // One thread passes an array in index order, the other a slice in reverse order.
        let forward = {
            let accounts = accounts.clone();
            thread::spawn(move || {
                for _ in 0..TRANSFERS {
                    let [mut a, mut b, mut c] =
                        lockscan::lock_all([&accounts[0], &accounts[1], &accounts[2]]);
                    *a -= 2;
                    *b += 1;
                    *c += 1;
                }
            })
        };
        let backward = {
            let accounts = accounts.clone();
            thread::spawn(move || {
                let reversed: Vec<&Mutex<i64>> = accounts.iter().rev().collect();
                for _ in 0..TRANSFERS {
                    let mut guards = lockscan::lock_all(reversed.as_slice());
                    *guards[0] -= 2; // accounts[2]
                    *guards[1] += 1;
                    *guards[2] += 1;
                }
            })
        };
        forward.join().expect("no thread was unwound");
        backward.join().expect("no thread was unwound");
        accounts.iter().map(|a| *a.lock()).collect::<Vec<i64>>()
    });
    let expected_a = 1_000 - 2 * TRANSFERS as i64 + TRANSFERS as i64;
    let expected_c = 1_000 + TRANSFERS as i64 - 2 * TRANSFERS as i64;
    assert_eq!(
        total,
        [expected_a, 1_000 + 2 * TRANSFERS as i64, expected_c]
    );
    assert_eq!(findings_about(&names), []);
}

#[test]
fn guards_come_back_in_argument_order() {
    setup();
    let locks: Vec<Mutex<usize>> = (0..5)
        .map(|i| Mutex::named(format!("ordering:args:{i}"), i))
        .collect();
    // Touch them in a scrambled order, so that the sequence order differs from the index order.
    for i in [3, 1, 4, 0, 2] {
        let _ = locks[i].sequence();
    }
    let picked = vec![&locks[4], &locks[0], &locks[3], &locks[1]];
    let guards = lockscan::lock_all(picked);
    assert_eq!(guards.iter().map(|g| **g).collect::<Vec<_>>(), [4, 0, 3, 1]);
    drop(guards);
    let (two, three) = lockscan::lock_both(&locks[2], &locks[3]);
    assert_eq!((*two, *three), (2, 3));
}

#[test]
fn the_locks_are_taken_through_mutex_lock_and_recorded_at_the_callers_line() {
    setup();
    let a = Mutex::named("ordering:seen:A", ());
    let b = Mutex::named("ordering:seen:B", ());
    let taken_at = std::sync::OnceLock::new();
    in_turn(vec![
        (
            "ordering-seen-both",
            Box::new(|| {
                let (line, guards) = (line!(), lockscan::lock_both(&a, &b));
                taken_at.set(line).unwrap();
                drop(guards);
            }),
        ),
        (
            "ordering-seen-by-hand",
            Box::new(|| {
                // By hand, against the order `lock_both` used (whichever it was): a cycle.
                let (first, second) = if a.sequence() < b.sequence() {
                    (&b, &a)
                } else {
                    (&a, &b)
                };
                let _first = first.lock();
                let _second = second.lock();
            }),
        ),
    ]);
    let line = *taken_at.get().unwrap();
    let found = findings_about(&["ordering:seen:A", "ordering:seen:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
    let through_lock_both = found[0]
        .edges
        .iter()
        .find(|edge| edge.to_site.as_ref().and_then(|site| site.line()) == Some(line))
        .unwrap_or_else(|| panic!("an edge at line {line}: {:#?}", found[0].edges));
    assert_eq!(
        through_lock_both.to_site.as_ref().unwrap().file(),
        Some(file!())
    );
    assert_eq!(
        through_lock_both.from_site.as_ref().unwrap().line(),
        Some(line)
    );
}

#[test]
fn the_same_mutex_twice_panics_before_locking_anything() {
    setup();
    let a = Mutex::named("ordering:dup:A", 0);
    let b = Mutex::named("ordering:dup:B", 0);
    let message = |result: Result<(), Box<dyn std::any::Any + Send>>| -> String {
        let payload = result.expect_err("a duplicate must panic");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .expect("a text message")
    };
    let all = message(catch_unwind(AssertUnwindSafe(|| {
        let _guards = lockscan::lock_all([&b, &a, &b]);
    })));
    assert!(all.contains("same mutex is at positions 0 and 2"), "{all}");
    let both = message(catch_unwind(AssertUnwindSafe(|| {
        let _guards = lockscan::lock_both(&a, &a);
    })));
    assert!(both.contains("same mutex"), "{both}");
    assert!(!a.is_locked() && !b.is_locked());
    assert_eq!(findings_about(&["ordering:dup:A", "ordering:dup:B"]), []);
}

#[test]
fn a_failed_acquisition_releases_the_locks_already_taken() {
    setup();
    let first = Mutex::named("ordering:unwind:first", ());
    let held = Mutex::named("ordering:unwind:held", ());
    // Ids on first use: `first` comes before `held` in the global order.
    assert!(first.sequence() < held.sequence());
    let _held = held.lock();
    let result = catch_unwind(AssertUnwindSafe(|| {
        // Takes `first`, then re-locks `held`, which this thread holds: lockscan unwinds.
        let _guards = lockscan::lock_all([&held, &first]);
    }));
    assert!(result.is_err(), "re-locking a held mutex must unwind");
    assert!(!first.is_locked(), "the guard of `first` was dropped");
    assert!(
        kinds_about(&["ordering:unwind:first", "ordering:unwind:held"])
            .contains(&FindingKind::ApiMisuse)
    );
}

#[test]
fn ranked_locks_are_taken_in_rank_order() {
    setup();
    // The higher-ranked lock is used first, so it has the lower sequence: rank must win.
    let journal = Mutex::named("ordering:rank:journal", ()).with_rank(2);
    let _ = journal.sequence();
    let ledger = Mutex::named("ordering:rank:ledger", ()).with_rank(1);
    assert!(journal.sequence() < ledger.sequence());
    for _ in 0..3 {
        drop(lockscan::lock_both(&journal, &ledger));
        drop(lockscan::lock_all([&ledger, &journal]));
    }
    assert_eq!(
        findings_about(&["ordering:rank:journal", "ordering:rank:ledger"]),
        []
    );
}
