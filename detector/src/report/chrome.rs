//! Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and `chrome://tracing`.
//!
//! - Lock holds are async slices named after the lock (`b`/`e` events): holds of different
//!   locks by one thread overlap without nesting, which thread-track slices cannot show. The
//!   async id is the lock's, so each lock gets a track of its own; holds that overlap on one
//!   lock (shared read holds, semaphore permits) get another id each, which the viewers show
//!   as further tracks of the same name, so no slice nests wrongly.
//! - Blocked waits are complete slices (`X`) on the waiting thread's track.
//! - Findings are instant events (`i`) on the thread and at the moment the finding's first
//!   step happened, else global at the end of the trace.
//! - Thread and process names are metadata events (`M`).
//!
//! Timestamps are microseconds. A trace without timestamps is drawn with one microsecond per
//! event, so that the order and overlap are right and the scale is the event count.
//!
//! [`ChromeRenderer`] draws one trace as one process; [`ChromeTracesRenderer`] draws several,
//! each a process of its own (named after its file), each from its own start.

use std::borrow::Cow;
use std::io::{self, Write};

use super::{Render, Summary};
use crate::finding::Finding;
use crate::offline::picture::{
    BlockedWait, Clock, Hold, Moment, NamedPicture, TracePicture, WaitFor,
};
use crate::site::Site;
use wire::{Args, FindingArgs, HoldArgs, Micros, OtherData, TraceEvent, WaitArgs};

/// The process id the events use: a trace is one process.
const PID: u64 = 1;

/// Renders one trace's picture as Chrome trace-event JSON.
#[derive(Clone, Copy, Debug)]
pub struct ChromeRenderer<'a> {
    /// The trace drawn.
    pub picture: &'a TracePicture,
    /// The trace's file name, shown as the process name.
    pub file: &'a str,
}

impl Render for ChromeRenderer<'_> {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let traces = [(self.file, self.picture)];
        let mut export = ChromeExport::begin(&traces, false, findings, summary, out)?;
        export.whole_trace(self.picture)?;
        export.finish()
    }
}

/// Renders several traces' pictures as one Chrome trace-event document: each trace is a
/// process (numbered from 1 in the given order, named after its file), drawn from its own
/// start. A finding is drawn in every trace whose timeline shows its first step, and in the
/// trace it names (else the first) when none does.
#[derive(Clone, Copy, Debug)]
pub struct ChromeTracesRenderer<'a> {
    /// The traces drawn.
    pub traces: &'a [NamedPicture],
}

impl Render for ChromeTracesRenderer<'_> {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let traces: Vec<(&str, &TracePicture)> = self
            .traces
            .iter()
            .map(|t| (t.file.as_str(), &t.picture))
            .collect();
        let mut export = ChromeExport::begin(&traces, true, findings, summary, out)?;
        for trace in self.traces {
            export.whole_trace(&trace.picture)?;
        }
        export.finish()
    }
}

/// What is known of one finding's first steps in the trace being exported: where each step's
/// thread held (and waited for) the step's lock first.
#[derive(Clone, Debug)]
struct StepPlace {
    thread: usize,
    lock: usize,
    to_site: Option<Site>,
    blocked: bool,
    held: Option<Moment>,
    waited: Option<Moment>,
}

/// The trace being exported.
struct Current<'a> {
    picture: &'a TracePicture,
    pid: u64,
    origin: u64,
    /// Per lock, when each of its tracks is free again.
    free_at: Vec<Vec<u64>>,
    /// Per finding, its steps as this trace can place them (`None`: the step's thread or lock
    /// is not in the trace).
    steps: Vec<Vec<Option<StepPlace>>>,
}

impl Current<'_> {
    /// A moment in trace-event microseconds, from the picture's start.
    fn micros(&self, moment: Moment) -> Micros {
        let since = self.picture.time(moment).saturating_sub(self.origin);
        match self.picture.clock {
            Clock::Events => Micros::Events(since),
            Clock::Nanoseconds => Micros::Nanoseconds(since as f64 / 1000.0),
        }
    }

    fn tid(&self, thread: usize) -> u64 {
        self.picture.threads[thread].id.0
    }

    /// Where a finding goes: the thread and moment of its first step that the timeline shows.
    fn place(&self, finding: usize) -> Option<(usize, Moment)> {
        self.steps[finding].iter().flatten().find_map(|step| {
            let at = if step.blocked {
                step.waited.or(step.held)
            } else {
                step.held
            };
            Some((step.thread, at?))
        })
    }
}

