//! `lockscan::tokio` (feature `tokio`): async locks, with tasks as the unit of the lock order,
//! on current-thread and multi-thread runtimes.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use lockscan::FindingKind;
use lockscan::tokio::{
    Instrument, MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard,
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard, Semaphore,
};

use crate::support::{HANG, findings_about, kinds_about, setup, within};

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A task that takes `first` then `second`, yielding to the runtime while it holds `first`.
async fn in_order(first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>) {
    let mut a = first.lock().await;
    tokio::task::yield_now().await;
    let mut b = second.lock().await;
    *a += 1;
    *b += 1;
}

#[test]
fn two_tasks_taking_ab_and_ba_on_one_worker_are_a_potential_deadlock_of_both_tasks() {
    setup();
    within(HANG, || {
        let (a, b) = (
            Arc::new(Mutex::named("tk1:A", 0)),
            Arc::new(Mutex::named("tk1:B", 0)),
        );
        current_thread().block_on(async {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let left = lockscan::tokio::spawn_named("tk1-left", {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    in_order(a, b).await;
                    done_tx.send(()).unwrap();
                }
            });
            // Runs while `left` holds `A` and yields; takes its locks once `left` is done (a
            // channel lockscan does not see: the two tasks still overlap).
            let right = lockscan::tokio::spawn_named("tk1-right", {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    tokio::task::yield_now().await;
                    done_rx.await.unwrap();
                    in_order(b, a).await;
                }
            });
            left.await.unwrap();
            right.await.unwrap();
        });
    });
    assert_eq!(
        kinds_about(&["tk1:A", "tk1:B"]),
        [FindingKind::PotentialDeadlock]
    );
    let finding = findings_about(&["tk1:A", "tk1:B"]).pop().unwrap();
    let mut tasks = finding.threads.clone();
    tasks.sort();
    assert_eq!(tasks, ["tk1-left", "tk1-right"]);
    assert_eq!(finding.edges.len(), 2);
    for edge in &finding.edges {
        let (from, to) = (edge.from_site.as_ref(), edge.to_site.as_ref());
        assert!(
            from.is_some_and(|s| s.to_string().contains("tokio.rs"))
                && to.is_some_and(|s| s.to_string().contains("tokio.rs")),
            "{edge:?}"
        );
    }
}

#[test]
fn two_tasks_interleaving_on_one_thread_share_no_held_set() {
    setup();
    within(HANG, || {
        let (x, y) = (
            Arc::new(Mutex::named("tk2:X", ())),
            Arc::new(Mutex::named("tk2:Y", ())),
        );
        current_thread().block_on(async {
            // Each holds its own lock over a yield, twice: on one thread, a per-thread held
            // set would see X then Y and Y then X.
            let take = |lock: Arc<Mutex<()>>| async move {
                for _ in 0..2 {
                    let _held = lock.lock().await;
                    tokio::task::yield_now().await;
                }
            };
            let one = lockscan::tokio::spawn(take(x.clone()));
            let two = lockscan::tokio::spawn(take(y.clone()));
            one.await.unwrap();
            two.await.unwrap();
        });
    });
    assert_eq!(kinds_about(&["tk2:X", "tk2:Y"]), []);
}

#[test]
fn two_tasks_taking_ab_and_ba_on_many_workers_are_a_potential_deadlock() {
    setup();
    within(HANG, || {
        let (a, b) = (
            Arc::new(RwLock::named("tk3:A", 0)),
            Arc::new(RwLock::named("tk3:B", 0)),
        );
        multi_thread().block_on(async {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let left = lockscan::tokio::spawn_named("tk3-left", {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    let _a = a.write().await;
                    tokio::task::yield_now().await;
                    *b.write().await += 1;
                    drop(_a);
                    done_tx.send(()).unwrap();
                }
            });
            let right = lockscan::tokio::spawn_named("tk3-right", {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    done_rx.await.unwrap();
                    let _b = b.write_owned().await;
                    tokio::task::yield_now().await;
                    *a.write().await += 1;
                }
            });
            left.await.unwrap();
            right.await.unwrap();
        });
    });
    assert_eq!(
        kinds_about(&["tk3:A", "tk3:B"]),
        [FindingKind::PotentialDeadlock]
    );
    let mut tasks = findings_about(&["tk3:A", "tk3:B"]).pop().unwrap().threads;
    tasks.sort();
    assert_eq!(tasks, ["tk3-left", "tk3-right"]);
}

