//! One self-contained HTML page: the lock-order graph with the findings' cycles highlighted,
//! the findings beside it, every edge's threads and sites, and per trace a timeline of who held
//! which lock when and where a thread was blocked.
//!
//! Everything is inline (SVG, CSS, a few lines of JavaScript) and nothing is fetched, so the
//! page opens from a CI artifact or an air-gapped machine. The page reads fine without its
//! script, which only adds highlighting: pointing at a finding dims what is not its cycle.
//! The graph's layout is our own: the locks on an ellipse, each finding's cycle on consecutive
//! places, so a cycle is drawn as a ring.

mod graph;
mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::junit::escape_xml as esc;
use super::{Counts, Render, Summary, plural};
use crate::finding::Finding;
use crate::offline::picture::{Clock, LockGraph, NamedPicture, TracePicture, WaitFor, is_cycle};

/// Lock colors: distinct hues that keep dark text readable on their tint.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#bab0ac", "#86bcb6",
];

/// Renders the HTML report.
#[derive(Clone, Copy, Debug)]
pub struct HtmlRenderer<'a> {
    /// The merged lock-order graph.
    pub graph: &'a LockGraph,
    /// Each trace's picture, for its timeline.
    pub traces: &'a [NamedPicture],
    /// How many holds, and how many waits, one trace's timeline draws at most (the first
    /// ones); the page says how many it left out. [`MAX_DRAWN`] unless asked otherwise.
    pub max_drawn: usize,
}

/// How many holds, and how many waits, one trace's timeline draws by default: a browser stays
/// responsive with that many shapes, and a longer trace is better read in Perfetto
/// (`lockscan export --format chrome`). A replay for the page need keep no more
/// ([`Replay::keep_timeline_bounded`](crate::analysis::Replay::keep_timeline_bounded)).
pub const MAX_DRAWN: usize = 20_000;

/// How wide a text of `chars` characters is at `size` px, roughly (proportional fonts).
fn text_width(chars: usize, size: f64) -> f64 {
    chars as f64 * size * 0.58
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Space-separated finding numbers, for the `data-findings` attribute.
fn numbers(cycles: &[usize]) -> String {
    let list: Vec<String> = cycles.iter().map(ToString::to_string).collect();
    list.join(" ")
}

impl HtmlRenderer<'_> {
    /// The findings, each with its cycle, steps, reason and help.
    fn findings_html(&self, findings: &[Finding]) -> String {
        let mut html = String::new();
        if findings.is_empty() {
            html.push_str("<p class=\"empty\">No findings.</p>");
            return html;
        }
        html.push_str("<ol class=\"findings\">");
        for (number, finding) in findings.iter().enumerate() {
            let _ = write!(
                html,
                "<li class=\"finding {}\" data-finding=\"{number}\" data-kind=\"{}\">\
                 <div class=\"head\"><span class=\"badge\">{}</span> <code>{}</code></div>\
                 <p class=\"message\">{}</p>",
                finding.severity,
                finding.kind,
                finding.severity,
                finding.kind,
                esc(&finding.message)
            );
            if let Some(cycle) = finding.cycle_text() {
                let _ = write!(
                    html,
                    "<p class=\"cycle-text\">{}</p>",
                    esc(&cycle.replace('`', ""))
                );
            }
            if !finding.edges.is_empty() || !finding.vars.is_empty() {
                html.push_str("<ul class=\"steps\">");
                for step in &finding.edges {
                    let verb = if step.blocked {
                        "is blocked acquiring"
                    } else {
                        "acquired"
                    };
                    let _ = write!(
                        html,
                        "<li><b>{}</b> {verb} <b>{}</b>",
                        esc(&step.thread),
                        esc(&step.to)
                    );
                    if let Some(site) = &step.to_site {
                        let _ = write!(html, " at <code>{}</code>", esc(&site.to_string()));
                    }
                    let _ = write!(html, " while holding <b>{}</b>", esc(&step.from));
                    if let Some(site) = &step.from_site {
                        let _ = write!(
                            html,
                            " (acquired at <code>{}</code>)",
                            esc(&site.to_string())
                        );
                    }
                    html.push_str("</li>");
                }
                for access in &finding.vars {
                    let what = if access.write { "wrote" } else { "read" };
                    let _ = write!(
                        html,
                        "<li><b>{}</b> {what} <b>{}</b>",
                        esc(&access.thread),
                        esc(&access.var)
                    );
                    if let Some(site) = &access.site {
                        let _ = write!(html, " at <code>{}</code>", esc(&site.to_string()));
                    }
                    html.push_str("</li>");
                }
                html.push_str("</ul>");
            } else if let Some(site) = &finding.site {
                let _ = write!(
                    html,
                    "<p class=\"site\">at <code>{}</code></p>",
                    esc(&site.to_string())
                );
            }
            if !finding.reason.is_empty() {
                let _ = write!(html, "<p class=\"reason\">{}</p>", esc(&finding.reason));
            }
            if let Some(help) = &finding.help {
                let _ = write!(html, "<p class=\"help\">help: {}</p>", esc(help));
            }
            if let Some(trace) = &finding.trace {
                let _ = write!(
                    html,
                    "<p class=\"trace\">trace: <code>{}</code></p>",
                    esc(trace)
                );
            }
            html.push_str("</li>");
        }
        html.push_str("</ol>");
        html
    }

    /// Every edge with each way it was taken.
    fn edges_html(&self) -> String {
        let graph = self.graph;
        let mut html = String::from(
            "<table class=\"edges\"><thead><tr><th>held</th><th></th><th>acquired</th>\
             <th>thread</th><th>held since</th><th>acquired at</th></tr></thead><tbody>",
        );
        for edge in &graph.edges {
            for used in &edge.uses {
                let class = if edge.cycles.is_empty() {
                    ""
                } else {
                    " class=\"cycle\""
                };
                let mut thread = esc(&used.thread);
                if let Some(trace) = &used.trace {
                    let _ = write!(thread, " <small>({})</small>", esc(trace));
                }
                let _ = write!(
                    html,
                    "<tr{class} data-findings=\"{}\"><td>{}</td><td>→</td><td>{}</td><td>{thread}\
                     </td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                    numbers(&edge.cycles),
                    esc(&graph.nodes[edge.from].name),
                    esc(&graph.nodes[edge.to].name),
                    esc(used.from_site.as_deref().unwrap_or("?")),
                    esc(used.to_site.as_deref().unwrap_or("?"))
                );
            }
        }
        html.push_str("</tbody></table>");
        html
    }
}

