//! The lock-order graph: generic over node and edge data, so the live detector and the trace
//! analyzer share it. Adding an edge returns the cycle it closes, as data.
//!
//! # Cost
//!
//! The graph keeps an incremental topological order of its strongly connected components
//! (Pearce & Kelly, "A dynamic topological sort algorithm for directed acyclic graphs", 2006),
//! so [`OrderGraph::add_edge`] costs O(1) for an edge that agrees with the order so far — in a
//! program with a consistent lock order, nearly all of them — and searches only the region
//! between the two positions when it goes against it. Unlike a plain topological order it stays
//! correct after cycles exist: an edge that closes a cycle merges the components on it into one,
//! and the edges inside a component are searched (breadth first, inside the component only)
//! for the shortest cycle they close.
//!
//! [`OrderGraph::insert_edge`] adds an edge without any search, for a caller that looks at the
//! whole graph once at the end (the trace replay): the order is rebuilt from scratch only if
//! `add_edge` is called afterwards.
//!
//! No search here recurses: strongly connected components ([`OrderGraph::components`]), the
//! cycle enumeration and the order maintenance keep explicit stacks, so a chain of a million
//! locks taken hand over hand costs memory, not the call stack.
//!
//! ```
//! use lockscan::graph::{AddEdge, OrderGraph};
//!
//! // Nodes are any small key; edge data is whatever the caller keeps per edge (here, where the
//! // order was seen).
//! let mut graph: OrderGraph<u32, &str> = OrderGraph::new();
//! assert_eq!(graph.add_edge(1, 2, || "a.rs:10"), AddEdge::Added);
//! assert_eq!(graph.add_edge(2, 3, || "b.rs:20"), AddEdge::Added);
//! assert_eq!(graph.add_edge(1, 2, || "unused"), AddEdge::Existing);
//! // The edge that closes a cycle is added, and the cycle comes back as data.
//! assert_eq!(graph.add_edge(3, 1, || "c.rs:30"), AddEdge::Cycle(vec![3, 1, 2]));
//! assert_eq!(graph.edge(1, 2), Some(&"a.rs:10"));
//! // One strongly connected component, the three locks (in no particular order).
//! let components = graph.components();
//! assert_eq!(components.len(), 1);
//! assert_eq!(components[0].len(), 3);
//!
//! let found = graph.cycles(8, 100);
//! assert!(found.complete);
//! assert_eq!(found.cycles, vec![vec![1, 2, 3]]);
//! ```

use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// What a node of an [`OrderGraph`] needs to be: a small copyable key.
pub trait Node: Copy + Ord + Hash + Debug {}

impl<T: Copy + Ord + Hash + Debug> Node for T {}

/// A directed graph `N -> N` with data `E` on each edge, that reports the cycles edges close.
#[derive(Debug)]
pub struct OrderGraph<N, E> {
    /// Node -> slot index.
    index: FxHashMap<N, u32>,
    slots: Vec<Slot<N>>,
    free_slots: Vec<u32>,
    /// (from, to) -> edge index: keyed by the nodes, so that looking an edge up is one probe.
    edge_index: FxHashMap<(N, N), u32>,
    /// Edges in insertion order (a removed edge leaves a hole that a later edge reuses), so
    /// that iteration, and every report built from it, is deterministic.
    edges: Vec<Option<EdgeSlot<N, E>>>,
    free_edges: Vec<u32>,
    edge_count: usize,
    components: Vec<Component>,
    free_components: Vec<u32>,
    /// False after [`insert_edge`](Self::insert_edge): positions are rebuilt by the next
    /// [`add_edge`](Self::add_edge).
    ordered: bool,
    /// The next position below every component (for a new node that gets an out-edge) and above
    /// every component (for a new node that gets an in-edge), so that an edge with a new end
    /// never goes against the order.
    lowest: i64,
    highest: i64,
    scratch: Scratch,
}

#[derive(Debug)]
struct Slot<N> {
    node: Option<N>,
    /// (target slot, edge index), in insertion order.
    out: Vec<(u32, u32)>,
    /// Source slots.
    incoming: Vec<u32>,
    component: u32,
}

#[derive(Debug)]
struct EdgeSlot<N, E> {
    from: N,
    to: N,
    data: E,
}

/// A set of nodes that the order treats as one: at least a strongly connected component, and
/// after node removals possibly more (a removal never splits a component, which keeps removal
/// O(degree); the searches inside a component follow real edges, so no false cycle comes of it).
#[derive(Debug, Default)]
struct Component {
    /// Where it stands in the topological order: every edge between two components goes from a
    /// lower position to a higher one.
    position: i64,
    members: Vec<u32>,
}

/// Reused buffers of the searches, so that a new edge allocates nothing in the common case.
#[derive(Debug, Default)]
struct Scratch {
    /// Per component: the generation of the forward / backward search that reached it.
    forward: Vec<u32>,
    backward: Vec<u32>,
    generation: u32,
    stack: Vec<u32>,
    reached_forward: Vec<u32>,
    reached_backward: Vec<u32>,
    positions: Vec<i64>,
    /// Per slot, for breadth-first searches: the generation that reached it and its parent.
    seen: Vec<u32>,
    parent: Vec<u32>,
    queue: VecDeque<u32>,
}

