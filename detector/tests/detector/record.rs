//! Recording traces, checked against the format's rules (trace-format.md). Recording is
//! process-wide, so each scenario runs in a child process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use lockscan::{Condvar, Mutex, RwLock};
use serde_json::Value;

use crate::support::{in_child, run_child, scratch_dir};

const TRACE_PATH: &str = "LOCKSCAN_TEST_TRACE_PATH";

/// Lock orders in both directions, a contended lock, a condition variable, a read lock and a
/// `try_lock`: every kind of record the recorder writes.
fn scenario() {
    lockscan::set_policy(lockscan::Policy::Collect);
    let a = Arc::new(Mutex::named("rec:A", 0));
    let b = Arc::new(Mutex::named("rec:B", 0));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    let (a2, b2) = (a.clone(), b.clone());
    thread::Builder::new()
        .name("rec-second".into())
        .spawn(move || {
            let _b = b2.lock();
            let _a = a2.try_lock();
        })
        .unwrap()
        .join()
        .unwrap();
    // A contended acquisition, so that a `request` is written.
    let held = a.lock();
    let barrier = Arc::new(Barrier::new(2));
    let (a3, barrier2) = (a.clone(), barrier.clone());
    let waiter = thread::spawn(move || {
        barrier2.wait();
        *a3.lock() += 1;
    });
    barrier.wait();
    thread::sleep(Duration::from_millis(50));
    drop(held);
    waiter.join().unwrap();
    let pair = (Mutex::named("rec:flag", false), Condvar::new());
    let mut flag = pair.0.lock();
    let _ = pair.1.wait_for(&mut flag, Duration::from_millis(1));
    pair.1.notify_all();
    drop(flag);
    let table = RwLock::named("rec:table", ());
    drop(table.read());
}

#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_records_through_the_api() {
    assert!(in_child(), "run by the record tests");
    let path = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let recording = lockscan::record::start(&path).unwrap();
    assert!(lockscan::record::is_recording());
    scenario();
    assert_eq!(recording.finish().unwrap(), path);
}

#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_records_through_the_environment() {
    assert!(in_child(), "run by the record tests");
    scenario();
    // No explicit finish: the exit handler writes the end of the trace.
}

/// Runs the child scenario `test` with `LOCKSCAN_TRACE` set to a fresh directory `dir_name`,
/// in JSONL (`LOCKSCAN_TRACE_FORMAT=jsonl`); returns whether it succeeded, its output, the one
/// trace it must have written there, and the directory (removed when dropped).
fn record_child_in_dir(dir_name: &str, test: &str) -> (bool, String, PathBuf, tempfile::TempDir) {
    record_child_in_dir_as(
        dir_name,
        test,
        &[("LOCKSCAN_TRACE_FORMAT", "jsonl".as_ref())],
    )
}

