//! `lockscan confirm`'s arguments and help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::ReadArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan run -- cargo test                       # predicts, say, a potential deadlock...
  lockscan confirm target/lockscan/run-*/ -- cargo test    # ...and makes it happen
  lockscan confirm --attempts 6 --pause-ms 300 traces/ -- ./target/debug/my-program --flag
  lockscan confirm --fail-on confirmed target/lockscan/run-*/ -- cargo test

For every potential-deadlock in the traces, the command that recorded them runs again with
LOCKSCAN_STEER naming the cycle: a thread that holds one of its locks and is about to take the
next one where the trace saw it pauses, up to the bound, or until the other threads of the cycle
have reached their own such points; then all go on together and the wait cycle forms. lockscan's
live detection reports the actual deadlock and unwinds one thread, so the run ends. A pause only
delays a thread; it never reorders or skips what the thread does, so a confirmed deadlock can
happen in the program as it is. For `cargo test`, only the tests among the threads that took
the cycle's edges run (libtest names a test's thread after the test; `cargo test -- --list` says
which names are tests), together: `cargo test -- --exact NAME... --test-threads=N`. The whole
command runs when no such thread is a test's, when the tests never reach the cycle, and in the
last attempt when some edges were taken by other threads (a pool's workers, say). The attempts
vary the pauses: every edge pauses, up to the bound, then up to four times the bound, then one
edge at a time; each round after that makes the bounds four times longer.

A finding is confirmed when a run's traces show an actual deadlock on the same locks: the
report gives the witness (the threads, and the order in which they took and requested the
locks) and a command that reproduces it. Not confirmed after N attempts does not prove the
cycle cannot deadlock: only that these schedules did not reach it. JSON and SARIF are
`lockscan analyze`'s reports with a `confirmation` on each potential deadlock.

Each attempt records into its own folder under --trace-dir (confirm-*/finding-K/attempt-N/,
with the command's output in stdout.txt and stderr.txt); every run has a time limit.

Exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on: with `error` (the default), any error the traces show,
     confirmed or not; with `confirmed`, only a confirmed deadlock
  2  usage, I/O, parse or configuration error, or the command could not be started";

#[derive(Debug, Args)]
pub(crate) struct ConfirmArgs {
    /// The traces (files or folders) whose potential deadlocks to confirm: what the command
    /// recorded (`lockscan run`, or LOCKSCAN_TRACE).
    #[arg(required = true, value_name = "TRACES")]
    pub(crate) traces: Vec<PathBuf>,

    /// How many runs to try per finding.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) attempts: u32,

    /// The longest one pause lasts in the first attempt, in milliseconds (later attempts try
    /// four times as long, too).
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub(crate) pause_ms: u64,

    /// The time limit of one run, in seconds: past it, the command is killed and the attempt
    /// counts as not confirmed.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub(crate) timeout: u64,

    /// Where the attempts' traces go: a fresh confirm-* folder in it.
    #[arg(long, value_name = "DIR", default_value = "target/lockscan")]
    pub(crate) trace_dir: PathBuf,

    /// The report format.
    #[arg(long, value_enum, default_value_t = ConfirmFormat::Text)]
    pub(crate) format: ConfirmFormat,

    /// Where to write the report (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// What makes the exit code 1.
    #[arg(long, value_enum, default_value_t = ConfirmFailOn::Error)]
    pub(crate) fail_on: ConfirmFailOn,

    #[command(flatten)]
    pub(crate) read: ReadArgs,

    /// The command that recorded the traces, and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConfirmFormat {
    /// One paragraph per predicted deadlock: the verdict, the witness or what was tried.
    Text,
    /// `lockscan analyze`'s JSON report, each potential deadlock with a `confirmation`.
    Json,
    /// `lockscan analyze`'s SARIF 2.1.0, each potential deadlock's result with a
    /// `confirmation` among its `properties`.
    Sarif,
}

/// `--fail-on` of `confirm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConfirmFailOn {
    /// Any error the traces show, confirmed or not (as `lockscan analyze`).
    Error,
    /// Only a confirmed deadlock.
    Confirmed,
    /// Nothing.
    Never,
}
