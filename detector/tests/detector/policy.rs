//! Policies that act on the whole process (the default panic, `LOCKSCAN_ON_FINDING`, hooks),
//! tested in child processes: this binary runs itself with one child test selected.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lockscan::Mutex;

use crate::support::{Capture, in_child, run_child, run_child_with};

/// The scenario of the children: AB on one thread, then BA on another, which was spawned
/// before and waited through a channel (lockscan does not see it): as far as lockscan knows,
/// the two orders are concurrent.
fn ab_then_ba() {
    let a = Arc::new(Mutex::named("child:A", ()));
    let b = Arc::new(Mutex::named("child:B", ()));
    let (go, wait) = std::sync::mpsc::channel();
    let (a2, b2) = (a.clone(), b.clone());
    let second = std::thread::spawn(move || {
        wait.recv().unwrap();
        let _b = b2.lock();
        let _a = a2.lock();
    });
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    go.send(()).unwrap();
    second.join().expect("the second thread panicked");
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_ab_then_ba() {
    assert!(in_child(), "run by the policy tests");
    ab_then_ba();
    println!("child finished; findings: {}", lockscan::findings().len());
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_with_hook() {
    assert!(in_child(), "run by the policy tests");
    {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        lockscan::set_policy(lockscan::Policy::Collect);
        lockscan::set_finding_hook(|finding| {
            CALLS.fetch_add(1, Ordering::SeqCst);
            println!("hook saw {}", finding.kind);
        });
        ab_then_ba();
        ab_then_ba();
        println!("hook calls: {}", CALLS.load(Ordering::SeqCst));
    }
}

#[test]
fn the_default_policy_panics_at_the_acquisition_that_closes_the_cycle() {
    let (ok, output) = run_child("policy::child_ab_then_ba", &[]);
    assert!(!ok, "the child must fail:\n{output}");
    assert!(
        output.contains("lockscan: error[potential-deadlock]"),
        "{output}"
    );
    assert!(output.contains("the second thread panicked"), "{output}");
    assert!(!output.contains("child finished"), "{output}");
}

#[test]
fn the_environment_variable_can_make_findings_warnings() {
    let (ok, output) = run_child(
        "policy::child_ab_then_ba",
        &[("LOCKSCAN_ON_FINDING", "warn".as_ref())],
    );
    assert!(ok, "warn must not fail the child:\n{output}");
    assert!(
        output.contains("lockscan: error[potential-deadlock]"),
        "{output}"
    );
    assert!(output.contains("child finished; findings: 1"), "{output}");
}

#[test]
fn warnings_show_in_a_plain_cargo_test_whose_output_libtest_captures() {
    let (ok, output) = run_child_with(
        "policy::child_ab_then_ba",
        &[("LOCKSCAN_ON_FINDING", "warn".as_ref())],
        Capture::On,
    );
    assert!(ok, "warn must not fail the child:\n{output}");
    assert!(
        output.contains("lockscan: error[potential-deadlock]"),
        "{output}"
    );
    // The test's own prints were captured (it passed, so libtest did not show them).
    assert!(!output.contains("child finished"), "{output}");
}

#[test]
fn collect_keeps_quiet_and_the_hook_sees_each_finding_once() {
    let (ok, output) = run_child("policy::child_with_hook", &[]);
    assert!(ok, "{output}");
    assert!(output.contains("hook saw potential-deadlock"), "{output}");
    assert!(output.contains("hook calls: 1"), "{output}");
    assert!(
        !output.contains("lockscan: error"),
        "collect prints nothing:\n{output}"
    );
}

#[test]
fn backtraces_are_in_the_report_when_asked_for() {
    let (ok, output) = run_child(
        "policy::child_ab_then_ba",
        &[
            ("LOCKSCAN_ON_FINDING", "warn".as_ref()),
            ("LOCKSCAN_BACKTRACE", "1".as_ref()),
        ],
    );
    assert!(ok, "{output}");
    // The stack of the edge names the function that took the locks.
    assert!(output.contains("     | "), "{output}");
    assert!(output.contains("ab_then_ba"), "{output}");
}
