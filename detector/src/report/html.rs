//! One self-contained HTML page: the lock-order graph with the findings' cycles highlighted,
//! the findings beside it, every edge's threads and sites, and per trace a timeline of who held
//! which lock when and where a thread was blocked.
//!
//! Everything is inline (SVG, CSS, a few lines of JavaScript) and nothing is fetched, so the
//! page opens from a CI artifact or an air-gapped machine. The page reads fine without its
//! script, which only adds highlighting: pointing at a finding dims what is not its cycle.
//! The graph's layout is our own: the locks on an ellipse, each finding's cycle on consecutive
//! places, so a cycle is drawn as a ring.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::junit::escape_xml as esc;
use super::picture::{Clock, LockGraph, NamedPicture, TracePicture, WaitFor, is_cycle};
use super::{Counts, Render, Summary, plural};
use crate::finding::Finding;

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
}

/// A node placed on the page.
struct Placed {
    x: f64,
    y: f64,
    half_width: f64,
    half_height: f64,
}

const NODE_HEIGHT: f64 = 40.0;

/// How many holds, and how many waits, one trace's timeline draws at most: a browser stays
/// responsive with that many shapes, and a longer trace is better read in Perfetto
/// (`lockscan export --format chrome`).
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
    /// The order of the nodes around the ellipse: each cycle's locks in cycle order first.
    fn ring_order(&self, findings: &[Finding]) -> Vec<usize> {
        let graph = self.graph;
        let mut order: Vec<usize> = Vec::new();
        for finding in findings.iter().filter(|f| is_cycle(f)) {
            for step in &finding.edges {
                if let Some(node) = graph.node(&step.from, finding.trace.as_deref())
                    && !order.contains(&node)
                {
                    order.push(node);
                }
            }
        }
        for node in 0..graph.nodes.len() {
            if !order.contains(&node) {
                order.push(node);
            }
        }
        order
    }

    /// The lock-order graph as inline SVG.
    fn graph_svg(&self, findings: &[Finding], colors: &BTreeMap<String, usize>) -> String {
        let graph = self.graph;
        let mut svg = String::new();
        if graph.nodes.is_empty() {
            svg.push_str(
                "<p class=\"empty\">No lock-order edges: no thread acquired a lock while \
                 holding another.</p>",
            );
            return svg;
        }
        let order = self.ring_order(findings);
        let n = order.len();
        let widths: Vec<f64> = graph
            .nodes
            .iter()
            .map(|node| {
                let chars = node.name.chars().count().min(40);
                // Bold text runs wider than the estimate; the swatch takes the left edge.
                (text_width(chars, 13.0) * 1.15 + 34.0).max(90.0)
            })
            .collect();
        let perimeter: f64 = widths.iter().map(|w| w + 60.0).sum();
        let radius = (perimeter / (2.0 * PI)).max(if n == 1 { 0.0 } else { 110.0 });
        let (rx, ry) = (radius * 1.25, radius * 0.85);
        let mut placed: Vec<Placed> = graph
            .nodes
            .iter()
            .map(|_| Placed {
                x: 0.0,
                y: 0.0,
                half_width: 0.0,
                half_height: NODE_HEIGHT / 2.0,
            })
            .collect();
        for (slot, &node) in order.iter().enumerate() {
            // Two locks side by side read best; more go around from the top.
            let start = if n == 2 { PI } else { -PI / 2.0 };
            let angle = start + 2.0 * PI * slot as f64 / n as f64;
            placed[node].x = rx * angle.cos();
            placed[node].y = ry * angle.sin();
            placed[node].half_width = widths[node] / 2.0;
        }
        let margin = 70.0;
        let min_x = placed
            .iter()
            .map(|p| p.x - p.half_width)
            .fold(0.0, f64::min)
            - margin;
        let max_x = placed
            .iter()
            .map(|p| p.x + p.half_width)
            .fold(0.0, f64::max)
            + margin;
        let min_y = placed
            .iter()
            .map(|p| p.y - p.half_height)
            .fold(0.0, f64::min)
            - margin;
        let max_y = placed
            .iter()
            .map(|p| p.y + p.half_height)
            .fold(0.0, f64::max)
            + margin;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let _ = write!(
            svg,
            "<svg id=\"lock-graph\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
             aria-label=\"lock-order graph\" viewBox=\"{min_x:.1} {min_y:.1} {width:.1} \
             {height:.1}\" width=\"{width:.0}\" height=\"{height:.0}\">"
        );
        svg.push_str(
            "<defs>\
             <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
             markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
             fill=\"#78909c\"/></marker>\
             <marker id=\"arrow-cycle\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
             markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path \
             d=\"M0,0 L10,5 L0,10 z\" fill=\"#c62828\"/></marker></defs>",
        );
        // Edges first, so the nodes cover their ends.
        let mut labels = String::new();
        for edge in &graph.edges {
            let (a, b) = (&placed[edge.from], &placed[edge.to]);
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let length = (dx * dx + dy * dy).sqrt().max(1.0);
            // Bend to the left of the direction: A -> B and B -> A bend apart.
            let bend = 0.2 * length;
            let (cx, cy) = (
                (a.x + b.x) / 2.0 + dy / length * bend,
                (a.y + b.y) / 2.0 - dx / length * bend,
            );
            let (sx, sy) = boundary(a, cx, cy);
            let (ex, ey) = boundary(b, cx, cy);
            let in_cycle = !edge.cycles.is_empty();
            let class = if in_cycle { "edge cycle" } else { "edge" };
            let marker = if in_cycle { "arrow-cycle" } else { "arrow" };
            let label_class = if in_cycle {
                "edge-label cycle"
            } else {
                "edge-label"
            };
            let from = &graph.nodes[edge.from].name;
            let to = &graph.nodes[edge.to].name;
            let mut tip = format!("{from} → {to}");
            for used in &edge.uses {
                let _ = write!(
                    tip,
                    "\n{}: holding {} from {}, acquired {} at {}",
                    used.thread,
                    from,
                    used.from_site.as_deref().unwrap_or("?"),
                    to,
                    used.to_site.as_deref().unwrap_or("?")
                );
            }
            let _ = write!(
                svg,
                "<path class=\"{class}\" data-from=\"{}\" data-to=\"{}\" data-findings=\"{}\" \
                 d=\"M{sx:.1},{sy:.1} Q{cx:.1},{cy:.1} {ex:.1},{ey:.1}\" \
                 marker-end=\"url(#{marker})\"><title>{}</title></path>",
                esc(from),
                esc(to),
                numbers(&edge.cycles),
                esc(&tip)
            );
            let mut threads: Vec<&str> = edge.uses.iter().map(|u| u.thread.as_str()).collect();
            threads.dedup();
            let mut text = threads
                .iter()
                .take(2)
                .map(|t| shorten(t, 18))
                .collect::<Vec<_>>()
                .join(", ");
            if threads.len() > 2 {
                let _ = write!(text, " +{}", threads.len() - 2);
            }
            let (mx, my) = (
                0.25 * sx + 0.5 * cx + 0.25 * ex,
                0.25 * sy + 0.5 * cy + 0.25 * ey,
            );
            let w = text_width(text.chars().count(), 11.0) + 8.0;
            let _ = write!(
                labels,
                "<g class=\"{label_class}\" data-findings=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" \
                 width=\"{w:.1}\" height=\"16\" rx=\"3\"/><text x=\"{mx:.1}\" y=\"{:.1}\">{}</text>\
                 </g>",
                numbers(&edge.cycles),
                mx - w / 2.0,
                my - 8.0,
                my + 4.0,
                esc(&text)
            );
        }
        svg.push_str(&labels);
        for (index, node) in graph.nodes.iter().enumerate() {
            let p = &placed[index];
            let class = if node.cycles.is_empty() {
                "node"
            } else {
                "node cycle"
            };
            let color = PALETTE[colors.get(&node.name).copied().unwrap_or(0) % PALETTE.len()];
            let _ = write!(
                svg,
                "<g class=\"{class}\" data-lock=\"{}\" data-findings=\"{}\"><title>{} ({})</title>\
                 <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{NODE_HEIGHT}\" rx=\"8\"/>\
                 <rect class=\"swatch\" x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"{}\" \
                 style=\"fill:{color}\"/>\
                 <text class=\"name\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\
                 <text class=\"kind\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                esc(&node.name),
                numbers(&node.cycles),
                esc(&node.name),
                node.kind.as_str(),
                p.x - p.half_width,
                p.y - p.half_height,
                2.0 * p.half_width,
                p.x - p.half_width + 5.0,
                p.y - p.half_height + 6.0,
                NODE_HEIGHT - 12.0,
                p.x + 3.0,
                p.y - 2.0,
                esc(&shorten(&node.name, 40)),
                p.x + 3.0,
                p.y + 13.0,
                node.kind.as_str()
            );
        }
        svg.push_str("</svg>");
        svg
    }

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

    /// One trace's timeline: a row per thread, a bar per hold, hatched bars for blocked waits.
    fn timeline_svg(
        &self,
        trace: &NamedPicture,
        several: bool,
        colors: &BTreeMap<String, usize>,
    ) -> String {
        let picture = &trace.picture;
        const LABEL: f64 = 150.0;
        const PLOT: f64 = 880.0;
        const LANE: f64 = 20.0;
        const AXIS: f64 = 28.0;
        let t0 = picture.start_time();
        let t1 = picture.end_time().max(t0 + 1);
        // A little room after the last event, so what lasts to the end shows as lasting.
        let span = (t1 - t0) as f64 * 1.02;
        let x_of = |t: u64| LABEL + (t.saturating_sub(t0)) as f64 / span * PLOT;
        let lanes = lanes(picture);
        let mut rows: Vec<(usize, f64, usize)> = Vec::new(); // thread, y, lane count
        let mut y = AXIS;
        for (thread, &count) in lanes.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            rows.push((thread, y, count));
            y += count as f64 * LANE + 12.0;
        }
        let height = y + 4.0;
        let width = LABEL + PLOT + 10.0;
        let mut svg = String::new();
        if rows.is_empty() {
            svg.push_str("<p class=\"empty\">No lock was held in this trace.</p>");
            return svg;
        }
        let _ = write!(
            svg,
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} \
             {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\">\
             <defs><pattern id=\"hatch-{0}\" width=\"6\" height=\"6\" \
             patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" \
             height=\"6\" fill=\"#ffebee\"/><rect width=\"3\" height=\"6\" fill=\"#e57373\"/>\
             </pattern></defs>",
            trace_anchor(&trace.file)
        );
        // The axis: about eight ticks at round numbers.
        let step = nice_step((t1 - t0) as f64 / 8.0);
        let unit = match picture.clock {
            Clock::Events => "event",
            Clock::Nanoseconds => "ns",
        };
        let mut tick = (t0 as f64 / step).ceil() * step;
        while tick <= t1 as f64 {
            let x = x_of(tick as u64);
            let _ = write!(
                svg,
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick-label\" x=\"{x:.1}\" y=\"14\">{}</text>",
                AXIS - 6.0,
                height,
                tick as u64
            );
            tick += step;
        }
        let _ = write!(
            svg,
            "<text class=\"axis-unit\" x=\"{:.1}\" y=\"14\">{unit}</text>",
            LABEL - 8.0
        );
        for &(thread, top, count) in &rows {
            let name = &picture.threads[thread].name;
            let _ = write!(
                svg,
                "<g class=\"thread-row\" data-thread=\"{}\"><rect class=\"row-bg\" x=\"0\" \
                 y=\"{:.1}\" width=\"{width:.0}\" height=\"{:.1}\"/><text class=\"thread-name\" \
                 x=\"8\" y=\"{:.1}\">{}</text></g>",
                esc(name),
                top - 4.0,
                count as f64 * LANE + 8.0,
                top + 14.0,
                esc(&shorten(name, 20))
            );
        }
        let row_top = |thread: usize| rows.iter().find(|r| r.0 == thread).map_or(0.0, |r| r.1);
        let lock_name = |lock: usize| {
            let lock = &picture.locks[lock];
            if several && !lock.named {
                format!("{} ({})", lock.name, trace.file)
            } else {
                lock.name.clone()
            }
        };
        let when = |t: u64| match picture.clock {
            Clock::Events => format!("event {t}"),
            Clock::Nanoseconds => format!("{t} ns"),
        };
        for (index, hold) in picture.holds.iter().enumerate().take(MAX_DRAWN) {
            let start = picture.time(hold.start);
            let end = hold.end.map_or(t1, |m| picture.time(m));
            let x = x_of(start);
            let w = (x_of(end) - x).max(2.0);
            let y = row_top(hold.thread) + lanes.of_holds[index] as f64 * LANE;
            let lock = lock_name(hold.lock);
            let color = PALETTE[colors.get(&lock).copied().unwrap_or(0) % PALETTE.len()];
            let thread = &picture.threads[hold.thread].name;
            let mut tip = format!(
                "{thread} held {lock} ({}, {}) from {}",
                picture.locks[hold.lock].kind.as_str(),
                hold.mode.as_str(),
                when(start)
            );
            match hold.end {
                Some(_) => {
                    let _ = write!(tip, " to {}", when(end));
                }
                None => tip.push_str(" to the end of the trace (never released)"),
            }
            if let Some(site) = &hold.site {
                let _ = write!(tip, "\nacquired at {site}");
            }
            let class = if hold.end.is_none() {
                "hold open"
            } else {
                "hold"
            };
            let _ = write!(
                svg,
                "<g class=\"{class}\" data-lock=\"{}\"><title>{}</title><rect x=\"{x:.1}\" \
                 y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{color}\"/>",
                esc(&lock),
                esc(&tip),
                LANE - 4.0
            );
            label_inside(&mut svg, &lock, x, y, w);
            svg.push_str("</g>");
        }
        for (index, wait) in picture.waits.iter().enumerate().take(MAX_DRAWN) {
            let start = picture.time(wait.start);
            let end = wait.end.map_or(t1, |m| picture.time(m));
            let x = x_of(start);
            let w = (x_of(end) - x).max(3.0);
            let y = row_top(wait.thread) + lanes.of_waits[index] as f64 * LANE;
            let lock = lock_name(wait.lock);
            let thread = &picture.threads[wait.thread].name;
            let what = match &wait.waiting_for {
                WaitFor::Lock => format!("blocked on {lock}"),
                WaitFor::Condvar(condvar) => format!("waiting on {condvar}"),
            };
            let mut tip = format!("{thread} {what} from {}", when(start));
            match wait.end {
                Some(_) if wait.acquired => {
                    let _ = write!(tip, " to {}, then acquired it", when(end));
                }
                Some(_) => {
                    let _ = write!(tip, " to {}, then gave up (a timed lock)", when(end));
                }
                None => tip.push_str(", still blocked when the trace ended"),
            }
            if let Some(site) = &wait.site {
                let _ = write!(tip, "\nat {site}");
            }
            let class = if wait.end.is_none() {
                "wait open"
            } else {
                "wait"
            };
            let _ = write!(
                svg,
                "<g class=\"{class}\" data-lock=\"{}\"><title>{}</title><rect x=\"{x:.1}\" \
                 y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\" \
                 fill=\"url(#hatch-{})\"/>",
                esc(&lock),
                esc(&tip),
                LANE - 4.0,
                trace_anchor(&trace.file)
            );
            label_inside(&mut svg, &what, x, y, w);
            svg.push_str("</g>");
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Writes `text` inside a bar at (`x`, `y`) of width `w`, when it fits at least in part.
fn label_inside(svg: &mut String, text: &str, x: f64, y: f64, w: f64) {
    let room = ((w - 8.0) / text_width(1, 11.0)).floor();
    if room >= 4.0 {
        let _ = write!(
            svg,
            "<text class=\"bar-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 4.0,
            y + 12.0,
            esc(&shorten(text, room as usize))
        );
    }
}

/// An id-safe name for a trace's SVG definitions.
fn trace_anchor(file: &str) -> String {
    file.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A round tick step (1, 2 or 5 times a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 1.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.5 {
        1.0
    } else if fraction <= 3.5 {
        2.0
    } else if fraction <= 7.5 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// The point where the line from a node's center towards (`tx`, `ty`) leaves its box.
fn boundary(node: &Placed, tx: f64, ty: f64) -> (f64, f64) {
    let (dx, dy) = (tx - node.x, ty - node.y);
    let length = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (ux, uy) = (dx / length, dy / length);
    let scale_x = if ux.abs() > 1e-9 {
        node.half_width / ux.abs()
    } else {
        f64::INFINITY
    };
    let scale_y = if uy.abs() > 1e-9 {
        node.half_height / uy.abs()
    } else {
        f64::INFINITY
    };
    let t = scale_x.min(scale_y) + 4.0;
    (node.x + ux * t, node.y + uy * t)
}

/// Which lane of its thread's row each hold and wait is drawn in.
struct Lanes {
    of_holds: Vec<usize>,
    of_waits: Vec<usize>,
    /// Lanes per thread (0 for a thread that held nothing).
    counts: Vec<usize>,
}

/// Packs each thread's holds and waits into lanes: an interval goes in the lowest lane that
/// is free when it starts, so nested holds stack.
fn lanes(picture: &TracePicture) -> Lanes {
    let end = picture.end_time();
    // (thread, start, end, is_wait, index)
    let mut intervals: Vec<(usize, u64, u64, bool, usize)> = Vec::new();
    for (index, hold) in picture.holds.iter().enumerate() {
        let stop = hold.end.map_or(end + 1, |m| picture.time(m));
        intervals.push((hold.thread, picture.time(hold.start), stop, false, index));
    }
    for (index, wait) in picture.waits.iter().enumerate() {
        let stop = wait.end.map_or(end + 1, |m| picture.time(m));
        intervals.push((wait.thread, picture.time(wait.start), stop, true, index));
    }
    intervals.sort_by_key(|&(thread, start, _, is_wait, index)| (thread, start, is_wait, index));
    let mut result = Lanes {
        of_holds: vec![0; picture.holds.len()],
        of_waits: vec![0; picture.waits.len()],
        counts: vec![0; picture.threads.len()],
    };
    let mut busy_until: Vec<u64> = Vec::new();
    let mut current = usize::MAX;
    for (thread, start, stop, is_wait, index) in intervals {
        if thread != current {
            current = thread;
            busy_until.clear();
        }
        let lane = match busy_until.iter().position(|&until| until <= start) {
            Some(lane) => lane,
            None => {
                busy_until.push(0);
                busy_until.len() - 1
            }
        };
        busy_until[lane] = stop;
        if is_wait {
            result.of_waits[index] = lane;
        } else {
            result.of_holds[index] = lane;
        }
        result.counts[thread] = result.counts[thread].max(busy_until.len());
    }
    result
}

// The page's style sheet and script (hovering or clicking a finding highlights its locks and
// edges) are files of their own, so that editors and linters see CSS and JavaScript.
const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

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
        let verdict = format!(
            "{}, {}, {}",
            plural(counts.errors, "error", "errors"),
            plural(counts.warnings, "warning", "warnings"),
            plural(counts.notes, "note", "notes")
        );
        let verdict_class = if counts.errors > 0 { "bad" } else { "ok" };
        let mut trouble = String::new();
        if summary.trace_errors > 0 {
            let _ = write!(
                trouble,
                " · {}",
                plural(summary.trace_errors, "unreadable line", "unreadable lines")
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
            let (holds, waits) = (trace.picture.holds.len(), trace.picture.waits.len());
            if holds > MAX_DRAWN || waits > MAX_DRAWN {
                let _ = write!(
                    page,
                    "<p class=\"legend\">This trace has {holds} holds and {waits} waits; the \
                     timeline draws the first {MAX_DRAWN} of each. `lockscan export --format \
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
    use crate::report::picture::tests::{AB_BA, picture};

    fn render(steps: &str) -> String {
        let (picture, findings) = picture(steps);
        let traces = [NamedPicture {
            file: "t.json".into(),
            picture,
        }];
        let graph = LockGraph::build(&traces, &findings);
        let renderer = HtmlRenderer {
            graph: &graph,
            traces: &traces,
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
    fn nested_holds_stack_in_lanes() {
        let (picture, _) = picture("acq 1 1; acq 1 2; rel 1 2; acq 1 3; rel 1 3; rel 1 1");
        let lanes = lanes(&picture);
        assert_eq!(lanes.of_holds, [0, 1, 1]);
        assert_eq!(lanes.counts[0], 2);
    }

    #[test]
    fn a_long_trace_draws_the_first_holds_and_says_so() {
        let steps = vec!["acq 1 1; rel 1 1"; MAX_DRAWN + 5].join("; ");
        let html = render(&steps);
        assert_eq!(html.matches("<g class=\"hold\"").count(), MAX_DRAWN);
        assert!(html.contains(&format!("has {} holds", MAX_DRAWN + 5)));
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(3.0), 2.0);
        assert_eq!(nice_step(13.0), 10.0);
        assert_eq!(nice_step(40.0), 50.0);
    }
}
