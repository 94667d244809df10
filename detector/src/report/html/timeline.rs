//! Per trace, the timeline of the HTML page as SVG: who held which lock when, in lanes, and
//! where a thread was blocked.

use std::fmt::Write as _;

use super::*;

impl HtmlRenderer<'_> {
    /// One trace's timeline: a row per thread, a bar per hold, hatched bars for blocked waits.
    pub(super) fn timeline_svg(
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
        for (index, hold) in picture.holds.iter().enumerate().take(self.max_drawn) {
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
        for (index, wait) in picture.waits.iter().enumerate().take(self.max_drawn) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::picture::tests::picture;

    #[test]
    fn nested_holds_stack_in_lanes() {
        let (picture, _) = picture("acq 1 1; acq 1 2; rel 1 2; acq 1 3; rel 1 3; rel 1 1");
        let lanes = lanes(&picture);
        assert_eq!(lanes.of_holds, [0, 1, 1]);
        assert_eq!(lanes.counts[0], 2);
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(3.0), 2.0);
        assert_eq!(nice_step(13.0), 10.0);
        assert_eq!(nice_step(40.0), 50.0);
    }
}
