//! The runtime behind the `sync` types: per-thread state (held locks, edge cache), lock ids,
//! the global lock-order graph and the registry of blocked threads. The only place with
//! global mutable state.
//!
//! When lockscan is not active (feature `detect` off, or a build without debug assertions and
//! without `detect-in-release`), [`LockMeta`] is empty and every hook compiles to nothing, so
//! the `sync` types are plain parking_lot locks.

#[cfg(lockscan_active)]
mod active;
#[cfg(lockscan_active)]
pub(crate) mod hb;
#[cfg(lockscan_active)]
mod lazy_id;
#[cfg(lockscan_active)]
mod order_graph;
#[cfg(all(lockscan_active, feature = "tokio"))]
mod parked;
#[cfg(lockscan_active)]
mod state;
#[cfg(lockscan_std_threads)]
mod std_threads;
#[cfg(lockscan_active)]
pub(crate) mod steer;
#[cfg(all(lockscan_active, feature = "tokio"))]
pub(crate) mod task;
#[cfg(lockscan_active)]
mod waits;

// Without detection nothing records, but `lockscan::record` still names its error type.
#[cfg_attr(not(lockscan_active), allow(dead_code))]
pub(crate) mod recorder;
mod report;
// The recorder sets its bit also without detection, where nothing reads it.
#[cfg_attr(not(lockscan_active), allow(dead_code))]
pub(crate) mod switches;

pub(crate) use report::report;
#[cfg(lockscan_active)]
pub(crate) use report::report_fatal;

#[cfg(lockscan_active)]
pub(crate) use active::{CondvarMeta, LockMeta, add_stack, intern};
#[cfg(lockscan_active)]
pub(crate) use hb::{Fork, VarMeta, adopt, child_id, final_clock, fork, joined};
#[cfg(lockscan_active)]
pub(crate) use recorder::record_finding;
#[cfg(lockscan_active)]
pub(crate) use state::{ThreadClocks, spawned_by};

/// Runs `spawn`, which starts a thread lockscan orders itself (`lockscan::thread`) or one of
/// its own (the trace writer), so that lockscan's `pthread_create` does not also take it for
/// a program's `std::thread` spawn.
#[cfg(lockscan_std_threads)]
pub(crate) use std_threads::untracked_spawn;
/// Runs `spawn`: where lockscan does not see `std::thread` spawns, nothing is to be told apart.
#[cfg(all(lockscan_active, not(lockscan_std_threads)))]
#[inline(always)]
pub(crate) fn untracked_spawn<R>(spawn: impl FnOnce() -> R) -> R {
    spawn()
}

#[cfg(not(lockscan_active))]
mod inactive;
#[cfg(not(lockscan_active))]
pub(crate) use inactive::{
    CondvarMeta, Fork, LockMeta, ThreadClocks, VarMeta, add_stack, adopt, child_id, final_clock,
    fork, intern, joined, record_finding, spawned_by, untracked_spawn,
};

/// Whether this build of lockscan instruments its locks: on in builds with debug assertions
/// (or with the feature `detect-in-release`), off otherwise, decided at compile time.
///
/// ```
/// // A test that checks what lockscan found only where it looks.
/// if lockscan::is_active() {
///     assert!(lockscan::findings().is_empty());
/// }
/// // Usable in constants, since it is decided at compile time.
/// const CHECKED: bool = lockscan::is_active();
/// if !CHECKED {
///     eprintln!("lock-order checks are compiled out of this build");
/// }
/// ```
pub const fn is_active() -> bool {
    cfg!(lockscan_active)
}
