//! The witness of a confirmed deadlock: which threads, and the order in which they took their
//! first locks and requested their next ones, read back from the attempt's trace.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use lockscan::trace::{Event, InputFormat, TraceReader};
use lockscan::{Finding, LockId, ThreadId};
use serde_json::{Value, json};

use super::attempt::base_name;

/// One step of the witness schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) thread: String,
    /// Requested (and blocked on) rather than acquired.
    pub(crate) requested: bool,
    pub(crate) lock: String,
    pub(crate) site: Option<String>,
}

/// A confirmed deadlock's schedule.
#[derive(Debug)]
pub(crate) struct Witness {
    /// The trace that shows it.
    pub(crate) trace: String,
    pub(crate) threads: Vec<String>,
    pub(crate) steps: Vec<Step>,
    /// Whether the order is the trace's; otherwise each thread's step as the deadlock finding
    /// gives it (acquisitions first, then requests).
    pub(crate) in_trace_order: bool,
}

impl Witness {
    /// The witness of `deadlock`, found in a trace of `dir`.
    pub(crate) fn of(deadlock: &Finding, dir: &Path) -> Witness {
        let trace = deadlock
            .trace
            .clone()
            .unwrap_or_else(|| dir.display().to_string());
        let from_trace = deadlock
            .trace
            .as_deref()
            .and_then(|path| steps_in_trace(Path::new(path), deadlock));
        let in_trace_order = from_trace.is_some();
        let steps = from_trace.unwrap_or_else(|| steps_of_finding(deadlock));
        Witness {
            trace,
            threads: deadlock.threads.clone(),
            steps,
            in_trace_order,
        }
    }

    pub(crate) fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let threads: Vec<String> = self.threads.iter().map(|t| format!("`{t}`")).collect();
        writeln!(
            out,
            "  = witness: threads {} ({})",
            threads.join(", "),
            self.trace
        )?;
        for (i, step) in self.steps.iter().enumerate() {
            let verb = if step.requested {
                "requested"
            } else {
                "acquired"
            };
            let site = step
                .site
                .as_deref()
                .map(|s| format!(" at {s}"))
                .unwrap_or_default();
            writeln!(
                out,
                "      {}. thread `{}` {verb} `{}`{site}",
                i + 1,
                step.thread,
                step.lock
            )?;
        }
        writeln!(
            out,
            "      then every thread of the cycle waited for the next: lockscan reported the \
             `deadlock` and unwound one of them"
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "thread": s.thread,
                    "action": if s.requested { "requested" } else { "acquired" },
                    "lock": s.lock,
                    "site": s.site,
                })
            })
            .collect();
        json!({
            "trace": self.trace,
            "threads": self.threads,
            "steps": steps,
            "order": if self.in_trace_order { "trace" } else { "per-thread" },
        })
    }
}

/// Each edge's acquisition of its `from` and request of its `to`, as the finding has them.
fn steps_of_finding(deadlock: &Finding) -> Vec<Step> {
    let acquired = deadlock.edges.iter().map(|e| Step {
        thread: e.thread.clone(),
        requested: false,
        lock: e.from.clone(),
        site: e.from_site.as_ref().map(ToString::to_string),
    });
    let requested = deadlock.edges.iter().map(|e| Step {
        thread: e.thread.clone(),
        requested: true,
        lock: e.to.clone(),
        site: e.to_site.as_ref().map(ToString::to_string),
    });
    acquired.chain(requested).collect()
}

/// The steps from the trace: for each edge of the deadlock, its thread's last request of the
/// edge's `to`, and the acquisition of the `from` it held then; the acquisitions first. `None` when the trace
/// cannot be read or does not show every edge.
fn steps_in_trace(path: &Path, deadlock: &Finding) -> Option<Vec<Step>> {
    let file = File::open(path).ok()?;
    let name = path.display().to_string();
    let reader = TraceReader::new(BufReader::new(file), name, InputFormat::Auto).ok()?;
    let mut locks: HashMap<LockId, String> = HashMap::new();
    let mut threads: HashMap<ThreadId, String> = HashMap::new();
    // Per thread: the locks it holds, each with where its acquisition is in the trace.
    let mut holding: HashMap<ThreadId, Vec<(LockId, usize, Option<String>)>> = HashMap::new();
    // Per thread: its last request, with what it held then.
    type Request = (
        usize,
        LockId,
        Option<String>,
        Vec<(LockId, usize, Option<String>)>,
    );
    let mut requests: HashMap<ThreadId, Request> = HashMap::new();
    for (position, event) in reader.enumerate() {
        let Ok(event) = event else { continue };
        match event {
            Event::Lock {
                lock, name, class, ..
            } => {
                let shown = name
                    .or(class)
                    .map_or_else(|| lock.to_string(), |n| n.to_string());
                locks.insert(lock, shown);
            }
            Event::Thread {
                tid, name: Some(n), ..
            } => {
                threads.insert(tid, n.to_string());
            }
            Event::Acquire {
                tid, lock, site, ..
            } => {
                holding
                    .entry(tid)
                    .or_default()
                    .push((lock, position, site.map(|s| s.to_string())));
            }
            Event::Release { tid, lock, .. } => {
                if let Some(held) = holding.get_mut(&tid)
                    && let Some(at) = held.iter().rposition(|h| h.0 == lock)
                {
                    held.remove(at);
                }
            }
            Event::Wait { tid, lock, .. } => {
                if let Some(held) = holding.get_mut(&tid) {
                    held.retain(|h| h.0 != lock);
                }
            }
            Event::Request {
                tid, lock, site, ..
            } => {
                let held = holding.get(&tid).cloned().unwrap_or_default();
                requests.insert(tid, (position, lock, site.map(|s| s.to_string()), held));
            }
            _ => {}
        }
    }
    let lock_name = |id: &LockId| locks.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut steps: Vec<(usize, Step)> = Vec::new();
    for edge in &deadlock.edges {
        let (_, (at, lock, site, held)) = requests.iter().find(|(tid, (_, lock, ..))| {
            threads.get(tid).is_some_and(|t| *t == edge.thread)
                && base_name(&lock_name(lock)) == base_name(&edge.to)
        })?;
        let (from, acquired_at, from_site) = held
            .iter()
            .rev()
            .find(|(l, ..)| base_name(&lock_name(l)) == base_name(&edge.from))?;
        steps.push((
            *acquired_at,
            Step {
                thread: edge.thread.clone(),
                requested: false,
                lock: lock_name(from),
                site: from_site.clone(),
            },
        ));
        steps.push((
            *at,
            Step {
                thread: edge.thread.clone(),
                requested: true,
                lock: lock_name(lock),
                site: site.clone(),
            },
        ));
    }
    // Every thread took its lock before any requested its next (a schedule that deadlocks);
    // in each half, the trace's order.
    steps.sort_by_key(|(position, step)| (step.requested, *position));
    Some(steps.into_iter().map(|(_, step)| step).collect())
}
