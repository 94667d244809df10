//! One steered run of the command: what runs (the whole command, or the tests that took the
//! cycle's edges), with which pauses, under a time limit, and whether its traces show the
//! predicted cycle as an actual deadlock.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use lockscan::steer::{self, Cycle, Options, Stats};
use lockscan::{Finding, FindingKind};
use serde_json::{Value, json};

use crate::args::ReadArgs;
use crate::inputs::collect_inputs;
use crate::replay::replay_pictured;

/// What a steered run runs.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    /// The command as given.
    Whole(Vec<OsString>),
    /// `cargo test`, with only the tests named: their threads took the cycle's edges.
    Tests {
        command: Vec<OsString>,
        tests: Vec<String>,
        /// Whether some edges were taken by threads that are not tests' (a pool's workers,
        /// say, most likely started by the tests named).
        partial: bool,
    },
}

impl Plan {
    /// The tests whose threads took `finding`'s edges, when the command is `cargo test` and
    /// some of those threads are its tests (`listed`; libtest names a test's thread after the
    /// test); else the whole command.
    pub(crate) fn new(command: &[OsString], finding: &Finding, listed: Option<&[String]>) -> Plan {
        let mut threads: Vec<&str> = Vec::new();
        for edge in &finding.edges {
            if !threads.contains(&edge.thread.as_str()) {
                threads.push(&edge.thread);
            }
        }
        let tests: Vec<String> = threads
            .iter()
            .filter(|t| listed.is_some_and(|listed| listed.iter().any(|l| l == *t)))
            .map(|t| (*t).to_owned())
            .collect();
        if tests.is_empty() {
            return Plan::whole(command);
        }
        Plan::Tests {
            command: command.to_vec(),
            partial: tests.len() < threads.len(),
            tests,
        }
    }

    /// Whether only some tests run, and some edges' threads were not theirs.
    pub(crate) fn is_partial(&self) -> bool {
        matches!(self, Plan::Tests { partial: true, .. })
    }

    pub(crate) fn whole(command: &[OsString]) -> Plan {
        Plan::Whole(command.to_vec())
    }

    /// Whether only some tests run.
    pub(crate) fn is_selection(&self) -> bool {
        matches!(self, Plan::Tests { .. })
    }

    /// The command line to run.
    pub(crate) fn command_line(&self) -> Vec<OsString> {
        match self {
            Plan::Whole(command) => command.clone(),
            Plan::Tests { command, tests, .. } => select_tests(command, tests),
        }
    }
}

/// The tests `command` runs, when it is `cargo test`: what `cargo test ... -- --list` says,
/// its output kept in `dir`. `None` for another command, or when the list cannot be had
/// within `timeout`.
pub(crate) fn list_tests(
    command: &[OsString],
    dir: &Path,
    timeout: Duration,
) -> anyhow::Result<Option<Vec<String>>> {
    if !is_cargo_test(command) {
        return Ok(None);
    }
    let separator = command.iter().position(|a| a == "--");
    let mut line: Vec<OsString> = command[..separator.unwrap_or(command.len())].to_vec();
    line.extend(["--".into(), "--list".into()]);
    let (program, rest) = line.split_first().context("no command to run after `--`")?;
    let listed = dir.join("tests.txt");
    let file =
        File::create(&listed).with_context(|| format!("cannot create {}", listed.display()))?;
    let mut list = Command::new(program);
    list.args(rest)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::null())
        // Nothing to record or steer: listing runs no test.
        .env_remove(lockscan::record::TRACE_ENV)
        .env_remove(steer::STEER_ENV);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        list.process_group(0);
    }
    let child = list
        .spawn()
        .with_context(|| format!("cannot run `{}`", shell_line(&line)))?;
    if !wait_within(child, timeout)?.is_some_and(|status| status.success()) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&listed).unwrap_or_default();
    Ok(Some(
        text.lines()
            .filter_map(|l| {
                l.strip_suffix(": test")
                    .or_else(|| l.strip_suffix(": bench"))
            })
            .map(str::to_owned)
            .collect(),
    ))
}

