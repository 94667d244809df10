//! How a finding reads, laid out by annotate-snippets (what rustc uses): the headline, the
//! source lines of its sites with both ends of every lock-order edge labelled when the files
//! are readable from here, plain `= thread ...` lines for the sites that are not, then why and
//! how to fix it.
//!
//! A finding's `Display` (the live report, when a test panics or warns) is this layout without
//! colour, and `lockscan analyze`'s text report is the same with colour: `finding_report`
//! builds both. GitHub annotations and JUnit failures, whose readers show the location
//! themselves, take `plain_report`: the lines alone. It lives beside `Finding`, not in
//! `report`, because the live detector needs it without the `analyze` feature.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use annotate_snippets::{
    Annotation, AnnotationKind, Element, Group, Level, Origin, Renderer, Snippet,
};

use crate::finding::sources::SourceProvider;
use crate::finding::{Finding, FindingEdge, FindingKind, Severity};
use crate::ids::Mode;
use crate::site::Site;

/// The whole report of one finding, without a final newline.
///
/// It reads the source files its sites name from `provider`. That is affordable on the live
/// path too, where `Display` calls it: a finding is formatted at most once, never per lock
/// operation.
pub(crate) fn finding_report(
    finding: &Finding,
    renderer: &Renderer,
    provider: &dyn SourceProvider,
) -> String {
    let mut sources = Sources {
        provider,
        files: HashMap::new(),
    };
    let mut snippets: Vec<Element<'static>> = Vec::new();
    // What cannot be drawn on its source, as lines.
    let mut lines: Vec<String> = Vec::new();
    if let Some(site) = &finding.site {
        // Drawn with the edge or access at the same place, if there is one.
        let drawn_later = finding
            .edges
            .iter()
            .any(|e| e.to_site.as_ref() == Some(site))
            || finding.vars.iter().any(|v| v.site.as_ref() == Some(site));
        match sources.mark(site) {
            Some(_) if drawn_later => {}
            Some(mark) => snippets.push(draw(&[(mark, AnnotationKind::Primary, None)])),
            None => snippets.push(origin(site)),
        }
    }
    let mut previous: Option<&FindingEdge> = None;
    for edge in &finding.edges {
        // A chain a -> b -> c holds `b` from the acquisition the last step drew.
        let chained = previous.is_some_and(|p| {
            p.thread == edge.thread && p.to == edge.from && p.to_site == edge.from_site
        });
        previous = Some(edge);
        let step = Step::of(finding, edge);
        match draw_edge(&step, chained, &mut sources) {
            Some(drawn) => snippets.extend(drawn),
            None => lines.push(match also_holding(edge) {
                Some(also) => format!("{}\n  {also}", edge_line(&step)),
                None => edge_line(&step),
            }),
        }
        if let Some(backtrace) = &edge.backtrace {
            let mut text = format!("stack of thread `{}` taking `{}`:", edge.thread, edge.to);
            for frame in backtrace.lines() {
                // Under the line, as the plain report indents them.
                text.push_str("\n  | ");
                text.push_str(frame);
            }
            lines.push(text);
        }
    }
    // A race's accesses in one file are drawn together: often the same line twice.
    let mut accesses: Vec<Vec<(Mark, AnnotationKind, Option<String>)>> = Vec::new();
    for access in &finding.vars {
        let what = if access.write { "wrote" } else { "read" };
        let label = format!("thread `{}` {what} `{}`", access.thread, access.var);
        match access.site.as_ref().and_then(|site| sources.mark(site)) {
            Some(mark) => {
                let drawn = (mark, AnnotationKind::Primary, Some(label));
                match accesses
                    .iter_mut()
                    .find(|file| file[0].0.path == drawn.0.path)
                {
                    Some(file) => file.push(drawn),
                    None => accesses.push(vec![drawn]),
                }
            }
            None => lines.push(match &access.site {
                Some(site) => format!("{label} at {site}"),
                None => label,
            }),
        }
    }
    snippets.extend(accesses.iter().map(|file| draw(file)));
    if snippets.is_empty()
        && let Some(site) = finding.main_site()
    {
        // Nothing drawn: still say where, as rustc's reports always do.
        snippets.push(origin(site));
    }
    let mut notes: Vec<Element<'_>> = Vec::new();
    let mut plain = |text: String| notes.push(Level::NOTE.no_name().message(text).into());
    if let Some(trace) = &finding.trace {
        plain(format!("trace: {trace}"));
    }
    if let Some(seen) = seen_in(finding) {
        plain(seen);
    }
    if let Some(cycle) = finding.cycle_text() {
        plain(format!("cycle: {cycle}"));
    }
    lines.into_iter().for_each(plain);
    if !finding.reason.is_empty() {
        notes.push(Level::NOTE.message(finding.reason.as_str()).into());
    }
    if let Some(help) = &finding.help {
        notes.push(Level::HELP.message(help.as_str()).into());
    }
    let level = match finding.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let title = level
        .primary_title(finding.message.as_str())
        .id(finding.kind.as_str());
    renderer.render(&[Group::with_title(title).elements(snippets).elements(notes)])
}

