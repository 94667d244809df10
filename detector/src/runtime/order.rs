//! The process-wide lock-order graph. Only reached when a thread records an edge it has not
//! recorded before, and when a lock that entered the graph is dropped.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use super::state::{Held, LockInfo};
use crate::analysis::{EdgeData, Names, Occurrence, classify, cycle_finding};
use crate::finding::Finding;
use crate::graph::{AddEdge, OrderGraph};
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::{Site, Stack};

struct OrderState {
    graph: OrderGraph<LockId, EdgeData>,
    locks: FxHashMap<LockId, LockInfo>,
    threads: FxHashMap<ThreadId, String>,
}

impl OrderState {
    fn new() -> Self {
        OrderState {
            graph: OrderGraph::new(),
            locks: FxHashMap::default(),
            threads: FxHashMap::default(),
        }
    }
}

impl Names for OrderState {
    fn lock_name(&self, lock: LockId) -> String {
        self.locks
            .get(&lock)
            .map_or_else(|| lock.to_string(), LockInfo::display_name)
    }

    fn thread_name(&self, thread: ThreadId) -> String {
        self.threads
            .get(&thread)
            .cloned()
            .unwrap_or_else(|| thread.to_string())
    }
}

static ORDER: Mutex<Option<OrderState>> = Mutex::new(None);

fn with_order<R>(f: impl FnOnce(&mut OrderState) -> R) -> R {
    f(ORDER.lock().get_or_insert_with(OrderState::new))
}

/// An acquisition that may add edges: `thread` requests `to` while holding `held`.
pub(super) struct Request<'a> {
    pub thread: ThreadId,
    /// The thread's name, when it is not registered yet.
    pub thread_name: Option<String>,
    pub to: LockId,
    pub to_info: LockInfo,
    pub to_mode: Mode,
    pub to_site: &'static std::panic::Location<'static>,
    pub held: &'a [Held],
}

/// Records the edges `held[i] -> to` for the indices in `new` and returns the findings for the
/// cycles they close, plus which held entries now have an edge in the graph.
pub(super) fn add_edges(request: &Request<'_>, new: &[usize]) -> (Vec<Finding>, Vec<usize>) {
    let backtrace = capture_backtrace();
    let mut findings = Vec::new();
    let mut entered = Vec::new();
    with_order(|order| {
        if let Some(name) = &request.thread_name {
            order.threads.insert(request.thread, name.clone());
        }
        order.locks.insert(request.to, request.to_info);
        for &index in new {
            let from = request.held[index];
            order.locks.insert(from.id, from.info);
            let occurrence = Occurrence {
                thread: request.thread,
                from_mode: from.mode,
                to_mode: request.to_mode,
                from_site: Some(Site::Caller(from.site)),
                to_site: Some(Site::Caller(request.to_site)),
                held: request
                    .held
                    .iter()
                    .filter(|h| h.id != from.id)
                    .map(|h| (h.id, h.mode))
                    .collect(),
                clock: None,
                backtrace: backtrace.clone(),
            };
            let cycle = match order
                .graph
                .add_edge(from.id, request.to, || EdgeData::new(occurrence.clone()))
            {
                AddEdge::Added => None,
                AddEdge::Cycle(cycle) => Some(cycle),
                AddEdge::Existing => {
                    let kept = order
                        .graph
                        .edge_mut(from.id, request.to)
                        .is_some_and(|edge| edge.add(occurrence));
                    // A new thread on a known edge can turn an inversion into a potential
                    // deadlock: look at the cycles through it again.
                    kept.then(|| order.graph.path(request.to, from.id))
                        .flatten()
                        .map(|mut path| {
                            path.insert(0, from.id);
                            path.pop();
                            path
                        })
                }
            };
            entered.push(index);
            if let Some(cycle) = cycle {
                findings.extend(cycle_finding_for(order, &cycle));
            }
        }
    });
    (findings, entered)
}

fn cycle_finding_for(order: &OrderState, cycle: &[LockId]) -> Option<Finding> {
    let edges: Vec<&EdgeData> = (0..cycle.len())
        .map(|i| order.graph.edge(cycle[i], cycle[(i + 1) % cycle.len()]))
        .collect::<Option<_>>()?;
    let class = classify(cycle, &edges)?;
    Some(cycle_finding(cycle, &edges, &class, order))
}

/// Registers the current thread's name for reports.
pub(super) fn register_thread(thread: ThreadId, name: String) {
    with_order(|order| {
        order.threads.insert(thread, name);
    });
}

/// The names of threads and locks, for a report built outside the graph (a deadlock).
pub(super) fn names<R>(f: impl FnOnce(&dyn Names) -> R) -> R {
    with_order(|order| f(order))
}

/// Drops a lock from the graph: it can never be acquired again, so its edges can close no cycle.
pub(super) fn forget_lock(lock: LockId) {
    with_order(|order| {
        order.graph.remove_node(lock);
        order.locks.remove(&lock);
    });
}

/// The number of locks and edges in the graph, for tests of memory use.
#[cfg(test)]
pub(super) fn size() -> (usize, usize) {
    with_order(|order| (order.graph.node_count(), order.graph.edge_count()))
}

/// A backtrace of the current thread when `LOCKSCAN_BACKTRACE` or `RUST_BACKTRACE` asks for
/// one; captured once per new edge, never on the fast path, and resolved only if reported.
fn capture_backtrace() -> Option<Arc<Stack>> {
    static WANTED: OnceLock<bool> = OnceLock::new();
    let wanted = *WANTED.get_or_init(|| {
        let on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        on("LOCKSCAN_BACKTRACE") || on("RUST_BACKTRACE")
    });
    wanted.then(|| Arc::new(Stack::capture()))
}