/// Polls `future` once, with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_task_that_moves_to_another_thread_while_holding_a_lock_keeps_its_edges() {
    setup();
    let (a, b) = (
        Arc::new(Mutex::named("tk4:A", 0)),
        Arc::new(Mutex::named("tk4:B", 0)),
    );
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (a, b) = (a.clone(), b.clone());
        Box::pin(
            async move {
                let _a = a.lock().await;
                go_rx.await.unwrap();
                *b.lock().await += 1;
            }
            .instrumented_as("tk4-mover"),
        )
    };
    // First poll on one thread: `A` taken, then pending on the channel.
    let task = std::thread::spawn(move || {
        let mut task = task;
        assert!(poll_once(task.as_mut()).is_pending());
        task
    })
    .join()
    .unwrap();
    go_tx.send(()).unwrap();
    // The rest on another thread, which never took `A`: the edge comes from the task.
    std::thread::spawn(move || {
        let mut task = task;
        assert!(poll_once(task.as_mut()).is_ready());
    })
    .join()
    .unwrap();
    let other = async {
        let _b = b.lock().await;
        *a.lock().await += 1;
    }
    .instrumented_as("tk4-other");
    assert!(poll_once(pin!(other)).is_ready());
    let finding = findings_about(&["tk4:A", "tk4:B"]).pop().expect("a cycle");
    assert!(
        matches!(
            finding.kind,
            FindingKind::PotentialDeadlock | FindingKind::LockOrderInversion
        ),
        "{finding}"
    );
    let mut tasks = finding.threads;
    tasks.sort();
    assert_eq!(tasks, ["tk4-mover", "tk4-other"]);
}

