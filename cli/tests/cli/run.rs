//! `lockscan run -- COMMAND`: the command records into a fresh folder, then the traces are
//! analyzed. A shell stands in for a program that records (it copies a trace to where
//! `LOCKSCAN_TRACE` points), so these tests need no lockscan program of their own; the
//! end-to-end tests run a real demo.

use crate::util::*;

/// `lockscan run --trace-dir DIR EXTRA... -- sh -c SCRIPT`.
fn run_sh(dir: &std::path::Path, extra: &[&str], script: &str) -> Run {
    let trace_dir = dir.join("traces").display().to_string();
    let mut args = vec!["run", "--trace-dir", &trace_dir];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    lockscan(&args)
}

#[test]
fn the_command_records_into_a_fresh_folder_and_the_traces_are_analyzed() {
    let dir_tmp = scratch("run_records");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let run = run_sh(
        dir,
        &[],
        &format!("cp {trace} \"$LOCKSCAN_TRACE/test-1.json\""),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("error[potential-deadlock]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("finished (exit status: 0); 1 trace in"),
        "{}",
        run.stderr
    );
    // The folder is under --trace-dir, and new for this run.
    let folders: Vec<_> = std::fs::read_dir(dir.join("traces")).unwrap().collect();
    assert_eq!(folders.len(), 1);
}

#[test]
fn report_options_apply() {
    let dir_tmp = scratch("run_options");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let script = format!("cp {trace} \"$LOCKSCAN_TRACE/t.json\"");
    let run = run_sh(dir, &["--format", "json", "--fail-on", "never"], &script);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["findings"][0]["kind"], "potential-deadlock");
}

#[test]
fn the_policy_is_collect_unless_set() {
    let dir_tmp = scratch("run_policy");
    let dir = dir_tmp.path();
    let run = run_sh(dir, &[], "echo \"policy=$LOCKSCAN_ON_FINDING\"");
    assert!(run.stdout.contains("policy=collect"), "{}", run.stdout);
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("lockscan");
    let trace_dir = dir.join("traces").display().to_string();
    let output = command
        .env("LOCKSCAN_ON_FINDING", "panic")
        .args(["run", "--trace-dir", &trace_dir, "--", "sh", "-c"])
        .arg("echo \"policy=$LOCKSCAN_ON_FINDING\"")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("policy=panic"));
}

#[test]
fn a_failing_command_exits_with_its_own_code() {
    let dir_tmp = scratch("run_fails");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let run = run_sh(
        dir,
        &[],
        &format!("cp {trace} \"$LOCKSCAN_TRACE/t.json\"; exit 3"),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    // The findings are reported all the same.
    assert!(
        run.stdout.contains("error[potential-deadlock]"),
        "{}",
        run.stdout
    );
}

#[test]
fn nothing_recorded_is_said_and_not_an_error() {
    let dir_tmp = scratch("run_nothing");
    let dir = dir_tmp.path();
    let run = run_sh(dir, &[], "true");
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("nothing was recorded"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_command_that_cannot_start_exits_2() {
    let dir_tmp = scratch("run_missing");
    let dir = dir_tmp.path();
    let trace_dir = dir.display().to_string();
    let run = lockscan(&[
        "run",
        "--trace-dir",
        &trace_dir,
        "--",
        "no-such-program-here",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot run `no-such-program-here`"),
        "{}",
        run.stderr
    );
    let run = lockscan(&["run"]);
    assert_eq!(run.code, 2, "a command is required");
}
