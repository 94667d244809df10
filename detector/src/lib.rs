//! lockscan finds deadlocks before they reach production.
//!
//! Its [`Mutex`], [`RwLock`], [`ReentrantMutex`] and [`Condvar`] have parking_lot's API, so
//! swapping them into a program or its tests is a one-line import change; [`std_sync`] has the
//! same locks with `std::sync`'s API (poisoning included) for code that uses std's. They record
//! every acquisition into a lock-order graph and report:
//!
//! - a **potential deadlock** the first time two code paths take the same locks in opposite
//!   orders, even in different tests, even if the threads never collided;
//! - an **actual deadlock** the moment the last thread of a wait cycle is about to block,
//!   instead of hanging, and a thread re-locking a mutex it holds;
//! - a **condition-variable wait while holding other locks**.
//!
//! ```
//! use lockscan::{Mutex, Policy};
//!
//! lockscan::set_policy(Policy::Collect); // the default, `Panic`, fails the test right there
//! let (a, b) = (&Mutex::named("doc:A", 0), &Mutex::named("doc:B", 0));
//! let (first_done, wait_for_first) = std::sync::mpsc::channel();
//! std::thread::scope(|s| {
//!     // Two threads take the locks in opposite orders, the second once the first is done
//!     // (through a channel, which lockscan does not see): no deadlock happens in this run,
//!     // but another schedule would deadlock.
//!     s.spawn(move || {
//!         drop((a.lock(), b.lock()));
//!         first_done.send(()).unwrap();
//!     });
//!     s.spawn(move || {
//!         wait_for_first.recv().unwrap();
//!         drop((b.lock(), a.lock()));
//!     });
//! });
//! # if lockscan::is_active() {
//! let found = lockscan::findings();
//! let finding = found.iter().find(|f| f.locks.contains(&"doc:A".to_string())).unwrap();
//! assert_eq!(finding.kind, lockscan::FindingKind::PotentialDeadlock);
//! println!("{finding}");
//! # }
//! ```
//!
//! # Taking several locks at once
//!
//! [`lock_all`] and [`lock_both`] lock several mutexes in one global order, whatever order the
//! caller names them in, so code that moves money between two accounts in both directions
//! cannot deadlock; see [`order`].
//!
//! # Policies
//!
//! What happens to a finding is a [`Policy`]: `panic` (the default for errors), `warn` (a
//! `tracing` event at target `lockscan`, or stderr when no subscriber is installed; the default
//! for warnings and notes) or `collect`. Set it with [`set_policy`] or the environment variable
//! `LOCKSCAN_ON_FINDING=panic|warn|collect`. [`set_finding_hook`] receives every finding, and
//! [`findings`] returns those reported so far. Each distinct finding is reported once.
//!
//! An actual deadlock (or a thread re-locking a mutex it holds) unwinds the detecting thread
//! whatever the policy, since its lock can never be acquired: the program ends, or the test
//! fails, instead of hanging.
//!
//! # Turning it off
//!
//! Detection is on in builds with debug assertions (`cargo test`, `cargo build`), and off in
//! builds without them (`--release`) unless the feature `detect-in-release` is on. Without the
//! default feature `detect` it is always off. When off, the types are parking_lot's locks with
//! nothing added: same size, same code, and [`is_active`] returns `false`.
//!
//! # Reading traces and rendering reports
//!
//! What the `lockscan` command does with a recorded trace (read every trace format, replay it
//! through the same rules, render text, JSON, SARIF and pictures) is in this crate too, behind
//! the feature `analyze`, off by default: tests that only swap the locks in, and programs
//! that only record, do not compile it. With it on: the trace readers
//! (`trace::TraceReader`, `trace::JsonlReader`, `trace::rapid`), `analysis::Replay` and
//! `report`. It is also the only part that depends on `serde_json`, whose `PartialEq` impls
//! between its `Value` and the integer types would change type inference in every crate that
//! depends on lockscan (`x == y as _` and `assert_eq!(v, vec![])` would stop compiling): the
//! default build depends on nothing that adds trait impls to primitive types.
#![deny(missing_docs)]

pub mod analysis;
mod engine;
pub mod finding;
pub mod ids;
pub mod instrument;
#[cfg(feature = "analyze")]
mod offline;
pub mod order;
mod policy;
pub mod raw;
pub mod record;
#[cfg(feature = "analyze")]
pub mod report;
mod runtime;
pub mod site;
pub mod std_sync;
pub mod steer;
pub mod sync;
pub mod thread;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod trace;
mod tracked;

// The engine's lock-order graph, reachable for its own doc example only: not an API.
#[cfg(any(lockscan_active, feature = "analyze"))]
#[doc(hidden)]
pub use engine::graph;
pub use finding::{Finding, FindingEdge, FindingKind, Occurrences, Severity, VarAccess};
pub use ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
pub use order::{LockSet, lock_all, lock_both};
pub use policy::{
    POLICY_ENV, Policy, clear_finding_hook, findings, policy, reset_policy, set_finding_hook,
    set_policy, take_findings,
};
pub use runtime::is_active;
pub use site::Site;
pub use sync::{
    Condvar, MappedMutexGuard, MappedReentrantMutexGuard, MappedRwLockReadGuard,
    MappedRwLockWriteGuard, Mutex, MutexGuard, Once, OnceState, ReentrantMutex,
    ReentrantMutexGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
    WaitTimeoutResult, const_mutex, const_reentrant_mutex, const_rwlock,
};
pub use tracked::Tracked;
