//! `lockscan export`: one trace's timeline, for trace viewers (Chrome's trace event format).

use std::io::Write;

use anyhow::{Context, bail};
use lockscan::report::Render;
use lockscan::report::chrome::ChromeRenderer;

use super::graph::picture_exit;
use crate::args::{ExportArgs, ExportFormat};
use crate::inputs::collect_inputs;
use crate::output::open_output;
use crate::replay::replay_pictured;

pub(crate) fn export(args: &ExportArgs) -> anyhow::Result<u8> {
    if args.path.is_dir() {
        bail!(
            "{}: export takes one trace file, not a directory",
            args.path.display()
        );
    }
    let inputs = collect_inputs(std::slice::from_ref(&args.path))?;
    let pictured = replay_pictured(&inputs, &args.read, true)?;
    let Some(trace) = pictured.traces.first() else {
        bail!("{}: the trace could not be read", args.path.display());
    };
    let mut out = open_output(args.output.as_deref())?;
    match args.format {
        ExportFormat::Chrome => ChromeRenderer {
            picture: &trace.picture,
            file: &trace.file,
        }
        .render(&pictured.findings, &pictured.summary, &mut out),
    }
    .and_then(|()| out.flush())
    .context("cannot write the export")?;
    Ok(picture_exit(&pictured.summary))
}
