//! The names of locks made from a `const` (the parking_lot stand-in's, `instrument::LockHooks`):
//! where they were first taken, past a wrapper of the program's own; and the offline analysis
//! that must not merge the distinct locks a wrapper names into one node across traces.

use std::path::{Path, PathBuf};

use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::instrument::LockHooks;
use lockscan::trace::{InputFormat, TraceReader};
use lockscan::{FindingKind, LockKind, Mode, Mutex};

use crate::support::{in_child, run_child, scratch_dir, setup};

const FIRST_TAKEN: &str = "lock first taken at ";

/// A crate's own lock method without `#[track_caller]`, as a big async runtime has: every lock
/// taken through it is first taken on this line.
fn take(hooks: &LockHooks) {
    hooks.lock(Mode::Exclusive, false, || true, || {});
}

fn give_back(hooks: &LockHooks) {
    hooks.release(Mode::Exclusive);
}

/// `lock first taken at <this file>:<line>:`, what a lock first taken at `line` is called.
fn first_taken_at(line: u32) -> String {
    format!("{FIRST_TAKEN}{}:{line}:", file!())
}

#[test]
fn a_lock_made_from_a_const_is_named_after_where_it_was_first_taken() {
    setup();
    let (a, b) = (
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    );
    a.lock(Mode::Exclusive, false, || true, || {});
    let a_line = line!() - 1;
    b.lock(Mode::Exclusive, false, || true, || {});
    let b_line = line!() - 1;
    give_back(&b);
    give_back(&a);
    b.lock(Mode::Exclusive, false, || true, || {});
    a.lock(Mode::Exclusive, false, || true, || {});
    give_back(&a);
    give_back(&b);
    let (a_name, b_name) = (first_taken_at(a_line), first_taken_at(b_line));
    let finding = lockscan::findings()
        .into_iter()
        .find(|f| f.locks.iter().any(|l| l.starts_with(&a_name)))
        .expect("the inversion");
    assert_eq!(finding.kind, FindingKind::LockOrderInversion);
    assert!(finding.locks[0].starts_with(&a_name), "{:?}", finding.locks);
    assert!(finding.locks[1].starts_with(&b_name), "{:?}", finding.locks);
    // The name says what its site is, so the report does not read as an acquisition there.
    let text = finding.to_string();
    assert!(text.contains(&format!("`{a_name}")), "{text}");
}

/// Takes `a` and `b`, each first through the wrapper from a line of its own, in both orders;
/// returns the lines that first took them.
fn invert_through_the_wrapper(a: &LockHooks, b: &LockHooks) -> (u32, u32) {
    take(a);
    let a_line = line!() - 1;
    take(b);
    let b_line = line!() - 1;
    give_back(b);
    give_back(a);
    take(b);
    take(a);
    give_back(a);
    give_back(b);
    (a_line, b_line)
}

/// In a plain run (no recording, no stacks asked for) nothing reads the debug information:
/// the wrapper's line names every lock, and a finding tells them apart by number.
#[test]
fn in_a_plain_run_locks_taken_through_a_wrapper_keep_its_line() {
    setup();
    let (first, a, b) = (
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    );
    take(&first);
    give_back(&first);
    invert_through_the_wrapper(&a, &b);
    let wrapper = first_taken_at(wrapper_line());
    let finding = lockscan::findings()
        .into_iter()
        .find(|f| f.locks.iter().any(|l| l.starts_with(&wrapper)))
        .unwrap_or_else(|| panic!("an inversion of `{wrapper}`: {:#?}", lockscan::findings()));
    assert_eq!(finding.kind, FindingKind::LockOrderInversion);
    assert!(finding.locks[0].ends_with(" #1"), "{:?}", finding.locks);
    assert!(finding.locks[1].ends_with(" #2"), "{:?}", finding.locks);
}

/// The line of [`take`]'s acquisition.
fn wrapper_line() -> u32 {
    let source = include_str!("identity.rs");
    let at = source
        .lines()
        .position(|l| l.contains("hooks.lock(Mode::Exclusive, false, || true, || {});"))
        .unwrap();
    u32::try_from(at + 1).unwrap()
}

#[test]
#[ignore = "a scenario that the identity tests run in a child process"]
fn child_inverts_two_locks_through_the_wrapper() {
    assert!(in_child(), "run by the identity tests");
    setup();
    let (first, a, b) = (
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    );
    // The first lock taken there names the wrapper's line: nobody knows yet that it is one.
    take(&first);
    give_back(&first);
    let (a_line, b_line) = invert_through_the_wrapper(&a, &b);
    let (a_name, b_name) = (first_taken_at(a_line), first_taken_at(b_line));
    let finding = lockscan::findings()
        .into_iter()
        .find(|f| f.locks.iter().any(|l| l.starts_with(&a_name)))
        .unwrap_or_else(|| panic!("an inversion of `{a_name}`: {:#?}", lockscan::findings()));
    assert_eq!(finding.kind, FindingKind::LockOrderInversion);
    // Two locks, two names: the callers', not the wrapper's one line.
    assert!(finding.locks[0].starts_with(&a_name), "{:?}", finding.locks);
    assert!(finding.locks[1].starts_with(&b_name), "{:?}", finding.locks);
}

