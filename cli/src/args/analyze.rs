//! `lockscan analyze`'s arguments and help text.

use std::path::PathBuf;

use clap::Args;

use super::ReportArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan analyze target/lockscan/bank-4242.json
  lockscan analyze target/lockscan/ --format json --output report.json
  lockscan analyze --fail-on never ../shared/corpus/std/StringBuffer.std
  lockscan analyze --input-format std - < trace.txt
  lockscan analyze traces/ --write-baseline baseline.json     # accept today's findings...
  lockscan analyze traces/ --baseline baseline.json           # ...and fail only on new ones
  lockscan analyze traces/ --config ci/lockscan.toml          # [[allow]] suppressions

Exit codes:
  0  no finding at or above --fail-on (or --write-baseline accepted them)
  1  findings at or above --fail-on; with --fail-on warning or note, also any warning about a
     trace (one cut off by a crash, say) or an unused suppression
  2  usage, I/O, parse or configuration error

A directory is searched recursively for *.std, *.json, *.jsonl, *.ndjson and *.lstrace files. When several
traces are given, locks are also matched across them by name (else class) to find lock-order
cycles that only their union shows.";

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Trace files, directories of traces, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) report: ReportArgs,
}
