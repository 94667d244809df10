//! `counter`: increments with and without a lock.

use crate::support::run;

const COUNTER: &str = env!("CARGO_BIN_EXE_counter");

#[test]
fn unlocked_increments_get_lost() {
    let run = run(COUNTER, &["unlocked"]);
    run.assert_success()
        .assert_says("8 threads incremented the counter 10000 times each");
    let value = run.number_after("counter value: ");
    assert!((1..=80_000).contains(&value), "{run}");
    if value < 80_000 {
        assert_eq!(
            run.number_after("increments lost: "),
            80_000 - value,
            "{run}"
        );
    }
    let kinds = run.kinds();
    assert!(!kinds.is_empty(), "{run}");
    assert!(kinds.iter().all(|k| k == "data-race"), "{run}");
    assert!(run.report().contains("data race on `counter`"), "{run}");
}

#[test]
fn locked_increments_all_count() {
    run(COUNTER, &["locked"])
        .assert_success()
        .assert_says("counter value: 80000 (expected 80000)")
        .assert_says("no increment was lost")
        .assert_clean();
}
