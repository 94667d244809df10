//! `pipeline`: a condition-variable queue, and a wait while holding another lock.

use crate::support::run;

const PIPELINE: &str = env!("CARGO_BIN_EXE_pipeline");

#[test]
fn clean_moves_every_item_and_reports_nothing() {
    run(PIPELINE, &["clean"])
        .assert_success()
        .assert_says("consumed 1000 of 1000 items, sum 500500")
        .assert_clean();
}

#[test]
fn hold_warns_about_the_wait_and_still_finishes() {
    let run = run(PIPELINE, &["hold"]);
    run.assert_success()
        .assert_says("consumed 1000 of 1000 items, sum 500500")
        .assert_says("one consumer took nothing");
    assert_eq!(run.kinds(), ["wait-while-holding"], "{run}");
    assert!(
        run.report().contains(
            "waits on condition variable with `pipeline:queue` while holding `pipeline:stats`"
        ),
        "{run}"
    );
}

#[test]
fn handoff_predicts_a_deadlock_that_the_hand_off_rules_out() {
    let run = run(PIPELINE, &["handoff"]);
    run.assert_success()
        .assert_says("consumer-1 took 5 items, sum 15");
    assert_eq!(run.kinds(), ["potential-deadlock"], "{run}");
    let report = run.report();
    for expected in [
        "`pipeline:queue`",
        "`pipeline:stats`",
        "thread `producer-1`",
        "thread `consumer-1`",
    ] {
        assert!(report.contains(expected), "{expected:?} in:\n{run}");
    }
}