/// What [`OrderGraph::add_edge`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum AddEdge<N> {
    /// The edge was already in the graph; its data was left as it was.
    Existing,
    /// The edge is new and closes no cycle.
    Added,
    /// The edge is new and closes this cycle: `[from, to, ..., x]` where every node has an
    /// edge to the next and `x -> from` closes it. The edge was added all the same, so later
    /// cycles through it are found too.
    Cycle(Vec<N>),
}

impl<N: Node, E> Default for OrderGraph<N, E> {
    fn default() -> Self {
        Self::new()
    }
}

/// Which end of a new edge a node is, which decides where a new node goes in the order.
#[derive(Clone, Copy)]
enum End {
    Source,
    Target,
}

const NONE: u32 = u32::MAX;

impl<N: Node, E> OrderGraph<N, E> {
    /// An empty graph.
    pub fn new() -> Self {
        OrderGraph {
            index: FxHashMap::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            edge_index: FxHashMap::default(),
            edges: Vec::new(),
            free_edges: Vec::new(),
            edge_count: 0,
            components: Vec::new(),
            free_components: Vec::new(),
            ordered: true,
            lowest: 0,
            highest: 0,
            scratch: Scratch::default(),
        }
    }

    /// Adds `from -> to` with the data `make()` if the edge is new, and returns the shortest
    /// cycle it closes. `make` is not called for an existing edge.
    ///
    /// O(1) when the edge agrees with the order of the edges so far; otherwise proportional to
    /// the part of the graph between the two ends' positions (and, for an edge inside a cycle,
    /// to that strongly connected component).
    pub fn add_edge(&mut self, from: N, to: N, make: impl FnOnce() -> E) -> AddEdge<N> {
        self.add_edge_or(from, to, make, |_| false)
    }

    /// [`add_edge`](Self::add_edge), and for an existing edge: `update` its data, and when it
    /// says something changed (the edge learned a new way to be taken), return the shortest
    /// cycle through it as [`cycle_through`](Self::cycle_through) would. One look-up either
    /// way.
    pub fn add_edge_or(
        &mut self,
        from: N,
        to: N,
        make: impl FnOnce() -> E,
        update: impl FnOnce(&mut E) -> bool,
    ) -> AddEdge<N> {
        if !self.ordered {
            self.rebuild_order();
        }
        let (u, v) = match self.insert(from, to, make) {
            Ok(slots) => slots,
            Err((u, v, edge)) => {
                let data = &mut self.edges[edge as usize]
                    .as_mut()
                    .expect("an indexed edge is stored")
                    .data;
                if !update(data) {
                    return AddEdge::Existing;
                }
                return match self.cycle_in_component(u, v) {
                    Some(cycle) => AddEdge::Cycle(cycle),
                    None => AddEdge::Existing,
                };
            }
        };
        if u == v {
            return AddEdge::Cycle(vec![from]);
        }
        let (cu, cv) = (
            self.slots[u as usize].component,
            self.slots[v as usize].component,
        );
        if cu != cv {
            if self.components[cu as usize].position < self.components[cv as usize].position {
                return AddEdge::Added;
            }
            if !self.reorder(cu, cv) {
                return AddEdge::Added;
            }
        }
        match self.path_in_component(v, u) {
            Some(path) => AddEdge::Cycle(self.closed_cycle(u, &path)),
            None => AddEdge::Added,
        }
    }

    /// Adds `from -> to` with the data `make()` if the edge is new, without looking for cycles:
    /// for a caller that calls [`cycles`](Self::cycles) once at the end. Returns whether the
    /// edge was new.
    pub fn insert_edge(&mut self, from: N, to: N, make: impl FnOnce() -> E) -> bool {
        let new = self.insert(from, to, make).is_ok();
        if new {
            self.ordered = false;
        }
        new
    }

    /// The shortest cycle through the existing edge `from -> to`, as `[from, to, ..., x]`:
    /// for a caller that learned something new about an edge it added before. Searches only
    /// when the edge lies inside a strongly connected component.
    pub fn cycle_through(&mut self, from: N, to: N) -> Option<Vec<N>> {
        if !self.ordered {
            self.rebuild_order();
        }
        self.edge_index.get(&(from, to))?;
        let (u, v) = (self.index[&from], self.index[&to]);
        self.cycle_in_component(u, v)
    }

    /// The shortest cycle through the edge `u -> v` of slots.
    fn cycle_in_component(&mut self, u: u32, v: u32) -> Option<Vec<N>> {
        if u == v {
            return Some(vec![self.node_of(u)]);
        }
        if self.slots[u as usize].component != self.slots[v as usize].component {
            return None;
        }
        let path = self.path_in_component(v, u)?;
        Some(self.closed_cycle(u, &path))
    }

    /// The data of `from -> to`.
    pub fn edge(&self, from: N, to: N) -> Option<&E> {
        let edge = *self.edge_index.get(&(from, to))?;
        self.edges[edge as usize].as_ref().map(|e| &e.data)
    }

    /// The data of `from -> to`, mutably.
    pub fn edge_mut(&mut self, from: N, to: N) -> Option<&mut E> {
        let edge = *self.edge_index.get(&(from, to))?;
        self.edges[edge as usize].as_mut().map(|e| &mut e.data)
    }

