//! `reentrant`: recursion through a re-entrant lock.

use crate::support::run;

const REENTRANT: &str = env!("CARGO_BIN_EXE_reentrant");

#[test]
fn recursion_re_enters_the_lock_and_reports_nothing() {
    let run = run(REENTRANT, &["recursive"]);
    run.assert_success()
        .assert_says("catalog lookups: 30 (2 threads x 15 parts)")
        .assert_clean();
    assert_eq!(
        run.stdout
            .matches("priced the bicycle at 408, holding the catalog lock 4 levels deep")
            .count(),
        2,
        "{run}"
    );
}
