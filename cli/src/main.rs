//! The `lockscan` command line tool.

use std::process::ExitCode;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

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
        Err(mut err) => {
            if let Some(tip) = run_separator_tip(&err, std::env::args_os()) {
                err.insert(
                    ContextKind::Suggested,
                    ContextValue::StyledStrs(vec![tip.into()]),
                );
            }
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
            eprintln!("error: {}", error_line(&err));
            ExitCode::from(EXIT_ERROR)
        }
    }
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

/// An error and its causes in one line, `what: why: ...`, leaving out a cause whose text
/// the line already has: an error that names its source in its own message (as thiserror's
/// `{source}` does) would otherwise say "(os error 2)" twice.
fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
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

    /// A missing `--config` said "(os error 2)" twice: the error named its source, and the
    /// chain repeated it.
    #[test]
    fn an_error_line_says_each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        let err = anyhow::Error::new(io).context(format!("cannot read x.toml: {text}"));
        assert_eq!(
            super::error_line(&err),
            format!("cannot read x.toml: {text}")
        );
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(super::error_line(&err), "outer: inner");
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