/// [`record_child_in_dir`] with the environment `env` added instead of the format.
fn record_child_in_dir_as(
    dir_name: &str,
    test: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> (bool, String, PathBuf, tempfile::TempDir) {
    let dir_tmp = scratch_dir(dir_name);
    let dir = dir_tmp.path();
    let spec = format!("{}/", dir.display());
    let mut env = env.to_vec();
    env.push(("LOCKSCAN_TRACE", spec.as_ref()));
    let (ok, output) = run_child(test, &env);
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one trace per process: {files:?}\n{output}");
    (ok, output, files.into_iter().next().unwrap(), dir_tmp)
}

/// Runs the child scenario `test` recording to the trace file `path`, which must succeed;
/// returns its output.
fn record_child_to(path: &Path, test: &str) -> String {
    let (ok, output) = run_child(test, &[(TRACE_PATH, path.as_os_str())]);
    assert!(ok, "{output}");
    output
}

/// Replays the trace at `path` with the library, failing on any unreadable record.
fn replay_file(path: &Path) -> lockscan::analysis::TraceResult {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = lockscan::trace::TraceReader::new(
        file,
        path.display().to_string(),
        lockscan::trace::InputFormat::Auto,
    )
    .unwrap();
    let mut errors = Vec::new();
    let result = lockscan::analysis::Replay::default().run(&mut reader, |e| errors.push(e));
    assert!(errors.is_empty(), "{errors:?}");
    result
}

fn read_trace(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "every line is complete");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The format's rules: header first, end last with the count, ids declared before use, and a
/// replay order in which every lock is held by one exclusive owner at a time.
fn check_trace(records: &[Value]) {
    check_order(records);
    check_scenario(records);
}

/// The format's rules: header first, `end` last with the count, every thread and lock declared
/// before use, and each lock held by one thread at a time in file order.
fn check_order(records: &[Value]) {
    assert_eq!(records[0]["type"], "header");
    assert_eq!(records[0]["format"], "lockscan-trace");
    assert_eq!(records[0]["version"], 1);
    let end = records.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(
        end["events"],
        records.len() as u64 - 1,
        "every record before `end`"
    );
    assert_eq!(end["dropped"], 0);
    let mut threads = HashMap::new();
    let mut locks = HashMap::new();
    let mut holders: HashMap<u64, (u64, u32)> = HashMap::new();
    for record in &records[1..records.len() - 1] {
        let kind = record["type"].as_str().unwrap();
        match kind {
            "thread" => {
                threads.insert(record["tid"].as_u64().unwrap(), record["name"].clone());
                continue;
            }
            "lock" => {
                locks.insert(record["lock"].as_u64().unwrap(), record.clone());
                continue;
            }
            "condvar" => continue,
            _ => {}
        }
        let tid = record["tid"].as_u64().unwrap();
        assert!(
            threads.contains_key(&tid),
            "thread declared before use: {record}"
        );
        let Some(lock) = record["lock"].as_u64() else {
            continue;
        };
        assert!(
            locks.contains_key(&lock),
            "lock declared before use: {record}"
        );
        let shared = record["mode"] == "shared";
        match kind {
            "acquire" if !shared => {
                let holder = holders.entry(lock).or_insert((tid, 0));
                assert!(
                    holder.1 == 0 || holder.0 == tid,
                    "{record} while thread {} holds it",
                    holder.0
                );
                *holder = (tid, holder.1 + 1);
            }
            "release" | "wait" if !shared => {
                let holder = holders.get_mut(&lock).expect("released before acquired");
                assert_eq!(holder.0, tid, "released by its holder: {record}");
                holder.1 -= 1;
            }
            _ => {}
        }
    }
}

/// What `scenario` must have left in the trace.
fn check_scenario(records: &[Value]) {
    let declared = |kind: &str, key: &str| -> HashMap<u64, Value> {
        records
            .iter()
            .filter(|r| r["type"] == kind)
            .map(|r| (r[key].as_u64().unwrap(), r.clone()))
            .collect()
    };
    let locks = declared("lock", "lock");
    let threads: HashMap<u64, Value> = declared("thread", "tid")
        .into_iter()
        .map(|(tid, r)| (tid, r["name"].clone()))
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for expected in [
        "thread", "lock", "condvar", "request", "acquire", "release", "wait", "notify",
    ] {
        assert!(
            kinds.contains(&expected),
            "a {expected} record in {kinds:?}"
        );
    }
    let names: Vec<&Value> = locks.values().map(|l| &l["name"]).collect();
    assert!(names.contains(&&Value::from("rec:A")), "{names:?}");
    assert!(
        records.iter().any(|r| r["try"] == true),
        "a try acquisition"
    );
    assert!(
        records.iter().any(|r| r["mode"] == "shared"),
        "a shared acquisition"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["type"] == "acquire")
            .all(|r| r["site"].as_str().unwrap().contains("record.rs")),
        "sites point at the scenario"
    );
    assert!(threads.values().any(|n| n == "rec-second"), "{threads:?}");
}

#[test]
fn a_recording_started_through_the_api_follows_the_format() {
    let dir_tmp = scratch_dir("record-api");
    let dir = dir_tmp.path();
    let path = dir.join("nested/trace.json");
    record_child_to(&path, "record::child_records_through_the_api");
    check_trace(&read_trace(&path));
}

#[test]
fn lockscan_trace_in_a_directory_writes_one_complete_trace_per_process() {
    let (ok, output, trace, _dir) = record_child_in_dir(
        "record-env",
        "record::child_records_through_the_environment",
    );
    assert!(ok, "{output}");
    let name = trace.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("detector-") && name.ends_with(".json"),
        "{name}"
    );
    check_trace(&read_trace(&trace));
}

