//! Helpers shared by the detector's integration tests.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the scenario hung: lockscan did not break the deadlock")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the scenario panicked"),
    }
}

/// One step of [`in_turn`].
pub type Step<'a> = Box<dyn FnOnce() + Send + 'a>;

/// Runs `steps` one after the other, each on a thread of its own with the given name, in a way
/// lockscan sees as concurrent: every thread is spawned before the first step runs, and each
/// waits for the previous one through a channel, which lockscan does not see. So a lock-order
/// cycle among the steps is a potential deadlock, yet this run cannot deadlock. (Threads
/// spawned and joined one after the other are ordered by the join: a cycle among them is an
/// inversion.)
pub fn in_turn<'a>(steps: Vec<(&str, Step<'a>)>) {
    std::thread::scope(|s| {
        let mut previous: Option<mpsc::Receiver<()>> = None;
        let threads: Vec<_> = steps
            .into_iter()
            .map(|(name, step)| {
                let (done, next) = mpsc::channel::<()>();
                let wait = previous.replace(next);
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn_scoped(s, move || {
                        // Returns once the previous step dropped its sender: when it ended,
                        // or panicked.
                        if let Some(wait) = wait {
                            let _ = wait.recv();
                        }
                        step();
                        drop(done);
                    })
                    .unwrap()
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    });
}

/// A generous bound for scenarios that must not hang.
pub const HANG: Duration = Duration::from_secs(60);

/// Set in child processes, so that their scenario runs only when asked for.
const CHILD: &str = "LOCKSCAN_TEST_CHILD";

/// Runs the ignored test `name` of this binary in a child process with `env`; returns its
/// success and its combined output. For behaviour that is process-wide (the default policy,
/// recording), which parallel tests in one process would disturb.
pub fn run_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> (bool, String) {
    run_child_with(name, env, Capture::Off)
}

/// Whether a child test's output is captured by libtest, as in a plain `cargo test`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    On,
    Off,
}

/// [`run_child`], with libtest's output capture as `capture` says.
pub fn run_child_with(
    name: &str,
    env: &[(&str, &std::ffi::OsStr)],
    capture: Capture,
) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", name, "--ignored", "--test-threads=1"]);
    if capture == Capture::Off {
        command.arg("--nocapture");
    }
    command
        .env(CHILD, "1")
        .env_remove(lockscan::POLICY_ENV)
        .env_remove(lockscan::record::TRACE_ENV)
        .env_remove(lockscan::record::TRACE_FORMAT_ENV)
        .env_remove("RUST_BACKTRACE");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Whether this process is a child started by [`run_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// A fresh, empty directory for one test's files, removed when dropped.
pub fn scratch_dir(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lockscan-{test}-"))
        .tempdir()
        .expect("a scratch directory")
}

/// A wait-while condition that holds until `timeout` from now has passed: a timed wait-while
/// with that timeout times out, and only a check made after it sees the condition false. The
/// condvar tests give it to each condition variable to tell parking_lot's answer (timed out,
/// no check after the timeout) from std's (the condition checked once more).
pub fn holds_until_the_timeout<T: ?Sized>(timeout: Duration) -> impl FnMut(&mut T) -> bool {
    let until = Instant::now() + timeout;
    move |_| Instant::now() < until
}
