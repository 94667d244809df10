//! Classifying a lock-order cycle (potential deadlock, inversion, gated by a common lock), and
//! the finding for a classified cycle: shared by live detection and replay.

use crate::engine::edges::{EdgeData, Occurrence};
use crate::finding::{Finding, FindingEdge, FindingKind};
use crate::ids::{LockId, Mode, ThreadId};

/// How a cycle was classified, and which occurrence of each edge shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// `PotentialDeadlock`, `LockOrderInversion` or `GatedCycle`.
    pub kind: FindingKind,
    /// For each edge of the cycle, the index of the occurrence that shows the classification.
    pub chosen: Vec<usize>,
    /// Why, in words.
    pub reason: String,
    /// The gate lock of a gated cycle, so reports can name it.
    pub gate: Option<LockId>,
}

/// Classifies the cycle `locks[0] -> locks[1] -> ... -> locks[0]` whose edges are `edges`
/// (`edges[i]` is `locks[i] -> locks[i+1]`).
///
/// Returns `None` when no choice of occurrences can block: every schedule passes, as in a
/// cycle of read locks taken in shared mode.
pub fn classify(locks: &[LockId], edges: &[&EdgeData]) -> Option<Classification> {
    debug_assert_eq!(locks.len(), edges.len());
    let mut search = Search {
        locks,
        edges,
        choice: Vec::with_capacity(edges.len()),
        best: None,
        // The first descent costs one step per edge whatever the cycle's length; the budget
        // bounds the backtracking after it.
        budget: 100_000_usize.saturating_add(edges.len()),
    };
    search.run();
    if search.best.is_none() && search.budget == 0 {
        // The budget ran out before any choice of occurrences was judged: that says nothing
        // about whether one can block, so look for one directly rather than drop the cycle.
        if let Some(choice) = blocking_choice(edges) {
            search.choice = choice;
            search.best = Some((search.judge(), std::mem::take(&mut search.choice)));
        }
    }
    let (outcome, chosen) = search.best?;
    let picked: Vec<&Occurrence> = chosen
        .iter()
        .enumerate()
        .map(|(i, &c)| &edges[i].occurrences[c])
        .collect();
    let (kind, reason) = match outcome {
        Outcome::Potential => (
            FindingKind::PotentialDeadlock,
            "the edges were taken by different threads that hold no common lock and are not \
             ordered by spawn or join: another schedule can deadlock"
                .to_owned(),
        ),
        Outcome::Inversion => {
            let single = picked.iter().all(|o| o.thread == picked[0].thread);
            let reason = if single {
                "one thread took the locks in both orders, so this run could not deadlock; two \
                 threads running these paths at once can"
            } else {
                "the threads were ordered by spawn or join, so this run could not \
                 deadlock; the lock order is still inconsistent and can deadlock when these \
                 paths run concurrently"
            };
            (FindingKind::LockOrderInversion, reason.to_owned())
        }
        Outcome::Gated(gate) => (
            FindingKind::GatedCycle,
            format!(
                "every way to close the cycle holds the gate lock {gate} as well, which \
                 serializes the edges"
            ),
        ),
    };
    let gate = match outcome {
        Outcome::Gated(gate) => Some(gate),
        _ => None,
    };
    Some(Classification {
        kind,
        chosen,
        reason,
        gate,
    })
}

/// The verdict for one choice of occurrences; a higher rank is more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Gated(LockId),
    Inversion,
    Potential,
}

impl Outcome {
    fn rank(self) -> u8 {
        match self {
            Outcome::Gated(_) => 0,
            Outcome::Inversion => 1,
            Outcome::Potential => 2,
        }
    }
}

/// Backtracking over one occurrence per edge, keeping the most severe verdict. Bounded by a step
/// budget; cycles are short and edges keep at most eight occurrences, so it is rarely reached.
struct Search<'a> {
    locks: &'a [LockId],
    edges: &'a [&'a EdgeData],
    choice: Vec<usize>,
    best: Option<(Outcome, Vec<usize>)>,
    budget: usize,
}

