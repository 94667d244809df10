//! Round trip: a program run under the live detector and recorded, then analyzed offline,
//! gives the same findings both ways, as the architecture promises: the same kinds, locks,
//! threads, cycle order, sites and words (the whole text of each report), deadlock included.
#![cfg(lockscan_active)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use lockscan::{FindingKind, Mutex, Policy};

use lockscan::analysis::Replay;
use lockscan::trace::Event;

use super::util::{analyze_file, read_events};
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

/// Ends a child's recording and saves its live findings for the parent to compare.
fn finish_and_save(recording: lockscan::record::Recording, dir: &Path) {
    recording.finish().unwrap();
    let (fingerprints, texts) = reports(&lockscan::findings());
    save(&dir.join("live-fingerprints.txt"), &fingerprints);
    save(&dir.join("live-reports.txt"), &texts);
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
    let warm = Mutex::named("rt:warm", 0);
    {
        let _a = a.lock();
        // `A` a node of the graph after its first edge out: `A -> B` then waits beside the
        // graph in `B`, never a source until the other thread takes `A` inside it. Offline, the
        // same finding with the same sites.
        drop(warm.lock());
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
    finish_and_save(recording, &dir);
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

/// Where the every-kind scenario records, and under which file name (its encoding).
const KINDS_DIR: &str = "LOCKSCAN_TEST_KINDS_DIR";
const KINDS_FILE: &str = "LOCKSCAN_TEST_KINDS_FILE";

/// A finding as the comparison sees it: its kind and fingerprint, and for a race its pair of
/// sites (two races on one variable share a fingerprint; each pair is its own report, live).
fn identity(finding: &lockscan::Finding) -> String {
    let mut sites: Vec<String> = finding
        .vars
        .iter()
        .map(|v| v.site.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect();
    sites.sort();
    format!(
        "{} {} {}",
        finding.kind,
        finding.fingerprint(),
        sites.join(" ")
    )
}

/// The identities of the findings about the every-kind scenario's locks and variables
/// (`fk:`), sorted, duplicates kept.
fn identities<'a>(findings: impl IntoIterator<Item = &'a lockscan::Finding>) -> Vec<String> {
    let ours = |name: &String| name.starts_with("fk:");
    let mut found: Vec<String> = findings
        .into_iter()
        .filter(|f| {
            let names = f.locks.iter().chain(f.vars.iter().map(|v| &v.var));
            let mut names = names.peekable();
            names.peek().is_some() && names.all(ours)
        })
        .map(identity)
        .collect();
    found.sort();
    found
}

/// The live findings as a trace's analysis reports them: a lock-order cycle that then
/// deadlocked as the deadlock only (live, its potential deadlock came first, when it closed).
fn as_reported(live: &[lockscan::Finding]) -> Vec<&lockscan::Finding> {
    let deadlocked: Vec<String> = live
        .iter()
        .filter(|f| f.kind == FindingKind::Deadlock)
        .map(lock_set)
        .collect();
    live.iter()
        .filter(|f| {
            !matches!(
                f.kind,
                FindingKind::PotentialDeadlock
                    | FindingKind::LockOrderInversion
                    | FindingKind::GatedCycle
            ) || !deadlocked.contains(&lock_set(f))
        })
        .collect()
}

#[test]
#[ignore = "a scenario that the every-kind round-trip test runs in a child process"]
fn child_records_every_live_finding_kind() {
    use lockscan::{Condvar, RwLock, RwLockUpgradableReadGuard, Tracked};
    use std::time::Duration;

    assert!(in_child(), "run by the every-kind round-trip test");
    let dir = PathBuf::from(std::env::var_os(KINDS_DIR).unwrap());
    let file = std::env::var_os(KINDS_FILE).unwrap();
    // What `lockscan run` sets: nothing panics, the trace must hold everything.
    lockscan::set_policy(Policy::Collect);
    let recording = lockscan::record::start(dir.join(file)).unwrap();

    // potential-deadlock: two threads in opposite orders, ordered only by a channel lockscan
    // does not see.
    let a = Arc::new(Mutex::named("fk:A", 0));
    let b = Arc::new(Mutex::named("fk:B", 0));
    let (go, wait) = mpsc::channel();
    let (a2, b2) = (a.clone(), b.clone());
    let other = thread::spawn(move || {
        wait.recv().unwrap();
        let _b = b2.lock();
        let _a = a2.lock();
    });
    drop((a.lock(), b.lock()));
    go.send(()).unwrap();
    other.join().unwrap();

    // lock-order-inversion: one thread, both orders.
    let c = Mutex::named("fk:C", 0);
    let d = Mutex::named("fk:D", 0);
    drop((c.lock(), d.lock()));
    {
        let _d = d.lock();
        let _c = c.lock();
    }

    // gated-cycle: both orders under a common gate lock.
    let gate = Arc::new(Mutex::named("fk:gate", ()));
    let ga = Arc::new(Mutex::named("fk:GA", ()));
    let gb = Arc::new(Mutex::named("fk:GB", ()));
    for reverse in [false, true] {
        let (gate, ga, gb) = (gate.clone(), ga.clone(), gb.clone());
        thread::spawn(move || {
            let _g = gate.lock();
            if reverse {
                drop((gb.lock(), ga.lock()));
            } else {
                drop((ga.lock(), gb.lock()));
            }
        })
        .join()
        .unwrap();
    }

    // api-misuse, re-lock: the thread would wait for itself, so lockscan unwinds it.
    let relocked = Arc::new(Mutex::named("fk:relock", ()));
    let relocking = relocked.clone();
    let unwound = thread::spawn(move || {
        let _first = relocking.lock();
        let _second = relocking.lock();
    })
    .join();
    assert!(unwound.is_err(), "a re-lock unwinds its thread");

    // api-misuse, re-read: a plain `read` while holding a read lock; not `read_recursive`, nor
    // a timed read (it gives up), nor a try.
    let table = RwLock::named("fk:table", 0);
    {
        let _first = table.read();
        let _again = table.read();
    }
    let recursive = RwLock::named("fk:recursive", 0);
    {
        let _first = recursive.read();
        let _again = recursive.read_recursive();
        let _timed = recursive.try_read_for(Duration::from_secs(5));
        let _tried = recursive.try_read();
    }

    // potential-deadlock through an upgrade: it is an exclusive request, which a reader that
    // waits for the other lock blocks.
    // The reader is spawned first and waits through a channel, which lockscan does not see:
    // the two orders are concurrent as far as it knows (a spawn after the first order would
    // order them, and make the cycle an inversion).
    let u1 = Arc::new(Mutex::named("fk:U1", ()));
    let u2 = Arc::new(RwLock::named("fk:U2", ()));
    let (u1b, u2b) = (u1.clone(), u2.clone());
    let (upgraded, after_upgrade) = mpsc::channel();
    let reader = thread::spawn(move || {
        after_upgrade.recv().unwrap();
        let _u2 = u2b.read();
        let _u1 = u1b.lock();
    });
    {
        let _u1 = u1.lock();
        let upgradable = u2.upgradable_read();
        drop(RwLockUpgradableReadGuard::upgrade(upgradable));
    }
    upgraded.send(()).unwrap();
    reader.join().unwrap();

    // No finding: after a downgrade the hold is shared, and readers do not wait for readers.
    let d1 = Arc::new(Mutex::named("fk:D1", ()));
    let d2 = Arc::new(RwLock::named("fk:D2", ()));
    {
        let read = lockscan::RwLockWriteGuard::downgrade(d2.write());
        let _d1 = d1.lock();
        drop(read);
    }
    let (d1b, d2b) = (d1.clone(), d2.clone());
    thread::spawn(move || {
        let _d1 = d1b.lock();
        let _d2 = d2b.read();
    })
    .join()
    .unwrap();

    // order-violation: against the declared ranks.
    let low = Mutex::named("fk:rank-low", ()).with_rank(1);
    let high = Mutex::named("fk:rank-high", ()).with_rank(2);
    drop((high.lock(), low.lock()));

    // wait-while-holding: a condition-variable wait with another lock held.
    let held = Mutex::named("fk:held", ());
    let state = Mutex::named("fk:state", false);
    let condvar = Condvar::new();
    {
        let _held = held.lock();
        let mut state = state.lock();
        // Whether it times out or not, the wait is what is reported.
        let _ = condvar.wait_for(&mut state, Duration::from_millis(1));
    }

    // data-race: two writes ordered only by a channel.
    let counter = Arc::new(Tracked::named("fk:counter", 0));
    let (go, wait) = mpsc::channel();
    let racing = counter.clone();
    let writer = thread::spawn(move || {
        racing.set(1);
        go.send(()).unwrap();
    });
    wait.recv().unwrap();
    counter.set(2);
    writer.join().unwrap();

    // deadlock: each thread holds its first lock when it asks for the other's.
    let e = Arc::new(Mutex::named("fk:E", 0));
    let f = Arc::new(Mutex::named("fk:F", 0));
    let both_hold = Arc::new(Barrier::new(2));
    let crossed: Vec<_> = [e.clone(), f.clone()]
        .into_iter()
        .zip([f, e])
        .map(|(first, second)| {
            let both_hold = both_hold.clone();
            thread::spawn(move || {
                let _first = first.lock();
                both_hold.wait();
                let _second = second.lock();
            })
        })
        .collect();
    let unwound = crossed
        .into_iter()
        .map(|t| t.join())
        .filter(Result::is_err)
        .count();
    assert_eq!(unwound, 1, "one thread of the deadlock is unwound");

    recording.finish().unwrap();
    let live = lockscan::findings();
    assert!(
        identities(&live).iter().any(|i| i.contains(&fingerprint(
            FindingKind::PotentialDeadlock,
            &["fk:E", "fk:F"]
        ))),
        "live, the deadlocked cycle was first a potential deadlock"
    );
    save(&dir.join("live.txt"), &identities(as_reported(&live)));
}

/// What the every-kind scenario gave: the live findings' identities, the offline ones, and
/// the offline ones of the replay alone (the trace without its `finding` records).
struct EveryKind {
    live: Vec<String>,
    offline: Vec<String>,
    replayed: Vec<String>,
}

/// Runs the every-kind scenario recording into `file`.
fn every_kind_live_and_offline(file: &str) -> EveryKind {
    let dir_tmp = scratch_dir("trace-every-kind");
    let dir = dir_tmp.path();
    let (ok, output) = run_child(
        "trace::roundtrip::child_records_every_live_finding_kind",
        &[(KINDS_DIR, dir.as_os_str()), (KINDS_FILE, file.as_ref())],
    );
    assert!(ok, "the child failed:\n{output}");
    let live = load(&dir.join("live.txt"));
    let outcome = analyze_file(&dir.join(file));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let (events, errors, _, _) = read_events(&dir.join(file));
    assert!(errors.is_empty(), "{errors:?}");
    let mut replay = Replay::default();
    for event in events {
        if !matches!(event, Event::Finding(_)) {
            replay.event(event);
        }
    }
    EveryKind {
        live,
        offline: identities(&outcome.result.findings),
        replayed: identities(&replay.finish().findings),
    }
}

/// The kinds of a list of identities, sorted.
fn kinds_of(identities: &[String]) -> Vec<&str> {
    let mut kinds: Vec<&str> = identities
        .iter()
        .map(|i| i.split(' ').next().unwrap())
        .collect();
    kinds.sort_unstable();
    kinds
}

#[test]
fn every_live_finding_kind_recorded_under_collect_is_reported_offline_once() {
    for file in ["trace.lstrace", "trace.json"] {
        let EveryKind {
            live,
            offline,
            replayed,
        } = every_kind_live_and_offline(file);
        assert_eq!(
            kinds_of(&live),
            [
                "api-misuse",
                "api-misuse",
                "data-race",
                "deadlock",
                "gated-cycle",
                "lock-order-inversion",
                "order-violation",
                "potential-deadlock",
                "potential-deadlock",
                "wait-while-holding",
            ],
            "the scenario's findings, live, as reported ({file}): {live:#?}"
        );
        assert_eq!(offline, live, "offline ({file}), then live");
        // The replay finds by itself all that its events show: the re-read (the trace says
        // `read` from `read_recursive` and timed reads), the upgrade's order, the downgrade's
        // shared hold. Not the re-locked mutex (its thread unwound before it acquired), nor,
        // for sure, the deadlock, which the replay sees only when the merged order puts both
        // requests before the unwound thread's release.
        let shown = [
            fingerprint(FindingKind::PotentialDeadlock, &["fk:A", "fk:B"]),
            fingerprint(FindingKind::PotentialDeadlock, &["fk:U1", "fk:U2"]),
            fingerprint(FindingKind::ApiMisuse, &["fk:table"]),
        ];
        let by_events = |ids: &[String]| -> Vec<String> {
            ids.iter()
                .filter(|i| {
                    let cycle_or_misuse = ["deadlock", "potential-deadlock", "api-misuse"]
                        .iter()
                        .any(|k| i.starts_with(&format!("{k} ")));
                    !cycle_or_misuse || shown.iter().any(|f| i.contains(f.as_str()))
                })
                .cloned()
                .collect()
        };
        assert_eq!(by_events(&live).len(), 8, "{live:#?}");
        assert_eq!(
            by_events(&replayed),
            by_events(&live),
            "replay alone ({file})"
        );
    }
}

/// The fingerprint of a finding of `kind` about `locks`.
fn fingerprint(kind: FindingKind, locks: &[&str]) -> String {
    let mut finding = lockscan::Finding::new(kind, "");
    finding.locks = locks.iter().map(ToString::to_string).collect();
    finding.fingerprint()
}

const DEEP_DIR: &str = "LOCKSCAN_TEST_DEEP_DIR";

#[test]
#[ignore = "a scenario that the deep round-trip test runs in a child process"]
fn child_holds_more_locks_than_order_is_checked_from() {
    assert!(in_child(), "run by the deep round-trip test");
    let dir = PathBuf::from(std::env::var_os(DEEP_DIR).unwrap());
    lockscan::set_policy(Policy::Collect);
    let recording = lockscan::record::start(dir.join("trace.json")).unwrap();
    let depth = lockscan::analysis::MAX_ORDER_DEPTH + 10;
    let held: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..depth)
            .map(|i| Mutex::named(format!("rt:held{i}"), ()))
            .collect(),
    );
    let outer = Arc::new(Mutex::named("rt:outer", ()));
    let (held2, outer2) = (held.clone(), outer.clone());
    thread::Builder::new()
        .name("rt-deep".into())
        .spawn(move || {
            let guards: Vec<_> = held2.iter().map(|lock| lock.lock()).collect();
            drop(outer2.lock());
            drop(guards);
        })
        .unwrap()
        .join()
        .unwrap();
    // Ordered after the deep thread by the join: an inversion, found through the innermost
    // held locks (five beneath the top), not through the bottom one (beneath the window).
    for closing in [depth - 5, 0] {
        let _outer = outer.lock();
        drop(held[closing].lock());
    }
    finish_and_save(recording, &dir);
}