/// Whether `command` is `cargo test ...` (cargo's first word that is not an option is `test`).
fn is_cargo_test(command: &[OsString]) -> bool {
    let Some((program, args)) = command.split_first() else {
        return false;
    };
    let is_cargo = Path::new(program)
        .file_stem()
        .is_some_and(|stem| stem == "cargo");
    let subcommand = args
        .iter()
        .map(|a| a.to_string_lossy())
        .find(|a| !a.starts_with('-') && !a.starts_with('+'));
    is_cargo && subcommand.as_deref() == Some("test")
}

/// `cargo test ARGS -- TEST_ARGS --exact TESTS... --test-threads=N`: the tests run together,
/// one thread each, so that their threads can meet. The user's own `--exact` and
/// `--test-threads` are replaced (libtest refuses an option given twice).
fn select_tests(command: &[OsString], tests: &[String]) -> Vec<OsString> {
    let separator = command.iter().position(|a| a == "--");
    let (cargo, test_args) = match separator {
        Some(at) => (&command[..at], &command[at + 1..]),
        None => (command, &[][..]),
    };
    let mut line: Vec<OsString> = cargo.to_vec();
    line.push("--".into());
    let mut skip_value = false;
    for arg in test_args {
        if skip_value {
            skip_value = false;
            continue;
        }
        let text = arg.to_string_lossy();
        if text == "--test-threads" {
            skip_value = true;
            continue;
        }
        if text == "--exact" || text.starts_with("--test-threads=") {
            continue;
        }
        line.push(arg.clone());
    }
    line.push("--exact".into());
    line.extend(tests.iter().map(OsString::from));
    line.push(format!("--test-threads={}", tests.len().max(2)).into());
    line
}

/// How a steered run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its traces show an actual deadlock on the predicted cycle's locks.
    Deadlock(Box<Finding>),
    /// An actual deadlock, but on other locks (not this finding's).
    OtherDeadlock(Vec<String>),
    /// No deadlock.
    NoDeadlock,
    /// It recorded no trace.
    NothingRecorded,
    /// Killed at the time limit.
    TimedOut,
}

/// One steered run.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) number: u32,
    /// The edge that paused alone (from 0), or every edge.
    pub(crate) pausing: Option<usize>,
    /// That edge, as `` `A` -> `B` ``.
    pub(crate) pausing_edge: Option<String>,
    pub(crate) pause: Duration,
    /// The command line, as a shell would read it.
    pub(crate) command_shown: String,
    /// The command line with the steering environment: what reproduces this run.
    pub(crate) reproduce: String,
    pub(crate) dir: PathBuf,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) outcome: Outcome,
    /// What steering did, summed over the processes that reached a steering point; `None`
    /// when none did.
    pub(crate) stats: Option<Stats>,
    pub(crate) elapsed: Duration,
}

/// Runs `plan` once, steered towards `cycle`, recording into `dir`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    number: u32,
    plan: &Plan,
    cycle: &Cycle,
    options: Options,
    pausing: Option<usize>,
    dir: &Path,
    timeout: Duration,
    read: &ReadArgs,
    predicted: &Finding,
) -> anyhow::Result<Attempt> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the trace folder {}", dir.display()))?;
    let line = plan.command_line();
    let (program, rest) = line.split_first().context("no command to run after `--`")?;
    let pause_ms = options.pause.as_millis().to_string();
    let budget_ms = options.budget.as_millis().to_string();
    let spec = cycle.to_string();
    let mut command = Command::new(program);
    command.args(rest);
    let mut trace = dir.as_os_str().to_owned();
    trace.push(std::path::MAIN_SEPARATOR_STR);
    command
        .env(lockscan::record::TRACE_ENV, trace)
        // A potential deadlock is reported before its thread blocks: under `panic` it would
        // unwind the thread before the wait cycle could form.
        .env(lockscan::POLICY_ENV, "collect")
        .env(steer::STEER_ENV, &spec)
        .env(steer::STEER_PAUSE_ENV, &pause_ms)
        .env(steer::STEER_BUDGET_ENV, &budget_ms)
        .stdin(Stdio::null());
    if std::env::var_os(lockscan::record::TRACE_FORMAT_ENV).is_none() {
        command.env(lockscan::record::TRACE_FORMAT_ENV, "compact");
    }
    let stdout = dir.join("stdout.txt");
    let stderr = dir.join("stderr.txt");
    let create = |path: &Path| {
        File::create(path).with_context(|| format!("cannot create {}", path.display()))
    };
    command.stdout(create(&stdout)?).stderr(create(&stderr)?);
    #[cfg(unix)]
    {
        // Its own process group, so that the time limit stops the test binaries cargo
        // started as well as cargo.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let command_shown = shell_line(&line);
    let reproduce = format!(
        "{}={} {}={} {}={} {command_shown}",
        lockscan::POLICY_ENV,
        "warn",
        steer::STEER_ENV,
        shell_word(&spec),
        steer::STEER_PAUSE_ENV,
        pause_ms
    );
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("cannot run `{command_shown}`"))?;
    let status = wait_within(child, timeout)?;
    let elapsed = started.elapsed();
    let stats = read_stats(&stderr);
    let outcome = match analyze(dir, read, predicted)? {
        Outcome::Deadlock(found) => Outcome::Deadlock(found),
        _ if status.is_none() => Outcome::TimedOut,
        other => other,
    };
    // Named as the finding names its locks (the steered cycle may list several names).
    let pausing_edge = pausing
        .and_then(|edge| predicted.edges.get(edge))
        .map(|edge| format!("`{}` -> `{}`", edge.from, edge.to));
    Ok(Attempt {
        number,
        pausing,
        pausing_edge,
        pause: options.pause,
        command_shown,
        reproduce,
        dir: dir.to_owned(),
        status,
        outcome,
        stats,
        elapsed,
    })
}

