//! `lockscan graph` and `lockscan export`: the pictures of a trace.

use crate::util::*;

/// Five locks in a cycle across four threads (`compactor` also takes `index` -> `wal`
/// directly, which closes a shorter cycle).
fn ring() -> String {
    let mut lines = vec![
        r#"{"type":"lock","lock":1,"kind":"rwlock","name":"config"}"#.to_owned(),
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"cache"}"#.to_owned(),
        r#"{"type":"lock","lock":3,"kind":"mutex","name":"index"}"#.to_owned(),
        r#"{"type":"lock","lock":4,"kind":"mutex","name":"journal"}"#.to_owned(),
        r#"{"type":"lock","lock":5,"kind":"mutex","name":"wal"}"#.to_owned(),
    ];
    let threads = ["loader", "writer", "compactor", "flusher"];
    for (tid, name) in threads.iter().enumerate() {
        lines.push(format!(
            r#"{{"type":"thread","tid":{},"name":"{name}"}}"#,
            tid + 1
        ));
    }
    let paths: [&[u32]; 4] = [&[1, 2], &[2, 3], &[3, 4, 5], &[5, 1]];
    let mut line = 10;
    for (tid, locks) in paths.iter().enumerate() {
        for lock in *locks {
            lines.push(format!(
                r#"{{"type":"acquire","tid":{},"lock":{lock},"site":"src/store.rs:{line}:9"}}"#,
                tid + 1
            ));
            line += 3;
        }
        for lock in locks.iter().rev() {
            lines.push(format!(
                r#"{{"type":"release","tid":{},"lock":{lock}}}"#,
                tid + 1
            ));
        }
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    jsonl(&lines)
}

/// Two threads each holding one lock and blocked requesting the other: a deadlock.
fn blocked() -> String {
    jsonl(&[
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"b"}"#,
        r#"{"type":"thread","tid":1,"name":"left"}"#,
        r#"{"type":"thread","tid":2,"name":"right"}"#,
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"site":"src/x.rs:5:1"}"#,
        r#"{"type":"request","tid":1,"lock":2,"site":"src/x.rs:2:1"}"#,
        r#"{"type":"request","tid":2,"lock":1,"site":"src/x.rs:6:1"}"#,
    ])
}