#[test]
fn percent_p_in_the_trace_path_is_the_pid() {
    let dir_tmp = scratch_dir("record-pid");
    let dir = dir_tmp.path();
    let spec = dir.join("t-%p.json");
    let (ok, output) = run_child(
        "record::child_records_through_the_environment",
        &[("LOCKSCAN_TRACE", spec.as_os_str())],
    );
    assert!(ok, "{output}");
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1);
    let pid = files[0]
        .strip_prefix("t-")
        .and_then(|f| f.strip_suffix(".json"));
    assert!(pid.is_some_and(|p| p.parse::<u32>().is_ok()), "{files:?}");
}

/// Races and an ordered hand-off, recorded: the live check's verdicts are printed for the
/// parent to compare with the offline replay of the trace.
#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_records_races() {
    assert!(in_child(), "run by the record tests");
    lockscan::set_policy(lockscan::Policy::Collect);
    let path = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let recording = lockscan::record::start(&path).unwrap();
    let racy = Arc::new(lockscan::Tracked::named("rec:racy", 0));
    let guarded = Arc::new(lockscan::Tracked::named("rec:guarded", 0));
    let lock = Arc::new(Mutex::named("rec:guard", ()));
    racy.set(1);
    guarded.set(1);
    let child = {
        let (racy, guarded, lock) = (racy.clone(), guarded.clone(), lock.clone());
        lockscan::thread::spawn(move || {
            racy.set(racy.get() + 1);
            let _g = lock.lock();
            guarded.set(guarded.get() + 1);
        })
    };
    racy.set(racy.get() + 1);
    {
        let _g = lock.lock();
        guarded.set(guarded.get() + 1);
    }
    child.join().unwrap();
    guarded.set(guarded.get() + 1);
    recording.finish().unwrap();
    for finding in lockscan::findings() {
        if finding.kind == lockscan::FindingKind::DataRace {
            println!("LIVE {}", race_key(&finding));
        }
    }
}

/// A data race as the variable and its two sites, sorted.
fn race_key(finding: &lockscan::Finding) -> String {
    let mut sites: Vec<String> = finding
        .vars
        .iter()
        .map(|v| v.site.as_ref().unwrap().to_string())
        .collect();
    sites.sort();
    format!("{} {}", finding.vars[0].var, sites.join(" "))
}

#[test]
fn the_offline_replay_finds_the_races_the_live_check_found() {
    let dir_tmp = scratch_dir("record-races");
    let dir = dir_tmp.path();
    let path = dir.join("races.json");
    let output = record_child_to(&path, "record::child_records_races");
    // libtest prints `test NAME ... ` before the test's own output, on the same line.
    let mut live: Vec<&str> = output
        .lines()
        .filter_map(|l| l.split_once("LIVE ").map(|(_, key)| key))
        .collect();
    live.sort_unstable();
    assert!(!live.is_empty(), "the live check found the race:\n{output}");
    assert!(live.iter().all(|k| k.starts_with("rec:racy ")), "{live:?}");

    let result = replay_file(&path);
    let mut offline: Vec<String> = result
        .findings
        .iter()
        .filter(|f| f.kind == lockscan::FindingKind::DataRace)
        .map(race_key)
        .collect();
    offline.sort_unstable();
    assert_eq!(offline, live);
}

#[test]
fn the_trace_is_complete_after_a_finding_panic() {
    // The policy test's scenario under the default policy: the second thread panics at the
    // acquisition that closes the cycle, and the test's main thread fails on the join.
    let (ok, output, trace, _dir) = record_child_in_dir("record-panic", "policy::child_ab_then_ba");
    assert!(!ok, "the child fails on the finding:\n{output}");
    let records = read_trace(&trace);
    let end = records.last().unwrap();
    assert_eq!(end["type"], "end", "the exit handler ended the trace");
    assert_eq!(end["events"], records.len() as u64 - 1);
    // Both orders are in it, for the offline analysis to find again.
    let acquires = records.iter().filter(|r| r["type"] == "acquire").count();
    assert!(acquires >= 3, "{records:?}");
}

