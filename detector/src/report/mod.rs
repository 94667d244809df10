//! Renderers: one per output format, behind [`Render`].
//!
//! Built with the feature `analyze`.
//!
//! A renderer turns findings and a [`Summary`] into bytes. The JSON-based formats have their
//! own wire types, so the public [`Finding`] can change without changing what consumers parse.
//!
//! ```
//! use lockscan::report::{OutputFormat, Summary};
//! use lockscan::{Finding, FindingKind};
//!
//! let mut finding = Finding::new(FindingKind::PotentialDeadlock, "a cycle");
//! finding.locks = vec!["a".into(), "b".into()];
//! let summary = Summary { traces: 1, events: 12, complete: true, ..Summary::default() };
//! let mut text = Vec::new();
//! OutputFormat::Text.renderer(false).render(&[finding.clone()], &summary, &mut text)?;
//! assert!(String::from_utf8(text)?.starts_with("error[potential-deadlock]: a cycle"));
//!
//! let mut json = Vec::new();
//! OutputFormat::Json.renderer(false).render(&[finding], &summary, &mut json)?;
//! let report: serde_json::Value = serde_json::from_slice(&json)?;
//! assert_eq!(report["findings"][0]["kind"], "potential-deadlock");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod chrome;
pub mod dot;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub use crate::offline::picture;
pub mod sarif;
pub mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use crate::finding::{Finding, FindingKind, Severity};

/// Keeps [`Render`] this crate's to implement.
mod sealed {
    pub trait Sealed {}

    impl Sealed for super::chrome::ChromeRenderer<'_> {}
    impl Sealed for super::chrome::ChromeTracesRenderer<'_> {}
    impl Sealed for super::dot::DotRenderer {}
    impl Sealed for super::dot::LockGraphRenderer<'_> {}
    impl Sealed for super::github::GithubRenderer {}
    impl Sealed for super::github::StepSummaryRenderer {}
    impl Sealed for super::html::HtmlRenderer<'_> {}
    impl Sealed for super::json::JsonRenderer {}
    impl Sealed for super::junit::JunitRenderer {}
    impl Sealed for super::sarif::SarifRenderer {}
    impl Sealed for super::text::TextRenderer {}
}

/// What was analyzed, for the summary every format ends with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// How many traces were read.
    pub traces: usize,
    /// How many events (records, lines) they held.
    pub events: u64,
    /// How many lines could not be read, counting an input that could not be read at all
    /// (not opened, not a trace) as one.
    pub trace_errors: usize,
    /// Of `trace_errors`, the inputs that could not be read at all.
    pub unreadable_traces: usize,
    /// How many warnings the readers and the replay gave.
    pub trace_warnings: usize,
    /// False when a limit cut the cycle search short.
    pub complete: bool,
    /// Findings left out because a baseline already knew them.
    pub baselined: usize,
    /// Findings left out because a configured suppression allows them.
    pub suppressed: usize,
    /// Suppressions that matched no finding: stale, or mistyped.
    pub unused_suppressions: Vec<UnusedSuppression>,
    /// Baseline entries that matched no finding: fixed, or no longer recognised.
    pub unused_baseline: Vec<UnusedBaselineEntry>,
}

/// An entry of a baseline (`--baseline`) that matched no finding: the bug was fixed, or the
/// finding changed (its locks, or the lines that made or took its unnamed locks).
///
/// ```
/// use lockscan::report::UnusedBaselineEntry;
///
/// let unused = UnusedBaselineEntry {
///     baseline: "ci/baseline.json".into(),
///     line: 4,
///     fingerprint: "b7e1a0c2d3f40516".into(),
///     kind: Some("potential-deadlock".into()),
///     locks: vec!["accounts".into(), "audit".into()],
///     vars: Vec::new(),
///     outdated: false,
/// };
/// assert_eq!(
///     unused.to_string(),
///     "baseline entry b7e1a0c2d3f40516 (potential-deadlock, locks `accounts`, `audit`) matched \
///      no finding; remove it if the bug is fixed (`--write-baseline` rewrites the file)"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnusedBaselineEntry {
    /// The baseline file, as it was named.
    pub baseline: String,
    /// The entry's line in the file, from 1; 0 when not known.
    pub line: usize,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The kind it accepted, when the entry says.
    pub kind: Option<String>,
    /// The locks it names, sorted.
    pub locks: Vec<String>,
    /// The variables it names, sorted.
    pub vars: Vec<String>,
    /// Whether the baseline was written with the first fingerprint scheme, in which an unnamed
    /// lock or variable was identified by its line number.
    pub outdated: bool,
}

