//! Fingerprints that survive edits: an unnamed lock or variable is identified by the text of
//! the line that made (or first took) it, not by its line number; and the offline merge, which
//! matches locks across traces by name, keeps apart the distinct locks one site names.

use std::path::Path;

use lockscan::FindingKind;
use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::trace::{InputFormat, TraceReader};

use super::util::*;

const HEADER: &str = r#"{"type":"header","format":"lockscan-trace","version":1}"#;

fn jsonl(lines: &[String]) -> String {
    let mut text = format!("{HEADER}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("{\"type\":\"end\"}\n");
    text
}

/// The bank of the issue: two accounts made on one line, a transfer that takes the source,
/// then the target.
const BANK: &str = "\
pub struct Bank {
    accounts: Vec<Mutex<u64>>,
}

impl Bank {
    pub fn new() -> Bank {
        Bank { accounts: (0..2).map(|_| Mutex::new(100)).collect() }
    }

    pub fn transfer(&self, from: usize, to: usize) {
        let source = self.accounts[from].lock();
        let target = self.accounts[to].lock();
    }
}
";

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    1 + text.lines().position(|l| l.contains(needle)).unwrap()
}

/// The site (`file:line:col`) of the first `needle` in `source`, at `path`.
fn site(path: &Path, source: &str, needle: &str) -> String {
    let line = line_of(source, needle);
    let column = 1 + source.lines().nth(line - 1).unwrap().find(needle).unwrap();
    format!("{}:{line}:{column}", path.display())
}

/// A trace of two transfers in opposite directions over the bank as `source` has it (at
/// `path`): its locks unnamed, of the class of the line that made them.
fn transfers(path: &Path, source: &str) -> String {
    let class = site(path, source, "Mutex::new");
    let from = site(path, source, "self.accounts[from]");
    let to = site(path, source, "self.accounts[to]");
    let mut lines = Vec::new();
    for lock in 1..=2 {
        lines.push(format!(
            r#"{{"type":"lock","lock":{lock},"kind":"mutex","class":"{class}","site":"{class}"}}"#
        ));
    }
    for (tid, first, second) in [(2, 1, 2), (3, 2, 1)] {
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{first},"site":"{from}"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{second},"site":"{to}"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{second}}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{first}}}"#
        ));
    }
    jsonl(&lines)
}

/// The same transfers with locks made from a `const`, as the parking_lot stand-in records
/// them: each named after the line that first took it.
fn first_taken_transfers(path: &Path, source: &str) -> String {
    let from = site(path, source, "self.accounts[from]");
    let to = site(path, source, "self.accounts[to]");
    let mut lines = Vec::new();
    for (lock, at) in [(1, &from), (2, &to)] {
        lines.push(format!(
            r#"{{"type":"lock","lock":{lock},"kind":"mutex","name":"lock first taken at {at}","site":"{at}"}}"#
        ));
    }
    for (tid, first, second) in [(2, 1, 2), (3, 2, 1)] {
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{first},"site":"{from}"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"acquire","tid":{tid},"lock":{second},"site":"{to}"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{second}}}"#
        ));
        lines.push(format!(
            r#"{{"type":"release","tid":{tid},"lock":{first}}}"#
        ));
    }
    jsonl(&lines)
}

/// The fingerprint of the one potential deadlock of `trace`, with the source written as
/// `source` at `path` first.
fn fingerprint(path: &Path, source: &str, trace: impl Fn(&Path, &str) -> String) -> String {
    std::fs::write(path, source).unwrap();
    let outcome = analyze_text(&trace(path, source));
    assert_eq!(outcome.verdict(), "potential-deadlock:1");
    outcome.result.findings[0].fingerprint()
}

/// The bank with comment lines inserted above the struct, between the methods and at the end,
/// and a line of `transfer` re-indented: nothing that made or took a lock changed.
fn edited(source: &str) -> String {
    let mut text = String::from("// A bank.\n// Accounts and transfers.\n\n");
    for line in source.lines() {
        if line.contains("pub fn transfer") {
            text.push_str("    /// Moves money.\n    /// Takes the source first.\n");
        }
        if line.contains("let source") {
            text.push_str("\n        // source, then target\n");
        }
        if line.contains("let target") {
            text.push_str("    "); // re-indented
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("\n// The end.\n");
    text
}

/// Regression (issue 19, item 3): one comment line added above `transfer` turned
/// `src/lib.rs:10:49 #1` into `11:49`, and the baselined finding failed CI again.
#[test]
fn a_fingerprint_survives_lines_inserted_above_and_below_its_locks() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let path = dir_tmp.path().join("bank.rs");
    let before = fingerprint(&path, BANK, transfers);
    let moved = edited(BANK);
    assert_ne!(
        line_of(BANK, "Mutex::new"),
        line_of(&moved, "Mutex::new"),
        "the lines moved"
    );
    assert_eq!(fingerprint(&path, &moved, transfers), before);
    // The line that made the locks changed: another finding.
    let changed = moved.replace("Mutex::new(100)", "Mutex::new(0)");
    assert_ne!(fingerprint(&path, &changed, transfers), before);
}

#[test]
fn a_first_taken_locks_fingerprint_follows_its_acquiring_line() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let path = dir_tmp.path().join("bank.rs");
    let before = fingerprint(&path, BANK, first_taken_transfers);
    let moved = edited(BANK);
    assert_eq!(fingerprint(&path, &moved, first_taken_transfers), before);
    let changed = moved.replace("let source = ", "let mut source = ");
    assert_ne!(fingerprint(&path, &changed, first_taken_transfers), before);
}

