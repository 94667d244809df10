//! The analysis engine: pure functions and data structures fed by lock events, shared by the
//! live detector and the trace analyzer.
//!
//! Public: the trace replay (`Replay`, and `Analysis` for several traces; feature `analyze`)
//! and the happens-before race engine ([`RaceEngine`], [`VectorClock`]). How cycles are
//! classified, what an edge keeps of its occurrences and how each finding is worded are the
//! engine's own (`classify`, `edges`, `rules`): both detectors use them, users read their
//! results as [`Finding`](crate::Finding)s.

mod classify;
pub mod clock;
mod edges;
pub mod race;
#[cfg(feature = "analyze")]
pub mod replay;
pub(crate) mod rules;
#[cfg(feature = "analyze")]
pub(crate) mod timeline;

pub(crate) use classify::{Names, classify, cycle_finding};
pub use clock::VectorClock;
pub(crate) use edges::{EdgeData, HeldLocks, Occurrence, held_locks};
pub use race::{Access, Race, RaceEngine, VarState, race_finding};
#[cfg(feature = "analyze")]
pub use replay::{Analysis, Replay, ReplayOptions, TraceResult};
