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

/// A recorded compact trace counts in its `end` the records of its threads' blocks, among them
/// thread starts and exits, which JSONL has no records for: `convert` copied that count, and
/// lockscan then warned that the JSONL trace it had written itself had lost records.
#[test]
fn a_recorded_compact_trace_converted_to_jsonl_has_an_end_count_of_its_own() {
    use lockscan::trace::{CompactWriter, Event, Header};
    use lockscan::{LockId, LockKind, ThreadId};

    let dir_tmp = scratch("a_recorded_compact_trace_converted_to_jsonl");
    let dir = dir_tmp.path();
    let header = Header {
        version: 1,
        tool: Some("lockscan test".into()),
        pid: None,
        program: None,
    };
    let mut writer = CompactWriter::new(Vec::new(), &header).unwrap();
    writer
        .write(&Event::Thread {
            tid: ThreadId(1),
            name: Some("main".into()),
            parent: None,
        })
        .unwrap();
    writer
        .write(&Event::Lock {
            lock: LockId(1),
            kind: LockKind::Mutex,
            name: Some("m".into()),
            class: None,
            site: None,
            rank: None,
        })
        .unwrap();
    // A block of thread 1, as the recorder writes it (docs/trace-compact.md): an acquisition
    // (tag 9: lock 1, its operation 0, no site), the release (tag 10: lock 1, operation 1),
    // and the thread's exit (tag 19), which is no event.
    let records: &[u8] = &[9, 1, 0, 0, 10, 1, 1, 19];
    let mut bytes = std::mem::take(writer.get_mut());
    bytes.extend_from_slice(&[17, 1, 3, records.len() as u8]);
    bytes.extend_from_slice(records);
    writer
        .write(&Event::End {
            events: Some(writer.records() + 3),
            dropped: Some(0),
        })
        .unwrap();
    bytes.extend_from_slice(writer.get_mut());
    let compact = dir.join("recorded.lstrace");
    std::fs::write(&compact, bytes).unwrap();
    let compact = compact.display().to_string();
    let run = lockscan(&["analyze", &compact]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);

    let converted = dir.join("converted.json").display().to_string();
    let run = lockscan(&["convert", &compact, "-o", &converted]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&converted).unwrap();
    assert!(text.contains(r#""type":"acquire""#), "{text}");
    let run = lockscan(&["analyze", &converted]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(
        text.ends_with("{\"type\":\"end\",\"events\":5,\"dropped\":0}\n"),
        "{text}"
    );
}
