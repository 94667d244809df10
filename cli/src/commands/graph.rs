//! `lockscan graph`: the lock-order graph of traces, as HTML, DOT or SVG.

use std::io::{self, Write};

use anyhow::{Context, bail};
use lockscan::report::dot::LockGraphRenderer;
use lockscan::report::html::HtmlRenderer;
use lockscan::report::picture::LockGraph;
use lockscan::report::{Render, Summary};

use crate::args::{GraphArgs, GraphFormat};
use crate::exit::Exit;
use crate::inputs::collect_inputs;
use crate::output::open_output;
use crate::replay::replay_pictured;

/// The exit code of a picture command that wrote its output.
pub(crate) fn picture_exit(summary: &Summary) -> Exit {
    if summary.trace_errors > 0 {
        Exit::Error
    } else {
        Exit::Clean
    }
}

pub(crate) fn graph(args: &GraphArgs) -> anyhow::Result<Exit> {
    let inputs = collect_inputs(&args.paths)?;
    // DOT and SVG draw no timeline: their pictures need no interval.
    let max_drawn = match args.format {
        GraphFormat::Html => args.max_drawn,
        GraphFormat::Dot | GraphFormat::Svg => 0,
    };
    let pictured = replay_pictured(&inputs, &args.read, Some(max_drawn))?;
    let graph = LockGraph::build(&pictured.traces, &pictured.findings);
    let mut rendered = Vec::new();
    match args.format {
        GraphFormat::Html => HtmlRenderer {
            graph: &graph,
            traces: &pictured.traces,
            max_drawn,
        }
        .render(&pictured.findings, &pictured.summary, &mut rendered)?,
        GraphFormat::Dot | GraphFormat::Svg => LockGraphRenderer { graph: &graph }.render(
            &pictured.findings,
            &pictured.summary,
            &mut rendered,
        )?,
    }
    if args.format == GraphFormat::Svg {
        rendered = run_graphviz(&rendered)?;
    }
    let mut out = open_output(args.output.as_deref())?;
    out.write_all(&rendered)
        .and_then(|()| out.flush())
        .context("cannot write the picture")?;
    Ok(picture_exit(&pictured.summary))
}

/// Draws `dot_text` as SVG with Graphviz's `dot`.
pub(crate) fn run_graphviz(dot_text: &[u8]) -> anyhow::Result<Vec<u8>> {
    use std::process::{Command, Stdio};
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == io::ErrorKind::NotFound => bail!(
            "`--format svg` needs Graphviz's `dot`, which is not on PATH; install Graphviz \
             (Debian/Ubuntu: `apt-get install graphviz`, Fedora: `dnf install graphviz`, \
             macOS: `brew install graphviz`), or write `--format dot` and draw it elsewhere, \
             or use `--format html`, which needs nothing"
        ),
        Err(err) => return Err(err).context("cannot run Graphviz's `dot`"),
    };
    // Write from another thread: `dot` may fill its output pipe before reading all its input.
    let mut stdin = child.stdin.take().context("no pipe to `dot`")?;
    let input = dot_text.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .context("cannot run Graphviz's `dot`")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to `dot` panicked"))?
        .context("cannot write to Graphviz's `dot`")?;
    if !output.status.success() {
        bail!(
            "Graphviz's `dot` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}
