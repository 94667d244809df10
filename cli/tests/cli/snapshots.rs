//! Snapshots: the whole `text`, `json` and `sarif` reports of fixed traces, compared exactly
//! with the files in `cli/tests/snapshots/`. `UPDATE_SNAPSHOTS=1` rewrites those files;
//! review the diff before committing it.

use std::path::{Path, PathBuf};

use crate::util::*;

/// The fixtures: a name and a trace.
fn fixtures() -> [(&'static str, String); 3] {
    [
        ("abba", ab_ba()),
        ("deadlock", deadlock()),
        ("race", race()),
    ]
}

/// The reports and the extension their snapshot files have.
const FORMATS: [(&str, &str); 3] = [("text", "txt"), ("json", "json"), ("sarif", "sarif")];

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compares `actual` with the snapshot `name`, or rewrites it when asked to. Returns a
/// description of the difference, if any.
fn check(name: &str, actual: &str) -> Option<String> {
    let path = snapshot_dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(snapshot_dir()).expect("the snapshot directory");
        std::fs::write(&path, actual).expect("the snapshot is written");
        return None;
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        return Some(format!(
            "{name}: no snapshot at {}; run with UPDATE_SNAPSHOTS=1 to write it",
            path.display()
        ));
    };
    if expected == actual {
        return None;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{name}: differs from line {} on\n  expected: {:?}\n  actual:   {:?}\n\
         (UPDATE_SNAPSHOTS=1 rewrites the snapshot)",
        line + 1,
        expected.lines().nth(line),
        actual.lines().nth(line),
    ))
}

#[test]
fn reports_match_their_snapshots() {
    // Relative trace names from a directory with no sources: no absolute path, and no source
    // snippet, in the reports.
    let dir_tmp = scratch("snapshots");
    let dir = dir_tmp.path();
    let mut differences = Vec::new();
    for (fixture, trace) in fixtures() {
        let file = format!("{fixture}.jsonl");
        write(dir, &file, &trace);
        for (format, extension) in FORMATS {
            let run = lockscan_in(dir, &["analyze", "--format", format, &file]);
            assert_eq!(run.code, 1, "{fixture} {format}: {}", run.stderr);
            assert_eq!(run.stderr, "", "{fixture} {format}");
            // The tool's version is not pinned: a release would otherwise rewrite every file.
            let report = run.stdout.replace(
                &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
                "\"version\": \"[lockscan version]\"",
            );
            differences.extend(check(&format!("{fixture}.{extension}"), &report));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn reports_are_the_same_run_after_run() {
    let dir_tmp = scratch("snapshots_repeat");
    let dir = dir_tmp.path();
    let traces: Vec<String> = fixtures()
        .iter()
        .map(|(fixture, trace)| write(dir, &format!("{fixture}.jsonl"), trace))
        .collect();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(traces.iter().map(String::as_str));
    let first = lockscan(&args);
    for _ in 0..3 {
        assert_eq!(lockscan(&args).stdout, first.stdout);
    }
}
