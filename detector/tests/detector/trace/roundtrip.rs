//! Round trip: a program run under the live detector and recorded, then analyzed offline,
//! gives the same findings (by fingerprint) both ways, as the architecture promises.
#![cfg(lockscan_active)]

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread;

use lockscan::{Mutex, Policy};

use super::util::analyze_file;
use crate::support::{in_child, run_child, scratch_dir};

const DIR: &str = "LOCKSCAN_TEST_ROUNDTRIP_DIR";

/// Each finding as `kind fingerprint`, sorted, for the locks of this scenario only.
fn fingerprints<'a>(findings: impl IntoIterator<Item = &'a lockscan::Finding>) -> Vec<String> {
    let mut out: Vec<String> = findings
        .into_iter()
        .filter(|f| !f.locks.is_empty() && f.locks.iter().all(|l| l.starts_with("rt:")))
        .map(|f| format!("{} {}", f.kind, f.fingerprint()))
        .collect();
    out.sort();
    out
}

#[test]
#[ignore = "a scenario that the round-trip test runs in a child process"]
fn child_runs_and_records_a_scenario() {
    assert!(in_child(), "run by the round-trip test");
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
    lockscan::set_policy(Policy::Collect);
    let recording = lockscan::record::start(dir.join("trace.json")).unwrap();
    let a = Arc::new(Mutex::named("rt:A", 0));
    let b = Arc::new(Mutex::named("rt:B", 0));
    // The channel orders the two critical sections in this run without lockscan seeing it:
    // the two orders are concurrent as far as spawn/join/notify go.
    let (go, wait) = mpsc::channel();
    let (a2, b2) = (a.clone(), b.clone());
    let other = thread::spawn(move || {
        wait.recv().unwrap();
        let _b = b2.lock();
        let _a = a2.lock();
    });
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    go.send(()).unwrap();
    other.join().unwrap();
    // One thread in both orders after the join: an inversion over other locks.
    let c = Mutex::named("rt:C", 0);
    let d = Mutex::named("rt:D", 0);
    {
        let _c = c.lock();
        let _d = d.lock();
    }
    {
        let _d = d.lock();
        let _c = c.lock();
    }
    recording.finish().unwrap();
    let live = fingerprints(&lockscan::findings());
    std::fs::write(dir.join("live.txt"), live.join("\n")).unwrap();
}

#[test]
fn a_recorded_program_gives_the_live_findings_offline() {
    let dir = scratch_dir("trace-roundtrip");
    let (ok, output) = run_child(
        "trace::roundtrip::child_runs_and_records_a_scenario",
        &[(DIR, dir.as_os_str())],
    );
    assert!(ok, "the child failed:\n{output}");
    let live: Vec<String> = std::fs::read_to_string(dir.join("live.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(live.len(), 2, "the scenario's two findings, live: {live:?}");
    let outcome = analyze_file(&dir.join("trace.json"));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(fingerprints(&outcome.result.findings), live);
}
