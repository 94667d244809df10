//! The JSON report: `{"version":1,"findings":[...],"summary":{...}}`.
//!
//! The wire types here are the contract consumers parse; they borrow from [`Finding`] but do
//! not mirror it, so either can change without the other.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::{Counts, Render, Summary};
use crate::finding::{Finding, FindingEdge, Occurrences, VarAccess};

/// The version of the JSON report's shape.
pub const JSON_VERSION: u32 = 1;

/// Renders the JSON report.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonRenderer;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// The findings.
    pub findings: Vec<JsonFinding<'a>>,
    /// The totals.
    pub summary: JsonSummary,
    /// Suppressions that matched no finding.
    pub unused_suppressions: Vec<JsonUnusedSuppression<'a>>,
    /// Baseline entries that matched no finding.
    pub unused_baseline: Vec<JsonUnusedBaselineEntry<'a>>,
}

/// A baseline entry that matched no finding.
#[derive(Debug, Serialize)]
pub struct JsonUnusedBaselineEntry<'a> {
    /// The baseline file.
    pub baseline: &'a str,
    /// The entry's line (0: not known).
    pub line: usize,
    /// Its fingerprint.
    pub fingerprint: &'a str,
    /// The kind it accepted, when the entry says.
    pub kind: Option<&'a str>,
    /// The locks it names.
    pub locks: &'a [String],
    /// The variables it names.
    pub vars: &'a [String],
    /// Whether the baseline was written with the first fingerprint scheme (line numbers).
    pub outdated: bool,
}

/// A suppression that matched no finding.
#[derive(Debug, Serialize)]
pub struct JsonUnusedSuppression<'a> {
    /// The configuration file.
    pub config: &'a str,
    /// The entry's number among the `[[allow]]` entries, from 1.
    pub entry: usize,
    /// The entry's line.
    pub line: usize,
    /// The kind it allows.
    pub kind: &'static str,
    /// The lock set it allows.
    pub locks: &'a [String],
    /// The variable set it allows.
    pub vars: &'a [String],
}

/// One finding.
#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    /// `deadlock`, `potential-deadlock`, ...
    pub kind: &'static str,
    /// `error`, `warning` or `note`.
    pub severity: &'static str,
    /// One line.
    pub message: &'a str,
    /// Why it was classified this way.
    pub reason: &'a str,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
    /// Where it was detected, when it is one place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The trace it was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<&'a str>,
    /// The locks, in cycle order.
    pub locks: &'a [String],
    /// The threads.
    pub threads: &'a [String],
    /// The edges.
    pub edges: Vec<JsonEdge<'a>>,
    /// The accesses of a data race.
    pub vars: Vec<JsonVar<'a>>,
    /// [`Finding::fingerprint`].
    pub fingerprint: String,
    /// How many traces and processes showed it (the analysis reports it once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<JsonOccurrences>,
}

/// [`Occurrences`]: `{"traces": 2, "processes": 1}`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct JsonOccurrences {
    /// Traces that showed the finding.
    pub traces: usize,
    /// Distinct processes among them.
    pub processes: usize,
}

impl From<Occurrences> for JsonOccurrences {
    fn from(occurrences: Occurrences) -> Self {
        JsonOccurrences {
            traces: occurrences.traces,
            processes: occurrences.processes,
        }
    }
}

/// One edge of a finding.
#[derive(Debug, Serialize)]
pub struct JsonEdge<'a> {
    /// The held lock.
    pub from: &'a str,
    /// The acquired or requested lock.
    pub to: &'a str,
    /// The thread.
    pub thread: &'a str,
    /// Where `from` was acquired.
    pub from_site: Option<String>,
    /// Where `to` was acquired or requested.
    pub to_site: Option<String>,
    /// The mode `from` was held in.
    pub from_mode: &'static str,
    /// The mode `to` was requested in.
    pub to_mode: &'static str,
    /// Other locks held.
    pub held: &'a [String],
    /// Whether the thread was blocked on `to`.
    pub blocked: bool,
}

/// One access of a data race.
#[derive(Debug, Serialize)]
pub struct JsonVar<'a> {
    /// The variable.
    pub var: &'a str,
    /// The thread.
    pub thread: &'a str,
    /// Whether it wrote.
    pub write: bool,
    /// Where.
    pub site: Option<String>,
}

