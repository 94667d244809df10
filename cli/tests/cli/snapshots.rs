//! Snapshots: the whole `text`, `json` and `sarif` reports of fixed traces, compared exactly
//! with insta's files in `cli/tests/cli/snapshots/`. After a deliberate change,
//! `INSTA_UPDATE=always cargo test -p lockscan-cli --test cli` rewrites them (or
//! `cargo insta review`, with cargo-insta installed); review the diff before committing it.

use crate::util::*;

/// The fixtures: a name and a trace.
fn fixtures() -> [(&'static str, String); 3] {
    [
        ("abba", ab_ba()),
        ("deadlock", deadlock()),
        ("race", race()),
    ]
}

/// The reports, and how their snapshots' names end.
const FORMATS: [(&str, &str); 3] = [("text", "txt"), ("json", "json"), ("sarif", "sarif")];

#[test]
fn reports_match_their_snapshots() {
    // Relative trace names from a directory with no sources: no absolute path, and no source
    // snippet, in the reports.
    let dir_tmp = scratch("snapshots");
    let dir = dir_tmp.path();
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
            let name = format!("{fixture}.{extension}");
            insta::assert_snapshot!(name.as_str(), exact_for_snapshot(&name, &report));
        }
    }
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
