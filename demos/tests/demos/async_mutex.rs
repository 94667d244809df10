//! `async_mutex`: a std mutex held across `.await` on a current-thread runtime.

use crate::support::run;

const ASYNC_MUTEX: &str = env!("CARGO_BIN_EXE_async_mutex");

#[test]
fn held_reports_the_deadlock_of_the_runtimes_only_thread_instead_of_hanging() {
    let run = run(ASYNC_MUTEX, &["held"]);
    run.assert_success()
        .assert_says("increment was unwound by lockscan instead of blocking the runtime's only thread forever")
        .assert_says("counter: 10\n");
    assert_eq!(run.kinds(), ["deadlock", "lock-held-across-await"], "{run}");
    let report = run.report();
    for expected in [
        "warning[lock-held-across-await]: task `main` holds `counter` across an `.await`",
        "error[deadlock]: deadlock: `increment` blocks its thread on `counter`, which task \
         `main` holds across an `.await` and only this thread can poll",
        // Both sites: where the task blocks, drawn, and where `main` took the lock.
        "*counter.lock().unwrap() += 1;",
        "task `main` took `counter` at demos/src/bin/async_mutex.rs:",
        "a current-thread runtime polls its tasks only on the thread that drives it",
    ] {
        assert!(report.contains(expected), "{expected:?} in:\n{run}");
    }
}

#[test]
fn dropped_before_the_await_reports_nothing() {
    run(ASYNC_MUTEX, &["dropped"])
        .assert_success()
        .assert_says("increment added 1\n")
        .assert_says("counter: 11\n")
        .assert_clean();
}
