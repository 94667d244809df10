//! `lockscan confirm TRACES... -- COMMAND`: each predicted deadlock of the traces made to
//! happen by re-running the command with steering on (`lockscan::steer`), or reported as not
//! confirmed with what was tried.

mod attempt;
mod locks;
mod witness;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use lockscan::report::OutputFormat;
use lockscan::steer::{Cycle, Options};
use lockscan::{Finding, FindingKind, Severity};
use serde_json::{Value, json};

use crate::args::{ConfirmArgs, ConfirmFailOn, ConfirmFormat, ReadArgs};
use crate::diagnostics;
use crate::exit::Exit;
use crate::inputs::collect_inputs;
use crate::output::open_output;
use crate::replay::{Pictured, replay_pictured};
use attempt::{Attempt, Outcome, Plan};
use witness::Witness;

/// What confirming one finding came to.
#[derive(Debug)]
pub(crate) enum Verdict {
    Confirmed {
        witness: Witness,
        /// The command line that reproduces it (environment included).
        reproduce: String,
    },
    NotConfirmed,
    /// The finding has no sites to steer at.
    NotSteerable(String),
}

/// One predicted deadlock and what confirming it did.
struct Confirmation {
    /// The finding's index in the analysis.
    index: usize,
    verdict: Verdict,
    attempts: Vec<Attempt>,
    elapsed: Duration,
}

pub(crate) fn confirm(args: &ConfirmArgs) -> anyhow::Result<Exit> {
    let inputs = collect_inputs(&args.traces)?;
    let Pictured {
        findings, summary, ..
    } = replay_pictured(&inputs, &args.read, None)?;
    let predicted: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].kind == FindingKind::PotentialDeadlock)
        .collect();
    let session = if predicted.is_empty() {
        None
    } else {
        Some(session_dir(&args.trace_dir)?)
    };
    let options = AttemptOptions {
        attempts: args.attempts.max(1),
        pause: Duration::from_millis(args.pause_ms.max(1)),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    // The tests a `cargo test` runs, to tell a test's thread from another.
    let listed = match &session {
        Some(dir) => attempt::list_tests(&args.command, dir, options.timeout)?,
        None => None,
    };
    let mut confirmations = Vec::new();
    for (number, &index) in predicted.iter().enumerate() {
        let finding = &findings[index];
        let folder = session
            .as_ref()
            .map(|dir| dir.join(format!("finding-{}", number + 1)))
            .unwrap_or_default();
        diagnostics::status(format_args!(
            "confirming {} of {}: {}",
            number + 1,
            predicted.len(),
            finding
                .cycle_text()
                .unwrap_or_else(|| finding.message.clone())
        ))?;
        confirmations.push(confirm_one(
            index,
            finding,
            &args.command,
            listed.as_deref(),
            &folder,
            &args.read,
            &options,
        )?);
    }

    let mut out = open_output(args.output.as_deref())?;
    match args.format {
        ConfirmFormat::Text => {
            write_text(&mut out, &findings, &confirmations, session.as_deref())?;
        }
        ConfirmFormat::Json => {
            write_data(
                &mut out,
                OutputFormat::Json,
                &findings,
                &summary,
                &confirmations,
            )?;
        }
        ConfirmFormat::Sarif => {
            write_data(
                &mut out,
                OutputFormat::Sarif,
                &findings,
                &summary,
                &confirmations,
            )?;
        }
    }
    out.flush().context("cannot write the report")?;

    if summary.trace_errors > 0 {
        return Ok(Exit::Error);
    }
    let failing = match args.fail_on {
        ConfirmFailOn::Error => findings.iter().any(|f| f.severity >= Severity::Error),
        ConfirmFailOn::Confirmed => confirmations
            .iter()
            .any(|c| matches!(c.verdict, Verdict::Confirmed { .. })),
        ConfirmFailOn::Never => false,
    };
    Ok(if failing { Exit::Findings } else { Exit::Clean })
}

/// The attempts' limits, from the command line.
pub(crate) struct AttemptOptions {
    pub(crate) attempts: u32,
    pub(crate) pause: Duration,
    pub(crate) timeout: Duration,
}