impl Search<'_> {
    /// Depth-first over the choices, one occurrence per edge in order, with an explicit stack
    /// (a cycle can be as long as the program has locks).
    fn run(&mut self) {
        let n = self.edges.len();
        // Per depth: the next occurrence to try there.
        let mut next = vec![0_usize; n];
        loop {
            if self.budget == 0 || matches!(self.best, Some((Outcome::Potential, _))) {
                return;
            }
            let depth = self.choice.len();
            if depth == n {
                self.budget -= 1;
                if self.can_block(n - 1, 0) {
                    let outcome = self.judge();
                    if self
                        .best
                        .as_ref()
                        .is_none_or(|(b, _)| outcome.rank() > b.rank())
                    {
                        self.best = Some((outcome, self.choice.clone()));
                    }
                }
                self.choice.pop();
                continue;
            }
            if next[depth] >= self.edges[depth].occurrences.len() {
                next[depth] = 0;
                if self.choice.pop().is_none() {
                    return;
                }
                continue;
            }
            self.choice.push(next[depth]);
            next[depth] += 1;
            if depth == 0 || self.can_block(depth - 1, depth) {
                self.budget -= 1;
            } else {
                self.choice.pop();
            }
        }
    }

    /// The longest cycle whose occurrences are compared pair by pair.
    const PAIRWISE_MAX: usize = 64;

    fn occurrence(&self, edge: usize) -> &Occurrence {
        &self.edges[edge].occurrences[self.choice[edge]]
    }

    /// Whether the request of edge `a` can wait for the holder of edge `b` (which holds the
    /// lock `a` requests): their modes conflict.
    fn can_block(&self, a: usize, b: usize) -> bool {
        self.occurrence(a)
            .to_mode
            .conflicts_with(self.occurrence(b).from_mode)
    }

    fn judge(&self) -> Outcome {
        let n = self.edges.len();
        if n > Self::PAIRWISE_MAX {
            // A long cycle: only a thread on two edges is looked for (linear). Gates and
            // spawn/join order are pairwise checks (quadratic); leaving them out can only make
            // the verdict more severe, never hide the cycle.
            let mut threads = rustc_hash::FxHashSet::default();
            let repeated = (0..n).any(|i| !threads.insert(self.occurrence(i).thread));
            return if repeated {
                Outcome::Inversion
            } else {
                Outcome::Potential
            };
        }
        for i in 0..n {
            for j in i + 1..n {
                if let Some(gate) = self.common_gate(i, j) {
                    return Outcome::Gated(gate);
                }
            }
        }
        let mut distinct = true;
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (self.occurrence(i), self.occurrence(j));
                if a.thread == b.thread || ordered(a, b) {
                    distinct = false;
                }
            }
        }
        if distinct {
            Outcome::Potential
        } else {
            Outcome::Inversion
        }
    }

    /// A lock other than the cycle's own held by both edges `i` and `j`, not both in shared
    /// mode: the two cannot run at the same time.
    fn common_gate(&self, i: usize, j: usize) -> Option<LockId> {
        let (a, b) = (self.occurrence(i), self.occurrence(j));
        let candidate = |&(gate, mode_a): &(LockId, Mode), mode_b: Mode| {
            (!self.locks.contains(&gate) && mode_a.conflicts_with(mode_b)).then_some(gate)
        };
        // Deep held sets (a thread holding hundreds of locks) are matched through a map, not
        // pair by pair.
        if a.held.len().saturating_mul(b.held.len()) > 256 {
            let modes: rustc_hash::FxHashMap<LockId, Mode> = b.held.iter().copied().collect();
            return a
                .held
                .iter()
                .find_map(|held| candidate(held, *modes.get(&held.0)?));
        }
        a.held.iter().find_map(|held| {
            b.held
                .iter()
                .find(|&&(other, _)| other == held.0)
                .and_then(|&(_, mode_b)| candidate(held, mode_b))
        })
    }
}

