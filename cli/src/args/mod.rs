//! The command line: clap's types and their help texts, every subcommand's in a module of its
//! own (as in `commands`), and here what several share. The report and trace formats are the
//! library's own enums (its `clap` feature).

mod analyze;
mod confirm;
mod convert;
mod export;
mod graph;
mod run;

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lockscan::Severity;
use lockscan::report::OutputFormat;
use lockscan::trace::InputFormat;

pub(crate) use analyze::AnalyzeArgs;
pub(crate) use confirm::{ConfirmArgs, ConfirmFailOn, ConfirmFormat};
pub(crate) use convert::{ConvertArgs, Encoding};
pub(crate) use export::{ExportArgs, ExportFormat};
pub(crate) use graph::{GraphArgs, GraphFormat};
pub(crate) use run::RunArgs;

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
    Run(RunArgs),
    /// Analyze traces (lockscan JSONL or compact, or RAPID STD) and report what they show.
    #[command(after_help = analyze::HELP)]
    Analyze(AnalyzeArgs),
    /// Draw the lock-order graph of traces, with the findings' cycles highlighted (DOT, a
    /// self-contained HTML report with timelines, or SVG).
    #[command(after_help = graph::HELP)]
    Graph(GraphArgs),
    /// Export traces for a timeline viewer (Chrome trace-event JSON, for Perfetto).
    #[command(after_help = export::HELP)]
    Export(ExportArgs),
    /// Convert a trace between JSONL and the compact encoding (or from RAPID STD).
    #[command(after_help = convert::HELP)]
    Convert(ConvertArgs),
    /// Confirm the potential deadlocks of traces by making them happen: re-run the command
    /// that recorded them, steered towards each cycle, and report it confirmed (with the
    /// witness) or not.
    #[command(after_help = confirm::HELP)]
    Confirm(ConfirmArgs),
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

/// The command line of this process, or clap's error (`--help` and `--version` among them),
/// with a tip when the command of `lockscan run` is missing its `--`.
pub(crate) fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse().map_err(|mut err| {
        if let Some(tip) = run_separator_tip(&err, std::env::args_os()) {
            err.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![tip.into()]),
            );
        }
        err
    })
}

/// For `lockscan run cargo test`: the command belongs after `--`, which clap's error alone
/// does not say (it calls `cargo` an unexpected argument).
fn run_separator_tip(
    err: &clap::Error,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Option<String> {
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    if err.kind() != ErrorKind::UnknownArgument
        || args.get(1).map(String::as_str) != Some("run")
        || args.iter().any(|arg| arg == "--")
    {
        return None;
    }
    let ContextValue::String(unexpected) = err.get(ContextKind::InvalidArg)? else {
        return None;
    };
    if unexpected.starts_with('-') {
        return None; // an unknown option, not a command
    }
    let at = args.iter().skip(2).position(|arg| arg == unexpected)? + 2;
    let options: String = args[2..at].iter().map(|arg| format!("{arg} ")).collect();
    Some(format!(
        "the command to run goes after `--`: `lockscan run {options}-- {}`",
        args[at..].join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, ValueEnum};
    use lockscan::Severity;
    use lockscan::report::OutputFormat;
    use lockscan::trace::InputFormat;

    use super::{Cli, FailOn};

    #[test]
    fn the_command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fail_on_thresholds() {
        assert_eq!(FailOn::Warning.threshold(), Some(Severity::Warning));
        assert_eq!(FailOn::Never.threshold(), None);
    }

    /// The names a value enum accepts, in order.
    fn names<T: ValueEnum>() -> Vec<String> {
        T::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .map(|value| value.get_name().to_owned())
            .collect()
    }

    /// The command line spells the library's formats as it did before they were the library's
    /// enums, and as the library names them (`as_str`, in reports and configuration).
    #[test]
    fn format_values_are_the_library_names() {
        assert_eq!(
            names::<OutputFormat>(),
            ["text", "json", "sarif", "github", "junit", "dot"]
        );
        assert_eq!(names::<InputFormat>(), ["auto", "jsonl", "compact", "std"]);
        assert_eq!(
            names::<OutputFormat>(),
            OutputFormat::ALL.map(OutputFormat::as_str)
        );
        let input = InputFormat::value_variants().iter().map(|f| f.as_str());
        assert!(names::<InputFormat>().iter().map(String::as_str).eq(input));
    }
}