/// With stacks asked for (or a recording running), locks first taken through a wrapper are
/// named after the wrapper's callers.
#[test]
fn locks_first_taken_through_a_wrapper_are_named_after_its_callers() {
    let (ok, output) = run_child(
        "identity::child_inverts_two_locks_through_the_wrapper",
        &[("LOCKSCAN_BACKTRACE", "1".as_ref())],
    );
    assert!(ok, "{output}");
}

const TRACE_PATH: &str = "LOCKSCAN_TEST_TRACE_PATH";

/// What both recorded processes do, in an order each: `ident:x` and a lock taken through the
/// wrapper (after another one, so that the wrapper is known), and the named `ident:y` and
/// `ident:z`, whose inversion across the two traces the merge must still find.
fn record_wrapper_scenario(x_first: bool) {
    assert!(in_child(), "run by the identity tests");
    lockscan::set_policy(lockscan::Policy::Collect);
    let path = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let recording = lockscan::record::start(&path).unwrap();
    let x = Mutex::named("ident:x", ());
    let (y, z) = (Mutex::named("ident:y", ()), Mutex::named("ident:z", ()));
    let (first, other) = (
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    );
    take(&first);
    give_back(&first);
    if x_first {
        let _x = x.lock();
        take(&other);
        give_back(&other);
        drop((y.lock(), z.lock()));
    } else {
        take(&other);
        drop(x.lock());
        give_back(&other);
        drop((z.lock(), y.lock()));
    }
    recording.finish().unwrap();
}

#[test]
#[ignore = "a scenario that the identity tests run in a child process"]
fn child_takes_x_then_a_wrapped_lock() {
    record_wrapper_scenario(true);
}

#[test]
#[ignore = "a scenario that the identity tests run in a child process"]
fn child_takes_a_wrapped_lock_then_x() {
    record_wrapper_scenario(false);
}

/// The names the trace at `path` declares its locks with.
fn lock_names(path: &Path) -> Vec<String> {
    let text = std::fs::read(path).unwrap();
    let reader = TraceReader::new(
        text.as_slice(),
        path.display().to_string(),
        InputFormat::Auto,
    )
    .unwrap();
    reader
        .filter_map(|event| match event.unwrap() {
            lockscan::trace::Event::Lock {
                name: Some(name), ..
            } => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

fn replay(path: &Path) -> lockscan::analysis::TraceResult {
    let text = std::fs::read(path).unwrap();
    let mut reader = TraceReader::new(
        text.as_slice(),
        path.display().to_string(),
        InputFormat::Auto,
    )
    .unwrap();
    Replay::new(ReplayOptions::default()).run(&mut reader, |e| panic!("{e}"))
}

/// Regression: every lock taken through a wrapper without `#[track_caller]` was named after the
/// wrapper's line, and `analyze` merged them into one node across traces: two different locks,
/// each taken with `ident:x` in one order in one process, made an inversion no run had.
#[test]
fn distinct_locks_taken_through_a_wrapper_are_not_merged_across_traces() {
    let dir_tmp = scratch_dir("identity-wrapper");
    let dir = dir_tmp.path();
    let mut analysis = Analysis::default();
    for (test, file) in [
        (
            "identity::child_takes_x_then_a_wrapped_lock",
            "x-first.json",
        ),
        ("identity::child_takes_a_wrapped_lock_then_x", "x-last.json"),
    ] {
        let path = dir.join(file);
        let (ok, output) = run_child(test, &[(TRACE_PATH, path.as_os_str())]);
        assert!(ok, "{output}");
        let names = lock_names(&path);
        let wrapped: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with(FIRST_TAKEN))
            .collect();
        // The first names the wrapper's line, the other its caller's.
        assert_eq!(wrapped.len(), 2, "{names:?}");
        assert_ne!(wrapped[0], wrapped[1], "{names:?}");
        let result = replay(&path);
        assert!(result.findings.is_empty(), "{:#?}", result.findings);
        analysis.add(file, result);
    }
    let findings = analysis.finish();
    let locks: Vec<&[String]> = findings.iter().map(|f| f.locks.as_slice()).collect();
    // The named locks still meet across the traces: the merge works...
    assert!(
        locks.contains(&["ident:y".to_owned(), "ident:z".to_owned()].as_slice()),
        "{findings:#?}"
    );
    // ...and invents nothing from the wrapper's line.
    assert_eq!(findings.len(), 1, "{findings:#?}");
}