#[test]
fn dot_of_the_ring_matches_its_snapshot() {
    let dir_tmp = scratch("graph_dot_ring");
    let dir = dir_tmp.path();
    let trace = write(dir, "ring.jsonl", &ring());
    let run = lockscan(&["graph", "--format", "dot", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("ring.dot", exact_for_snapshot("ring.dot", &run.stdout));
    // Stable: the same trace gives the same bytes.
    assert_eq!(lockscan(&["graph", &trace]).stdout, run.stdout);
}

#[test]
fn dot_of_a_deadlock_matches_its_snapshot() {
    let dir_tmp = scratch("graph_dot_blocked");
    let dir = dir_tmp.path();
    let trace = write(dir, "blocked.jsonl", &blocked());
    let run = lockscan(&["graph", "--format", "dot", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(
        "deadlock.dot",
        exact_for_snapshot("deadlock.dot", &run.stdout)
    );
}

#[test]
fn html_goes_to_the_output_file_and_shows_the_cycle() {
    let dir_tmp = scratch("graph_html");
    let dir = dir_tmp.path();
    let trace = write(dir, "ring.jsonl", &ring());
    let report = dir.join("report.html");
    let run = lockscan(&[
        "graph",
        "--format",
        "html",
        "--output",
        report.to_str().unwrap(),
        &trace,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "the page went to the file");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for lock in ["config", "cache", "index", "journal", "wal"] {
        assert!(
            html.contains(&format!("<g class=\"node cycle\" data-lock=\"{lock}\"")),
            "{lock} is not drawn in a cycle"
        );
    }
    assert!(html.contains("data-from=\"wal\" data-to=\"config\""));
    for thread in ["loader", "writer", "compactor", "flusher"] {
        assert!(
            html.contains(&format!("data-thread=\"{thread}\"")),
            "{thread}"
        );
    }
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "nothing fetched"
    );
}

#[test]
fn svg_is_drawn_by_graphviz_when_it_is_installed() {
    let has_dot = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_dot {
        assert!(
            std::env::var_os("LOCKSCAN_REQUIRE_GRAPHVIZ").is_none(),
            "LOCKSCAN_REQUIRE_GRAPHVIZ is set but Graphviz's `dot` is not on PATH"
        );
        crate::util::skipped(format_args!(
            "Graphviz's `dot` is not installed (apt-get install graphviz)"
        ));
        return;
    }
    let dir_tmp = scratch("graph_svg");
    let dir = dir_tmp.path();
    let trace = write(dir, "ring.jsonl", &ring());
    let run = lockscan(&["graph", "--format", "svg", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("<svg"), "{}", run.stdout);
    // Graphviz writes the node names as the nodes' titles.
    assert!(
        run.stdout.contains("<title>config</title>"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("#c62828"), "the cycle is red");
}

#[test]
fn svg_without_graphviz_says_how_to_install_it() {
    let dir_tmp = scratch("graph_svg_no_dot");
    let dir = dir_tmp.path();
    let trace = write(dir, "ring.jsonl", &ring());
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let output = assert_cmd::cargo::cargo_bin_cmd!("lockscan")
        .env("PATH", &empty)
        .args(["graph", "--format", "svg", &trace])
        .output()
        .unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("needs Graphviz's `dot`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("apt-get install graphviz"),
        "{}",
        run.stderr
    );
}

#[test]
fn graph_usage_and_read_errors_exit_2() {
    let dir_tmp = scratch("graph_errors");
    let dir = dir_tmp.path();
    let trace = write(dir, "ring.jsonl", &ring());
    assert_eq!(lockscan(&["graph", "--format", "png", &trace]).code, 2);
    assert_eq!(lockscan(&["graph"]).code, 2);
    let missing = dir.join("missing.json");
    let run = lockscan(&["graph", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot open"), "{}", run.stderr);
    let bad = write(dir, "bad.jsonl", &jsonl(&["{not json"]));
    let run = lockscan(&["graph", &bad]);
    assert_eq!(run.code, 2, "an unreadable line is an error");
    assert!(run.stdout.contains("digraph"), "the picture is still drawn");
}

#[test]
fn graph_merges_several_traces_by_lock_name() {
    let dir_tmp = scratch("graph_two_traces");
    let dir = dir_tmp.path();
    let first = write(
        dir,
        "one.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
            r#"{"type":"lock","lock":2,"kind":"mutex","name":"b"}"#,
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"acquire","tid":1,"lock":2}"#,
        ]),
    );
    let second = write(
        dir,
        "two.jsonl",
        &jsonl(&[
            r#"{"type":"lock","lock":7,"kind":"mutex","name":"b"}"#,
            r#"{"type":"lock","lock":8,"kind":"mutex","name":"a"}"#,
            r#"{"type":"acquire","tid":1,"lock":7}"#,
            r#"{"type":"acquire","tid":1,"lock":8}"#,
        ]),
    );
    let run = lockscan(&["graph", &first, &second]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("[label=\"a\\nmutex\"").count(), 1);
    assert!(run.stdout.contains("\"a\" -> \"b\""), "{}", run.stdout);
    assert!(run.stdout.contains("\"b\" -> \"a\""), "{}", run.stdout);
    assert!(
        run.stdout.contains("// cycle 1: lock-order-inversion"),
        "{}",
        run.stdout
    );
}

fn chrome_export(text: &str, test: &str) -> serde_json::Value {
    let dir_tmp = scratch(test);
    let dir = dir_tmp.path();
    let trace = write(dir, "t.jsonl", text);
    let run = lockscan(&["export", "--format", "chrome", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn events<'v>(export: &'v serde_json::Value, phase: &str) -> Vec<&'v serde_json::Value> {
    let all = export["traceEvents"].as_array().unwrap();
    all.iter().filter(|e| e["ph"] == phase).collect()
}

#[test]
fn chrome_export_has_holds_waits_findings_and_thread_names() {
    let export = chrome_export(&blocked(), "export_blocked");
    let holds = events(&export, "b");
    assert_eq!(holds.len(), 2);
    assert_eq!(events(&export, "e").len(), 2, "every hold is closed");
    assert!(
        holds
            .iter()
            .all(|h| h["args"]["note"] == "still held when the trace ended")
    );
    let waits = events(&export, "X");
    let names: Vec<&str> = waits.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["blocked on b", "blocked on a"]);
    let findings = events(&export, "i");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["name"], "error: deadlock");
    let thread_names: Vec<&str> = events(&export, "M")
        .iter()
        .filter(|m| m["name"] == "thread_name")
        .map(|m| m["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(thread_names, ["left", "right"]);
}

#[test]
fn chrome_export_uses_timestamps_when_the_trace_has_them() {
    let export = chrome_export(
        &jsonl(&[
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
            r#"{"type":"acquire","tid":1,"lock":1,"ts_ns":1000000}"#,
            r#"{"type":"release","tid":1,"lock":1,"ts_ns":1250000}"#,
        ]),
        "export_timestamps",
    );
    let begin = events(&export, "b")[0];
    let end = events(&export, "e")[0];
    assert_eq!(begin["ts"], 0.0);
    assert_eq!(end["ts"], 250.0, "microseconds since the first lock event");
}

#[test]
fn export_errors_exit_2() {
    let dir_tmp = scratch("export_errors");
    let dir = dir_tmp.path();
    let missing = dir.join("missing.json");
    assert_eq!(
        lockscan(&["export", "--format", "chrome", missing.to_str().unwrap()]).code,
        2
    );
    let bad = write(dir, "bad.json", "[1,2,3]\n");
    let run = lockscan(&["export", &bad]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a lockscan trace"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing to export"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// `export` refused a directory though the README says it reads inputs like `analyze`, and
/// required `--format` though `chrome` is its only value.
#[test]
fn export_reads_what_analyze_reads_and_defaults_to_chrome() {
    let dir_tmp = scratch("export_like_analyze");
    let dir = dir_tmp.path();
    let one = write(dir, "t.jsonl", &blocked());
    let run = lockscan(&["export", &one]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alone: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(alone["otherData"]["trace"], one.as_str());
    // A folder of two traces: each a process of its own.
    let nested = dir.join("more");
    std::fs::create_dir_all(&nested).unwrap();
    write(&nested, "u.jsonl", &ring());
    let folder = dir.display().to_string();
    for args in [
        vec!["export", &folder],
        vec!["export", &one, nested.to_str().unwrap()],
    ] {
        let run = lockscan(&args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let export: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let processes: Vec<(u64, String)> = events(&export, "M")
            .into_iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| {
                (
                    e["pid"].as_u64().unwrap(),
                    e["args"]["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(processes.len(), 2, "{processes:?}");
        assert_eq!(processes[0].0, 1);
        assert_eq!(processes[1].0, 2);
        assert!(
            processes.iter().any(|(_, name)| name.ends_with("t.jsonl")),
            "{processes:?}"
        );
        assert!(
            processes.iter().any(|(_, name)| name.ends_with("u.jsonl")),
            "{processes:?}"
        );
        for pid in [1, 2] {
            assert!(
                events(&export, "b").iter().any(|e| e["pid"] == pid),
                "process {pid} has holds"
            );
        }
    }
}

#[test]
fn help_shows_examples() {
    for command in ["graph", "export"] {
        let run = lockscan(&[command, "--help"]);
        assert_eq!(run.code, 0);
        assert!(
            run.stdout.contains("Examples:"),
            "{command}: {}",
            run.stdout
        );
        assert!(run.stdout.contains(&format!("lockscan {command} ")));
    }
}

/// An STD trace: an AB-BA inversion by two threads, then `holds` more holds of `L3` by a
/// third (with a request first, every tenth blocked by a moment).
fn long_trace(holds: usize) -> String {
    let mut text = String::from("T1|acq(LA)|1\nT1|acq(LB)|2\nT1|rel(LB)|3\nT1|rel(LA)|4\n");
    text.push_str("T2|acq(LB)|5\nT2|acq(LA)|6\nT2|rel(LA)|7\nT2|rel(LB)|8\n");
    for i in 0..holds {
        if i % 10 == 0 {
            text.push_str("T3|req(L3)|9\nT4|acq(L4)|10\nT4|rel(L4)|11\n");
        }
        text.push_str("T3|acq(L3)|12\nT3|rel(L3)|13\n");
    }
    text
}

/// Regression: `export --format chrome` built every event of the trace in memory before it
/// wrote one (10M holds aborted on allocation); it now writes each hold as it ends. The
/// largest trace that fits the suite's time, read from a file (streamed) and from standard
/// input (kept whole): both valid JSON with every hold, wait and the finding.
#[test]
fn chrome_export_of_a_long_trace_streams_every_hold() {
    const HOLDS: usize = 50_000;
    let dir_tmp = scratch("export_long");
    let dir = dir_tmp.path();
    let text = long_trace(HOLDS);
    let trace = write(dir, "long.std", &text);
    let from_file = lockscan(&["export", &trace]);
    let from_stdin = lockscan_with_stdin(&["export", "-"], &text);
    for run in [from_file, from_stdin] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let export: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        // The inversion's four holds, the long run's, and T4's.
        let all_holds = 4 + HOLDS + HOLDS / 10;
        assert_eq!(events(&export, "b").len(), all_holds);
        assert_eq!(events(&export, "e").len(), all_holds);
        let waits = events(&export, "X");
        assert_eq!(waits.len(), HOLDS / 10, "every tenth request waited");
        let findings = events(&export, "i");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0]["s"], "t", "placed on its thread");
        // Holds of one lock one after the other share one track.
        let l3: std::collections::BTreeSet<u64> = events(&export, "b")
            .iter()
            .filter(|b| b["name"] == "L3")
            .map(|b| b["id"].as_u64().unwrap())
            .collect();
        assert_eq!(l3.len(), 1);
    }
}

/// Regression: `graph --format html` kept every hold of the trace in memory to draw the first
/// 20,000 (4 GB for 10M events): it keeps only what it draws (`--max-drawn`) and says how many
/// it left out.
#[test]
fn graph_html_of_a_long_trace_draws_the_bound_and_says_what_it_left_out() {
    let dir_tmp = scratch("graph_long");
    let dir = dir_tmp.path();
    let trace = write(dir, "long.std", &long_trace(1_000));
    let run = lockscan(&["graph", "--format", "html", "--max-drawn", "100", &trace]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let holds = 4 + 1_000 + 100;
    assert!(
        run.stdout.contains(&format!(
            "This trace has {holds} holds and 100 waits; the timeline draws the first 100 of \
             each and leaves out {}",
            holds - 100
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--max-drawn N"));
    assert_eq!(run.stdout.matches("<g class=\"hold\"").count(), 100);
    assert_eq!(run.stdout.matches("<g class=\"wait\"").count(), 100);
    // Under the bound: everything drawn, nothing said.
    let run = lockscan(&["graph", "--format", "html", "--max-drawn", "2000", &trace]);
    assert_eq!(run.stdout.matches("<g class=\"hold\"").count(), holds);
    assert!(!run.stdout.contains("leaves out"), "{}", run.stdout);
}
