//! Tests of the `lockscan` binary: one test binary, with helper modules (ripgrep style).

mod analyze;
mod baseline;
mod config;
mod confirm;
mod convert;
mod formats;
mod pictures;
mod progress;
mod run;
mod sarif_schema;
mod snapshots;
mod util;