/// One occurrence per edge such that each edge's request can wait for the next edge's holder
/// (their modes conflict), if any: a walk around the cycle over the at most
/// [`EdgeData::MAX_OCCURRENCES`] occurrences of each edge, for each choice at the first edge,
/// so linear in the cycle's length.
fn blocking_choice(edges: &[&EdgeData]) -> Option<Vec<usize>> {
    let n = edges.len();
    let occurrence = |edge: usize, k: usize| &edges[edge].occurrences[k];
    let blocks = |a: usize, ka: usize, b: usize, kb: usize| {
        occurrence(a, ka)
            .to_mode
            .conflicts_with(occurrence(b, kb).from_mode)
    };
    for first in 0..edges[0].occurrences.len() {
        // Per edge after the first: for each occurrence reachable from `first`, the occurrence
        // of the edge before it that reaches it (NONE: unreachable).
        const NONE: usize = usize::MAX;
        let mut from: Vec<Vec<usize>> = Vec::with_capacity(n);
        from.push(
            (0..edges[0].occurrences.len())
                .map(|k| if k == first { k } else { NONE })
                .collect(),
        );
        for edge in 1..n {
            let before = &from[edge - 1];
            let reached: Vec<usize> = (0..edges[edge].occurrences.len())
                .map(|k| {
                    (0..before.len())
                        .find(|&p| before[p] != NONE && blocks(edge - 1, p, edge, k))
                        .unwrap_or(NONE)
                })
                .collect();
            from.push(reached);
        }
        let last = n - 1;
        let Some(end) =
            (0..from[last].len()).find(|&k| from[last][k] != NONE && blocks(last, k, 0, first))
        else {
            continue;
        };
        let mut choice = vec![0; n];
        let mut at = end;
        for edge in (1..n).rev() {
            choice[edge] = at;
            at = from[edge][at];
        }
        choice[0] = first;
        return Some(choice);
    }
    None
}

/// Whether one occurrence happened before the other through spawn or join.
fn ordered(a: &Occurrence, b: &Occurrence) -> bool {
    match (&a.clock, &b.clock) {
        (Some(ca), Some(cb)) => {
            let a_before_b = ca.get(a.thread) <= cb.get(a.thread) && ca.get(a.thread) > 0;
            let b_before_a = cb.get(b.thread) <= ca.get(b.thread) && cb.get(b.thread) > 0;
            a_before_b || b_before_a
        }
        _ => false,
    }
}

/// Turns lock and thread ids into the names reports show.
pub trait Names {
    /// The lock's name, else its class, else its id.
    fn lock_name(&self, lock: LockId) -> String;
    /// The thread's name, else its id.
    fn thread_name(&self, thread: ThreadId) -> String;
    /// Whether the thread was started in a way lockscan did not see (neither the main thread
    /// nor spawned through `lockscan::thread` or a `std::thread` spawn lockscan sees), so that
    /// no spawn or join of it ordered anything.
    fn spawn_unseen(&self, _thread: ThreadId) -> bool {
        false
    }
}

/// The names of a cycle's locks, told apart when two share one: unnamed locks are named after
/// where they were made, and one line can make many (`accounts.map(Mutex::new)`). Those get
/// ` #1`, ` #2`, ... in the order the cycle meets them, so the report says which is which and
/// the finding's fingerprint stays the same from run to run.
fn distinct_names(locks: &[LockId], names: &dyn Names) -> Vec<String> {
    use rustc_hash::FxHashMap;
    let named: Vec<String> = locks.iter().map(|&l| names.lock_name(l)).collect();
    // Per name: its locks, numbered in the order the cycle meets them.
    let mut numbers: FxHashMap<&str, FxHashMap<LockId, usize>> = FxHashMap::default();
    for (name, &lock) in named.iter().zip(locks) {
        let locks_named = numbers.entry(name).or_default();
        let next = locks_named.len() + 1;
        locks_named.entry(lock).or_insert(next);
    }
    named
        .iter()
        .zip(locks)
        .map(|(name, lock)| {
            let locks_named = &numbers[name.as_str()];
            if locks_named.len() > 1 {
                format!("{name} #{}", locks_named[lock])
            } else {
                name.clone()
            }
        })
        .collect()
}