/// Two tasks that each hold one lock and then await the other's: a deadlock without lockscan.
/// Returns whether each task finished.
fn task_wait_cycle(runtime: tokio::runtime::Runtime, names: [&'static str; 4]) -> Vec<bool> {
    let [lock_a, lock_b, left, right] = names;
    let (a, b) = (
        Arc::new(Mutex::named(lock_a, 0)),
        Arc::new(Mutex::named(lock_b, 0)),
    );
    runtime.block_on(async {
        // Both hold their first lock before either asks for its second (a barrier lockscan
        // does not see).
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let spawn = |name, first: Arc<Mutex<i32>>, second: Arc<Mutex<i32>>| {
            let barrier = barrier.clone();
            lockscan::tokio::spawn_named(name, async move {
                let _first = first.lock().await;
                barrier.wait().await;
                *second.lock().await += 1;
            })
        };
        let left = spawn(left, a.clone(), b.clone());
        let right = spawn(right, b, a);
        let mut finished = vec![left.await.is_ok(), right.await.is_ok()];
        finished.sort();
        finished
    })
}

fn assert_task_deadlock(locks: &[&str], tasks: [&str; 2]) {
    let deadlock = findings_about(locks)
        .into_iter()
        .find(|f| f.kind == FindingKind::Deadlock)
        .expect("a deadlock");
    let mut threads = deadlock.threads.clone();
    threads.sort();
    assert_eq!(threads, tasks);
    assert_eq!(deadlock.edges.len(), 2);
}

#[test]
fn a_wait_cycle_among_tasks_on_one_worker_is_a_deadlock_instead_of_a_hang() {
    setup();
    let names = ["tk5:A", "tk5:B", "tk5-left", "tk5-right"];
    let finished = within(HANG, move || task_wait_cycle(current_thread(), names));
    // The task that closed the cycle panicked, which released its lock for the other.
    assert_eq!(finished, [false, true]);
    assert_task_deadlock(&names[..2], ["tk5-left", "tk5-right"]);
}

#[test]
fn a_wait_cycle_among_tasks_on_many_workers_is_a_deadlock_instead_of_a_hang() {
    setup();
    let names = ["tk6:A", "tk6:B", "tk6-left", "tk6-right"];
    let finished = within(HANG, move || task_wait_cycle(multi_thread(), names));
    assert_eq!(finished, [false, true]);
    assert_task_deadlock(&names[..2], ["tk6-left", "tk6-right"]);
}

#[test]
fn a_blocking_lock_held_across_an_await_is_reported_with_its_site_and_task() {
    setup();
    let blocking = lockscan::Mutex::named("tk7:blocking", 0);
    current_thread().block_on(
        async {
            let mut held = blocking.lock();
            tokio::task::yield_now().await;
            *held += 1;
        }
        .instrumented_as("tk7-task"),
    );
    let findings = findings_about(&["tk7:blocking"]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(finding.kind, FindingKind::LockHeldAcrossAwait);
    assert_eq!(finding.severity, lockscan::Severity::Warning);
    assert_eq!(finding.threads, ["tk7-task"]);
    let site = finding.site.as_ref().expect("the acquisition site");
    assert!(site.to_string().contains("tokio.rs"), "{site}");
}

#[test]
fn a_blocking_lock_dropped_before_the_await_is_not_reported() {
    setup();
    let blocking = lockscan::Mutex::named("tk8:blocking", 0);
    let asynchronous = Mutex::named("tk8:async", 0);
    current_thread().block_on(
        async {
            *blocking.lock() += 1;
            // An async lock may be held across an await.
            let _held = asynchronous.lock().await;
            tokio::task::yield_now().await;
        }
        .instrumented(),
    );
    assert_eq!(kinds_about(&["tk8:blocking", "tk8:async"]), []);
}

#[test]
fn semaphore_permits_make_order_edges_and_no_relock() {
    setup();
    let (permits, lock) = (
        Arc::new(Semaphore::named("tk9:permits", 2)),
        Arc::new(Mutex::named("tk9:lock", ())),
    );
    current_thread().block_on(
        async {
            let _one = permits.acquire().await.unwrap();
            let _two = permits.clone().acquire_owned().await.unwrap();
            let _held = lock.lock().await;
            drop(_held);
            let _held = lock.lock().await;
            let _three = permits.try_acquire();
        }
        .instrumented(),
    );
    assert_eq!(kinds_about(&["tk9:permits", "tk9:lock"]), []);
    current_thread().block_on(
        async {
            let _held = lock.lock().await;
            let _one = permits.acquire().await.unwrap();
        }
        .instrumented(),
    );
    // The two tasks are not ordered (lockscan does not see a task's end): a potential one.
    assert_eq!(
        kinds_about(&["tk9:permits", "tk9:lock"]),
        [FindingKind::PotentialDeadlock]
    );
}

#[test]
fn outside_a_wrapped_task_the_async_locks_record_nothing() {
    setup();
    let (a, b) = (Mutex::named("tk10:A", ()), Mutex::named("tk10:B", ()));
    current_thread().block_on(async {
        for (first, second) in [(&a, &b), (&b, &a)] {
            let _first = first.lock().await;
            let _second = second.try_lock().unwrap();
        }
    });
    assert_eq!(kinds_about(&["tk10:A", "tk10:B"]), []);
}

/// Runs `body` to completion as one wrapped task named `name`, on a current-thread runtime.
fn run_task(name: &'static str, body: impl Future<Output = ()>) {
    current_thread().block_on(body.instrumented_as(name));
}

#[test]
fn an_ab_ba_through_mapped_mutex_guards_is_still_a_potential_deadlock() {
    setup();
    let (a, b) = (
        Arc::new(Mutex::named("map1:A", (0, 0))),
        Arc::new(Mutex::named("map1:B", (0, 0))),
    );
    // Each task holds its first lock only through a mapped guard when it takes the second.
    run_task("map1-left", async {
        let pair = MutexGuard::map(a.lock().await, |pair| pair);
        let mut first = MappedMutexGuard::map(pair, |pair| &mut pair.0);
        *first += 1;
        b.lock().await.0 += 1;
    });
    run_task("map1-right", async {
        let owned = OwnedMutexGuard::try_map(b.clone().lock_owned().await, |_| None::<&mut u8>);
        let owned = owned.expect_err("given back, still held");
        let mut second =
            OwnedMappedMutexGuard::map(OwnedMutexGuard::map(owned, |p| p), |p| &mut p.1);
        *second += 1;
        a.lock().await.1 += 1;
        assert!(Arc::ptr_eq(OwnedMappedMutexGuard::mutex(&second), &b));
    });
    assert_eq!(
        kinds_about(&["map1:A", "map1:B"]),
        [FindingKind::PotentialDeadlock]
    );
    let mut tasks = findings_about(&["map1:A", "map1:B"]).pop().unwrap().threads;
    tasks.sort();
    assert_eq!(tasks, ["map1-left", "map1-right"]);
}

#[test]
fn a_dropped_mapped_mutex_guard_releases_the_lock_and_its_record() {
    setup();
    let (a, b) = (
        Arc::new(Mutex::named("map2:A", vec![1, 2])),
        Arc::new(Mutex::named("map2:B", 0)),
    );
    run_task("map2-left", async {
        let last = MutexGuard::try_map(a.lock().await, |v| v.last_mut()).expect("a last");
        assert_eq!(format!("{last:?} {last}"), "2 2");
        drop(last);
        assert!(a.try_lock().is_ok(), "the mapped guard unlocked the mutex");
        let first = OwnedMutexGuard::map(a.clone().lock_owned().await, |v| &mut v[0]);
        drop(first);
        // Neither mapped guard is held any more: no edge from `A`.
        *b.lock().await += 1;
    });
    run_task("map2-right", async {
        let _b = b.lock().await;
        a.lock().await.push(3);
    });
    assert_eq!(kinds_about(&["map2:A", "map2:B"]), []);
}

#[test]
fn an_ab_ba_through_mapped_rwlock_guards_is_still_a_potential_deadlock() {
    setup();
    let (a, b) = (
        Arc::new(RwLock::named("map3:A", (0, 0))),
        Arc::new(RwLock::named("map3:B", (0, 0))),
    );
    run_task("map3-left", async {
        let whole = RwLockWriteGuard::into_mapped(a.write().await);
        let mut first = RwLockMappedWriteGuard::map(whole, |pair| &mut pair.0);
        *first += 1;
        b.write().await.0 += 1;
    });
    run_task("map3-right", async {
        let owned = OwnedRwLockWriteGuard::map(b.clone().write_owned().await, |pair| pair);
        let mut second = OwnedRwLockMappedWriteGuard::try_map(owned, |pair| Some(&mut pair.1))
            .unwrap_or_else(|_| panic!("mapped"));
        *second += 1;
        a.write().await.1 += 1;
        assert_eq!(format!("{second:?}"), "1");
    });
    assert_eq!(
        kinds_about(&["map3:A", "map3:B"]),
        [FindingKind::PotentialDeadlock]
    );
}

#[test]
fn a_downgraded_rwlock_guard_keeps_the_lock_held_for_reading_until_dropped() {
    setup();
    let (a, b) = (
        Arc::new(RwLock::named("map4:A", (1, 2))),
        Arc::new(RwLock::named("map4:B", 0)),
    );
    run_task("map4-left", async {
        let first = RwLockWriteGuard::downgrade_map(a.write().await, |pair| &pair.0);
        // Held for reading: other readers come in, a writer does not.
        assert!(a.try_read().is_ok() && a.try_write().is_err());
        assert_eq!(*RwLockReadGuard::map(first, |n| n), 1);
        // Dropped with its mapped guard: nothing of `A` is held any more.
        assert!(a.try_write().is_ok());
        let owned =
            OwnedRwLockWriteGuard::try_downgrade_map(a.clone().write_owned().await, |p| Some(&p.1))
                .unwrap_or_else(|_| panic!("mapped"));
        let owned = OwnedRwLockReadGuard::map(owned, |n| n);
        assert_eq!(*owned, 2);
        // A reader that waits for a writer: `A` (read) then `B` (write).
        *b.write().await += 1;
        drop(owned);
        let plain = a.write().await.downgrade();
        assert_eq!(*plain, (1, 2));
    });
    run_task("map4-right", async {
        let _b = b.write().await;
        a.write().await.0 += 1;
    });
    // A reader holding `A` waits for `B`'s writer, which waits for `A`: a potential deadlock.
    assert_eq!(
        kinds_about(&["map4:A", "map4:B"]),
        [FindingKind::PotentialDeadlock]
    );
}
