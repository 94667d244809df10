//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, IDEs) import.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{Render, Summary};
use crate::finding::{Finding, FindingKind, Severity};
use crate::site::Site;

/// Renders a SARIF 2.1.0 log with one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct SarifRenderer;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn description(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Deadlock => "Threads were blocked in a wait cycle",
        FindingKind::PotentialDeadlock => {
            "Lock-order cycle between threads that could overlap: another schedule can deadlock"
        }
        FindingKind::LockOrderInversion => {
            "Lock-order cycle that could not deadlock in this run but breaks a consistent order"
        }
        FindingKind::GatedCycle => "Lock-order cycle serialized by a common gate lock",
        FindingKind::DataRace => "Conflicting accesses not ordered by happens-before",
        FindingKind::ApiMisuse => "Lock released without being held, or re-locked",
        FindingKind::OrderViolation => "Acquisition against a declared lock rank",
        FindingKind::WaitWhileHolding => "Condition-variable wait while holding other locks",
    }
}

/// A SARIF location for a site with a file and a line; `None` for bare STD locations.
fn location(site: &Site, message: Option<String>) -> Option<Value> {
    let file = site.file()?;
    // SARIF regions count from 1; a site with line 0 has no usable position.
    let mut region = json!({ "startLine": site.line().filter(|&l| l >= 1)? });
    if let Some(column) = site.column().filter(|&c| c >= 1) {
        region["startColumn"] = json!(column);
    }
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": file.replace('\\', "/") },
            "region": region,
        }
    });
    if let Some(text) = message {
        location["message"] = json!({ "text": text });
    }
    Some(location)
}

fn result(finding: &Finding, rule_index: usize) -> Value {
    let main = finding
        .site
        .as_ref()
        .or_else(|| finding.edges.first().and_then(|e| e.to_site.as_ref()));
    let locations: Vec<Value> = main.and_then(|s| location(s, None)).into_iter().collect();
    let related: Vec<Value> = finding
        .edges
        .iter()
        .filter_map(|edge| {
            let verb = if edge.blocked {
                "is blocked acquiring"
            } else {
                "acquired"
            };
            let text = format!(
                "thread `{}` {verb} `{}` while holding `{}`",
                edge.thread, edge.to, edge.from
            );
            location(edge.to_site.as_ref()?, Some(text))
        })
        .enumerate()
        .map(|(id, mut location)| {
            location["id"] = json!(id);
            location
        })
        .collect();
    let mut text = finding.message.clone();
    if !finding.reason.is_empty() {
        text.push_str(". ");
        text.push_str(&finding.reason);
    }
    if let Some(cycle) = finding.cycle_text() {
        text.push_str(&format!(". Cycle: {cycle}"));
    }
    json!({
        "ruleId": finding.kind.as_str(),
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": text },
        "locations": locations,
        "relatedLocations": related,
        "partialFingerprints": { "lockscan/v1": finding.fingerprint() },
        "properties": {
            "locks": finding.locks,
            "threads": finding.threads,
            "trace": finding.trace,
        },
    })
}

impl Render for SarifRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let rules: Vec<Value> = FindingKind::ALL
            .iter()
            .map(|&kind| {
                json!({
                    "id": kind.as_str(),
                    "shortDescription": { "text": description(kind) },
                    "defaultConfiguration": { "level": level(kind.default_severity()) },
                })
            })
            .collect();
        let results: Vec<Value> = findings
            .iter()
            .map(|f| {
                let index = FindingKind::ALL
                    .iter()
                    .position(|&k| k == f.kind)
                    .unwrap_or(0);
                result(f, index)
            })
            .collect();
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {
                    "driver": {
                        "name": "lockscan",
                        "version": env!("CARGO_PKG_VERSION"),
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {
                    "traces": summary.traces,
                    "events": summary.events,
                    "complete": summary.complete,
                },
            }],
        });
        serde_json::to_writer_pretty(&mut *out, &log)?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn results_point_at_rules_and_sites() {
        let findings = [testing::cycle(), testing::misuse()];
        let mut out = Vec::new();
        SarifRenderer
            .render(&findings, &Summary::default(), &mut out)
            .unwrap();
        let log: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        let first = &run["results"][0];
        assert_eq!(first["ruleId"], "potential-deadlock");
        let index = first["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            "potential-deadlock"
        );
        let region = &first["locations"][0]["physicalLocation"];
        assert_eq!(region["artifactLocation"]["uri"], "src/bank.rs");
        assert_eq!(region["region"]["startLine"], 11);
        assert_eq!(first["relatedLocations"].as_array().unwrap().len(), 2);
        assert_eq!(
            first["partialFingerprints"]["lockscan/v1"],
            findings[0].fingerprint().as_str()
        );
        // A bare STD location has no file: no location rather than a wrong one.
        assert_eq!(run["results"][1]["locations"], json!([]));
    }
}
