//! The offline side: trace readers, replay analysis and the benchmark corpus.
//!
//! Nothing here needs the live detector, so these tests run in every build.

mod allocations;
mod corpus;
mod fingerprints;
mod fuzz;
mod order_property;
mod races;
mod replay;
mod robust;
mod roundtrip;
mod scale;
mod tasks;
mod util;
