//! `async_bank`: transfers between two tokio tasks on the multi-thread runtime.

use crate::support::run;

const ASYNC_BANK: &str = env!("CARGO_BIN_EXE_async_bank");

#[test]
fn transfer_reports_the_task_deadlock_instead_of_hanging_and_finishes() {
    let run = run(ASYNC_BANK, &["transfer"]);
    run.assert_success()
        .assert_says("total: 1500 (started with 1500)");
    assert_eq!(run.kinds(), ["deadlock", "potential-deadlock"], "{run}");
    let report = run.report();
    for expected in [
        "error[deadlock]: deadlock: threads `transfer-1`, `transfer-2` are blocked in a wait \
         cycle on `account:ACC001`, `account:ACC002`",
        "--> demos/src/bin/async_bank.rs:",
        "let mut destination = accounts[to].lock().await;",
        "then is blocked acquiring `account:ACC002` while holding `account:ACC001`",
    ] {
        assert!(report.contains(expected), "{expected:?} in:\n{run}");
    }
    // Exactly one task's lock future panicked; the other task completed its transfer.
    assert_eq!(
        run.stdout
            .matches("lock future panicked with lockscan's report instead of pending forever")
            .count(),
        1,
        "{run}"
    );
    assert_eq!(run.stdout.matches(" moved ").count(), 1, "{run}");
    run.assert_one_transfer_happened();
}

#[test]
fn ordered_transfers_between_tasks_report_nothing() {
    run(ASYNC_BANK, &["ordered"])
        .assert_success()
        .assert_says("transfer-1 moved 100 from ACC001 to ACC002\n")
        .assert_says("transfer-2 moved 50 from ACC002 to ACC001\n")
        .assert_says("final balance of ACC001: 950\n")
        .assert_says("final balance of ACC002: 550\n")
        .assert_clean();
}
