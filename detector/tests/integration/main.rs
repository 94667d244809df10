//! lockscan's integration tests: one binary, with helper modules (ripgrep style).

mod allocations;
mod corpus;
mod replay;
mod robust;
mod util;
