//! Tests of the `lockscan` binary: one test binary, with helper modules (ripgrep style).

mod analyze;
mod formats;
mod pictures;
mod run;
mod sarif_schema;
mod util;
