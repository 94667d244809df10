//! `bank`: transfers, clean and deadlock-prone.

use crate::support::run;

const BANK: &str = env!("CARGO_BIN_EXE_bank");

#[test]
fn locked_re_enters_the_account_lock_and_reports_nothing() {
    run(BANK, &["locked"])
        .assert_success()
        .assert_says("final balance of ACC001: 700\n")
        .assert_says("final balance of ACC002: 800\n")
        .assert_says("total: 1500 (started with 1500)")
        .assert_says("log entries: 400\n")
        .assert_clean();
}

#[test]
fn transfer_reports_the_potential_deadlock_though_the_threads_never_collided() {
    let run = run(BANK, &["transfer"]);
    run.assert_success()
        .assert_says("the threads never collided in this run")
        .assert_says("final balance of ACC001: 800\n")
        .assert_says("final balance of ACC002: 700\n");
    assert_eq!(run.kinds(), ["potential-deadlock"], "{run}");
    let report = run.report();
    assert!(report.contains("error[potential-deadlock]"), "{run}");
    for expected in [
        "`account:ACC001`",
        "`account:ACC002`",
        "thread `transfer-1` acquired",
        "thread `transfer-2` acquired",
        // Both sites drawn on the source, found from the package's folder (where the test runs).
        "--> demos/src/bin/bank.rs:",
        "let mut to = to.lock();",
        "another schedule can deadlock",
    ] {
        assert!(report.contains(expected), "{expected:?} in:\n{run}");
    }
}

#[test]
fn transfer_collide_reports_the_deadlock_and_finishes() {
    let run = run(BANK, &["transfer", "--collide"]);
    run.assert_success()
        .assert_says("total: 1500 (started with 1500)");
    assert_eq!(run.kinds(), ["deadlock", "potential-deadlock"], "{run}");
    assert!(
        run.report().contains(
            "error[deadlock]: deadlock: threads `transfer-1`, `transfer-2` are blocked in a \
                 wait cycle on `account:ACC001`, `account:ACC002`"
        ),
        "{run}"
    );
    // Exactly one thread was unwound, and the other completed its transfer.
    assert_eq!(
        run.stdout
            .matches("was unwound by lockscan instead of deadlocking")
            .count(),
        1,
        "{run}"
    );
    run.assert_one_transfer_happened();
}

#[test]
fn ordered_transfers_report_nothing() {
    run(BANK, &["ordered"])
        .assert_success()
        .assert_says("transfer-1 finished its transfers")
        .assert_says("transfer-2 finished its transfers")
        .assert_says("final balance of ACC001: 900\n")
        .assert_says("final balance of ACC002: 400\n")
        .assert_says("final balance of FEES: 200\n")
        .assert_clean();
}

#[test]
fn race_shows_the_final_balance_and_the_lost_updates() {
    let run = run(BANK, &["race"]);
    run.assert_success()
        .assert_says("10 threads each deposited 1 and withdrew 1, 100 times, starting from 1000");
    let balance = run.number_after("final balance: ");
    let lost = run.number_after("lost updates: ");
    assert!((0..=2_000).contains(&lost), "{run}");
    // Each lost update moves the balance by at most one.
    assert!((balance - 1_000).abs() <= lost, "{run}");
    // The balance is a tracked value: lockscan reports the unsynchronized read-modify-write,
    // once per pair of racing sites, whether or not this run lost an update.
    let kinds = run.kinds();
    assert!(!kinds.is_empty(), "{run}");
    assert!(kinds.iter().all(|k| k == "data-race"), "{run}");
    let report = run.report();
    assert!(report.contains("data race on `balance:ACC001`"), "{run}");
    assert!(report.contains("thread `teller-"), "{run}");
    assert!(report.contains("--> demos/src/bin/bank.rs:"), "{run}");
    assert!(report.contains("self.balance.get()"), "{run}");
}