#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_relocks_a_mutex() {
    assert!(in_child(), "run by the record tests");
    lockscan::set_policy(lockscan::Policy::Collect);
    let cache = Mutex::named("rec:cache", 0);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _first = cache.lock();
        let _second = cache.lock();
    }));
    assert!(unwound.is_err(), "a re-lock unwinds whatever the policy");
}

/// Regression: a thread that re-locked a mutex it held was unwound before it blocked, so the
/// trace showed nothing wrong and `lockscan run` reported no findings.
#[test]
fn a_fatal_relock_is_in_the_trace_and_the_replay_reports_it() {
    let (ok, output, trace, _dir) =
        record_child_in_dir("record-relock", "record::child_relocks_a_mutex");
    assert!(ok, "{output}");
    let records = read_trace(&trace);
    let recorded: Vec<&Value> = records.iter().filter(|r| r["type"] == "finding").collect();
    assert_eq!(recorded.len(), 1, "{records:?}");
    assert_eq!(recorded[0]["finding"]["kind"], "api-misuse");

    let result = replay_file(&trace);
    let misuse: Vec<&lockscan::Finding> = result
        .findings
        .iter()
        .filter(|f| f.locks == ["rec:cache"])
        .collect();
    assert_eq!(misuse.len(), 1, "{:?}", result.findings);
    assert_eq!(misuse[0].kind, lockscan::FindingKind::ApiMisuse);
    assert_eq!(misuse[0].severity, lockscan::Severity::Error);
    let sites: Vec<String> = misuse[0].edges[0]
        .from_site
        .iter()
        .chain(&misuse[0].edges[0].to_site)
        .map(ToString::to_string)
        .collect();
    assert!(sites.iter().all(|s| s.contains("record.rs")), "{sites:?}");
}

/// A directory of traces is compact unless `LOCKSCAN_TRACE_FORMAT=jsonl`; a finding recorded
/// there is a record of its own fields (no JSON), and the replay reports it.
#[test]
fn a_directory_records_compact_by_default_findings_included() {
    let (ok, output, trace, _dir) =
        record_child_in_dir_as("record-compact", "record::child_relocks_a_mutex", &[]);
    assert!(ok, "{output}");
    let name = trace.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("detector-") && name.ends_with(".lstrace"),
        "{name}"
    );
    let bytes = std::fs::read(&trace).unwrap();
    assert!(
        bytes.starts_with(&lockscan::trace::compact::MAGIC),
        "{name}"
    );
    assert!(
        !bytes.windows(8).any(|w| w == b"\"kind\":\""),
        "the finding is not JSON"
    );
    let records = read_compact_trace(&trace);
    let recorded: Vec<&Value> = records.iter().filter(|r| r["type"] == "finding").collect();
    assert_eq!(recorded.len(), 1, "{records:?}");
    assert_eq!(recorded[0]["finding"]["kind"], "api-misuse");
    assert_eq!(recorded[0]["finding"]["locks"][0], "rec:cache");

    let result = replay_file(&trace);
    let misuse: Vec<&lockscan::Finding> = result
        .findings
        .iter()
        .filter(|f| f.locks == ["rec:cache"])
        .collect();
    assert_eq!(misuse.len(), 1, "{:?}", result.findings);
    assert_eq!(misuse[0].kind, lockscan::FindingKind::ApiMisuse);

    // `LOCKSCAN_TRACE_FORMAT=jsonl` still chooses JSON Lines.
    let (ok, output, trace, _dir) = record_child_in_dir_as(
        "record-jsonl",
        "record::child_relocks_a_mutex",
        &[("LOCKSCAN_TRACE_FORMAT", "jsonl".as_ref())],
    );
    assert!(ok, "{output}");
    assert_eq!(trace.extension().unwrap(), "json");
    let records = read_trace(&trace);
    assert_eq!(records.iter().filter(|r| r["type"] == "finding").count(), 1);
}

