//! The analysis engine: pure functions and data structures fed by lock events, shared by the
//! live detector and the trace analyzer.

mod classify;
pub mod clock;
mod edges;
pub mod race;
#[cfg(feature = "analyze")]
pub mod replay;
pub mod rules;
#[cfg(feature = "analyze")]
pub(crate) mod timeline;

pub use classify::{Classification, Names, classify, cycle_finding};
pub use clock::VectorClock;
pub use edges::{EdgeData, HeldLocks, Occurrence, Occurrences, Taking, held_locks};
pub use race::{Access, Race, RaceEngine, VarState, race_finding};
#[cfg(feature = "analyze")]
pub use replay::{Analysis, Replay, ReplayOptions, TraceResult};
