//! The `lockscan` command line tool.

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

mod analyze;
mod args;
mod baseline;
mod config;
mod convert;
mod inputs;
mod output;
mod pictures;
mod progress;
mod replay;
mod run;

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
        Command::Graph(args) => pictures::graph(&args),
        Command::Export(args) => pictures::export(&args),
        Command::Convert(args) => convert::convert(&args),
    }
}

#[cfg(test)]
mod tests {
    use crate::args::{Cli, FailOn};
    use clap::CommandFactory;
    use lockscan::Severity;

    #[test]
    fn the_command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fail_on_thresholds() {
        assert_eq!(FailOn::Warning.threshold(), Some(Severity::Warning));
        assert_eq!(FailOn::Never.threshold(), None);
    }
}
