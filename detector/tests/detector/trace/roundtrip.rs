//! Round trip: a program run under the live detector and recorded, then analyzed offline,
//! gives the same findings both ways, as the architecture promises: the same kinds, locks,
//! threads, cycle order, sites and words (the whole text of each report), deadlock included.
#![cfg(lockscan_active)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use lockscan::{Mutex, Policy};

use super::util::analyze_file;
use crate::support::{in_child, run_child, scratch_dir};

const DIR: &str = "LOCKSCAN_TEST_ROUNDTRIP_DIR";

/// The findings about this scenario's locks, as `kind fingerprint` lines and as whole reports,
/// both sorted by fingerprint. A potential deadlock whose cycle then deadlocked is left out: live,
/// it is reported when its cycle closes, before the threads block; a replay that sees the
/// cycle deadlock reports the deadlock only.
fn reports<'a>(
    findings: impl IntoIterator<Item = &'a lockscan::Finding>,
) -> (Vec<String>, Vec<String>) {
    let mut ours: Vec<&lockscan::Finding> = findings
        .into_iter()
        .filter(|f| !f.locks.is_empty() && f.locks.iter().all(|l| l.starts_with("rt:")))
        .collect();
    let deadlocked: Vec<String> = ours
        .iter()
        .filter(|f| f.kind == lockscan::FindingKind::Deadlock)
        .map(|f| lock_set(f))
        .collect();
    ours.retain(|f| {
        f.kind != lockscan::FindingKind::PotentialDeadlock || !deadlocked.contains(&lock_set(f))
    });
    ours.sort_by_key(|f| f.fingerprint());
    (
        ours.iter()
            .map(|f| format!("{} {}", f.kind, f.fingerprint()))
            .collect(),
        ours.iter().map(ToString::to_string).collect(),
    )
}

/// The locks of a finding, sorted.
fn lock_set(finding: &lockscan::Finding) -> String {
    let mut locks = finding.locks.clone();
    locks.sort();
    locks.join(",")
}

/// Writes a report list to `path`, one report after another.
fn save(path: &Path, reports: &[String]) {
    std::fs::write(path, reports.join("\u{1e}")).unwrap();
}

fn load(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split('\u{1e}').map(str::to_owned).collect()
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
    // A real deadlock: each thread holds its first lock when it asks for the other's. lockscan
    // unwinds the one whose request closes the wait cycle; the other then goes on.
    let e = Arc::new(Mutex::named("rt:E", 0));
    let f = Arc::new(Mutex::named("rt:F", 0));
    let both_hold = Arc::new(Barrier::new(2));
    let crossed: Vec<_> = [("rt-left", e.clone(), f.clone()), ("rt-right", f, e)]
        .into_iter()
        .map(|(name, first, second)| {
            let both_hold = both_hold.clone();
            thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let _first = first.lock();
                    both_hold.wait();
                    let _second = second.lock();
                })
                .unwrap()
        })
        .collect();
    let unwound = crossed
        .into_iter()
        .map(|t| t.join())
        .filter(Result::is_err)
        .count();
    assert_eq!(unwound, 1, "one thread of the deadlock is unwound");
    recording.finish().unwrap();
    let (fingerprints, texts) = reports(&lockscan::findings());
    save(&dir.join("live-fingerprints.txt"), &fingerprints);
    save(&dir.join("live-reports.txt"), &texts);
}

#[test]
fn a_recorded_program_gives_the_live_findings_offline() {
    let dir_tmp = scratch_dir("trace-roundtrip");
    let dir = dir_tmp.path();
    let (ok, output) = run_child(
        "trace::roundtrip::child_runs_and_records_a_scenario",
        &[(DIR, dir.as_os_str())],
    );
    assert!(ok, "the child failed:\n{output}");
    let live = load(&dir.join("live-fingerprints.txt"));
    assert_eq!(
        live.len(),
        3,
        "the scenario's three findings (a potential deadlock, an inversion, a deadlock), live: \
         {live:?}"
    );
    let outcome = analyze_file(&dir.join("trace.json"));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let (fingerprints, texts) = reports(&outcome.result.findings);
    assert_eq!(fingerprints, live);
    for (offline, live) in texts.iter().zip(load(&dir.join("live-reports.txt"))) {
        assert_eq!(*offline, live, "offline report, then live");
    }
}
