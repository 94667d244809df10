//! lockscan: find deadlocks before they reach production.
#![deny(missing_docs)]

pub mod analysis;
pub mod finding;
pub mod graph;
pub mod ids;
pub mod report;
pub mod site;
pub mod trace;

pub use finding::{Finding, FindingEdge, FindingKind, Severity, VarAccess};
pub use ids::{CondvarId, LockId, LockKind, Mode, ThreadId, VarId};
pub use site::Site;
