//! Integration tests of the live detector: lockscan locks swapped into small programs.
//!
//! One test binary (helpers in `support`). Every test names its locks uniquely and looks only
//! at the findings about them, so tests running in parallel do not disturb each other; the
//! policy is `collect` throughout, except in `policy`, which runs child processes.
#![cfg(all(
    feature = "detect",
    any(debug_assertions, feature = "detect-in-release")
))]

mod api;
mod cycles;
mod deadlock;
mod policy;
mod races;
mod ranks;
mod record;
mod support;