/// A suppression (an `[[allow]]` entry of `lockscan.toml`) that matched no finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedSuppression {
    /// The configuration file, as it was named.
    pub config: String,
    /// The entry's number among the file's `[[allow]]` entries, from 1.
    pub entry: usize,
    /// The entry's line in the file, from 1.
    pub line: usize,
    /// The kind it allows.
    pub kind: FindingKind,
    /// The lock set it allows, sorted.
    pub locks: Vec<String>,
    /// The variable set it allows, sorted; empty when the entry names none.
    pub vars: Vec<String>,
}

/// Counts of findings by severity and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Note findings.
    pub notes: usize,
    /// Findings per kind name.
    pub by_kind: BTreeMap<&'static str, usize>,
}

impl Counts {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Counts {
        let mut counts = Counts::default();
        for finding in findings {
            match finding.severity {
                Severity::Error => counts.errors += 1,
                Severity::Warning => counts.warnings += 1,
                Severity::Note => counts.notes += 1,
            }
            *counts.by_kind.entry(finding.kind.as_str()).or_default() += 1;
        }
        counts
    }

    /// `N errors, N warnings, N notes`, as every summary line says it.
    pub(crate) fn tally(&self) -> String {
        format!(
            "{}, {}, {}",
            plural(self.errors, "error", "errors"),
            plural(self.warnings, "warning", "warnings"),
            plural(self.notes, "note", "notes")
        )
    }
}

impl fmt::Display for UnusedSuppression {
    /// What the entry allows, and that it allowed nothing; the file and line are not part of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[[allow]] entry {} ({}", self.entry, self.kind)?;
        if !self.locks.is_empty() {
            write!(f, ", locks `{}`", self.locks.join("`, `"))?;
        }
        if !self.vars.is_empty() {
            write!(f, ", vars `{}`", self.vars.join("`, `"))?;
        }
        write!(f, ") matched no finding; remove it if the bug is fixed")
    }
}

impl fmt::Display for UnusedBaselineEntry {
    /// What the entry accepted, and that it matched nothing; the file and line are not part of
    /// it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "baseline entry {}", self.fingerprint)?;
        let mut parts = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(kind.clone());
        }
        if !self.locks.is_empty() {
            parts.push(format!("locks `{}`", self.locks.join("`, `")));
        }
        if !self.vars.is_empty() {
            parts.push(format!("vars `{}`", self.vars.join("`, `")));
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        if self.outdated {
            write!(
                f,
                " matched no finding; the baseline was written by an older lockscan, whose \
                 fingerprints of unnamed locks and variables changed when a line moved: \
                 rewrite it with `--write-baseline`"
            )
        } else {
            write!(
                f,
                " matched no finding; remove it if the bug is fixed (`--write-baseline` \
                 rewrites the file)"
            )
        }
    }
}

/// Renders a report in one format: what [`OutputFormat::renderer`] returns and the renderers
/// of this module implement. Sealed: callers render with it, only this crate implements it.
pub trait Render: sealed::Sealed {
    /// Writes the report of `findings` to `out`.
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()>;
}

/// The output formats.
///
/// With the `clap` feature it is a `clap::ValueEnum` whose names are [`OutputFormat::as_str`]'s;
/// the variants' docs are for this page, not for the command line's help (`help = None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OutputFormat {
    /// rustc-style text.
    #[cfg_attr(feature = "clap", value(name = "text", help = None))]
    Text,
    /// One JSON object.
    #[cfg_attr(feature = "clap", value(name = "json", help = None))]
    Json,
    /// SARIF 2.1.0, for code-scanning services.
    #[cfg_attr(feature = "clap", value(name = "sarif", help = None))]
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    #[cfg_attr(feature = "clap", value(name = "github", help = None))]
    Github,
    /// JUnit XML, one test case per finding.
    #[cfg_attr(feature = "clap", value(name = "junit", help = None))]
    Junit,
    /// Graphviz DOT, one cluster per finding.
    #[cfg_attr(feature = "clap", value(name = "dot", help = None))]
    Dot,
}

impl OutputFormat {
    /// Every format.
    pub const ALL: [OutputFormat; 6] = [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Sarif,
        OutputFormat::Github,
        OutputFormat::Junit,
        OutputFormat::Dot,
    ];

