//! End-to-end tests of the demo programs: each binary and mode is run as a child process, and
//! its exit code, its plain-words account and lockscan's report are checked.
//!
//! The demos are built in the same profile as this test, so detection is on exactly when
//! debug assertions are: the reports are only checked then.
#![cfg(debug_assertions)]

mod async_bank;
mod async_mutex;
mod bank;
mod command_line;
mod counter;
mod philosophers;
mod pipeline;
mod reentrant;
mod support;