/// Regression for the nesting depth (issue 23): a thread holding more than `MAX_ORDER_DEPTH`
/// locks at once takes order edges from the innermost ones only, live as offline: the same
/// findings word for word, and the same warning, said once (never a silent degrade).
#[test]
fn a_thread_holding_more_locks_than_order_is_checked_from_is_warned_about_live_and_offline() {
    let dir_tmp = scratch_dir("trace-roundtrip-deep");
    let dir = dir_tmp.path();
    let (ok, output) = run_child(
        "trace::roundtrip::child_holds_more_locks_than_order_is_checked_from",
        &[(DEEP_DIR, dir.as_os_str())],
    );
    assert!(ok, "the child failed:\n{output}");
    let warning = format!(
        "thread `rt-deep` held more than {} locks at once",
        lockscan::analysis::MAX_ORDER_DEPTH
    );
    assert_eq!(output.matches(&warning).count(), 1, "{output}");
    let live = load(&dir.join("live-fingerprints.txt"));
    let inversions = live
        .iter()
        .filter(|f| f.starts_with("lock-order-inversion"));
    assert_eq!(
        inversions.count(),
        1,
        "the inversion through the innermost locks: {live:?}"
    );
    let live_texts = load(&dir.join("live-reports.txt"));
    // No edge from beneath the window: the inversion of `rt:held0` and `rt:outer` shows only as
    // the longer cycle through the lowest lock of the window, which the locks between them
    // gate (a note): what lockdep's edge from the innermost lock alone would make of every
    // nested cycle, and why the window is wide.
    let first_lines: Vec<&str> = live_texts.iter().filter_map(|t| t.lines().next()).collect();
    let cycle_of_two = "between `rt:held0`, `rt:outer`";
    assert!(
        !first_lines.iter().any(|l| l.contains(cycle_of_two)),
        "{first_lines:?}"
    );
    let outcome = analyze_file(&dir.join("trace.json"));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        outcome.result.warnings.len(),
        1,
        "{:?}",
        outcome.result.warnings
    );
    assert!(output.contains(&outcome.result.warnings[0]), "{output}");
    let (fingerprints, texts) = reports(&outcome.result.findings);
    assert_eq!(fingerprints, live);
    assert_eq!(texts, live_texts, "offline, then live");
}