/// A Chrome trace-event document written as it goes: the traces' holds and waits are handed
/// in one at a time (in any order) and written at once, so that an export of a trace of any
/// length keeps only what the pictures without their intervals need (see
/// [`TimelineStream`](crate::analysis::TimelineStream)). The findings are written after each
/// trace's intervals, where its holds place them.
///
/// The document is the one `serde_json::to_writer_pretty` would write of it, keys sorted.
pub struct ChromeExport<'a> {
    out: &'a mut dyn Write,
    traces: &'a [(&'a str, &'a TracePicture)],
    several: bool,
    findings: &'a [Finding],
    /// Whether a trace showed the finding, so that it is not drawn at the end.
    placed: Vec<bool>,
    next: usize,
    current: Option<Current<'a>>,
    first_event: bool,
}

impl<'a> ChromeExport<'a> {
    /// Writes the document's start. `traces` are each trace's file name and picture, the
    /// intervals of which need not be there (they are handed in with
    /// [`ChromeExport::hold`] and [`ChromeExport::wait`]); `several` numbers the processes.
    pub fn begin(
        traces: &'a [(&'a str, &'a TracePicture)],
        several: bool,
        findings: &'a [Finding],
        summary: &Summary,
        out: &'a mut dyn Write,
    ) -> io::Result<Self> {
        let clocks: Vec<Clock> = traces.iter().map(|(_, p)| p.clock).collect();
        let nanoseconds = !clocks.is_empty() && clocks.iter().all(|&c| c == Clock::Nanoseconds);
        let time = match clocks.first() {
            Some(&first) if clocks.iter().all(|&c| c == first) => time_text(first),
            _ => "per trace: its ts_ns where it has them, else 1 µs per trace event",
        };
        let names: Vec<&str> = traces.iter().map(|(file, _)| *file).collect();
        let other_data = OtherData {
            events: summary.events,
            time,
            tool: concat!("lockscan ", env!("CARGO_PKG_VERSION")),
            trace: Cow::Owned(names.join(", ")),
        };
        out.write_all(b"{\n")?;
        // Real durations are short: show them in ns rather than the default ms.
        if nanoseconds {
            out.write_all(b"  \"displayTimeUnit\": \"ns\",\n")?;
        }
        out.write_all(b"  \"otherData\": ")?;
        write_indented(out, &other_data, "  ")?;
        out.write_all(b",\n  \"traceEvents\": [")?;
        Ok(ChromeExport {
            out,
            traces,
            several,
            findings,
            placed: vec![false; findings.len()],
            next: 0,
            current: None,
            first_event: true,
        })
    }

    fn event(&mut self, event: &TraceEvent<'_>) -> io::Result<()> {
        self.out.write_all(if self.first_event {
            b"\n    "
        } else {
            b",\n    "
        })?;
        self.first_event = false;
        write_indented(self.out, event, "    ")
    }

    /// Starts the next trace: its process and thread names.
    pub fn start_trace(&mut self) -> io::Result<()> {
        self.end_trace()?;
        let Some(&(file, picture)) = self.traces.get(self.next) else {
            return Ok(());
        };
        let index = self.next;
        self.next += 1;
        let pid = if self.several { index as u64 + 1 } else { PID };
        let steps = self
            .findings
            .iter()
            .map(|finding| {
                let step = |step: &crate::finding::FindingEdge| {
                    let thread = picture.threads.iter().position(|t| t.name == step.thread)?;
                    let lock = picture.locks.iter().position(|l| l.name == step.to)?;
                    Some(StepPlace {
                        thread,
                        lock,
                        to_site: step.to_site.clone(),
                        blocked: step.blocked,
                        held: None,
                        waited: None,
                    })
                };
                finding.edges.iter().map(step).collect()
            })
            .collect();
        if self.several {
            self.event(&TraceEvent {
                args: Some(Args::SortIndex { sort_index: index }),
                pid,
                ..TraceEvent::new("M", "process_sort_index", 0)
            })?;
        }
        self.event(&TraceEvent {
            args: Some(Args::Name {
                name: Cow::Owned(format!("lockscan: {file}")),
            }),
            pid,
            ..TraceEvent::new("M", "process_name", 0)
        })?;
        for (index, thread) in picture.threads.iter().enumerate() {
            self.event(&TraceEvent {
                args: Some(Args::Name {
                    name: Cow::Borrowed(&thread.name),
                }),
                pid,
                ..TraceEvent::new("M", "thread_name", thread.id.0)
            })?;
            self.event(&TraceEvent {
                args: Some(Args::SortIndex { sort_index: index }),
                pid,
                ..TraceEvent::new("M", "thread_sort_index", thread.id.0)
            })?;
        }
        self.current = Some(Current {
            picture,
            pid,
            origin: picture.start_time(),
            free_at: vec![Vec::new(); picture.locks.len()],
            steps,
        });
        Ok(())
    }

