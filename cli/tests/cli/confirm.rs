//! `lockscan confirm TRACES -- COMMAND`: each potential deadlock of the traces, re-run steered.
//! A shell stands in for the program (it copies a trace to where `LOCKSCAN_TRACE` points, and
//! says on stderr what steering did, as a steered lockscan program does at exit); the
//! end-to-end tests steer real programs.

use crate::util::*;

/// `lockscan confirm --trace-dir DIR/attempts EXTRA... TRACE -- sh -c SCRIPT`.
fn confirm_sh(dir: &std::path::Path, trace: &str, extra: &[&str], script: &str) -> Run {
    let attempts = dir.join("attempts").display().to_string();
    let mut args = vec!["confirm", "--trace-dir", &attempts];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[trace, "--", "sh", "-c", script]);
    lockscan(&args)
}

/// The `ab_ba` cycle as an actual deadlock: each thread holds its first lock and requests the
/// other's.
fn ab_deadlock() -> String {
    jsonl(&[
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"b"}"#,
        r#"{"type":"thread","tid":1,"name":"left"}"#,
        r#"{"type":"thread","tid":2,"name":"right"}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"site":"src/x.rs:3:1"}"#,
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
        r#"{"type":"request","tid":1,"lock":2,"site":"src/x.rs:2:1"}"#,
        r#"{"type":"request","tid":2,"lock":1,"site":"src/x.rs:4:1"}"#,
    ])
}

