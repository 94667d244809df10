//! JUnit XML: one failing test case per finding, so CI test dashboards show them.

use std::io::{self, Write};

use super::{Render, Summary};
use crate::finding::Finding;

/// Renders a JUnit XML report.
#[derive(Clone, Copy, Debug, Default)]
pub struct JunitRenderer;

/// Escapes text for XML attributes and content, dropping characters XML 1.0 cannot hold.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

impl Render for JunitRenderer {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        // A clean run is one passing case, so that dashboards show the check ran.
        let tests = findings.len().max(1);
        let failures = findings.len();
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="lockscan" tests="{tests}" failures="{failures}" errors="0">"#
        )?;
        writeln!(
            out,
            r#"  <testsuite name="lockscan analyze" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#
        )?;
        writeln!(
            out,
            r#"    <properties><property name="traces" value="{}"/><property name="events" value="{}"/></properties>"#,
            summary.traces, summary.events
        )?;
        if findings.is_empty() {
            writeln!(
                out,
                r#"    <testcase classname="lockscan" name="no findings"/>"#
            )?;
        }
        for finding in findings {
            writeln!(
                out,
                r#"    <testcase classname="lockscan.{}" name="{} [{}]">"#,
                finding.kind,
                escape_xml(&finding.message),
                finding.fingerprint()
            )?;
            writeln!(
                out,
                r#"      <failure type="{}" message="{}">{}</failure>"#,
                finding.severity,
                escape_xml(&finding.message),
                escape_xml(&crate::finding::layout::plain_report(finding))
            )?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
        writeln!(out, "</testsuites>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape_xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn one_failure_per_finding() {
        let text = testing::render(&JunitRenderer, &[testing::cycle()], &Summary::default());
        assert!(text.contains(r#"tests="1" failures="1""#), "{text}");
        assert!(text.contains(r#"<testcase classname="lockscan.potential-deadlock""#));
        assert!(text.contains("lock-order cycle between `a`, `b`"));
        let text = testing::render(&JunitRenderer, &[], &Summary::default());
        assert!(text.contains(r#"failures="0""#) && text.contains("no findings"));
    }
}
