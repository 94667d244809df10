//! tokio's async locks, instrumented, with tasks as the unit of the lock order (feature
//! `tokio`): switching is one import line,
//! `use tokio::sync::{Mutex, RwLock, Semaphore}` becoming
//! `use lockscan::tokio::{Mutex, RwLock, Semaphore}`.
//!
//! # Tasks are the unit
//!
//! A task moves between worker threads at every `.await`, and many tasks take turns on one
//! thread, so lockscan keeps the held locks of a *task*, not of a thread: a task made visible
//! with [`spawn`] (instead of `tokio::spawn`), [`Instrument::instrumented`] (any future, e.g.
//! the body of a `#[tokio::test]`) or [`Instrument::instrumented_as`] has a state of its own —
//! an id, its name, its held locks — swapped in around each of its polls. Then:
//!
//! - the order edges come from the locks the task holds, whichever thread polls it: two tasks
//!   that take `A` then `B` and `B` then `A` are a `potential-deadlock`, on one worker or many,
//!   with both sites and both tasks (named after their spawn site, or the name given);
//! - a task that waits for an async lock another task holds is registered as waiting; the
//!   wait that closes a wait cycle among tasks (and threads) is an actual `deadlock`, reported
//!   the moment it forms: whatever the policy, the lock future that would close the cycle
//!   **panics** with the report, in the task that awaited it (tokio hands the panic to the
//!   task's `JoinHandle` as a `JoinError`; in a `#[tokio::test]` body the test fails). Its
//!   guards drop as the panic unwinds, so the other tasks of the cycle go on;
//! - a lockscan *blocking* lock (`lockscan::Mutex`, `std_sync`, the parking_lot stand-in)
//!   still held when the task's poll returns `Pending` is a `lock-held-across-await` finding
//!   (a warning by default), with the lock's acquisition site and the task, once per hold;
//! - while that task is suspended, a thread (a task, or any code) about to block on that lock
//!   is checked *before* it blocks. When the suspended holder can only be polled by this very
//!   thread, neither can go on: an actual `deadlock`, reported whatever the policy by
//!   unwinding the blocking thread (as for every actual deadlock) instead of hanging the
//!   runtime — the classic case is a current-thread runtime, where one task holds a std mutex
//!   across an `.await` and another calls `lock()` on it. Otherwise (another worker can poll
//!   the holder) the across-await hold becomes an error: `lock-held-across-await` with
//!   severity `error`, naming both tasks and both sites.
//!
//! The rule for "only this thread can poll the holder", so that a multi-thread runtime, whose
//! other workers go on polling the holder, gives no false deadlock: the holder's last poll
//! returned `Pending` either inside the tokio task this thread is polling now (the same
//! `tokio::task::Id`: a future joined or selected inside the blocking task), on any runtime;
//! or on this thread, inside a *current-thread* runtime that this thread is inside now (the
//! same `tokio::runtime::Id`), which polls its tasks only on the thread that drives it. Not
//! seen as a deadlock (the hang stays): a holder moved to another task between its polls, the
//! `LocalSet` tasks of a multi-thread runtime, and a multi-thread runtime whose workers are
//! all blocked.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use lockscan::tokio::{Instrument, Mutex};
//! use std::sync::Arc;
//!
//! let account = Arc::new(Mutex::named("account", 100_u64));
//! let a = Arc::clone(&account);
//! let task = lockscan::tokio::spawn(async move {
//!     *a.lock().await -= 30;
//! });
//! task.await.unwrap();
//! async {
//!     assert_eq!(*account.lock().await, 70);
//! }
//! .instrumented()
//! .await;
//! # }
//! ```
//!
//! # What is missed when a task is not wrapped
//!
//! Outside a wrapped task (a plain `tokio::spawn`, or the body of `#[tokio::main]` or
//! `#[tokio::test]` without `.instrumented()`), the async locks work as tokio's, but lockscan
//! records nothing about them: no order edges, no wait cycles, and no blocking lock held across
//! an `.await` is seen — there is no task to keep them with, and the thread's held set would
//! mix every task the thread polls. A wrapped future nested in another has a state of its own
//! (like a task of its own). Also not seen: order edges between a lock the *thread* holds
//! around a poll and the locks the task takes; a guard moved to another task (an
//! `Owned*Guard` sent away) is recorded as released by the task that took it only when it
//! drops there; joins (`JoinHandle`) do not order what the tasks did (a wrapped future that
//! the task which made it awaits to its end is joined there).
//! [`Semaphore`] permits make order edges; the wait-cycle check follows a semaphore made with
//! one permit and never added to (its waiter waits for the one holder, as for a mutex), not
//! one of several permits (a waiter waits until enough holders give theirs back, not for any
//! one of them: a task holding one of them and awaiting another is no self-deadlock either).
//!
//! Without detection (a release build), these are tokio's locks with a name and rank.

mod mutex;
mod rwlock;
mod semaphore;
mod task;

pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};
pub use rwlock::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard,
};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use task::{Instrument, Instrumented, spawn, spawn_named};
/// tokio's error types, unchanged.
pub use tokio::sync::{AcquireError, TryAcquireError, TryLockError};

use std::future::Future;
use std::panic::Location;

use crate::ids::Mode;
use crate::instrument::LockHooks;

/// An async acquisition of `hooks`' lock in `mode` at `site`: `attempt` first, then, when the
/// lock is taken, the request (order edges, and with `wait_check` the task registered as
/// waiting, so that a wait cycle is reported) and `wait`. Returns what was acquired and
/// whether lockscan recorded the hold (only inside a wrapped task, and when `held` says that
/// what was acquired holds the lock), for the guard's release.
async fn acquire<G>(
    hooks: &LockHooks,
    mode: Mode,
    site: &'static Location<'static>,
    wait_check: bool,
    attempt: impl FnOnce() -> Option<G>,
    wait: impl Future<Output = G>,
    held: impl Fn(&G) -> bool,
) -> (G, bool) {
    // tokio's own lock futures spend a unit of the task's scheduling budget on every
    // acquisition (and yield when it is spent); the `attempt` shortcut must not skip it, or a
    // task looping over a free lock starves the others on its worker.
    tokio::task::coop::consume_budget().await;
    if !LockHooks::in_task() {
        let acquired = match attempt() {
            Some(acquired) => acquired,
            None => wait.await,
        };
        return (acquired, false);
    }
    if let Some(acquired) = attempt() {
        hooks.acquired_async(mode, site);
        return (acquired, true);
    }
    let waiting = hooks.request_async(mode, site, wait_check);
    let acquired = wait.await;
    drop(waiting);
    if !held(&acquired) {
        return (acquired, false);
    }
    hooks.acquired_async(mode, site);
    (acquired, true)
}

/// Records a successful non-blocking acquisition (without an edge into the lock) inside a
/// wrapped task; whether it was recorded, for the guard's release.
#[track_caller]
fn tried(hooks: &LockHooks, mode: Mode, site: &'static Location<'static>) -> bool {
    LockHooks::in_task() && hooks.tried_async(mode, site)
}
