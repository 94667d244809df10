//! Pictures of traces: [`TracePicture`], one trace's locks, order edges and timeline as a
//! replay kept them (`model.rs`), and [`LockGraph`], the lock-order graph of one or more traces
//! as the picture renderers draw it: locks merged by the names the findings use, edges with
//! every way they were taken, and the cycles of the findings marked on both.

mod model;

use std::collections::BTreeMap;

use crate::finding::{Finding, FindingKind};
use crate::ids::{LockKind, Mode};
use crate::site::Site;

pub use model::{
    BlockedWait, Clock, Hold, Moment, PictureEdge, PictureLock, PictureOccurrence, PictureThread,
    TracePicture, WaitFor,
};

/// One trace's picture and the file it came from.
#[derive(Clone, Debug)]
pub struct NamedPicture {
    /// The trace's file name, as findings name it.
    pub file: String,
    /// What the replay kept.
    pub picture: TracePicture,
}

/// A lock of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// The name findings use for it; for an unnamed lock of one of several traces, with the
    /// trace's file in parentheses.
    pub name: String,
    /// What kind of lock it is.
    pub kind: LockKind,
    /// The findings (indices) whose cycle goes through it.
    pub cycles: Vec<usize>,
}

/// One way an edge was taken.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeUse {
    /// The thread's name.
    pub thread: String,
    /// Where the held lock was acquired.
    pub from_site: Option<String>,
    /// Where the next lock was acquired.
    pub to_site: Option<String>,
    /// Whether either lock was held or requested in a shared mode (`read`).
    pub shared: bool,
    /// The trace, when the graph has several.
    pub trace: Option<String>,
}

/// A lock-order edge of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphEdge {
    /// The held lock, an index into [`LockGraph::nodes`].
    pub from: usize,
    /// The acquired lock, an index into [`LockGraph::nodes`].
    pub to: usize,
    /// Every way it was taken, sorted.
    pub uses: Vec<EdgeUse>,
    /// The findings (indices) whose cycle takes it.
    pub cycles: Vec<usize>,
}

/// The lock-order graph: sorted by name, so its renderings are stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockGraph {
    /// The locks that take part in an order edge, sorted by name.
    pub nodes: Vec<GraphNode>,
    /// The edges, sorted by the names of their ends.
    pub edges: Vec<GraphEdge>,
}

/// Whether a finding is about a lock-order or wait cycle, which the graph can show.
pub fn is_cycle(finding: &Finding) -> bool {
    matches!(
        finding.kind,
        FindingKind::Deadlock
            | FindingKind::PotentialDeadlock
            | FindingKind::LockOrderInversion
            | FindingKind::GatedCycle
    ) && !finding.edges.is_empty()
}

fn site_text(site: &Option<Site>) -> Option<String> {
    site.as_ref().map(ToString::to_string)
}

impl LockGraph {
    /// The merged graph of `traces`, with the cycles of `findings` marked.
    pub fn build(traces: &[NamedPicture], findings: &[Finding]) -> LockGraph {
        let several = traces.len() > 1;
        // Name -> (kind, edges by target name).
        let mut nodes: BTreeMap<String, LockKind> = BTreeMap::new();
        let mut edges: BTreeMap<(String, String), Vec<EdgeUse>> = BTreeMap::new();
        for trace in traces {
            let picture = &trace.picture;
            let name = |index: usize| {
                let lock = &picture.locks[index];
                if several && !lock.named {
                    format!("{} ({})", lock.name, trace.file)
                } else {
                    lock.name.clone()
                }
            };
            for edge in &picture.edges {
                let (from, to) = (name(edge.from), name(edge.to));
                nodes
                    .entry(from.clone())
                    .or_insert(picture.locks[edge.from].kind);
                nodes
                    .entry(to.clone())
                    .or_insert(picture.locks[edge.to].kind);
                let uses = edges.entry((from, to)).or_default();
                for occurrence in &edge.occurrences {
                    let used = EdgeUse {
                        thread: occurrence.thread.clone(),
                        from_site: site_text(&occurrence.from_site),
                        to_site: site_text(&occurrence.to_site),
                        shared: occurrence.from_mode != Mode::Exclusive
                            || occurrence.to_mode != Mode::Exclusive,
                        trace: several.then(|| trace.file.clone()),
                    };
                    if !uses.contains(&used) {
                        uses.push(used);
                    }
                }
            }
        }
        let index: BTreeMap<&str, usize> = nodes
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut graph = LockGraph {
            edges: edges
                .iter()
                .map(|((from, to), uses)| {
                    let mut uses = uses.clone();
                    uses.sort();
                    GraphEdge {
                        from: index[from.as_str()],
                        to: index[to.as_str()],
                        uses,
                        cycles: Vec::new(),
                    }
                })
                .collect(),
            nodes: nodes
                .iter()
                .map(|(name, &kind)| GraphNode {
                    name: name.clone(),
                    kind,
                    cycles: Vec::new(),
                })
                .collect(),
        };
        for (number, finding) in findings.iter().enumerate() {
            if is_cycle(finding) {
                graph.mark(number, finding);
            }
        }
        graph
    }

    /// The node called `name`, or, for a finding of one of several traces, `name (trace)`.
    pub fn node(&self, name: &str, trace: Option<&str>) -> Option<usize> {
        let find = |wanted: &str| self.nodes.iter().position(|n| n.name == wanted);
        find(name).or_else(|| find(&format!("{name} ({})", trace?)))
    }

