//! Graphviz DOT, in two pictures:
//!
//! - [`DotRenderer`] (`lockscan analyze --format dot`): each finding's locks and edges as a
//!   cluster, from the findings alone.
//! - [`LockGraphRenderer`] (`lockscan graph --format dot`): the whole lock-order graph of
//!   traces, locks as nodes (name and kind), order edges labelled with their threads and
//!   sites, the findings' cycles in red. Nodes and edges come sorted by name, so the output
//!   is stable and can be diffed and snapshot-tested.
//!
//! Render either with `dot -Tsvg graph.dot > graph.svg`.

use std::io::{self, Write};

use super::{Counts, Render, Summary};
use crate::finding::{Finding, Severity};
use crate::offline::picture::{LockGraph, is_cycle};

/// How many uses of one edge its label lists; the rest are counted.
pub const MAX_LABELLED_USES: usize = 4;

/// The color of cycles.
const CYCLE_COLOR: &str = "#c62828";
/// The color of other edges and locks.
const PLAIN_COLOR: &str = "#607d8b";

/// Renders a DOT digraph with one cluster per finding that has edges.
#[derive(Clone, Copy, Debug, Default)]
pub struct DotRenderer;

fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "red",
        Severity::Warning => "orange",
        Severity::Note => "gray40",
    }
}

impl Render for DotRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "digraph lockscan {{")?;
        writeln!(
            out,
            "  label={};",
            quote(&format!(
                "lockscan: {} findings in {} traces",
                findings.len(),
                summary.traces
            ))
        )?;
        writeln!(out, "  node [shape=box, fontname=monospace];")?;
        for (index, finding) in findings.iter().enumerate() {
            if finding.edges.is_empty() {
                continue;
            }
            writeln!(out, "  subgraph cluster_{index} {{")?;
            writeln!(
                out,
                "    label={}; color={};",
                quote(&format!(
                    "{}[{}]: {}",
                    finding.severity, finding.kind, finding.message
                )),
                color(finding.severity)
            )?;
            // Node names are per cluster: the same lock in two findings is drawn twice, so
            // each cycle reads on its own.
            for lock in &finding.locks {
                writeln!(
                    out,
                    "    {} [label={}];",
                    quote(&format!("{index}:{lock}")),
                    quote(lock)
                )?;
            }
            for edge in &finding.edges {
                let mut label = edge.thread.clone();
                if let Some(site) = &edge.to_site {
                    label.push_str(&format!("\n{site}"));
                }
                let style = if edge.blocked { ", style=dashed" } else { "" };
                writeln!(
                    out,
                    "    {} -> {} [label={}, color={}{style}];",
                    quote(&format!("{index}:{}", edge.from)),
                    quote(&format!("{index}:{}", edge.to)),
                    quote(&label),
                    color(finding.severity)
                )?;
            }
            writeln!(out, "  }}")?;
        }
        writeln!(out, "}}")
    }
}

/// Renders the lock-order graph of traces (`lockscan graph --format dot`).
#[derive(Clone, Copy, Debug)]
pub struct LockGraphRenderer<'a> {
    /// The graph to draw.
    pub graph: &'a LockGraph,
}

