//! Per-thread state: the held-lock stack, the cache of order edges this thread has already
//! recorded, and the chain cache in front of it. The fast path touches nothing else.

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::clock::VectorClock;
use crate::ids::{LockId, Mode, ThreadId};

/// What reports need to know about a lock, copied into every held entry so that no pointer to
/// the lock is ever kept (a guard can be leaked and its lock freed).
#[derive(Clone, Copy, Debug)]
pub(super) struct LockInfo {
    /// The creation site: the lock's class.
    pub class: &'static Location<'static>,
    /// The name given at construction, interned.
    pub name: Option<&'static str>,
    /// The declared rank: a lock may only be acquired while holding locks of lower rank.
    pub rank: Option<u32>,
}

impl LockInfo {
    /// The name reports use: the given name, else the class.
    pub fn display_name(&self) -> String {
        match self.name {
            Some(name) => name.to_owned(),
            None => format!(
                "{}:{}:{}",
                self.class.file(),
                self.class.line(),
                self.class.column()
            ),
        }
    }
}

/// A lock this thread holds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub id: LockId,
    pub mode: Mode,
    /// Where it was acquired.
    pub site: &'static Location<'static>,
    pub info: LockInfo,
    /// Whether an order edge out of this lock entered the global graph, so that dropping the
    /// lock must remove it from there; handed to the lock when this hold is released.
    pub out_edge: bool,
    /// Whether the lock was a node of the global graph when this hold began, or became one by
    /// an edge out of it during the hold, so that its name is registered there already (and
    /// the edges out of it may wait beside the graph: `order_graph::deferred`).
    pub in_graph: bool,
    /// The chain key of the held stack under this hold (see [`HeldStack`]); set by the stack,
    /// so that a pop gives the stack its key back without another load.
    pub under: u64,
}

impl Held {
    /// The lock as findings name it, with where and how it was taken.
    pub fn named(&self) -> crate::engine::rules::LockAt {
        crate::engine::rules::LockAt {
            name: self.info.display_name(),
            site: Some(crate::site::Site::Caller(self.site)),
            mode: self.mode,
        }
    }
}

