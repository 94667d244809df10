//! The process-wide lock-order graph. Only reached when a thread records an edge it has not
//! recorded before and cannot [defer](deferred) it, and when a lock that entered the graph is
//! dropped.

pub(super) mod deferred;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::raw::Mutex;
use dashmap::DashMap;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::state::{Held, LockInfo};
use crate::engine::classify::{Names, classify, cycle_finding};
use crate::engine::clock::VectorClock;
use crate::engine::edges::{EdgeData, HeldLocks, Occurrence, Taking, held_locks};
use crate::engine::graph::{AddEdge, OrderGraph};
use crate::finding::Finding;
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::{Site, Stack};

struct OrderState {
    graph: OrderGraph<LockId, EdgeData>,
    locks: FxHashMap<LockId, LockInfo>,
    threads: FxHashMap<ThreadId, String>,
    /// The registered threads whose spawn lockscan did not see (`state::spawn_unseen`).
    unseen: FxHashSet<ThreadId>,
}

impl OrderState {
    fn new() -> Self {
        OrderState {
            graph: OrderGraph::new(),
            locks: FxHashMap::default(),
            threads: FxHashMap::default(),
            unseen: FxHashSet::default(),
        }
    }

    /// Registers the current thread, `thread`, by its name.
    fn register_current(&mut self, thread: ThreadId, name: String) {
        if super::state::spawn_unseen(&name) {
            self.unseen.insert(thread);
        }
        self.threads.insert(thread, name);
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

    fn spawn_unseen(&self, thread: ThreadId) -> bool {
        self.unseen.contains(&thread)
    }
}

static ORDER: Mutex<Option<OrderState>> = Mutex::new(None);

/// The edges that keep no more occurrences ([`EdgeData::MAX_OCCURRENCES`]), read without the
/// graph mutex: a thread's first take of one of them has nothing to add, so a pool of threads
/// that all take the same edges goes to the graph only until the edge is full.
static FULL: OnceLock<DashMap<(LockId, LockId), (), FxBuildHasher>> = OnceLock::new();

/// How many edges `FULL` holds, so that dropping a lock looks there only when it is not empty
/// (a `DashMap`'s own emptiness check visits every shard).
static FULL_COUNT: AtomicUsize = AtomicUsize::new(0);

fn mark_full(from: LockId, to: LockId) {
    let full = FULL.get_or_init(|| DashMap::with_hasher(FxBuildHasher));
    if full.insert((from, to), ()).is_none() {
        FULL_COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the edge `from -> to` keeps no more occurrences.
pub(super) fn is_full(from: LockId, to: LockId) -> bool {
    FULL.get()
        .is_some_and(|full| full.contains_key(&(from, to)))
}

fn with_order<R>(f: impl FnOnce(&mut OrderState) -> R) -> R {
    // The global lock is held only by lockscan's own code, never across user code.
    f(ORDER.lock().get_or_insert_with(OrderState::new))
}

/// The global order state, locked for the new edges of one acquisition: `thread` requests `to`.
pub(super) struct Session {
    guard: crate::raw::MutexGuard<'static, Option<OrderState>>,
    thread: ThreadId,
    to: LockId,
    to_mode: Mode,
    to_site: &'static std::panic::Location<'static>,
    backtrace: Option<Arc<Stack>>,
    clock: Arc<VectorClock>,
    /// The held locks of this acquisition, made by its first new edge and shared by the rest.
    held: Option<HeldLocks>,
}

/// Locks the global order state for the new edges of one acquisition, the hold `to` that
/// `thread` is about to take. `thread_name` is given when the thread is not registered yet.
pub(super) fn session(
    thread: ThreadId,
    thread_name: Option<String>,
    to: &Held,
    clock: Arc<VectorClock>,
) -> Session {
    // Before the global lock: capturing a stack is slow.
    let backtrace = capture_backtrace();
    let mut guard = ORDER.lock();
    let order = guard.get_or_insert_with(OrderState::new);
    if let Some(name) = thread_name {
        order.register_current(thread, name);
    }
    if !to.in_graph {
        order.locks.entry(to.id).or_insert(to.info);
    }
    Session {
        guard,
        thread,
        to: to.id,
        to_mode: to.mode,
        to_site: to.site,
        backtrace,
        clock,
        held: None,
    }
}

impl Session {
    /// Records the edge `held[index] -> to`, and the findings for the cycles it closes, and
    /// those the edges that waited in `held[index]` close when it becomes a source.
    pub(super) fn add_edge(&mut self, held: &[Held], index: usize, findings: &mut Vec<Finding>) {
        let order = self.guard.get_or_insert_with(OrderState::new);
        let from = held[index];
        let to = self.to;
        // An edge the graph has, taken again the way it was (a thread whose edge cache let it
        // go): nothing to add, and nothing to allocate.
        if let Some(edge) = order.graph.edge(from.id, to)
            && !edge.wants(&Taking {
                thread: self.thread,
                from_mode: from.mode,
                to_mode: self.to_mode,
                clock: Some(&self.clock),
                held_len: held.len(),
                held: held.iter().map(|h| (h.id, h.mode)),
            })
        {
            return;
        }
        if !from.in_graph {
            order.locks.entry(from.id).or_insert(from.info);
        }
        // Its first edge out in this hold: what waits in it must be in the graph before.
        if !from.out_edge && !order.graph.has_out_edges(from.id) {
            become_sources(order, from.id, findings);
        }
        let held_set = self
            .held
            .get_or_insert_with(|| held_locks(held.len(), held.iter().map(|h| (h.id, h.mode))))
            .clone();
        let occurrence = occurrence(
            self.thread,
            &from,
            self.to_mode,
            self.to_site,
            held_set,
            Some(self.clock.clone()),
            self.backtrace.clone(),
        );
        findings.extend(insert(order, from.id, to, occurrence));
    }
}

/// The occurrence of `from -> to`: `thread` requested `to` in `to_mode` at `to_site`, holding
/// `held`.
pub(super) fn occurrence(
    thread: ThreadId,
    from: &Held,
    to_mode: Mode,
    to_site: &'static std::panic::Location<'static>,
    held: HeldLocks,
    clock: Option<Arc<VectorClock>>,
    backtrace: Option<Arc<Stack>>,
) -> Occurrence {
    Occurrence {
        thread,
        from_mode: from.mode,
        to_mode,
        from_site: Some(Site::Caller(from.site)),
        to_site: Some(Site::Caller(to_site)),
        held,
        clock,
        backtrace,
    }
}

/// Adds an occurrence of `from -> to` to the graph; the finding for the cycle it closes.
fn insert(
    order: &mut OrderState,
    from: LockId,
    to: LockId,
    occurrence: Occurrence,
) -> Option<Finding> {
    // Moved into the edge by whichever of the two closures runs.
    let occurrence = std::cell::Cell::new(Some(occurrence));
    let added = order.graph.add_edge_or(
        from,
        to,
        || EdgeData::new(occurrence.take().expect("taken once")),
        // A new thread on a known edge can turn an inversion into a potential deadlock:
        // the graph looks at the cycles through it again (only if it lies on one).
        |edge| {
            let kept = edge.add(occurrence.take().expect("taken once"));
            if edge.occurrences.len() >= EdgeData::MAX_OCCURRENCES {
                mark_full(from, to);
            }
            kept
        },
    );
    let AddEdge::Cycle(cycle) = added else {
        return None;
    };
    cycle_finding_for(order, &cycle)
}

/// `lock` gets its first edge out in the graph: marks it a source, so that no edge waits in it
/// any more, and puts the edges that waited in it into the graph, with the findings for the
/// cycles they close. Their sources may get their first edge out that way: so on, with a
/// stack, not recursion. An edge whose source left the graph is let go: its lock was dropped.
fn become_sources(order: &mut OrderState, lock: LockId, findings: &mut Vec<Finding>) {
    let mut sources = vec![lock];
    while let Some(source) = sources.pop() {
        for deferred::Waiting { from, occurrence } in deferred::take_and_mark_source(source) {
            if !order.graph.contains_node(from) {
                continue;
            }
            if !order.graph.has_out_edges(from) {
                sources.push(from);
            }
            findings.extend(insert(order, from, source, occurrence));
        }
    }
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
    with_order(|order| order.register_current(thread, name));
}

/// The names of threads and locks, for a report built outside the graph (a deadlock).
pub(super) fn names<R>(f: impl FnOnce(&dyn Names) -> R) -> R {
    with_order(|order| f(order))
}

/// Drops a lock from the graph: it can never be acquired again, so its edges can close no cycle.
pub(super) fn forget_lock(lock: LockId) {
    with_order(|order| {
        if FULL_COUNT.load(Ordering::Relaxed) > 0
            && let Some(full) = FULL.get()
        {
            for edge in order.graph.edges_of(lock) {
                if full.remove(&edge).is_some() {
                    FULL_COUNT.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        order.graph.remove_node(lock);
        order.locks.remove(&lock);
    });
    deferred::forget(lock);
}

/// Drops what waits in a lock that never entered the graph (see [`deferred`]): no trip to it.
pub(super) fn forget_deferred(lock: LockId) {
    deferred::forget(lock);
}

/// Puts into the graph edges into `to` (with its `info`) that waited in a thread's table and
/// that its shard refused (`to` became a source meanwhile, or has no room): each unless its
/// source left the graph, after what waits in that source if it becomes one by it. The
/// findings for the cycles they close.
pub(super) fn adopt_waiting(
    to: LockId,
    info: LockInfo,
    edges: Vec<deferred::Waiting>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    with_order(|order| {
        order.locks.entry(to).or_insert(info);
        for deferred::Waiting { from, occurrence } in edges {
            if !order.graph.contains_node(from) {
                continue;
            }
            if !order.graph.has_out_edges(from) {
                become_sources(order, from, &mut findings);
            }
            findings.extend(insert(order, from, to, occurrence));
        }
    });
    findings
}

/// Whether the lock is a node of the graph, for tests.
#[cfg(test)]
pub(super) fn contains(lock: LockId) -> bool {
    with_order(|order| order.graph.contains_node(lock))
}

/// The number of locks and edges in the graph, for tests of memory use.
#[cfg(test)]
pub(super) fn size() -> (usize, usize) {
    with_order(|order| (order.graph.node_count(), order.graph.edge_count()))
}

/// A backtrace of the current thread when `LOCKSCAN_BACKTRACE` asks for one; captured once per
/// new edge, never on the fast path, and resolved only if reported. Not `RUST_BACKTRACE`: many
/// CI set-ups export it for panics, and a stack per new edge made a lock-heavy suite 1.3x
/// slower again (docs/acceptance.md), while the report names both sites of every edge anyway.
pub(super) fn capture_backtrace() -> Option<Arc<Stack>> {
    backtraces_wanted().then(|| Arc::new(Stack::capture()))
}

/// Whether `LOCKSCAN_BACKTRACE` asks for stacks (read once).
pub(super) fn backtraces_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| {
        std::env::var("LOCKSCAN_BACKTRACE").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}
