//! A tokio program recorded with `LOCKSCAN_TRACE`, in both encodings, then read by the
//! `lockscan` command: its wrapped tasks are the threads of the analysis and the pictures,
//! named, whichever worker threads polled them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lockscan::tokio::Mutex;

use crate::support::{analyze, bin_dir, output_within, scratch, sorted_strings};

/// Set in the child process that runs the recorded program.
const CHILD: &str = "LOCKSCAN_E2E_TASKS_CHILD";

/// Takes `first` then `second`, yielding to the runtime while it holds `first`.
async fn in_order(first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>) {
    let mut a = first.lock().await;
    tokio::task::yield_now().await;
    let mut b = second.lock().await;
    *a += 1;
    *b += 1;
}

#[test]
#[ignore = "the recorded program, which the tasks test runs in a child process"]
fn child_runs_tasks_on_a_multi_thread_runtime() {
    assert!(std::env::var_os(CHILD).is_some(), "run by the tasks test");
    lockscan::set_policy(lockscan::Policy::Collect);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let (a, b) = (
            Arc::new(Mutex::named("e2e-task:A", 0)),
            Arc::new(Mutex::named("e2e-task:B", 0)),
        );
        // The second order after the first, through a channel lockscan does not see.
        let (done, wait) = tokio::sync::oneshot::channel();
        let left = lockscan::tokio::spawn_named("e2e-left", {
            let (a, b) = (a.clone(), b.clone());
            async move {
                in_order(a, b).await;
                done.send(()).unwrap();
            }
        });
        let right = lockscan::tokio::spawn_named("e2e-right", async move {
            wait.await.unwrap();
            in_order(b, a).await;
        });
        // Tasks that each hold a lock of their own over yields: no finding.
        let own = |name: &'static str| {
            let lock = Arc::new(Mutex::named(name, ()));
            lockscan::tokio::spawn(async move {
                for _ in 0..4 {
                    let _held = lock.lock().await;
                    tokio::task::yield_now().await;
                }
            })
        };
        let (x, y) = (own("e2e-task:X"), own("e2e-task:Y"));
        for task in [left, right, x, y] {
            task.await.unwrap();
        }
    });
}

/// Runs the program with `LOCKSCAN_TRACE` set to a folder, in `encoding`; its trace.
fn record(dir: &Path, encoding: &str) -> PathBuf {
    let folder = dir.join("traces");
    let output = output_within(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tasks::child_runs_tasks_on_a_multi_thread_runtime",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("LOCKSCAN_TRACE", format!("{}/", folder.display()))
            .env("LOCKSCAN_TRACE_FORMAT", encoding)
            .env_remove("LOCKSCAN_ON_FINDING"),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "the program failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut traces: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(traces.len(), 1, "one trace: {traces:?}");
    traces.pop().unwrap()
}

#[test]
fn a_recorded_tokio_program_is_analyzed_with_its_tasks_as_threads() {
    for encoding in ["compact", "jsonl"] {
        let dir = scratch("tasks");
        let trace = record(dir.path(), encoding);
        let analysis = analyze(&[&trace], &[]);
        assert_eq!(analysis.code, 1, "{encoding}: {}", analysis.json);
        assert_eq!(analysis.kinds(), ["potential-deadlock"], "{encoding}");
        assert_eq!(
            analysis.locks_of("potential-deadlock"),
            ["e2e-task:A", "e2e-task:B"],
            "{encoding}: no cycle of the tasks that shared a worker"
        );
        let finding = analysis.findings().next().unwrap();
        let threads = sorted_strings(&finding["threads"]);
        assert_eq!(threads, ["e2e-left", "e2e-right"], "{encoding}");
        let text = finding.to_string();
        assert!(
            !text.contains("does not see"),
            "{encoding}: lockscan saw the tasks' spawns: {text}"
        );

        // The timeline's rows are the tasks, named.
        let page = dir.path().join("page.html");
        let output = Command::new(bin_dir().join("lockscan"))
            .args(["graph", "--format", "html", "--output"])
            .arg(&page)
            .arg(&trace)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let page = std::fs::read_to_string(page).unwrap();
        for task in ["e2e-left", "e2e-right"] {
            assert!(
                page.contains(&format!("data-thread=\"{task}\"")),
                "{encoding}: a row for {task}"
            );
        }
        let spawned = page.matches("data-thread=\"task spawned at ").count();
        assert_eq!(
            spawned, 2,
            "{encoding}: a row for each task named by its site"
        );
    }
}
