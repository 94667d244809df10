//! Baselines: the fingerprints of accepted findings. `--write-baseline` writes a small file of
//! them; `--baseline` reads it, or a whole `--format json` report, whose findings carry the same
//! `fingerprint` field.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use lockscan::Finding;

/// The version of the baseline file's shape.
const BASELINE_VERSION: u32 = 1;

/// The baseline file as serde writes it.
mod wire {
    use serde::Serialize;

    #[derive(Debug, Serialize)]
    pub(super) struct BaselineFile<'a> {
        pub(super) lockscan_baseline: u32,
        pub(super) findings: Vec<BaselineEntry<'a>>,
    }

    /// The fingerprint is what `--baseline` reads; kind and names are for the reviewer of a
    /// baseline change.
    #[derive(Debug, Serialize)]
    pub(super) struct BaselineEntry<'a> {
        pub(super) fingerprint: String,
        pub(super) kind: &'static str,
        pub(super) locks: Vec<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) vars: Vec<&'a str>,
    }
}

/// Writes the fingerprints of `findings` to `path`, one entry per fingerprint, sorted, so
/// the file changes only when the accepted findings do. Returns how many it wrote.
pub(crate) fn write(path: &Path, findings: &[Finding]) -> anyhow::Result<usize> {
    let mut entries = BTreeMap::new();
    for finding in findings {
        let fingerprint = finding.fingerprint();
        entries.entry(fingerprint.clone()).or_insert_with(|| {
            let mut locks: Vec<&str> = finding.locks.iter().map(String::as_str).collect();
            locks.sort_unstable();
            locks.dedup();
            let mut vars: Vec<&str> = finding.vars.iter().map(|v| v.var.as_str()).collect();
            vars.sort_unstable();
            vars.dedup();
            wire::BaselineEntry {
                fingerprint,
                kind: finding.kind.as_str(),
                locks,
                vars,
            }
        });
    }
    let file = wire::BaselineFile {
        lockscan_baseline: BASELINE_VERSION,
        findings: entries.into_values().collect(),
    };
    let count = file.findings.len();
    let mut text = serde_json::to_string_pretty(&file).context("cannot encode the baseline")?;
    text.push('\n');
    std::fs::File::create(path)
        .and_then(|mut out| out.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write the baseline {}", path.display()))?;
    Ok(count)
}

/// The fingerprints of a baseline written by `--write-baseline`, or of a `--format json`
/// report.
pub(crate) fn read(path: &Path) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the baseline {}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON report or baseline", path.display()))?;
    let Some(findings) = report.get("findings").and_then(|f| f.as_array()) else {
        bail!(
            "{}: not a lockscan JSON report or baseline (no `findings` array)",
            path.display()
        );
    };
    findings
        .iter()
        .map(|finding| {
            finding
                .get("fingerprint")
                .and_then(|f| f.as_str())
                .map(str::to_owned)
                .with_context(|| format!("{}: a finding without a fingerprint", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockscan::FindingKind;

    #[test]
    fn a_written_baseline_reads_back_sorted_and_deduplicated() {
        let dir = std::env::temp_dir().join(format!("lockscan-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("baseline.json");
        let mut ab = Finding::new(FindingKind::PotentialDeadlock, "m");
        ab.locks = vec!["b".into(), "a".into()];
        let mut ba = ab.clone();
        ba.locks.reverse();
        let mut other = Finding::new(FindingKind::Deadlock, "m");
        other.locks = vec!["x".into()];
        assert_eq!(write(&path, &[ab.clone(), ba, other.clone()]).unwrap(), 2);
        let read_back = read(&path).unwrap();
        let expected: HashSet<String> = [ab.fingerprint(), other.fingerprint()].into();
        assert_eq!(read_back, expected);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"locks\": [\n        \"a\",\n        \"b\"\n      ]"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
