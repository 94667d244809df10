//! The engine both detectors share, the live one and the trace replay: the lock-order graph,
//! how a cycle is classified, what an edge keeps of its occurrences, how each finding is
//! worded, vector clocks, the race engine and the wait-cycle search. None of it is the crate's
//! API: users read its results as [`Finding`](crate::Finding)s.

// Compiled when one of the two detectors is.
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod classify;
pub mod clock;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod edges;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub mod graph;
pub mod race;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod rules;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod waits;
