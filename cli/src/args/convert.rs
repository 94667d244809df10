//! `lockscan convert`'s arguments and help text.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lockscan::trace::InputFormat;

pub(crate) const HELP: &str = "\
Examples:
  lockscan convert target/lockscan/bank-4242.lstrace -o bank.json    # compact -> JSONL
  lockscan convert bank.json -o bank.lstrace                         # JSONL -> compact
  lockscan convert corpus/Deadlock.std --to jsonl -o -               # STD -> JSONL, on stdout

The output encoding is `compact` for an output named *.lstrace, else JSONL, unless --to says.
Every command reads both encodings (and STD), whatever the file is named.

Exit codes:
  0  the trace was converted
  2  usage, I/O or parse error (what was read before the error is written)";

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The trace to read (JSONL, compact or RAPID STD), or `-` for standard input.
    #[arg(value_name = "PATH")]
    pub(crate) input: PathBuf,

    /// Where to write the converted trace (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// The encoding to write.
    #[arg(long, value_enum)]
    pub(crate) to: Option<Encoding>,

    /// The input's format; `auto` decides from its first bytes.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub(crate) input_format: InputFormat,
}

/// What `--to` chooses from: the encodings lockscan writes (it reads STD, but does not write it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Encoding {
    /// JSON Lines, the interchange format.
    Jsonl,
    /// The compact encoding (about 5 bytes per lock event).
    Compact,
}