    /// A hold of the current trace. Holds handed in by their start (a picture's) or by their
    /// end (a [`TimelineStream`](crate::analysis::TimelineStream)'s) share tracks without
    /// overlap.
    pub fn hold(&mut self, hold: &Hold) -> io::Result<()> {
        let Some(current) = &mut self.current else {
            return Ok(());
        };
        let picture = current.picture;
        let start = picture.time(hold.start);
        let stop = hold.end.map_or(u64::MAX, |m| picture.time(m));
        let tracks = &mut current.free_at[hold.lock];
        let track = match tracks.iter().position(|&free| free <= start) {
            Some(track) => track,
            None => {
                tracks.push(0);
                tracks.len() - 1
            }
        };
        tracks[track] = stop;
        for step in current.steps.iter_mut().flatten().flatten() {
            if step.thread == hold.thread
                && step.lock == hold.lock
                && (step.to_site.is_none() || hold.site == step.to_site)
                && step.held.is_none_or(|m| hold.start.event < m.event)
            {
                step.held = Some(hold.start);
            }
        }
        let id = ((track as u64) << 32) | hold.lock as u64;
        let lock = &picture.locks[hold.lock];
        let thread = &picture.threads[hold.thread];
        let slice = TraceEvent {
            cat: Some("lock"),
            id: Some(id),
            pid: current.pid,
            ..TraceEvent::new("b", &lock.name, thread.id.0)
        };
        let begin = TraceEvent {
            args: Some(Args::Hold(HoldArgs {
                kind: lock.kind.as_str(),
                mode: hold.mode.as_str(),
                note: hold
                    .end
                    .is_none()
                    .then_some("still held when the trace ended"),
                site: hold.site.as_ref().map(ToString::to_string),
                thread: &thread.name,
                try_lock: hold.try_lock,
            })),
            ts: Some(current.micros(hold.start)),
            ..slice.clone()
        };
        let end = TraceEvent {
            ph: "e",
            ts: Some(current.micros(hold.end.unwrap_or(picture.end))),
            ..slice
        };
        self.event(&begin)?;
        self.event(&end)
    }

    /// A blocked wait of the current trace.
    pub fn wait(&mut self, wait: &BlockedWait) -> io::Result<()> {
        let Some(current) = &mut self.current else {
            return Ok(());
        };
        if wait.waiting_for == WaitFor::Lock {
            for step in current.steps.iter_mut().flatten().flatten() {
                if step.thread == wait.thread
                    && step.lock == wait.lock
                    && step.waited.is_none_or(|m| wait.start.event < m.event)
                {
                    step.waited = Some(wait.start);
                }
            }
        }
        let picture = current.picture;
        let lock = &picture.locks[wait.lock];
        let name = match &wait.waiting_for {
            WaitFor::Lock => format!("blocked on {}", lock.name),
            WaitFor::Condvar(condvar) => format!("waiting on {condvar}"),
        };
        let start = current.micros(wait.start);
        let stop = current.micros(wait.end.unwrap_or(picture.end));
        let note = if wait.end.is_none() {
            Some("still blocked when the trace ended")
        } else if !wait.acquired {
            Some("gave up waiting (a timed lock)")
        } else {
            None
        };
        let event = TraceEvent {
            args: Some(Args::Wait(WaitArgs {
                lock: &lock.name,
                note,
                site: wait.site.as_ref().map(ToString::to_string),
            })),
            cat: Some("wait"),
            dur: Some((stop.as_f64() - start.as_f64()).max(0.0)),
            ts: Some(start),
            pid: current.pid,
            ..TraceEvent::new("X", name, current.tid(wait.thread))
        };
        self.event(&event)
    }

