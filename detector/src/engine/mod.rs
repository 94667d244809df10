//! The engine both detectors share, the live one and the trace replay: the lock-order graph,
//! how a cycle is classified, what an edge keeps of its occurrences, how each finding is
//! worded, vector clocks and the race engine.

// Compiled when one of the two detectors is.
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod classify;
pub mod clock;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod edges;
pub mod graph;
pub mod race;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod rules;
#[cfg(any(lockscan_active, feature = "analyze"))]
pub(crate) mod waits;