    /// The edge between two nodes.
    pub fn edge(&self, from: usize, to: usize) -> Option<usize> {
        self.edges.iter().position(|e| e.from == from && e.to == to)
    }

    fn mark(&mut self, number: usize, finding: &Finding) {
        let trace = finding.trace.as_deref();
        for step in &finding.edges {
            let (Some(from), Some(to)) = (self.node(&step.from, trace), self.node(&step.to, trace))
            else {
                continue;
            };
            for node in [from, to] {
                let cycles = &mut self.nodes[node].cycles;
                if !cycles.contains(&number) {
                    cycles.push(number);
                }
            }
            if let Some(edge) = self.edge(from, to) {
                let cycles = &mut self.edges[edge].cycles;
                if !cycles.contains(&number) {
                    cycles.push(number);
                }
            }
        }
    }

    /// How many findings' cycles the graph shows.
    pub fn cycle_count(&self) -> usize {
        let mut marked: Vec<usize> = self.edges.iter().flat_map(|e| e.cycles.clone()).collect();
        marked.sort_unstable();
        marked.dedup();
        marked.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::analysis::Replay;
    use crate::ids::{Flavour, LockId, ThreadId};
    use crate::trace::Event;

    /// Replays `steps` (`acq T L`, `req T L`, `rel T L`) over locks `a`..`e` (ids 1..5, named
    /// and of kind mutex) with a picture kept; thread `T` is named `tT`.
    pub(crate) fn picture(steps: &str) -> (TracePicture, Vec<Finding>) {
        let mut replay = Replay::default().keep_timeline();
        for (id, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            replay.event(Event::Lock {
                lock: LockId(id as u64 + 1),
                kind: LockKind::Mutex,
                name: Some((*name).into()),
                class: None,
                site: None,
                rank: None,
            });
        }
        for t in 1..=4 {
            replay.event(Event::Thread {
                tid: ThreadId(t),
                name: Some(format!("t{t}").into()),
                parent: None,
            });
        }
        for (line, step) in steps.split(';').map(str::trim).enumerate() {
            let words: Vec<&str> = step.split_whitespace().collect();
            let (tid, lock) = (
                ThreadId(words[1].parse().unwrap()),
                LockId(words[2].parse().unwrap()),
            );
            let site = Some(Site::from(format!("src/x.rs:{}:5", line + 1).as_str()));
            replay.event(match words[0] {
                "acq" => Event::Acquire {
                    tid,
                    lock,
                    mode: Mode::Exclusive,
                    try_lock: false,
                    flavour: Flavour::Plain,
                    site,
                },
                "req" => Event::Request {
                    tid,
                    lock,
                    mode: Mode::Exclusive,
                    flavour: Flavour::Plain,
                    site,
                },
                _ => Event::Release {
                    tid,
                    lock,
                    mode: Mode::Exclusive,
                    site,
                },
            });
        }
        let mut result = replay.finish();
        (result.picture.take().unwrap(), result.findings)
    }

    /// The replay of `steps` as the one trace `t.json`, and its findings.
    pub(crate) fn one_trace(steps: &str) -> ([NamedPicture; 1], Vec<Finding>) {
        let (picture, findings) = picture(steps);
        let trace = NamedPicture {
            file: "t.json".into(),
            picture,
        };
        ([trace], findings)
    }

    /// Two threads in opposite orders over `a` and `b`, and `c` taken alone.
    pub(crate) const AB_BA: &str = "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1; \
                                    rel 2 1; rel 2 2; acq 3 3; rel 3 3";

    #[test]
    fn the_graph_has_the_ordered_locks_and_marks_the_cycle() {
        let (traces, findings) = one_trace(AB_BA);
        assert_eq!(findings.len(), 1);
        let graph = LockGraph::build(&traces, &findings);
        let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "c is in no order edge");
        assert_eq!(graph.edges.len(), 2);
        assert!(graph.edges.iter().all(|e| e.cycles == [0]));
        assert!(graph.nodes.iter().all(|n| n.cycles == [0]));
        assert_eq!(graph.cycle_count(), 1);
        let ab = &graph.edges[graph.edge(0, 1).unwrap()];
        assert_eq!(ab.uses[0].thread, "t1");
        assert_eq!(ab.uses[0].from_site.as_deref(), Some("src/x.rs:1:5"));
        assert_eq!(ab.uses[0].to_site.as_deref(), Some("src/x.rs:2:5"));
    }

    #[test]
    fn unnamed_locks_of_several_traces_stay_apart() {
        let (mut first, _) = picture("acq 1 1; acq 1 2");
        for lock in &mut first.locks {
            lock.named = false;
        }
        let second = first.clone();
        let traces = [
            NamedPicture {
                file: "one.json".into(),
                picture: first,
            },
            NamedPicture {
                file: "two.json".into(),
                picture: second,
            },
        ];
        let graph = LockGraph::build(&traces, &[]);
        let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "a (one.json)",
                "a (two.json)",
                "b (one.json)",
                "b (two.json)"
            ]
        );
        assert_eq!(graph.edges.len(), 2);
        assert_eq!(graph.node("a", Some("two.json")), Some(1));
    }

    #[test]
    fn a_consistent_order_marks_nothing() {
        let (traces, findings) = one_trace("acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 1; acq 2 2");
        let graph = LockGraph::build(&traces, &findings);
        assert_eq!(graph.edges.len(), 1);
        assert_eq!(graph.edges[0].uses.len(), 2);
        assert_eq!(graph.cycle_count(), 0);
    }
}
