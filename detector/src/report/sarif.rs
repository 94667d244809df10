//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, IDEs) import.

use std::io::{self, Write};

use super::{Render, Summary};
use crate::finding::{Finding, FindingEdge, FindingKind, Severity};
use crate::site::Site;
use wire::{
    ArtifactLocation, CodeFlow, Driver, Fingerprints, Location, Log, Message, PhysicalLocation,
    Region, ResultProperties, Rule, RuleConfiguration, Run, RunProperties, SarifResult, ThreadFlow,
    ThreadFlowLocation, Tool,
};

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
        FindingKind::LockHeldAcrossAwait => "Blocking lock held across an await",
    }
}

/// A SARIF location for a site with a file and a line; `None` for bare STD locations.
fn location(site: &Site, message: Option<String>) -> Option<Location> {
    let file = site.file()?;
    // SARIF regions count from 1; a site with line 0 has no usable position.
    let region = Region {
        start_column: site.column().filter(|&c| c >= 1),
        start_line: site.line().filter(|&l| l >= 1)?,
    };
    Some(Location {
        id: None,
        message: message.map(Message::new),
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: file.replace('\\', "/"),
            },
            region,
        },
    })
}

/// One step of a thread flow: a lock acquisition or a variable access, at a site with a file.
fn flow_step(
    site: Option<&Site>,
    text: String,
    kinds: &'static [&'static str],
) -> Option<ThreadFlowLocation> {
    Some(ThreadFlowLocation {
        kinds,
        location: location(site?, Some(text))?,
    })
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
fn code_flows(finding: &Finding) -> Vec<CodeFlow<'_>> {
    const LOCK: &[&str] = &["acquire", "lock"];
    let thread_flows: Vec<ThreadFlow<'_>> = flow_threads(finding)
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
                    steps.extend(flow_step(edge.from_site.as_ref(), text, LOCK));
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
                steps.extend(flow_step(edge.to_site.as_ref(), text, LOCK));
                previous = Some(edge);
            }
            for access in finding.vars.iter().filter(|v| v.thread == thread) {
                let verb = if access.write { "wrote" } else { "read" };
                let text = format!("thread `{thread}` {verb} `{}`", access.var);
                steps.extend(flow_step(access.site.as_ref(), text, &["memory"]));
            }
            (!steps.is_empty()).then(|| ThreadFlow {
                id: thread,
                locations: steps,
                message: Message::new(format!("thread `{thread}`")),
            })
        })
        .collect();
    if thread_flows.is_empty() {
        return Vec::new();
    }
    vec![CodeFlow { thread_flows }]
}

fn result(finding: &Finding, rule_index: usize) -> SarifResult<'_> {
    let locations: Vec<Location> = finding
        .main_site()
        .and_then(|s| location(s, None))
        .into_iter()
        .collect();
    let related: Vec<Location> = finding
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
        .map(|(id, location)| Location {
            id: Some(id),
            ..location
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
    SarifResult {
        code_flows: code_flows(finding),
        level: level(finding.severity),
        locations,
        message: Message::new(text),
        partial_fingerprints: Fingerprints {
            lockscan_v2: finding.fingerprint(),
        },
        properties: ResultProperties {
            locks: &finding.locks,
            threads: &finding.threads,
            trace: finding.trace.as_deref(),
            occurrences: finding.occurrences.map(Into::into),
        },
        related_locations: related,
        rule_id: finding.kind.as_str(),
        rule_index,
    }
}

impl Render for SarifRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let rules: Vec<Rule> = FindingKind::ALL
            .iter()
            .map(|&kind| Rule {
                default_configuration: RuleConfiguration {
                    level: level(kind.default_severity()),
                },
                id: kind.as_str(),
                short_description: Message::new(description(kind)),
            })
            .collect();
        let results: Vec<SarifResult<'_>> = findings
            .iter()
            .map(|f| {
                let index = FindingKind::ALL
                    .iter()
                    .position(|&k| k == f.kind)
                    .unwrap_or(0);
                result(f, index)
            })
            .collect();
        let log = Log {
            schema: "https://json.schemastore.org/sarif-2.1.0.json",
            runs: vec![Run {
                properties: RunProperties {
                    complete: summary.complete,
                    events: summary.events,
                    traces: summary.traces,
                },
                results,
                tool: Tool {
                    driver: Driver {
                        name: "lockscan",
                        rules,
                        version: env!("CARGO_PKG_VERSION"),
                    },
                },
            }],
            version: "2.1.0",
        };
        serde_json::to_writer_pretty(&mut *out, &log)?;
        writeln!(out)
    }
}

