//! GitHub Actions: workflow commands, one annotation per finding (`::error file=...::message`),
//! and a Markdown job summary for the file `GITHUB_STEP_SUMMARY` names.

use std::io::{self, Write};

use super::{Counts, Render, Summary, plural, summary_remarks};
use crate::finding::{Finding, Severity};

/// Renders workflow commands.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubRenderer;

/// Renders the Markdown job summary: a heading with the counts, a table of the findings (kind,
/// severity, locks or variables, first site), and the totals.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepSummaryRenderer;

/// Escapes text for a Markdown table cell: one line, and no character that Markdown or the
/// table would read as syntax (`|` ends a cell, `<` starts HTML, `` ` `` a code span...).
pub fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' | '\n' => escaped.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

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
            if let Some(site) = finding.main_site()
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
            let text = crate::finding::layout::plain_report(finding);
            writeln!(
                out,
                "::{command} {}::{}",
                properties.join(","),
                escape_data(text.trim_end())
            )?;
        }
        // A stale suppression, on its line of the configuration.
        for unused in &summary.unused_suppressions {
            writeln!(
                out,
                "::warning file={},line={},title={}::{}",
                escape_property(&unused.config),
                unused.line,
                escape_property("lockscan unused suppression"),
                escape_data(&unused.to_string())
            )?;
        }
        // A stale baseline entry, on its line of the baseline.
        for unused in &summary.unused_baseline {
            let mut properties = format!("file={}", escape_property(&unused.baseline));
            if unused.line > 0 {
                properties.push_str(&format!(",line={}", unused.line));
            }
            writeln!(
                out,
                "::warning {properties},title={}::{}",
                escape_property("lockscan unused baseline entry"),
                escape_data(&unused.to_string())
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

impl Render for StepSummaryRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let counts = Counts::of(findings);
        if findings.is_empty() {
            writeln!(out, "### lockscan: no findings")?;
        } else {
            writeln!(out, "### lockscan: {}", counts.tally())?;
            writeln!(out)?;
            writeln!(out, "| Kind | Severity | Locks | First site |")?;
            writeln!(out, "|---|---|---|---|")?;
            for finding in findings {
                let names: Vec<&str> = if finding.locks.is_empty() {
                    let mut vars: Vec<&str> = finding.vars.iter().map(|v| v.var.as_str()).collect();
                    vars.sort_unstable();
                    vars.dedup();
                    vars
                } else {
                    finding.locks.iter().map(String::as_str).collect()
                };
                let site = finding
                    .main_site()
                    .map_or_else(String::new, ToString::to_string);
                writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    finding.kind,
                    finding.severity,
                    escape_markdown(&names.join(", ")),
                    escape_markdown(&site),
                )?;
            }
        }
        writeln!(out)?;
        let mut totals = format!(
            "{} ({})",
            plural(summary.traces, "trace", "traces"),
            plural(summary.events as usize, "event", "events")
        );
        totals.push_str(&summary_remarks(summary));
        writeln!(out, "Analyzed {totals}.")?;
        writeln!(out)
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
    fn the_step_summary_is_a_markdown_table() {
        let mut misuse = testing::misuse();
        misuse.locks = vec!["a|b".into(), "<c>".into()];
        let summary = Summary {
            traces: 2,
            events: 30,
            suppressed: 1,
            ..Summary::default()
        };
        assert_eq!(
            testing::render(&StepSummaryRenderer, &[testing::cycle(), misuse], &summary),
            "### lockscan: 2 errors, 0 warnings, 0 notes\n\
             \n\
             | Kind | Severity | Locks | First site |\n\
             |---|---|---|---|\n\
             | potential-deadlock | error | a, b | src/bank.rs:11:9 |\n\
             | api-misuse | error | a\\|b, \\<c\\> | 17 |\n\
             \n\
             Analyzed 2 traces (30 events); 1 finding suppressed.\n\
             \n"
        );
        assert_eq!(
            testing::render(&StepSummaryRenderer, &[], &Summary::default()),
            "### lockscan: no findings\n\nAnalyzed 0 traces (0 events).\n\n"
        );
    }

    #[test]
    fn an_unused_suppression_is_a_warning_on_its_line() {
        let summary = Summary {
            unused_suppressions: vec![crate::report::UnusedSuppression {
                config: "ci/lock,scan.toml".into(),
                entry: 2,
                line: 7,
                kind: crate::FindingKind::DataRace,
                locks: Vec::new(),
                vars: vec!["hits".into()],
            }],
            ..Summary::default()
        };
        let text = testing::render(&GithubRenderer, &[], &summary);
        assert_eq!(
            text.lines().next().unwrap(),
            "::warning file=ci/lock%2Cscan.toml,line=7,title=lockscan unused suppression::\
             [[allow]] entry 2 (data-race, vars `hits`) matched no finding; remove it if the \
             bug is fixed"
        );
        let text = testing::render(&StepSummaryRenderer, &[], &summary);
        assert!(
            text.contains("Analyzed 0 traces (0 events); 1 suppression that matched nothing."),
            "{text}"
        );
    }

    #[test]
    fn an_unused_baseline_entry_is_a_warning_on_its_line() {
        let summary = Summary {
            unused_baseline: vec![crate::report::UnusedBaselineEntry {
                baseline: "ci/baseline.json".into(),
                line: 3,
                fingerprint: "00000000000000ff".into(),
                kind: Some("deadlock".into()),
                locks: vec!["a".into()],
                ..Default::default()
            }],
            ..Summary::default()
        };
        let text = testing::render(&GithubRenderer, &[], &summary);
        assert_eq!(
            text.lines().next().unwrap(),
            "::warning file=ci/baseline.json,line=3,title=lockscan unused baseline entry::\
             baseline entry 00000000000000ff (deadlock, locks `a`) matched no finding; remove \
             it if the bug is fixed (`--write-baseline` rewrites the file)"
        );
    }

    #[test]
    fn markdown_escaping_keeps_a_cell_one_cell() {
        assert_eq!(escape_markdown("a|b\nc"), "a\\|b c");
        assert_eq!(
            escape_markdown("`x` *y* [z](u)"),
            "\\`x\\` \\*y\\* \\[z\\](u)"
        );
    }

    #[test]
    fn one_annotation_per_finding() {
        let text = testing::render(
            &GithubRenderer,
            &[testing::cycle(), testing::misuse()],
            &Summary::default(),
        );
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
