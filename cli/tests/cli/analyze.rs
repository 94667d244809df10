//! `lockscan analyze`: inputs, exit codes and `--fail-on`.

use crate::util::*;

#[test]
fn no_findings_exits_0() {
    let dir_tmp = scratch("no_findings_exits_0");
    let dir = dir_tmp.path();
    let trace = write(
        dir,
        "clean.jsonl",
        &jsonl(&[
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
        ]),
    );
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "lockscan: no findings in 1 trace (4 events)\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn an_error_finding_exits_1() {
    let dir_tmp = scratch("an_error_finding_exits_1");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("error[potential-deadlock]: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("= cycle: `a` -> `b` -> `a`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("lockscan: 1 error, 0 warnings, 0 notes in 1 trace (10 events)\n")
    );
}

/// Regression: a thread that re-locked a mutex it held was unwound live, before it blocked, so
/// the events showed nothing and `lockscan run` said "no findings".
#[test]
fn a_finding_the_program_recorded_before_it_unwound_exits_1() {
    let dir_tmp = scratch("a_finding_the_program_recorded_before_it_unwound_exits_1");
    let dir = dir_tmp.path();
    let trace = write(
        dir,
        "relock.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"cache"}"#,
            r#"{"type":"acquire","tid":1,"lock":1,"site":"src/cache.rs:10:5"}"#,
            r#"{"type":"finding","finding":{"kind":"api-misuse","message":"thread `main` locked `cache` again while holding it","reason":"a `Mutex` is not re-entrant: this thread waits for itself forever","locks":["cache"],"threads":["main"],"site":"src/cache.rs:12:9","edges":[{"from":"cache","to":"cache","thread":"main","from_site":"src/cache.rs:10:5","to_site":"src/cache.rs:12:9","blocked":true}]}}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
        ]),
    );
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("error[api-misuse]: thread `main` locked `cache` again while holding it"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("src/cache.rs:12:9"), "{}", run.stdout);
}

#[test]
fn a_finding_record_with_an_unknown_kind_is_an_error_with_its_line() {
    let dir_tmp = scratch("a_finding_record_with_an_unknown_kind_is_an_error_with_its_line");
    let dir = dir_tmp.path();
    let trace = write(
        dir,
        "bad.jsonl",
        &jsonl(&[r#"{"type":"finding","finding":{"kind":"gremlins","message":"?"}}"#]),
    );
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("bad.jsonl:2"), "{}", run.stderr);
    assert!(run.stderr.contains("a finding kind"), "{}", run.stderr);
}

#[test]
fn the_string_buffer_deadlock_exits_1() {
    let Some(trace) = corpus("std/StringBuffer.std") else {
        return;
    };
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("error[deadlock]: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("is blocked acquiring"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_parse_error_exits_2_with_file_and_line() {
    let Some(trace) = corpus("malformed/unsupported_character.std") else {
        return;
    };
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with(&format!("error: {trace}:1: expected `|` and a location")),
        "{}",
        run.stderr
    );
    // The report is still written.
    assert!(
        run.stdout.contains("lockscan: no findings"),
        "{}",
        run.stdout
    );
}

#[test]
fn parse_errors_win_over_findings() {
    let dir_tmp = scratch("parse_errors_win_over_findings");
    let dir = dir_tmp.path();
    let trace = write(dir, "t.jsonl", &format!("{}not json\n", ab_ba()));
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout.contains("potential-deadlock"),
        "the rest was analyzed"
    );
}

/// A missing input read "no findings in 0 traces; 1 unreadable line": one line says it now,
/// before any analysis.
#[test]
fn a_missing_input_file_is_one_error_line_and_exits_2() {
    let dir_tmp = scratch("a_missing_input_file");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let missing = dir.join("missing.jsonl");
    let why = std::fs::read(&missing).unwrap_err();
    for args in [
        vec!["analyze", missing.to_str().unwrap(), &trace],
        vec!["analyze", &trace, missing.to_str().unwrap()],
        vec!["graph", missing.to_str().unwrap()],
        vec!["export", missing.to_str().unwrap()],
    ] {
        let run = lockscan(&args);
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(
            run.stderr,
            format!("error: cannot open {}: {why}\n", missing.display()),
            "{args:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}: no report");
    }
}

