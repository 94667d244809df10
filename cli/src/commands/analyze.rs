//! `lockscan analyze`: the report, the exit code, and GitHub's job summary.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use lockscan::report::github::StepSummaryRenderer;
use lockscan::report::{OutputFormat, Render, Summary};
use lockscan::{Finding, Severity};

use crate::args::ReportArgs;
use crate::diagnostics;
use crate::exit::Exit;
use crate::inputs::collect_inputs;
use crate::output::{open_colored_output, open_output};
use crate::replay::{Pictured, replay_pictured};
use crate::{baseline, config};

/// The variable GitHub Actions sets to the file a step appends its Markdown summary to.
pub(crate) const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

pub(crate) fn analyze(paths: &[PathBuf], args: &ReportArgs) -> anyhow::Result<Exit> {
    let inputs = collect_inputs(paths)?;
    // Read first: a wrong baseline path is a usage error, better found before the analysis.
    let baseline = match &args.baseline {
        Some(path) => Some(baseline::read(path)?),
        None => None,
    };
    let mut suppressions = config::Suppressions::load(args.config.as_deref())?;
    let Pictured {
        mut findings,
        mut summary,
        ..
    } = replay_pictured(&inputs, &args.read, None)?;
    // Suppressions first: a finding both allowed and baselined counts as allowed, so its entry
    // is not reported as unused.
    if let Some(suppressions) = &mut suppressions {
        summary.suppressed = suppressions.apply(&mut findings);
        summary.unused_suppressions = suppressions.unused();
        for unused in &summary.unused_suppressions {
            diagnostics::warning(config::unused_warning(unused))?;
        }
    }
    // Written before the old baseline filters anything: the new file holds every finding that
    // is not suppressed, so rewriting it also forgets the fixed ones.
    if let Some(path) = &args.write_baseline {
        let written = baseline::write(path, &findings)?;
        diagnostics::status(format_args!(
            "{}: {written} finding{} accepted",
            path.display(),
            if written == 1 { "" } else { "s" }
        ))?;
    }
    if let Some(known) = &baseline {
        let fingerprints: Vec<String> = findings.iter().map(Finding::fingerprint).collect();
        let found: HashSet<String> = fingerprints.iter().cloned().collect();
        summary.unused_baseline = known.unused(&found);
        for unused in &summary.unused_baseline {
            diagnostics::warning(baseline::unused_warning(unused))?;
        }
        let before = findings.len();
        let mut accepted = fingerprints.iter().map(|f| known.contains(f));
        findings.retain(|_| !accepted.next().unwrap_or(false));
        summary.baselined = before - findings.len();
    }

    // Only the text report has color; the other formats are data, written byte for byte.
    let (mut out, color) = if args.format == OutputFormat::Text {
        open_colored_output(args.output.as_deref(), args.color.as_choice())?
    } else {
        (open_output(args.output.as_deref())?, false)
    };
    let renderer = args.format.renderer(color);
    renderer
        .render(&findings, &summary, &mut out)
        .and_then(|()| out.flush())
        .context("cannot write the report")?;
    if args.format == OutputFormat::Github {
        append_step_summary(&findings, &summary)?;
    }

    if summary.trace_errors > 0 {
        return Ok(Exit::Error);
    }
    // The findings just written to a baseline are accepted: as `--baseline` with that file
    // would, they do not fail the run.
    let threshold = args.fail_on.threshold();
    let failing = args.write_baseline.is_none()
        && threshold.is_some_and(|threshold| findings.iter().any(|f| f.severity >= threshold));
    if failing {
        return Ok(Exit::Findings);
    }
    // The warnings about the traces (a trace cut off by a crash, say), the configuration and the
    // baseline are warnings too: `--fail-on warning` fails on every warning it printed.
    let warnings =
        summary.trace_warnings + summary.unused_suppressions.len() + summary.unused_baseline.len();
    if threshold.is_some_and(|threshold| threshold <= Severity::Warning) && warnings > 0 {
        diagnostics::status(format_args!(
            "failing on {} (--fail-on {})",
            if warnings == 1 {
                "1 warning".to_owned()
            } else {
                format!("{warnings} warnings")
            },
            args.fail_on.name()
        ))?;
        return Ok(Exit::Findings);
    }
    Ok(Exit::Clean)
}

/// Appends the Markdown job summary to the file GitHub Actions names in `GITHUB_STEP_SUMMARY`,
/// when it names one.
pub(crate) fn append_step_summary(
    findings: &[lockscan::Finding],
    summary: &Summary,
) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let write = || -> io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)?;
        let mut out = BufWriter::new(file);
        StepSummaryRenderer.render(findings, summary, &mut out)?;
        out.flush()
    };
    write().with_context(|| {
        format!(
            "cannot append the job summary to {} ({STEP_SUMMARY_ENV})",
            path.display()
        )
    })
}
