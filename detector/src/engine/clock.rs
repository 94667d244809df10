//! Vector clocks over lockscan thread ids.

use std::sync::Arc;

use crate::ids::ThreadId;

/// A vector clock: for each thread, how many of its synchronization steps are known to have
/// happened before.
///
/// Most clocks know few threads: those are a sorted list. A clock that knows many (a thread
/// that spawned and joined thousands, one after another, and every thread it spawns after
/// that) is a persistent trie instead, whose subtrees clocks share: copying it at a spawn costs
/// one reference, and joining two clocks that share most of their knowledge costs only the
/// parts that differ. Spawning and joining threads one at a time is then linear in the
/// threads, not quadratic, and the clocks say exactly what the full vectors would.
#[derive(Clone, Default)]
pub struct VectorClock {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Sorted by thread.
    Small(Vec<(ThreadId, u64)>),
    Large(Trie),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

/// How many threads a clock knows before it becomes a trie.
const SMALL_MAX: usize = 64;

impl VectorClock {
    /// The clock that knows nothing.
    pub const fn new() -> Self {
        VectorClock {
            repr: Repr::Small(Vec::new()),
        }
    }

    /// The component of `thread` (0 when unknown).
    pub fn get(&self, thread: ThreadId) -> u64 {
        match &self.repr {
            Repr::Small(entries) => match entries.binary_search_by_key(&thread, |&(t, _)| t) {
                Ok(index) => entries[index].1,
                Err(_) => 0,
            },
            Repr::Large(trie) => trie.get(thread.0),
        }
    }

    /// Sets the component of `thread`.
    pub fn set(&mut self, thread: ThreadId, value: u64) {
        match &mut self.repr {
            Repr::Small(entries) => {
                match entries.binary_search_by_key(&thread, |&(t, _)| t) {
                    Ok(index) => entries[index].1 = value,
                    Err(index) => entries.insert(index, (thread, value)),
                }
                self.grow();
            }
            Repr::Large(trie) => trie.set(thread.0, value, false),
        }
    }

    /// Forgets the component of `thread`: 0 from then on.
    #[cfg(lockscan_active)]
    pub(crate) fn remove(&mut self, thread: ThreadId) {
        match &mut self.repr {
            Repr::Small(entries) => {
                if let Ok(index) = entries.binary_search_by_key(&thread, |&(t, _)| t) {
                    entries.remove(index);
                }
            }
            Repr::Large(trie) => trie.remove(thread.0),
        }
    }

    /// Advances the component of `thread` by one.
    pub fn tick(&mut self, thread: ThreadId) {
        let value = self.get(thread) + 1;
        self.set(thread, value);
    }

    /// A list grown past [`SMALL_MAX`] becomes a trie.
    fn grow(&mut self) {
        if let Repr::Small(entries) = &self.repr
            && entries.len() > SMALL_MAX
        {
            let mut trie = Trie::default();
            for &(thread, value) in entries {
                trie.set(thread.0, value, false);
            }
            self.repr = Repr::Large(trie);
        }
    }

    /// Takes the component-wise maximum with `other` (receiving what `other` knew).
    pub fn join(&mut self, other: &VectorClock) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        match (&mut self.repr, &other.repr) {
            (Repr::Small(mine), Repr::Small(theirs)) => {
                join_sorted(mine, theirs);
                self.grow();
            }
            (Repr::Large(mine), Repr::Small(theirs)) => {
                for &(thread, value) in theirs {
                    mine.set(thread.0, value, true);
                }
            }
            (Repr::Small(mine), Repr::Large(theirs)) => {
                let mut trie = theirs.clone();
                for &(thread, value) in mine.iter() {
                    trie.set(thread.0, value, true);
                }
                self.repr = Repr::Large(trie);
            }
            (Repr::Large(mine), Repr::Large(theirs)) => mine.join(theirs),
        }
    }

    /// How many threads the clock knows of.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(entries) => entries.len(),
            Repr::Large(trie) => trie.len,
        }
    }

    /// Whether the clock knows of no thread.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every component of `self` is at most that of `other` (self happened before, or
    /// is, other).
    pub fn le(&self, other: &VectorClock) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Large(mine), Repr::Large(theirs)) => mine.le(theirs),
            _ => self.entries().into_iter().all(|(t, v)| v <= other.get(t)),
        }
    }

    /// Every component, sorted by thread.
    fn entries(&self) -> Vec<(ThreadId, u64)> {
        match &self.repr {
            Repr::Small(entries) => entries.clone(),
            Repr::Large(trie) => {
                let mut out = Vec::with_capacity(trie.len);
                if let Some(root) = &trie.root {
                    root.collect(0, &mut out);
                }
                out
            }
        }
    }
}

