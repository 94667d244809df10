//! Reading and replaying traces for every command: diagnostics, progress, and the findings
//! of all traces together.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::rc::Rc;

use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::report::Summary;
use lockscan::report::picture::NamedPicture;
use lockscan::trace::TraceReader;

use crate::args::ReadArgs;
use crate::diagnostics;
use crate::inputs::Input;
use crate::progress;

/// How many unreadable lines of one trace are shown before the rest are only counted.
pub(crate) const MAX_ERRORS_SHOWN: usize = 20;

/// Traces replayed, and what the analysis found in them.
pub(crate) struct Pictured {
    /// Each trace's picture, when they were asked for.
    pub(crate) traces: Vec<NamedPicture>,
    pub(crate) findings: Vec<lockscan::Finding>,
    pub(crate) summary: Summary,
}

/// Reads and replays `inputs`, keeping each trace's picture when `pictures` says how many
/// holds and waits of each it keeps at most (the first ones). Diagnostics go to
/// standard error: unreadable lines (the first few of each trace), warnings, and a progress
/// line for big files when it is a terminal.
pub(crate) fn replay_pictured(
    inputs: &[Input],
    read: &ReadArgs,
    pictures: Option<usize>,
) -> anyhow::Result<Pictured> {
    let options = ReplayOptions {
        max_cycle_len: read.max_cycle_len.max(2),
        max_cycles: read.max_cycles.max(1),
        merge: true,
    };
    let mut analysis = Analysis::new(options.clone());
    let mut summary = Summary {
        complete: true,
        ..Summary::default()
    };
    let mut traces = Vec::new();
    for input in inputs {
        let name = input.name();
        let mut progress = None;
        let source: Box<dyn BufRead> = match input {
            Input::Stdin => Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock())),
            Input::File(path) => match File::open(path) {
                Ok(file) => {
                    let size = file.metadata().map_or(0, |m| m.len());
                    match progress::for_file(&name, size) {
                        Some(line) => {
                            progress = Some(Rc::clone(&line));
                            let reader = progress::ProgressReader::new(file, line);
                            Box::new(BufReader::with_capacity(1 << 16, reader))
                        }
                        None => Box::new(BufReader::with_capacity(1 << 16, file)),
                    }
                }
                Err(err) => {
                    diagnostics::error(format_args!("{name}: cannot open: {err}"))?;
                    summary.trace_errors += 1;
                    summary.unreadable_traces += 1;
                    continue;
                }
            },
        };
        let mut reader = match TraceReader::new(source, name.as_str(), read.input_format) {
            Ok(reader) => reader,
            Err(err) => {
                diagnostics::error(err)?;
                summary.trace_errors += 1;
                summary.unreadable_traces += 1;
                continue;
            }
        };
        let mut replay = Replay::new(options.clone());
        if let Some(max) = pictures {
            replay = replay.keep_timeline_bounded(max);
        }
        let mut errors = 0usize;
        let mut result = replay.run(&mut reader, |err| {
            errors += 1;
            if errors <= MAX_ERRORS_SHOWN {
                if let Some(line) = &progress {
                    line.clear();
                }
                // Diagnostics going nowhere (a closed stderr) must not stop the analysis.
                let _ = diagnostics::error(err);
            }
        });
        if let Some(line) = progress.take() {
            line.clear();
        }
        if errors > MAX_ERRORS_SHOWN {
            diagnostics::error(format_args!(
                "{name}: {} more unreadable lines not shown",
                errors - MAX_ERRORS_SHOWN
            ))?;
        }
        for warning in reader.warnings() {
            diagnostics::warning(warning)?;
        }
        for warning in &result.warnings {
            diagnostics::warning(format_args!("{name}: {warning}"))?;
        }
        summary.trace_errors += errors;
        summary.trace_warnings += reader.warnings().len() + result.warnings.len();
        summary.traces += 1;
        // Records as the file has them (an STD line is one event), not counting the
        // declarations the STD reader adds before an entity's first use.
        summary.events += reader.line();
        summary.complete &= result.complete;
        if let Some(picture) = result.picture.take() {
            traces.push(NamedPicture {
                file: name.clone(),
                picture,
            });
        }
        analysis.add(&name, result);
    }
    summary.complete &= analysis.complete;
    let findings = analysis.finish();
    Ok(Pictured {
        traces,
        findings,
        summary,
    })
}
