//! Graphviz DOT: each finding's locks and edges as a cluster, for `dot -Tsvg`.

use std::io::{self, Write};

use super::{Render, Summary};
use crate::finding::{Finding, Severity};

/// Renders a DOT digraph with one cluster per finding that has edges.
#[derive(Clone, Copy, Debug, Default)]
pub struct DotRenderer;

/// Quotes `text` as a DOT string.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn a_cycle_becomes_a_cluster() {
        let mut out = Vec::new();
        DotRenderer
            .render(
                &[testing::cycle(), testing::misuse()],
                &Summary::default(),
                &mut out,
            )
            .unwrap();
        let text = String::from_utf8(out).unwrap();
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
    fn quoting_escapes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