/// The finding for a classified cycle.
pub fn cycle_finding(
    locks: &[LockId],
    edges: &[&EdgeData],
    class: &Classification,
    names: &dyn Names,
) -> Finding {
    let names_in_order = distinct_names(locks, names);
    // The cycle starts at the lock whose name sorts first, so that it reads the same however
    // it was found (live, from the edge that closed it; offline, by enumeration).
    let n = locks.len();
    let first = (0..n)
        .min_by(|&a, &b| (&names_in_order[a], locks[a]).cmp(&(&names_in_order[b], locks[b])))
        .unwrap_or(0);
    let lock_names: Vec<String> = (0..n)
        .map(|k| names_in_order[(first + k) % n].clone())
        .collect();
    let mut threads: Vec<String> = Vec::new();
    // Which threads are listed already: a long cycle can have as many threads as edges.
    let mut listed_threads: rustc_hash::FxHashSet<String> = rustc_hash::FxHashSet::default();
    let mut unseen: Vec<String> = Vec::new();
    let mut finding_edges = Vec::with_capacity(edges.len());
    for k in 0..edges.len() {
        let i = (first + k) % n;
        let edge = edges[i];
        let occurrence = &edge.occurrences[class.chosen[i]];
        let thread = names.thread_name(occurrence.thread);
        if listed_threads.insert(thread.clone()) {
            threads.push(thread.clone());
            if names.spawn_unseen(occurrence.thread) {
                unseen.push(thread.clone());
            }
        }
        finding_edges.push(FindingEdge {
            from: lock_names[k].clone(),
            to: lock_names[(k + 1) % n].clone(),
            thread,
            from_site: occurrence.from_site.clone(),
            to_site: occurrence.to_site.clone(),
            from_mode: occurrence.from_mode,
            to_mode: occurrence.to_mode,
            held: occurrence
                .held
                .iter()
                .filter(|&&(l, _)| l != locks[i])
                .map(|&(l, _)| names.lock_name(l))
                .collect(),
            blocked: false,
            backtrace: occurrence.backtrace.as_deref().map(|s| s.text().to_owned()),
        });
    }
    let listed = format!("`{}`", lock_names.join("`, `"));
    let message = match class.kind {
        FindingKind::PotentialDeadlock => {
            format!("potential deadlock: lock-order cycle between {listed}")
        }
        FindingKind::LockOrderInversion => format!("lock-order inversion between {listed}"),
        _ => format!("lock-order cycle between {listed}, serialized by a gate lock"),
    };
    let help = match class.kind {
        FindingKind::GatedCycle => {
            "safe while every path keeps taking the gate lock; taking these locks in one order \
             makes it safe without it"
        }
        _ => {
            "acquire these locks in one consistent order everywhere, for example with \
             `lockscan::lock_all`, or give them ranks"
        }
    };
    let mut finding = Finding::new(class.kind, message);
    finding.reason = match class.gate {
        // `classify` knows ids only; name the gate the way the report names locks.
        Some(gate) => format!(
            "every way to close the cycle holds the gate lock `{}` as well, which serializes \
             the edges",
            names.lock_name(gate)
        ),
        None => class.reason.clone(),
    };
    // Only where a spawn or join could have made it less: an inversion is ordered already.
    if class.kind == FindingKind::PotentialDeadlock {
        crate::engine::race::note_unseen_spawns(&mut finding, &unseen);
    }
    finding.locks = lock_names;
    finding.threads = threads;
    finding.edges = finding_edges;
    finding.help = Some(help.to_owned());
    finding
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::clock::VectorClock;
    use crate::engine::edges::tests::{A, B, C, G, occ};

    fn kind(locks: &[LockId], edges: &[EdgeData]) -> Option<FindingKind> {
        let refs: Vec<&EdgeData> = edges.iter().collect();
        classify(locks, &refs).map(|c| c.kind)
    }

    #[test]
    fn two_threads_disagreeing_is_a_potential_deadlock() {
        let edges = [EdgeData::new(occ(1, &[])), EdgeData::new(occ(2, &[]))];
        assert_eq!(kind(&[A, B], &edges), Some(FindingKind::PotentialDeadlock));
    }

    #[test]
    fn one_thread_in_both_orders_is_an_inversion() {
        let edges = [EdgeData::new(occ(1, &[])), EdgeData::new(occ(1, &[]))];
        assert_eq!(kind(&[A, B], &edges), Some(FindingKind::LockOrderInversion));
    }

    #[test]
    fn a_common_gate_lock_makes_a_note() {
        let edges = [EdgeData::new(occ(1, &[G])), EdgeData::new(occ(2, &[G]))];
        assert_eq!(kind(&[A, B], &edges), Some(FindingKind::GatedCycle));
        // A gate held in shared mode by both does not serialize anything.
        let shared = [1, 2].map(|thread| {
            let mut occurrence = occ(thread, &[]);
            occurrence.held = [(G, Mode::Shared)].into();
            EdgeData::new(occurrence)
        });
        assert_eq!(kind(&[A, B], &shared), Some(FindingKind::PotentialDeadlock));
    }

    #[test]
    fn any_ungated_pair_of_threads_is_enough() {
        // A -> B was taken by t1 under the gate and by t3 without it.
        let mut ab = EdgeData::new(occ(1, &[G]));
        assert!(ab.add(occ(3, &[])));
        let edges = [ab, EdgeData::new(occ(2, &[G]))];
        let refs: Vec<&EdgeData> = edges.iter().collect();
        let class = classify(&[A, B], &refs).unwrap();
        assert_eq!(class.kind, FindingKind::PotentialDeadlock);
        assert_eq!(class.chosen, vec![1, 0]);
    }

    #[test]
    fn read_read_cycles_cannot_block() {
        let mut ab = occ(1, &[]);
        let mut ba = occ(2, &[]);
        // t1 holds A shared and reads B; t2 holds B shared and reads A: nobody waits.
        for o in [&mut ab, &mut ba] {
            o.from_mode = Mode::Shared;
            o.to_mode = Mode::Shared;
        }
        let edges = [EdgeData::new(ab.clone()), EdgeData::new(ba.clone())];
        assert_eq!(kind(&[A, B], &edges), None);
        // If t2 wants A exclusively, it waits for t1's read hold, and t1 waits for... t2 holds
        // B shared and t1 reads it: no wait. Still no deadlock.
        ba.to_mode = Mode::Exclusive;
        let edges = [EdgeData::new(ab.clone()), EdgeData::new(ba.clone())];
        assert_eq!(kind(&[A, B], &edges), None);
        // Both exclusive requests: each waits for the other's read hold.
        ab.to_mode = Mode::Exclusive;
        let edges = [EdgeData::new(ab), EdgeData::new(ba)];
        assert_eq!(kind(&[A, B], &edges), Some(FindingKind::PotentialDeadlock));
    }

    #[test]
    fn spawn_order_makes_an_inversion() {
        let (t1, t2) = (ThreadId(1), ThreadId(2));
        let mut first = occ(1, &[]);
        let mut c1 = VectorClock::new();
        c1.tick(t1);
        first.clock = Some(Arc::new(c1.clone()));
        // t1 spawned t2 after its edge: t2 knows t1's step 1.
        let mut second = occ(2, &[]);
        let mut c2 = c1.clone();
        c2.tick(t2);
        second.clock = Some(Arc::new(c2));
        let edges = [EdgeData::new(first), EdgeData::new(second)];
        assert_eq!(kind(&[A, B], &edges), Some(FindingKind::LockOrderInversion));
    }

    #[test]
    fn three_cycles_classify_too() {
        let edges = [
            EdgeData::new(occ(1, &[])),
            EdgeData::new(occ(2, &[])),
            EdgeData::new(occ(3, &[])),
        ];
        assert_eq!(
            kind(&[A, B, C], &edges),
            Some(FindingKind::PotentialDeadlock)
        );
        let edges = [
            EdgeData::new(occ(1, &[])),
            EdgeData::new(occ(2, &[])),
            EdgeData::new(occ(1, &[])),
        ];
        assert_eq!(
            kind(&[A, B, C], &edges),
            Some(FindingKind::LockOrderInversion)
        );
    }

    #[test]
    fn locks_that_share_a_name_are_numbered_in_a_cycle() {
        struct ByClass;
        impl Names for ByClass {
            fn lock_name(&self, lock: LockId) -> String {
                if lock.0 < 100 {
                    "src/lib.rs:10:49".to_owned()
                } else {
                    format!("own{}", lock.0)
                }
            }
            fn thread_name(&self, thread: ThreadId) -> String {
                thread.to_string()
            }
        }
        let cycle = [LockId(7), LockId(100), LockId(3), LockId(7)];
        assert_eq!(
            distinct_names(&cycle, &ByClass),
            [
                "src/lib.rs:10:49 #1",
                "own100",
                "src/lib.rs:10:49 #2",
                "src/lib.rs:10:49 #1"
            ]
        );
        // One lock of a name: no number.
        assert_eq!(
            distinct_names(&[LockId(7), LockId(100)], &ByClass),
            ["src/lib.rs:10:49", "own100"]
        );
    }
}