    /// Removes a node and its edges (a lock that was dropped). O(degree) plus the size of its
    /// component.
    pub fn remove_node(&mut self, node: N) {
        let Some(slot) = self.index.remove(&node) else {
            return;
        };
        let out = std::mem::take(&mut self.slots[slot as usize].out);
        for &(target, edge) in &out {
            if target != slot {
                let incoming = &mut self.slots[target as usize].incoming;
                if let Some(at) = incoming.iter().position(|&s| s == slot) {
                    incoming.swap_remove(at);
                }
            }
            self.remove_edge_slot((slot, target), edge);
        }
        let incoming = std::mem::take(&mut self.slots[slot as usize].incoming);
        for &source in &incoming {
            if source == slot {
                continue;
            }
            let out = &mut self.slots[source as usize].out;
            if let Some(at) = out.iter().position(|&(t, _)| t == slot) {
                let (_, edge) = out.remove(at);
                self.remove_edge_slot((source, slot), edge);
            }
        }
        let component = self.slots[slot as usize].component;
        let members = &mut self.components[component as usize].members;
        if let Some(at) = members.iter().position(|&m| m == slot) {
            members.swap_remove(at);
        }
        if members.is_empty() {
            self.free_components.push(component);
        }
        let emptied = &mut self.slots[slot as usize];
        emptied.node = None;
        emptied.component = NONE;
        // Keep the lists' allocations for the slot's next node.
        emptied.out = out;
        emptied.out.clear();
        emptied.incoming = incoming;
        emptied.incoming.clear();
        self.free_slots.push(slot);
    }

    /// The edges into and out of `node`, as (from, to) pairs.
    pub fn edges_of(&self, node: N) -> Vec<(N, N)> {
        let Some(&slot) = self.index.get(&node) else {
            return Vec::new();
        };
        let entry = &self.slots[slot as usize];
        let out = entry.out.iter().map(|&(t, _)| (node, self.node_of(t)));
        let incoming = entry.incoming.iter().map(|&s| (self.node_of(s), node));
        out.chain(incoming).collect()
    }

    /// Whether the node is in the graph.
    pub fn contains_node(&self, node: N) -> bool {
        self.index.contains_key(&node)
    }

    /// Whether the node is in the graph with an edge out of it.
    pub fn has_out_edges(&self, node: N) -> bool {
        self.index
            .get(&node)
            .is_some_and(|&slot| !self.slots[slot as usize].out.is_empty())
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.index.len()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// Every edge with its data, in the order they were added.
    pub fn edges(&self) -> impl Iterator<Item = (N, N, &E)> {
        self.edges
            .iter()
            .flatten()
            .map(|edge| (edge.from, edge.to, &edge.data))
    }

    /// The strongly connected components of the graph, in reverse topological order (a
    /// component comes before those with edges into it), each in no particular order.
    /// Tarjan's algorithm with an explicit stack.
    pub fn components(&self) -> Vec<Vec<N>> {
        self.tarjan()
            .into_iter()
            .map(|component| component.iter().map(|&s| self.node_of(s)).collect())
            .collect()
    }

    /// The elementary cycles of the graph, each as its nodes `[a, b, ..., z]` (edges `a -> b`,
    /// ..., `z -> a`) starting at its smallest node, so every cycle appears once, shortest
    /// first within each strongly connected component.
    ///
    /// The enumeration stops at cycles of `max_len` nodes and after `max_cycles` cycles (or a
    /// budget of steps), so a dense graph cannot make it blow up; [`Cycles::complete`] says
    /// whether a limit was hit. The limits bound only how many cycles are listed: every strongly
    /// connected component yields at least one, its shortest cycle through its smallest node,
    /// however long that is and however many cycles came before.
    pub fn cycles(&self, max_len: usize, max_cycles: usize) -> Cycles<N> {
        let mut out = Cycles {
            cycles: Vec::new(),
            complete: true,
        };
        // A dense component has more paths than cycles: bound the walk as well as the result.
        let mut steps = Self::MAX_CYCLE_STEPS;
        // Per slot: its rank in the component being searched (NONE: not a member).
        let mut rank = vec![NONE; self.slots.len()];
        let mut on_path = vec![false; self.slots.len()];
        let mut enumerating = true;
        // Components the enumeration listed no cycle of.
        let mut unlisted: Vec<Vec<u32>> = Vec::new();
        for mut component in self.tarjan() {
            if component.len() == 1 {
                let slot = component[0];
                if self.slots[slot as usize]
                    .out
                    .iter()
                    .any(|&(t, _)| t == slot)
                {
                    out.cycles.push(vec![self.node_of(slot)]);
                }
                continue;
            }
            component.sort_unstable_by_key(|&s| self.node_of(s));
            let listed = out.cycles.len();
            if enumerating {
                for (position, &slot) in component.iter().enumerate() {
                    rank[slot as usize] = position as u32;
                }
                // Shortest cycles first (iterative deepening): when a limit stops the search in
                // a dense component, what was found is the short cycles, the ones worth
                // reporting.
                'deepening: for length in 1..=max_len.min(component.len()) {
                    for (start_rank, &start) in component.iter().enumerate() {
                        let search = CycleSearch {
                            start,
                            start_rank: start_rank as u32,
                            length,
                            last: length == max_len,
                            max_cycles,
                        };
                        self.cycles_from(&search, &rank, &mut on_path, &mut steps, &mut out);
                        if out.cycles.len() >= max_cycles || steps == 0 {
                            out.complete = false;
                            enumerating = false;
                            break 'deepening;
                        }
                    }
                }
                for &slot in &component {
                    rank[slot as usize] = NONE;
                }
            }
            if out.cycles.len() == listed {
                unlisted.push(component);
            }
        }
        for component in unlisted {
            out.cycles
                .extend(self.shortest_cycle(&component, &mut rank));
        }
        out
    }

