//! Policies that act on the whole process (the default panic, `LOCKSCAN_ON_FINDING`, hooks),
//! tested in child processes: this binary runs itself with one child test selected.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lockscan::Mutex;

use crate::support::{Capture, in_child, run_child, run_child_with};

/// The last line of a report the `warn` policy writes.
const WARN_ENDING: &str = "lockscan: found live (policy `warn`: the program goes on)";

/// Prints where the next line of the caller is, for the parent to look for in the panic.
macro_rules! next_line_is_the_acquisition {
    () => {
        println!("the acquisition is at {}:{}", file!(), line!() + 1)
    };
}

/// The `file:line` a child printed with `next_line_is_the_acquisition!`.
fn acquisition_site(output: &str) -> &str {
    output
        .lines()
        // After libtest's `test NAME ... ` when the output is not captured.
        .find_map(|line| Some(line.split_once("the acquisition is at ")?.1))
        .unwrap_or_else(|| panic!("the child printed no site:\n{output}"))
}

/// Asserts that the child's panic is located at the acquisition it printed, with the report
/// on the lines after `panicked at` (the first being `first_line`) and lockscan's last line.
fn assert_panicked_at_the_acquisition(output: &str, first_line: &str, ending: &str) {
    let site = acquisition_site(output);
    let mut lines = output.lines();
    let panicked = lines
        .find(|line| line.contains("panicked at "))
        .unwrap_or_else(|| panic!("no panic:\n{output}"));
    assert!(
        panicked.contains(&format!("panicked at {site}:")),
        "the panic must be located at {site}, the test's acquisition:\n{output}"
    );
    assert!(!panicked.contains("detector/src"), "{output}");
    let message = lines.next().unwrap_or_default();
    assert!(
        message.starts_with(first_line),
        "the report starts the message:\n{output}"
    );
    assert!(output.contains(ending), "{output}");
}

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
    assert!(output.contains("\nerror[potential-deadlock]"), "{output}");
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
    assert!(output.contains("\nerror[potential-deadlock]"), "{output}");
    assert!(output.contains(WARN_ENDING), "{output}");
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
    assert!(output.contains("\nerror[potential-deadlock]"), "{output}");
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
        !output.contains("error[") && !output.contains("lockscan: found live"),
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

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_inverts_on_one_thread() {
    assert!(in_child(), "run by the policy tests");
    let a = Mutex::named("child:one-thread:A", ());
    let b = Mutex::named("child:one-thread:B", ());
    drop((a.lock(), b.lock()));
    let _b = b.lock();
    next_line_is_the_acquisition!();
    let _a = a.lock();
}

