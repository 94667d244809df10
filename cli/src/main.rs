//! The `lockscan` command line tool.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lockscan::Severity;
use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::report::chrome::ChromeRenderer;
use lockscan::report::dot::LockGraphRenderer;
use lockscan::report::github::StepSummaryRenderer;
use lockscan::report::html::HtmlRenderer;
use lockscan::report::picture::{LockGraph, NamedPicture};
use lockscan::report::{OutputFormat, Render, Summary};
use lockscan::trace::{InputFormat, TraceReader};

mod baseline;
mod config;
mod convert;
mod progress;
mod run;

/// Exit code: no finding at or above `--fail-on`.
const EXIT_CLEAN: u8 = 0;
/// Exit code: findings at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, I/O or parse error.
const EXIT_ERROR: u8 = 2;

/// The variable GitHub Actions sets to the file a step appends its Markdown summary to.
const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// How many unreadable lines of one trace are shown before the rest are only counted.
const MAX_ERRORS_SHOWN: usize = 20;

/// The extensions a directory's trace files have.
const TRACE_EXTENSIONS: [&str; 5] = ["std", "json", "jsonl", "ndjson", "lstrace"];

const ANALYZE_HELP: &str = "\
Examples:
  lockscan analyze target/lockscan/bank-4242.json
  lockscan analyze target/lockscan/ --format json --output report.json
  lockscan analyze --fail-on never ../shared/corpus/std/StringBuffer.std
  lockscan analyze --input-format std - < trace.txt
  lockscan analyze traces/ --write-baseline baseline.json     # accept today's findings...
  lockscan analyze traces/ --baseline baseline.json           # ...and fail only on new ones
  lockscan analyze traces/ --config ci/lockscan.toml          # [[allow]] suppressions

Exit codes:
  0  no finding at or above --fail-on (or --write-baseline accepted them)
  1  findings at or above --fail-on
  2  usage, I/O, parse or configuration error

A directory is searched recursively for *.std, *.json, *.jsonl, *.ndjson and *.lstrace files. When several
traces are given, locks are also matched across them by name (else class) to find lock-order
cycles that only their union shows.";

const GRAPH_HELP: &str = "\
Examples:
  lockscan graph target/lockscan/bank-4242.json --format html --output report.html
  lockscan graph target/lockscan/ --format dot > locks.dot
  lockscan graph target/bank.json --format svg -o locks.svg    # needs Graphviz's `dot`

Formats:
  dot   Graphviz DOT: locks as nodes (name, kind), order edges labelled with thread and
        sites, the findings' cycles in red; sorted, so the output is stable
  html  one self-contained page (nothing fetched): the graph with every cycle highlighted,
        the findings beside it, each edge's threads and sites, and a per-thread timeline of
        lock holds and blocked waits
  svg   the DOT graph drawn by Graphviz's `dot` (install Graphviz for it)

Exit codes:
  0  the picture was written
  2  usage, I/O or parse error (the picture is still written when the traces could be read
     in part)

Traces usually have no timestamps: the timeline's time is then the event number.";

const EXPORT_HELP: &str = "\
Examples:
  lockscan export --format chrome target/bank.json --output bank.trace.json
  then open bank.trace.json in https://ui.perfetto.dev or chrome://tracing

The Chrome trace-event JSON has lock holds as async slices named after the lock, blocked
waits as slices on the thread's track, findings as instant events, and thread names as
metadata. A trace without timestamps is drawn with 1 µs per event.

Exit codes:
  0  the export was written
  2  usage, I/O or parse error";

/// Find deadlocks, lock-order inversions and lock misuse in recorded traces.
#[derive(Debug, Parser)]
#[command(name = "lockscan", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command (say `cargo test`) recording lock traces, then analyze them.
    #[command(after_help = run::HELP)]
    Run(run::RunArgs),
    /// Analyze traces (lockscan JSONL or compact, or RAPID STD) and report what they show.
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Draw the lock-order graph of traces, with the findings' cycles highlighted (DOT, a
    /// self-contained HTML report with timelines, or SVG).
    #[command(after_help = GRAPH_HELP)]
    Graph(GraphArgs),
    /// Export a trace for a timeline viewer (Chrome trace-event JSON, for Perfetto).
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Convert a trace between JSONL and the compact encoding (or from RAPID STD).
    #[command(after_help = convert::HELP)]
    Convert(convert::ConvertArgs),
}

/// What the picture commands share with `analyze`: how traces are read and searched.
#[derive(Debug, Args)]
struct ReadArgs {
    /// The trace format; `auto` decides from the first byte of each trace.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    input_format: InputFormatArg,

    /// The longest lock-order cycle listed, in locks. A group of locks whose only cycles are
    /// longer is still reported, with its shortest cycle.
    #[arg(long, default_value_t = 8, value_name = "N")]
    max_cycle_len: usize,

