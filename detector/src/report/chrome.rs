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

use std::io::{self, Write};

use serde_json::{Value, json};

use super::picture::{Clock, Moment, TracePicture, WaitFor};
use super::{Render, Summary};
use crate::finding::Finding;

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

impl ChromeRenderer<'_> {
    /// A moment in trace-event microseconds, from the picture's start (`origin`, on its clock:
    /// computed once per render, since finding it scans every hold).
    fn micros(&self, origin: u64, moment: Moment) -> Value {
        let picture = self.picture;
        let since = picture.time(moment).saturating_sub(origin);
        match picture.clock {
            Clock::Events => json!(since),
            Clock::Nanoseconds => json!(since as f64 / 1000.0),
        }
    }

    fn tid(&self, thread: usize) -> u64 {
        self.picture.threads[thread].id.0
    }

    /// Where a finding goes: the thread and moment of its first step that the timeline shows.
    fn place(&self, finding: &Finding) -> Option<(usize, Moment)> {
        let picture = self.picture;
        finding.edges.iter().find_map(|step| {
            let thread = picture.threads.iter().position(|t| t.name == step.thread)?;
            let lock = picture.locks.iter().position(|l| l.name == step.to)?;
            let blocked = picture
                .waits
                .iter()
                .find(|w| w.thread == thread && w.lock == lock && w.waiting_for == WaitFor::Lock)
                .map(|w| w.start);
            let held = picture
                .holds
                .iter()
                .find(|h| {
                    h.thread == thread
                        && h.lock == lock
                        && (step.to_site.is_none() || h.site == step.to_site)
                })
                .map(|h| h.start);
            Some((thread, if step.blocked { blocked } else { held }.or(held)?))
        })
    }
}

impl Render for ChromeRenderer<'_> {
    fn render(
        &self,
        findings: &[Finding],
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let picture = self.picture;
        let end = picture.end;
        let origin = picture.start_time();
        let mut events: Vec<Value> = Vec::new();
        events.push(json!({
            "ph": "M", "name": "process_name", "pid": PID, "tid": 0,
            "args": { "name": format!("lockscan: {}", self.file) },
        }));
        for (index, thread) in picture.threads.iter().enumerate() {
            events.push(json!({
                "ph": "M", "name": "thread_name", "pid": PID, "tid": thread.id.0,
                "args": { "name": thread.name },
            }));
            events.push(json!({
                "ph": "M", "name": "thread_sort_index", "pid": PID, "tid": thread.id.0,
                "args": { "sort_index": index },
            }));
        }
        // Per lock, when each of its tracks is free again.
        let mut free_at: Vec<Vec<u64>> = vec![Vec::new(); picture.locks.len()];
        for hold in &picture.holds {
            let start = picture.time(hold.start);
            let stop = hold.end.map_or(u64::MAX, |m| picture.time(m));
            let tracks = &mut free_at[hold.lock];
            let track = match tracks.iter().position(|&free| free <= start) {
                Some(track) => track,
                None => {
                    tracks.push(0);
                    tracks.len() - 1
                }
            };
            tracks[track] = stop;
            let id = ((track as u64) << 32) | hold.lock as u64;
            let lock = &picture.locks[hold.lock];
            let thread = &picture.threads[hold.thread];
            let mut args = json!({
                "thread": thread.name,
                "kind": lock.kind.as_str(),
                "mode": hold.mode.as_str(),
                "site": hold.site.as_ref().map(ToString::to_string),
            });
            if hold.try_lock {
                args["try_lock"] = json!(true);
            }
            if hold.end.is_none() {
                args["note"] = json!("still held when the trace ended");
            }
            let common = json!({
                "cat": "lock", "name": lock.name, "id": id, "pid": PID, "tid": thread.id.0,
            });
            let mut begin = common.clone();
            begin["ph"] = json!("b");
            begin["ts"] = self.micros(origin, hold.start);
            begin["args"] = args;
            let mut finish = common;
            finish["ph"] = json!("e");
            finish["ts"] = self.micros(origin, hold.end.unwrap_or(end));
            events.push(begin);
            events.push(finish);
        }
        for wait in &picture.waits {
            let lock = &picture.locks[wait.lock];
            let name = match &wait.waiting_for {
                WaitFor::Lock => format!("blocked on {}", lock.name),
                WaitFor::Condvar(condvar) => format!("waiting on {condvar}"),
            };
            let start = self.micros(origin, wait.start);
            let stop = self.micros(origin, wait.end.unwrap_or(end));
            let duration = match (&start, &stop) {
                (Value::Number(a), Value::Number(b)) => {
                    json!((b.as_f64().unwrap_or(0.0) - a.as_f64().unwrap_or(0.0)).max(0.0))
                }
                _ => json!(0),
            };
            let mut args = json!({
                "lock": lock.name,
                "site": wait.site.as_ref().map(ToString::to_string),
            });
            if wait.end.is_none() {
                args["note"] = json!("still blocked when the trace ended");
            } else if !wait.acquired {
                args["note"] = json!("gave up waiting (a timed lock)");
            }
            events.push(json!({
                "ph": "X", "cat": "wait", "name": name, "pid": PID, "tid": self.tid(wait.thread),
                "ts": start, "dur": duration, "args": args,
            }));
        }
        for finding in findings {
            let mut event = json!({
                "ph": "i", "cat": "finding", "pid": PID,
                "name": format!("{}: {}", finding.severity, finding.kind),
                "args": {
                    "message": finding.message,
                    "cycle": finding.cycle_text(),
                    "reason": finding.reason,
                    "fingerprint": finding.fingerprint(),
                },
            });
            match self.place(finding) {
                Some((thread, moment)) => {
                    event["s"] = json!("t");
                    event["tid"] = json!(self.tid(thread));
                    event["ts"] = self.micros(origin, moment);
                }
                None => {
                    event["s"] = json!("g");
                    event["tid"] = json!(0);
                    event["ts"] = self.micros(origin, end);
                }
            }
            events.push(event);
        }
        let time = match picture.clock {
            Clock::Events => "1 µs per trace event: the trace has no timestamps",
            Clock::Nanoseconds => "the trace's ts_ns, from its first lock event",
        };
        let mut document = json!({
            "traceEvents": events,
            "otherData": {
                "tool": concat!("lockscan ", env!("CARGO_PKG_VERSION")),
                "trace": self.file,
                "time": time,
                "events": summary.events,
            },
        });
        if picture.clock == Clock::Nanoseconds {
            // Real durations are short: show them in ns rather than the default ms.
            document["displayTimeUnit"] = json!("ns");
        }
        serde_json::to_writer_pretty(&mut *out, &document)?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::picture::tests::{AB_BA, picture};

    fn render(steps: &str) -> Value {
        let (picture, findings) = picture(steps);
        let mut out = Vec::new();
        ChromeRenderer {
            picture: &picture,
            file: "t.json",
        }
        .render(&findings, &Summary::default(), &mut out)
        .unwrap();
        serde_json::from_slice(&out).unwrap()
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
}
