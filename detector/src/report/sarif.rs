//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, IDEs) import.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{Render, Summary, first_site};
use crate::finding::{Finding, FindingEdge, FindingKind, Severity};
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

/// One step of a thread flow: a lock acquisition or a variable access, at a site with a file.
fn flow_step(site: Option<&Site>, text: String, kinds: &[&str]) -> Option<Value> {
    Some(json!({
        "location": location(site?, Some(text))?,
        "kinds": kinds,
    }))
}

/// The finding's threads, in the order they first appear (its `threads`, then its edges' and
/// accesses' threads).
fn flow_threads(finding: &Finding) -> Vec<&str> {
    let mut threads: Vec<&str> = Vec::new();
    let named = finding.threads.iter().map(String::as_str);
    let of_edges = finding.edges.iter().map(|e| e.thread.as_str());
    let of_vars = finding.vars.iter().map(|v| v.thread.as_str());
    for thread in named.chain(of_edges).chain(of_vars) {
        if !threads.contains(&thread) {
            threads.push(thread);
        }
    }
    threads
}

/// `codeFlows`: one thread flow per thread of the finding, its steps the sites of that
/// thread's edges in order (where the held lock was taken, then where the next one was), or of
/// its accesses. Steps without a file (an STD trace's bare numbers) are left out, and so is a
/// thread with none.
fn code_flows(finding: &Finding) -> Vec<Value> {
    let thread_flows: Vec<Value> = flow_threads(finding)
        .into_iter()
        .filter_map(|thread| {
            let mut steps = Vec::new();
            let mut previous: Option<&FindingEdge> = None;
            for edge in finding.edges.iter().filter(|e| e.thread == thread) {
                // A chain a -> b -> c holds `b` from the acquisition the last step showed.
                let shown =
                    previous.is_some_and(|p| p.to == edge.from && p.to_site == edge.from_site);
                if !shown {
                    let text = format!("thread `{thread}` acquired `{}`", edge.from);
                    steps.extend(flow_step(
                        edge.from_site.as_ref(),
                        text,
                        &["acquire", "lock"],
                    ));
                }
                let verb = if edge.blocked {
                    "is blocked acquiring"
                } else {
                    "acquired"
                };
                let text = format!(
                    "thread `{thread}` {verb} `{}` while holding `{}`",
                    edge.to, edge.from
                );
                steps.extend(flow_step(edge.to_site.as_ref(), text, &["acquire", "lock"]));
                previous = Some(edge);
            }
            for access in finding.vars.iter().filter(|v| v.thread == thread) {
                let verb = if access.write { "wrote" } else { "read" };
                let text = format!("thread `{thread}` {verb} `{}`", access.var);
                steps.extend(flow_step(access.site.as_ref(), text, &["memory"]));
            }
            (!steps.is_empty()).then(|| {
                json!({
                    "id": thread,
                    "message": { "text": format!("thread `{thread}`") },
                    "locations": steps,
                })
            })
        })
        .collect();
    if thread_flows.is_empty() {
        return Vec::new();
    }
    vec![json!({ "threadFlows": thread_flows })]
}

fn result(finding: &Finding, rule_index: usize) -> Value {
    let locations: Vec<Value> = first_site(finding)
        .and_then(|s| location(s, None))
        .into_iter()
        .collect();
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
    let mut result = json!({
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
    });
    let flows = code_flows(finding);
    if !flows.is_empty() {
        result["codeFlows"] = json!(flows);
    }
    result
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
        assert!(run["results"][1].get("codeFlows").is_none());
    }

    fn flow_sites(thread_flow: &Value) -> Vec<String> {
        thread_flow["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| {
                let physical = &step["location"]["physicalLocation"];
                format!(
                    "{}:{}",
                    physical["artifactLocation"]["uri"].as_str().unwrap(),
                    physical["region"]["startLine"]
                )
            })
            .collect()
    }

    #[test]
    fn each_thread_gets_a_thread_flow_of_its_edge_sites() {
        let mut cycle = testing::cycle();
        // A third lock on t1: a -> b -> c; `b` was taken where the first edge says.
        let mut chained = cycle.edges[0].clone();
        chained.from = "b".into();
        chained.to = "c".into();
        chained.from_site = cycle.edges[0].to_site.clone();
        chained.to_site = Some(Site::from("src/bank.rs:30:9"));
        cycle.edges.insert(1, chained);
        let mut out = Vec::new();
        SarifRenderer
            .render(&[cycle], &Summary::default(), &mut out)
            .unwrap();
        let log: Value = serde_json::from_slice(&out).unwrap();
        let flows = &log["runs"][0]["results"][0]["codeFlows"];
        assert_eq!(flows.as_array().unwrap().len(), 1);
        let threads = flows[0]["threadFlows"].as_array().unwrap();
        assert_eq!(threads.len(), 2);
        assert_eq!(threads[0]["id"], "t1");
        assert_eq!(
            flow_sites(&threads[0]),
            ["src/bank.rs:10", "src/bank.rs:11", "src/bank.rs:30"]
        );
        assert_eq!(
            threads[0]["locations"][1]["location"]["message"]["text"],
            "thread `t1` acquired `b` while holding `a`"
        );
        assert_eq!(threads[1]["id"], "t2");
        assert_eq!(
            flow_sites(&threads[1]),
            ["src/bank.rs:20", "src/bank.rs:21"]
        );
        assert_eq!(
            threads[1]["locations"][0]["kinds"],
            json!(["acquire", "lock"])
        );
    }

    #[test]
    fn a_data_race_flows_through_its_accesses() {
        let mut race = Finding::new(FindingKind::DataRace, "data race on `balance`");
        race.vars = ["t1", "t2"]
            .iter()
            .enumerate()
            .map(|(i, thread)| crate::VarAccess {
                var: "balance".into(),
                thread: (*thread).into(),
                write: i == 0,
                site: Some(Site::from(format!("src/bank.rs:{}:5", 40 + i).as_str())),
            })
            .collect();
        let mut out = Vec::new();
        SarifRenderer
            .render(&[race], &Summary::default(), &mut out)
            .unwrap();
        let log: Value = serde_json::from_slice(&out).unwrap();
        let result = &log["runs"][0]["results"][0];
        let main = &result["locations"][0]["physicalLocation"]["region"]["startLine"];
        assert_eq!(*main, 40, "the first access is the result's location");
        let threads = &result["codeFlows"][0]["threadFlows"];
        assert_eq!(flow_sites(&threads[0]), ["src/bank.rs:40"]);
        assert_eq!(
            threads[1]["locations"][0]["location"]["message"]["text"],
            "thread `t2` read `balance`"
        );
    }
}