/// The report of one finding as lines, drawing no source: for the formats whose readers show
/// the location themselves (GitHub annotations, JUnit failures). It keeps names exactly as
/// they are, where the terminal layout makes control characters visible.
#[cfg(feature = "analyze")]
pub(crate) fn plain_report(finding: &Finding) -> String {
    use std::fmt::Write as _;

    let mut text = format!(
        "{}[{}]: {}\n",
        finding.severity, finding.kind, finding.message
    );
    // Writing to a `String` cannot fail.
    let mut line = |args: std::fmt::Arguments<'_>| {
        let _ = writeln!(text, "{args}");
    };
    if let Some(site) = &finding.site {
        line(format_args!("  --> {site}"));
    }
    if let Some(seen) = seen_in(finding) {
        line(format_args!("   = {seen}"));
    }
    if let Some(cycle) = finding.cycle_text() {
        line(format_args!("   = cycle: {cycle}"));
    }
    for edge in &finding.edges {
        line(format_args!("   = {}", edge_line(&Step::of(finding, edge))));
        if let Some(also) = also_holding(edge) {
            line(format_args!("     {also}"));
        }
        for frame in edge.backtrace.iter().flat_map(|b| b.lines()) {
            line(format_args!("     | {frame}"));
        }
    }
    for access in &finding.vars {
        let what = if access.write { "wrote" } else { "read" };
        match &access.site {
            Some(site) => line(format_args!(
                "   = thread `{}` {what} `{}` at {site}",
                access.thread, access.var
            )),
            None => line(format_args!(
                "   = thread `{}` {what} `{}`",
                access.thread, access.var
            )),
        }
    }
    if !finding.reason.is_empty() {
        line(format_args!("   = note: {}", finding.reason));
    }
    if let Some(help) = &finding.help {
        line(format_args!("   = help: {help}"));
    }
    text
}

/// `seen in 3 traces (2 processes)`, for a finding that more than one trace showed.
fn seen_in(finding: &Finding) -> Option<String> {
    let seen = finding.occurrences.filter(|o| o.traces > 1)?;
    let processes = if seen.processes == 1 {
        "process"
    } else {
        "processes"
    };
    Some(format!(
        "seen in {} traces ({} {processes})",
        seen.traces, seen.processes
    ))
}

/// `--> site`, for a site whose source is not readable.
fn origin(site: &Site) -> Element<'static> {
    let origin = match (site.file(), site.line()) {
        (Some(file), Some(line)) => {
            let origin = Origin::path(file.to_owned()).line(line as usize);
            match site.column().filter(|&c| c >= 1) {
                Some(column) => origin.char_column(column as usize),
                None => origin,
            }
        }
        _ => Origin::path(site.to_string()),
    };
    origin.into()
}

