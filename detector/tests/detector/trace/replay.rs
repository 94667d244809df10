//! End to end: trace text in, findings out, through the public API only.

use lockscan::FindingKind;
use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::trace::{InputFormat, TraceReader};

use super::util::*;

const HEADER: &str = r#"{"type":"header","format":"lockscan-trace","version":1,"program":"bank"}"#;

/// A JSONL trace from lines without the header and `end` record.
fn jsonl(lines: &[&str]) -> String {
    let mut text = format!("{HEADER}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("{\"type\":\"end\"}\n");
    text
}

const TRANSFER_LOCKS: [&str; 4] = [
    r#"{"type":"lock","lock":1,"kind":"mutex","name":"account:ACC001","site":"demos/src/bank.rs:31:19"}"#,
    r#"{"type":"lock","lock":2,"kind":"mutex","name":"account:ACC002","site":"demos/src/bank.rs:31:19"}"#,
    r#"{"type":"spawn","tid":1,"child":2}"#,
    r#"{"type":"spawn","tid":1,"child":3}"#,
];

#[test]
fn jsonl_transfer_deadlock_pattern_is_a_potential_deadlock_with_names_and_sites() {
    let mut lines = TRANSFER_LOCKS.to_vec();
    lines.extend([
        r#"{"type":"thread","tid":2,"name":"transfer-1","parent":1}"#,
        r#"{"type":"thread","tid":3,"name":"transfer-2","parent":1}"#,
        r#"{"type":"acquire","tid":2,"lock":1,"site":"demos/src/bank.rs:58:21"}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"site":"demos/src/bank.rs:59:21"}"#,
        r#"{"type":"release","tid":2,"lock":2}"#,
        r#"{"type":"release","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":3,"lock":2,"site":"demos/src/bank.rs:58:21"}"#,
        r#"{"type":"acquire","tid":3,"lock":1,"site":"demos/src/bank.rs:59:21"}"#,
    ]);
    let outcome = analyze_text(&jsonl(&lines));
    assert!(outcome.errors.is_empty() && outcome.warnings.is_empty());
    assert_eq!(outcome.verdict(), "potential-deadlock:1");
    let finding = &outcome.result.findings[0];
    assert_eq!(finding.locks, ["account:ACC001", "account:ACC002"]);
    assert_eq!(finding.threads, ["transfer-1", "transfer-2"]);
    let edge = &finding.edges[0];
    assert_eq!(
        edge.from_site.as_ref().unwrap().to_string(),
        "demos/src/bank.rs:58:21"
    );
    assert_eq!(
        edge.to_site.as_ref().unwrap().to_string(),
        "demos/src/bank.rs:59:21"
    );
}

#[test]
fn jsonl_trace_ending_in_blocked_requests_is_a_deadlock() {
    let mut lines = TRANSFER_LOCKS.to_vec();
    lines.extend([
        r#"{"type":"acquire","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":3,"lock":2}"#,
        r#"{"type":"request","tid":2,"lock":2,"site":"demos/src/bank.rs:59:21"}"#,
        r#"{"type":"request","tid":3,"lock":1,"site":"demos/src/bank.rs:59:21"}"#,
    ]);
    let outcome = analyze_text(&jsonl(&lines));
    assert_eq!(outcome.verdict(), "deadlock:1");
    let finding = &outcome.result.findings[0];
    assert!(finding.edges.iter().all(|e| e.blocked));
    assert_eq!(
        finding.edges[0].to_site.as_ref().unwrap().to_string(),
        "demos/src/bank.rs:59:21"
    );
}

#[test]
fn jsonl_try_lock_in_the_other_order_is_not_a_deadlock() {
    let mut lines = TRANSFER_LOCKS.to_vec();
    lines.extend([
        r#"{"type":"acquire","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":2,"lock":2}"#,
        r#"{"type":"release","tid":2,"lock":2}"#,
        r#"{"type":"release","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":3,"lock":2}"#,
        r#"{"type":"acquire","tid":3,"lock":1,"try":true}"#,
    ]);
    assert_eq!(analyze_text(&jsonl(&lines)).verdict(), "");
}

#[test]
fn jsonl_read_locks_do_not_block_each_other() {
    let lines = [
        r#"{"type":"lock","lock":1,"kind":"rwlock"}"#,
        r#"{"type":"lock","lock":2,"kind":"rwlock"}"#,
        r#"{"type":"acquire","tid":2,"lock":1,"mode":"shared"}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"mode":"shared"}"#,
        r#"{"type":"release","tid":2,"lock":2,"mode":"shared"}"#,
        r#"{"type":"release","tid":2,"lock":1,"mode":"shared"}"#,
        r#"{"type":"acquire","tid":3,"lock":2,"mode":"shared"}"#,
        r#"{"type":"acquire","tid":3,"lock":1,"mode":"shared"}"#,
    ];
    assert_eq!(analyze_text(&jsonl(&lines)).verdict(), "");
}

#[test]
fn jsonl_condvar_wait_holding_another_lock_is_a_warning() {
    let lines = [
        r#"{"type":"condvar","condvar":4,"name":"queue-not-empty"}"#,
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"registry"}"#,
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"queue"}"#,
        r#"{"type":"acquire","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":2,"lock":2}"#,
        r#"{"type":"wait","tid":2,"condvar":4,"lock":2,"site":"src/q.rs:9:5"}"#,
    ];
    let outcome = analyze_text(&jsonl(&lines));
    assert_eq!(outcome.verdict(), "wait-while-holding:1");
    let finding = &outcome.result.findings[0];
    assert!(
        finding.message.contains("`queue-not-empty`"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("`registry`"),
        "{}",
        finding.message
    );
}

