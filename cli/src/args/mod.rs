//! The command line: clap's types and their help texts. The report and trace formats are the
//! library's own enums (its `clap` feature).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lockscan::Severity;
use lockscan::report::OutputFormat;
use lockscan::trace::InputFormat;

use crate::commands::{confirm, convert, run};

const ANALYZE_HELP: &str = "\
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

const GRAPH_HELP: &str = "\
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

Traces usually have no timestamps: the timeline's time is then the event number.";

const EXPORT_HELP: &str = "\
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

const COLOR_HELP: &str = "When to color the text report. `auto` colors a terminal, unless \
    NO_COLOR is set or CLICOLOR is 0; CLICOLOR_FORCE colors a pipe or a file too";

/// Find deadlocks, lock-order inversions and lock misuse in recorded traces.
#[derive(Debug, Parser)]
#[command(name = "lockscan", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a command (say `cargo test`) recording lock traces, then analyze them.
    #[command(after_help = run::HELP)]
    Run(run::RunArgs),
    /// Analyze traces (lockscan JSONL or compact, or RAPID STD) and report what they show.
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Draw the lock-order graph of traces, with the findings' cycles highlighted (DOT, a
    /// self-contained HTML report with timelines, or SVG).
    #[command(after_help = GRAPH_HELP)]
    Graph(GraphArgs),
    /// Export traces for a timeline viewer (Chrome trace-event JSON, for Perfetto).
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Convert a trace between JSONL and the compact encoding (or from RAPID STD).
    #[command(after_help = convert::HELP)]
    Convert(convert::ConvertArgs),
    /// Confirm the potential deadlocks of traces by making them happen: re-run the command
    /// that recorded them, steered towards each cycle, and report it confirmed (with the
    /// witness) or not.
    #[command(after_help = confirm::HELP)]
    Confirm(confirm::ConfirmArgs),
}

/// What the picture commands share with `analyze`: how traces are read and searched.
#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// The trace format; `auto` decides from the first byte of each trace.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub(crate) input_format: InputFormat,

    /// The longest lock-order cycle listed, in locks. A group of locks whose only cycles are
    /// longer is still reported, with its shortest cycle.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub(crate) max_cycle_len: usize,

    /// How many cycles to enumerate at most (each group of locks in a cycle is reported all
    /// the same).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub(crate) max_cycles: usize,
}

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

    #[command(flatten)]
    pub(crate) read: ReadArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Html,
    Svg,
}

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

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Trace files, directories of traces, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) report: ReportArgs,
}

/// What to report and how: shared by `analyze` and `run`.
#[derive(Debug, Args)]
// colorchoice-clap's `--color` says only "Controls when to use color"; say what `auto` means.
#[command(mut_arg("color", |arg| arg.help(COLOR_HELP)))]
pub(crate) struct ReportArgs {
    /// The report format. With `github`, a Markdown summary is also appended to the file
    /// GITHUB_STEP_SUMMARY names, when it is set.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,

    /// Where to write the report (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// The least severity that makes the exit code 1. With `warning` (or `note`), every
    /// warning printed fails too: about a trace (cut off by a crash, events lost) or a
    /// suppression that matched nothing.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub(crate) fail_on: FailOn,

    #[command(flatten)]
    pub(crate) read: ReadArgs,

    /// `--color`, with COLOR_HELP.
    #[command(flatten)]
    pub(crate) color: colorchoice_clap::Color,

    /// A baseline (from `--write-baseline`) or a previous `--format json` report: findings
    /// with a fingerprint in it are known, not shown, and do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,

    /// Accept today's findings: write their fingerprints to FILE (for `--baseline`). The
    /// report still shows them, but they do not fail this run.
    #[arg(long, value_name = "FILE")]
    pub(crate) write_baseline: Option<PathBuf>,

    /// The configuration with `[[allow]]` suppressions [default: lockscan.toml in the current
    /// directory, when there is one].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `--fail-on`: a severity, or `never`; not the library's `Severity`, which has no `never`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    Error,
    Warning,
    Note,
    Never,
}

impl FailOn {
    /// The value's spelling on the command line.
    pub(crate) fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |value| value.get_name().to_owned())
    }

    pub(crate) fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Note => Some(Severity::Note),
            FailOn::Never => None,
        }
    }
}
