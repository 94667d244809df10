//! `lockscan export`: traces' timelines, for trace viewers (Chrome's trace event format).
//!
//! A trace file is read twice: once by the analysis (the findings, and a picture of each trace
//! without its holds and waits), once more for the holds and waits, each written out as it
//! ends. The export's memory is then the analysis' and what is open at a time, whatever the
//! trace's length. Standard input cannot be read twice: its picture is kept whole.

use std::fs::File;
use std::io::{BufReader, Write};

use anyhow::{Context, bail};
use lockscan::analysis::TimelineStream;
use lockscan::report::chrome::ChromeExport;
use lockscan::report::picture::{NamedPicture, TracePicture};
use lockscan::trace::TraceReader;

use super::graph::picture_exit;
use crate::args::{ExportArgs, ExportFormat, ReadArgs};
use crate::exit::Exit;
use crate::inputs::{Input, collect_inputs};
use crate::output::open_output;
use crate::replay::replay_pictured;

/// Reads what `analyze` reads (files, directories, `-`): one trace is one process of the
/// export, as before; several are a process each.
pub(crate) fn export(args: &ExportArgs) -> anyhow::Result<Exit> {
    let inputs = collect_inputs(&args.paths)?;
    let streamed = !inputs.iter().any(|input| matches!(input, Input::Stdin));
    let kept = if streamed { 0 } else { usize::MAX };
    let pictured = replay_pictured(&inputs, &args.read, Some(kept))?;
    if pictured.traces.is_empty() {
        bail!("no trace could be read: nothing to export");
    }
    let mut out = open_output(args.output.as_deref())?;
    let traces: Vec<(&str, &TracePicture)> = pictured
        .traces
        .iter()
        .map(|trace| (trace.file.as_str(), &trace.picture))
        .collect();
    match args.format {
        ExportFormat::Chrome => {
            let mut export = ChromeExport::begin(
                &traces,
                traces.len() > 1,
                &pictured.findings,
                &pictured.summary,
                &mut out,
            )
            .context("cannot write the export")?;
            for trace in &pictured.traces {
                if streamed {
                    export.start_trace().context("cannot write the export")?;
                    stream_trace(&mut export, trace, &inputs, &args.read)?;
                } else {
                    export
                        .whole_trace(&trace.picture)
                        .context("cannot write the export")?;
                }
            }
            export.finish().context("cannot write the export")?;
        }
    }
    out.flush().context("cannot write the export")?;
    Ok(picture_exit(&pictured.summary))
}

/// Reads `trace`'s file again and writes its holds and waits as they end. What cannot be read
/// the analysis has already said.
fn stream_trace(
    export: &mut ChromeExport<'_>,
    trace: &NamedPicture,
    inputs: &[Input],
    read: &ReadArgs,
) -> anyhow::Result<()> {
    let Some(path) = inputs.iter().find_map(|input| match input {
        Input::File(path) if input.name() == trace.file => Some(path),
        _ => None,
    }) else {
        return Ok(());
    };
    let file = File::open(path).with_context(|| format!("{}: cannot open", trace.file))?;
    let source = BufReader::with_capacity(1 << 16, file);
    let mut reader = TraceReader::new(source, trace.file.as_str(), read.input_format)
        .with_context(|| format!("{}: cannot read", trace.file))?;
    let mut stream = TimelineStream::new(&trace.picture);
    let write = |export: &mut ChromeExport<'_>, stream: &mut TimelineStream| {
        let (holds, waits) = stream.ended();
        for hold in holds {
            export.hold(&hold)?;
        }
        for wait in waits {
            export.wait(&wait)?;
        }
        std::io::Result::Ok(())
    };
    while let Some(event) = reader.next() {
        let Ok(event) = event else { continue };
        stream.event(&event, reader.timestamp());
        write(export, &mut stream).context("cannot write the export")?;
    }
    stream.end_of_trace();
    write(export, &mut stream).context("cannot write the export")
}