/// `[1,2,3]` in a `.json` file was read as RAPID STD: "expected a thread name".
#[test]
fn a_file_in_no_trace_format_is_not_a_lockscan_trace() {
    let dir_tmp = scratch("not_a_lockscan_trace");
    let dir = dir_tmp.path();
    let other = write(dir, "numbers.json", "[1,2,3]\n");
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let run = lockscan(&["analyze", &other, &trace]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "error: {other}: not a lockscan trace: expected a JSON Lines trace \
             (`{{\"type\":...}}` records), the compact encoding (`.lstrace`), or RAPID STD text \
             (`THREAD|OP(ARG)|LOC` lines); found `[1,2,3]`\n"
        )
    );
    // The other trace is analyzed, and the summary counts a whole file, not a line.
    assert!(run.stdout.contains("potential-deadlock"), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("in 1 trace (10 events); 1 unreadable trace\n"),
        "{}",
        run.stdout
    );
    // Asked for, the STD reader still reads it, with its own words.
    let run = lockscan(&["analyze", "--input-format", "std", &other]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("expected a thread name"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "xml", "x"],
        &["analyze", "--fail-on", "sometimes", "x"],
        &["frobnicate"],
        &[],
    ] {
        let run = lockscan(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn an_empty_directory_exits_2() {
    let dir_tmp = scratch("an_empty_directory_exits_2");
    let dir = dir_tmp.path();
    let run = lockscan(&["analyze", &dir.display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no trace files"), "{}", run.stderr);
}

#[test]
fn help_has_examples_and_exits_0() {
    let run = lockscan(&["analyze", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
    assert!(run.stdout.contains("Exit codes:"));
    assert_eq!(lockscan(&["--version"]).code, 0);
}

#[test]
fn fail_on_sets_the_threshold() {
    let dir_tmp = scratch("fail_on_sets_the_threshold");
    let dir = dir_tmp.path();
    let warning = write(dir, "wait.jsonl", &wait_holding());
    let note = write(dir, "gated.jsonl", &gated());
    let error = write(dir, "abba.jsonl", &ab_ba());
    let cases = [
        (&warning, "error", 0),
        (&warning, "warning", 1),
        (&note, "warning", 0),
        (&note, "note", 1),
        (&error, "never", 0),
        (&error, "error", 1),
    ];
    for (trace, fail_on, code) in cases {
        let run = lockscan(&["analyze", "--fail-on", fail_on, trace]);
        assert_eq!(
            run.code, code,
            "{trace} --fail-on {fail_on}: {}",
            run.stdout
        );
    }
}

#[test]
fn stdin_is_read_for_a_dash() {
    let run = lockscan_with_stdin(&["analyze", "-"], &ab_ba());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("potential-deadlock"));
    let run = lockscan_with_stdin(&["analyze", "--input-format", "std", "-"], "T1|acq(L1)|1\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn the_input_format_can_be_forced() {
    let Some(trace) = corpus("std/Deadlock.std") else {
        return;
    };
    let run = lockscan(&["analyze", "--input-format", "jsonl", &trace]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(":1: expected a JSON object"),
        "{}",
        run.stderr
    );
    let run = lockscan(&["analyze", "--input-format", "std", &trace]);
    assert_eq!(run.code, 1);
}

#[test]
fn a_directory_is_analyzed_trace_by_trace() {
    let Some(dir) = corpus("std") else { return };
    let run = lockscan(&["analyze", "--format", "json", &dir]);
    assert_eq!(run.code, 1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["summary"]["traces"], 12);
    let deadlock = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "deadlock")
        .unwrap();
    assert!(
        deadlock["trace"]
            .as_str()
            .unwrap()
            .ends_with("StringBuffer.std"),
        "each finding names its trace: {deadlock}"
    );
    assert_eq!(report["summary"]["by_kind"]["deadlock"], 1);
    // The inconsistent STD traces are errors about the trace, naming it and the line.
    let inconsistent = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["kind"] == "api-misuse" && f["trace"].as_str().unwrap().ends_with("cache4j_dlf.std")
        })
        .expect("cache4j_dlf's inconsistency is reported");
    assert!(
        inconsistent["message"]
            .as_str()
            .unwrap()
            .starts_with("inconsistent trace:"),
        "{inconsistent}"
    );
}

#[test]
fn traces_of_one_program_are_matched_by_lock_name() {
    let dir_tmp = scratch("traces_of_one_program_are_matched");
    let dir = dir_tmp.path();
    write(
        dir,
        "one.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
            r#"{"type":"lock","lock":2,"kind":"mutex","name":"b"}"#,
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"acquire","tid":1,"lock":2}"#,
        ]),
    );
    write(
        dir,
        "two.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":5,"kind":"mutex","name":"b"}"#,
            r#"{"type":"lock","lock":6,"kind":"mutex","name":"a"}"#,
            r#"{"type":"acquire","tid":1,"lock":5}"#,
            r#"{"type":"acquire","tid":1,"lock":6}"#,
        ]),
    );
    let run = lockscan(&["analyze", &dir.display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("lock-order inversion across traces between"),
        "{}",
        run.stdout
    );
}