/// The chain key of a held stack of one more hold, `lock` in `mode`, on top of a stack whose
/// key is `chain` (0: the empty stack). Like lockdep's chain key: one 64-bit hash of the whole
/// ordered stack, so that one comparison tells a stack already seen (two distinct stacks of equal
/// keys, a 2^-64 chance per pair, would share their cache entries).
#[inline]
fn chain_step(chain: u64, lock: LockId, mode: Mode) -> u64 {
    let mixed =
        (chain.rotate_left(23) ^ (lock.0 << 2 | mode as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed ^ (mixed >> 29)
}

/// The locks this thread holds, innermost last, each with the chain key of the stack under it,
/// and the key of the whole stack: pushing computes a key, popping is a pop (the key under the
/// hold popped becomes the stack's), and only the rare changes in the middle (a release out of
/// order, a mode change) compute the keys above again.
#[derive(Clone, Debug, Default)]
pub(super) struct HeldStack {
    holds: Vec<Held>,
    /// The chain key of the whole stack (0: empty).
    chain: u64,
}

impl HeldStack {
    const fn new() -> Self {
        HeldStack {
            holds: Vec::new(),
            chain: 0,
        }
    }

    /// The chain key of the whole stack.
    #[inline]
    pub fn chain(&self) -> u64 {
        self.chain
    }

    #[inline]
    pub fn push(&mut self, mut hold: Held) {
        hold.under = self.chain;
        self.chain = chain_step(self.chain, hold.id, hold.mode);
        self.holds.push(hold);
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Held> {
        let held = self.holds.pop()?;
        self.chain = held.under;
        Some(held)
    }

    /// Removes the hold at `index` (a release out of order).
    pub fn remove(&mut self, index: usize) -> Held {
        let held = self.holds.remove(index);
        self.rechain(index);
        held
    }

    /// Sets the mode of the hold at `index`.
    pub fn set_mode(&mut self, index: usize, mode: Mode) {
        self.holds[index].mode = mode;
        self.rechain(index);
    }

    /// Marks the hold at `index` as the source of an order edge in the global graph (so its
    /// lock is a node there now).
    pub fn mark_out_edge(&mut self, index: usize) {
        let hold = &mut self.holds[index];
        hold.out_edge = true;
        hold.in_graph = true;
    }

    /// Computes the chain keys from `index` up again.
    fn rechain(&mut self, index: usize) {
        let mut chain = index.checked_sub(1).map_or(0, |below| {
            let below = &self.holds[below];
            chain_step(below.under, below.id, below.mode)
        });
        for hold in &mut self.holds[index..] {
            hold.under = chain;
            chain = chain_step(chain, hold.id, hold.mode);
        }
        self.chain = chain;
    }
}

impl std::ops::Deref for HeldStack {
    type Target = [Held];

    fn deref(&self) -> &[Held] {
        &self.holds
    }
}

/// lockdep's chain cache: the held stacks (by chain key) under which this thread has taken a
/// lock in a mode with every order edge from the stack into it already recorded, and the lock
/// not in the stack. A hit is the whole check of a blocking acquisition, however many locks are
/// held; it also keeps what the hold copies from the lock (its class and name, final once the
/// lock has an id), so that the fast path reads nothing of the lock but its id and rank.
///
/// Nothing has to be invalidated: an entry only says what the edge cache and the global graph
/// knew, which stays true. Ids are never reused, so a freed lock's entries are never hit again
/// (a lock made at the same address has a new id); a new edge only makes new stacks; a rank is
/// read from the lock at each acquisition, never from here.
///
/// A stack is remembered the second time it is seen (`seen`, a direct-mapped filter of chain
/// keys): a thread that takes many distinct chains, each once or rarely (locks per object,
/// taken two or three at a time), would otherwise evict the stacks that do come again with
/// ones that never will.
pub(super) struct ChainCache {
    /// Boxed on first use, so that the state an async task swaps in and out at each poll stays
    /// small.
    table: Option<Box<ChainTable>>,
}

struct ChainTable {
    /// Direct-mapped by the chain key of the stack with the lock on top.
    slots: [ChainSlot; ChainCache::SLOTS],
    /// The chain keys (with the lock on top) seen once, direct-mapped by key.
    seen: [u64; ChainCache::SEEN],
}

#[derive(Clone, Copy)]
struct ChainSlot {
    /// The chain key of the stack under the acquisition.
    under: u64,
    /// The lock and mode taken (`id << 2 | mode`; 0 in an empty slot, ids start at 1).
    lock: u64,
    class: &'static Location<'static>,
    name: Option<&'static str>,
    in_graph: bool,
}

/// What a hit gives the hold: the lock's class, name, and whether it was in the graph.
pub(super) type Known = (&'static Location<'static>, Option<&'static str>, bool);

impl ChainCache {
    const SLOTS: usize = 128;
    const SEEN: usize = 256;

    const fn new() -> Self {
        ChainCache { table: None }
    }

    #[inline]
    fn slot(key: u64) -> usize {
        (key >> 57) as usize % Self::SLOTS
    }

    /// What is known of taking `lock` in `mode` on top of the stack `under`, whose chain key
    /// with it on top is `key`.
    #[inline]
    fn get(&self, under: u64, lock: LockId, mode: Mode, key: u64) -> Option<Known> {
        let slot = &self.table.as_ref()?.slots[Self::slot(key)];
        let wanted = lock.0 << 2 | mode as u64;
        (slot.under == under && slot.lock == wanted).then_some((
            slot.class,
            slot.name,
            slot.in_graph,
        ))
    }

    #[inline]
    fn table(&mut self) -> &mut ChainTable {
        self.table.get_or_insert_with(Self::allocate)
    }

    #[cold]
    #[inline(never)]
    fn allocate() -> Box<ChainTable> {
        Box::new(ChainTable {
            slots: [ChainSlot {
                under: 0,
                lock: 0,
                class: Location::caller(),
                name: None,
                in_graph: false,
            }; ChainCache::SLOTS],
            seen: [0; ChainCache::SEEN],
        })
    }

    /// Whether the chain `key` (a stack with a lock on top) was seen before; if not, it is seen
    /// now (forgetting the key that had its place).
    #[inline]
    fn seen_before(&mut self, key: u64) -> bool {
        // Other bits than `slot`'s, so that keys sharing a slot do not share a place here.
        let seen = &mut self.table().seen[key as usize % Self::SEEN];
        let before = *seen == key;
        *seen = key;
        before
    }

    /// Remembers `hold` on top of the stack `under`; `key`: the chain key with it on top.
    fn insert(&mut self, under: u64, key: u64, hold: &Held) {
        self.table().slots[Self::slot(key)] = ChainSlot {
            under,
            lock: hold.id.0 << 2 | hold.mode as u64,
            class: hold.info.class,
            name: hold.info.name,
            in_graph: hold.in_graph,
        };
    }
}

/// The edges this thread has recorded, so that taking a known edge again touches nothing
/// shared. Two levels: a small direct-mapped array in front (one compare for the edges of a hot
/// loop), and behind it a set of every edge the thread took lately ([`EdgeSet`]), so that a
/// thread that takes a hundred thousand distinct edges (locks per object) does not go to the
/// global graph for each again. A hit proves the edge is known (ids are never reused); a miss
/// only costs a trip to the global graph.
pub(super) struct EdgeCache {
    slots: [(u64, u64); EdgeCache::SLOTS],
    /// The last edges into locks at their first acquisition ([`insert_fresh`]), kept only
    /// here: such a lock is mostly dropped before it is taken again (a per-request lock), so
    /// they would fill `all` with edges never asked for again, a cold cache line each.
    ///
    /// [`insert_fresh`]: EdgeCache::insert_fresh
    fresh: [(u64, u64); EdgeCache::FRESH],
    /// Where the next edge goes in `fresh`.
    fresh_next: usize,
    all: EdgeSet,
}

impl EdgeCache {
    const SLOTS: usize = 64;
    const FRESH: usize = 8;

    const fn new() -> Self {
        EdgeCache {
            slots: [(0, 0); EdgeCache::SLOTS],
            fresh: [(0, 0); EdgeCache::FRESH],
            fresh_next: 0,
            all: EdgeSet::new(),
        }
    }

    #[inline]
    fn key(from: LockId, from_mode: Mode, to: LockId, to_mode: Mode) -> (u64, u64, usize) {
        let modes = (from_mode as u64) << 2 | to_mode as u64;
        let second = to.0 << 4 | modes;
        let mixed = (from.0 ^ second.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (from.0, second, (mixed >> 58) as usize % Self::SLOTS)
    }

    #[inline]
    pub fn contains(&mut self, from: LockId, from_mode: Mode, to: LockId, to_mode: Mode) -> bool {
        let (a, b, slot) = Self::key(from, from_mode, to, to_mode);
        if self.slots[slot] == (a, b) {
            return true;
        }
        self.contains_slow(a, b, slot)
    }

    #[cold]
    #[inline(never)]
    fn contains_slow(&mut self, a: u64, b: u64, slot: usize) -> bool {
        let known = self.fresh.contains(&(a, b)) || self.all.contains(EdgeSet::key(a, b));
        if known {
            self.slots[slot] = (a, b);
        }
        known
    }

    pub fn insert(&mut self, from: LockId, from_mode: Mode, to: LockId, to_mode: Mode) {
        let (a, b, slot) = Self::key(from, from_mode, to, to_mode);
        self.slots[slot] = (a, b);
        self.all.insert(EdgeSet::key(a, b));
    }

    /// [`contains`](Self::contains) for an edge into a lock at its first acquisition: only
    /// what [`insert_fresh`](Self::insert_fresh) remembered can be there, so the set of every
    /// edge is not looked at.
    pub fn contains_fresh(&self, from: LockId, from_mode: Mode, to: LockId, to_mode: Mode) -> bool {
        let (a, b, slot) = Self::key(from, from_mode, to, to_mode);
        self.slots[slot] == (a, b) || self.fresh.contains(&(a, b))
    }

    /// Remembers an edge into a lock at its first acquisition (whose id is new, so that no
    /// cache knows an edge into it yet) for a short while only: long enough for the rest of
    /// that acquisition, not in the set of every edge. Forgetting it early costs what a miss
    /// costs, a trip to the graph.
    pub fn insert_fresh(&mut self, from: LockId, from_mode: Mode, to: LockId, to_mode: Mode) {
        let (a, b, slot) = Self::key(from, from_mode, to, to_mode);
        self.slots[slot] = (a, b);
        self.fresh[self.fresh_next] = (a, b);
        self.fresh_next = (self.fresh_next + 1) % Self::FRESH;
    }
}

/// The edges a thread took lately, as one `u64` each: exact while lock ids fit in 29 bits (the
/// source's) and 30 (the target's), a 63-bit hash beyond (two distinct edges then share a key
/// with a 2^-63 chance per pair, as two stacks share a chain key). A set-associative table:
/// each key has one bucket of eight, a cache line, so that a lookup costs one line whether it
/// finds the key or not (the edges of a thread with a hundred thousand of them are far apart
/// in memory); a full bucket forgets its oldest key. The table doubles, while a bucket
/// overflows, up to [`EdgeSet::MAX_BUCKETS`] (2 MB, 262k keys: a thread that takes that many
/// distinct edges makes the global graph hold tens of MB for them anyway).
struct EdgeSet {
    buckets: Vec<Bucket>,
    /// 64 less the log2 of the buckets' count: a key's bucket is the top bits of its product
    /// with a constant.
    shift: u32,
}

/// Eight keys, most recently inserted first, 0 for none (after the last key).
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Bucket([u64; 8]);

impl EdgeSet {
    const MIN_BUCKETS: usize = 64;
    const MAX_BUCKETS: usize = 1 << 15;

    const fn new() -> Self {
        EdgeSet {
            buckets: Vec::new(),
            shift: 64,
        }
    }

    /// The key of the edge whose [`EdgeCache::key`] is `(from, second)`; never 0.
    #[inline]
    fn key(from: u64, second: u64) -> u64 {
        // `second` is the target's id shifted past 4 bits of modes.
        if from < 1 << 29 && second < 1 << 34 {
            // Exact; not 0, since ids start at 1.
            from << 34 | second
        } else {
            let mixed = (from ^ second.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (mixed ^ (mixed >> 31) ^ from.rotate_left(17)) | 1 << 63
        }
    }

    #[inline]
    fn bucket(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn contains(&self, key: u64) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        self.buckets[self.bucket(key)].0.contains(&key)
    }

    fn insert(&mut self, key: u64) {
        if self.buckets.is_empty() {
            self.resize(Self::MIN_BUCKETS);
        }
        let at = self.bucket(key);
        let keys = &mut self.buckets[at].0;
        if keys.contains(&key) {
            return;
        }
        let oldest = keys[7];
        keys.copy_within(0..7, 1);
        keys[0] = key;
        if oldest != 0 && self.buckets.len() < Self::MAX_BUCKETS {
            // The key that fell out comes back with the others at the next size.
            self.resize(self.buckets.len() * 2);
            self.insert(oldest);
        }
    }

    /// Rehashes every key into `count` buckets (a power of two).
    #[cold]
    #[inline(never)]
    fn resize(&mut self, count: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); count]);
        self.shift = 64 - count.trailing_zeros();
        // Oldest first, so that each bucket keeps its most recent keys first.
        for bucket in &old {
            for &key in bucket.0.iter().rev().filter(|&&key| key != 0) {
                self.insert(key);
            }
        }
    }
}

pub(super) struct ThreadState {
    id: u64,
    pub held: HeldStack,
    /// What this thread knows happened before its next step (for races): its own component
    /// counts its releases and spawns.
    pub clock: VectorClock,
    /// What it knows through spawns and joins only, for lock-order cycles: a lock hand-off
    /// orders one schedule, and a deadlock needs another, so locks do not count here.
    pub order_clock: VectorClock,
    /// `order_clock` shared with the occurrences recorded since it last changed; whoever
    /// changes `order_clock` clears it.
    pub order_snapshot: Option<Arc<VectorClock>>,
    pub cache: EdgeCache,
    pub chains: ChainCache,
    /// Whether this thread's name is in the global registry.
    pub registered: bool,
    /// Whether the thread accessed a tracked variable (`accessed`) or recorded a lock-order
    /// edge (`recorded_edges`): only then does anything ask a clock for the thread's own
    /// component (an access's or an edge occurrence's), so only then does its end hand it over.
    pub accessed: bool,
    recorded_edges: bool,
    /// The holds of async locks (`lockscan::tokio`), which may stay held across an `.await`:
    /// the other holds of a task whose poll returns `Pending` are reported (`runtime::task`).
    #[cfg(feature = "tokio")]
    pub async_held: Vec<LockId>,
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

impl ThreadState {
    pub(super) const fn new() -> Self {
        ThreadState {
            id: 0,
            held: HeldStack::new(),
            clock: VectorClock::new(),
            order_clock: VectorClock::new(),
            order_snapshot: None,
            cache: EdgeCache::new(),
            chains: ChainCache::new(),
            registered: false,
            accessed: false,
            recorded_edges: false,
            #[cfg(feature = "tokio")]
            async_held: Vec::new(),
        }
    }

    #[inline]
    pub fn id(&mut self) -> ThreadId {
        if self.id == 0 {
            self.first_use();
        }
        ThreadId(self.id)
    }

    /// The thread's first step lockscan sees: it takes the id and clocks of its spawn when a
    /// `pthread_create` lockscan stands in front of started it (`std_threads`: not before,
    /// std's own start-up must come first), else a fresh id of a thread with no known past.
    #[cold]
    #[inline(never)]
    fn first_use(&mut self) {
        match super::hb::take_started_fork() {
            Some(fork) => super::hb::adopt_into(self, fork),
            None => self.adopt(new_thread_id(), &ThreadClocks::default()),
        }
    }

    /// Takes the id a parent chose for this thread, and what the parent knew when it spawned
    /// it. Only before the thread did anything tracked.
    pub fn adopt(&mut self, id: ThreadId, inherited: &ThreadClocks) {
        self.id = id.0;
        for (mine, theirs) in [
            (&mut self.clock, &inherited.race),
            (&mut self.order_clock, &inherited.order),
        ] {
            mine.join(theirs);
            mine.set(id, mine.get(id).max(1));
        }
        self.order_snapshot = None;
    }

    /// Both clocks, to hand to a thread this one spawns. The race clock only once races are
    /// checked: a spawn or join before the first tracked access orders no access.
    pub fn clocks(&self) -> ThreadClocks {
        ThreadClocks {
            race: if super::hb::races_on() {
                self.clock.clone()
            } else {
                VectorClock::new()
            },
            order: self.order_clock.clone(),
            recorded_exit: 0,
        }
    }

    /// Both clocks, to hand to the thread that joins this one, which ends: as [`clocks`],
    /// without the thread's own component where nothing will ask for it. Exact, and it keeps
    /// the clocks of a thread that spawns and joins many short threads from growing a
    /// component for each (every spawn copies them).
    ///
    /// [`clocks`]: ThreadState::clocks
    pub fn final_clocks(&self) -> ThreadClocks {
        let mut clocks = self.clocks();
        let me = ThreadId(self.id);
        if !self.accessed {
            clocks.race.remove(me);
        }
        if !self.recorded_edges {
            clocks.order.remove(me);
        }
        clocks
    }

    /// Learns what another thread's clocks knew (a join).
    pub fn join(&mut self, other: &ThreadClocks) {
        self.clock.join(&other.race);
        self.order_clock.join(&other.order);
        self.order_snapshot = None;
    }

    /// One step of this thread's own, in both clocks (a spawn).
    pub fn tick(&mut self) {
        let id = self.id();
        self.clock.tick(id);
        self.order_clock.tick(id);
        self.order_snapshot = None;
    }

    /// `order_clock`, shared: a new allocation only when it changed since the last call.
    pub fn order_snapshot(&mut self) -> Arc<VectorClock> {
        // Taken for the occurrences of the order edges this thread records.
        self.recorded_edges = true;
        self.order_snapshot
            .get_or_insert_with(|| Arc::new(self.order_clock.clone()))
            .clone()
    }

    /// The fast path of a blocking acquisition: when the chain cache knows `lock` in `mode` on
    /// top of the held stack, pushes its hold (declared rank `rank`, taken at `site`) and
    /// returns the thread; `None` when the slow path has to look.
    #[inline]
    pub fn push_known(
        &mut self,
        lock: LockId,
        mode: Mode,
        site: &'static Location<'static>,
        rank: Option<u32>,
    ) -> Option<ThreadId> {
        self.push_if_known(lock, mode, site, rank)
            .then(|| self.id())
    }

    /// [`push_known`](Self::push_known) without the thread's id, which only the slow path
    /// needs: whether the hold was pushed.
    #[inline]
    pub fn push_if_known(
        &mut self,
        lock: LockId,
        mode: Mode,
        site: &'static Location<'static>,
        rank: Option<u32>,
    ) -> bool {
        let under = self.held.chain;
        let key = chain_step(under, lock, mode);
        let Some((class, name, in_graph)) = self.chains.get(under, lock, mode, key) else {
            return false;
        };
        // Growing the stack is left to the slow path, so the fast one calls nothing.
        let holds = &mut self.held.holds;
        let Some(free) = holds.spare_capacity_mut().first_mut() else {
            return false;
        };
        free.write(Held {
            id: lock,
            mode,
            site,
            info: LockInfo { class, name, rank },
            out_edge: false,
            in_graph,
            under,
        });
        let len = holds.len();
        // SAFETY: the element at `len` was just written, within the capacity.
        unsafe { holds.set_len(len + 1) };
        self.held.chain = key;
        true
    }

    /// The fast path of a release: pops the hold of `lock` if it is on top and made no order
    /// edge into the global graph (which the lock has to be told of); whether it did.
    #[inline]
    pub fn pop_plain(&mut self, lock: LockId) -> bool {
        let held = &mut self.held;
        match held.holds.last() {
            Some(top) if top.id == lock && !top.out_edge => {
                held.chain = top.under;
                held.holds.pop();
                true
            }
            _ => false,
        }
    }

    /// Pushes `hold`, whose every order edge from the held stack is recorded (it is not in the
    /// stack), and remembers the stack in the chain cache if it was seen before and the hold
    /// may be remembered (`remember`: see `LockMeta::named_for_good`).
    #[inline]
    pub fn push_recorded(&mut self, hold: Held, remember: bool) {
        let under = self.held.chain();
        let key = chain_step(under, hold.id, hold.mode);
        if remember && self.chains.seen_before(key) {
            self.chains.insert(under, key, &hold);
        }
        self.held.holds.push(Held { under, ..hold });
        self.held.chain = key;
    }

    /// A miss of the chain cache: when the edge cache knows every edge from the held stack to
    /// `hold`'s lock (so that the lock is not held either), pushes it as
    /// [`push_recorded`](Self::push_recorded) does and returns the thread; `None` when the slow
    /// path has to look.
    #[inline]
    pub fn push_if_edges_known(&mut self, hold: Held, remember: bool) -> Option<ThreadId> {
        let Held { id, mode, .. } = hold;
        let ThreadState { held, cache, .. } = self;
        let known = held
            .iter()
            .all(|h| h.id != id && cache.contains(h.id, h.mode, id, mode));
        if !known {
            return None;
        }
        self.push_recorded(hold, remember);
        Some(self.id())
    }

    /// The index of the innermost hold of `lock`.
    pub fn position(&self, lock: LockId) -> Option<usize> {
        self.held.iter().rposition(|h| h.id == lock)
    }
}

/// A thread's clocks, handed over at spawn and join.
#[derive(Clone, Debug, Default)]
pub(crate) struct ThreadClocks {
    race: VectorClock,
    order: VectorClock,
    /// The recording in which the thread recorded its exit (0: none), for its join's place.
    pub(crate) recorded_exit: u64,
}

/// A fresh thread id.
pub(super) fn new_thread_id() -> ThreadId {
    ThreadId(NEXT_THREAD.fetch_add(1, Ordering::Relaxed))
}

/// This thread's state, lent out by [`with`].
struct Slot {
    state: UnsafeCell<ThreadState>,
    /// Whether `FREE` was ever given the state: from then on, `FREE` is null only while the
    /// state is lent out, or once it is gone.
    handed_out: Cell<bool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The state goes (a thread-local destructor): no later `with` may find it. `FREE` has no
        // destructor, so it is always there; it holds the state now, since nothing is lent out
        // while the thread's destructors run one after the other.
        FREE.set(std::ptr::null_mut());
    }
}

thread_local! {
    static SLOT: Slot = const {
        Slot {
            state: UnsafeCell::new(ThreadState::new()),
            handed_out: Cell::new(false),
        }
    };
    /// The state in `SLOT` while nobody uses it; null before its first use, while it is lent
    /// out (a nested `with`, from a hook that re-enters, finds nothing), and once it is gone.
    /// Without a destructor, so that the fast path's access is one load and one store, with no
    /// check of a destructor's registration and no borrow flag.
    static FREE: Cell<*mut ThreadState> = const { Cell::new(std::ptr::null_mut()) };
    /// The thread that spawned this one when lockscan saw the spawn (`ThreadId(0)`: seen, from
    /// a thread whose state was gone), `None` when it did not. Apart from `SLOT`, because the
    /// recorder and the thread registry read it while the state is lent out; without a
    /// destructor, so readable until the thread is gone.
    static SPAWNED_BY: Cell<Option<ThreadId>> = const { Cell::new(None) };
    /// The name of the async task whose state is swapped in (`runtime::task`), if any.
    static TASK_NAME: Cell<Option<&'static str>> = const { Cell::new(None) };
}

#[cfg(feature = "tokio")]
/// Swaps this thread's state with `other` (an async task's, around its poll), and sets the
/// name reports give the state swapped in; returns the name it replaces. `None` when the
/// state is gone or in use, and nothing was swapped.
pub(super) fn swap(
    other: &mut ThreadState,
    name: Option<&'static str>,
) -> Option<Option<&'static str>> {
    with(|state| {
        std::mem::swap(state, other);
        TASK_NAME.replace(name)
    })
}

/// Whether the state of an async task is swapped in on this thread.
#[cfg(feature = "tokio")]
pub(super) fn in_task() -> bool {
    TASK_NAME
        .try_with(|name| name.get().is_some())
        .unwrap_or(false)
}

/// Remembers that lockscan saw the current thread's spawn, by `parent`.
pub(super) fn set_spawned_by(parent: ThreadId) {
    SPAWNED_BY.set(Some(parent));
}

/// The thread that spawned the current one, if lockscan saw the spawn.
pub(crate) fn spawned_by() -> Option<ThreadId> {
    SPAWNED_BY.get()
}

/// Whether the current thread, called `name`, was started in a way lockscan did not see, so
/// that neither its spawn nor its join orders anything: not the main thread (which nothing
/// spawned), not started through `lockscan::thread` or a `pthread_create` lockscan stands
/// in front of, and not an async task (whose spawn lockscan sees: `runtime::task`).
pub(super) fn spawn_unseen(name: &str) -> bool {
    #[cfg(feature = "tokio")]
    if in_task() {
        return false;
    }
    spawned_by().is_none() && name != crate::engine::race::MAIN_THREAD
}

/// Runs `f` on this thread's state. `None` when the state is gone (a lock used from a
/// thread-local destructor) or already in use further up the stack: the operation then goes
/// unrecorded rather than failing.
#[inline]
pub(super) fn with<R>(f: impl FnOnce(&mut ThreadState) -> R) -> Option<R> {
    // Taken out of `FREE` while in use, so that a nested call finds null.
    let mut state = FREE.replace(std::ptr::null_mut());
    if state.is_null() {
        state = first_use();
        if state.is_null() {
            return None;
        }
    }
    Some(lend(state, f))
}

/// The state for [`with`] when `FREE` is null: at its first use on this thread (which
/// registers its destructor); null for a nested call, or when the state is gone. Not generic,
/// so that the fast path passes it nothing.
#[cold]
#[inline(never)]
fn first_use() -> *mut ThreadState {
    SLOT.try_with(|slot| {
        if slot.handed_out.replace(true) {
            std::ptr::null_mut()
        } else {
            slot.state.get()
        }
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Runs `f` on `state`, taken out of `FREE`, and puts it back there afterwards, also when `f`
/// unwinds.
#[inline(always)]
fn lend<R>(state: *mut ThreadState, f: impl FnOnce(&mut ThreadState) -> R) -> R {
    struct GiveBack(*mut ThreadState);
    impl Drop for GiveBack {
        #[inline(always)]
        fn drop(&mut self) {
            FREE.set(self.0);
        }
    }
    let back = GiveBack(state);
    // SAFETY: `state` points into this thread's `SLOT`, which lives until its destructor,
    // and that destructor has not run (it nulls `FREE` for good, and `state` came from `FREE`
    // or from a `SLOT` still there). It is the only pointer to the state handed out: `FREE`
    // is null until `back` puts it back, and `handed_out` keeps `first_use` from giving out
    // another, so no other reference to the state exists while `f` runs.
    f(unsafe { &mut *back.0 })
}

/// The name reports give the current thread.
pub(super) fn current_thread_name(id: ThreadId) -> String {
    if let Some(task) = TASK_NAME.try_with(Cell::get).ok().flatten() {
        return task.to_owned();
    }
    match std::thread::current().name() {
        Some(name) => name.to_owned(),
        None => format!("{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_into_a_lock_at_its_first_acquisition_stays_out_of_the_edge_set() {
        let mut cache = EdgeCache::new();
        let outer = LockId(1);
        let fresh = |n: u64| LockId(100 + n);
        cache.insert_fresh(outer, Mode::Exclusive, fresh(0), Mode::Exclusive);
        // Known for the rest of the acquisition, by either look-up.
        assert!(cache.contains_fresh(outer, Mode::Exclusive, fresh(0), Mode::Exclusive));
        assert!(cache.contains(outer, Mode::Exclusive, fresh(0), Mode::Exclusive));
        // Never in the set of every edge, so a per-request lock fills nothing there.
        let (a, b, _) = EdgeCache::key(outer, Mode::Exclusive, fresh(0), Mode::Exclusive);
        assert!(!cache.all.contains(EdgeSet::key(a, b)));
        // The short list keeps the last few only; an edge it forgot is a miss, not an error.
        for n in 1..=EdgeCache::FRESH as u64 * 16 {
            cache.insert_fresh(outer, Mode::Exclusive, fresh(n), Mode::Exclusive);
        }
        assert!(!cache.fresh.contains(&(a, b)));
        let last = fresh(EdgeCache::FRESH as u64 * 16);
        assert!(cache.contains_fresh(outer, Mode::Exclusive, last, Mode::Exclusive));
    }

    #[test]
    fn edge_cache_remembers_by_modes() {
        let mut cache = EdgeCache::new();
        let (a, b) = (LockId(1), LockId(2));
        assert!(!cache.contains(a, Mode::Exclusive, b, Mode::Exclusive));
        cache.insert(a, Mode::Exclusive, b, Mode::Exclusive);
        assert!(cache.contains(a, Mode::Exclusive, b, Mode::Exclusive));
        assert!(!cache.contains(a, Mode::Exclusive, b, Mode::Shared));
        assert!(!cache.contains(b, Mode::Exclusive, a, Mode::Exclusive));
    }

    #[test]
    fn an_ending_thread_hands_over_its_own_order_component_only_after_recording_an_edge() {
        let mut st = ThreadState::new();
        let me = st.id();
        st.tick();
        let other = ThreadId(u64::MAX);
        st.order_clock.set(other, 3);
        // No occurrence can name this thread: its joiner need not know its component.
        let clocks = st.final_clocks();
        assert_eq!((clocks.order.get(me), clocks.order.get(other)), (0, 3));
        let _ = st.order_snapshot();
        let clocks = st.final_clocks();
        assert_eq!((clocks.order.get(me), clocks.order.get(other)), (2, 3));
    }

    fn hold(id: u64, mode: Mode) -> Held {
        Held {
            id: LockId(id),
            mode,
            site: Location::caller(),
            info: LockInfo {
                class: Location::caller(),
                name: None,
                rank: None,
            },
            out_edge: false,
            in_graph: false,
            under: 0,
        }
    }

    /// The chain key of a stack built by pushes alone.
    fn pushed(holds: &[(u64, Mode)]) -> u64 {
        let mut stack = HeldStack::new();
        for &(id, mode) in holds {
            stack.push(hold(id, mode));
        }
        stack.chain()
    }

    #[test]
    fn chain_keys_follow_releases_out_of_order_and_mode_changes() {
        use Mode::{Exclusive, Shared};
        let mut stack = HeldStack::new();
        for (id, mode) in [(1, Exclusive), (2, Shared), (3, Exclusive)] {
            stack.push(hold(id, mode));
        }
        assert_ne!(stack.chain(), pushed(&[(1, Exclusive), (3, Exclusive)]));
        stack.remove(1);
        assert_eq!(stack.chain(), pushed(&[(1, Exclusive), (3, Exclusive)]));
        stack.set_mode(0, Shared);
        assert_eq!(stack.chain(), pushed(&[(1, Shared), (3, Exclusive)]));
        stack.pop();
        stack.pop();
        assert_eq!(stack.chain(), 0, "the empty stack");
    }

    #[test]
    fn chain_keys_depend_on_order_and_modes() {
        use Mode::{Exclusive, Shared};
        let orders = [
            pushed(&[(1, Exclusive), (2, Exclusive)]),
            pushed(&[(2, Exclusive), (1, Exclusive)]),
            pushed(&[(1, Shared), (2, Exclusive)]),
            pushed(&[(1, Exclusive), (2, Shared)]),
            pushed(&[(2, Exclusive)]),
        ];
        for (i, a) in orders.iter().enumerate() {
            assert!(orders[i + 1..].iter().all(|b| a != b), "{orders:?}");
        }
    }

    #[test]
    fn the_chain_cache_knows_a_lock_only_on_the_stack_it_was_taken_on() {
        let mut st = ThreadState::new();
        let site = Location::caller();
        st.held.push(hold(1, Mode::Exclusive));
        assert_eq!(st.push_known(LockId(2), Mode::Exclusive, site, None), None);
        // Remembered the second time the stack is seen.
        st.push_recorded(hold(2, Mode::Exclusive), true);
        st.held.pop();
        assert_eq!(st.push_known(LockId(2), Mode::Exclusive, site, None), None);
        st.push_recorded(hold(2, Mode::Exclusive), true);
        st.held.pop();
        assert!(
            st.push_known(LockId(2), Mode::Exclusive, site, Some(7))
                .is_some()
        );
        assert_eq!(
            st.held.last().map(|h| h.info.rank),
            Some(Some(7)),
            "read at the push"
        );
        assert_eq!(
            st.held.chain(),
            pushed(&[(1, Mode::Exclusive), (2, Mode::Exclusive)])
        );
        st.held.pop();
        assert_eq!(
            st.push_known(LockId(2), Mode::Shared, site, None),
            None,
            "another mode"
        );
        st.held.pop();
        assert_eq!(
            st.push_known(LockId(2), Mode::Exclusive, site, None),
            None,
            "another stack"
        );
    }

    #[test]
    fn a_stack_taken_once_is_not_remembered_and_one_never_named_for_good_never_is() {
        let mut st = ThreadState::new();
        let site = Location::caller();
        for _ in 0..3 {
            st.push_recorded(hold(1, Mode::Exclusive), false);
            st.held.pop();
        }
        assert_eq!(st.push_known(LockId(1), Mode::Exclusive, site, None), None);
        // Many stacks, each once: none is remembered.
        for lock in 2..1000 {
            st.push_recorded(hold(lock, Mode::Exclusive), true);
            st.held.pop();
        }
        assert!((2..1000).all(|lock| {
            st.push_known(LockId(lock), Mode::Exclusive, site, None)
                .is_none()
        }));
    }

    #[test]
    fn a_miss_of_the_chain_cache_pushes_when_the_edge_cache_knows_every_edge() {
        let mut st = ThreadState::new();
        st.held.push(hold(1, Mode::Exclusive));
        st.held.push(hold(2, Mode::Exclusive));
        st.cache
            .insert(LockId(1), Mode::Exclusive, LockId(3), Mode::Exclusive);
        assert_eq!(
            st.push_if_edges_known(hold(3, Mode::Exclusive), true),
            None,
            "2 -> 3 is new"
        );
        st.cache
            .insert(LockId(2), Mode::Exclusive, LockId(3), Mode::Exclusive);
        assert!(
            st.push_if_edges_known(hold(3, Mode::Exclusive), true)
                .is_some()
        );
        assert_eq!(st.held.len(), 3);
        assert_eq!(
            st.push_if_edges_known(hold(2, Mode::Exclusive), true),
            None,
            "held already"
        );
        assert_eq!(st.held.len(), 3);
    }

    #[test]
    fn the_edge_set_keeps_a_hundred_thousand_edges_and_bounds_its_memory() {
        let mut set = EdgeSet::new();
        let key = |i: u64| EdgeSet::key(i, 2 << 4);
        for i in 1..=100_000 {
            set.insert(key(i));
        }
        let kept = (1..=100_000).filter(|&i| set.contains(key(i))).count();
        assert!(kept >= 99_000, "{kept} of 100000 kept");
        for i in 100_001..=2_000_000 {
            set.insert(key(i));
        }
        assert_eq!(
            set.buckets.len(),
            EdgeSet::MAX_BUCKETS,
            "grown to its bound, no more"
        );
        let latest = (1_990_001..=2_000_000)
            .filter(|&i| set.contains(key(i)))
            .count();
        assert_eq!(latest, 10_000, "the latest edges are kept");
    }

    #[test]
    fn edge_set_keys_are_exact_for_small_ids_and_distinct_for_large_ones() {
        let second = |to: u64, modes: u64| to << 4 | modes;
        let small = [(1, second(2, 0)), (2, second(1, 0)), (1, second(2, 5))];
        let large = [
            (1 << 40, second(2, 0)),
            (2, second(1 << 40, 0)),
            (u64::MAX >> 2, second(u64::MAX >> 8, 3)),
        ];
        let keys: Vec<u64> = small
            .iter()
            .chain(&large)
            .map(|&(a, b)| EdgeSet::key(a, b))
            .collect();
        for (i, a) in keys.iter().enumerate() {
            assert_ne!(*a, 0);
            assert!(keys[i + 1..].iter().all(|b| a != b), "{keys:x?}");
        }
        let mut set = EdgeSet::new();
        for &key in &keys[..4] {
            set.insert(key);
        }
        assert!(keys[..4].iter().all(|&key| set.contains(key)));
        assert!(!keys[4..].iter().any(|&key| set.contains(key)));
    }

    #[test]
    fn edge_cache_keeps_thousands_of_edges() {
        let mut cache = EdgeCache::new();
        let edge = |i: u64| (LockId(i), LockId(i + 1_000_000));
        for i in 1..=5000 {
            let (a, b) = edge(i);
            cache.insert(a, Mode::Exclusive, b, Mode::Exclusive);
        }
        assert!((1..=5000).all(|i| {
            let (a, b) = edge(i);
            cache.contains(a, Mode::Exclusive, b, Mode::Exclusive)
        }));
    }
}