/// The SARIF objects the report writes, apart from the code that fills them in: the parts of
/// SARIF 2.1.0 lockscan uses.
///
/// Every struct declares its fields in alphabetical order of their JSON names: the reports have
/// always listed keys sorted (they were built as `serde_json::Value`s, whose maps sort), and
/// the snapshot tests and users' stored logs compare them as text.
mod wire {
    use std::borrow::Cow;

    use serde::Serialize;

    #[derive(Debug, Serialize)]
    pub(super) struct Log<'a> {
        #[serde(rename = "$schema")]
        pub(super) schema: &'static str,
        pub(super) runs: Vec<Run<'a>>,
        pub(super) version: &'static str,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct Run<'a> {
        pub(super) properties: RunProperties,
        pub(super) results: Vec<SarifResult<'a>>,
        pub(super) tool: Tool,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct RunProperties {
        pub(super) complete: bool,
        pub(super) events: u64,
        pub(super) traces: usize,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct Tool {
        pub(super) driver: Driver,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct Driver {
        pub(super) name: &'static str,
        pub(super) rules: Vec<Rule>,
        pub(super) version: &'static str,
    }

    /// A reporting descriptor: one per finding kind.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Rule {
        pub(super) default_configuration: RuleConfiguration,
        pub(super) id: &'static str,
        pub(super) short_description: Message,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct RuleConfiguration {
        pub(super) level: &'static str,
    }

    /// A SARIF `result` (named so that it does not read as `std::result::Result`).
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct SarifResult<'a> {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) code_flows: Vec<CodeFlow<'a>>,
        pub(super) level: &'static str,
        pub(super) locations: Vec<Location>,
        pub(super) message: Message,
        pub(super) partial_fingerprints: Fingerprints,
        pub(super) properties: ResultProperties<'a>,
        pub(super) related_locations: Vec<Location>,
        pub(super) rule_id: &'static str,
        pub(super) rule_index: usize,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct Fingerprints {
        /// The finding's fingerprint, versioned so that a new scheme can sit beside it: version
        /// 2 identifies unnamed locks and variables by their lines' text, not their numbers
        /// (version 1, the names as they were, changed whenever a line moved).
        #[serde(rename = "lockscan/v2")]
        pub(super) lockscan_v2: String,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct ResultProperties<'a> {
        pub(super) locks: &'a [String],
        pub(super) threads: &'a [String],
        pub(super) trace: Option<&'a str>,
        /// How many traces and processes showed the finding, as in the JSON report.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) occurrences: Option<crate::report::json::JsonOccurrences>,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct Message {
        pub(super) text: Cow<'static, str>,
    }

    impl Message {
        pub(super) fn new(text: impl Into<Cow<'static, str>>) -> Message {
            Message { text: text.into() }
        }
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Location {
        /// Set on related locations, which results refer to by id.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) id: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) message: Option<Message>,
        pub(super) physical_location: PhysicalLocation,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct PhysicalLocation {
        pub(super) artifact_location: ArtifactLocation,
        pub(super) region: Region,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct ArtifactLocation {
        pub(super) uri: String,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Region {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) start_column: Option<u32>,
        pub(super) start_line: u32,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct CodeFlow<'a> {
        pub(super) thread_flows: Vec<ThreadFlow<'a>>,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct ThreadFlow<'a> {
        pub(super) id: &'a str,
        pub(super) locations: Vec<ThreadFlowLocation>,
        pub(super) message: Message,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct ThreadFlowLocation {
        pub(super) kinds: &'static [&'static str],
        pub(super) location: Location,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

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
            first["partialFingerprints"]["lockscan/v2"],
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

    #[test]
    fn every_object_lists_its_keys_sorted() {
        // The wire structs' field order is the report's key order; a `Value` map sorts its
        // keys, so parsing and writing again changes nothing only if they are sorted.
        let findings = [testing::cycle(), testing::misuse()];
        let mut out = Vec::new();
        SarifRenderer
            .render(&findings, &Summary::default(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let canonical = serde_json::to_string_pretty(&value).unwrap() + "\n";
        assert_eq!(text, canonical);
    }
}
