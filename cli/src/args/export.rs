//! `lockscan export`'s arguments and help text.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::ReadArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan export target/bank.json --output bank.trace.json
  lockscan export target/lockscan/ -o run.trace.json     # every trace of a folder
  then open the file in https://ui.perfetto.dev or chrome://tracing

The Chrome trace-event JSON has lock holds as async slices named after the lock, blocked
waits as slices on the thread's track, findings as instant events, and thread names as
metadata. It reads what `analyze` reads: files, directories (searched recursively), `-`;
each trace is a process of its own, drawn from its own start. A trace without timestamps is
drawn with 1 µs per event.

Exit codes:
  0  the export was written
  2  usage, I/O or parse error";

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Trace files, directories of traces, or `-` for standard input (as `analyze` reads).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// The export format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Chrome)]
    pub(crate) format: ExportFormat,

    /// Where to write the export (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) read: ReadArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// Chrome trace-event JSON (Perfetto, chrome://tracing).
    Chrome,
}
