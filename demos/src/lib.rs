//! Shared helpers for the lockscan demo programs: the command line every demo accepts, and the
//! report it prints at the end.
//!
//! Every demo is run as `DEMO MODE [FLAGS] [--trace PATH]`, does its work with lockscan's
//! policy set to `collect` (finding bugs is lockscan's job, not the demo's), says in plain
//! words what happened, then prints lockscan's findings.
#![deny(missing_docs)]

use std::any::Any;
use std::path::PathBuf;
use std::process::ExitCode;

use lockscan::record::Recording;
use parking_lot::Mutex;

/// A demo's parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The mode: one of the demo's modes.
    pub mode: String,
    /// The flags given, each one of the demo's flags (such as `--collide`).
    pub flags: Vec<String>,
    /// Where to record the run's trace (`--trace PATH`), for `lockscan analyze`.
    pub trace: Option<PathBuf>,
}

impl Args {
    /// Whether `flag` (such as `"--collide"`) was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|given| given == flag)
    }
}

/// What a demo accepts on its command line, for parsing and for the usage text.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// The program's name, as in `bank`.
    pub name: &'static str,
    /// What the program shows, one line.
    pub about: &'static str,
    /// Each mode with a one-line description.
    pub modes: &'static [(&'static str, &'static str)],
    /// Each flag with a one-line description.
    pub flags: &'static [(&'static str, &'static str)],
}

impl Command {
    /// The usage text.
    pub fn usage(&self) -> String {
        let mut text = format!(
            "{}\n\nusage: {} MODE [FLAGS] [--trace PATH]\n\nmodes:\n",
            self.about, self.name
        );
        for (mode, what) in self.modes {
            text.push_str(&format!("  {mode:<12} {what}\n"));
        }
        text.push_str("\nflags:\n");
        for (flag, what) in self.flags {
            text.push_str(&format!("  {flag:<12} {what}\n"));
        }
        text.push_str("  --trace PATH record the run's trace to PATH, for `lockscan analyze`\n");
        text
    }

    /// Parses `arguments` (without the program name).
    pub fn parse<I, S>(&self, arguments: I) -> Result<Args, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut mode = None;
        let mut flags = Vec::new();
        let mut trace = None;
        let mut arguments = arguments.into_iter().map(Into::into);
        while let Some(argument) = arguments.next() {
            if argument == "--trace" {
                let path = arguments
                    .next()
                    .ok_or_else(|| "`--trace` needs a path".to_owned())?;
                trace = Some(PathBuf::from(path));
            } else if let Some(path) = argument.strip_prefix("--trace=") {
                trace = Some(PathBuf::from(path));
            } else if argument.starts_with('-') {
                if !self.flags.iter().any(|(flag, _)| *flag == argument) {
                    return Err(format!("unknown flag `{argument}`"));
                }
                flags.push(argument);
            } else if mode.is_none() {
                if !self.modes.iter().any(|(known, _)| *known == argument) {
                    return Err(format!("unknown mode `{argument}`"));
                }
                mode = Some(argument);
            } else {
                return Err(format!("unexpected argument `{argument}`"));
            }
        }
        let mode = mode.ok_or_else(|| "missing the mode".to_owned())?;
        Ok(Args { mode, flags, trace })
    }

    /// Parses the process's arguments and gets lockscan ready for the demo: policy `collect`,
    /// and recording to the `--trace` path if one is given ([`print_findings`] finishes it).
    /// Prints the usage and returns the exit code 2 on a usage error or a trace that cannot be
    /// created (or 0 for `--help`).
    pub fn start(&self) -> Result<Args, ExitCode> {
        let arguments: Vec<String> = std::env::args().skip(1).collect();
        if arguments.iter().any(|a| a == "--help" || a == "-h") {
            print!("{}", self.usage());
            return Err(ExitCode::SUCCESS);
        }
        match self.parse(arguments) {
            Ok(args) => {
                lockscan::set_policy(lockscan::Policy::Collect);
                if let Some(path) = &args.trace {
                    match lockscan::record::start(path) {
                        Ok(recording) => *RECORDING.lock() = Some(recording),
                        Err(err) => {
                            eprintln!("{}: {err}", self.name);
                            return Err(ExitCode::from(2));
                        }
                    }
                }
                if !lockscan::is_active() {
                    println!(
                        "lockscan: detection is compiled out of this build (a release build \
                         without the `detect-in-release` feature): it will find nothing"
                    );
                }
                Ok(args)
            }
            Err(problem) => {
                eprintln!("{}: {problem}\n\n{}", self.name, self.usage());
                Err(ExitCode::from(2))
            }
        }
    }
}