    /// The shortest cycle through the first node of `component` (a strongly connected
    /// component, sorted) of two nodes or more, by breadth-first search inside it; `member` is
    /// scratch space, all NONE before and after.
    fn shortest_cycle(&self, component: &[u32], member: &mut [u32]) -> Option<Vec<N>> {
        for &slot in component {
            member[slot as usize] = 0;
        }
        let start = component[0];
        let mut parent: FxHashMap<u32, u32> = FxHashMap::default();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(slot) = queue.pop_front() {
            for &(target, _) in &self.slots[slot as usize].out {
                if target == start && slot != start {
                    closing = Some(slot);
                    break 'search;
                }
                if target != start
                    && member[target as usize] != NONE
                    && !parent.contains_key(&target)
                {
                    parent.insert(target, slot);
                    queue.push_back(target);
                }
            }
        }
        for &slot in component {
            member[slot as usize] = NONE;
        }
        let mut at = closing?;
        let mut cycle = vec![self.node_of(at)];
        while at != start {
            at = parent[&at];
            cycle.push(self.node_of(at));
        }
        cycle.reverse();
        Some(cycle)
    }

    /// How many edges [`cycles`](Self::cycles) follows at most.
    const MAX_CYCLE_STEPS: u64 = 50_000_000;

    /// Depth-first enumeration of the cycles of `search.length` nodes through `start` that use
    /// only nodes of its component ranked after it, so that each cycle is produced once, from
    /// its smallest node.
    fn cycles_from(
        &self,
        search: &CycleSearch,
        rank: &[u32],
        on_path: &mut [bool],
        steps: &mut u64,
        out: &mut Cycles<N>,
    ) {
        let CycleSearch {
            start,
            start_rank,
            length,
            last,
            max_cycles,
        } = *search;
        let mut path = vec![start];
        // (slot, index of the next out-edge to follow)
        let mut stack: Vec<(u32, usize)> = vec![(start, 0)];
        on_path[start as usize] = true;
        while let Some(top) = stack.last_mut() {
            let (slot, next) = *top;
            let Some(&(target, _)) = self.slots[slot as usize].out.get(next) else {
                stack.pop();
                path.pop();
                on_path[slot as usize] = false;
                continue;
            };
            top.1 += 1;
            *steps = steps.saturating_sub(1);
            if out.cycles.len() >= max_cycles || *steps == 0 {
                out.complete = false;
                for &slot in &path {
                    on_path[slot as usize] = false;
                }
                return;
            }
            if target == start {
                if path.len() == length {
                    out.cycles
                        .push(path.iter().map(|&s| self.node_of(s)).collect());
                }
                continue;
            }
            let target_rank = rank[target as usize];
            if target_rank == NONE || target_rank <= start_rank || on_path[target as usize] {
                continue;
            }
            if path.len() >= length {
                // Longer cycles are the next round's; past the last round, they are cut.
                if last {
                    out.complete = false;
                }
                continue;
            }
            path.push(target);
            on_path[target as usize] = true;
            stack.push((target, 0));
        }
    }

    fn node_of(&self, slot: u32) -> N {
        self.slots[slot as usize]
            .node
            .expect("a slot reached through an edge holds a node")
    }

