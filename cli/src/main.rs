//! The `lockscan` command line tool.

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::commands::{analyze, confirm, convert, export, graph, run};
use crate::exit::Exit;

mod args;
mod baseline;
mod commands;
mod config;
mod diagnostics;
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
            // Standard error closed: nothing more to say, and the code says it failed.
            let _ = diagnostics::error_chain(&err);
            Exit::Error.into()
        }
    }
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
