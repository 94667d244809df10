//! `lockscan run`'s arguments and help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use super::ReportArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan run -- cargo test
  lockscan run --format github -- cargo test --workspace
  lockscan run --trace-dir /tmp/traces -- ./target/debug/my-program --flag

The command runs with LOCKSCAN_TRACE set to the absolute path of a fresh folder under
--trace-dir, so each of its processes that uses lockscan's locks (every test binary of every
member of a workspace, whatever folder cargo runs it in) writes a trace there (in the compact
encoding, unless LOCKSCAN_TRACE_FORMAT=jsonl is set), and with LOCKSCAN_ON_FINDING=collect
unless it is set already, so that the analysis, not a panicking test, reports the findings.
Then the traces of this run, and only these, are analyzed together. Older run folders beyond
--keep are deleted.

A run that recorded nothing checked nothing: it is an error (exit 2), not a pass.

Recording from an unoptimized lockscan (plain `cargo test`) costs several times more: add
`[profile.dev.package.lockscan] opt-level = 3` to the workspace's Cargo.toml (README:
\"Recording at full speed\").

Exit codes: the command's own, when it failed; otherwise those of `lockscan analyze`:
  0  no finding at or above --fail-on (or --write-baseline accepted them)
  1  findings at or above --fail-on (with --fail-on warning, any warning too)
  2  usage, I/O, parse or configuration error, the command could not be started, or it
     recorded nothing

Suppressions come from lockscan.toml in the current directory, or --config FILE.";

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where the traces go: the run makes a fresh folder in it (`run-*`).
    #[arg(long, value_name = "DIR", default_value = "target/lockscan")]
    pub(crate) trace_dir: PathBuf,

    /// How many runs' folders to keep in --trace-dir, this run's included: older `run-*`
    /// folders are deleted when the run starts. 0 keeps them all.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) keep: usize,

    #[command(flatten)]
    pub(crate) report: ReportArgs,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}