    /// The format's name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Json => "json",
            OutputFormat::Sarif => "sarif",
            OutputFormat::Github => "github",
            OutputFormat::Junit => "junit",
            OutputFormat::Dot => "dot",
        }
    }

    /// The renderer of this format; `color` applies to text only.
    pub fn renderer(self, color: bool) -> Box<dyn Render> {
        match self {
            OutputFormat::Text => Box::new(text::TextRenderer { color }),
            OutputFormat::Json => Box::new(json::JsonRenderer),
            OutputFormat::Sarif => Box::new(sarif::SarifRenderer),
            OutputFormat::Github => Box::new(github::GithubRenderer),
            OutputFormat::Junit => Box::new(junit::JunitRenderer),
            OutputFormat::Dot => Box::new(dot::DotRenderer),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = crate::finding::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| crate::finding::UnknownName(s.to_owned()))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Findings to render in the renderers' tests.

    use super::{Render, Summary};
    use crate::finding::{Finding, FindingEdge, FindingKind};
    use crate::ids::Mode;
    use crate::site::Site;

    /// What `renderer` writes for `findings` and `summary`.
    pub(crate) fn render(
        renderer: &impl Render,
        findings: &[Finding],
        summary: &Summary,
    ) -> String {
        let mut out = Vec::new();
        renderer
            .render(findings, summary, &mut out)
            .expect("rendering to memory cannot fail");
        String::from_utf8(out).expect("reports are UTF-8")
    }

    pub(crate) fn cycle() -> Finding {
        let edge = |from: &str, to: &str, thread: &str, line: u32| FindingEdge {
            from: from.into(),
            to: to.into(),
            thread: thread.into(),
            from_site: Some(Site::from(format!("src/bank.rs:{line}:9").as_str())),
            to_site: Some(Site::from(format!("src/bank.rs:{}:9", line + 1).as_str())),
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
            held: Vec::new(),
            blocked: false,
            backtrace: None,
        };
        let mut finding = Finding::new(
            FindingKind::PotentialDeadlock,
            "potential deadlock: lock-order cycle between `a`, `b`",
        );
        finding.locks = vec!["a".into(), "b".into()];
        finding.threads = vec!["t1".into(), "t2".into()];
        finding.edges = vec![edge("a", "b", "t1", 10), edge("b", "a", "t2", 20)];
        finding.reason = "different threads".into();
        finding.help = Some("one order".into());
        finding
    }

    pub(crate) fn misuse() -> Finding {
        let mut finding = Finding::new(
            FindingKind::ApiMisuse,
            "thread `t1` released `a`, which no thread holds",
        );
        finding.locks = vec!["a".into()];
        finding.threads = vec!["t1".into()];
        finding.site = Some(Site::from("17"));
        finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in OutputFormat::ALL {
            assert_eq!(format.as_str().parse::<OutputFormat>(), Ok(format));
        }
        assert!("xml".parse::<OutputFormat>().is_err());
    }

    #[test]
    fn counts_split_by_severity_and_kind() {
        let counts = Counts::of(&[testing::cycle(), testing::cycle(), testing::misuse()]);
        assert_eq!((counts.errors, counts.warnings, counts.notes), (3, 0, 0));
        assert_eq!(counts.by_kind["potential-deadlock"], 2);
        assert_eq!(counts.by_kind["api-misuse"], 1);
    }
}

/// `N thing` or `N things`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a report's closing line adds after its counts: `; 2 unreadable lines; 1 finding
/// suppressed`..., empty when there is nothing to add. Shared by the text and GitHub reports.
pub(crate) fn summary_remarks(summary: &Summary) -> String {
    let mut remarks = String::new();
    let mut add = |n: usize, one: &str, many: &str, what: &str| {
        if n > 0 {
            remarks.push_str(&format!("; {}{what}", plural(n, one, many)));
        }
    };
    add(
        summary.unreadable_traces,
        "unreadable trace",
        "unreadable traces",
        "",
    );
    add(
        summary
            .trace_errors
            .saturating_sub(summary.unreadable_traces),
        "unreadable line",
        "unreadable lines",
        "",
    );
    add(
        summary.trace_warnings,
        "trace warning",
        "trace warnings",
        "",
    );
    add(
        summary.baselined,
        "finding",
        "findings",
        " in the baseline not shown",
    );
    add(summary.suppressed, "finding", "findings", " suppressed");
    add(
        summary.unused_suppressions.len(),
        "suppression",
        "suppressions",
        " that matched nothing",
    );
    add(
        summary.unused_baseline.len(),
        "baseline entry",
        "baseline entries",
        " that matched nothing",
    );
    remarks
}