#[test]
fn output_goes_to_a_file() {
    let dir_tmp = scratch("output_goes_to_a_file");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let report = dir.join("report.json");
    let run = lockscan(&[
        "analyze",
        "--format",
        "json",
        "--output",
        &report.display().to_string(),
        &trace,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    let text = std::fs::read_to_string(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["findings"][0]["kind"], "potential-deadlock");
    // `-` is standard output.
    let run = lockscan(&["analyze", "--output", "-", &trace]);
    assert!(run.stdout.contains("potential-deadlock"));
}

/// A trace without findings whose process crashed mid-write: a warning, which `--fail-on
/// warning` fails on (it passed).
#[test]
fn fail_on_warning_fails_on_a_cut_trace() {
    let dir_tmp = scratch("fail_on_warning_cut_trace");
    let dir = dir_tmp.path();
    let clean = jsonl(&[
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
        r#"{"type":"release","tid":1,"lock":1}"#,
        r#"{"type":"acquire","tid":2,"lock":1,"site":"src/x.rs:2:1"}"#,
        r#"{"type":"release","tid":2,"lock":1}"#,
    ]);
    let whole = write(dir, "whole.jsonl", &clean);
    // JSON Lines cut in a record, and the compact encoding cut in its last block.
    let cut_jsonl = write(dir, "cut.jsonl", &clean[..clean.len() - 8]);
    let compact = dir.join("whole.lstrace").display().to_string();
    assert_eq!(lockscan(&["convert", &whole, "-o", &compact]).code, 0);
    let bytes = std::fs::read(&compact).unwrap();
    let cut_compact = dir.join("cut.lstrace");
    std::fs::write(&cut_compact, &bytes[..bytes.len() - 5]).unwrap();
    let cut_compact = cut_compact.display().to_string();
    for cut in [&cut_jsonl, &cut_compact] {
        let fail_on = |threshold: &str| lockscan(&["analyze", "--fail-on", threshold, cut]);
        let run = fail_on("error");
        assert_eq!(run.code, 0, "{cut}: {}", run.stderr);
        assert!(
            run.stdout.starts_with("lockscan: no findings"),
            "{}",
            run.stdout
        );
        assert!(run.stderr.contains("warning: "), "{}", run.stderr);
        for threshold in ["warning", "note"] {
            let run = fail_on(threshold);
            assert_eq!(run.code, 1, "{cut} --fail-on {threshold}: {}", run.stderr);
            assert!(
                run.stderr.contains(&format!("(--fail-on {threshold})")),
                "{}",
                run.stderr
            );
        }
        assert_eq!(fail_on("never").code, 0);
    }
    // The whole trace has no warning to fail on.
    assert_eq!(
        lockscan(&["analyze", "--fail-on", "warning", &whole]).code,
        0
    );
}

/// After two runs, `analyze target/lockscan/` reported 20 errors for 10 distinct findings.
#[test]
fn a_finding_several_traces_show_is_reported_once_with_its_counts() {
    let dir_tmp = scratch("dedup_counts");
    let dir = dir_tmp.path();
    let header = |pid: u32| {
        format!(
            r#"{{"type":"header","format":"lockscan-trace","version":1,"pid":{pid},"program":"t"}}"#
        )
    };
    let abba = ab_ba();
    let body = abba.split_once('\n').unwrap().1;
    // Two copies of one process's trace, and the same test in another process.
    let traces = dir.join("traces");
    std::fs::create_dir_all(traces.join("run-2")).unwrap();
    write(&traces, "t-7.json", &format!("{}\n{body}", header(7)));
    write(
        &traces,
        "copy-of-t-7.json",
        &format!("{}\n{body}", header(7)),
    );
    write(
        &traces.join("run-2"),
        "t-8.json",
        &format!("{}\n{body}", header(8)),
    );
    let folder = traces.display().to_string();

    let run = lockscan(&["analyze", &folder]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("error[potential-deadlock]").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(" = seen in 3 traces (2 processes)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("lockscan: 1 error, 0 warnings, 0 notes in 3 traces (30 events)\n"),
        "{}",
        run.stdout
    );

    let run = lockscan(&["analyze", "--format", "json", &folder]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["findings"][0]["occurrences"],
        serde_json::json!({"traces": 3, "processes": 2})
    );
    assert_eq!(report["summary"]["errors"], 1);

    let run = lockscan(&["analyze", "--format", "sarif", &folder]);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0]["properties"]["occurrences"],
        serde_json::json!({"traces": 3, "processes": 2})
    );

    // One trace: counted, and no note.
    let one = traces.join("t-7.json").display().to_string();
    let run = lockscan(&["analyze", &one]);
    assert!(!run.stdout.contains("seen in"), "{}", run.stdout);
    let run = lockscan(&["analyze", "--format", "json", &one]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["findings"][0]["occurrences"],
        serde_json::json!({"traces": 1, "processes": 1})
    );
}

#[test]
fn a_truncated_trace_is_a_warning_not_an_error() {
    let dir_tmp = scratch("a_truncated_trace_is_a_warning");
    let dir = dir_tmp.path();
    let mut text = ab_ba();
    text.truncate(text.rfind("{\"type\":\"end\"}").unwrap());
    text.push_str("{\"type\":\"rel");
    let trace = write(dir, "cut.jsonl", &text);
    let run = lockscan(&["analyze", &trace]);
    assert_eq!(run.code, 1, "findings, not an error: {}", run.stderr);
    assert!(run.stderr.contains("warning: "), "{}", run.stderr);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
}

#[test]
fn an_unwritable_output_exits_2() {
    let dir_tmp = scratch("an_unwritable_output_exits_2");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    // A directory cannot be created as a file.
    let run = lockscan(&["analyze", "--output", &dir.display().to_string(), &trace]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: cannot create "),
        "{}",
        run.stderr
    );
}

/// Regression: a cycle longer than `--max-cycle-len` exited 0. The limit bounds how many cycles
/// are listed, not whether a cycle is found: every strongly connected component yields one.
#[test]
fn a_cycle_longer_than_the_limit_is_still_reported_and_the_summary_says_so() {
    let Some(trace) = corpus("std/DiningPhil.std") else {
        return;
    };
    let run = lockscan(&["analyze", "--max-cycle-len", "4", &trace]);
    assert_eq!(
        run.code, 1,
        "the 5-cycle is beyond the limit, and reported: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the cycle search hit its limits"),
        "{}",
        run.stdout
    );
    let within = lockscan(&["analyze", "--max-cycle-len", "5", &trace]);
    assert_eq!(within.code, 1);
    let findings = |stdout: &str| stdout.lines().filter(|l| l.starts_with("error[")).count();
    assert_eq!(findings(&run.stdout), findings(&within.stdout));
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_a_directory_is_not_followed() {
    let dir_tmp = scratch("a_symlink_loop_in_a_directory");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    std::os::unix::fs::symlink(dir, dir.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("abba.jsonl"), dir.join("linked.jsonl")).unwrap();
    let run = lockscan(&["analyze", "--format", "json", &dir.display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["summary"]["traces"], 2,
        "the file and the linked file"
    );
}

#[test]
fn a_baseline_hides_known_findings_and_only_new_ones_fail() {
    let dir_tmp = scratch("a_baseline_hides_known_findings");
    let dir = dir_tmp.path();
    let known = write(dir, "abba.jsonl", &ab_ba());
    let baseline = dir.join("baseline.json").display().to_string();
    let run = lockscan(&["analyze", "--format", "json", "-o", &baseline, &known]);
    assert_eq!(run.code, 1);
    let run = lockscan(&["analyze", "--baseline", &baseline, &known]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("; 1 finding in the baseline not shown\n"),
        "{}",
        run.stdout
    );
    // The known finding stays hidden next to a new one, which fails the run.
    let wait = write(dir, "wait.jsonl", &wait_holding());
    let run = lockscan(&[
        "analyze",
        "--fail-on",
        "warning",
        "--baseline",
        &baseline,
        &known,
        &wait,
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("warning[wait-while-holding]"),
        "{}",
        run.stdout
    );
    // A baseline that is not a report is an error.
    let run = lockscan(&["analyze", "--baseline", &known, &known]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a JSON report"), "{}", run.stderr);
}

/// Regression: each of these traces exited 0, though none can be what a program did. They are
/// bad input, with file and line, for every command that reads traces.
#[test]
fn traces_no_program_could_write_exit_2_with_file_and_line() {
    let dir_tmp = scratch("traces_no_program_could_write");
    let dir = dir_tmp.path();
    let header = r#"{"type":"header","format":"lockscan-trace","version":1}"#;
    let end = r#"{"type":"end"}"#;
    let acquire = r#"{"type":"acquire","tid":1,"lock":1}"#;
    let cases = [
        (
            "empty.jsonl",
            String::new(),
            "empty.jsonl:1: expected a trace record, found an empty file",
        ),
        (
            "blank.jsonl",
            "\n  \n".to_owned(),
            "blank.jsonl:2: expected a trace record, found only blank lines",
        ),
        (
            "two-headers.jsonl",
            format!("{header}\n{header}\n{end}\n"),
            "two-headers.jsonl:2: expected one `header` record, on the first line",
        ),
        (
            "after-end.jsonl",
            format!("{header}\n{end}\n{acquire}\n"),
            "after-end.jsonl:3: expected nothing after the `end` record, found a `acquire` record",
        ),
        (
            "two-ends.jsonl",
            format!("{header}\n{end}\n{end}\n"),
            "two-ends.jsonl:3: expected nothing after the `end` record",
        ),
    ];
    for (name, text, message) in cases {
        let trace = write(dir, name, &text);
        let commands: [&[&str]; 3] = [
            &["analyze"],
            &["graph", "--format", "dot"],
            &["export", "--format", "chrome"],
        ];
        for command in commands {
            let mut args = command.to_vec();
            args.push(&trace);
            let run = lockscan(&args);
            assert_eq!(run.code, 2, "{command:?} {name}: {}", run.stderr);
            assert!(
                run.stderr.contains(message),
                "{command:?} {name}: {}",
                run.stderr
            );
        }
    }
}

/// Invalid UTF-8 where a program may put anything (an STD location, a JSONL field lockscan
/// does not know) is accepted, and shown replaced, not dropped.
#[test]
fn invalid_utf8_in_locations_and_unknown_fields_is_accepted_and_shown_replaced() {
    let dir_tmp = scratch("invalid_utf8_is_accepted");
    let dir = dir_tmp.path();
    let std_trace = dir.join("bytes.std");
    std::fs::write(
        &std_trace,
        b"T1|acq(L1)|a\xffb\nT2|acq(L2)|c\nT2|acq(L1)|d\nT1|acq(L2)|e\n".as_slice(),
    )
    .unwrap();
    let run = lockscan(&["analyze", &std_trace.display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("a\u{fffd}b"), "{}", run.stdout);
    let jsonl = dir.join("unknown.jsonl");
    let mut text =
        b"{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1,\"note\":\"\xff\"}\n"
            .to_vec();
    text.extend_from_slice(b"{\"type\":\"end\"}\n");
    std::fs::write(&jsonl, text).unwrap();
    let run = lockscan(&["analyze", &jsonl.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