    /// How many cycles to enumerate at most (each group of locks in a cycle is reported all
    /// the same).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_cycles: usize,
}

#[derive(Debug, Args)]
struct GraphArgs {
    /// Trace files, directories of traces, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The picture format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,

    /// Where to write the picture (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Dot,
    Html,
    Svg,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The trace file, or `-` for standard input.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// The export format.
    #[arg(long, value_enum)]
    format: ExportFormat,

    /// Where to write the export (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// Chrome trace-event JSON (Perfetto, chrome://tracing).
    Chrome,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// Trace files, directories of traces, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    report: ReportArgs,
}

/// What to report and how: shared by `analyze` and `run`.
#[derive(Debug, Args)]
struct ReportArgs {
    /// The report format. With `github`, a Markdown summary is also appended to the file
    /// GITHUB_STEP_SUMMARY names, when it is set.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,

    /// Where to write the report (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The least severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,

    #[command(flatten)]
    read: ReadArgs,

    /// When to color the text report. `auto` colors a terminal, unless NO_COLOR is set;
    /// CLICOLOR_FORCE colors a pipe too.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,

    /// A baseline (from `--write-baseline`) or a previous `--format json` report: findings
    /// with a fingerprint in it are known, not shown, and do not fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Accept today's findings: write their fingerprints to FILE (for `--baseline`). The
    /// report still shows them, but they do not fail this run.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,

    /// The configuration with `[[allow]]` suppressions [default: lockscan.toml in the current
    /// directory, when there is one].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Sarif,
    Github,
    Junit,
    Dot,
}

