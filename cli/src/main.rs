//! The `lockscan` command line tool.

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::commands::{analyze, confirm, convert, export, graph, run};

mod args;
mod baseline;
mod commands;
mod config;
mod inputs;
mod output;
mod progress;
mod replay;

/// Exit code: no finding at or above `--fail-on`.
const EXIT_CLEAN: u8 = 0;
/// Exit code: findings at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, I/O or parse error.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" that exit 0; usage errors exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Analyze(args) => analyze::analyze(&args.paths, &args.report),
        Command::Run(args) => run::run(&args, analyze::analyze),
        Command::Graph(args) => graph::graph(&args),
        Command::Export(args) => export::export(&args),
        Command::Convert(args) => convert::convert(&args),
        Command::Confirm(args) => confirm::confirm(&args),
    }
}

#[cfg(test)]
mod tests {
    use crate::args::{Cli, FailOn};
    use clap::{CommandFactory, ValueEnum};
    use lockscan::Severity;
    use lockscan::report::OutputFormat;
    use lockscan::trace::InputFormat;

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
