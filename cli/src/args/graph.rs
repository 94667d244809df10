//! `lockscan graph`'s arguments and help text.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::ReadArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan graph target/lockscan/bank-4242.json --format html --output report.html
  lockscan graph target/lockscan/ --format dot > locks.dot
  lockscan graph target/bank.json --format svg -o locks.svg    # needs Graphviz's `dot`

Formats:
  dot   Graphviz DOT: locks as nodes (name, kind), order edges labelled with thread and
        sites, the findings' cycles in red; sorted, so the output is stable
  html  one self-contained page (nothing fetched): the graph with every cycle highlighted,
        the findings beside it, each edge's threads and sites, and a per-thread timeline of
        lock holds and blocked waits
  svg   the DOT graph drawn by Graphviz's `dot` (install Graphviz for it)

Exit codes:
  0  the picture was written
  2  usage, I/O or parse error (the picture is still written when the traces could be read
     in part)

Traces usually have no timestamps: the timeline's time is then the event number. The
timeline draws the first 20,000 holds and waits of each trace (`--max-drawn`) and says how
many it left out; `lockscan export` writes all of them for Perfetto.";

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Trace files, directories of traces, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// The picture format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub(crate) format: GraphFormat,

    /// Where to write the picture (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// How many lock holds, and how many blocked waits, the HTML timeline draws per trace at
    /// most (the first ones); the page says how many it left out. Only these are kept in
    /// memory, so a trace of any length can be drawn.
    #[arg(long, default_value_t = lockscan::report::html::MAX_DRAWN, value_name = "N")]
    pub(crate) max_drawn: usize,

    #[command(flatten)]
    pub(crate) read: ReadArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Html,
    Svg,
}
