//! `philosophers`: the five-fork cycle, and two ways out of it.

use crate::support::run;

const PHILOSOPHERS: &str = env!("CARGO_BIN_EXE_philosophers");

#[test]
fn naive_reports_the_five_fork_cycle() {
    let run = run(PHILOSOPHERS, &["naive"]);
    run.assert_success();
    let kinds = run.kinds();
    assert!(kinds.contains(&"potential-deadlock".to_owned()), "{run}");
    let cycle = run
        .report()
        .lines()
        .find(|line| line.trim_start().starts_with("= cycle:"))
        .unwrap_or_else(|| panic!("a cycle line in:\n{run}"));
    for fork in 0..5 {
        assert!(cycle.contains(&format!("`fork:{fork}`")), "{cycle}");
    }
    // All five may really deadlock in this run: then lockscan unwound exactly one of them.
    let unwound = run.stdout.matches("was unwound by lockscan").count();
    if kinds.contains(&"deadlock".to_owned()) {
        assert_eq!(unwound, 1, "{run}");
        assert_eq!(kinds, ["deadlock", "potential-deadlock"], "{run}");
    } else {
        assert_eq!(unwound, 0, "{run}");
        assert_eq!(kinds, ["potential-deadlock"], "{run}");
        run.assert_says("meals eaten: 100 of 100");
    }
}

#[test]
fn ordered_forks_report_nothing() {
    run(PHILOSOPHERS, &["ordered"])
        .assert_success()
        .assert_says("philosopher-4 ate 20 of 20 meals")
        .assert_says("meals eaten: 100 of 100")
        .assert_says("fork:0 40, fork:1 40, fork:2 40, fork:3 40, fork:4 40")
        .assert_clean();
}

#[test]
fn the_waiter_makes_the_fork_cycle_a_gated_note() {
    let run = run(PHILOSOPHERS, &["waiter"]);
    run.assert_success()
        .assert_says("meals eaten: 100 of 100")
        .assert_says("the waiter seated at most 4 at a time");
    assert_eq!(run.kinds(), ["gated-cycle"], "{run}");
    assert!(run.report().contains("note[gated-cycle]"), "{run}");
    assert!(run.report().contains("also holding: `waiter`"), "{run}");
}
