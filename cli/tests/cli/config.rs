//! `lockscan.toml` and `--config`: `[[allow]]` suppressions.

use crate::util::*;

const ALLOW_AB: &str = r#"
[[allow]]
kind = "potential-deadlock"
locks = ["b", "a"]
reason = "the transfer paths never run together (issue 12)"
"#;

const ALLOW_STALE: &str = r#"
[[allow]]
kind = "deadlock"
locks = ["x", "y"]
reason = "fixed since"
"#;

#[test]
fn lockscan_toml_in_the_current_directory_suppresses_a_finding() {
    let dir_tmp = scratch("config_implicit");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    write(dir, "lockscan.toml", ALLOW_AB);
    let run = lockscan_in(dir, &["analyze", "abba.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "lockscan: no findings in 1 trace (10 events); 1 finding suppressed\n"
    );
    assert_eq!(run.stderr, "");
    // `run` shares the report options, and the configuration with them.
    let script = "cp abba.jsonl \"$LOCKSCAN_TRACE/t.json\"";
    let run = lockscan_in(dir, &["run", "--", "sh", "-c", script]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("1 finding suppressed"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_explicit_config_wins_and_unused_entries_are_reported() {
    let dir_tmp = scratch("config_explicit");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    // The implicit file would suppress the finding; the explicit one does not.
    write(dir, "lockscan.toml", ALLOW_AB);
    write(dir, "stale.toml", ALLOW_STALE);
    let run = lockscan_in(
        dir,
        &[
            "analyze",
            "--config",
            "stale.toml",
            "--format",
            "json",
            "abba.jsonl",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "warning: stale.toml:2: [[allow]] entry 1 (deadlock, locks `x`, `y`) matched no \
         finding; remove it if the bug is fixed\n"
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(report["summary"]["suppressed"], 0);
    assert_eq!(
        report["unused_suppressions"],
        serde_json::json!([{
            "config": "stale.toml", "entry": 1, "line": 2, "kind": "deadlock",
            "locks": ["x", "y"], "vars": []
        }])
    );
}

#[test]
fn a_missing_explicit_config_is_a_usage_error() {
    let dir_tmp = scratch("config_missing");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    let run = lockscan_in(dir, &["analyze", "--config", "nope.toml", "abba.jsonl"]);
    assert_eq!(run.code, 2);
    // One line, with the system's words once (they were said twice: "(os error 2)" twice).
    let missing = std::fs::read(dir.join("nope.toml")).unwrap_err();
    assert_eq!(
        run.stderr,
        format!("error: cannot read the configuration nope.toml: {missing}\n")
    );
    assert_eq!(run.stdout, "", "no report from an unusable configuration");
}

#[test]
fn fail_on_warning_fails_on_an_unused_suppression() {
    let dir_tmp = scratch("config_unused_fails_on_warning");
    let dir = dir_tmp.path();
    let clean = jsonl(&[
        r#"{"type":"acquire","tid":1,"lock":1}"#,
        r#"{"type":"release","tid":1,"lock":1}"#,
    ]);
    write(dir, "clean.jsonl", &clean);
    write(dir, "stale.toml", ALLOW_STALE);
    let analyze = |fail_on: &str| {
        let args = ["analyze", "--config", "stale.toml", "--fail-on", fail_on];
        lockscan_in(dir, &[&args[..], &["clean.jsonl"]].concat())
    };
    let run = analyze("error");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("warning: stale.toml:2:"),
        "{}",
        run.stderr
    );
    let run = analyze("warning");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .ends_with("lockscan: failing on 1 warning (--fail-on warning)\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_errors_name_the_file_and_line_and_exit_2() {
    let dir_tmp = scratch("config_errors");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    for (text, expected) in [
        (
            "[[allow]]\nkind = \"potential-deadlock\"\nlocks = [\"a\", \"b\"]\n",
            "error: lockscan.toml:1: [[allow]] entry 1: no `reason`",
        ),
        (
            "[[allow]]\nkind = \"potential-deadlock\"\nlocks = [\"a\", \"b\"]\nreason = \"\"\n",
            "error: lockscan.toml:1: [[allow]] entry 1: no `reason`",
        ),
        (
            "\n[[allow]]\nkind = \"race\"\nlocks = [\"a\"]\nreason = \"r\"\n",
            "error: lockscan.toml:3: [[allow]] entry 1: unknown kind; expected one of",
        ),
        ("[[allow]\n", "error: lockscan.toml:1: "),
    ] {
        write(dir, "lockscan.toml", text);
        let run = lockscan_in(dir, &["analyze", "abba.jsonl"]);
        assert_eq!(run.code, 2, "{text}: {}", run.stderr);
        assert!(run.stderr.starts_with(expected), "{text}: {}", run.stderr);
    }
}

#[test]
fn a_data_race_is_allowed_by_its_variables() {
    let dir_tmp = scratch("config_vars");
    let dir = dir_tmp.path();
    write(dir, "race.jsonl", &race());
    write(
        dir,
        "lockscan.toml",
        "[[allow]]\nkind = \"data-race\"\nvars = [\"other\"]\nreason = \"r\"\n",
    );
    let run = lockscan_in(dir, &["analyze", "race.jsonl"]);
    assert_eq!(run.code, 1, "another variable's entry does not allow it");
    write(
        dir,
        "lockscan.toml",
        "[[allow]]\nkind = \"data-race\"\nvars = [\"balance\"]\nreason = \"r\"\n",
    );
    let run = lockscan_in(dir, &["analyze", "race.jsonl"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}
