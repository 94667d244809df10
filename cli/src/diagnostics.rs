//! What lockscan says on standard error beside its reports: errors (`error: …`), warnings
//! (`warning: …`) and what it is doing (`lockscan: …`). Every such line is written here, so
//! that their prefixes (and any styling they may get) are decided in one place. The progress
//! line of a large trace (`progress`) is drawn apart: it is redrawn in place, not a line.
//!
//! Each function returns the write's error: a command whose diagnostics cannot be written
//! (standard error closed) decides whether that stops it.

use std::fmt::Display;
use std::io::{self, Write};

/// `error: MESSAGE`: something went wrong (a trace line that cannot be read, a command that
/// fails).
pub(crate) fn error(message: impl Display) -> io::Result<()> {
    writeln!(io::stderr().lock(), "error: {message}")
}

/// `error: WHAT: WHY: ...`: the error that ends the command, with its causes (see
/// [`error_line`]).
pub(crate) fn error_chain(err: &anyhow::Error) -> io::Result<()> {
    error(error_line(err))
}

/// `warning: MESSAGE`: something the user should look at, which `--fail-on warning` fails on.
pub(crate) fn warning(message: impl Display) -> io::Result<()> {
    writeln!(io::stderr().lock(), "warning: {message}")
}

/// `lockscan: MESSAGE`: what lockscan did or is doing (a command finished, traces found,
/// runs deleted), neither an error nor a warning.
pub(crate) fn status(message: impl Display) -> io::Result<()> {
    writeln!(io::stderr().lock(), "lockscan: {message}")
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