/// Sixteen threads taking four shared locks in turns, recorded to `TRACE_PATH`.
#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_sixteen_threads() {
    assert!(in_child(), "run by the record tests");
    lockscan::set_policy(lockscan::Policy::Collect);
    let path = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let recording = lockscan::record::start(&path).unwrap();
    let locks: Arc<Vec<Mutex<u64>>> = Arc::new(
        (0..4)
            .map(|i| Mutex::named(format!("rec16:{i}"), 0))
            .collect(),
    );
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let locks = locks.clone();
            thread::spawn(move || {
                for round in 0..500 {
                    let first = &locks[(t + round) % 4];
                    let second = &locks[(t + round + 1) % 4];
                    let (first, second) = if first.sequence() < second.sequence() {
                        (first, second)
                    } else {
                        (second, first)
                    };
                    let mut a = first.lock();
                    let mut b = second.lock();
                    *a += 1;
                    *b += 1;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    recording.finish().unwrap();
}

/// The records of a compact trace, as the JSONL records `lockscan convert` would write.
fn read_compact_trace(path: &Path) -> Vec<Value> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let reader = lockscan::trace::CompactReader::new(file, path.display().to_string());
    let mut jsonl = lockscan::trace::JsonlWriter::new(Vec::new());
    for event in reader {
        // As `lockscan convert` does: the compact count has records JSONL does not (the
        // starts and exits of threads whose spawn lockscan saw), so the writer counts its own.
        let event = match event.unwrap() {
            lockscan::trace::Event::End { dropped, .. } => lockscan::trace::Event::End {
                events: None,
                dropped,
            },
            event => event,
        };
        jsonl.write(&event).unwrap();
    }
    let text = String::from_utf8(std::mem::take(jsonl.get_mut())).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn sixteen_threads_recorded_in_either_encoding_keep_every_locks_holder_sequence() {
    let dir_tmp = scratch_dir("record-sixteen");
    let dir = dir_tmp.path();
    for name in ["sixteen.json", "sixteen.lstrace"] {
        let path = dir.join(name);
        record_child_to(&path, "record::child_sixteen_threads");
        let records = if name.ends_with(".json") {
            read_trace(&path)
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[..8], lockscan::trace::compact::MAGIC.as_slice());
            read_compact_trace(&path)
        };
        check_order(&records);
        let acquires = records.iter().filter(|r| r["type"] == "acquire").count();
        assert_eq!(acquires, 16 * 500 * 2, "{name}");
    }
    // The same run, a fraction of the size.
    let json = std::fs::metadata(dir.join("sixteen.json")).unwrap().len();
    let compact = std::fs::metadata(dir.join("sixteen.lstrace"))
        .unwrap()
        .len();
    assert!(compact * 5 < json, "compact {compact} bytes, JSONL {json}");
}

#[test]
fn a_compact_recording_of_every_record_kind_follows_the_format_once_converted() {
    let dir_tmp = scratch_dir("record-compact");
    let dir = dir_tmp.path();
    let path = dir.join("trace.lstrace");
    record_child_to(&path, "record::child_records_through_the_api");
    check_trace(&read_compact_trace(&path));
}

/// Two threads take locks while recording to a compact trace, then the process dies without
/// finishing the trace (no exit handler runs), after the writer had time to write.
#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_killed_mid_run() {
    assert!(in_child(), "run by the record tests");
    let path = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let _recording = lockscan::record::start(&path).unwrap();
    let locks = Arc::new((Mutex::named("killed:A", 0), Mutex::named("killed:B", 0)));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let locks = locks.clone();
            thread::spawn(move || {
                for _ in 0..1000 {
                    let _a = locks.0.lock();
                    let _b = locks.1.lock();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    // Longer than the writer's flush interval.
    thread::sleep(Duration::from_millis(300));
    std::process::abort();
}

/// Reads a trace's bytes as the CLI would, returning the events and warnings; any error fails.
fn read_bytes(bytes: &[u8]) -> (Vec<lockscan::trace::Event>, Vec<String>) {
    let mut reader =
        lockscan::trace::TraceReader::new(bytes, "t.lstrace", lockscan::trace::InputFormat::Auto)
            .unwrap();
    let events: Vec<_> = reader
        .by_ref()
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let warnings = reader.warnings().iter().map(ToString::to_string).collect();
    (events, warnings)
}

#[test]
fn a_recorder_killed_mid_run_leaves_a_readable_compact_prefix() {
    let dir_tmp = scratch_dir("record-killed");
    let dir = dir_tmp.path();
    let path = dir.join("killed.lstrace");
    let (ok, output) = run_child(
        "record::child_killed_mid_run",
        &[(TRACE_PATH, path.as_os_str())],
    );
    assert!(!ok, "the child aborts: {output}");
    let bytes = std::fs::read(&path).unwrap();
    let (events, warnings) = read_bytes(&bytes);
    assert!(
        warnings.iter().any(|w| w.contains("no `end` record")),
        "{warnings:?}"
    );
    let acquires = events
        .iter()
        .filter(|e| matches!(e, lockscan::trace::Event::Acquire { .. }))
        .count();
    assert_eq!(
        acquires,
        2 * 1000 * 2,
        "everything before the pause was written"
    );
    // Cut anywhere past the header, as a kill during a write would: the prefix is read, with a
    // warning at most.
    let step = (bytes.len() / 500).max(1);
    for cut in (200..bytes.len()).step_by(step) {
        read_bytes(&bytes[..cut]);
    }
}

#[test]
fn a_corrupt_recorded_trace_is_an_error_with_its_offset_never_a_panic() {
    let dir_tmp = scratch_dir("record-corrupt");
    let dir = dir_tmp.path();
    let path = dir.join("trace.lstrace");
    record_child_to(&path, "record::child_records_through_the_api");
    let good = std::fs::read(&path).unwrap();
    for at in 8..good.len() {
        for value in [0x00, 0x11, 0x7f, 0x80, 0xff] {
            let mut bytes = good.clone();
            bytes[at] = value;
            let mut reader = lockscan::trace::TraceReader::new(
                bytes.as_slice(),
                "t.lstrace",
                lockscan::trace::InputFormat::Auto,
            )
            .unwrap();
            for event in reader.by_ref() {
                if let Err(error) = event {
                    assert!(error.to_string().contains("t.lstrace: byte "), "{error}");
                }
            }
        }
    }
}

/// The same operations on the same locks, from one thread: recorded twice, they are the same
/// events (the locks keep their ids, each recording declares them anew).
fn same_steps(outer: &Mutex<u32>, inner: &Mutex<u32>, table: &RwLock<u32>, ready: &Condvar) {
    for round in 0..3 {
        let mut a = outer.lock();
        *inner.lock() += round;
        *a += 1;
        let _ = ready.wait_for(&mut a, Duration::from_millis(1));
        drop(a);
        let _read = table.read();
        drop(table.try_write());
    }
    *inner.lock() += 1;
    *outer.lock() += 1;
}

#[test]
#[ignore = "a scenario that the record tests run in a child process"]
fn child_records_the_same_steps_in_both_encodings() {
    assert!(in_child(), "run by the record tests");
    let dir = PathBuf::from(std::env::var_os(TRACE_PATH).unwrap());
    let (outer, inner, table) = (Mutex::new(0), Mutex::new(0), RwLock::new(0));
    let ready = Condvar::new();
    for name in ["same.lstrace", "same.json"] {
        let recording = lockscan::record::start(dir.join(name)).unwrap();
        same_steps(&outer, &inner, &table, &ready);
        recording.finish().unwrap();
    }
}

/// The recorder writes a JSONL trace without reading back a compact one; what it writes is,
/// byte for byte, the compact recording of the same events converted as `lockscan convert`
/// converts it.
#[test]
fn a_jsonl_recording_is_the_compact_recording_of_the_same_events_converted() {
    let dir_tmp = scratch_dir("record-same");
    let dir = dir_tmp.path();
    record_child_to(
        dir,
        "record::child_records_the_same_steps_in_both_encodings",
    );
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("same.lstrace")).unwrap());
    let reader = lockscan::trace::CompactReader::new(file, "same.lstrace");
    let mut converted = lockscan::trace::JsonlWriter::new(Vec::new());
    for event in reader {
        let event = match event.unwrap() {
            lockscan::trace::Event::End { dropped, .. } => lockscan::trace::Event::End {
                events: None,
                dropped,
            },
            event => event,
        };
        converted.write(&event).unwrap();
    }
    let converted = String::from_utf8(std::mem::take(converted.get_mut())).unwrap();
    let recorded = std::fs::read_to_string(dir.join("same.json")).unwrap();
    assert!(recorded.lines().count() > 20, "{recorded}");
    assert_eq!(recorded, converted);
}
