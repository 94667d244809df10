//! The `lockscan` command line tool.

use std::process::ExitCode;

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
    let cli = match args::parse() {
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
            eprintln!("error: {}", error_line(&err));
            ExitCode::from(EXIT_ERROR)
        }
    }
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
}
