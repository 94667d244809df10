//! The rustc-style text report: each finding as [`Finding`]'s `Display` lays it out (see
//! `finding::layout`), coloured as rustc colours it when asked, then a summary line.

use std::io::{self, Write};

use annotate_snippets::Renderer;
use anstyle::Style;

use super::{Counts, Render, Summary, plural, summary_remarks};
use crate::finding::layout::finding_report;
use crate::finding::{FileSystemSources, Finding, SourceProvider};

/// Renders the text report; `color` styles it as rustc does.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextRenderer {
    /// Whether to color the output.
    pub color: bool,
}

impl Render for TextRenderer {
    /// Draws the sites on the files [`FileSystemSources`] reads.
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.render_with_sources(findings, summary, &FileSystemSources, out)
    }
}

impl TextRenderer {
    /// The report, drawing the sites on the files `sources` gives.
    pub fn render_with_sources(
        &self,
        findings: &[Finding],
        summary: &Summary,
        sources: &dyn SourceProvider,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let renderer = if self.color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        for finding in findings {
            writeln!(out, "{}\n", finding_report(finding, &renderer, sources))?;
        }
        let counts = Counts::of(findings);
        let traces = plural(summary.traces, "trace", "traces");
        let events = plural(summary.events as usize, "event", "events");
        let bold = if self.color {
            Style::new().bold()
        } else {
            Style::new()
        };
        let reset = bold.render_reset();
        let bold = bold.render();
        let trouble = summary_remarks(summary);
        if findings.is_empty() {
            writeln!(
                out,
                "{bold}lockscan: no findings{reset} in {traces} ({events}){trouble}"
            )?;
        } else {
            writeln!(
                out,
                "{bold}lockscan: {}{reset} in {traces} ({events}){trouble}",
                counts.tally()
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
    use crate::finding::layout::plain_report;
    use crate::report::testing;
    use crate::site::Site;

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
            trace_errors: 3,
            unreadable_traces: 2,
            trace_warnings: 3,
            complete: false,
            baselined: 2,
            suppressed: 1,
            unused_suppressions: Vec::new(),
            unused_baseline: Vec::new(),
        };
        assert_eq!(
            testing::render(&TextRenderer { color: false }, &[], &summary),
            "lockscan: no findings in 2 traces (1 event); 2 unreadable traces; 1 unreadable line; \
             3 trace warnings; \
             2 findings in the baseline not shown; 1 finding suppressed\n\
             lockscan: the cycle search hit its limits; more cycles may exist\n"
        );
    }

    #[test]
    fn color_paints_the_severity() {
        let text = render(TextRenderer { color: true }, &[testing::cycle()]);
        let error = annotate_snippets::renderer::DEFAULT_ERROR_STYLE;
        let painted = format!(
            "{}error[potential-deadlock]{}",
            error.render(),
            error.render_reset()
        );
        assert!(text.starts_with(&painted), "{text:?}");
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
        assert_eq!(lines[1], "--> 17");
        assert_eq!(lines[2], " = trace: t.std");
    }

    #[test]
    fn an_unreadable_site_gets_none() {
        let text = render(TextRenderer { color: false }, &[testing::misuse()]);
        assert!(!text.contains(" | "), "{text}");
    }

    #[test]
    fn both_sites_of_a_readable_edge_are_labelled_in_the_source() {
        let mut finding = testing::cycle();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/text.rs");
        let site = |line: u32| Some(Site::from(format!("{path}:{line}:13").as_str()));
        let line = line!() + 1;
        let held = "the first lock's line";
        let next = "the second lock's line";
        finding.edges[0].from_site = site(line);
        finding.edges[0].to_site = site(line + 1);
        let text = render(TextRenderer { color: false }, &[finding]);
        assert!(
            text.contains(&format!("{line} |         let held = \"{held}\";")),
            "{text}"
        );
        assert!(
            text.contains("|             ---- thread `t1` acquired `a`"),
            "{text}"
        );
        let second = format!("{} |         let next = \"{next}\";", line + 1);
        assert!(text.contains(&second), "{text}");
        assert!(
            text.contains("|             ^^^^ then acquired `b` while holding `a`"),
            "{text}"
        );
        // The second edge's sites are not readable: its line stays.
        assert!(
            text.contains(" = thread `t2` acquired `a` at src/bank.rs:21:9 while holding `b`"),
            "{text}"
        );
    }

    #[test]
    fn the_plain_report_keeps_names_as_they_are() {
        let mut finding = testing::cycle();
        finding.locks[0] = "a\r\nb".into();
        finding.message = "cycle between `a\r\nb`".into();
        let text = plain_report(&finding);
        assert!(text.starts_with("error[potential-deadlock]: cycle between `a\r\nb`\n"));
        assert!(
            text.contains("   = thread `t1` acquired `b` at src/bank.rs:11:9"),
            "{text}"
        );
    }
}
