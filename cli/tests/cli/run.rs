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

/// A run that recorded nothing checked nothing: it passed (exit 0), as a gate that is always
/// green.
#[test]
fn nothing_recorded_is_an_error() {
    let dir_tmp = scratch("run_nothing");
    let dir = dir_tmp.path();
    let run = run_sh(dir, &[], "true");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: nothing was recorded, so nothing was checked: no process of `sh -c true` \
             wrote a trace; does the command run code that uses lockscan's locks"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "no report of nothing");
    // A command that failed keeps its own code.
    let run = run_sh(dir, &[], "exit 3");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was recorded"),
        "{}",
        run.stderr
    );
}

/// `run` gave a relative folder; cargo runs each test binary in its own package's folder, so
/// a workspace's traces landed in the members' folders and `run` found none.
#[test]
fn the_trace_folder_is_absolute_wherever_a_process_runs() {
    let dir_tmp = scratch("run_absolute");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    std::fs::create_dir_all(dir.join("member")).unwrap();
    // A relative --trace-dir, and a process that writes from another folder, as a member's
    // test binary does.
    let script =
        "echo \"trace=$LOCKSCAN_TRACE\"; cd member && cp ../abba.jsonl \"$LOCKSCAN_TRACE/t.json\"";
    let run = lockscan_in(
        dir,
        &["run", "--trace-dir", "traces", "--", "sh", "-c", script],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let spec = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("trace="))
        .expect("the script printed LOCKSCAN_TRACE");
    assert!(std::path::Path::new(spec).is_absolute(), "{spec}");
    let traces = std::fs::canonicalize(dir.join("traces")).unwrap();
    assert!(
        std::path::Path::new(spec).starts_with(&traces),
        "{spec} is under {}",
        traces.display()
    );
    assert!(
        run.stdout.contains("error[potential-deadlock]"),
        "{}",
        run.stdout
    );
    assert!(!dir.join("member/traces").exists());
}

/// Old traces counted again: `run` analyzes its own folder only.
#[test]
fn a_run_analyzes_only_its_own_traces() {
    let dir_tmp = scratch("run_own_folder");
    let dir = dir_tmp.path();
    let old = dir.join("traces/run-1-1");
    std::fs::create_dir_all(&old).unwrap();
    write(&old, "t-1.json", &ab_ba());
    let clean = write(
        dir,
        "clean.jsonl",
        &jsonl(&[
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
        ]),
    );
    let run = run_sh(
        dir,
        &["--keep", "0"],
        &format!("cp {clean} \"$LOCKSCAN_TRACE/t.json\""),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "lockscan: no findings in 1 trace (4 events)\n");
    assert!(old.exists(), "--keep 0 keeps every run");
}

#[test]
fn keep_deletes_older_run_folders_and_nothing_else() {
    let dir_tmp = scratch("run_keep");
    let dir = dir_tmp.path();
    let traces = dir.join("traces");
    for name in ["run-100-1", "run-300-1", "run-200-9", "run-notes", "mine"] {
        std::fs::create_dir_all(traces.join(name)).unwrap();
        write(&traces.join(name), "t.json", &ab_ba());
    }
    write(&traces, "run-50-1", "a file, not a run folder");
    let clean = write(
        dir,
        "clean.jsonl",
        &jsonl(&[r#"{"type":"acquire","tid":1,"lock":1}"#]),
    );
    let script = format!("cp {clean} \"$LOCKSCAN_TRACE/t.json\"");
    let run = run_sh(dir, &["--keep", "2"], &script);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("lockscan: deleted 2 older run folders in"),
        "{}",
        run.stderr
    );
    let names = || {
        let mut names: Vec<String> = std::fs::read_dir(&traces)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let original = [
        "mine",
        "run-100-1",
        "run-200-9",
        "run-300-1",
        "run-50-1",
        "run-notes",
    ];
    let new_runs = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|name| !original.contains(&name.as_str()))
            .cloned()
            .collect()
    };
    // This run's folder, and the newest of the older runs; the rest is no run folder.
    let left = names();
    assert_eq!(new_runs(&left).len(), 1, "{left:?}");
    let kept: Vec<&String> = left
        .iter()
        .filter(|n| original.contains(&n.as_str()))
        .collect();
    assert_eq!(
        kept,
        ["mine", "run-300-1", "run-50-1", "run-notes"],
        "{left:?}"
    );
    // The default keeps three: this run's and the two newest before it.
    for _ in 0..2 {
        let run = run_sh(dir, &[], &script);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let left = names();
    assert_eq!(new_runs(&left).len(), 3, "{left:?}");
    assert!(!left.contains(&"run-300-1".to_owned()), "{left:?}");
}

/// `lockscan run cargo test` said only "unexpected argument 'cargo' found".
#[test]
fn a_command_without_the_separator_gets_a_tip() {
    let run = lockscan(&["run", "cargo", "test"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("tip: the command to run goes after `--`: `lockscan run -- cargo test`"),
        "{}",
        run.stderr
    );
    let run = lockscan(&["run", "--format", "json", "cargo", "test", "--workspace"]);
    assert!(
        run.stderr
            .contains("`lockscan run --format json -- cargo test --workspace`"),
        "{}",
        run.stderr
    );
    // An unknown option is not a command.
    let run = lockscan(&["run", "--frobnicate", "--", "true"]);
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains("goes after `--`"), "{}", run.stderr);
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
