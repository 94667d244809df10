//! `lockscan export`: traces' timelines, for trace viewers (Chrome's trace event format).

use std::io::Write;

use anyhow::{Context, bail};
use lockscan::report::Render;
use lockscan::report::chrome::{ChromeRenderer, ChromeTracesRenderer};

use super::graph::picture_exit;
use crate::args::{ExportArgs, ExportFormat};
use crate::exit::Exit;
use crate::inputs::collect_inputs;
use crate::output::open_output;
use crate::replay::replay_pictured;

/// Reads what `analyze` reads (files, directories, `-`): one trace is one process of the
/// export, as before; several are a process each.
pub(crate) fn export(args: &ExportArgs) -> anyhow::Result<Exit> {
    let inputs = collect_inputs(&args.paths)?;
    let pictured = replay_pictured(&inputs, &args.read, true)?;
    if pictured.traces.is_empty() {
        bail!("no trace could be read: nothing to export");
    }
    let mut out = open_output(args.output.as_deref())?;
    let rendered = match (args.format, pictured.traces.as_slice()) {
        (ExportFormat::Chrome, [trace]) => ChromeRenderer {
            picture: &trace.picture,
            file: &trace.file,
        }
        .render(&pictured.findings, &pictured.summary, &mut out),
        (ExportFormat::Chrome, traces) => {
            ChromeTracesRenderer { traces }.render(&pictured.findings, &pictured.summary, &mut out)
        }
    };
    rendered
        .and_then(|()| out.flush())
        .context("cannot write the export")?;
    Ok(picture_exit(&pictured.summary))
}
