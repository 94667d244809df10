//! The lock-order graph of the HTML page, as SVG: the locks on an ellipse, each finding's
//! cycle on consecutive places, so that a cycle is drawn as a ring.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::fmt::Write as _;

use super::*;

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
    pub(super) fn graph_svg(
        &self,
        findings: &[Finding],
        colors: &BTreeMap<String, usize>,
    ) -> String {
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
        // The box around every node and the origin, plus the margin.
        let (mut min_x, mut max_x, mut min_y, mut max_y) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for p in &placed {
            min_x = min_x.min(p.x - p.half_width);
            max_x = max_x.max(p.x + p.half_width);
            min_y = min_y.min(p.y - p.half_height);
            max_y = max_y.max(p.y + p.half_height);
        }
        let (min_x, max_x) = (min_x - margin, max_x + margin);
        let (min_y, max_y) = (min_y - margin, max_y + margin);
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
}

const NODE_HEIGHT: f64 = 40.0;

/// A node placed on the page.
struct Placed {
    x: f64,
    y: f64,
    half_width: f64,
    half_height: f64,
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
