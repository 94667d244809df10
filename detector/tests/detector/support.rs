//! Helpers shared by the detector's integration tests.

use std::sync::mpsc;
use std::time::Duration;

use lockscan::{Finding, FindingKind, Policy};

/// Puts the process in `collect` mode; every test calls it first.
pub fn setup() {
    assert!(
        lockscan::is_active(),
        "the detector must be compiled in for these tests"
    );
    lockscan::set_policy(Policy::Collect);
}

/// The findings whose locks are all among `locks` (and mention at least one of them).
pub fn findings_about(locks: &[&str]) -> Vec<Finding> {
    lockscan::findings()
        .into_iter()
        .filter(|f| !f.locks.is_empty() && f.locks.iter().all(|l| locks.contains(&l.as_str())))
        .collect()
}

/// The kinds of [`findings_about`], sorted.
pub fn kinds_about(locks: &[&str]) -> Vec<FindingKind> {
    let mut kinds: Vec<FindingKind> = findings_about(locks).iter().map(|f| f.kind).collect();
    kinds.sort();
    kinds
}

/// Runs `f` on another thread and fails the test if it has not finished within `limit`,
/// instead of letting a detector bug hang the whole test run. The limit is a safety net for
/// hangs, far above the expected time, not a measurement.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("the scenario hung: lockscan did not break the deadlock")
}

/// A generous bound for scenarios that must not hang.
pub const HANG: Duration = Duration::from_secs(60);