/// Quotes `text` as a DOT string (with the escapes DOT knows).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Render for LockGraphRenderer<'_> {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let graph = self.graph;
        let counts = Counts::of(findings);
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        writeln!(
            out,
            "// lockscan lock-order graph: {}, {}, {} marked; {}, {}, {} in {}",
            count(graph.nodes.len(), "lock"),
            count(graph.edges.len(), "edge"),
            count(graph.cycle_count(), "cycle"),
            count(counts.errors, "error"),
            count(counts.warnings, "warning"),
            count(counts.notes, "note"),
            count(summary.traces, "trace")
        )?;
        for (number, finding) in findings.iter().enumerate() {
            if is_cycle(finding) {
                let cycle = finding.cycle_text().unwrap_or_default().replace('`', "");
                writeln!(out, "// cycle {}: {}: {cycle}", number + 1, finding.kind)?;
            }
        }
        writeln!(out, "digraph lockscan {{")?;
        writeln!(
            out,
            "  graph [rankdir=LR, fontname=\"Helvetica\", label={}, labelloc=t];",
            quote("lock order: an edge A -> B means a thread acquired B while holding A")
        )?;
        writeln!(
            out,
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", \
             fontname=\"Helvetica\", color=\"{PLAIN_COLOR}\"];"
        )?;
        writeln!(
            out,
            "  edge [fontname=\"Helvetica\", fontsize=10, color=\"{PLAIN_COLOR}\"];"
        )?;
        for node in &graph.nodes {
            let label = format!("{}\n{}", node.name, node.kind.as_str());
            write!(out, "  {} [label={}", quote(&node.name), quote(&label))?;
            if !node.cycles.is_empty() {
                write!(
                    out,
                    ", color=\"{CYCLE_COLOR}\", fillcolor=\"#ffebee\", penwidth=2.5, \
                     class=\"cycle\""
                )?;
            }
            writeln!(out, "];")?;
        }
        for edge in &graph.edges {
            let mut lines: Vec<String> = edge
                .uses
                .iter()
                .take(MAX_LABELLED_USES)
                .map(|used| {
                    let mut line = used.thread.clone();
                    if used.shared {
                        line.push_str(" (shared)");
                    }
                    if let Some(trace) = &used.trace {
                        line.push_str(&format!(" [{trace}]"));
                    }
                    let from = used.from_site.as_deref().unwrap_or("?");
                    let to = used.to_site.as_deref().unwrap_or("?");
                    format!("{line}: {from} -> {to}")
                })
                .collect();
            if edge.uses.len() > MAX_LABELLED_USES {
                lines.push(format!("+{} more", edge.uses.len() - MAX_LABELLED_USES));
            }
            write!(
                out,
                "  {} -> {} [label={}",
                quote(&graph.nodes[edge.from].name),
                quote(&graph.nodes[edge.to].name),
                quote(&lines.join("\n"))
            )?;
            if !edge.cycles.is_empty() {
                write!(
                    out,
                    ", color=\"{CYCLE_COLOR}\", fontcolor=\"{CYCLE_COLOR}\", penwidth=2.5, \
                     class=\"cycle\""
                )?;
            }
            writeln!(out, "];")?;
        }
        writeln!(out, "}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::picture::tests::{AB_BA, one_trace};
    use crate::report::testing;

    fn render(steps: &str) -> String {
        let (traces, findings) = one_trace(steps);
        let graph = LockGraph::build(&traces, &findings);
        testing::render(
            &LockGraphRenderer { graph: &graph },
            &findings,
            &Summary::default(),
        )
    }

    #[test]
    fn locks_are_nodes_and_the_cycle_is_red() {
        let dot = render(AB_BA);
        assert!(
            dot.contains("\"a\" [label=\"a\\nmutex\", color=\"#c62828\""),
            "{dot}"
        );
        assert!(
            dot.contains("\"a\" -> \"b\" [label=\"t1: src/x.rs:1:5 -> src/x.rs:2:5\", color"),
            "{dot}"
        );
        assert!(dot.contains("// cycle 1: potential-deadlock: "), "{dot}");
        assert!(
            !dot.contains("\"c\""),
            "a lock in no order edge is left out:\n{dot}"
        );
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn edges_not_in_a_cycle_are_plain() {
        let dot = render("acq 1 1; acq 1 2");
        assert!(!dot.contains(CYCLE_COLOR), "{dot}");
        assert!(dot.contains("\"a\" -> \"b\" [label=\"t1: src/x.rs:1:5 -> src/x.rs:2:5\"];"));
    }

    #[test]
    fn a_cycle_becomes_a_cluster() {
        let text = testing::render(
            &DotRenderer,
            &[testing::cycle(), testing::misuse()],
            &Summary::default(),
        );
        assert!(text.starts_with("digraph lockscan {\n"), "{text}");
        assert!(text.contains("subgraph cluster_0 {"));
        assert!(
            !text.contains("cluster_1"),
            "the misuse has no edges: {text}"
        );
        assert!(
            text.contains(r#""0:a" -> "0:b" [label="t1\nsrc/bank.rs:11:9", color=red];"#),
            "{text}"
        );
        assert!(text.trim_end().ends_with('}'));
    }

    #[test]
    fn quoting_escapes_what_dot_reads() {
        assert_eq!(quote("a\"b\\c\nd\u{7}"), "\"a\\\"b\\\\c\\nd\"");
    }
}