/// Steers re-runs of `command` towards `finding` until one deadlocks on its locks, or the
/// attempts are used up.
fn confirm_one(
    index: usize,
    finding: &Finding,
    command: &[OsString],
    listed: Option<&[String]>,
    folder: &Path,
    read: &ReadArgs,
    options: &AttemptOptions,
) -> anyhow::Result<Confirmation> {
    let started = Instant::now();
    let cycle = match Cycle::from_finding(finding) {
        Ok(cycle) => locks::with_every_first_site(cycle, finding.trace.as_deref().map(Path::new)),
        Err(err) => {
            return Ok(Confirmation {
                index,
                verdict: Verdict::NotSteerable(err.to_string()),
                attempts: Vec::new(),
                elapsed: started.elapsed(),
            });
        }
    };
    let mut plan = Plan::new(command, finding, listed);
    let mut attempts = Vec::new();
    let edges = cycle.edges.len();
    for k in 0..options.attempts {
        let (pausing, pause) = choice(k, edges, options.pause);
        let steered = cycle.clone().pausing_only(pausing);
        // The last attempt of a selection that left some edges' threads out runs everything.
        if k + 1 == options.attempts && k > 0 && plan.is_partial() {
            plan = Plan::whole(command);
        }
        let dir = folder.join(format!("attempt-{}", k + 1));
        let attempt = attempt::run(
            k + 1,
            &plan,
            &steered,
            Options::with_pause(pause),
            pausing,
            &dir,
            options.timeout,
            read,
            finding,
        )?;
        let confirmed = match &attempt.outcome {
            Outcome::Deadlock(deadlock) => Some(Finding::clone(deadlock)),
            _ => None,
        };
        let unreached = attempt.stats.is_none() && !matches!(attempt.outcome, Outcome::TimedOut);
        let reproduce = attempt.reproduce.clone();
        diagnostics::status(format_args!("  attempt {}: {}", k + 1, attempt.describe()))?;
        attempts.push(attempt);
        if let Some(deadlock) = confirmed {
            let witness = Witness::of(&deadlock, &dir);
            return Ok(Confirmation {
                index,
                verdict: Verdict::Confirmed { witness, reproduce },
                attempts,
                elapsed: started.elapsed(),
            });
        }
        // The selected tests never reached a steering point: the rest of the attempts run the
        // whole command.
        if unreached && plan.is_selection() {
            plan = Plan::whole(command);
        }
    }
    Ok(Confirmation {
        index,
        verdict: Verdict::NotConfirmed,
        attempts,
        elapsed: started.elapsed(),
    })
}

/// Which edges pause in attempt `k` (from 0) at a cycle of `edges` edges, and for how long at
/// most: every edge with the bound `pause`, then every edge with four times the bound (a
/// thread that arrives late: a test that sleeps first, a pool's worker that starts later),
/// then each edge alone (pausing one thread can keep another from its point), then the same
/// again with bounds four times longer.
fn choice(k: u32, edges: usize, pause: Duration) -> (Option<usize>, Duration) {
    let k = k as usize;
    let per_round = edges + 2;
    let round = (k / per_round).min(3) as u32;
    let longer = |times: u32| pause.saturating_mul(4_u32.saturating_pow(round + times));
    match k % per_round {
        0 => (None, longer(0)),
        1 => (None, longer(1)),
        j => (Some(j - 2), longer(0)),
    }
}

/// A new folder for this confirmation's attempts, absolute, so that every process of the
/// command writes there whatever its working directory.
fn session_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = parent.join(format!("confirm-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the trace folder {}", dir.display()))?;
    std::path::absolute(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn write_text(
    out: &mut dyn Write,
    findings: &[Finding],
    confirmations: &[Confirmation],
    session: Option<&Path>,
) -> anyhow::Result<()> {
    for confirmation in confirmations {
        let finding = &findings[confirmation.index];
        writeln!(
            out,
            "{}[{}]: {}",
            finding.severity, finding.kind, finding.message
        )?;
        if let Some(cycle) = finding.cycle_text() {
            writeln!(out, "  = cycle: {cycle}")?;
        }
        let tries = plural(confirmation.attempts.len(), "attempt", "attempts");
        match &confirmation.verdict {
            Verdict::Confirmed { witness, reproduce } => {
                let last = confirmation.attempts.last().map(Attempt::describe_choice);
                writeln!(
                    out,
                    "  = confirmed: an actual deadlock on attempt {} ({}; {} in all)",
                    confirmation.attempts.len(),
                    last.unwrap_or_default(),
                    seconds(confirmation.elapsed)
                )?;
                witness.write_text(out)?;
                writeln!(out, "  = reproduce: {reproduce}")?;
            }
            Verdict::NotConfirmed => {
                writeln!(
                    out,
                    "  = not confirmed after {tries} ({})",
                    seconds(confirmation.elapsed)
                )?;
                writeln!(out, "  = tried:")?;
                for attempt in &confirmation.attempts {
                    writeln!(out, "      {}. {}", attempt.number, attempt.command_shown)?;
                    writeln!(out, "         {}", attempt.describe())?;
                }
                writeln!(
                    out,
                    "  = note: not confirmed does not prove that the cycle cannot deadlock, only \
                     that these schedules did not reach it"
                )?;
            }
            Verdict::NotSteerable(reason) => {
                writeln!(out, "  = not confirmed: cannot steer towards it: {reason}")?;
            }
        }
        writeln!(out)?;
    }
    let predicted = confirmations.len();
    let confirmed = confirmations
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Confirmed { .. }))
        .count();
    let others = findings.len() - predicted;
    let mut line = if predicted == 0 {
        "lockscan: nothing to confirm: no potential deadlock in the traces".to_owned()
    } else {
        let attempts: usize = confirmations.iter().map(|c| c.attempts.len()).sum();
        let elapsed: Duration = confirmations.iter().map(|c| c.elapsed).sum();
        format!(
            "lockscan: {confirmed} of {} confirmed ({} in {})",
            plural(predicted, "potential deadlock", "potential deadlocks"),
            plural(attempts, "attempt", "attempts"),
            seconds(elapsed)
        )
    };
    if others > 0 {
        line.push_str(&format!(
            "; {} not subject to confirmation (see `lockscan analyze`)",
            plural(others, "other finding", "other findings")
        ));
    }
    writeln!(out, "{line}")?;
    if let Some(dir) = session {
        writeln!(
            out,
            "lockscan: the attempts' traces and output are in {}",
            dir.display()
        )?;
    }
    Ok(())
}

