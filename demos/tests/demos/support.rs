//! Running a demo binary and reading its output.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A bound far above any demo's running time: a safety net against a hang, not a measurement.
const HANG: Duration = Duration::from_secs(60);

/// What a demo run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` (a path from `env!("CARGO_BIN_EXE_...")`) with `args`, without the
/// environment variables that change lockscan's output, and kills it if it hangs.
pub fn run(program: &str, args: &[&str]) -> Run {
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("LOCKSCAN_BACKTRACE")
        .env_remove("LOCKSCAN_ON_FINDING")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {command}: {error}"));
    // Read both pipes while waiting, so that a full pipe cannot stall the child.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let read_stdout = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let read_stderr = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + HANG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command} hung for {HANG:?}: lockscan did not break its deadlock");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = read_stdout.join().unwrap().expect("utf-8 stdout");
    let stderr = read_stderr.join().unwrap().expect("utf-8 stderr");
    Run {
        command,
        status,
        stdout,
        stderr,
    }
}

impl Run {
    /// Asserts the demo exited with 0.
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{self}");
        self
    }

    /// Asserts stdout has `text`.
    pub fn assert_says(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "expected {text:?} in:\n{self}");
        self
    }

    /// The part of stdout from lockscan's summary line (`lockscan: no findings`, `lockscan: 2
    /// findings`) on.
    pub fn report(&self) -> &str {
        let start = self
            .stdout
            .find("\nlockscan: no findings")
            .or_else(|| self.stdout.rfind("\nlockscan: "))
            .unwrap_or_else(|| panic!("no lockscan summary in:\n{self}"));
        &self.stdout[start + 1..]
    }

    /// The kinds of the findings in the report (`potential-deadlock`, ...), sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .report()
            .lines()
            .filter_map(|line| {
                let (severity, rest) = line.split_once('[')?;
                if !["error", "warning", "note"].contains(&severity) {
                    return None;
                }
                let (kind, _) = rest.split_once("]: ")?;
                Some(kind.to_owned())
            })
            .collect();
        kinds.sort();
        kinds
    }

    /// Asserts the report says there is nothing to report.
    pub fn assert_clean(&self) -> &Self {
        assert_eq!(self.kinds(), Vec::<String>::new(), "{self}");
        assert!(self.report().starts_with("lockscan: no findings"), "{self}");
        self
    }

    /// The number on the first stdout line that starts with `prefix`, right after it.
    pub fn number_after(&self, prefix: &str) -> i64 {
        let line = self
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{self}"));
        let digits: String = line
            .chars()
            .take_while(|c| *c == '-' || c.is_ascii_digit())
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no number after {prefix:?} in:\n{self}"))
    }
}

impl Run {
    /// Asserts the final balances of the two accounts after exactly one of the two transfers
    /// (`transfer-1`'s 100 from ACC001 to ACC002, or `transfer-2`'s 50 back) happened,
    /// whichever it was: the other was unwound by lockscan.
    pub fn assert_one_transfer_happened(&self) {
        let balances = (
            self.number_after("final balance of ACC001: "),
            self.number_after("final balance of ACC002: "),
        );
        let transfer_1_done = self
            .stdout
            .contains("transfer-1 moved 100 from ACC001 to ACC002");
        let expected = if transfer_1_done {
            (900, 600)
        } else {
            (1050, 450)
        };
        assert_eq!(balances, expected, "{self}");
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n{}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}