/// Waits for `child`, killing it (and its process group) at `timeout`: `None` then.
fn wait_within(mut child: Child, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("cannot wait for the command")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            #[cfg(unix)]
            {
                // The group the child leads: cargo and the test binaries it started.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The steering statistics the processes wrote to standard error at exit, summed.
fn read_stats(stderr: &Path) -> Option<Stats> {
    let text = std::fs::read_to_string(stderr).ok()?;
    let mut total: Option<Stats> = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(steer::STATS_LINE_PREFIX) else {
            continue;
        };
        if let Ok(stats) = rest.parse::<Stats>() {
            total.get_or_insert_with(Stats::default).add(&stats);
        }
    }
    total
}

/// A lock's name without the ` #N` that tells apart locks of one class in a finding.
pub(crate) fn base_name(name: &str) -> &str {
    match name.rsplit_once(" #") {
        Some((base, number))
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => name,
    }
}

/// The locks of a finding by base name, sorted: what an actual deadlock must match.
fn lock_set(finding: &Finding) -> Vec<&str> {
    let mut locks: Vec<&str> = finding.locks.iter().map(|l| base_name(l)).collect();
    locks.sort_unstable();
    locks
}

/// Whether the attempt's traces show an actual deadlock on `predicted`'s locks.
fn analyze(dir: &Path, read: &ReadArgs, predicted: &Finding) -> anyhow::Result<Outcome> {
    let mut traces = Vec::new();
    crate::inputs::walk(dir, &mut traces)?;
    if traces.is_empty() {
        return Ok(Outcome::NothingRecorded);
    }
    let inputs = collect_inputs(&[dir.to_owned()])?;
    let found = replay_pictured(&inputs, read, None)?.findings;
    let wanted = lock_set(predicted);
    let mut others = Vec::new();
    for finding in found {
        if finding.kind != FindingKind::Deadlock {
            continue;
        }
        if lock_set(&finding) == wanted {
            return Ok(Outcome::Deadlock(Box::new(finding)));
        }
        others.push(finding.cycle_text().unwrap_or(finding.message));
    }
    Ok(if others.is_empty() {
        Outcome::NoDeadlock
    } else {
        Outcome::OtherDeadlock(others)
    })
}

impl Attempt {
    /// Which edges paused, and for how long at most.
    pub(crate) fn describe_choice(&self) -> String {
        let which = match (self.pausing, &self.pausing_edge) {
            (Some(edge), Some(text)) => format!("only edge {} ({text}) paused", edge + 1),
            (Some(edge), None) => format!("only edge {} paused", edge + 1),
            (None, _) => "every edge paused".to_owned(),
        };
        format!("{which}, up to {} ms", self.pause.as_millis())
    }

    /// What happened, in one line.
    pub(crate) fn describe(&self) -> String {
        let steering = match &self.stats {
            None => "no thread reached a steering point".to_owned(),
            Some(stats) => {
                let mut text = format!(
                    "steering points reached {}; {}",
                    times(stats.points),
                    plural(stats.pauses, "pause", "pauses")
                );
                if stats.timeouts > 0 {
                    text.push_str(&format!(", {} to the bound", stats.timeouts));
                }
                if stats.over_budget > 0 {
                    text.push_str(&format!(", {} skipped (budget spent)", stats.over_budget));
                }
                text.push_str(if stats.meetings > 0 {
                    "; the threads met"
                } else {
                    "; the threads never met"
                });
                text
            }
        };
        let outcome = match &self.outcome {
            Outcome::Deadlock(_) => "an actual deadlock on the predicted locks".to_owned(),
            Outcome::OtherDeadlock(cycles) => {
                format!("an actual deadlock on other locks ({})", cycles.join(", "))
            }
            Outcome::NoDeadlock => "no deadlock".to_owned(),
            Outcome::NothingRecorded => "nothing recorded".to_owned(),
            Outcome::TimedOut => "killed at the time limit".to_owned(),
        };
        let status = match self.status.and_then(|s| s.code()) {
            Some(code) => format!("exit code {code}"),
            None => "no exit code".to_owned(),
        };
        format!(
            "{}: {steering}; {outcome} ({status}, {:.1} s)",
            self.describe_choice(),
            self.elapsed.as_secs_f64()
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        let outcome = match &self.outcome {
            Outcome::Deadlock(_) => "deadlock",
            Outcome::OtherDeadlock(_) => "other-deadlock",
            Outcome::NoDeadlock => "no-deadlock",
            Outcome::NothingRecorded => "nothing-recorded",
            Outcome::TimedOut => "timed-out",
        };
        json!({
            "attempt": self.number,
            "pausing": match self.pausing {
                None => json!("every-edge"),
                Some(edge) => json!(edge + 1),
            },
            "pause_ms": u64::try_from(self.pause.as_millis()).unwrap_or(u64::MAX),
            "command": self.command_shown,
            "exit_code": self.status.and_then(|s| s.code()),
            "outcome": outcome,
            "steering": self.stats.map(|s| json!({
                "points": s.points,
                "pauses": s.pauses,
                "released": s.released,
                "timeouts": s.timeouts,
                "meetings": s.meetings,
                "over_budget": s.over_budget,
                "paused_ms": s.paused_ms,
            })),
            "seconds": self.elapsed.as_secs_f64(),
            "traces": self.dir.display().to_string(),
        })
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn times(n: u64) -> String {
    if n == 1 {
        "once".to_owned()
    } else {
        format!("{n} times")
    }
}

/// The command line as a POSIX shell reads it back.
pub(crate) fn shell_line(words: &[OsString]) -> String {
    words
        .iter()
        .map(|w| shell_word(&w.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word`, quoted for a POSIX shell when it needs to be.
pub(crate) fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=+,@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn cargo_test_is_recognised() {
        assert!(is_cargo_test(&words("cargo test")));
        assert!(is_cargo_test(&words("cargo +nightly test --workspace")));
        assert!(is_cargo_test(&words("/usr/bin/cargo -q test")));
        assert!(!is_cargo_test(&words("cargo build")));
        assert!(!is_cargo_test(&words("./target/debug/bank transfer")));
        assert!(!is_cargo_test(&words("cargo nextest run")));
    }

    #[test]
    fn the_selected_tests_run_together() {
        let tests = ["tests::a".to_owned(), "tests::b".to_owned()];
        let line = select_tests(&words("cargo test --offline"), &tests);
        assert_eq!(
            shell_line(&line),
            "cargo test --offline -- --exact tests::a tests::b --test-threads=2"
        );
        let line = select_tests(
            &words("cargo test -- --nocapture --test-threads 1 --exact"),
            &tests,
        );
        assert_eq!(
            shell_line(&line),
            "cargo test -- --nocapture --exact tests::a tests::b --test-threads=2"
        );
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("src/lib.rs:10:5"), "src/lib.rs:10:5");
        assert_eq!(shell_word("A -> B"), "'A -> B'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn base_names_drop_the_instance_number() {
        assert_eq!(base_name("src/lib.rs:3:9 #2"), "src/lib.rs:3:9");
        assert_eq!(base_name("account:A"), "account:A");
        assert_eq!(base_name("odd #name"), "odd #name");
    }
}
