//! End-to-end: every demo and mode runs with `--trace`, then `lockscan analyze` reads the trace,
//! and the finding kinds, lock names and exit code are checked, as is the agreement between
//! what lockscan reported live (the demo prints it) and what the offline analysis finds.
//! One test binary; helpers in `support`.

mod architecture;
mod browser;
mod confirm;
mod demos;
mod fresh_crate;
mod inference;
mod parity;
mod parking_lot_shim;
mod reread;
mod support;
mod tasks;
mod workspace_gate;