impl PartialEq for VectorClock {
    fn eq(&self, other: &VectorClock) -> bool {
        if self.len() != other.len() {
            return false;
        }
        match (&self.repr, &other.repr) {
            (Repr::Small(mine), Repr::Small(theirs)) => mine == theirs,
            (Repr::Large(mine), Repr::Large(theirs)) => mine.eq(theirs),
            _ => self.entries() == other.entries(),
        }
    }
}

impl Eq for VectorClock {}

impl std::fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorClock")
            .field("entries", &self.entries())
            .finish()
    }
}

/// `mine` joined with `theirs`, both sorted by thread.
fn join_sorted(mine: &mut Vec<(ThreadId, u64)>, theirs: &[(ThreadId, u64)]) {
    // Linear however many threads are new to `mine`, and without allocating when none is: the
    // common case of a lock acquisition.
    let mut missing = 0;
    let mut at = 0;
    for &(thread, value) in theirs {
        while at < mine.len() && mine[at].0 < thread {
            at += 1;
        }
        match mine.get_mut(at) {
            Some(entry) if entry.0 == thread => entry.1 = entry.1.max(value),
            _ => missing += 1,
        }
    }
    if missing == 0 {
        return;
    }
    // Merge from the back into the grown list, so that nothing is moved twice.
    let mut write = mine.len() + missing;
    let mut kept = mine.len();
    let mut left = theirs.len();
    mine.resize(write, (ThreadId(0), 0));
    while left > 0 {
        let candidate = theirs[left - 1];
        if kept > 0 && mine[kept - 1].0 >= candidate.0 {
            // Equal threads were already maxed in place above.
            if mine[kept - 1].0 == candidate.0 {
                left -= 1;
            }
            write -= 1;
            mine[write] = mine[kept - 1];
            kept -= 1;
        } else {
            write -= 1;
            mine[write] = candidate;
            left -= 1;
        }
    }
}

/// The digits of a thread id in the trie: 4 bits per level, the lowest at the leaves.
const BITS: u32 = 4;
const FANOUT: usize = 1 << BITS;
/// Levels enough for any 64-bit id.
const MAX_HEIGHT: u32 = u64::BITS / BITS;

/// A persistent radix trie from thread ids to components, `height` levels deep (1: a leaf).
#[derive(Clone, Default)]
struct Trie {
    root: Option<Arc<Node>>,
    height: u32,
    len: usize,
}

#[derive(Clone)]
enum Node {
    /// Components of 16 consecutive threads; an absent one is 0.
    Leaf { present: u16, values: [u64; FANOUT] },
    Inner {
        /// The components below.
        len: usize,
        children: [Option<Arc<Node>>; FANOUT],
    },
}

fn digit(key: u64, level: u32) -> usize {
    ((key >> (BITS * level)) as usize) & (FANOUT - 1)
}

/// Whether keys of `height` levels reach `key`.
fn fits(key: u64, height: u32) -> bool {
    height >= MAX_HEIGHT || key >> (BITS * height) == 0
}