/// Regression: the panic of the `panic` policy was located at `detector/src/policy.rs:243:26`,
/// which libtest prints as the place of the failure, instead of the test's own line.
#[test]
fn the_panic_of_the_panic_policy_is_located_at_the_users_acquisition() {
    let (ok, output) = run_child("policy::child_inverts_on_one_thread", &[]);
    assert!(!ok, "the child must fail:\n{output}");
    assert_panicked_at_the_acquisition(
        &output,
        "error[lock-order-inversion]: ",
        "lockscan: found live (policy `panic`",
    );
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_relocks_a_mutex_it_holds() {
    assert!(in_child(), "run by the policy tests");
    let m = Mutex::named("child:relock", ());
    let _first = m.lock();
    next_line_is_the_acquisition!();
    let _second = m.lock();
}

#[test]
fn a_fatal_finding_unwinds_at_the_users_acquisition_whatever_the_policy() {
    let ending = "lockscan: found live; this thread would wait for itself forever: unwinding it \
                  instead of hanging";
    for policy in ["panic", "warn", "collect"] {
        let (ok, output) = run_child(
            "policy::child_relocks_a_mutex_it_holds",
            &[("LOCKSCAN_ON_FINDING", policy.as_ref())],
        );
        assert!(!ok, "{policy}: the child must fail:\n{output}");
        assert_panicked_at_the_acquisition(&output, "error[api-misuse]: ", ending);
    }
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_warns_after_partial_output() {
    assert!(in_child(), "run by the policy tests");
    // What libtest's progress dots do to a line under `cargo test -q`.
    eprint!("..");
    ab_then_ba();
}

/// Regression: the `warn` policy wrote `lockscan: error[...]` after whatever was on the line
/// (under `cargo test -q`, libtest's progress dots), so a search for `^error\[` missed it.
#[test]
fn a_warning_starts_its_report_on_a_line_of_its_own() {
    let (ok, output) = run_child(
        "policy::child_warns_after_partial_output",
        &[("LOCKSCAN_ON_FINDING", "warn".as_ref())],
    );
    assert!(ok, "warn must not fail the child:\n{output}");
    assert!(output.contains("..\n"), "{output}");
    let report = output
        .lines()
        .position(|line| line.starts_with("error[potential-deadlock]: "))
        .unwrap_or_else(|| panic!("no line starts the report:\n{output}"));
    let ending = output
        .lines()
        .skip(report)
        .position(|line| line == WARN_ENDING)
        .unwrap_or_else(|| panic!("the report has no ending line:\n{output}"));
    assert!(ending > 2, "{output}");
}

/// Holds a read guard while a callee reads the lock again: the caller that kept the guard
/// alive is what a stack shows and the two sites alone do not.
#[inline(never)]
fn keeps_a_read_guard_while_calling(lock: &lockscan::RwLock<u32>) -> u32 {
    let guard = lock.read();
    *guard + reads_again(lock)
}

#[inline(never)]
fn reads_again(lock: &lockscan::RwLock<u32>) -> u32 {
    *lock.read()
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_reads_again() {
    assert!(in_child(), "run by the policy tests");
    let lock = lockscan::RwLock::named("child:reread", 1);
    println!("sum {}", keeps_a_read_guard_while_calling(&lock));
}

/// Regression: `LOCKSCAN_BACKTRACE=1` gave the stack of every lock-order edge but none for an
/// `api-misuse`, so the caller that kept the first guard alive never appeared.
#[test]
fn backtraces_are_in_a_misuse_report_when_asked_for() {
    let (ok, output) = run_child(
        "policy::child_reads_again",
        &[
            ("LOCKSCAN_ON_FINDING", "warn".as_ref()),
            ("LOCKSCAN_BACKTRACE", "1".as_ref()),
        ],
    );
    assert!(ok, "{output}");
    assert!(output.contains("error[api-misuse]"), "{output}");
    assert!(
        output.contains("stack of thread `policy::child_reads_again` taking `child:reread`"),
        "{output}"
    );
    let frame = |name: &str| {
        output
            .lines()
            .any(|l| l.contains(" | ") && l.contains(name))
    };
    assert!(frame("reads_again"), "{output}");
    assert!(frame("keeps_a_read_guard_while_calling"), "{output}");
    // And none unless asked for.
    let (ok, output) = run_child(
        "policy::child_reads_again",
        &[("LOCKSCAN_ON_FINDING", "warn".as_ref())],
    );
    assert!(ok, "{output}");
    assert!(output.contains("error[api-misuse]"), "{output}");
    assert!(!output.contains("stack of thread"), "{output}");
}

#[test]
#[ignore = "a scenario that the policy tests run in a child process"]
fn child_takes_locks_made_from_a_const() {
    use lockscan::instrument::LockHooks;
    use lockscan::{LockKind, Mode};

    assert!(in_child(), "run by the policy tests");
    // As the parking_lot stand-in's raw locks do.
    for hooks in [
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    ] {
        hooks.lock(Mode::Exclusive, false, || true, || {});
        hooks.release(Mode::Exclusive);
    }
    println!("child finished");
}

/// The lock file of a workspace with the parking_lot stand-in patched in and, when given, a
/// parking_lot from crates.io as well; in `dir`, with a member folder below it.
fn workspace_with_the_stand_in(
    dir: &std::path::Path,
    registry: Option<&str>,
) -> std::path::PathBuf {
    let mut lock = String::from(
        "version = 4\n\n[[package]]\nname = \"parking_lot\"\nversion = \"0.12.5\"\n\
         dependencies = [\n \"lockscan\",\n]\n",
    );
    if let Some(version) = registry {
        lock.push_str(&format!(
            "\n[[package]]\nname = \"parking_lot\"\nversion = \"{version}\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ));
    }
    std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    let member = dir.join("member");
    std::fs::create_dir_all(&member).unwrap();
    member
}

/// Regression: with the 0.12 stand-in patched in, the locks of a parking_lot 0.13 elsewhere in
/// the tree went unchecked without a word (cargo's "patch was not used" note, if any, is hidden
/// by `cargo test -q`).
#[test]
fn a_registry_parking_lot_beside_the_stand_in_is_said_once_per_process() {
    let dir = crate::support::scratch_dir("stand-in-beside-registry");
    let member = workspace_with_the_stand_in(dir.path(), Some("0.13.0"));
    let (ok, output) = run_child(
        "policy::child_takes_locks_made_from_a_const",
        &[("CARGO_MANIFEST_DIR", member.as_os_str())],
    );
    assert!(ok, "{output}");
    let said: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("lockscan: the parking_lot stand-in is patched in"))
        .collect();
    assert_eq!(said.len(), 1, "once, for two locks:\n{output}");
    assert!(
        said[0].contains("parking_lot 0.13.0 from crates.io"),
        "{output}"
    );

    let alone = crate::support::scratch_dir("stand-in-alone");
    let member = workspace_with_the_stand_in(alone.path(), None);
    let (ok, output) = run_child(
        "policy::child_takes_locks_made_from_a_const",
        &[("CARGO_MANIFEST_DIR", member.as_os_str())],
    );
    assert!(ok, "{output}");
    assert!(output.contains("child finished"), "{output}");
    assert!(!output.contains("stand-in"), "{output}");
}
