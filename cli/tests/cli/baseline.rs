//! `--write-baseline` and `--baseline`: accept today's findings, fail on new ones.

use crate::util::*;

#[test]
fn a_written_baseline_accepts_todays_findings_and_a_new_one_still_fails() {
    let dir_tmp = scratch("write_baseline_round_trip");
    let dir = dir_tmp.path();
    let abba = write(dir, "abba.jsonl", &ab_ba());
    let baseline = dir.join("baseline.json").display().to_string();
    // Writing shows the findings it accepts, and they do not fail this run.
    let run = lockscan(&["analyze", "--write-baseline", &baseline, &abba]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("error[potential-deadlock]"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        format!("lockscan: {baseline}: 1 finding accepted\n")
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(written["lockscan_baseline"], 1);
    assert_eq!(written["findings"][0]["kind"], "potential-deadlock");
    assert_eq!(
        written["findings"][0]["locks"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        written["findings"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .len(),
        16
    );

    // The same run against the baseline passes, and says what it hid.
    let run = lockscan(&["analyze", "--baseline", &baseline, &abba]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("; 1 finding in the baseline not shown\n"),
        "{}",
        run.stdout
    );

    // A new cycle, on other locks, still fails; the known one stays hidden.
    let other = ab_ba()
        .replace(r#""name":"a""#, r#""name":"c""#)
        .replace(r#""name":"b""#, r#""name":"d""#);
    let new = write(dir, "new.jsonl", &other);
    let run = lockscan(&[
        "analyze",
        "--format",
        "json",
        "--baseline",
        &baseline,
        &abba,
        &new,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", run.stdout);
    assert_eq!(findings[0]["locks"], serde_json::json!(["c", "d"]));
    assert_eq!(report["summary"]["baselined"], 1);
}

#[test]
fn a_suppressed_finding_is_not_written_to_the_baseline() {
    let dir_tmp = scratch("write_baseline_suppressed");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    write(dir, "wait.jsonl", &wait_holding());
    write(
        dir,
        "lockscan.toml",
        "[[allow]]\nkind = \"potential-deadlock\"\nlocks = [\"a\", \"b\"]\nreason = \"r\"\n",
    );
    let run = lockscan_in(
        dir,
        &[
            "analyze",
            "--write-baseline",
            "b.json",
            "abba.jsonl",
            "wait.jsonl",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("b.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = written["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["wait-while-holding"]);
}

#[test]
fn an_unwritable_baseline_is_an_error() {
    let dir_tmp = scratch("write_baseline_unwritable");
    let dir = dir_tmp.path();
    let abba = write(dir, "abba.jsonl", &ab_ba());
    let target = dir.join("no/such/dir/b.json").display().to_string();
    let run = lockscan(&["analyze", "--write-baseline", &target, &abba]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: cannot write the baseline "),
        "{}",
        run.stderr
    );
}
