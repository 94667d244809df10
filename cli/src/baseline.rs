//! Baselines: the fingerprints of accepted findings. `--write-baseline` writes a small file of
//! them; `--baseline` reads it, or a whole `--format json` report, whose findings carry the same
//! `fingerprint` field. An entry that matches no finding is reported, as an unused suppression
//! is.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use lockscan::Finding;
use lockscan::report::UnusedBaselineEntry;

/// The version of the baseline file: 2 since fingerprints identify unnamed locks and variables
/// by their lines' text (version 1 files, whose fingerprints used line numbers, still load).
const BASELINE_VERSION: u32 = 2;

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

/// A baseline that was read: its entries, in the order of the file, one per fingerprint.
#[derive(Debug)]
pub(crate) struct Baseline {
    /// The file, as it was named.
    file: String,
    entries: Vec<UnusedBaselineEntry>,
    fingerprints: HashSet<String>,
}

impl Baseline {
    /// Whether the baseline accepts findings with `fingerprint`.
    pub(crate) fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    /// The entries whose fingerprint is not among `found`.
    pub(crate) fn unused(&self, found: &HashSet<String>) -> Vec<UnusedBaselineEntry> {
        self.entries
            .iter()
            .filter(|entry| !found.contains(&entry.fingerprint))
            .cloned()
            .collect()
    }
}

/// The warning for an entry that matched nothing.
pub(crate) fn unused_warning(unused: &UnusedBaselineEntry) -> String {
    if unused.line > 0 {
        format!("{}:{}: {unused}", unused.baseline, unused.line)
    } else {
        format!("{}: {unused}", unused.baseline)
    }
}

/// Reads a baseline written by `--write-baseline`, or a `--format json` report.
pub(crate) fn read(path: &Path) -> anyhow::Result<Baseline> {
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
    // A baseline file says its version; a JSON report's fingerprints are this lockscan's.
    let outdated = report
        .get("lockscan_baseline")
        .and_then(serde_json::Value::as_u64)
        .is_some_and(|version| version < 2);
    let file = path.display().to_string();
    let strings = |value: Option<&serde_json::Value>, field: &str| -> Vec<String> {
        let mut names: Vec<String> = value
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| {
                // A baseline lists names; a report lists accesses, `{"var": ...}`.
                item.as_str()
                    .or_else(|| item.get(field).and_then(|v| v.as_str()))
                    .map(str::to_owned)
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    let mut baseline = Baseline {
        file,
        entries: Vec::new(),
        fingerprints: HashSet::new(),
    };
    for finding in findings {
        let fingerprint = finding
            .get("fingerprint")
            .and_then(|f| f.as_str())
            .with_context(|| format!("{}: a finding without a fingerprint", path.display()))?;
        if !baseline.fingerprints.insert(fingerprint.to_owned()) {
            continue;
        }
        baseline.entries.push(UnusedBaselineEntry {
            baseline: baseline.file.clone(),
            line: line_of(&text, fingerprint),
            fingerprint: fingerprint.to_owned(),
            kind: finding
                .get("kind")
                .and_then(|k| k.as_str())
                .map(str::to_owned),
            locks: strings(finding.get("locks"), "lock"),
            vars: strings(finding.get("vars"), "var"),
            outdated,
        });
    }
    Ok(baseline)
}

/// The line (from 1) where `fingerprint` first appears in `text` as a JSON string; 0 if not.
fn line_of(text: &str, fingerprint: &str) -> usize {
    text.find(&format!("\"{fingerprint}\""))
        .map_or(0, |at| 1 + text[..at].matches('\n').count())
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
        assert_eq!(read_back.fingerprints, expected);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"locks\": [\n        \"a\",\n        \"b\"\n      ]"),
            "{text}"
        );
        // Every entry matched: nothing unused. Without `other`, its entry is, on its line.
        assert!(read_back.unused(&expected).is_empty());
        let unused = read_back.unused(&[ab.fingerprint()].into());
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].fingerprint, other.fingerprint());
        assert_eq!(unused[0].kind.as_deref(), Some("deadlock"));
        assert_eq!(unused[0].locks, ["x"]);
        assert!(!unused[0].outdated);
        let line = text
            .lines()
            .position(|l| l.contains(&other.fingerprint()))
            .unwrap();
        assert_eq!(unused[0].line, line + 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_version_1_baseline_loads_and_its_unused_entries_say_so() {
        let dir = std::env::temp_dir().join(format!("lockscan-baseline-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("baseline.json");
        std::fs::write(
            &path,
            r#"{"lockscan_baseline": 1, "findings": [{"fingerprint": "0011223344556677",
               "kind": "potential-deadlock", "locks": ["src/lib.rs:10:49 #1", "src/lib.rs:10:49 #2"]}]}"#,
        )
        .unwrap();
        let baseline = read(&path).unwrap();
        assert!(baseline.contains("0011223344556677"));
        let unused = baseline.unused(&HashSet::new());
        assert!(unused[0].outdated);
        assert!(
            unused_warning(&unused[0]).contains("rewrite it with `--write-baseline`"),
            "{}",
            unused_warning(&unused[0])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