    /// A picture's whole trace: starts it and hands in its holds and waits.
    pub fn whole_trace(&mut self, picture: &TracePicture) -> io::Result<()> {
        self.start_trace()?;
        for hold in &picture.holds {
            self.hold(hold)?;
        }
        for wait in &picture.waits {
            self.wait(wait)?;
        }
        Ok(())
    }

    /// A finding as an instant: on its thread at `place`, else global at the end of `current`.
    fn finding(
        &mut self,
        current: &Current<'_>,
        finding: usize,
        place: Option<(usize, Moment)>,
    ) -> io::Result<()> {
        let finding = &self.findings[finding];
        let (scope, tid, moment) = match place {
            Some((thread, moment)) => ("t", current.tid(thread), moment),
            None => ("g", 0, current.picture.end),
        };
        self.event(&TraceEvent {
            args: Some(Args::Finding(FindingArgs {
                cycle: finding.cycle_text(),
                fingerprint: finding.fingerprint(),
                message: finding.message.clone(),
                reason: finding.reason.clone(),
            })),
            cat: Some("finding"),
            s: Some(scope),
            ts: Some(current.micros(moment)),
            pid: current.pid,
            ..TraceEvent::new("i", format!("{}: {}", finding.severity, finding.kind), tid)
        })
    }

    /// Ends the current trace: the findings its timeline shows.
    fn end_trace(&mut self) -> io::Result<()> {
        let Some(current) = self.current.take() else {
            return Ok(());
        };
        for finding in 0..self.findings.len() {
            if let Some(place) = current.place(finding) {
                self.placed[finding] = true;
                self.finding(&current, finding, Some(place))?;
            }
        }
        Ok(())
    }

    /// Ends the document: the findings no trace showed, each at the end of the trace it names,
    /// else of the first.
    pub fn finish(mut self) -> io::Result<()> {
        self.end_trace()?;
        for finding in 0..self.findings.len() {
            if self.placed[finding] {
                continue;
            }
            let named = self
                .traces
                .iter()
                .position(|(file, _)| self.findings[finding].trace.as_deref() == Some(*file));
            let Some(&(_, picture)) = self.traces.get(named.unwrap_or(0)) else {
                continue;
            };
            let home = Current {
                picture,
                pid: if self.several {
                    named.unwrap_or(0) as u64 + 1
                } else {
                    PID
                },
                origin: picture.start_time(),
                free_at: Vec::new(),
                steps: Vec::new(),
            };
            self.finding(&home, finding, None)?;
        }
        self.out.write_all(if self.first_event {
            b"]\n}\n"
        } else {
            b"\n  ]\n}\n"
        })
    }
}

