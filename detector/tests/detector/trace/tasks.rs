//! Recorded async tasks (`lockscan::tokio`): a trace keeps each wrapped task as a thread of
//! its own, named, with its spawn, so that `analyze` replays what the live detector saw — the
//! same findings, not those of the worker threads that happened to poll the tasks.
#![cfg(lockscan_active)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Waker};

use lockscan::analysis::Replay;
use lockscan::tokio::{Instrument, Mutex};
use lockscan::trace::Event;
use lockscan::{Finding, Policy};

use super::util::{analyze_file, read_events};
use crate::support::{in_child, run_child, scratch_dir};

const DIR: &str = "LOCKSCAN_TEST_TASKS_DIR";
const FILE: &str = "LOCKSCAN_TEST_TASKS_FILE";

/// The findings about the scenario's locks (`tt:`), as whole reports sorted by fingerprint.
fn reports<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<String> {
    let mut ours: Vec<&Finding> = findings
        .into_iter()
        .filter(|f| !f.locks.is_empty() && f.locks.iter().all(|l| l.starts_with("tt:")))
        .collect();
    ours.sort_by_key(|f| (f.fingerprint(), f.to_string()));
    ours.iter().map(ToString::to_string).collect()
}

/// A task that takes `first` then `second`, yielding to the runtime while it holds `first`.
async fn in_order(first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>) {
    let mut a = first.lock().await;
    tokio::task::yield_now().await;
    let mut b = second.lock().await;
    *a += 1;
    *b += 1;
}

/// Two tasks in opposite orders, the second after the first through a channel lockscan does
/// not see (the two orders stay concurrent): a potential deadlock of both tasks.
async fn opposite_orders(prefix: &str, runtime: &str) {
    let lock = |name: &str| Arc::new(Mutex::named(format!("tt:{prefix}{name}"), 0));
    let (a, b) = (lock("A"), lock("B"));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let left = lockscan::tokio::spawn_named(format!("tt-{runtime}-left"), {
        let (a, b) = (a.clone(), b.clone());
        async move {
            in_order(a, b).await;
            done_tx.send(()).unwrap();
        }
    });
    let right = lockscan::tokio::spawn_named(format!("tt-{runtime}-right"), async move {
        tokio::task::yield_now().await;
        done_rx.await.unwrap();
        in_order(b, a).await;
    });
    left.await.unwrap();
    right.await.unwrap();
}

/// Polls `future` once, with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// A future that is polled by hand, on one thread and then another.
type Pending = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A thread that polls the futures it is given once each, and hands them back.
struct Poller {
    give: mpsc::Sender<(Pending, bool)>,
    back: mpsc::Receiver<Pending>,
}

impl Poller {
    fn start() -> Poller {
        let (give, given) = mpsc::channel::<(Pending, bool)>();
        let (hand_back, back) = mpsc::channel();
        std::thread::spawn(move || {
            for (mut future, ready) in given {
                assert_eq!(poll_once(future.as_mut()).is_ready(), ready);
                hand_back.send(future).unwrap();
            }
        });
        Poller { give, back }
    }

    /// Polls `future` once on this poller's thread; `ready`: whether that poll finishes it.
    fn poll(&self, future: Pending, ready: bool) -> Pending {
        self.give.send((future, ready)).unwrap();
        self.back.recv().unwrap()
    }
}

#[test]
#[ignore = "a scenario that the task round-trip tests run in a child process"]
fn child_records_tasks() {
    assert!(in_child(), "run by the task round-trip tests");
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
    let file = std::env::var_os(FILE).unwrap();
    lockscan::set_policy(Policy::Collect);
    let recording = lockscan::record::start(dir.join(file)).unwrap();

    // AB/BA between two tasks on one worker thread, then on several.
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    current.block_on(opposite_orders("one-", "one"));
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    multi.block_on(opposite_orders("many-", "many"));

    // Two tasks interleaving on one thread, each holding its own lock over a yield, twice: no
    // finding (a per-thread held set would see X then Y and Y then X).
    current.block_on(async {
        let take = |lock: Arc<Mutex<()>>| async move {
            for _ in 0..2 {
                let _held = lock.lock().await;
                tokio::task::yield_now().await;
            }
        };
        let one = lockscan::tokio::spawn(take(Arc::new(Mutex::named("tt:X", ()))));
        let two = lockscan::tokio::spawn(take(Arc::new(Mutex::named("tt:Y", ()))));
        one.await.unwrap();
        two.await.unwrap();
    });

    // A task that moves between threads while holding a lock: polled on one thread, then
    // another, then the first again, quicker than the trace writer collects: `K` taken on the
    // first, `L` taken (an edge from the task's `K`) and `K` released on the second, `L`
    // released on the first. Another task takes `L` then `K`.
    let (k, l) = (
        Arc::new(Mutex::named("tt:K", 0)),
        Arc::new(Mutex::named("tt:L", 0)),
    );
    let (first, second) = (Poller::start(), Poller::start());
    let (k_done, k_wait) = tokio::sync::oneshot::channel::<()>();
    let (l_done, l_wait) = tokio::sync::oneshot::channel::<()>();
    let hopper: Pending = Box::pin(
        {
            let (k, l) = (k.clone(), l.clone());
            async move {
                let held_k = k.lock().await;
                k_wait.await.unwrap();
                let held_l = l.lock().await;
                drop(held_k);
                l_wait.await.unwrap();
                drop(held_l);
            }
        }
        .instrumented_as("tt-hopper"),
    );
    let hopper = first.poll(hopper, false);
    k_done.send(()).unwrap();
    let hopper = second.poll(hopper, false);
    l_done.send(()).unwrap();
    drop(first.poll(hopper, true));
    let other = async {
        let _l = l.lock().await;
        *k.lock().await += 1;
    }
    .instrumented_as("tt-other-way");
    assert!(poll_once(pin!(other)).is_ready());

    // Spawn order: the spawner's locks before the spawn are ordered before the task's (an
    // inversion, not a potential deadlock); those after it are not (a potential deadlock).
    current.block_on(
        async {
            let lock = |name: &str| Arc::new(Mutex::named(format!("tt:{name}"), 0));
            let (p, q, r, s) = (lock("P"), lock("Q"), lock("R"), lock("S"));
            in_order(p.clone(), q.clone()).await;
            let (go, wait) = tokio::sync::oneshot::channel::<()>();
            let task = lockscan::tokio::spawn_named("tt-spawned", {
                let (r, s) = (r.clone(), s.clone());
                async move {
                    in_order(q, p).await;
                    wait.await.unwrap();
                    in_order(s, r).await;
                }
            });
            in_order(r, s).await;
            go.send(()).unwrap();
            task.await.unwrap();
            // Join order: a wrapped future the task awaits to its end is joined by it, so the
            // task's locks after it are ordered after the future's (an inversion).
            let (u, v) = (lock("U"), lock("V"));
            in_order(u.clone(), v.clone())
                .instrumented_as("tt-nested")
                .await;
            in_order(v, u).await;
        }
        .instrumented_as("tt-spawner"),
    );

    // A task aborted while it holds a lock: the runtime drops its future outside any poll of
    // it, and the release is still the task's (not a stray release in the stream of the thread
    // that dropped it), so that the spawner taking the lock afterwards is no misuse.
    current.block_on(
        async {
            let z = Arc::new(Mutex::named("tt:Z", 0));
            let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
            let task = lockscan::tokio::spawn_named("tt-aborted", {
                let z = z.clone();
                async move {
                    let _z = z.lock().await;
                    held_tx.send(()).unwrap();
                    std::future::pending::<()>().await;
                }
            });
            held_rx.await.unwrap();
            task.abort();
            assert!(task.await.unwrap_err().is_cancelled());
            *z.lock().await += 1;
        }
        .instrumented_as("tt-aborter"),
    );

    recording.finish().unwrap();
    let live = reports(&lockscan::findings());
    std::fs::write(dir.join("live.txt"), live.join("\u{1e}")).unwrap();
}