/// The totals.
#[derive(Debug, Serialize)]
pub struct JsonSummary {
    /// Findings.
    pub findings: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Note findings.
    pub notes: usize,
    /// Findings per kind.
    pub by_kind: BTreeMap<&'static str, usize>,
    /// Traces read.
    pub traces: usize,
    /// Events replayed.
    pub events: u64,
    /// Unreadable lines, an input that could not be read at all counting as one.
    pub trace_errors: usize,
    /// Inputs that could not be read at all (missing, not a trace).
    pub unreadable_traces: usize,
    /// Reader and replay warnings.
    pub trace_warnings: usize,
    /// Whether the cycle search ran to the end.
    pub complete: bool,
    /// Findings left out because the baseline knew them.
    pub baselined: usize,
    /// Findings left out because a suppression allows them.
    pub suppressed: usize,
}

impl<'a> JsonFinding<'a> {
    /// The wire form of `finding`.
    pub fn new(finding: &'a Finding) -> Self {
        JsonFinding {
            kind: finding.kind.as_str(),
            severity: finding.severity.as_str(),
            message: &finding.message,
            reason: &finding.reason,
            help: finding.help.as_deref(),
            site: finding.site.as_ref().map(ToString::to_string),
            trace: finding.trace.as_deref(),
            locks: &finding.locks,
            threads: &finding.threads,
            edges: finding.edges.iter().map(JsonEdge::new).collect(),
            vars: finding.vars.iter().map(JsonVar::new).collect(),
            fingerprint: finding.fingerprint(),
            occurrences: finding.occurrences.map(JsonOccurrences::from),
        }
    }
}

impl<'a> JsonEdge<'a> {
    fn new(edge: &'a FindingEdge) -> Self {
        JsonEdge {
            from: &edge.from,
            to: &edge.to,
            thread: &edge.thread,
            from_site: edge.from_site.as_ref().map(ToString::to_string),
            to_site: edge.to_site.as_ref().map(ToString::to_string),
            from_mode: edge.from_mode.as_str(),
            to_mode: edge.to_mode.as_str(),
            held: &edge.held,
            blocked: edge.blocked,
        }
    }
}

impl<'a> JsonVar<'a> {
    fn new(access: &'a VarAccess) -> Self {
        JsonVar {
            var: &access.var,
            thread: &access.thread,
            write: access.write,
            site: access.site.as_ref().map(ToString::to_string),
        }
    }
}

impl<'a> JsonReport<'a> {
    /// The wire form of a report.
    pub fn new(findings: &'a [Finding], summary: &'a Summary) -> Self {
        let counts = Counts::of(findings);
        JsonReport {
            version: JSON_VERSION,
            findings: findings.iter().map(JsonFinding::new).collect(),
            summary: JsonSummary {
                findings: findings.len(),
                errors: counts.errors,
                warnings: counts.warnings,
                notes: counts.notes,
                by_kind: counts.by_kind,
                traces: summary.traces,
                events: summary.events,
                trace_errors: summary.trace_errors,
                unreadable_traces: summary.unreadable_traces,
                trace_warnings: summary.trace_warnings,
                complete: summary.complete,
                baselined: summary.baselined,
                suppressed: summary.suppressed,
            },
            unused_suppressions: summary
                .unused_suppressions
                .iter()
                .map(|unused| JsonUnusedSuppression {
                    config: &unused.config,
                    entry: unused.entry,
                    line: unused.line,
                    kind: unused.kind.as_str(),
                    locks: &unused.locks,
                    vars: &unused.vars,
                })
                .collect(),
            unused_baseline: summary
                .unused_baseline
                .iter()
                .map(|unused| JsonUnusedBaselineEntry {
                    baseline: &unused.baseline,
                    line: unused.line,
                    fingerprint: &unused.fingerprint,
                    kind: unused.kind.as_deref(),
                    locks: &unused.locks,
                    vars: &unused.vars,
                    outdated: unused.outdated,
                })
                .collect(),
        }
    }
}

