//! `lockscan convert`: JSONL and the compact encoding turn into each other without changing
//! what the analysis finds.

use serde_json::Value;

use crate::util::{corpus, jsonl, lockscan, scratch, write};

/// The findings of `analyze --format json`, without the trace names (which differ by file).
fn findings(trace: &str) -> (i32, Vec<Value>) {
    let run = lockscan(&["analyze", "--format", "json", trace]);
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|err| panic!("{trace}: {err}: {}{}", run.stdout, run.stderr));
    let mut findings = report["findings"].as_array().unwrap().clone();
    for finding in &mut findings {
        let finding = finding.as_object_mut().unwrap();
        finding.remove("trace");
        // A finding about the trace itself names its line, which a conversion moves (JSONL has
        // declaration lines that STD has not; a compact trace counts records).
        if let Some(Value::String(message)) = finding.get_mut("message")
            && let Some(at) = message.find(" (line ")
        {
            message.truncate(at);
        }
    }
    (run.code, findings)
}

#[test]
fn every_corpus_trace_converts_both_ways_with_identical_findings() {
    let Some(dir) = corpus("std") else {
        return;
    };
    let out_tmp = scratch("every_corpus_trace_converts_both_ways_with_identical_findings");
    let out = out_tmp.path();
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    traces.sort();
    assert!(traces.len() >= 10, "{traces:?}");
    for trace in traces {
        let name = trace.file_stem().unwrap().to_string_lossy().into_owned();
        let original = trace.display().to_string();
        let jsonl = out.join(format!("{name}.json")).display().to_string();
        let compact = out.join(format!("{name}.lstrace")).display().to_string();
        let back = out.join(format!("{name}.back.json")).display().to_string();
        for (from, to) in [(&original, &jsonl), (&jsonl, &compact), (&compact, &back)] {
            let run = lockscan(&["convert", from, "-o", to]);
            assert_eq!(run.code, 0, "{from} -> {to}: {}", run.stderr);
        }
        let expected = findings(&original);
        for converted in [&jsonl, &compact, &back] {
            assert_eq!(findings(converted), expected, "{converted}");
        }
        // JSONL -> compact -> JSONL gives the same file back.
        assert_eq!(
            std::fs::read_to_string(&jsonl).unwrap(),
            std::fs::read_to_string(&back).unwrap(),
            "{name}"
        );
        let (json_size, compact_size) = (
            std::fs::metadata(&jsonl).unwrap().len(),
            std::fs::metadata(&compact).unwrap().len(),
        );
        assert!(
            compact_size * 4 < json_size,
            "{name}: compact {compact_size} bytes, JSONL {json_size}"
        );
    }
}

#[test]
fn to_overrides_the_extension_and_dash_is_stdout() {
    let dir_tmp = scratch("to_overrides_the_extension_and_dash_is_stdout");
    let dir = dir_tmp.path();
    let trace = write(
        dir,
        "t.jsonl",
        &jsonl(&[
            r#"{"type":"acquire","tid":1,"lock":1}"#,
            r#"{"type":"release","tid":1,"lock":1}"#,
        ]),
    );
    let run = lockscan(&["convert", &trace, "--to", "jsonl", "-o", "-"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(r#"{"type":"header""#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(r#""type":"acquire""#), "{}", run.stdout);
    let compact = dir.join("t.bin").display().to_string();
    let run = lockscan(&["convert", &trace, "--to", "compact", "-o", &compact]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bytes = std::fs::read(&compact).unwrap();
    assert_eq!(&bytes[..8], lockscan::trace::compact::MAGIC.as_slice());
    // Every command reads it, whatever its name.
    assert_eq!(lockscan(&["analyze", &compact]).code, 0);
}

#[test]
fn a_broken_input_is_an_error_with_its_line() {
    let dir_tmp = scratch("a_broken_input_is_an_error_with_its_line");
    let dir = dir_tmp.path();
    let trace = write(dir, "bad.jsonl", &jsonl(&[r#"{"type":"acquire","tid":1}"#]));
    let out = dir.join("out.lstrace").display().to_string();
    let run = lockscan(&["convert", &trace, "-o", &out]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("bad.jsonl:2"), "{}", run.stderr);
}
