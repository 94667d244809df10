//! The analysis engine: pure functions and data structures fed by lock events, shared by the
//! live detector and the trace analyzer.

pub mod clock;
pub mod order;
pub mod race;
pub mod replay;
pub mod rules;
pub(crate) mod timeline;

pub use clock::VectorClock;
pub use order::{
    Classification, EdgeData, HeldLocks, Names, Occurrence, classify, cycle_finding, held_locks,
};
pub use race::{Access, Race, RaceEngine, VarState, race_finding};
pub use replay::{Analysis, Replay, ReplayOptions, TraceResult};