fn ptr_eq(a: &Option<Arc<Node>>, b: &Option<Arc<Node>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Node {
    fn empty(level: u32) -> Node {
        if level == 0 {
            Node::Leaf {
                present: 0,
                values: [0; FANOUT],
            }
        } else {
            Node::Inner {
                len: 0,
                children: Default::default(),
            }
        }
    }

    /// A leaf's components: which are present, and their values.
    fn leaf(&self) -> Option<(u16, &[u64; FANOUT])> {
        match self {
            Node::Leaf { present, values } => Some((*present, values)),
            Node::Inner { .. } => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Node::Leaf { present, .. } => present.count_ones() as usize,
            Node::Inner { len, .. } => *len,
        }
    }

    /// Sets `key`'s component below this node of `level`; returns whether it was new.
    /// With `max`, the component becomes the larger of the two.
    fn set(node: &mut Arc<Node>, level: u32, key: u64, value: u64, max: bool) -> bool {
        let index = digit(key, level);
        match Arc::make_mut(node) {
            Node::Leaf { present, values } => {
                let new = *present & (1 << index) == 0;
                *present |= 1 << index;
                values[index] = if max { values[index].max(value) } else { value };
                new
            }
            Node::Inner { len, children } => {
                let child = children[index].get_or_insert_with(|| Arc::new(Node::empty(level - 1)));
                let new = Node::set(child, level - 1, key, value, max);
                *len += usize::from(new);
                new
            }
        }
    }

    /// Forgets `key`'s component below this node; returns whether it was there.
    #[cfg(lockscan_active)]
    fn remove(node: &mut Arc<Node>, level: u32, key: u64) -> bool {
        let index = digit(key, level);
        match Arc::make_mut(node) {
            Node::Leaf { present, values } => {
                let was = *present & (1 << index) != 0;
                *present &= !(1 << index);
                values[index] = 0;
                was
            }
            Node::Inner { len, children } => {
                let Some(child) = &mut children[index] else {
                    return false;
                };
                let was = Node::remove(child, level - 1, key);
                *len -= usize::from(was);
                was
            }
        }
    }

    /// The join of `a` and `b`, sharing whichever of them it equals, and every subtree they
    /// share: the work is in the parts that differ.
    fn join(a: &Arc<Node>, b: &Arc<Node>) -> Arc<Node> {
        if Arc::ptr_eq(a, b) {
            return a.clone();
        }
        match (&**a, &**b) {
            (
                Node::Leaf {
                    present: pa,
                    values: va,
                },
                Node::Leaf {
                    present: pb,
                    values: vb,
                },
            ) => {
                let present = pa | pb;
                let values: [u64; FANOUT] = std::array::from_fn(|i| va[i].max(vb[i]));
                if present == *pa && values == *va {
                    a.clone()
                } else if present == *pb && values == *vb {
                    b.clone()
                } else {
                    Arc::new(Node::Leaf { present, values })
                }
            }
            (Node::Inner { children: ca, .. }, Node::Inner { children: cb, .. }) => {
                let children: [Option<Arc<Node>>; FANOUT] =
                    std::array::from_fn(|i| match (&ca[i], &cb[i]) {
                        (Some(x), Some(y)) => Some(Node::join(x, y)),
                        (x, None) => x.clone(),
                        (None, y) => y.clone(),
                    });
                if (0..FANOUT).all(|i| ptr_eq(&children[i], &ca[i])) {
                    a.clone()
                } else if (0..FANOUT).all(|i| ptr_eq(&children[i], &cb[i])) {
                    b.clone()
                } else {
                    let len = children.iter().flatten().map(|c| c.len()).sum();
                    Arc::new(Node::Inner { len, children })
                }
            }
            _ => unreachable!("tries of one height have leaves at one level"),
        }
    }

    /// Whether every component below `a` is at most its counterpart below `b` (none: 0).
    fn le(a: &Arc<Node>, b: Option<&Arc<Node>>) -> bool {
        if b.is_some_and(|b| Arc::ptr_eq(a, b)) {
            return true;
        }
        match (&**a, b.map(|b| &**b)) {
            (Node::Leaf { values, .. }, None) => values.iter().all(|&v| v == 0),
            (Node::Leaf { values: va, .. }, Some(Node::Leaf { values: vb, .. })) => {
                (0..FANOUT).all(|i| va[i] <= vb[i])
            }
            (Node::Inner { children, .. }, None) => {
                children.iter().flatten().all(|child| Node::le(child, None))
            }
            (Node::Inner { children: ca, .. }, Some(Node::Inner { children: cb, .. })) => {
                (0..FANOUT).all(|i| ca[i].as_ref().is_none_or(|x| Node::le(x, cb[i].as_ref())))
            }
            _ => unreachable!("tries of one height have leaves at one level"),
        }
    }

    /// Whether `a` and `b` hold the same components (an empty subtree is none).
    fn eq(a: Option<&Arc<Node>>, b: Option<&Arc<Node>>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(x), None) | (None, Some(x)) => x.len() == 0,
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            (Some(a), Some(b)) => match (&**a, &**b) {
                (Node::Leaf { .. }, Node::Leaf { .. }) => a.leaf() == b.leaf(),
                (Node::Inner { children: ca, .. }, Node::Inner { children: cb, .. }) => {
                    (0..FANOUT).all(|i| Node::eq(ca[i].as_ref(), cb[i].as_ref()))
                }
                _ => unreachable!("tries of one height have leaves at one level"),
            },
        }
    }

    /// Appends the components below this node, whose keys start with `prefix`, in order.
    fn collect(&self, prefix: u64, out: &mut Vec<(ThreadId, u64)>) {
        match self {
            Node::Leaf { present, values } => {
                for (i, &value) in values.iter().enumerate() {
                    if present & (1 << i) != 0 {
                        out.push((ThreadId(prefix << BITS | i as u64), value));
                    }
                }
            }
            Node::Inner { children, .. } => {
                for (i, child) in children.iter().enumerate() {
                    if let Some(child) = child {
                        child.collect(prefix << BITS | i as u64, out);
                    }
                }
            }
        }
    }
}

