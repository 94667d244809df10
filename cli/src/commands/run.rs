//! `lockscan run -- COMMAND`: record every process of a command, then analyze the traces.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::args::RunArgs;
use crate::commands::analyze::analyze;
use crate::diagnostics;
use crate::exit::Exit;

/// Runs the command, then `analyze` over the traces it left.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let (program, rest) = args
        .command
        .split_first()
        .context("no command to run after `--`")?;
    let dir = fresh_dir(&args.trace_dir)?;
    prune_runs(&args.trace_dir, &dir, args.keep);
    let mut command = Command::new(program);
    command.args(rest);
    // Absolute: cargo runs each test binary in its own package's folder, where a relative
    // path would scatter a workspace's traces. A trailing separator: each process writes
    // PROGRAM-PID.lstrace in the folder, in the compact encoding (a tenth of JSONL's size, and
    // cheaper to write) unless the user chose.
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
    diagnostics::status(format_args!(
        "`{shown}` finished ({status}); {traces} trace{} in {}",
        if traces == 1 { "" } else { "s" },
        dir.display()
    ))?;
    if traces == 0 {
        // Nothing to keep: an empty folder would only push a run with traces out of --keep.
        let _ = std::fs::remove_dir(&dir);
        let why = "does the command run code that uses lockscan's locks (or the parking_lot \
                   stand-in), in a build with detection (a debug build, or the \
                   `detect-in-release` feature)?";
        if status.success() {
            // A gate that checked nothing must not pass.
            diagnostics::error(format_args!(
                "nothing was recorded, so nothing was checked: no process of `{shown}` wrote a \
                 trace; {why}"
            ))?;
            return Ok(Exit::Error);
        }
        diagnostics::status(format_args!("nothing was recorded; {why}"))?;
        return Ok(command_failure(status));
    }
    let analyzed = analyze(std::slice::from_ref(&dir), &args.report)?;
    if status.success() {
        return Ok(analyzed);
    }
    // The command's own failure wins, unless the analysis itself could not be done.
    if analyzed == Exit::Error {
        return Ok(Exit::Error);
    }
    Ok(command_failure(status))
}

/// The exit of a command that failed: its own code, else (killed by a signal) 2.
fn command_failure(status: ExitStatus) -> Exit {
    status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .filter(|&code| code != 0)
        .map_or(Exit::Error, Exit::Command)
}

/// A new, empty folder for this run's traces, under `parent`, as an absolute path.
fn fresh_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = parent.join(format!("{RUN_PREFIX}{stamp}-{}", std::process::id()));
    let dir = std::path::absolute(&dir)
        .with_context(|| format!("cannot find the trace folder {}", dir.display()))?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the trace folder {}", dir.display()))?;
    Ok(dir)
}

/// How the folders of runs begin: `run-MILLIS-PID`.
const RUN_PREFIX: &str = "run-";

/// When a run folder was made, from its name: `run-MILLIS-PID`; `None` for any other name,
/// so that nothing but run folders is ever deleted.
fn run_stamp(name: &str) -> Option<(u128, u32)> {
    let (millis, pid) = name.strip_prefix(RUN_PREFIX)?.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(millis) || !digits(pid) {
        return None;
    }
    Some((millis.parse().ok()?, pid.parse().ok()?))
}

/// Deletes the run folders in `parent` beyond the `keep` newest, `current` (this run's)
/// always kept and counted; `keep` 0 keeps them all. A folder that cannot be deleted is a
/// warning: the run goes on.
fn prune_runs(parent: &Path, current: &Path, keep: usize) {
    if keep == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let mut older: Vec<((u128, u32), PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let stamp = run_stamp(entry.file_name().to_str()?)?;
            Some((stamp, entry.path()))
        })
        .filter(|(_, path)| path.file_name() != current.file_name())
        .collect();
    // Newest first.
    older.sort_by_key(|run| std::cmp::Reverse(run.0));
    let mut deleted = 0;
    for (_, path) in older.into_iter().skip(keep - 1) {
        match std::fs::remove_dir_all(&path) {
            Ok(()) => deleted += 1,
            // The run goes on: a diagnostic that cannot be written changes nothing.
            Err(err) => {
                let _ = diagnostics::warning(format_args!(
                    "cannot delete the old run folder {}: {err}",
                    path.display()
                ));
            }
        }
    }
    if deleted > 0 {
        let _ = diagnostics::status(format_args!(
            "deleted {deleted} older run folder{} in {} (--keep {keep})",
            if deleted == 1 { "" } else { "s" },
            parent.display()
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::run_stamp;

    #[test]
    fn only_run_folders_have_a_stamp() {
        assert_eq!(
            run_stamp("run-1700000000000-42"),
            Some((1_700_000_000_000, 42))
        );
        for other in [
            "run-",
            "run-12",
            "run-12-",
            "run-x-1",
            "run-1-2-3",
            "traces",
            "Run-1-2",
        ] {
            assert_eq!(run_stamp(other), None, "{other}");
        }
    }
}
