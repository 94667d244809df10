//! The rustc-style text report: each finding as its `Display` shows it, with the source line
//! of its main site when the file is readable, then a summary line.

use std::io::{self, Write};

use super::{Counts, Render, Summary, plural, summary_remarks};
use crate::finding::{Finding, Severity};
use crate::site::Site;

/// Renders the text report; `color` adds ANSI colors to severities and the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextRenderer {
    /// Whether to color the output.
    pub color: bool,
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const BLUE: &str = "\x1b[1;34m";

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Note => "\x1b[1;36m",
    }
}

impl TextRenderer {
    fn paint<'a>(&self, code: &'a str) -> &'a str {
        if self.color { code } else { "" }
    }

    fn finding(&self, finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
        let text = finding.to_string();
        let mut lines = text.lines();
        // The first line is `severity[kind]: message`; color it as rustc does.
        if let Some(_first) = lines.next() {
            writeln!(
                out,
                "{}{}[{}]{}{}: {}{}",
                self.paint(severity_color(finding.severity)),
                finding.severity,
                finding.kind,
                self.paint(RESET),
                self.paint(BOLD),
                finding.message,
                self.paint(RESET),
            )?;
        }
        let snippet = main_site(finding).and_then(|site| Some((site, source_line(site)?)));
        let mut lines = lines.peekable();
        if let Some((site, source)) = snippet {
            // rustc's layout: the location and the source line right under the headline.
            if finding.site.is_some() {
                lines.next_if(|line| line.trim_start().starts_with("-->"));
            }
            let number = site.line().unwrap_or(0).to_string();
            let pad = " ".repeat(number.len());
            let blue = self.paint(BLUE);
            let reset = self.paint(RESET);
            writeln!(out, "{pad}{blue}-->{reset} {site}")?;
            writeln!(out, "{pad} {blue}|{reset}")?;
            writeln!(out, "{blue}{number} |{reset} {source}")?;
            match site.column().filter(|&c| c >= 1) {
                Some(column) => {
                    let indent: String = source
                        .chars()
                        .take(column as usize - 1)
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    writeln!(out, "{pad} {blue}|{reset} {indent}{blue}^{reset}")?;
                }
                None => writeln!(out, "{pad} {blue}|{reset}")?,
            }
        }
        if let Some(trace) = &finding.trace {
            // After the location, if `Display` gave one and no snippet took its place.
            if let Some(arrow) = lines.next_if(|line| line.trim_start().starts_with("-->")) {
                writeln!(out, "{arrow}")?;
            }
            writeln!(out, "   = trace: {trace}")?;
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
        writeln!(out)
    }
}

/// The site a snippet shows: the finding's own, else the first edge's target.
fn main_site(finding: &Finding) -> Option<&Site> {
    finding
        .site
        .as_ref()
        .or_else(|| finding.edges.first().and_then(|e| e.to_site.as_ref()))
}

/// The line of `site` in its file, when the file is readable from here.
fn source_line(site: &Site) -> Option<String> {
    let file = site.file()?;
    let line = site.line()? as usize;
    let text = std::fs::read_to_string(file).ok()?;
    let source = text.lines().nth(line.checked_sub(1)?)?;
    Some(source.trim_end().to_owned())
}

impl Render for TextRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for finding in findings {
            self.finding(finding, out)?;
        }
        let counts = Counts::of(findings);
        let traces = plural(summary.traces, "trace", "traces");
        let events = plural(summary.events as usize, "event", "events");
        let bold = self.paint(BOLD);
        let reset = self.paint(RESET);
        let trouble = summary_remarks(summary);
        if findings.is_empty() {
            writeln!(
                out,
                "{bold}lockscan: no findings{reset} in {traces} ({events}){trouble}"
            )?;
        } else {
            writeln!(
                out,
                "{bold}lockscan: {}, {}, {}{reset} in {traces} ({events}){trouble}",
                plural(counts.errors, "error", "errors"),
                plural(counts.warnings, "warning", "warnings"),
                plural(counts.notes, "note", "notes"),
            )?;
        }
        if !summary.complete {
            writeln!(
                out,
                "lockscan: the cycle search hit its limits; more cycles may exist"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    fn render(renderer: TextRenderer, findings: &[Finding]) -> String {
        let summary = Summary {
            traces: 1,
            events: 10,
            complete: true,
            ..Summary::default()
        };
        testing::render(&renderer, findings, &summary)
    }

    #[test]
    fn plain_text_is_the_display_plus_a_summary() {
        let finding = testing::cycle();
        let text = render(
            TextRenderer { color: false },
            std::slice::from_ref(&finding),
        );
        assert!(text.starts_with(&finding.to_string()), "{text}");
        assert!(text.ends_with("lockscan: 1 error, 0 warnings, 0 notes in 1 trace (10 events)\n"));
        assert!(!text.contains('\x1b'));
        let empty = render(TextRenderer { color: false }, &[]);
        assert_eq!(empty, "lockscan: no findings in 1 trace (10 events)\n");
        let summary = Summary {
            traces: 2,
            events: 1,
            trace_errors: 1,
            trace_warnings: 3,
            complete: false,
            baselined: 2,
            suppressed: 1,
            unused_suppressions: Vec::new(),
        };
        assert_eq!(
            testing::render(&TextRenderer { color: false }, &[], &summary),
            "lockscan: no findings in 2 traces (1 event); 1 unreadable line; 3 trace warnings; \
             2 findings in the baseline not shown; 1 finding suppressed\n\
             lockscan: the cycle search hit its limits; more cycles may exist\n"
        );
    }

    #[test]
    fn color_paints_the_severity() {
        let text = render(TextRenderer { color: true }, &[testing::cycle()]);
        assert!(
            text.starts_with("\x1b[1;31merror[potential-deadlock]\x1b[0m"),
            "{text:?}"
        );
    }

    #[test]
    fn a_readable_site_gets_a_snippet() {
        let mut finding = testing::misuse();
        let line = line!() + 1;
        let marker = "the line the snippet shows";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/text.rs");
        finding.site = Some(Site::from(format!("{path}:{line}:13").as_str()));
        let text = render(TextRenderer { color: false }, &[finding]);
        let expected = format!("{line} |         let marker = \"{marker}\";");
        assert!(text.contains(&expected), "{text}");
        assert!(text.contains("|             ^"), "{text}");
    }

    #[test]
    fn the_trace_follows_the_location() {
        let mut finding = testing::misuse();
        finding.trace = Some("t.std".into());
        let text = render(TextRenderer { color: false }, &[finding]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  --> 17");
        assert_eq!(lines[2], "   = trace: t.std");
    }

    #[test]
    fn an_unreadable_site_gets_none() {
        let text = render(TextRenderer { color: false }, &[testing::misuse()]);
        assert!(!text.contains(" | "), "{text}");
    }
}