#[test]
fn a_run_that_deadlocks_on_the_predicted_locks_confirms_it() {
    let dir_tmp = scratch("confirm_confirmed");
    let dir = dir_tmp.path();
    let predicted = write(dir, "abba.jsonl", &ab_ba());
    let deadlock = write(dir, "deadlock.jsonl", &ab_deadlock());
    let seen = dir.join("env.txt").display().to_string();
    let script = format!(
        "echo \"$LOCKSCAN_STEER|$LOCKSCAN_STEER_PAUSE_MS|$LOCKSCAN_ON_FINDING\" > {seen}; \
         cp {deadlock} \"$LOCKSCAN_TRACE/t.json\"; \
         echo 'lockscan-steer: points=2 pauses=1 released=1 timeouts=0 meetings=1' >&2"
    );
    let run = confirm_sh(dir, &predicted, &["--pause-ms", "40"], &script);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // The command was steered towards the cycle, under `collect` (a panicking potential
    // deadlock would stop the thread before the wait cycle forms).
    let env = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(
        env.trim(),
        "a -> b @ src/x.rs:2:1; b -> a @ src/x.rs:4:1|40|collect"
    );
    let out = &run.stdout;
    assert!(
        out.contains(
            "= confirmed: an actual deadlock on attempt 1 (every edge paused, up to 40 ms;"
        ),
        "{out}"
    );
    // The witness: first every thread's lock, then every request, each in the trace's order.
    let steps = [
        "1. thread `right` acquired `b` at src/x.rs:3:1",
        "2. thread `left` acquired `a` at src/x.rs:1:1",
        "3. thread `left` requested `b` at src/x.rs:2:1",
        "4. thread `right` requested `a` at src/x.rs:4:1",
    ];
    let at: Vec<usize> = steps
        .iter()
        .map(|step| {
            out.find(step)
                .unwrap_or_else(|| panic!("{step:?} in:\n{out}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert!(
        out.contains(
            "= reproduce: LOCKSCAN_ON_FINDING=warn LOCKSCAN_STEER='a -> b @ src/x.rs:2:1; b -> a \
             @ src/x.rs:4:1' LOCKSCAN_STEER_PAUSE_MS=40 sh -c "
        ),
        "{out}"
    );
    assert!(
        out.contains("1 of 1 potential deadlock confirmed (1 attempt in"),
        "{out}"
    );
    // SARIF carries the verdict among the result's properties.
    let sarif = confirm_sh(dir, &predicted, &["--format", "sarif"], &script);
    assert_eq!(sarif.code, 1, "{}", sarif.stderr);
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "potential-deadlock");
    assert_eq!(result["properties"]["confirmation"]["verdict"], "confirmed");
    assert!(
        run.stderr
            .contains("attempt 1: every edge paused, up to 40 ms: steering points reached 2 times; 1 pause; the threads met; an actual deadlock on the predicted locks"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_run_that_never_deadlocks_is_not_confirmed_with_what_was_tried() {
    let dir_tmp = scratch("confirm_not_confirmed");
    let dir = dir_tmp.path();
    let predicted = write(dir, "abba.jsonl", &ab_ba());
    let script = "echo 'lockscan-steer: points=1 pauses=1 released=0 timeouts=1 meetings=0' >&2";
    let run = confirm_sh(
        dir,
        &predicted,
        &["--attempts", "3", "--pause-ms", "10"],
        script,
    );
    // Still an error, as `analyze` reports it...
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("= not confirmed after 3 attempts"), "{out}");
    // ...every edge first, longer, then each edge alone.
    for tried in [
        "every edge paused, up to 10 ms: steering points reached once; 1 pause, 1 to the bound; the threads never met; nothing recorded",
        "every edge paused, up to 40 ms",
        "only edge 1 (`a` -> `b`) paused, up to 10 ms",
    ] {
        assert!(out.contains(tried), "{tried:?} in:\n{out}");
    }
    assert!(out.contains("not confirmed does not prove"), "{out}");
    assert!(
        out.contains("0 of 1 potential deadlock confirmed (3 attempts in"),
        "{out}"
    );
    // ...and the gate on confirmed findings only passes.
    let gated = confirm_sh(
        dir,
        &predicted,
        &[
            "--attempts",
            "1",
            "--fail-on",
            "confirmed",
            "--format",
            "json",
        ],
        "true",
    );
    assert_eq!(gated.code, 0, "{}{}", gated.stdout, gated.stderr);
    let report: serde_json::Value = serde_json::from_str(&gated.stdout).unwrap();
    let confirmation = &report["findings"][0]["confirmation"];
    assert_eq!(confirmation["verdict"], "not-confirmed");
    assert_eq!(confirmation["tried"][0]["outcome"], "nothing-recorded");
    assert_eq!(
        confirmation["tried"][0]["steering"],
        serde_json::Value::Null
    );
    assert_eq!(report["confirm"]["confirmed"], 0);
}

#[test]
fn nothing_predicted_runs_nothing() {
    let dir_tmp = scratch("confirm_nothing");
    let dir = dir_tmp.path();
    let trace = write(dir, "gated.jsonl", &gated());
    let ran = dir.join("ran");
    let run = confirm_sh(dir, &trace, &[], &format!("touch {}", ran.display()));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "lockscan: nothing to confirm: no potential deadlock in the traces; 1 other finding \
             not subject to confirmation"
        ),
        "{}",
        run.stdout
    );
    assert!(!ran.exists(), "the command ran");
}

#[test]
fn a_run_past_the_time_limit_is_killed() {
    let dir_tmp = scratch("confirm_timeout");
    let dir = dir_tmp.path();
    let predicted = write(dir, "abba.jsonl", &ab_ba());
    let run = confirm_sh(
        dir,
        &predicted,
        &["--attempts", "1", "--timeout", "1"],
        "sleep 600",
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("killed at the time limit"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_command_is_required() {
    let dir_tmp = scratch("confirm_usage");
    let trace = write(dir_tmp.path(), "abba.jsonl", &ab_ba());
    let run = lockscan(&["confirm", &trace]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_lock_named_after_its_first_acquisition_is_steered_by_every_site_it_was_taken_at() {
    let dir_tmp = scratch("confirm_first_use");
    let dir = dir_tmp.path();
    // `b` has no maker's site: its class is where it was first taken, one of its two sites.
    let predicted = write(
        dir,
        "first-use.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
            r#"{"type":"lock","lock":2,"kind":"mutex","class":"src/x.rs:2:1"}"#,
            r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
            r#"{"type":"acquire","tid":1,"lock":2,"site":"src/x.rs:2:1"}"#,
            r#"{"type":"release","tid":1,"lock":2}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
            r#"{"type":"acquire","tid":2,"lock":2,"site":"src/x.rs:3:1"}"#,
            r#"{"type":"acquire","tid":2,"lock":1,"site":"src/x.rs:4:1"}"#,
        ]),
    );
    let seen = dir.join("env.txt").display().to_string();
    let run = confirm_sh(
        dir,
        &predicted,
        &["--attempts", "1"],
        &format!("echo \"$LOCKSCAN_STEER\" > {seen}"),
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let env = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(
        env.trim(),
        "a -> src/x.rs:2:1 | src/x.rs:3:1 @ src/x.rs:2:1; \
         src/x.rs:2:1 | src/x.rs:3:1 -> a @ src/x.rs:4:1"
    );
}
