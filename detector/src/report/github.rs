//! GitHub Actions workflow commands: one annotation per finding (`::error file=...::message`).

use std::io::{self, Write};

use super::{Counts, Render, Summary};
use crate::finding::{Finding, Severity};

/// Renders workflow commands.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubRenderer;

/// Escapes a command's message (the part after `::`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (`file=`, `title=`): also `:` and `,`, which delimit.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

impl Render for GithubRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for finding in findings {
            let command = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "notice",
            };
            let mut properties = Vec::new();
            let site = finding
                .site
                .as_ref()
                .or_else(|| finding.edges.first().and_then(|e| e.to_site.as_ref()));
            if let Some(site) = site
                && let (Some(file), Some(line)) = (site.file(), site.line())
            {
                properties.push(format!("file={}", escape_property(file)));
                properties.push(format!("line={line}"));
                if let Some(column) = site.column() {
                    properties.push(format!("col={column}"));
                }
            }
            properties.push(format!(
                "title={}",
                escape_property(&format!("lockscan {}", finding.kind))
            ));
            // The whole rustc-style text, so the annotation carries the cycle and the sites.
            let text = finding.to_string();
            writeln!(
                out,
                "::{command} {}::{}",
                properties.join(","),
                escape_data(text.trim_end())
            )?;
        }
        let counts = Counts::of(findings);
        writeln!(
            out,
            "lockscan: {} errors, {} warnings, {} notes in {} traces ({} events)",
            counts.errors, counts.warnings, counts.notes, summary.traces, summary.events
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn escaping_follows_the_workflow_command_rules() {
        assert_eq!(escape_data("50% a\nb\r"), "50%25 a%0Ab%0D");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn one_annotation_per_finding() {
        let mut out = Vec::new();
        GithubRenderer
            .render(
                &[testing::cycle(), testing::misuse()],
                &Summary::default(),
                &mut out,
            )
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with(
                "::error file=src/bank.rs,line=11,col=9,title=lockscan potential-deadlock::error[potential-deadlock]: "
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("%0A"), "multi-line text is escaped");
        // No file for a bare STD location: an annotation without a position.
        assert!(
            lines[1].starts_with("::error title=lockscan api-misuse::"),
            "{}",
            lines[1]
        );
    }
}