/// The recording that `--trace` started, finished by [`print_findings`].
static RECORDING: Mutex<Option<Recording>> = Mutex::new(None);

/// Finishes the `--trace` recording, if any, then prints every finding lockscan reported in
/// this process (the rustc-style report of each), or `lockscan: no findings`.
pub fn print_findings() {
    if let Some(recording) = RECORDING.lock().take() {
        match recording.finish() {
            Ok(path) => println!("\nlockscan: trace written to {}", path.display()),
            Err(err) => eprintln!("lockscan: {err}"),
        }
    }
    let findings = lockscan::findings();
    println!();
    if findings.is_empty() {
        println!("lockscan: no findings");
        return;
    }
    let count = findings.len();
    println!(
        "lockscan: {count} finding{}",
        if count == 1 { "" } else { "s" }
    );
    for finding in findings {
        println!("{finding}");
    }
}

/// How a thread of a demo ended.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It returned.
    Finished(T),
    /// It panicked: lockscan unwinds a thread that is about to complete a deadlock. The text
    /// is the panic message, when it is text.
    Unwound(String),
}

/// A handle to a thread that can be joined: `std`'s, or `lockscan::thread`'s (which also tells
/// lockscan that the thread's work happened before what follows).
pub trait Joinable<T> {
    /// Waits for the thread.
    fn join_thread(self) -> std::thread::Result<T>;
}

impl<T> Joinable<T> for std::thread::JoinHandle<T> {
    fn join_thread(self) -> std::thread::Result<T> {
        self.join()
    }
}

impl<T> Joinable<T> for lockscan::thread::JoinHandle<T> {
    #[track_caller]
    fn join_thread(self) -> std::thread::Result<T> {
        self.join()
    }
}

/// Joins `handle`, keeping a panic as [`Outcome::Unwound`] instead of propagating it.
pub fn join<T>(handle: impl Joinable<T>) -> Outcome<T> {
    match handle.join_thread() {
        Ok(value) => Outcome::Finished(value),
        Err(payload) => Outcome::Unwound(panic_text(payload.as_ref())),
    }
}

/// The text of a panic's payload (what `std::thread::JoinHandle::join` and tokio's
/// `JoinError::into_panic` give).
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// The first line of a panic message: lockscan's messages go on with the full report, which
/// the demo prints once, at the end.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: Command = Command {
        name: "demo",
        about: "a demo",
        modes: &[("one", "the first"), ("two", "the second")],
        flags: &[("--collide", "collide")],
    };

    #[test]
    fn parses_mode_flags_and_trace() {
        let args = DEMO
            .parse(["two", "--collide", "--trace", "run.jsonl"])
            .unwrap();
        assert_eq!(args.mode, "two");
        assert!(args.has("--collide"));
        assert_eq!(args.trace, Some(PathBuf::from("run.jsonl")));
        let args = DEMO.parse(["--trace=t.std", "one"]).unwrap();
        assert_eq!((args.mode.as_str(), args.flags.len()), ("one", 0));
        assert_eq!(args.trace, Some(PathBuf::from("t.std")));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert_eq!(
            DEMO.parse(Vec::<String>::new()),
            Err("missing the mode".into())
        );
        assert_eq!(DEMO.parse(["three"]), Err("unknown mode `three`".into()));
        assert_eq!(
            DEMO.parse(["one", "--fast"]),
            Err("unknown flag `--fast`".into())
        );
        assert_eq!(
            DEMO.parse(["one", "two"]),
            Err("unexpected argument `two`".into())
        );
        assert_eq!(
            DEMO.parse(["one", "--trace"]),
            Err("`--trace` needs a path".into())
        );
    }

    #[test]
    fn usage_lists_modes_and_flags() {
        let usage = DEMO.usage();
        assert!(usage.contains("usage: demo MODE"), "{usage}");
        assert!(usage.contains("  two "), "{usage}");
        assert!(usage.contains("--collide"), "{usage}");
        assert!(usage.contains("--trace PATH"), "{usage}");
    }

    #[test]
    fn join_keeps_a_panic_message() {
        let handle = std::thread::spawn(|| panic!("lockscan: gone\nthe report"));
        match join(handle) {
            Outcome::Unwound(text) => assert_eq!(first_line(&text), "lockscan: gone"),
            Outcome::Finished(()) => panic!("the thread panicked"),
        }
        assert!(matches!(
            join(std::thread::spawn(|| 3)),
            Outcome::Finished(3)
        ));
    }
}
