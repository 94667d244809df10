//! The lock-order graph: generic over node and edge data, so the live detector and the trace
//! analyzer share it. Adding an edge returns the cycle it closes, as data.

use std::collections::VecDeque;
use std::hash::Hash;

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::{DiGraphMap, NodeTrait};
use rustc_hash::{FxBuildHasher, FxHashMap};

/// A directed graph `N -> N` with data `E` on each edge, that reports the cycles edges close.
#[derive(Debug)]
pub struct OrderGraph<N: NodeTrait, E> {
    graph: DiGraphMap<N, E, FxBuildHasher>,
    /// Scratch space of the path search, kept to avoid allocating on every new edge.
    parent: FxHashMap<N, N>,
    queue: VecDeque<N>,
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

impl<N: NodeTrait, E> Default for OrderGraph<N, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: NodeTrait, E> OrderGraph<N, E> {
    /// An empty graph.
    pub fn new() -> Self {
        OrderGraph {
            graph: DiGraphMap::with_capacity_and_hasher(0, 0, FxBuildHasher),
            parent: FxHashMap::default(),
            queue: VecDeque::new(),
        }
    }

    /// Adds `from -> to` with the data `make()` if the edge is new, and returns the shortest
    /// cycle it closes. `make` is not called for an existing edge.
    pub fn add_edge(&mut self, from: N, to: N, make: impl FnOnce() -> E) -> AddEdge<N> {
        if self.graph.contains_edge(from, to) {
            return AddEdge::Existing;
        }
        // Search before inserting, so the path found cannot use the new edge itself.
        let cycle = self.path(to, from).map(|mut path| {
            path.insert(0, from);
            path.pop(); // `path` ends at `from`, which already opens the cycle.
            path
        });
        self.graph.add_edge(from, to, make());
        match cycle {
            Some(cycle) => AddEdge::Cycle(cycle),
            None => AddEdge::Added,
        }
    }

    /// The data of `from -> to`.
    pub fn edge(&self, from: N, to: N) -> Option<&E> {
        self.graph.edge_weight(from, to)
    }

    /// The data of `from -> to`, mutably.
    pub fn edge_mut(&mut self, from: N, to: N) -> Option<&mut E> {
        self.graph.edge_weight_mut(from, to)
    }

    /// Removes a node and its edges (a lock that was dropped).
    pub fn remove_node(&mut self, node: N) {
        self.graph.remove_node(node);
    }

    /// Whether the node has any edge.
    pub fn contains_node(&self, node: N) -> bool {
        self.graph.contains_node(node)
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every edge with its data.
    pub fn edges(&self) -> impl Iterator<Item = (N, N, &E)> {
        self.graph.all_edges()
    }

    /// The shortest path `start -> ... -> goal` (both included), by breadth-first search.
    pub fn path(&mut self, start: N, goal: N) -> Option<Vec<N>> {
        if !self.graph.contains_node(start) || !self.graph.contains_node(goal) {
            return None;
        }
        self.parent.clear();
        self.queue.clear();
        self.queue.push_back(start);
        self.parent.insert(start, start);
        while let Some(node) = self.queue.pop_front() {
            if node == goal {
                let mut path = vec![goal];
                let mut at = goal;
                while at != start {
                    at = self.parent[&at];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            for next in self.graph.neighbors_directed(node, Direction::Outgoing) {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.parent.entry(next) {
                    slot.insert(node);
                    self.queue.push_back(next);
                }
            }
        }
        None
    }

    /// The elementary cycles of the graph, each as its nodes `[a, b, ..., z]` (edges `a -> b`,
    /// ..., `z -> a`) starting at its smallest node, so every cycle appears once.
    ///
    /// The search runs per strongly connected component and stops at cycles of `max_len`
    /// nodes and after `max_cycles` cycles, so a dense graph cannot make it blow up;
    /// [`Cycles::complete`] says whether a limit was hit.
    pub fn cycles(&self, max_len: usize, max_cycles: usize) -> Cycles<N> {
        let mut out = Cycles {
            cycles: Vec::new(),
            complete: true,
        };
        for mut component in tarjan_scc(&self.graph) {
            if component.len() == 1 {
                let node = component[0];
                if self.graph.contains_edge(node, node) {
                    out.cycles.push(vec![node]);
                }
                continue;
            }
            component.sort_unstable();
            let members: FxHashMap<N, usize> = component
                .iter()
                .enumerate()
                .map(|(index, &node)| (node, index))
                .collect();
            for (start_index, &start) in component.iter().enumerate() {
                let mut search = CycleSearch {
                    graph: &self.graph,
                    members: &members,
                    start,
                    start_index,
                    max_len,
                    max_cycles,
                    path: vec![start],
                    out: &mut out,
                };
                search.extend(start);
                if out.cycles.len() >= max_cycles {
                    out.complete = false;
                    return out;
                }
            }
        }
        out
    }
}

/// The result of [`OrderGraph::cycles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycles<N> {
    /// The cycles found.
    pub cycles: Vec<Vec<N>>,
    /// False when a length or count limit cut the search short.
    pub complete: bool,
}

/// Depth-first enumeration of the cycles through `start` that use only nodes of its component
/// ordered after it, so that each cycle is produced once, from its smallest node.
struct CycleSearch<'a, N: NodeTrait, E> {
    graph: &'a DiGraphMap<N, E, FxBuildHasher>,
    members: &'a FxHashMap<N, usize>,
    start: N,
    start_index: usize,
    max_len: usize,
    max_cycles: usize,
    path: Vec<N>,
    out: &'a mut Cycles<N>,
}

impl<N: NodeTrait + Hash, E> CycleSearch<'_, N, E> {
    fn extend(&mut self, node: N) {
        for next in self.graph.neighbors_directed(node, Direction::Outgoing) {
            if self.out.cycles.len() >= self.max_cycles {
                self.out.complete = false;
                return;
            }
            if next == self.start {
                self.out.cycles.push(self.path.clone());
                continue;
            }
            let Some(&index) = self.members.get(&next) else {
                continue;
            };
            if index <= self.start_index || self.path.contains(&next) {
                continue;
            }
            if self.path.len() >= self.max_len {
                self.out.complete = false;
                continue;
            }
            self.path.push(next);
            self.extend(next);
            self.path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn the_shortest_cycle_is_returned() {
        let mut g = graph(&[(2, 3), (3, 4), (4, 1), (2, 1)]);
        assert_eq!(g.add_edge(1, 2, || ()), AddEdge::Cycle(vec![1, 2]));
    }

    #[test]
    fn removed_nodes_take_their_edges() {
        let mut g = graph(&[(1, 2), (2, 3)]);
        g.remove_node(2);
        assert_eq!(g.edge_count(), 0);
        assert_eq!(g.add_edge(3, 1, || ()), AddEdge::Added);
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
}
