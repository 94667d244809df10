//! The analysis engine: pure functions and data structures fed by lock events, shared by the
//! live detector and the trace analyzer.
//!
//! Public: the trace replay (`Replay`, and `Analysis` for several traces; feature `analyze`)
//! and the happens-before race engine ([`RaceEngine`], [`VectorClock`]). How cycles are
//! classified, what an edge keeps of its occurrences and how each finding is worded are the
//! engine's own (`classify`, `edges`, `rules`): both detectors use them, users read their
//! results as [`Finding`](crate::Finding)s.

pub use crate::engine::{clock, race};
#[cfg(feature = "analyze")]
pub use crate::offline::replay;

pub use clock::VectorClock;
pub use race::{Access, Race, RaceEngine, VarState, race_finding};
#[cfg(feature = "analyze")]
pub use replay::{Analysis, Replay, ReplayOptions, TraceResult};