    /// The slot of `node`, made if new (then in a component of its own, placed by `end`), and
    /// whether it is new.
    fn slot(&mut self, node: N, end: End) -> (u32, bool) {
        if let Some(&slot) = self.index.get(&node) {
            return (slot, false);
        }
        let position = match end {
            End::Source => {
                self.lowest -= 1;
                self.lowest
            }
            End::Target => {
                self.highest += 1;
                self.highest
            }
        };
        let component = match self.free_components.pop() {
            Some(c) => c,
            None => {
                self.components.push(Component::default());
                (self.components.len() - 1) as u32
            }
        };
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    node: None,
                    out: Vec::new(),
                    incoming: Vec::new(),
                    component: NONE,
                });
                (self.slots.len() - 1) as u32
            }
        };
        // A freed component keeps its list's allocation: a program that creates and drops
        // locks reuses it instead of allocating per lock.
        let fresh_component = &mut self.components[component as usize];
        fresh_component.position = position;
        fresh_component.members.clear();
        fresh_component.members.push(slot);
        let fresh = &mut self.slots[slot as usize];
        fresh.node = Some(node);
        fresh.component = component;
        self.index.insert(node, slot);
        (slot, true)
    }

    /// Inserts the edge if new and returns its ends' slots; else returns them and the edge.
    fn insert(
        &mut self,
        from: N,
        to: N,
        make: impl FnOnce() -> E,
    ) -> Result<(u32, u32), (u32, u32, u32)> {
        let (u, u_new) = self.slot(from, End::Source);
        let (v, v_new) = self.slot(to, End::Target);
        if !u_new
            && !v_new
            && let Some(&edge) = self.edge_index.get(&(from, to))
        {
            return Err((u, v, edge));
        }
        let edge = EdgeSlot {
            from,
            to,
            data: make(),
        };
        let index = match self.free_edges.pop() {
            Some(index) => {
                self.edges[index as usize] = Some(edge);
                index
            }
            None => {
                self.edges.push(Some(edge));
                (self.edges.len() - 1) as u32
            }
        };
        self.edge_index.insert((from, to), index);
        self.edge_count += 1;
        self.slots[u as usize].out.push((v, index));
        if u != v {
            self.slots[v as usize].incoming.push(u);
        }
        Ok((u, v))
    }

    fn remove_edge_slot(&mut self, key: (u32, u32), edge: u32) {
        self.edge_index
            .remove(&(self.node_of(key.0), self.node_of(key.1)));
        self.edges[edge as usize] = None;
        self.free_edges.push(edge);
        self.edge_count -= 1;
    }

    /// Restores the order after `cu -> cv` was added against it (`cu` after `cv`). Returns
    /// whether the edge closed a cycle, in which case the components on it were merged into
    /// one.
    fn reorder(&mut self, cu: u32, cv: u32) -> bool {
        let lower = self.components[cv as usize].position;
        let upper = self.components[cu as usize].position;
        let scratch = &mut self.scratch;
        scratch.forward.resize(self.components.len(), 0);
        scratch.backward.resize(self.components.len(), 0);
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.forward.fill(0);
            scratch.backward.fill(0);
            scratch.generation = 1;
        }
        let generation = scratch.generation;
        // Forward from `cv` through components placed up to `cu`: what must move after `cu`.
        let mut reached_forward = std::mem::take(&mut scratch.reached_forward);
        reached_forward.clear();
        self.search(
            cv,
            generation,
            true,
            |position| position <= upper,
            &mut reached_forward,
        );
        let cycle = self.scratch.forward[cu as usize] == generation;
        // Backward from `cu` through components placed from `cv` on: what must move before `cv`.
        let mut reached_backward = std::mem::take(&mut self.scratch.reached_backward);
        reached_backward.clear();
        self.search(
            cu,
            generation,
            false,
            |position| position >= lower,
            &mut reached_backward,
        );

        // The pool of positions to hand out again: those of every component that moves (a
        // component on the cycle was reached both ways, hence the dedup).
        let mut positions = std::mem::take(&mut self.scratch.positions);
        positions.clear();
        positions.extend(
            reached_forward
                .iter()
                .chain(&reached_backward)
                .map(|&c| self.components[c as usize].position),
        );
        positions.sort_unstable();
        positions.dedup();
        let mut merged = Vec::new();
        if cycle {
            // The components both reached from `cv` and reaching `cu` lie on a cycle with the
            // new edge: they become one. Those before them keep coming first, those after last.
            let (forward, backward) = (&self.scratch.forward, &self.scratch.backward);
            merged.extend(
                reached_backward
                    .iter()
                    .copied()
                    .filter(|&c| forward[c as usize] == generation),
            );
            reached_forward.retain(|&c| backward[c as usize] != generation);
            reached_backward.retain(|&c| forward[c as usize] != generation);
        }
        let components = &self.components;
        reached_backward.sort_unstable_by_key(|&c| components[c as usize].position);
        reached_forward.sort_unstable_by_key(|&c| components[c as usize].position);
        // Those that must come first take the lowest positions, the merged component the next
        // one, those that must come last the highest: no position of an unmoved component lies
        // between them, so every other edge keeps its direction (Pearce & Kelly's argument).
        for (i, &c) in reached_backward.iter().enumerate() {
            self.components[c as usize].position = positions[i];
        }
        let top = positions.len() - reached_forward.len();
        for (i, &c) in reached_forward.iter().enumerate() {
            self.components[c as usize].position = positions[top + i];
        }
        if cycle {
            let survivor = self.merge(&merged);
            self.components[survivor as usize].position = positions[reached_backward.len()];
        }
        self.scratch.reached_forward = reached_forward;
        self.scratch.reached_backward = reached_backward;
        self.scratch.positions = positions;
        cycle
    }

    /// Depth-first search over components from `start`, following edges forward or backward
    /// into components whose position `admit`s them; marks and lists what it reached.
    fn search(
        &mut self,
        start: u32,
        generation: u32,
        forward: bool,
        admit: impl Fn(i64) -> bool,
        reached: &mut Vec<u32>,
    ) {
        let mut stack = std::mem::take(&mut self.scratch.stack);
        stack.clear();
        let marks = if forward {
            &mut self.scratch.forward
        } else {
            &mut self.scratch.backward
        };
        marks[start as usize] = generation;
        reached.push(start);
        stack.push(start);
        while let Some(component) = stack.pop() {
            for &member in &self.components[component as usize].members {
                let slot = &self.slots[member as usize];
                let mut visit = |next: u32| {
                    let c = self.slots[next as usize].component;
                    if marks[c as usize] != generation
                        && admit(self.components[c as usize].position)
                    {
                        marks[c as usize] = generation;
                        reached.push(c);
                        stack.push(c);
                    }
                };
                if forward {
                    slot.out.iter().for_each(|&(next, _)| visit(next));
                } else {
                    slot.incoming.iter().for_each(|&next| visit(next));
                }
            }
        }
        self.scratch.stack = stack;
    }

    /// Merges the components into the largest of them; returns it.
    fn merge(&mut self, components: &[u32]) -> u32 {
        let survivor = *components
            .iter()
            .max_by_key(|&&c| self.components[c as usize].members.len())
            .expect("a cycle merges at least two components");
        for &c in components {
            if c == survivor {
                continue;
            }
            let members = std::mem::take(&mut self.components[c as usize].members);
            for &m in &members {
                self.slots[m as usize].component = survivor;
            }
            self.components[survivor as usize].members.extend(members);
            self.free_components.push(c);
        }
        survivor
    }

    /// The shortest path `start -> ... -> goal` (both included) inside their component, by
    /// breadth-first search.
    fn path_in_component(&mut self, start: u32, goal: u32) -> Option<Vec<u32>> {
        let component = self.slots[start as usize].component;
        let scratch = &mut self.scratch;
        scratch.seen.resize(self.slots.len(), 0);
        scratch.parent.resize(self.slots.len(), NONE);
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.seen.fill(0);
            scratch.forward.fill(0);
            scratch.backward.fill(0);
            scratch.generation = 1;
        }
        let generation = scratch.generation;
        scratch.queue.clear();
        scratch.queue.push_back(start);
        scratch.seen[start as usize] = generation;
        while let Some(slot) = scratch.queue.pop_front() {
            if slot == goal {
                let mut path = vec![goal];
                let mut at = goal;
                while at != start {
                    at = scratch.parent[at as usize];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            for &(next, _) in &self.slots[slot as usize].out {
                if scratch.seen[next as usize] != generation
                    && self.slots[next as usize].component == component
                {
                    scratch.seen[next as usize] = generation;
                    scratch.parent[next as usize] = slot;
                    scratch.queue.push_back(next);
                }
            }
        }
        None
    }

    /// `[from, to, ..., x]` from the path `to -> ... -> from`.
    fn closed_cycle(&self, from: u32, path: &[u32]) -> Vec<N> {
        std::iter::once(from)
            .chain(path[..path.len() - 1].iter().copied())
            .map(|s| self.node_of(s))
            .collect()
    }

    /// Recomputes components and positions from scratch, after edges were inserted without
    /// maintaining them.
    fn rebuild_order(&mut self) {
        let sccs = self.tarjan();
        let count = sccs.len();
        self.components.clear();
        self.free_components.clear();
        // Tarjan finds components in reverse topological order: the first found goes last.
        for (i, members) in sccs.into_iter().enumerate() {
            for &m in &members {
                self.slots[m as usize].component = i as u32;
            }
            self.components.push(Component {
                position: (count - i) as i64,
                members,
            });
        }
        self.lowest = 0;
        self.highest = count as i64 + 1;
        self.ordered = true;
    }

    /// Tarjan's strongly connected components over slots, iteratively: components in the order
    /// they complete (reverse topological order).
    fn tarjan(&self) -> Vec<Vec<u32>> {
        let n = self.slots.len();
        let mut index = vec![NONE; n];
        let mut low = vec![0_u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let mut counter = 0_u32;
        let mut out = Vec::new();
        for root in 0..n as u32 {
            if self.slots[root as usize].node.is_none() || index[root as usize] != NONE {
                continue;
            }
            index[root as usize] = counter;
            low[root as usize] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            calls.push((root, 0));
            while let Some(&mut (slot, ref mut next)) = calls.last_mut() {
                if let Some(&(target, _)) = self.slots[slot as usize].out.get(*next) {
                    *next += 1;
                    let t = target as usize;
                    if index[t] == NONE {
                        index[t] = counter;
                        low[t] = counter;
                        counter += 1;
                        stack.push(target);
                        on_stack[t] = true;
                        calls.push((target, 0));
                    } else if on_stack[t] {
                        low[slot as usize] = low[slot as usize].min(index[t]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent as usize] = low[parent as usize].min(low[slot as usize]);
                }
                if low[slot as usize] == index[slot as usize] {
                    let mut component = Vec::new();
                    loop {
                        let member = stack.pop().expect("the root is on the stack");
                        on_stack[member as usize] = false;
                        component.push(member);
                        if member == slot {
                            break;
                        }
                    }
                    out.push(component);
                }
            }
        }
        out
    }

    /// Checks the order's invariants; for tests.
    #[cfg(test)]
    fn check_invariants(&self) {
        if !self.ordered {
            return;
        }
        for edge in self.edges.iter().flatten() {
            let (u, v) = (self.index[&edge.from], self.index[&edge.to]);
            let (cu, cv) = (
                self.slots[u as usize].component,
                self.slots[v as usize].component,
            );
            assert!(
                cu == cv
                    || self.components[cu as usize].position
                        < self.components[cv as usize].position,
                "edge {:?} -> {:?} goes against the order",
                edge.from,
                edge.to
            );
        }
        for (slot, s) in self.slots.iter().enumerate() {
            if s.node.is_some() {
                assert!(
                    self.components[s.component as usize]
                        .members
                        .contains(&(slot as u32))
                );
            }
        }
    }
}

/// Where one cycle enumeration starts, and its limits.
#[derive(Clone, Copy)]
struct CycleSearch {
    start: u32,
    start_rank: u32,
    /// The number of nodes of the cycles sought.
    length: usize,
    /// Whether `length` is the longest allowed, so that a longer path is a cut.
    last: bool,
    max_cycles: usize,
}

/// The result of [`OrderGraph::cycles`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycles<N> {
    /// The cycles found.
    pub cycles: Vec<Vec<N>>,
    /// False when a length or count limit cut the search short.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph(edges: &[(u32, u32)]) -> OrderGraph<u32, ()> {
        let mut g = OrderGraph::new();
        for &(a, b) in edges {
            g.add_edge(a, b, || ());
        }
        g
    }

    #[test]
    fn add_edge_returns_the_cycle_it_closes() {
        let mut g = OrderGraph::new();
        assert_eq!(g.add_edge(1, 2, || "a"), AddEdge::Added);
        assert_eq!(g.add_edge(2, 3, || "b"), AddEdge::Added);
        assert_eq!(g.add_edge(1, 2, || unreachable!()), AddEdge::Existing);
        assert_eq!(g.add_edge(3, 1, || "c"), AddEdge::Cycle(vec![3, 1, 2]));
        assert_eq!(g.edge(3, 1), Some(&"c"));
        // The closing edge stays in the graph: a second cycle through it is found as well.
        assert_eq!(g.add_edge(2, 1, || "d"), AddEdge::Cycle(vec![2, 1]));
        assert_eq!(g.add_edge(4, 4, || "e"), AddEdge::Cycle(vec![4]));
    }

    #[test]
    fn the_shortest_cycle_is_returned() {
        let mut g = graph(&[(2, 3), (3, 4), (4, 1), (2, 1)]);
        assert_eq!(g.add_edge(1, 2, || ()), AddEdge::Cycle(vec![1, 2]));
        assert_eq!(g.cycle_through(3, 4), Some(vec![3, 4, 1, 2]));
        g.add_edge(5, 6, || ());
        assert_eq!(g.cycle_through(5, 6), None, "not in a cycle");
    }

    #[test]
    fn removed_nodes_take_their_edges() {
        let mut g = graph(&[(1, 2), (2, 3)]);
        g.remove_node(2);
        assert_eq!(g.edge_count(), 0);
        assert_eq!(g.add_edge(3, 1, || ()), AddEdge::Added);
        // A component that lost a node keeps its other edges honest: no false cycle.
        let mut g = graph(&[(1, 2), (2, 3), (3, 1)]);
        g.remove_node(3);
        assert_eq!(g.add_edge(4, 1, || ()), AddEdge::Added);
        assert_eq!(g.cycle_through(1, 2), None);
        assert_eq!(g.add_edge(2, 1, || ()), AddEdge::Cycle(vec![2, 1]));
    }

    #[test]
    fn inserted_edges_are_ordered_when_add_edge_follows() {
        let mut g: OrderGraph<u32, ()> = OrderGraph::new();
        for (a, b) in [(1, 2), (2, 3), (3, 1), (4, 5)] {
            assert!(g.insert_edge(a, b, || ()));
        }
        assert!(!g.insert_edge(1, 2, || ()));
        assert_eq!(g.add_edge(5, 4, || ()), AddEdge::Cycle(vec![5, 4]));
        assert_eq!(g.cycle_through(1, 2), Some(vec![1, 2, 3]));
        g.check_invariants();
    }

    #[test]
    fn cycles_lists_each_elementary_cycle_once() {
        let g = graph(&[(1, 2), (2, 1), (2, 3), (3, 1), (4, 4), (5, 6)]);
        let cycles = g.cycles(10, 100);
        assert!(cycles.complete);
        let mut found = cycles.cycles;
        found.sort();
        assert_eq!(found, vec![vec![1, 2], vec![1, 2, 3], vec![4]]);
    }

    #[test]
    fn cycles_respects_its_limits() {
        // A complete graph on 8 nodes has thousands of elementary cycles.
        let edges: Vec<(u32, u32)> = (0..8)
            .flat_map(|a| (0..8).filter(move |&b| b != a).map(move |b| (a, b)))
            .collect();
        let g = graph(&edges);
        let capped = g.cycles(8, 50);
        assert_eq!(capped.cycles.len(), 50);
        assert!(!capped.complete);
        let short = g.cycles(2, usize::MAX);
        assert_eq!(short.cycles.len(), 28, "only the 2-cycles: 8 choose 2");
        assert!(!short.complete);
    }

    /// Regression: a 9-lock cycle passed CI, since the search looked for 8 locks at most.
    #[test]
    fn every_component_yields_a_cycle_whatever_the_limits() {
        let ring: Vec<(u32, u32)> = (0..9).map(|i| (i, (i + 1) % 9)).collect();
        let mut edges = ring.clone();
        // A second component, never reached once the first used up the count limit.
        edges.extend([(20, 21), (21, 20), (21, 22), (22, 20)]);
        edges.extend([(0, 5), (5, 0)]);
        let g = graph(&edges);
        let found = g.cycles(8, 1);
        assert!(!found.complete);
        let mut cycles = found.cycles;
        cycles.sort();
        assert_eq!(cycles, vec![vec![0, 5], vec![20, 21]]);
        let ring_only = graph(&ring).cycles(8, 100);
        assert_eq!(ring_only.cycles, vec![(0..9).collect::<Vec<u32>>()]);
        assert!(!ring_only.complete);
    }

    /// Regression: a chain of 200,000 locks taken hand over hand overflowed the stack of the
    /// recursive strongly-connected-components search.
    #[test]
    fn a_long_chain_needs_no_deep_stack() {
        let n = 200_000_u32;
        let mut g: OrderGraph<u32, ()> = OrderGraph::new();
        for i in 0..n {
            g.insert_edge(i, i + 1, || ());
        }
        g.insert_edge(n, 0, || ());
        assert_eq!(
            g.components().iter().map(Vec::len).max(),
            Some(n as usize + 1)
        );
        let cycles = g.cycles(8, 10);
        assert!(!cycles.complete, "the only cycle is longer than the limit");
        assert_eq!(
            cycles.cycles.len(),
            1,
            "but every component yields its shortest cycle"
        );
        assert_eq!(cycles.cycles[0].len(), n as usize + 1);
        assert_eq!(cycles.cycles[0][..3], [0, 1, 2]);
        // And the incremental order, from scratch and then kept.
        assert_eq!(g.add_edge(5, 3, || ()), AddEdge::Cycle(vec![5, 3, 4]));
    }

    /// A from-scratch oracle: the shortest path by BFS over an edge list.
    fn shortest_path(edges: &[(u32, u32)], start: u32, goal: u32) -> Option<usize> {
        let mut dist: FxHashMap<u32, usize> = FxHashMap::default();
        let mut queue = VecDeque::from([start]);
        dist.insert(start, 0);
        while let Some(n) = queue.pop_front() {
            if n == goal {
                return Some(dist[&n]);
            }
            for &(a, b) in edges {
                if a == n && !dist.contains_key(&b) {
                    dist.insert(b, dist[&n] + 1);
                    queue.push_back(b);
                }
            }
        }
        None
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(u32, u32),
        Insert(u32, u32),
        Remove(u32),
        Recheck(u32, u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..12_u32, 0..12_u32).prop_map(|(a, b)| Op::Add(a, b)),
            1 => (0..12_u32, 0..12_u32).prop_map(|(a, b)| Op::Insert(a, b)),
            1 => (0..12_u32).prop_map(Op::Remove),
            2 => (0..12_u32, 0..12_u32).prop_map(|(a, b)| Op::Recheck(a, b)),
        ]
    }

    fn check_cycle(edges: &[(u32, u32)], cycle: &[u32], closing: (u32, u32)) {
        assert_eq!((cycle[0], cycle[1 % cycle.len()]), closing);
        for i in 0..cycle.len() {
            let pair = (cycle[i], cycle[(i + 1) % cycle.len()]);
            assert!(
                edges.contains(&pair),
                "{pair:?} of {cycle:?} is not an edge"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The incremental order against a from-scratch computation, on random sequences that
        /// create cycles, extend them and remove nodes.
        #[test]
        fn the_incremental_order_agrees_with_a_search_from_scratch(
            ops in proptest::collection::vec(op(), 1..120)
        ) {
            let mut g: OrderGraph<u32, ()> = OrderGraph::new();
            let mut edges: Vec<(u32, u32)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(a, b) => {
                        let known = edges.contains(&(a, b));
                        let expected = if a == b { Some(0) } else { shortest_path(&edges, b, a) };
                        match g.add_edge(a, b, || ()) {
                            AddEdge::Existing => prop_assert!(known),
                            AddEdge::Added => prop_assert!(!known && expected.is_none()),
                            AddEdge::Cycle(cycle) => {
                                prop_assert!(!known);
                                edges.push((a, b));
                                check_cycle(&edges, &cycle, (a, b));
                                prop_assert_eq!(Some(cycle.len() - 1), expected);
                                continue;
                            }
                        }
                        if !known {
                            edges.push((a, b));
                        }
                    }
                    Op::Insert(a, b) => {
                        let known = edges.contains(&(a, b));
                        prop_assert_eq!(g.insert_edge(a, b, || ()), !known);
                        if !known {
                            edges.push((a, b));
                        }
                    }
                    Op::Remove(n) => {
                        g.remove_node(n);
                        edges.retain(|&(a, b)| a != n && b != n);
                    }
                    Op::Recheck(a, b) => {
                        let found = g.cycle_through(a, b);
                        if !edges.contains(&(a, b)) {
                            prop_assert!(found.is_none());
                        } else {
                            let expected = if a == b { Some(0) } else { shortest_path(&edges, b, a) };
                            match found {
                                Some(cycle) => {
                                    check_cycle(&edges, &cycle, (a, b));
                                    prop_assert_eq!(Some(cycle.len() - 1), expected);
                                }
                                None => prop_assert!(expected.is_none()),
                            }
                        }
                    }
                }
                g.check_invariants();
                prop_assert_eq!(g.edge_count(), edges.len());
            }
            // Components against petgraph's (Kosaraju, an independent algorithm).
            let mut reference = petgraph::graphmap::DiGraphMap::<u32, ()>::new();
            for &(a, b) in &edges {
                reference.add_edge(a, b, ());
            }
            let normalize = |mut components: Vec<Vec<u32>>| {
                for c in &mut components {
                    c.sort_unstable();
                }
                components.retain(|c| c.iter().any(|n| edges.iter().any(|&(a, b)| a == *n || b == *n)));
                components.sort();
                components
            };
            prop_assert_eq!(
                normalize(g.components()),
                normalize(petgraph::algo::kosaraju_scc(&reference))
            );
            // Every elementary cycle is a real cycle, found once.
            let cycles = g.cycles(usize::MAX, usize::MAX);
            prop_assert!(cycles.complete);
            let mut seen = std::collections::HashSet::new();
            for cycle in &cycles.cycles {
                check_cycle(&edges, cycle, (cycle[0], cycle[1 % cycle.len()]));
                prop_assert!(seen.insert(cycle.clone()));
            }
        }
    }
}
