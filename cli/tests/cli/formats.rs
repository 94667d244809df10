//! The report formats and color.

use crate::util::*;

fn abba_report(format: &str, extra: &[&str]) -> Run {
    let dir_tmp = scratch(&format!("format_{format}"));
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let mut args = vec!["analyze", "--format", format];
    args.extend_from_slice(extra);
    args.push(&trace);
    lockscan(&args)
}

#[test]
fn json_has_the_contract_shape() {
    let run = abba_report("json", &[]);
    assert_eq!(run.code, 1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["version"], 1);
    let finding = &report["findings"][0];
    for field in [
        "kind",
        "severity",
        "message",
        "locks",
        "threads",
        "edges",
        "vars",
        "fingerprint",
    ] {
        assert!(!finding[field].is_null(), "{field} missing: {finding}");
    }
    assert_eq!(finding["locks"], serde_json::json!(["a", "b"]));
    let edge = &finding["edges"][0];
    assert_eq!(edge["from"], "a");
    assert_eq!(edge["to"], "b");
    assert_eq!(edge["thread"], "thread#1");
    assert_eq!(edge["from_site"], "src/x.rs:1:1");
    assert_eq!(edge["to_site"], "src/x.rs:2:1");
    assert_eq!(finding["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(report["summary"]["traces"], 1);
}

#[test]
fn the_fingerprint_is_stable_across_runs_with_other_ids() {
    let first = abba_report("json", &[]);
    let dir_tmp = scratch("fingerprint_other_ids");
    let dir = dir_tmp.path();
    let other = ab_ba()
        .replace("\"lock\":1", "\"lock\":71")
        .replace("\"lock\":2", "\"lock\":72");
    let trace = write(dir, "t.jsonl", &other);
    let second = lockscan(&["analyze", "--format", "json", &trace]);
    let fingerprint = |run: &Run| {
        let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        value["findings"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(fingerprint(&first), fingerprint(&second));
}

#[test]
fn sarif_is_sarif_2_1_0() {
    let run = abba_report("sarif", &[]);
    assert_eq!(run.code, 1);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "potential-deadlock");
    assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "lockscan");
}

#[test]
fn github_prints_annotations() {
    let run = abba_report("github", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("::error file=src/x.rs,line=2,col=1,title=lockscan potential-deadlock::"),
        "{}",
        run.stdout
    );
}

#[test]
fn junit_is_xml_with_one_failure() {
    let run = abba_report("junit", &[]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("<?xml"), "{}", run.stdout);
    assert!(run.stdout.contains(r#"failures="1""#));
}

#[test]
fn dot_draws_the_cycle() {
    let run = abba_report("dot", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("digraph lockscan {"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(r#""0:a" -> "0:b""#), "{}", run.stdout);
}

#[test]
fn color_is_off_unless_asked_for() {
    let plain = abba_report("text", &[]);
    assert!(!plain.stdout.contains('\x1b'), "not a terminal: no color");
    let colored = abba_report("text", &["--color", "always"]);
    assert!(
        // Bold bright red, as rustc (annotate-snippets) paints errors.
        colored.stdout.starts_with("\x1b[1m\x1b[91merror"),
        "{:?}",
        colored.stdout
    );
    let never = abba_report("text", &["--color", "never"]);
    // The same report, but for the trace's path, in a fresh folder each run.
    let without_path = |text: &str| {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("= trace: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_path(&never.stdout), without_path(&plain.stdout));
}

#[test]
fn no_color_is_honoured_by_auto() {
    let dir_tmp = scratch("no_color");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let run = |env: &[(&str, &str)], color: &str| {
        let mut command = lockscan_command();
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command
            .args(["analyze", "--color", color, &trace])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().contains('\x1b')
    };
    // Standard output is a pipe here: CLICOLOR_FORCE is what turns `auto` on...
    assert!(run(&[("CLICOLOR_FORCE", "1")], "auto"));
    // ...and NO_COLOR turns it off again.
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], "auto"));
    // An empty NO_COLOR is unset, as no-color.org says.
    assert!(run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")], "auto"));
    // An explicit flag wins over the environment.
    assert!(run(&[("NO_COLOR", "1")], "always"));
    assert!(!run(&[("CLICOLOR_FORCE", "1")], "never"));
}

#[test]
fn a_report_file_is_colored_only_when_asked_for() {
    let dir_tmp = scratch("color_file");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let report = dir.join("report.txt");
    let colored = |env: &[(&str, &str)], color: &str| {
        let mut command = lockscan_command();
        command.envs(env.iter().copied());
        let output = command
            .args(["analyze", "--color", color, "-o"])
            .arg(&report)
            .arg(&trace)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        std::fs::read_to_string(&report).unwrap().contains('\x1b')
    };
    assert!(!colored(&[], "auto"), "a file is no terminal");
    assert!(colored(&[("CLICOLOR_FORCE", "1")], "auto"));
    assert!(colored(&[], "always"));
    assert!(!colored(&[("CLICOLOR_FORCE", "1")], "never"));
}

#[test]
fn github_appends_a_job_summary_when_github_step_summary_is_set() {
    let dir_tmp = scratch("github_step_summary");
    let dir = dir_tmp.path();
    let trace = write(dir, "abba.jsonl", &ab_ba());
    let summary = write(dir, "summary.md", "earlier step\n");
    let run = |format: &str| {
        let output = lockscan_command()
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["analyze", "--format", format, &trace])
            .output()
            .unwrap();
        Run::from(output)
    };
    // Other formats leave the file alone.
    assert_eq!(run("text").code, 1);
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), "earlier step\n");
    let github = run("github");
    assert_eq!(github.code, 1, "{}", github.stderr);
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        "earlier step\n\
         ### lockscan: 1 error, 0 warnings, 0 notes\n\
         \n\
         | Kind | Severity | Locks | First site |\n\
         |---|---|---|---|\n\
         | potential-deadlock | error | a, b | src/x.rs:2:1 |\n\
         \n\
         Analyzed 1 trace (10 events).\n\
         \n"
    );
    // Appended again, not overwritten, by a second step.
    run("github");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(text.matches("### lockscan").count(), 2, "{text}");
}

#[test]
fn github_escapes_names_and_files_in_workflow_commands() {
    let dir_tmp = scratch("github_escaping");
    let dir = dir_tmp.path();
    // Lock names with the characters workflow commands give meaning to, and a file name with
    // `:` and `,`, which delimit properties.
    let trace = ab_ba()
        .replace(r#""name":"a""#, r#""name":"50%\r\nx""#)
        .replace(r#""name":"b""#, r#""name":"y::z,w""#)
        .replace("src/x.rs:2:1", "src/we:ird,name.rs:2:1");
    let trace = write(dir, "t.jsonl", &trace);
    let run = lockscan(&["analyze", "--format", "github", &trace]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one annotation and the summary: {}",
        run.stdout
    );
    let (command, data) = lines[0]
        .split_once("::")
        .unwrap()
        .1
        .split_once("::")
        .unwrap();
    assert_eq!(
        command,
        "error file=src/we%3Aird%2Cname.rs,line=2,col=1,title=lockscan potential-deadlock"
    );
    assert!(data.contains("`50%25%0D%0Ax`"), "{data}");
    // In the message, `:` and `,` are data and stay as they are.
    assert!(data.contains("`y::z,w`"), "{data}");
    assert!(!data.contains('\r'), "{data:?}");
}
