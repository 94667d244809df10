//! `lockscan confirm` on a new crate's test suite, as a user runs it: `lockscan run -- cargo
//! test` predicts, `lockscan confirm TRACES -- cargo test` makes the prediction happen (or
//! says it did not). Every command runs under a time limit: a hang fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{bin_dir, run_demo, scratch, sorted_strings};

/// Far above what each command needs (the first one builds lockscan for the new crate).
const LIMIT: Duration = Duration::from_secs(900);

/// A new crate outside the workspace, depending on lockscan by path, with `lib` as its
/// `src/lib.rs`.
fn new_crate(name: &str, lib: &str) -> tempfile::TempDir {
    let dir = scratch(name);
    let workspace = workspace();
    let detector = workspace.join("detector").display().to_string();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nlockscan = {{ path = \"{}\" }}\n\n[workspace]\n",
            detector.replace('\\', "/")
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), lib).unwrap();
    // The workspace's lock file pins the versions it was tested with, and needs no network.
    std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    dir
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// What a command printed, and its exit code.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `lockscan ARGS...` in the crate `dir`, under [`LIMIT`]: its output goes to files (no pipe
/// to fill up), and at the limit its whole process group is killed and the test fails.
fn lockscan(dir: &Path, args: &[&str]) -> Ran {
    let out = dir.join(format!("out-{}.txt", args[0]));
    let err = dir.join(format!("err-{}.txt", args[0]));
    let mut command = Command::new(bin_dir().join("lockscan"));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        // Kept between runs and tests, so only the first run builds lockscan's dependencies.
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("fresh-crate"),
        )
        .env("RUST_BACKTRACE", "0")
        .env_remove("LOCKSCAN_ON_FINDING")
        .env_remove("LOCKSCAN_TRACE")
        .env_remove("LOCKSCAN_STEER")
        .env_remove("RUSTFLAGS");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().expect("run lockscan");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            #[cfg(unix)]
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`lockscan {}` hung:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        code: status.code().expect("exited, not killed"),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// `lockscan run -- cargo test`, into `traces/`.
fn record(dir: &Path) -> Ran {
    lockscan(
        dir,
        &[
            "run",
            "--trace-dir",
            "traces",
            "--",
            "cargo",
            "test",
            "--offline",
            "--quiet",
        ],
    )
}

/// `lockscan confirm EXTRA... traces -- cargo test`, its attempts into `attempts/`.
fn confirm(dir: &Path, extra: &[&str]) -> Ran {
    let mut args = vec!["confirm", "--trace-dir", "attempts"];
    args.extend(extra);
    args.extend(["traces", "--", "cargo", "test", "--offline", "--quiet"]);
    lockscan(dir, &args)
}

/// Two tests move money between the same two accounts in opposite directions: each test
/// alone is fine, and they usually do not overlap (the second waits for a reply first), but
/// they can deadlock.
const SPLIT: &str = r#"use std::sync::LazyLock;
use std::time::Duration;

use lockscan::Mutex;

pub struct Bank {
    pub checking: Mutex<i64>,
    pub savings: Mutex<i64>,
}

pub static BANK: LazyLock<Bank> = LazyLock::new(|| Bank {
    checking: Mutex::new(100),
    savings: Mutex::new(100),
});

pub fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
    let mut from = from.lock();
    let mut to = to.lock();
    *from -= amount;
    *to += amount;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pays_into_savings() {
        transfer(&BANK.checking, &BANK.savings, 10);
    }

    #[test]
    fn pays_back_into_checking() {
        // Waits for a reply first: the other test is done by then, usually.
        std::thread::sleep(Duration::from_millis(200));
        transfer(&BANK.savings, &BANK.checking, 5);
    }
}
"#;

