//! Integration tests of lockscan: the live detector (lockscan locks swapped into small
//! programs) and, in `trace`, the offline trace analysis.
//!
//! One test binary (helpers in `support`, and `trace::util`). Every live test names its locks
//! uniquely and looks only at the findings about them, so tests running in parallel do not
//! disturb each other; the policy is `collect` throughout, except in `policy`, which runs
//! child processes. The live tests need the detector compiled in (`lockscan_active`, set by
//! build.rs); the trace tests run in every build.

#[cfg(lockscan_active)]
mod api;
#[cfg(lockscan_active)]
mod chain_cache;
#[cfg(lockscan_active)]
mod cycles;
#[cfg(lockscan_active)]
mod deadlock;
#[cfg(lockscan_active)]
mod identity;
#[cfg(lockscan_active)]
mod ordering;
#[cfg(lockscan_active)]
mod policy;
#[cfg(lockscan_active)]
mod races;
#[cfg(lockscan_active)]
mod ranks;
#[cfg(lockscan_active)]
mod record;
#[cfg(lockscan_active)]
mod std_sync;
#[cfg(lockscan_active)]
mod std_threads;
#[cfg(lockscan_active)]
mod steer;
#[cfg(lockscan_active)]
mod support;
#[cfg(all(lockscan_active, feature = "tokio"))]
mod tokio;
mod trace;