impl Trie {
    fn get(&self, key: u64) -> u64 {
        if !fits(key, self.height) {
            return 0;
        }
        let mut node = match &self.root {
            Some(root) => root,
            None => return 0,
        };
        let mut level = self.height - 1;
        loop {
            match &**node {
                Node::Leaf { values, .. } => return values[digit(key, 0)],
                Node::Inner { children, .. } => match &children[digit(key, level)] {
                    Some(child) => node = child,
                    None => return 0,
                },
            }
            level -= 1;
        }
    }

    /// Adds levels above the root until keys of `height` levels fit.
    fn raise(&mut self, height: u32) {
        while self.height < height {
            if let Some(root) = self.root.take() {
                let mut children: [Option<Arc<Node>>; FANOUT] = Default::default();
                children[0] = Some(root);
                self.root = Some(Arc::new(Node::Inner {
                    len: self.len,
                    children,
                }));
            }
            self.height += 1;
        }
    }

    /// Sets `key`'s component, or with `max` raises it to `value`.
    fn set(&mut self, key: u64, value: u64, max: bool) {
        let mut height = self.height.max(1);
        while !fits(key, height) {
            height += 1;
        }
        self.raise(height);
        let root = self
            .root
            .get_or_insert_with(|| Arc::new(Node::empty(self.height - 1)));
        if Node::set(root, self.height - 1, key, value, max) {
            self.len += 1;
        }
    }

    #[cfg(lockscan_active)]
    fn remove(&mut self, key: u64) {
        if !fits(key, self.height) {
            return;
        }
        if let Some(root) = &mut self.root
            && Node::remove(root, self.height - 1, key)
        {
            self.len -= 1;
        }
    }

    fn join(&mut self, other: &Trie) {
        let Some(theirs) = &other.root else {
            return;
        };
        let mut theirs = Trie {
            root: Some(theirs.clone()),
            height: other.height,
            len: other.len,
        };
        let height = self.height.max(other.height);
        self.raise(height);
        theirs.raise(height);
        let theirs = theirs.root.expect("not empty");
        let joined = match &self.root {
            Some(mine) => Node::join(mine, &theirs),
            None => theirs,
        };
        self.len = joined.len();
        self.root = Some(joined);
    }

    fn le(&self, other: &Trie) -> bool {
        let Some(mine) = &self.root else {
            return true;
        };
        let height = self.height.max(other.height);
        let (mut mine, mut theirs) = (
            Trie {
                root: Some(mine.clone()),
                height: self.height,
                len: self.len,
            },
            other.clone(),
        );
        mine.raise(height);
        theirs.raise(height);
        Node::le(mine.root.as_ref().expect("not empty"), theirs.root.as_ref())
    }