#[test]
fn an_inversion_split_across_two_tests_is_confirmed_with_its_witness() {
    let dir = new_crate("confirm-split", SPLIT);
    let dir = dir.path();
    let recorded = record(dir);
    assert_eq!(recorded.code, 1, "{recorded}");
    assert!(
        recorded.stdout.contains("error[potential-deadlock]"),
        "{recorded}"
    );

    let confirmed = confirm(dir, &[]);
    assert_eq!(confirmed.code, 1, "{confirmed}");
    let text = &confirmed.stdout;
    assert!(
        text.contains("= confirmed: an actual deadlock on attempt"),
        "{confirmed}"
    );
    // The witness: both tests' threads, each holding its first account and requesting the
    // other; and the command that reproduces it runs just those two tests, together.
    for test in ["tests::pays_into_savings", "tests::pays_back_into_checking"] {
        assert!(
            text.contains(&format!("thread `{test}` acquired `src/lib.rs:")),
            "{confirmed}"
        );
        assert!(
            text.contains(&format!("thread `{test}` requested `src/lib.rs:")),
            "{confirmed}"
        );
    }
    let reproduce = text
        .lines()
        .find_map(|l| l.strip_prefix("  = reproduce: "))
        .unwrap_or_else(|| panic!("a reproducing command:\n{confirmed}"));
    assert!(
        reproduce.contains("LOCKSCAN_STEER='src/lib.rs:"),
        "{reproduce}"
    );
    assert!(
        reproduce.ends_with(
            "cargo test --offline --quiet -- --exact tests::pays_into_savings \
             tests::pays_back_into_checking --test-threads=2"
        ) || reproduce.ends_with(
            "cargo test --offline --quiet -- --exact tests::pays_back_into_checking \
             tests::pays_into_savings --test-threads=2"
        ),
        "{reproduce}"
    );
    assert!(
        text.contains("1 of 1 potential deadlock confirmed"),
        "{confirmed}"
    );

    // The verdict in JSON, and the gate on confirmed findings only.
    let json = confirm(dir, &["--format", "json", "--fail-on", "confirmed"]);
    assert_eq!(json.code, 1, "{json}");
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], "potential-deadlock", "{json}");
    let confirmation = &finding["confirmation"];
    assert_eq!(confirmation["verdict"], "confirmed", "{json}");
    assert_eq!(
        confirmation["witness"]["steps"].as_array().map(Vec::len),
        Some(4),
        "{json}"
    );
    assert_eq!(report["confirm"]["confirmed"], 1, "{json}");
}

#[test]
fn the_same_tests_behind_a_gate_lock_have_nothing_to_confirm() {
    let gated = SPLIT.replace(
        "pub fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {\n",
        "pub static GATE: Mutex<()> = lockscan::const_mutex(());\n\n\
             pub fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {\n    \
             let _gate = GATE.lock();\n",
    );
    assert_ne!(gated, SPLIT);
    let dir = new_crate("confirm-gated", &gated);
    let dir = dir.path();
    let recorded = record(dir);
    // A cycle behind a gate lock is a note: nothing fails.
    assert_eq!(recorded.code, 0, "{recorded}");
    assert!(recorded.stdout.contains("note[gated-cycle]"), "{recorded}");
    let confirmed = confirm(dir, &[]);
    assert_eq!(confirmed.code, 0, "{confirmed}");
    assert!(
        confirmed
            .stdout
            .contains("nothing to confirm: no potential deadlock in the traces"),
        "{confirmed}"
    );
}

/// A producer hands a batch over to a consumer through a condition variable whose wait
/// cannot time out: the two take the queue and the statistics in opposite orders, but never
/// at once.
const HANDOFF: &str = r#"use lockscan::{Condvar, Mutex};

#[derive(Default)]
pub struct Stage {
    pub queue: Mutex<Vec<u32>>,
    pub counted: Mutex<u32>,
    pub handed: Mutex<bool>,
    pub handed_over: Condvar,
}

pub fn fill(stage: &Stage) {
    for item in 0..3 {
        let mut counted = stage.counted.lock();
        stage.queue.lock().push(item);
        *counted += 1;
    }
    *stage.handed.lock() = true;
    stage.handed_over.notify_all();
}

pub fn drain(stage: &Stage) {
    let mut handed = stage.handed.lock();
    stage.handed_over.wait_while(&mut handed, |handed| !*handed);
    drop(handed);
    let mut queue = stage.queue.lock();
    while queue.pop().is_some() {
        *stage.counted.lock() -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_a_batch_over() {
        let stage = std::sync::Arc::new(Stage::default());
        let spawn = |name: &str, work: fn(&Stage)| {
            let stage = stage.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || work(&stage))
                .unwrap()
        };
        let producer = spawn("producer", fill);
        let consumer = spawn("consumer", drain);
        producer.join().unwrap();
        consumer.join().unwrap();
        assert_eq!(*stage.counted.lock(), 0);
    }
}
"#;

