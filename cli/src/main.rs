//! The `lockscan` command line tool.

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::commands::{analyze, confirm, convert, export, graph, run};
use crate::exit::Exit;

mod args;
mod baseline;
mod commands;
mod config;
mod exit;
mod inputs;
mod output;
mod progress;
mod replay;

fn main() -> ExitCode {
    let cli = match args::parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" that exit 0; usage errors exit 2.
            let _ = err.print();
            let exit = if err.use_stderr() {
                Exit::Error
            } else {
                Exit::Clean
            };
            return exit.into();
        }
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {}", error_line(&err));
            Exit::Error.into()
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

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Analyze(args) => analyze::analyze(&args.paths, &args.report),
        Command::Run(args) => run::run(&args),
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