#[test]
fn bad_lines_are_errors_and_the_rest_is_analyzed() {
    let mut lines = TRANSFER_LOCKS.to_vec();
    lines.extend([
        r#"{"type":"acquire","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":2}"#,
        r#"{"type":"acquire","tid":2,"lock":2}"#,
        "garbage",
        r#"{"type":"release","tid":2,"lock":2}"#,
        r#"{"type":"release","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":3,"lock":2}"#,
        r#"{"type":"acquire","tid":3,"lock":1}"#,
    ]);
    let outcome = analyze_text(&jsonl(&lines));
    assert_eq!(outcome.errors.len(), 2);
    assert_eq!(outcome.errors[0].line(), Some(7));
    assert_eq!(outcome.errors[1].line(), Some(9));
    assert_eq!(outcome.verdict(), "potential-deadlock:1");
}

#[test]
fn traces_of_one_program_merge_into_a_cross_trace_inversion() {
    let first = jsonl(&[
        TRANSFER_LOCKS[0],
        TRANSFER_LOCKS[1],
        r#"{"type":"acquire","tid":2,"lock":1}"#,
        r#"{"type":"acquire","tid":2,"lock":2}"#,
    ]);
    // Another run: other ids, the same names, the other order.
    let second = jsonl(&[
        r#"{"type":"lock","lock":7,"kind":"mutex","name":"account:ACC002"}"#,
        r#"{"type":"lock","lock":8,"kind":"mutex","name":"account:ACC001"}"#,
        r#"{"type":"acquire","tid":5,"lock":7}"#,
        r#"{"type":"acquire","tid":5,"lock":8}"#,
    ]);
    let mut analysis = Analysis::default();
    for (name, text) in [("one.jsonl", &first), ("two.jsonl", &second)] {
        let mut reader = TraceReader::new(text.as_bytes(), name, InputFormat::Auto).unwrap();
        let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| panic!("{e}"));
        assert!(result.findings.is_empty());
        analysis.add(name, result);
    }
    let findings = analysis.finish();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, FindingKind::LockOrderInversion);
    assert_eq!(
        findings[0].threads,
        ["thread#2 (one.jsonl)", "thread#5 (two.jsonl)"]
    );
}