// The page's style sheet and script (hovering or clicking a finding highlights its locks and
// edges) are files of their own, so that editors and linters see CSS and JavaScript.
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

impl Render for HtmlRenderer<'_> {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let several = self.traces.len() > 1;
        // One color per lock name, in graph order, then in order of appearance.
        let mut colors: BTreeMap<String, usize> = BTreeMap::new();
        for node in &self.graph.nodes {
            let next = colors.len();
            colors.entry(node.name.clone()).or_insert(next);
        }
        for trace in self.traces {
            for lock in &trace.picture.locks {
                let name = if several && !lock.named {
                    format!("{} ({})", lock.name, trace.file)
                } else {
                    lock.name.clone()
                };
                let next = colors.len();
                colors.entry(name).or_insert(next);
            }
        }
        let counts = Counts::of(findings);
        let files: Vec<&str> = self.traces.iter().map(|t| t.file.as_str()).collect();
        let title = format!("lockscan report: {}", files.join(", "));
        let mut page = String::new();
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head><body>",
            esc(&title)
        );
        let verdict = counts.tally();
        let verdict_class = if counts.errors > 0 { "bad" } else { "ok" };
        let mut trouble = String::new();
        if summary.unreadable_traces > 0 {
            let _ = write!(
                trouble,
                " · {}",
                plural(
                    summary.unreadable_traces,
                    "unreadable trace",
                    "unreadable traces"
                )
            );
        }
        let lines = summary
            .trace_errors
            .saturating_sub(summary.unreadable_traces);
        if lines > 0 {
            let _ = write!(
                trouble,
                " · {}",
                plural(lines, "unreadable line", "unreadable lines")
            );
        }
        if summary.trace_warnings > 0 {
            let _ = write!(
                trouble,
                " · {}",
                plural(summary.trace_warnings, "trace warning", "trace warnings")
            );
        }
        let _ = write!(
            page,
            "<header><h1>lockscan · {}</h1><p><span class=\"{verdict_class}\">{verdict}</span> \
             · {} · {} · {} in order edges, {} marked{}</p></header><main>",
            esc(&files.join(", ")),
            plural(summary.traces, "trace", "traces"),
            plural(summary.events as usize, "event", "events"),
            plural(self.graph.nodes.len(), "lock", "locks"),
            plural(self.graph.cycle_count(), "cycle", "cycles"),
            esc(&trouble)
        );
        let _ = write!(
            page,
            "<section id=\"graph\"><h2>Lock-order graph</h2>{}<p class=\"legend\">An arrow A → \
             B: a thread acquired B while holding A, labelled with the threads that did. \
             <span class=\"swatch\" style=\"background:#c62828\"></span>in a finding's cycle \
             <span class=\"swatch\" style=\"background:#90a4ae\"></span>other order. Point at a \
             finding to show its cycle; hover an arrow for its sites.</p></section>",
            self.graph_svg(findings, &colors)
        );
        let _ = write!(
            page,
            "<aside id=\"findings\"><h2>Findings ({})</h2>{}</aside>",
            findings.len(),
            self.findings_html(findings)
        );
        let _ = write!(
            page,
            "<section id=\"timeline\" class=\"wide\"><h2>Timeline</h2><p class=\"legend\">A row \
             per thread; a bar per lock hold, colored by lock, stacked when nested; hatched red: \
             blocked waiting; dashed: still held when the trace ended. Time is {}.</p>",
            if self
                .traces
                .iter()
                .all(|t| t.picture.clock == Clock::Nanoseconds)
            {
                "the trace's timestamps (ns)"
            } else {
                "the event number in the trace (the trace has no timestamps)"
            }
        );
        for trace in self.traces {
            let _ = write!(page, "<h3>{}</h3>", esc(&trace.file));
            let picture = &trace.picture;
            let holds = picture.holds.len() as u64 + picture.left_out_holds;
            let waits = picture.waits.len() as u64 + picture.left_out_waits;
            let max = self.max_drawn;
            if holds > max as u64 || waits > max as u64 {
                let left_out = holds.saturating_sub(max as u64) + waits.saturating_sub(max as u64);
                let _ = write!(
                    page,
                    "<p class=\"legend left-out\">This trace has {holds} holds and {waits} waits; \
                     the timeline draws the first {max} of each and leaves out {left_out} \
                     (`lockscan graph --max-drawn N` draws more). `lockscan export --format \
                     chrome` shows all of them in Perfetto.</p>"
                );
            }
            let _ = write!(
                page,
                "<div class=\"scroll\">{}</div>",
                self.timeline_svg(trace, several, &colors)
            );
        }
        page.push_str("</section>");
        let _ = write!(
            page,
            "<section id=\"edges\" class=\"wide scroll\"><h2>Lock-order edges</h2>{}</section>",
            self.edges_html()
        );
        let _ = writeln!(page, "</main><script>{SCRIPT}</script></body></html>");
        out.write_all(page.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::picture::tests::{AB_BA, one_trace};

    fn render(steps: &str) -> String {
        let (traces, findings) = one_trace(steps);
        let graph = LockGraph::build(&traces, &findings);
        let renderer = HtmlRenderer {
            graph: &graph,
            traces: &traces,
            max_drawn: MAX_DRAWN,
        };
        crate::report::testing::render(&renderer, &findings, &Summary::default())
    }

    #[test]
    fn the_page_shows_the_cycle_the_findings_and_the_timeline() {
        let html = render(AB_BA);
        assert!(html.contains("<g class=\"node cycle\" data-lock=\"a\" data-findings=\"0\">"));
        assert!(html.contains("<path class=\"edge cycle\" data-from=\"a\" data-to=\"b\""));
        assert!(html.contains("<path class=\"edge cycle\" data-from=\"b\" data-to=\"a\""));
        assert!(html.contains("data-kind=\"potential-deadlock\""));
        assert_eq!(html.matches("<g class=\"hold\"").count(), 5, "five holds");
        assert!(html.contains("<g class=\"thread-row\" data-thread=\"t3\">"));
    }

    #[test]
    fn nothing_is_fetched() {
        let html = render(AB_BA);
        for fetch in ["src=", "href=", "@import", "url(http", "fetch("] {
            assert!(!html.contains(fetch), "{fetch} in the page");
        }
    }

    #[test]
    fn blocked_waits_are_drawn_to_the_end() {
        let html = render("acq 1 1; acq 2 2; req 1 2; req 2 1");
        assert_eq!(html.matches("<g class=\"wait open\"").count(), 2, "{html}");
        assert!(html.contains("data-kind=\"deadlock\""));
    }

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(esc("<a href=\"x\">"), "&lt;a href=&quot;x&quot;&gt;");
    }

    #[test]
    fn a_long_trace_draws_the_first_holds_and_says_so() {
        let steps = vec!["acq 1 1; rel 1 1"; MAX_DRAWN + 5].join("; ");
        let html = render(&steps);
        assert_eq!(html.matches("<g class=\"hold\"").count(), MAX_DRAWN);
        assert!(html.contains(&format!("has {} holds", MAX_DRAWN + 5)));
    }
}
