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
    assert_eq!(written["lockscan_baseline"], 2);
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

/// The bank of issue 19: two accounts made on one line, a transfer that takes the source,
/// then the target; `above` comment lines before it.
fn bank_source(above: usize, balance: u64) -> String {
    let mut text = "// a comment\n".repeat(above);
    text.push_str(&format!(
        "pub struct Bank {{\n    accounts: Vec<Mutex<u64>>,\n}}\n\nimpl Bank {{\n    \
         pub fn new() -> Bank {{\n        Bank {{ accounts: (0..2).map(|_| Mutex::new({balance})).collect() }}\n    }}\n\n    \
         pub fn transfer(&self, from: usize, to: usize) {{\n        \
         let source = self.accounts[from].lock();\n        \
         let target = self.accounts[to].lock();\n    }}\n}}\n"
    ));
    text
}

/// Two transfers in opposite directions over `source` (as `src/lib.rs`), recorded as they
/// would be: two unnamed locks of the class of the line that made them.
fn bank_trace(source: &str) -> String {
    let line = |needle: &str| 1 + source.lines().position(|l| l.contains(needle)).unwrap();
    let class = format!("src/lib.rs:{}:43", line("Mutex::new"));
    let (from, to) = (line("accounts[from]"), line("accounts[to]"));
    let mut lines = vec![
        format!(r#"{{"type":"lock","lock":1,"kind":"mutex","class":"{class}","site":"{class}"}}"#),
        format!(r#"{{"type":"lock","lock":2,"kind":"mutex","class":"{class}","site":"{class}"}}"#),
    ];
    for (tid, first, second) in [(1, 1, 2), (2, 2, 1)] {
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{first},"site":"src/lib.rs:{from}:22"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{second},"site":"src/lib.rs:{to}:22"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{second}}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{first}}}"#
        ));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    jsonl(&lines)
}

/// Regression (issue 19, item 3): one comment line added above `transfer` turned
/// `src/lib.rs:10:49 #1` into `11:49`, and the baselined finding failed CI again.
#[test]
fn a_baseline_holds_when_lines_are_inserted_above_the_locks() {
    let dir_tmp = scratch("baseline_lines_inserted");
    let dir = dir_tmp.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let source = bank_source(0, 100);
    write(dir, "src/lib.rs", &source);
    write(dir, "before.jsonl", &bank_trace(&source));
    let run = lockscan_in(
        dir,
        &[
            "analyze",
            "--write-baseline",
            "baseline.json",
            "before.jsonl",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("src/lib.rs:7:43 #1"), "{}", run.stdout);

    // Three comment lines above: every line number of the finding moved.
    let source = bank_source(3, 100);
    write(dir, "src/lib.rs", &source);
    write(dir, "after.jsonl", &bank_trace(&source));
    let run = lockscan_in(dir, &["analyze", "after.jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("src/lib.rs:10:43 #1"), "{}", run.stdout);
    let run = lockscan_in(
        dir,
        &["analyze", "--baseline", "baseline.json", "after.jsonl"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "", "every entry matched");
    assert!(
        run.stdout
            .ends_with("; 1 finding in the baseline not shown\n"),
        "{}",
        run.stdout
    );

    // The line that makes the locks changed: a finding the baseline does not know, and its
    // entry matched nothing.
    let source = bank_source(3, 0);
    write(dir, "src/lib.rs", &source);
    let run = lockscan_in(
        dir,
        &["analyze", "--baseline", "baseline.json", "after.jsonl"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.starts_with("warning: baseline.json:")
            && run.stderr.contains(": baseline entry ")
            && run.stderr.contains("matched no finding"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unused_baseline_entry_is_a_warning_a_json_item_and_an_annotation() {
    let dir_tmp = scratch("baseline_unused_entry");
    let dir = dir_tmp.path();
    write(dir, "abba.jsonl", &ab_ba());
    write(dir, "wait.jsonl", &wait_holding());
    let run = lockscan_in(
        dir,
        &["analyze", "--write-baseline", "b.json", "abba.jsonl"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(dir.join("b.json")).unwrap();
    let entry_line = 1 + written
        .lines()
        .position(|l| l.contains("fingerprint"))
        .unwrap();

    // The cycle is fixed: its entry matches nothing.
    let run = lockscan_in(
        dir,
        &[
            "analyze",
            "--format",
            "json",
            "--baseline",
            "b.json",
            "wait.jsonl",
        ],
    );
    assert_eq!(run.code, 0, "a warning does not fail: {}", run.stderr);
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [format!(
            "warning: b.json:{entry_line}: baseline entry {} (potential-deadlock, locks `a`, \
             `b`) matched no finding; remove it if the bug is fixed (`--write-baseline` \
             rewrites the file)",
            serde_json::from_str::<serde_json::Value>(&written).unwrap()["findings"][0]
                ["fingerprint"]
                .as_str()
                .unwrap()
        )]
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let unused = &report["unused_baseline"][0];
    assert_eq!(unused["baseline"], "b.json");
    assert_eq!(unused["line"], entry_line);
    assert_eq!(unused["kind"], "potential-deadlock");
    assert_eq!(unused["locks"], serde_json::json!(["a", "b"]));

    let run = lockscan_in(
        dir,
        &[
            "analyze",
            "--format",
            "github",
            "--baseline",
            "b.json",
            "wait.jsonl",
        ],
    );
    assert!(
        run.stdout.contains(&format!(
            "::warning file=b.json,line={entry_line},title=lockscan unused baseline entry::"
        )),
        "{}",
        run.stdout
    );
    let run = lockscan_in(dir, &["analyze", "--baseline", "b.json", "wait.jsonl"]);
    assert!(
        run.stdout
            .ends_with("; 1 baseline entry that matched nothing\n"),
        "{}",
        run.stdout
    );
    // A stale entry is a warning like any other: `--fail-on warning` fails on it, even where
    // the trace itself has nothing to report.
    write(
        dir,
        "clean.jsonl",
        &jsonl(&[
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
        ]),
    );
    let strict = |fail_on: &str| {
        let args = [
            "analyze",
            "--baseline",
            "b.json",
            "--fail-on",
            fail_on,
            "clean.jsonl",
        ];
        lockscan_in(dir, &args)
    };
    assert_eq!(strict("error").code, 0);
    let run = strict("warning");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .ends_with("lockscan: failing on 1 warning (--fail-on warning)\n"),
        "{}",
        run.stderr
    );
}
