//! The lock-order cycles of a trace's graph, classified and grouped into findings.

use super::*;

/// Classifies `cycles` (`edge` gives the data of each of their edges) and de-duplicates them: one finding per lock set (the most
/// severe classification of its cycles), and then one lock-order inversion and one gated cycle
/// per group of cycles that share locks. Potential deadlocks stay one per lock set: each is a
/// pair of code paths to fix, while a tangle of single-thread inversions through the same
/// locks is one problem. Sets in `skip` (actual deadlocks) are left out.
pub(super) fn classify_cycles<'g>(
    edge: impl Fn(LockId, LockId) -> Option<&'g EdgeData>,
    cycles: &[Vec<LockId>],
    names: &dyn Names,
    skip: &FxHashSet<Vec<LockId>>,
) -> Vec<Finding> {
    // Lock set -> (cycle, its classification, cycles grouped into it), in order of first
    // appearance. Findings are built only for what is kept: a dense component yields thousands
    // of cycles, and a finding names every lock each edge held.
    let mut by_set: FxHashMap<Vec<LockId>, usize> = FxHashMap::default();
    let mut found: Vec<(Vec<LockId>, &[LockId], Classification, usize)> = Vec::new();
    let mut groups = UnionFind::default();
    let edges_of = |cycle: &[LockId]| -> Option<Vec<&EdgeData>> {
        (0..cycle.len())
            .map(|i| edge(cycle[i], cycle[(i + 1) % cycle.len()]))
            .collect()
    };
    for cycle in cycles {
        if cycle.len() < 2 {
            continue; // a self-edge is re-locking, reported as misuse
        }
        let mut key = cycle.clone();
        key.sort_unstable();
        if skip.contains(&key) {
            continue;
        }
        let Some(edges) = edges_of(cycle) else {
            continue;
        };
        let Some(class) = classify(cycle, &edges) else {
            continue;
        };
        for pair in cycle.windows(2) {
            groups.union(pair[0], pair[1]);
        }
        match by_set.get(&key) {
            Some(&index) => {
                let (_, kept_cycle, kept, grouped) = &mut found[index];
                *grouped += 1;
                if severity_rank(class.kind) > severity_rank(kept.kind) {
                    *kept = class;
                    *kept_cycle = cycle;
                }
            }
            None => {
                by_set.insert(key.clone(), found.len());
                found.push((key, cycle, class, 1));
            }
        }
    }
    // Group inversions and gated cycles by connected lock group; keep the shortest cycle.
    let mut representative: FxHashMap<(FindingKind, LockId), usize> = FxHashMap::default();
    let mut extra: Vec<usize> = vec![0; found.len()];
    let mut keep: Vec<bool> = vec![true; found.len()];
    for index in 0..found.len() {
        let kind = found[index].2.kind;
        if kind == FindingKind::PotentialDeadlock {
            continue;
        }
        let group = groups.find(found[index].0[0]);
        match representative.get(&(kind, group)) {
            Some(&kept) => {
                let better = found[index].0.len() < found[kept].0.len();
                let (winner, loser) = if better { (index, kept) } else { (kept, index) };
                keep[loser] = false;
                extra[winner] += 1 + extra[loser];
                representative.insert((kind, group), winner);
            }
            None => {
                representative.insert((kind, group), index);
            }
        }
    }
    found
        .into_iter()
        .enumerate()
        .filter(|&(index, _)| keep[index])
        .map(|(index, (_, cycle, class, grouped))| {
            let edges = edges_of(cycle).expect("classified cycles have their edges");
            let mut finding = cycle_finding(cycle, &edges, &class, names);
            if grouped > 1 {
                finding.reason.push_str(&format!(
                    "; {grouped} cycles over these locks, grouped into this one"
                ));
            }
            if extra[index] > 0 {
                let more = extra[index];
                let cycles = if more == 1 { "cycle" } else { "cycles" };
                finding.reason.push_str(&format!(
                    "; {more} more {cycles} of this kind through locks connected to these \
                     grouped into this one (the shortest)"
                ));
            }
            finding
        })
        .collect()
}

/// Union-find over locks, to group cycles that share locks.
#[derive(Default)]
pub(super) struct UnionFind {
    parent: FxHashMap<LockId, LockId>,
}

impl UnionFind {
    fn find(&mut self, lock: LockId) -> LockId {
        let mut root = lock;
        while let Some(&parent) = self.parent.get(&root) {
            if parent == root {
                break;
            }
            root = parent;
        }
        // Path compression keeps later look-ups short.
        let mut at = lock;
        while at != root {
            let next = self.parent.insert(at, root).unwrap_or(root);
            at = next;
        }
        root
    }

    fn union(&mut self, a: LockId, b: LockId) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra.max(rb), ra.min(rb));
        }
    }
}

pub(super) fn severity_rank(kind: FindingKind) -> u8 {
    match kind {
        FindingKind::PotentialDeadlock => 2,
        FindingKind::LockOrderInversion => 1,
        _ => 0,
    }
}