impl Render for JsonRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &JsonReport::new(findings, summary))?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn the_report_has_the_contract_fields() {
        let findings = [testing::cycle(), testing::misuse()];
        let mut out = Vec::new();
        JsonRenderer
            .render(&findings, &Summary::default(), &mut out)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["version"], 1);
        let first = &value["findings"][0];
        assert_eq!(first["kind"], "potential-deadlock");
        assert_eq!(first["severity"], "error");
        assert_eq!(first["locks"], serde_json::json!(["a", "b"]));
        assert_eq!(first["threads"], serde_json::json!(["t1", "t2"]));
        assert_eq!(first["edges"][0]["from"], "a");
        assert_eq!(first["edges"][0]["to"], "b");
        assert_eq!(first["edges"][0]["thread"], "t1");
        assert_eq!(first["edges"][0]["from_site"], "src/bank.rs:10:9");
        assert_eq!(first["edges"][0]["to_site"], "src/bank.rs:11:9");
        assert_eq!(first["vars"], serde_json::json!([]));
        assert_eq!(first["fingerprint"], findings[0].fingerprint().as_str());
        assert_eq!(value["findings"][1]["site"], "17");
        assert_eq!(value["summary"]["findings"], 2);
        assert_eq!(value["summary"]["errors"], 2);
        assert_eq!(value["summary"]["by_kind"]["api-misuse"], 1);
    }

    #[test]
    fn suppressions_are_counted_and_unused_ones_listed() {
        let summary = Summary {
            suppressed: 2,
            unused_suppressions: vec![crate::report::UnusedSuppression {
                config: "lockscan.toml".into(),
                entry: 3,
                line: 11,
                kind: crate::FindingKind::Deadlock,
                locks: vec!["a".into(), "b".into()],
                vars: Vec::new(),
            }],
            ..Summary::default()
        };
        let mut out = Vec::new();
        JsonRenderer.render(&[], &summary, &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["summary"]["suppressed"], 2);
        assert_eq!(
            value["unused_suppressions"],
            serde_json::json!([{
                "config": "lockscan.toml", "entry": 3, "line": 11, "kind": "deadlock",
                "locks": ["a", "b"], "vars": []
            }])
        );
        let mut out = Vec::new();
        JsonRenderer
            .render(&[], &Summary::default(), &mut out)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["unused_suppressions"], serde_json::json!([]));
        assert_eq!(value["unused_baseline"], serde_json::json!([]));
    }

    #[test]
    fn unused_baseline_entries_are_listed() {
        let summary = Summary {
            unused_baseline: vec![crate::report::UnusedBaselineEntry {
                baseline: "baseline.json".into(),
                line: 5,
                fingerprint: "0123456789abcdef".into(),
                kind: Some("data-race".into()),
                locks: Vec::new(),
                vars: vec!["src/lib.rs:3:15".into()],
                outdated: true,
            }],
            ..Summary::default()
        };
        let mut out = Vec::new();
        JsonRenderer.render(&[], &summary, &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value["unused_baseline"],
            serde_json::json!([{
                "baseline": "baseline.json", "line": 5, "fingerprint": "0123456789abcdef",
                "kind": "data-race", "locks": [], "vars": ["src/lib.rs:3:15"], "outdated": true
            }])
        );
    }

    #[test]
    fn a_data_race_lists_both_accesses() {
        let mut race = Finding::new(crate::FindingKind::DataRace, "data race on `balance`");
        race.vars = ["t1", "t2"]
            .iter()
            .enumerate()
            .map(|(i, thread)| VarAccess {
                var: "balance".into(),
                thread: (*thread).into(),
                write: i == 0,
                site: Some(crate::Site::from(
                    format!("src/bank.rs:{}:5", 40 + i).as_str(),
                )),
            })
            .collect();
        race.trace = Some("bank.json".into());
        let mut out = Vec::new();
        JsonRenderer
            .render(std::slice::from_ref(&race), &Summary::default(), &mut out)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let finding = &value["findings"][0];
        assert_eq!(
            finding["vars"],
            serde_json::json!([
                {"var": "balance", "thread": "t1", "write": true, "site": "src/bank.rs:40:5"},
                {"var": "balance", "thread": "t2", "write": false, "site": "src/bank.rs:41:5"},
            ])
        );
        assert_eq!(finding["trace"], "bank.json");
        assert_eq!(finding["fingerprint"], race.fingerprint().as_str());
    }
}