/// `lockscan analyze`'s JSON or SARIF report, with a `confirmation` on each potential deadlock
/// (in JSON, a field of the finding, with a `confirm` summary beside `summary`; in SARIF, a
/// property of the result).
fn write_data(
    out: &mut dyn Write,
    format: OutputFormat,
    findings: &[Finding],
    summary: &lockscan::report::Summary,
    confirmations: &[Confirmation],
) -> anyhow::Result<()> {
    let mut rendered = Vec::new();
    format
        .renderer(false)
        .render(findings, summary, &mut rendered)
        .context("cannot render the report")?;
    let mut report: Value = serde_json::from_slice(&rendered).context("the rendered report")?;
    let sarif = format == OutputFormat::Sarif;
    let listed = if sarif {
        report["runs"][0]["results"].as_array_mut()
    } else {
        report["findings"].as_array_mut()
    }
    .context("the report lists its findings")?;
    let same_order = listed.len() == findings.len();
    for confirmation in confirmations {
        let finding = &findings[confirmation.index];
        // The report lists the findings as given; matched by fingerprint should that change.
        let fingerprint = Value::from(finding.fingerprint());
        let entry = if same_order {
            listed.get_mut(confirmation.index)
        } else {
            listed.iter_mut().find(|entry| {
                entry["fingerprint"] == fingerprint
                    || entry["partialFingerprints"]
                        .as_object()
                        .is_some_and(|all| all.values().any(|v| *v == fingerprint))
            })
        };
        let Some(entry) = entry else { continue };
        let target = if sarif {
            &mut entry["properties"]
        } else {
            entry
        };
        if let Value::Object(target) = target {
            target.insert("confirmation".to_owned(), confirmation_json(confirmation));
        }
    }
    if !sarif {
        let confirmed = confirmations
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Confirmed { .. }))
            .count();
        report["confirm"] = json!({
            "potential_deadlocks": confirmations.len(),
            "confirmed": confirmed,
            "attempts": confirmations.iter().map(|c| c.attempts.len()).sum::<usize>(),
            "seconds": confirmations.iter().map(|c| c.elapsed.as_secs_f64()).sum::<f64>(),
        });
    }
    serde_json::to_writer_pretty(&mut *out, &report).context("cannot write the report")?;
    writeln!(out)?;
    Ok(())
}

fn confirmation_json(confirmation: &Confirmation) -> Value {
    let tried: Vec<Value> = confirmation.attempts.iter().map(Attempt::to_json).collect();
    let mut value = json!({
        "attempts": confirmation.attempts.len(),
        "seconds": confirmation.elapsed.as_secs_f64(),
        "tried": tried,
    });
    match &confirmation.verdict {
        Verdict::Confirmed { witness, reproduce } => {
            value["verdict"] = json!("confirmed");
            value["witness"] = witness.to_json();
            value["reproduce"] = json!(reproduce);
        }
        Verdict::NotConfirmed => value["verdict"] = json!("not-confirmed"),
        Verdict::NotSteerable(reason) => {
            value["verdict"] = json!("not-confirmed");
            value["reason"] = json!(reason);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_try_a_longer_bound_then_each_edge_alone() {
        let ms = Duration::from_millis;
        let tried: Vec<_> = (0..6).map(|k| choice(k, 2, ms(100))).collect();
        assert_eq!(
            tried,
            [
                (None, ms(100)),
                (None, ms(400)),
                (Some(0), ms(100)),
                (Some(1), ms(100)),
                (None, ms(400)),
                (None, ms(1600)),
            ]
        );
    }
}