/// Runs the scenario recording into `file`; the live reports and the trace's path.
fn record(dir: &Path, file: &str) -> (Vec<String>, PathBuf) {
    let (ok, output) = run_child(
        "trace::tasks::child_records_tasks",
        &[(DIR, dir.as_os_str()), (FILE, file.as_ref())],
    );
    assert!(ok, "the child failed:\n{output}");
    let text = std::fs::read_to_string(dir.join("live.txt")).unwrap();
    let live = text.split('\u{1e}').map(str::to_owned).collect();
    (live, dir.join(file))
}

#[test]
fn recorded_tasks_give_the_live_findings_offline_in_both_encodings() {
    for file in ["trace.lstrace", "trace.json"] {
        let dir = scratch_dir("trace-tasks");
        let (live, trace) = record(dir.path(), file);
        // Live: the two potential deadlocks (one worker, many), the hopper's cycle, the
        // spawner's three; nothing about X and Y.
        assert_eq!(live.len(), 6, "live ({file}): {live:#?}");
        assert!(live.iter().all(|r| !r.contains("tt:X")), "{live:#?}");
        // What the spawner did before the spawn is ordered before the task, and what the
        // nested task did before what its maker did after awaiting it: inversions.
        for lock in ["`tt:P`", "`tt:U`"] {
            assert!(
                live.iter()
                    .any(|r| r.starts_with("error[lock-order-inversion]") && r.contains(lock)),
                "{lock}: {live:#?}"
            );
        }
        let outcome = analyze_file(&trace);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
        // The trace's `finding` records aside, the replay itself finds what live found.
        let (events, errors, _, _) = read_events(&trace);
        assert!(errors.is_empty(), "{errors:?}");
        let mut replay = Replay::default();
        for event in events {
            if !matches!(event, Event::Finding(_)) {
                replay.event(event);
            }
        }
        let replayed = reports(&replay.finish().findings);
        assert_eq!(replayed, live, "replayed ({file}), then live");
        assert_eq!(
            reports(&outcome.result.findings),
            live,
            "analyzed ({file}), then live"
        );
    }
}

#[test]
fn a_recorded_task_is_a_thread_of_its_own_named_and_spawned_by_its_spawner() {
    for file in ["trace.lstrace", "trace.json"] {
        let dir = scratch_dir("trace-task-threads");
        let (_, trace) = record(dir.path(), file);
        let (events, errors, _, _) = read_events(&trace);
        assert!(errors.is_empty(), "{errors:?}");
        let named = |wanted: &str| {
            events.iter().find_map(|e| match e {
                Event::Thread { tid, name, .. } if name.as_deref() == Some(wanted) => Some(*tid),
                _ => None,
            })
        };
        let spawner = |child| {
            events.iter().find_map(|e| match e {
                Event::Spawn { tid, child: c, .. } if *c == child => Some(*tid),
                _ => None,
            })
        };
        let left = named("tt-one-left").unwrap_or_else(|| panic!("the task ({file})"));
        let right = named("tt-one-right").expect("the task");
        // Both spawned by the thread that ran `block_on`, concurrent with each other.
        assert_eq!(spawner(left), spawner(right), "{file}");
        assert!(
            spawner(left).is_some(),
            "the spawn of `tt-one-left` ({file})"
        );
        // A task spawned by `spawn` is named after its spawn site.
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Thread { name: Some(name), .. }
                    if name.starts_with("task spawned at ") && name.contains("tasks.rs")
            )),
            "{file}"
        );
    }
}