    fn eq(&self, other: &Trie) -> bool {
        let height = self.height.max(other.height);
        let (mut mine, mut theirs) = (self.clone(), other.clone());
        mine.raise(height);
        theirs.raise(height);
        Node::eq(mine.root.as_ref(), theirs.root.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_order() {
        let (a, b) = (ThreadId(1), ThreadId(2));
        let mut ca = VectorClock::new();
        ca.tick(a);
        let mut cb = VectorClock::new();
        cb.join(&ca);
        cb.tick(b);
        assert!(ca.le(&cb));
        assert!(!cb.le(&ca));
        ca.tick(a);
        assert!(!ca.le(&cb), "a's second step is concurrent with b");
        assert_eq!(cb.get(a), 1);
        assert_eq!(cb.get(ThreadId(9)), 0);
    }

    #[test]
    fn join_merges_interleaved_threads() {
        let clock = |entries: &[(u64, u64)]| {
            let mut c = VectorClock::new();
            for &(t, v) in entries {
                c.set(ThreadId(t), v);
            }
            c
        };
        let mut a = clock(&[(1, 5), (3, 1), (7, 2)]);
        a.join(&clock(&[(2, 4), (3, 9), (8, 1)]));
        assert_eq!(a, clock(&[(1, 5), (2, 4), (3, 9), (7, 2), (8, 1)]));
        assert_eq!(a.len(), 5);
        a.join(&clock(&[(0, 1), (3, 2), (9, 9)]));
        assert_eq!(
            a,
            clock(&[(0, 1), (1, 5), (2, 4), (3, 9), (7, 2), (8, 1), (9, 9)])
        );
        let mut b = clock(&[(4, 1)]);
        b.join(&clock(&[(1, 1), (2, 2), (3, 3)]));
        assert_eq!(b, clock(&[(1, 1), (2, 2), (3, 3), (4, 1)]));
        b.join(&clock(&[(4, 7)]));
        assert_eq!(b.get(ThreadId(4)), 7);
    }

    /// The clocks against plain maps, on random sets, joins and comparisons of clocks small
    /// and large (past [`SMALL_MAX`] threads, with ids near and far), sharing their parts.
    mod model {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        #[derive(Clone, Debug)]
        enum Op {
            Set(usize, u64, u64),
            Spread(usize, u64, u64),
            Join(usize, usize),
            Copy(usize, usize),
        }

        fn thread() -> impl Strategy<Value = u64> {
            prop_oneof![0..40_u64, 0..5000_u64, any::<u64>()]
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..4_usize, thread(), 0..9_u64).prop_map(|(c, t, v)| Op::Set(c, t, v)),
                1 => (0..4_usize, 0..3000_u64, 1..9_u64).prop_map(|(c, t, v)| Op::Spread(c, t, v)),
                3 => (0..4_usize, 0..4_usize).prop_map(|(a, b)| Op::Join(a, b)),
                1 => (0..4_usize, 0..4_usize).prop_map(|(a, b)| Op::Copy(a, b)),
            ]
        }

        proptest! {
            #[test]
            fn clocks_agree_with_maps(ops in proptest::collection::vec(op(), 1..60)) {
                let mut clocks = vec![VectorClock::new(); 4];
                let mut maps: Vec<BTreeMap<u64, u64>> = vec![BTreeMap::new(); 4];
                for op in ops {
                    match op {
                        Op::Set(c, t, v) => {
                            clocks[c].set(ThreadId(t), v);
                            maps[c].insert(t, v);
                        }
                        Op::Spread(c, start, v) => {
                            for t in start..start + 100 {
                                clocks[c].set(ThreadId(t), v);
                                maps[c].insert(t, v);
                            }
                        }
                        Op::Join(a, b) => {
                            let other = clocks[b].clone();
                            clocks[a].join(&other);
                            let other = maps[b].clone();
                            for (t, v) in other {
                                let entry = maps[a].entry(t).or_insert(0);
                                *entry = (*entry).max(v);
                            }
                        }
                        Op::Copy(a, b) => {
                            clocks[a] = clocks[b].clone();
                            maps[a] = maps[b].clone();
                        }
                    }
                    for c in 0..4 {
                        let entries: Vec<(ThreadId, u64)> =
                            maps[c].iter().map(|(&t, &v)| (ThreadId(t), v)).collect();
                        prop_assert_eq!(clocks[c].entries(), entries);
                        prop_assert_eq!(clocks[c].len(), maps[c].len());
                        for d in 0..4 {
                            let le = maps[c].iter().all(|(t, v)| *v <= *maps[d].get(t).unwrap_or(&0));
                            prop_assert_eq!(clocks[c].le(&clocks[d]), le);
                            prop_assert_eq!(clocks[c] == clocks[d], maps[c] == maps[d]);
                        }
                    }
                }
            }
        }

        /// Regression: 40,000 threads spawned and joined one at a time took 17.6 s, each spawn
        /// copying and each join merging a clock of every thread before it.
        #[test]
        fn spawning_and_joining_a_hundred_thousand_threads_shares_the_clocks() {
            let main = ThreadId(1);
            let mut clock = VectorClock::new();
            clock.tick(main);
            for child in 2..100_002 {
                let child = ThreadId(child);
                let mut theirs = clock.clone();
                theirs.tick(child);
                clock.tick(main);
                theirs.tick(child);
                clock.join(&theirs);
                clock.tick(main);
            }
            assert_eq!(clock.len(), 100_001);
            assert_eq!(clock.get(ThreadId(50_000)), 2);
            assert_eq!(clock.get(main), 1 + 2 * 100_000);
        }
    }
}
