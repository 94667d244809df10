//! `lockscan run -- COMMAND`: record every process of a command, then analyze the traces.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;

use crate::EXIT_ERROR;
use crate::args::ReportArgs;

pub(crate) const HELP: &str = "\
Examples:
  lockscan run -- cargo test
  lockscan run --format github -- cargo test --workspace
  lockscan run --trace-dir /tmp/traces -- ./target/debug/my-program --flag

The command runs with LOCKSCAN_TRACE pointing at a fresh folder under --trace-dir, so each of
its processes that uses lockscan's locks (every test binary, say) writes a trace there (in the
compact encoding, unless LOCKSCAN_TRACE_FORMAT=jsonl is set), and with
LOCKSCAN_ON_FINDING=collect unless it is set already, so that the analysis, not a panicking
test, reports the findings. Then every trace in the folder is analyzed together.

Recording from an unoptimized lockscan (plain `cargo test`) costs several times more: add
`[profile.dev.package.lockscan] opt-level = 3` to the workspace's Cargo.toml (README:
\"Recording at full speed\").

Exit codes: the command's own, when it failed; otherwise those of `lockscan analyze`:
  0  no finding at or above --fail-on (or --write-baseline accepted them)
  1  findings at or above --fail-on
  2  usage, I/O, parse or configuration error (or the command could not be started)

Suppressions come from lockscan.toml in the current directory, or --config FILE.";

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where the traces go: the run makes a fresh folder in it.
    #[arg(long, value_name = "DIR", default_value = "target/lockscan")]
    trace_dir: PathBuf,

    #[command(flatten)]
    report: ReportArgs,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Runs the command, then `analyze` over the traces it left.
pub(crate) fn run(
    args: &RunArgs,
    analyze: impl FnOnce(&[PathBuf], &ReportArgs) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let dir = fresh_dir(&args.trace_dir)?;
    let (program, rest) = args
        .command
        .split_first()
        .context("no command to run after `--`")?;
    let mut command = Command::new(program);
    command.args(rest);
    // A trailing separator: each process writes PROGRAM-PID.lstrace in the folder, in the
    // compact encoding (a tenth of JSONL's size, and cheaper to write) unless the user chose.
    let mut spec = dir.clone().into_os_string();
    spec.push(std::path::MAIN_SEPARATOR_STR);
    command.env(lockscan::record::TRACE_ENV, spec);
    if std::env::var_os(lockscan::record::TRACE_FORMAT_ENV).is_none() {
        command.env(lockscan::record::TRACE_FORMAT_ENV, "compact");
    }
    if std::env::var_os(lockscan::POLICY_ENV).is_none() {
        command.env(lockscan::POLICY_ENV, "collect");
    }
    let shown = args
        .command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let status = command
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    let traces = count_traces(&dir);
    eprintln!(
        "lockscan: `{shown}` finished ({status}); {traces} trace{} in {}",
        if traces == 1 { "" } else { "s" },
        dir.display()
    );
    let analyzed = if traces == 0 {
        eprintln!(
            "lockscan: nothing was recorded: does the command use lockscan's locks, in a build \
             with detection (a debug build, or the `detect-in-release` feature)?"
        );
        0
    } else {
        analyze(std::slice::from_ref(&dir), &args.report)?
    };
    if status.success() {
        return Ok(analyzed);
    }
    // The command's own failure wins, unless the analysis itself could not be done.
    if analyzed == EXIT_ERROR {
        return Ok(EXIT_ERROR);
    }
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .filter(|&code| code != 0)
        .unwrap_or(EXIT_ERROR))
}

/// A new, empty folder for this run's traces, under `parent`.
fn fresh_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = parent.join(format!("run-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the trace folder {}", dir.display()))?;
    Ok(dir)
}

fn count_traces(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "json" || x == lockscan::trace::compact::EXTENSION)
            })
            .count()
    })
}
