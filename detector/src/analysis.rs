//! The analysis of recorded traces (feature `analyze`): `Replay` runs one trace's events
//! through the engine the live detector uses, `Analysis` several traces together, and both
//! end in [`Finding`](crate::Finding)s (each has an example).
//!
//! How cycles are classified, what an edge keeps of its occurrences and how each finding is
//! worded are the engine's own, not API: both detectors use them, users read their results as
//! findings.

/// The most locks an acquisition takes lock-order edges from, live and offline: a thread
/// holding more at once gets edges from the innermost this many only, and a warning.
#[cfg(feature = "analyze")]
pub use crate::engine::edges::MAX_ORDER_DEPTH;
#[cfg(feature = "analyze")]
pub use crate::offline::replay;
#[cfg(feature = "analyze")]
pub use crate::offline::timeline::TimelineStream;
#[cfg(feature = "analyze")]
pub use replay::{Analysis, Replay, ReplayOptions, TraceResult};

// The engine's happens-before and race state: not an API. Reachable for the race engine's
// own doc example, and because `Tracked` keeps a `VarState` in every build.
#[doc(hidden)]
pub use crate::engine::race::{Access, Race, RaceEngine, VarState, race_finding};
#[doc(hidden)]
pub use crate::engine::{clock, clock::VectorClock, race};