/// Without the source, a site's line number stands in for its text, as before.
#[test]
fn without_the_source_a_moved_line_is_another_fingerprint() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let path = dir_tmp.path().join("bank.rs");
    let trace = |source: &str| transfers(&path, source);
    let (before, after) = (trace(BANK), trace(&edited(BANK)));
    let print = |text: &str| analyze_text(text).result.findings[0].fingerprint();
    assert_ne!(print(&before), print(&after));
    assert_eq!(print(&before), print(&trace(BANK)));
}

/// A race on an unnamed variable made at `line` of `path`, in a trace of its own (the
/// variable's id is 1 in every trace).
fn race_on_var_made_at(path: &Path, line: usize) -> lockscan::Finding {
    let made = format!("{}:{line}:20", path.display());
    let text = jsonl(&[
        format!(r#"{{"type":"var","var":1,"site":"{made}"}}"#),
        r#"{"type":"write","tid":1,"var":1,"site":"src/x.rs:20:9"}"#.to_owned(),
        r#"{"type":"write","tid":2,"var":1,"site":"src/x.rs:30:9"}"#.to_owned(),
    ]);
    let outcome = analyze_text(&text);
    assert_eq!(outcome.verdict(), "data-race:1");
    let race = outcome.result.findings.into_iter().next().unwrap();
    // Named after where it was made, as the live report names it, not `var#1`.
    assert_eq!(race.vars[0].var, made);
    race
}

/// Regression: variables were `var#1`, `var#2` by order of creation, so the races of two
/// different variables, each the first of its trace, had one fingerprint.
#[test]
fn races_on_unnamed_variables_made_on_different_lines_differ() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let path = dir_tmp.path().join("stats.rs");
    std::fs::write(
        &path,
        "let hits = Tracked::new(0);\nlet misses = Tracked::new(0);\n",
    )
    .unwrap();
    // Taken now: a fingerprint is computed from the file as it is when it is taken.
    let hits = race_on_var_made_at(&path, 1).fingerprint();
    let misses = race_on_var_made_at(&path, 2).fingerprint();
    assert_ne!(hits, misses);
    // And a line inserted above keeps each its own.
    std::fs::write(
        &path,
        "// stats\nlet hits = Tracked::new(0);\nlet misses = Tracked::new(0);\n",
    )
    .unwrap();
    assert_eq!(race_on_var_made_at(&path, 2).fingerprint(), hits);
    assert_eq!(race_on_var_made_at(&path, 3).fingerprint(), misses);
}

/// Two traces of one program whose locks are all first taken inside a wrapper of its own (no
/// `#[track_caller]`), so all named after the wrapper's line; each trace takes `x` and one of
/// them in one order, with another of them held or not.
fn wrapper_trace(x_first: bool) -> String {
    let wrapper = "lock first taken at src/sync.rs:20:9";
    let mut lines = vec![
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"x"}"#.to_owned(),
        format!(
            r#"{{"type":"lock","lock":2,"kind":"mutex","name":"{wrapper}","site":"src/sync.rs:20:9"}}"#
        ),
        format!(
            r#"{{"type":"lock","lock":3,"kind":"mutex","name":"{wrapper}","site":"src/sync.rs:20:9"}}"#
        ),
    ];
    let order = if x_first { [1, 2] } else { [3, 1] };
    for lock in order {
        lines.push(format!(r#"{{"type":"acquire","tid":1,"lock":{lock}}}"#));
    }
    lines.push(format!(
        r#"{{"type":"release","tid":1,"lock":{}}}"#,
        order[1]
    ));
    lines.push(format!(
        r#"{{"type":"release","tid":1,"lock":{}}}"#,
        order[0]
    ));
    jsonl(&lines)
}

/// Regression (issue 19, "distinct locks stay distinct"): `analyze` matched the locks a
/// wrapper's line names by that name, merged them into one node, and invented the cycle
/// `x -> wrapper -> x` out of two different locks.
#[test]
fn locks_named_after_a_shared_first_acquisition_site_are_not_merged_across_traces() {
    let mut analysis = Analysis::default();
    for (name, x_first) in [("one.jsonl", true), ("two.jsonl", false)] {
        let text = wrapper_trace(x_first);
        let mut reader = TraceReader::new(text.as_bytes(), name, InputFormat::Auto).unwrap();
        let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| panic!("{e}"));
        assert!(result.findings.is_empty());
        analysis.add(name, result);
    }
    let findings = analysis.finish();
    assert!(findings.is_empty(), "{findings:#?}");
}

/// A lock that its first-acquisition site named alone is still matched by that name: the same
/// code in two runs.
#[test]
fn a_lock_alone_at_its_first_acquisition_site_is_matched_across_traces() {
    let mut analysis = Analysis::default();
    for (name, x_first) in [("one.jsonl", true), ("two.jsonl", false)] {
        let taken = "lock first taken at src/cache.rs:40:17";
        let lines = [
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"x"}"#.to_owned(),
            format!(
                r#"{{"type":"lock","lock":2,"kind":"mutex","name":"{taken}","site":"src/cache.rs:40:17"}}"#
            ),
            format!(
                r#"{{"type":"acquire","tid":1,"lock":{}}}"#,
                if x_first { 1 } else { 2 }
            ),
            format!(
                r#"{{"type":"acquire","tid":1,"lock":{}}}"#,
                if x_first { 2 } else { 1 }
            ),
        ];
        let text = jsonl(&lines);
        let mut reader = TraceReader::new(text.as_bytes(), name, InputFormat::Auto).unwrap();
        let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| panic!("{e}"));
        analysis.add(name, result);
    }
    let findings = analysis.finish();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].kind, FindingKind::LockOrderInversion);
}