/// What happened at an edge's end: `acquired `b``, `is blocked acquiring `b` (read)`.
fn acquisition(edge: &FindingEdge) -> String {
    let verb = if edge.blocked {
        "is blocked acquiring"
    } else {
        "acquired"
    };
    match edge.to_mode {
        Mode::Exclusive => format!("{verb} `{}`", edge.to),
        mode => format!("{verb} `{}` ({})", edge.to, mode.as_str()),
    }
}

/// ` (shared)`, ` (upgradable)`, or nothing for the usual exclusive mode.
fn mode_suffix(mode: Mode) -> String {
    match mode {
        Mode::Exclusive => String::new(),
        mode => format!(" ({})", mode.as_str()),
    }
}

/// An edge as the sentences of a report say it: the thread, what it did at the edge's end
/// (`acquired `b``), and what it held meanwhile (`while holding `a``). An edge from a lock to
/// itself, a re-lock, says `again` instead of naming the lock twice.
struct Step<'a> {
    edge: &'a FindingEdge,
    /// The first hold, as its label says it: `acquired `a``.
    first: String,
    /// What happened at the second site: `acquired `b``, `calls `read()` on `a` again`.
    action: String,
    /// What the thread held then: `while holding `a``, `while holding a read lock on it`.
    holding: String,
}

impl<'a> Step<'a> {
    fn of(finding: &Finding, edge: &'a FindingEdge) -> Step<'a> {
        // One lock held and taken again by one thread (a re-lock, or the deadlock of a second
        // `read` behind a queued writer): two locks that share a name are two entries in
        // `locks`, whatever their edge looks like.
        let again = edge.from == edge.to
            && finding.locks.len() == 1
            && matches!(finding.kind, FindingKind::ApiMisuse | FindingKind::Deadlock);
        if !again {
            return Step {
                edge,
                first: format!("acquired `{}`", edge.from),
                action: acquisition(edge),
                holding: format!("while holding `{}`", edge.from),
            };
        }
        let lock = &edge.to;
        if edge.from_mode == Mode::Shared && edge.to_mode == Mode::Shared {
            let blocked = if edge.blocked { " and is blocked" } else { "" };
            return Step {
                edge,
                first: format!("took a read lock on `{lock}`"),
                action: format!("calls `read()` on `{lock}` again{blocked}"),
                holding: "while holding a read lock on it".to_owned(),
            };
        }
        Step {
            edge,
            first: format!("acquired `{lock}`{}", mode_suffix(edge.from_mode)),
            action: format!("locks `{lock}` again{}", mode_suffix(edge.to_mode)),
            holding: format!("while holding it{}", mode_suffix(edge.from_mode)),
        }
    }
}

/// `also holding: `x``, when the thread held more than the edge's lock.
fn also_holding(edge: &FindingEdge) -> Option<String> {
    (!edge.held.is_empty()).then(|| format!("also holding: `{}`", edge.held.join("`, `")))
}

/// An edge as a line, for when its sites cannot be drawn.
fn edge_line(step: &Step<'_>) -> String {
    let edge = step.edge;
    let mut text = format!("thread `{}` {}", edge.thread, step.action);
    if let Some(site) = &edge.to_site {
        text.push_str(&format!(" at {site}"));
    }
    text.push(' ');
    text.push_str(&step.holding);
    if let Some(site) = &edge.from_site {
        text.push_str(&format!(" (acquired at {site})"));
    }
    text
}

/// An edge drawn on its source: where the held lock was acquired, then where the next one
/// was. `None` when the second site cannot be drawn. The first is drawn when it can be and
/// the previous step of a chain did not draw it already.
fn draw_edge(
    step: &Step<'_>,
    chained: bool,
    sources: &mut Sources,
) -> Option<Vec<Element<'static>>> {
    let edge = step.edge;
    let to = sources.mark(edge.to_site.as_ref()?)?;
    let from = match &edge.from_site {
        Some(site) if !chained => sources.mark(site),
        _ => None,
    };
    let mut then = match &from {
        Some(_) => format!("then {} {}", step.action, step.holding),
        None => format!("thread `{}` {} {}", edge.thread, step.action, step.holding),
    };
    if from.is_none()
        && !chained
        && let Some(site) = &edge.from_site
    {
        then.push_str(&format!(" (acquired at {site})"));
    }
    if let Some(also) = also_holding(edge) {
        then.push_str(", ");
        then.push_str(&also);
    }
    let second = (to, AnnotationKind::Primary, Some(then));
    let Some(from) = from else {
        return Some(vec![draw(&[second])]);
    };
    let first_label = format!("thread `{}` {}", edge.thread, step.first);
    let first = (from, AnnotationKind::Context, Some(first_label));
    if first.0.path == second.0.path {
        Some(vec![draw(&[first, second])])
    } else {
        Some(vec![draw(&[first]), draw(&[second])])
    }
}