impl std::fmt::Debug for ChromeExport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromeExport")
            .field("traces", &self.traces.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Writes `value` as pretty JSON whose lines after the first are indented by `indent` (JSON
/// strings hold no raw line break, so every line break is the layout's).
fn write_indented(
    out: &mut dyn Write,
    value: &impl serde::Serialize,
    indent: &str,
) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.write_all(first.as_bytes())?;
    }
    for line in lines {
        out.write_all(b"\n")?;
        out.write_all(indent.as_bytes())?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// What the viewers' metadata panel says about the time axis of `clock`.
fn time_text(clock: Clock) -> &'static str {
    match clock {
        Clock::Events => "1 µs per trace event: the trace has no timestamps",
        Clock::Nanoseconds => "the trace's ts_ns, from its first lock event",
    }
}

/// The JSON the export writes, apart from the code that fills it in.
///
/// Every struct declares its fields in alphabetical order of their JSON names: the exports
/// have always listed keys sorted (they were built as `serde_json::Value`s, whose maps sort),
/// and a field moved here would reorder every file a user diffs against an older export.
mod wire {
    use std::borrow::Cow;

    use serde::Serialize;

    /// What the export says about itself (`otherData`, shown by the viewers' metadata panel).
    #[derive(Debug, Serialize)]
    pub(super) struct OtherData<'a> {
        pub(super) events: u64,
        pub(super) time: &'static str,
        pub(super) tool: &'static str,
        pub(super) trace: Cow<'a, str>,
    }

    /// One trace event. The format has one event object whose phase (`ph`) says which of the
    /// other fields it uses, so they are optional here rather than one type per phase.
    #[derive(Clone, Debug, Serialize)]
    pub(super) struct TraceEvent<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) args: Option<Args<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) cat: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) dur: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) id: Option<u64>,
        pub(super) name: Cow<'a, str>,
        pub(super) ph: &'static str,
        pub(super) pid: u64,
        /// An instant event's scope: `t` (its thread) or `g` (global).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) s: Option<&'static str>,
        pub(super) tid: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) ts: Option<Micros>,
    }

    impl<'a> TraceEvent<'a> {
        /// An event of phase `ph` called `name` on thread `tid`, with nothing else yet.
        pub(super) fn new(ph: &'static str, name: impl Into<Cow<'a, str>>, tid: u64) -> Self {
            TraceEvent {
                args: None,
                cat: None,
                dur: None,
                id: None,
                name: name.into(),
                ph,
                pid: super::PID,
                s: None,
                tid,
                ts: None,
            }
        }
    }

    /// A time in microseconds: whole for event numbers, fractional for nanoseconds.
    #[derive(Clone, Copy, Debug, Serialize)]
    #[serde(untagged)]
    pub(super) enum Micros {
        Events(u64),
        Nanoseconds(f64),
    }

    impl Micros {
        pub(super) fn as_f64(self) -> f64 {
            match self {
                Micros::Events(micros) => micros as f64,
                Micros::Nanoseconds(micros) => micros,
            }
        }
    }

    /// An event's `args`, which the viewers show when it is selected.
    #[derive(Clone, Debug, Serialize)]
    #[serde(untagged)]
    pub(super) enum Args<'a> {
        /// Of the process and thread name events.
        Name {
            name: Cow<'a, str>,
        },
        /// Of the thread sort-index events.
        SortIndex {
            sort_index: usize,
        },
        Hold(HoldArgs<'a>),
        Wait(WaitArgs<'a>),
        Finding(FindingArgs),
    }

    #[derive(Clone, Debug, Serialize)]
    pub(super) struct HoldArgs<'a> {
        pub(super) kind: &'static str,
        pub(super) mode: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) note: Option<&'static str>,
        pub(super) site: Option<String>,
        pub(super) thread: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        pub(super) try_lock: bool,
    }

    #[derive(Clone, Debug, Serialize)]
    pub(super) struct WaitArgs<'a> {
        pub(super) lock: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) note: Option<&'static str>,
        pub(super) site: Option<String>,
    }

    #[derive(Clone, Debug, Serialize)]
    pub(super) struct FindingArgs {
        pub(super) cycle: Option<String>,
        pub(super) fingerprint: String,
        pub(super) message: String,
        pub(super) reason: String,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::offline::picture::tests::{AB_BA, picture};

    fn render_text(steps: &str) -> String {
        let (picture, findings) = picture(steps);
        let mut out = Vec::new();
        ChromeRenderer {
            picture: &picture,
            file: "t.json",
        }
        .render(&findings, &Summary::default(), &mut out)
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render(steps: &str) -> Value {
        serde_json::from_str(&render_text(steps)).unwrap()
    }

    fn of_phase<'v>(document: &'v Value, phase: &str) -> Vec<&'v Value> {
        let events = document["traceEvents"].as_array().unwrap();
        events.iter().filter(|e| e["ph"] == phase).collect()
    }

    #[test]
    fn holds_are_async_slices_and_threads_are_named() {
        let document = render(AB_BA);
        let begins = of_phase(&document, "b");
        let ends = of_phase(&document, "e");
        assert_eq!(begins.len(), 5, "five holds");
        assert_eq!(ends.len(), 5);
        assert_eq!(begins[0]["name"], "a");
        assert_eq!(begins[0]["tid"], 1);
        assert_eq!(begins[0]["args"]["site"], "src/x.rs:1:5");
        // `a` held from its acquisition to its release, three events later.
        let a_end = ends.iter().find(|e| e["id"] == begins[0]["id"]).unwrap();
        assert_eq!(
            a_end["ts"].as_u64().unwrap() - begins[0]["ts"].as_u64().unwrap(),
            3
        );
        let names: Vec<&Value> = of_phase(&document, "M")
            .into_iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| &e["args"]["name"])
            .collect();
        assert!(names.contains(&&json!("t1")) && names.contains(&&json!("t2")));
    }

    #[test]
    fn holds_of_one_lock_share_a_track_unless_they_overlap() {
        let document = render("acq 1 1; rel 1 1; acq 2 1; rel 2 1; acq 1 2");
        let ids: Vec<&Value> = of_phase(&document, "b").iter().map(|b| &b["id"]).collect();
        assert_eq!(
            ids[0], ids[1],
            "two holds of `a` one after the other: one track"
        );
        assert_ne!(ids[0], ids[2], "`b` has a track of its own");
        // Overlapping holds of one lock (as shared holds do) do not share a track.
        let document = render("acq 1 1; acq 2 1");
        let ids: Vec<&Value> = of_phase(&document, "b").iter().map(|b| &b["id"]).collect();
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn findings_are_instants_on_their_thread() {
        let document = render(AB_BA);
        let instants = of_phase(&document, "i");
        assert_eq!(instants.len(), 1);
        assert_eq!(instants[0]["name"], "error: potential-deadlock");
        assert_eq!(instants[0]["s"], "t");
    }

    #[test]
    fn a_wait_still_blocked_at_the_end_is_a_slice_to_the_end() {
        let document = render("acq 1 1; acq 2 2; req 1 2; req 2 1");
        let waits = of_phase(&document, "X");
        assert_eq!(waits.len(), 2);
        assert_eq!(waits[0]["name"], "blocked on b");
        assert_eq!(
            waits[0]["args"]["note"],
            "still blocked when the trace ended"
        );
        assert_eq!(waits[0]["dur"], 1.0);
        let instants = of_phase(&document, "i");
        assert_eq!(instants[0]["name"], "error: deadlock");
    }

    #[test]
    fn several_traces_are_processes_of_their_own() {
        let (first, findings) = picture(AB_BA);
        let (second, _) = picture("acq 1 1; rel 1 1");
        let traces = [
            NamedPicture {
                file: "a.json".into(),
                picture: first,
            },
            NamedPicture {
                file: "b.json".into(),
                picture: second,
            },
        ];
        let mut out = Vec::new();
        ChromeTracesRenderer { traces: &traces }
            .render(&findings, &Summary::default(), &mut out)
            .unwrap();
        let document: Value = serde_json::from_slice(&out).unwrap();
        let processes: Vec<(&Value, &Value)> = of_phase(&document, "M")
            .into_iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| (&e["pid"], &e["args"]["name"]))
            .collect();
        assert_eq!(
            processes,
            [
                (&json!(1), &json!("lockscan: a.json")),
                (&json!(2), &json!("lockscan: b.json"))
            ]
        );
        let holds = |pid: u64| {
            of_phase(&document, "b")
                .iter()
                .filter(|e| e["pid"] == pid)
                .count()
        };
        assert_eq!((holds(1), holds(2)), (5, 1));
        // The finding is drawn where its steps are: the first trace only.
        let instants = of_phase(&document, "i");
        assert_eq!(instants.len(), 1);
        assert_eq!(instants[0]["pid"], 1);
        assert_eq!(document["otherData"]["trace"], "a.json, b.json");
    }

    #[test]
    fn every_object_lists_its_keys_sorted() {
        // The wire structs' field order is the exports' key order; a `Value` map sorts its
        // keys, so parsing and writing again changes nothing only if they are sorted.
        for steps in [AB_BA, "acq 1 1; acq 2 2; req 1 2; req 2 1"] {
            let text = render_text(steps);
            let value: Value = serde_json::from_str(&text).unwrap();
            let canonical = serde_json::to_string_pretty(&value).unwrap() + "\n";
            assert_eq!(text, canonical);
        }
    }
}
