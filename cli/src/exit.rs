//! The exit codes, and what each means. Every subcommand's `--help` (`Exit codes:`, in `args`)
//! and the README say which of them it uses and when; what is said here holds for all.

use std::process::ExitCode;

/// How `lockscan` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: nothing at or above `--fail-on` (`analyze`, `run`, `confirm`; or every finding
    /// accepted by `--write-baseline`), or what was asked for was written (`graph`, `export`,
    /// `convert`); `--help` and `--version` too.
    Clean,
    /// 1: findings at or above `--fail-on`; with `--fail-on warning` or `note`, also any
    /// warning printed (about a trace, a suppression or a baseline entry that matched nothing).
    /// For `confirm --fail-on confirmed`, a confirmed deadlock.
    Findings,
    /// 2: a usage, I/O, parse or configuration error, or a trace that could not be read
    /// (a picture is still written when the traces were read in part); for `run`, also a
    /// command that could not be started, was killed by a signal, or recorded nothing.
    Error,
    /// `lockscan run`: the command's own exit code, when it failed (never 0).
    Command(u8),
}

impl Exit {
    /// The process's exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Findings => 1,
            Exit::Error => 2,
            Exit::Command(code) => code,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}