#[test]
fn std_traces_never_merge_by_token() {
    // `L1` of one STD trace and `L1` of another are unrelated locks of unrelated programs.
    let mut analysis = Analysis::default();
    for (name, text) in [
        ("a.std", "T1|acq(L1)|1\nT1|acq(L2)|2\n"),
        ("b.std", "T1|acq(L2)|1\nT1|acq(L1)|2\n"),
    ] {
        let mut reader = TraceReader::new(text.as_bytes(), name, InputFormat::Auto).unwrap();
        let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| panic!("{e}"));
        analysis.add(name, result);
    }
    assert!(analysis.finish().is_empty());
}

// Regression tests, named after what they reproduce.

#[test]
fn fork_argument_names_a_thread_not_the_lock_with_the_same_number() {
    // jigsaw_dlf: `T168|fork(314)`, and Java code locks the Thread object's monitor, so
    // `acq(314)` is common too. T0 takes lock 12 then L5 and only then forks thread 12, which
    // takes L5 then lock `L12`. Lock `12` is lock `L12`; thread `12` is `T12`, so the fork
    // orders T0's edge before T12's: an inversion. Were `fork(12)` read as another thread
    // than `T12`, the two edges would be concurrent: a potential deadlock.
    let outcome = analyze_text(
        "T0|acq(12)|1\nT0|acq(L5)|2\nT0|rel(L5)|3\nT0|rel(12)|4\nT0|fork(12)|5\n\
         T12|acq(L5)|6\nT12|acq(L12)|7\n",
    );
    assert!(outcome.errors.is_empty());
    assert_eq!(outcome.verdict(), "lock-order-inversion:1");
    let finding = &outcome.result.findings[0];
    assert!(
        finding.reason.contains("spawn or join"),
        "{}",
        finding.reason
    );
    assert_eq!(finding.threads, ["T0", "T12"]);
}

#[test]
fn java_monitor_reentry_adds_no_self_edge_and_no_misuse() {
    let outcome = analyze_text(
        "T1|acq(L1)|1\nT1|req(L1)|2\nT1|acq(L1)|2\nT1|acq(L2)|3\nT1|rel(L2)|4\nT1|rel(L1)|5\n\
         T1|rel(L1)|6\nT2|acq(L1)|7\nT2|rel(L1)|8\n",
    );
    assert_eq!(outcome.verdict(), "");
    assert_eq!(outcome.result.edges, 1);
}

#[test]
fn request_for_a_reentered_monitor_is_not_a_wait() {
    // StringBuffer-like: T1 holds L1 and requests it again, T2 holds L2 and requests L1.
    // T1 is not blocked, so there is no wait cycle.
    let outcome =
        analyze_text("T1|acq(L1)|1\nT2|acq(L2)|2\nT1|req(L1)|3\nT2|req(L1)|4\nT1|req(L1)|5\n");
    assert!(outcome.of(FindingKind::Deadlock).is_empty());
}

#[test]
fn truncated_last_line_of_a_killed_recorder_is_a_warning_not_an_error() {
    let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":2,\"lock\":1}}\n{{\"type\":\"acq");
    let outcome = analyze_text(&text);
    assert!(outcome.errors.is_empty());
    assert_eq!(outcome.warnings.len(), 2, "{:?}", outcome.warnings);
    assert!(outcome.warnings[0].to_string().contains("truncated"));
    assert!(outcome.warnings[1].to_string().contains("no `end` record"));
}

#[test]
fn binary_garbage_does_not_panic() {
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    bytes.extend_from_slice(b"\n\xff\xfe{\"type\":\n{\"type\":\"header\"}\n");
    // Detection finds no trace format in it.
    assert!(TraceReader::new(&bytes[..], "garbage", InputFormat::Auto).is_err());
    for format in [InputFormat::Jsonl, InputFormat::Std] {
        let mut reader = TraceReader::new(&bytes[..], "garbage", format).unwrap();
        let mut errors = 0;
        let result = Replay::default().run(&mut reader, |_| errors += 1);
        assert!(errors > 0, "{format}");
        assert!(result.findings.is_empty());
    }
}
