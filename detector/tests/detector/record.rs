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
    let dir = scratch_dir("record-api");
    let path = dir.join("nested/trace.json");
    let (ok, output) = run_child(
        "record::child_records_through_the_api",
        &[(TRACE_PATH, path.as_os_str())],
    );
    assert!(ok, "{output}");
    check_trace(&read_trace(&path));
}

#[test]
fn lockscan_trace_in_a_directory_writes_one_complete_trace_per_process() {
    let dir = scratch_dir("record-env");
    let spec = format!("{}/", dir.display());
    let (ok, output) = run_child(
        "record::child_records_through_the_environment",
        &[("LOCKSCAN_TRACE", spec.as_ref())],
    );
    assert!(ok, "{output}");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("detector-") && name.ends_with(".json"),
        "{name}"
    );
    check_trace(&read_trace(&files[0]));
}

#[test]
fn percent_p_in_the_trace_path_is_the_pid() {
    let dir = scratch_dir("record-pid");
    let spec = dir.join("t-%p.json");
    let (ok, output) = run_child(
        "record::child_records_through_the_environment",
        &[("LOCKSCAN_TRACE", spec.as_os_str())],
    );
    assert!(ok, "{output}");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1);
    let pid = files[0]
        .strip_prefix("t-")
        .and_then(|f| f.strip_suffix(".json"));
    assert!(pid.is_some_and(|p| p.parse::<u32>().is_ok()), "{files:?}");
}
