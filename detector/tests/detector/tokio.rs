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

/// What a task of [`task_wait_cycle`] holds and awaits: an async mutex, or the one permit of
/// a semaphore.
enum Resource {
    Lock(Arc<Mutex<i32>>),
    Permit(Arc<Semaphore>),
}

impl Resource {
    fn lock(name: &'static str) -> Resource {
        Resource::Lock(Arc::new(Mutex::named(name, 0)))
    }

    fn permit(name: &'static str) -> Resource {
        Resource::Permit(Arc::new(Semaphore::named(name, 1)))
    }

    fn share(&self) -> Resource {
        match self {
            Resource::Lock(lock) => Resource::Lock(lock.clone()),
            Resource::Permit(permits) => Resource::Permit(permits.clone()),
        }
    }

    /// Takes it, held until the returned value drops.
    async fn take(self) -> Box<dyn Send> {
        match self {
            Resource::Lock(lock) => Box::new(lock.lock_owned().await),
            Resource::Permit(permits) => Box::new(permits.acquire_owned().await.unwrap()),
        }
    }
}

/// Two tasks that each hold one resource (the first made by `first`, the second a mutex) and
/// then await the other's: a deadlock without lockscan. Returns whether each task finished.
fn task_wait_cycle(
    runtime: tokio::runtime::Runtime,
    names: [&'static str; 4],
    first: fn(&'static str) -> Resource,
) -> Vec<bool> {
    let [lock_a, lock_b, left, right] = names;
    let (a, b) = (first(lock_a), Resource::lock(lock_b));
    runtime.block_on(async {
        // Both hold their first lock before either asks for its second (a barrier lockscan
        // does not see).
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let spawn = |name, first: Resource, second: Resource| {
            let barrier = barrier.clone();
            lockscan::tokio::spawn_named(name, async move {
                let _first = first.take().await;
                barrier.wait().await;
                let _second = second.take().await;
            })
        };
        let left = spawn(left, a.share(), b.share());
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
    let finished = within(HANG, move || {
        task_wait_cycle(current_thread(), names, Resource::lock)
    });
    // The task that closed the cycle panicked, which released its lock for the other.
    assert_eq!(finished, [false, true]);
    assert_task_deadlock(&names[..2], ["tk5-left", "tk5-right"]);
}

#[test]
fn a_wait_cycle_among_tasks_on_many_workers_is_a_deadlock_instead_of_a_hang() {
    setup();
    let names = ["tk6:A", "tk6:B", "tk6-left", "tk6-right"];
    let finished = within(HANG, move || {
        task_wait_cycle(multi_thread(), names, Resource::lock)
    });
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

/// The finding of `kind` about `lock`.
fn finding_of(kind: FindingKind, lock: &str) -> lockscan::Finding {
    findings_about(&[lock])
        .into_iter()
        .find(|f| {
            f.kind == kind
                && (kind != FindingKind::LockHeldAcrossAwait
                    || f.severity == lockscan::Severity::Error)
        })
        .unwrap_or_else(|| panic!("a {kind} about {lock} in {:?}", lockscan::findings()))
}

#[test]
fn a_blocking_lock_wanted_while_its_holder_is_parked_on_the_same_current_thread_runtime_is_a_deadlock()
 {
    setup();
    let lock = Arc::new(lockscan::Mutex::named("tk11:blocking", 0));
    let blocker_failed = within(HANG, move || {
        current_thread().block_on(
            async {
                let mut held = lock.lock();
                let blocker = lockscan::tokio::spawn_named("tk11-blocker", {
                    let lock = lock.clone();
                    // Without lockscan, the runtime's one thread blocks here forever, and the
                    // holder is never polled again to let go.
                    async move { *lock.lock() += 1 }
                });
                // Suspended with the lock held until the blocker is done.
                let blocked = blocker.await;
                *held += 1;
                blocked.is_err()
            }
            .instrumented_as("tk11-holder"),
        )
    });
    assert!(blocker_failed, "the blocking task was unwound");
    let deadlock = finding_of(FindingKind::Deadlock, "tk11:blocking");
    assert_eq!(deadlock.threads, ["tk11-holder", "tk11-blocker"]);
    let site = deadlock.site.as_ref().expect("where it blocks").to_string();
    assert!(site.contains("tokio.rs"), "{site}");
    // The holder's acquisition site, too.
    assert!(deadlock.reason.contains("tokio.rs:"), "{deadlock}");
    assert!(
        deadlock.reason.contains("current-thread runtime"),
        "{deadlock}"
    );
}

#[test]
fn a_std_mutex_wanted_inside_the_task_whose_joined_future_holds_it_across_an_await_is_a_deadlock_on_many_workers()
 {
    setup();
    let lock = Arc::new(lockscan::std_sync::Mutex::named("tk12:std", 0));
    let task_failed = within(HANG, move || {
        let runtime = multi_thread();
        // A local task (not `Send`: it holds a std guard across an await) of a multi-thread
        // runtime.
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let task = tokio::task::spawn_local(async move {
                let (held_tx, held_rx) = tokio::sync::oneshot::channel();
                let (_release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
                let holder = async {
                    let mut held = lock.lock().unwrap();
                    held_tx.send(()).unwrap();
                    let _ = release_rx.await;
                    *held += 1;
                }
                .instrumented_as("tk12-holder");
                let blocker = async {
                    held_rx.await.unwrap();
                    // The holder is part of this very task: no other thread can poll it.
                    *lock.lock().unwrap() += 1;
                }
                .instrumented_as("tk12-blocker");
                tokio::join!(holder, blocker);
            });
            task.await.is_err()
        })
    });
    assert!(task_failed, "the task was unwound");
    let deadlock = finding_of(FindingKind::Deadlock, "tk12:std");
    assert_eq!(deadlock.threads, ["tk12-holder", "tk12-blocker"]);
    assert!(deadlock.reason.contains("tokio task"), "{deadlock}");
}

/// Holds `lock` (named `name`) across awaits while `blocker` (given the lock) blocks on it,
/// until the error that makes of the hold is reported, whichever came first: the blocker's
/// wait or the holder's suspension. Then lets go; returns the lock's final value.
async fn hold_until_an_error(
    lock: Arc<lockscan::Mutex<i32>>,
    name: &str,
    blocker: impl FnOnce(Arc<lockscan::Mutex<i32>>) -> tokio::task::JoinHandle<()>,
) -> i32 {
    let mut held = lock.lock();
    let blocker = blocker(lock.clone());
    while !findings_about(&[name])
        .iter()
        .any(|f| f.severity == lockscan::Severity::Error)
    {
        std::thread::yield_now();
        tokio::task::yield_now().await;
    }
    *held += 1;
    drop(held);
    blocker.await.unwrap();
    *lock.lock()
}

#[test]
fn a_task_blocking_on_a_lock_held_across_an_await_on_many_workers_is_an_error_not_a_deadlock() {
    setup();
    let lock = Arc::new(lockscan::Mutex::named("tk13:blocking", 0));
    let total = within(HANG, move || {
        multi_thread().block_on(
            hold_until_an_error(lock, "tk13:blocking", |lock| {
                // Blocks its worker until the holder, polled by another thread, lets go.
                lockscan::tokio::spawn_named("tk13-blocker", async move { *lock.lock() += 1 })
            })
            .instrumented_as("tk13-holder"),
        )
    });
    assert_eq!(total, 2, "both went on");
    assert_eq!(
        kinds_about(&["tk13:blocking"]),
        [
            FindingKind::LockHeldAcrossAwait,
            FindingKind::LockHeldAcrossAwait
        ],
        "the warning, then the error; no deadlock"
    );
    let error = finding_of(FindingKind::LockHeldAcrossAwait, "tk13:blocking");
    assert_eq!(error.threads, ["tk13-holder", "tk13-blocker"]);
    assert!(
        error
            .to_string()
            .starts_with("error[lock-held-across-await]"),
        "{error}"
    );
    assert!(
        error.reason.contains("tokio.rs:"),
        "the holder's site: {error}"
    );
    let site = error.site.as_ref().expect("where it blocks").to_string();
    assert!(site.contains("tokio.rs"), "{site}");
}

#[test]
fn a_wait_cycle_through_a_one_permit_semaphore_is_a_deadlock_instead_of_a_hang_on_one_worker_or_many()
 {
    setup();
    let runtimes: [(fn() -> tokio::runtime::Runtime, _); 2] = [
        (
            current_thread,
            ["tk14:permit", "tk14:lock", "tk14-left", "tk14-right"],
        ),
        (
            multi_thread,
            ["tk15:permit", "tk15:lock", "tk15-left", "tk15-right"],
        ),
    ];
    for (runtime, names) in runtimes {
        let finished = within(HANG, move || {
            task_wait_cycle(runtime(), names, Resource::permit)
        });
        assert_eq!(finished, [false, true], "{names:?}");
        assert_task_deadlock(&names[..2], [names[2], names[3]]);
    }
}

#[test]
fn a_task_holding_one_of_several_permits_waits_for_another_holders_permit_without_a_report() {
    setup();
    let permits = Arc::new(Semaphore::named("tk16:permits", 2));
    let finished = within(HANG, move || {
        current_thread().block_on(
            async move {
                let (taken_tx, taken_rx) = tokio::sync::oneshot::channel::<()>();
                let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
                let _mine = permits.acquire().await.unwrap();
                let other = lockscan::tokio::spawn_named("tk16-other", {
                    let permits = permits.clone();
                    async move {
                        let _theirs = permits.acquire().await.unwrap();
                        taken_tx.send(()).unwrap();
                        go_rx.await.unwrap();
                    }
                });
                taken_rx.await.unwrap();
                go_tx.send(()).unwrap();
                // Both permits are taken: this waits for `tk16-other`'s, not for its own.
                let _second = permits.acquire().await.unwrap();
                other.await.is_ok()
            }
            .instrumented_as("tk16-waiter"),
        )
    });
    assert!(finished);
    // No self-deadlock (the second request is an order edge of the semaphore to itself, as a
    // task taking permits in two steps is).
    let kinds = kinds_about(&["tk16:permits"]);
    assert!(
        !kinds.contains(&FindingKind::Deadlock) && !kinds.contains(&FindingKind::ApiMisuse),
        "{kinds:?}"
    );
}

#[test]
fn a_blocking_pool_thread_waiting_for_a_lock_held_across_an_await_on_a_current_thread_runtime_is_an_error_not_a_deadlock()
 {
    setup();
    let lock = Arc::new(lockscan::Mutex::named("tk17:blocking", 0));
    let total = within(HANG, move || {
        current_thread().block_on(
            hold_until_an_error(lock, "tk17:blocking", |lock| {
                // In the runtime's context, but on a thread of its own: not the one thread
                // that polls the holder.
                tokio::task::spawn_blocking(move || *lock.lock() += 1)
            })
            .instrumented_as("tk17-holder"),
        )
    });
    assert_eq!(total, 2, "both went on");
    let error = finding_of(FindingKind::LockHeldAcrossAwait, "tk17:blocking");
    assert_eq!(error.threads[0], "tk17-holder");
    assert!(
        !kinds_about(&["tk17:blocking"]).contains(&FindingKind::Deadlock),
        "no deadlock: the blocked thread does not poll the holder"
    );
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

/// How many acquisitions of a free `lockscan::tokio::Mutex` a task on a current-thread
/// runtime makes before another task spawned beside it gets to run (`wrap` makes the looping
/// task a lockscan task or leaves it a plain tokio one).
fn acquisitions_before_the_other_task_runs(wrap: bool) -> usize {
    use std::sync::atomic::{AtomicBool, Ordering};
    const LOOPS: usize = 10_000;
    let ran = Arc::new(AtomicBool::new(false));
    let lock = Arc::new(Mutex::named("coop:free", 0));
    within(HANG, move || {
        current_thread().block_on(async move {
            let (ran_seen, lock) = (ran.clone(), lock.clone());
            let looping = async move {
                for n in 0..LOOPS {
                    *lock.lock().await += 1;
                    if ran_seen.load(Ordering::Relaxed) {
                        return n;
                    }
                }
                LOOPS
            };
            let looping = if wrap {
                lockscan::tokio::spawn(looping)
            } else {
                tokio::spawn(looping)
            };
            tokio::spawn(async move { ran.store(true, Ordering::Relaxed) });
            looping.await.unwrap()
        })
    })
}

#[test]
fn a_task_looping_over_a_free_lock_spends_its_scheduling_budget_as_with_tokios_lock() {
    setup();
    // tokio's budget is 128 units a poll; before the fix, the other task ran only after all
    // 10,000 acquisitions.
    for wrap in [false, true] {
        let made = acquisitions_before_the_other_task_runs(wrap);
        assert!(made < 1_000, "wrapped: {wrap}; {made} acquisitions first");
    }
}