/// A site found in its source file.
#[derive(Clone, Debug)]
struct Mark {
    path: String,
    text: Rc<str>,
    /// The site's line, from 1.
    line: usize,
    /// The line's bytes in `text`, without its line break.
    line_bytes: Range<usize>,
    /// The bytes to underline in `text`.
    span: Range<usize>,
}

/// Source files read so far from `provider`, by path; `None` for one it does not have.
struct Sources<'p> {
    provider: &'p dyn SourceProvider,
    files: HashMap<String, Option<Rc<str>>>,
}

impl Sources<'_> {
    /// Where `site` is in its file, when the file is readable from here and has that line.
    fn mark(&mut self, site: &Site) -> Option<Mark> {
        let path = site.file()?;
        let line = site.line()? as usize;
        let text = self
            .files
            .entry(path.to_owned())
            .or_insert_with(|| self.provider.source(path).map(Rc::from))
            .clone()?;
        let start = match line {
            0 => return None,
            1 => 0,
            _ => text.match_indices('\n').nth(line - 2)?.0 + 1,
        };
        let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        let end = if text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        let source = &text[start..end];
        let span = match site.column().filter(|&c| c >= 1) {
            Some(column) => {
                let at = source
                    .char_indices()
                    .nth(column as usize - 1)
                    .map_or(source.len(), |(i, _)| i);
                start + at..start + at + name_len(&source[at..])
            }
            // No column: the line without its indentation.
            None => {
                let indent = source.len() - source.trim_start().len();
                start + indent..end
            }
        };
        Some(Mark {
            path: path.to_owned(),
            text,
            line,
            line_bytes: start..end,
            span,
        })
    }
}

/// How many bytes of `code` to underline: the name it starts with (the method or function
/// called there, with its path), else one character. Only the name: a label after a whole
/// call's arguments would be pushed far to the right.
fn name_len(code: &str) -> usize {
    match code.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        Some(0) => code.chars().next().map_or(0, char::len_utf8),
        Some(end) => end,
        None => code.len(),
    }
}

/// A snippet of one file with the given marks annotated: the lines from the first mark's to
/// the last one's (annotate-snippets folds what lies between).
fn draw(marks: &[(Mark, AnnotationKind, Option<String>)]) -> Element<'static> {
    let first = marks.iter().map(|(m, ..)| m).min_by_key(|m| m.line);
    let first = first.expect("at least one mark");
    let last = marks.iter().map(|(m, ..)| m.line_bytes.end).max();
    let lines = first.line_bytes.start..last.expect("at least one mark");
    let annotations = marks
        .iter()
        .map(|(mark, kind, label)| -> Annotation<'static> {
            let span = mark.span.start - lines.start..mark.span.end - lines.start;
            kind.span(span).label(label.clone())
        });
    Snippet::source(first.text[lines.clone()].to_owned())
        .path(first.path.clone())
        .line_start(first.line)
        .annotations(annotations.collect::<Vec<_>>())
        .into()
}
