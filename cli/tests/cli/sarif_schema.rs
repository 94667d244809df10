//! SARIF output validated against the SARIF 2.1.0 JSON schema (the OASIS schema as Microsoft
//! publishes it in the npm package `@microsoft/jest-sarif`). `.ci/run` fetches the schema from
//! the npm registry and points `LOCKSCAN_SARIF_SCHEMA` at it; elsewhere the test says it is
//! skipped, unless `LOCKSCAN_REQUIRE_SARIF_SCHEMA` is set, which makes a missing schema fail.

use crate::util::*;

/// The schema, or `None` (with a message) when it is not available here.
fn schema() -> Option<jsonschema::Validator> {
    let Some(path) = std::env::var_os("LOCKSCAN_SARIF_SCHEMA") else {
        assert!(
            std::env::var_os("LOCKSCAN_REQUIRE_SARIF_SCHEMA").is_none(),
            "LOCKSCAN_SARIF_SCHEMA is not set, and the schema is required"
        );
        crate::util::skipped(format_args!(
            "set LOCKSCAN_SARIF_SCHEMA to the SARIF 2.1.0 schema (see .ci/run)"
        ));
        return None;
    };
    let text = std::fs::read_to_string(&path).expect("the schema file");
    let mut schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    // The published schema's pattern for the `language` properties has a stray `]`, which the
    // crate's check of the schema itself rejects: put the intended pattern (`xx` or `xx-XX`)
    // there. lockscan writes no `language`; every other keyword stays as published.
    let repaired = replace_strings(
        &mut schema,
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    assert!(repaired > 0, "the schema changed: nothing to repair");
    Some(jsonschema::draft4::new(&schema).expect("a valid draft-04 schema"))
}

/// Replaces every string `from` in `value` by `to`; returns how many it replaced.
fn replace_strings(value: &mut serde_json::Value, from: &str, to: &str) -> usize {
    match value {
        serde_json::Value::String(text) if text == from => {
            *text = to.to_owned();
            1
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().map(|v| replace_strings(v, from, to)).sum()
        }
        serde_json::Value::Object(fields) => fields
            .values_mut()
            .map(|v| replace_strings(v, from, to))
            .sum(),
        _ => 0,
    }
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, sarif: &str) {
    let log: serde_json::Value = serde_json::from_str(sarif).expect("SARIF is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
    assert!(
        !log["runs"][0]["results"].as_array().unwrap().is_empty(),
        "{what}: the run has results to validate"
    );
}

#[test]
fn sarif_output_is_valid_against_the_2_1_0_schema() {
    let Some(validator) = schema() else {
        return;
    };
    // The validator rejects what is not SARIF 2.1.0.
    let wrong = serde_json::json!({"version": "2.0.0", "runs": [{"tool": {}}]});
    assert!(!validator.is_valid(&wrong));
    let dir_tmp = scratch("sarif_schema");
    let dir = dir_tmp.path();
    let mut inputs = vec![
        ("ab/ba", write(dir, "abba.jsonl", &ab_ba())),
        (
            "wait while holding",
            write(dir, "wait.jsonl", &wait_holding()),
        ),
        ("gated cycle", write(dir, "gated.jsonl", &gated())),
        ("data race", write(dir, "race.jsonl", &race())),
    ];
    // Corpus traces give every other kind: a deadlock, races, inversions, misuse.
    for trace in [
        "std/StringBuffer.std",
        "std/jigsaw.std",
        "std/Account.std",
        "malformed/release_non_owning_lock.std",
    ] {
        if let Some(path) = corpus(trace) {
            inputs.push((trace, path));
        }
    }
    for (what, path) in &inputs {
        let run = lockscan(&["analyze", "--format", "sarif", "--fail-on", "never", path]);
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
        assert_valid(&validator, what, &run.stdout);
    }
    // The validation covered thread flows: the fixtures' sites have files.
    let run = lockscan(&["analyze", "--format", "sarif", &inputs[0].1]);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let flows = &log["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"];
    assert_eq!(flows.as_array().map(Vec::len), Some(2), "{}", run.stdout);
}