impl From<FormatArg> for OutputFormat {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Text => OutputFormat::Text,
            FormatArg::Json => OutputFormat::Json,
            FormatArg::Sarif => OutputFormat::Sarif,
            FormatArg::Github => OutputFormat::Github,
            FormatArg::Junit => OutputFormat::Junit,
            FormatArg::Dot => OutputFormat::Dot,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Note,
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Note => Some(Severity::Note),
            FailOn::Never => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InputFormatArg {
    Auto,
    Jsonl,
    Compact,
    Std,
}

impl From<InputFormatArg> for InputFormat {
    fn from(format: InputFormatArg) -> Self {
        match format {
            InputFormatArg::Auto => InputFormat::Auto,
            InputFormatArg::Jsonl => InputFormat::Jsonl,
            InputFormatArg::Compact => InputFormat::Compact,
            InputFormatArg::Std => InputFormat::Std,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" that exit 0; usage errors exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Analyze(args) => analyze(&args.paths, &args.report),
        Command::Run(args) => run::run(&args, analyze),
        Command::Graph(args) => graph(&args),
        Command::Export(args) => export(&args),
        Command::Convert(args) => convert::convert(&args),
    }
}

/// Traces replayed, and what the analysis found in them.
struct Pictured {
    /// Each trace's picture, when they were asked for.
    traces: Vec<NamedPicture>,
    findings: Vec<lockscan::Finding>,
    summary: Summary,
}

/// Reads and replays `inputs`, keeping each trace's picture when `pictures`. Diagnostics go to
/// standard error: unreadable lines (the first few of each trace), warnings, and a progress
/// line for big files when it is a terminal.
fn replay_pictured(inputs: &[Input], read: &ReadArgs, pictures: bool) -> anyhow::Result<Pictured> {
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
    let stderr = io::stderr();
    let mut diagnostics = stderr.lock();
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
                    writeln!(diagnostics, "error: {name}: cannot open: {err}")?;
                    summary.trace_errors += 1;
                    continue;
                }
            },
        };
        let mut reader = match TraceReader::new(source, name.as_str(), read.input_format.into()) {
            Ok(reader) => reader,
            Err(err) => {
                writeln!(diagnostics, "error: {err}")?;
                summary.trace_errors += 1;
                continue;
            }
        };
        let mut replay = Replay::new(options.clone());
        if pictures {
            replay = replay.keep_timeline();
        }
        let mut errors = 0usize;
        let mut result = replay.run(&mut reader, |err| {
            errors += 1;
            if errors <= MAX_ERRORS_SHOWN {
                if let Some(line) = &progress {
                    line.clear();
                }
                // Diagnostics going nowhere (a closed stderr) must not stop the analysis.
                let _ = writeln!(diagnostics, "error: {err}");
            }
        });
        if let Some(line) = progress.take() {
            line.clear();
        }
        if errors > MAX_ERRORS_SHOWN {
            writeln!(
                diagnostics,
                "error: {name}: {} more unreadable lines not shown",
                errors - MAX_ERRORS_SHOWN
            )?;
        }
        for warning in reader.warnings() {
            writeln!(diagnostics, "warning: {warning}")?;
        }
        for warning in &result.warnings {
            writeln!(diagnostics, "warning: {name}: {warning}")?;
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

/// Opens the output: a file, or standard output for none or `-`.
fn open_output(output: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) if path != Path::new("-") => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

/// The exit code of a picture command that wrote its output.
fn picture_exit(summary: &Summary) -> u8 {
    if summary.trace_errors > 0 {
        EXIT_ERROR
    } else {
        EXIT_CLEAN
    }
}

fn graph(args: &GraphArgs) -> anyhow::Result<u8> {
    let inputs = collect_inputs(&args.paths)?;
    let pictured = replay_pictured(&inputs, &args.read, true)?;
    let graph = LockGraph::build(&pictured.traces, &pictured.findings);
    let mut rendered = Vec::new();
    match args.format {
        GraphFormat::Html => HtmlRenderer {
            graph: &graph,
            traces: &pictured.traces,
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
fn run_graphviz(dot_text: &[u8]) -> anyhow::Result<Vec<u8>> {
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

fn export(args: &ExportArgs) -> anyhow::Result<u8> {
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

/// One input: a file, or standard input.
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

fn analyze(paths: &[PathBuf], args: &ReportArgs) -> anyhow::Result<u8> {
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
    } = replay_pictured(&inputs, &args.read, false)?;
    let stderr = io::stderr();
    let mut diagnostics = stderr.lock();
    // Suppressions first: a finding both allowed and baselined counts as allowed, so its entry
    // is not reported as unused.
    if let Some(suppressions) = &mut suppressions {
        summary.suppressed = suppressions.apply(&mut findings);
        summary.unused_suppressions = suppressions.unused();
        for unused in &summary.unused_suppressions {
            writeln!(diagnostics, "warning: {}", config::unused_warning(unused))?;
        }
    }
    // Written before the old baseline filters anything: the new file holds every finding that
    // is not suppressed, so rewriting it also forgets the fixed ones.
    if let Some(path) = &args.write_baseline {
        let written = baseline::write(path, &findings)?;
        writeln!(
            diagnostics,
            "lockscan: {}: {written} finding{} accepted",
            path.display(),
            if written == 1 { "" } else { "s" }
        )?;
    }
    if let Some(known) = &baseline {
        let before = findings.len();
        findings.retain(|finding| !known.contains(&finding.fingerprint()));
        summary.baselined = before - findings.len();
    }

    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            let set =
                |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
            // NO_COLOR (no-color.org) wins over CLICOLOR_FORCE; an explicit flag wins over both.
            !set("NO_COLOR")
                && (set("CLICOLOR_FORCE")
                    || (writes_to_stdout(args.output.as_deref()) && io::stdout().is_terminal()))
        }
    };
    let renderer = OutputFormat::from(args.format).renderer(color);
    let mut out: Box<dyn Write> = match args.output.as_deref() {
        Some(path) if path != Path::new("-") => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout().lock())),
    };
    renderer
        .render(&findings, &summary, &mut out)
        .and_then(|()| out.flush())
        .context("cannot write the report")?;
    if args.format == FormatArg::Github {
        append_step_summary(&findings, &summary)?;
    }

    if summary.trace_errors > 0 {
        return Ok(EXIT_ERROR);
    }
    // The findings just written to a baseline are accepted: as `--baseline` with that file
    // would, they do not fail the run.
    let failing = args.write_baseline.is_none()
        && args
            .fail_on
            .threshold()
            .is_some_and(|threshold| findings.iter().any(|f| f.severity >= threshold));
    Ok(if failing { EXIT_FINDINGS } else { EXIT_CLEAN })
}

/// Appends the Markdown job summary to the file GitHub Actions names in `GITHUB_STEP_SUMMARY`,
/// when it names one.
fn append_step_summary(findings: &[lockscan::Finding], summary: &Summary) -> anyhow::Result<()> {
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

fn writes_to_stdout(output: Option<&Path>) -> bool {
    output.is_none_or(|path| path == Path::new("-"))
}

/// Expands the command line's paths: files as they are, directories into their trace files
/// (sorted, so reports are reproducible), `-` into standard input.
fn collect_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        if path == Path::new("-") {
            if stdin_seen {
                bail!("`-` (standard input) can be given only once");
            }
            stdin_seen = true;
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                bail!(
                    "{}: no trace files (*.{}) in this directory",
                    path.display(),
                    TRACE_EXTENSIONS.join(", *.")
                );
            }
            found.sort();
            inputs.extend(found.into_iter().map(Input::File));
        } else {
            // A missing file is reported when it is opened, with the other traces analyzed.
            inputs.push(Input::File(path.clone()));
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        // `file_type` does not follow symbolic links: a linked directory is not entered, so a
        // link loop cannot make the walk endless; a linked file counts like a file.
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            walk(&path, found)?;
        } else if path.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| TRACE_EXTENSIONS.contains(&e))
        {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fail_on_thresholds() {
        assert_eq!(FailOn::Warning.threshold(), Some(Severity::Warning));
        assert_eq!(FailOn::Never.threshold(), None);
    }
}