#[test]
fn a_cycle_handed_off_through_a_condition_variable_is_not_confirmed() {
    let dir = new_crate("confirm-handoff", HANDOFF);
    let dir = dir.path();
    let recorded = record(dir);
    assert_eq!(recorded.code, 1, "{recorded}");
    assert!(
        recorded.stdout.contains("error[potential-deadlock]"),
        "{recorded}"
    );
    let confirmed = confirm(
        dir,
        &[
            "--attempts",
            "2",
            "--pause-ms",
            "50",
            "--format",
            "json",
            "--fail-on",
            "confirmed",
        ],
    );
    // Not confirmed, and the gate on confirmed findings passes.
    assert_eq!(confirmed.code, 0, "{confirmed}");
    let report: Value = serde_json::from_str(&confirmed.stdout).expect("JSON");
    let confirmation = &report["findings"][0]["confirmation"];
    assert_eq!(confirmation["verdict"], "not-confirmed", "{confirmed}");
    let tried = confirmation["tried"].as_array().expect("the attempts");
    assert_eq!(tried.len(), 2, "{confirmed}");
    for attempt in tried {
        // The threads are not tests of their own: the whole suite ran; the threads paused
        // where the prediction saw them, and never met.
        assert_eq!(
            attempt["command"], "cargo test --offline --quiet",
            "{confirmed}"
        );
        assert_eq!(attempt["outcome"], "no-deadlock", "{confirmed}");
        assert_eq!(attempt["steering"]["meetings"], 0, "{confirmed}");
        assert!(
            attempt["steering"]["pauses"].as_u64() > Some(0),
            "{confirmed}"
        );
    }
}

/// `lockscan confirm --format json EXTRA... TRACE -- DEMO ARGS...`, under [`LIMIT`], in `dir`.
fn confirm_demo(dir: &Path, demo: &str, args: &[&str], extra: &[&str]) -> (Ran, Value) {
    let trace = dir.join(format!("{demo}-{}.json", args.join("-")));
    run_demo(demo, args, &trace);
    let program = bin_dir().join(demo).display().to_string();
    let trace = trace.display().to_string();
    let mut line = vec!["confirm", "--trace-dir", "attempts", "--format", "json"];
    line.extend(extra);
    line.extend([trace.as_str(), "--", program.as_str()]);
    line.extend(args);
    let ran = lockscan(dir, &line);
    let report =
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{ran}"));
    (ran, report)
}

/// The confirmation of the one potential deadlock of a report.
fn the_confirmation(report: &Value) -> &Value {
    let predicted: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "potential-deadlock")
        .collect();
    assert_eq!(predicted.len(), 1, "{report:#}");
    &predicted[0]["confirmation"]
}

#[test]
fn the_demos_predictions_are_confirmed_where_they_can_happen() {
    let dir_tmp = scratch("confirm-demos");
    let dir = dir_tmp.path();

    // bank transfer: the two transfer threads take turns, with a timeout; steered, they meet.
    let (ran, report) = confirm_demo(dir, "bank", &["transfer"], &[]);
    assert_eq!(ran.code, 1, "{ran}");
    let confirmation = the_confirmation(&report);
    assert_eq!(confirmation["verdict"], "confirmed", "{ran}");
    let threads = sorted_strings(&confirmation["witness"]["threads"]);
    assert_eq!(threads, ["transfer-1", "transfer-2"], "{ran}");

    // The naive philosophers: five threads meet.
    let (ran, report) = confirm_demo(dir, "philosophers", &["naive"], &[]);
    if report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "deadlock")
    {
        // About one run in three deadlocks by itself: nothing is left to predict.
        assert!(ran.stdout.contains("\"potential_deadlocks\": 0"), "{ran}");
    } else {
        let confirmation = the_confirmation(&report);
        assert_eq!(confirmation["verdict"], "confirmed", "{ran}");
        assert_eq!(
            confirmation["witness"]["threads"].as_array().map(Vec::len),
            Some(5),
            "{ran}"
        );
    }

    // Nothing to confirm where nothing was predicted.
    for (demo, args) in [("bank", &["ordered"]), ("philosophers", &["waiter"])] {
        let (ran, report) = confirm_demo(dir, demo, args, &[]);
        assert_eq!(ran.code, 0, "{ran}");
        assert_eq!(report["confirm"]["potential_deadlocks"], 0, "{ran}");
    }

    // The hand-off through a condition variable: predicted, never confirmed.
    let (ran, report) = confirm_demo(
        dir,
        "pipeline",
        &["handoff"],
        &[
            "--attempts",
            "2",
            "--pause-ms",
            "50",
            "--fail-on",
            "confirmed",
        ],
    );
    assert_eq!(ran.code, 0, "{ran}");
    let confirmation = the_confirmation(&report);
    assert_eq!(confirmation["verdict"], "not-confirmed", "{ran}");
    assert_eq!(confirmation["attempts"], 2, "{ran}");
}
