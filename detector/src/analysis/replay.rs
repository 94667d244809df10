//! Replaying a trace through the engine: the offline counterpart of the live detector.
//!
//! [`Replay`] consumes [`Event`]s in trace order and keeps, per thread, the stack of held locks
//! (with re-entrancy counts), the pending lock request and a happens-before [`VectorClock`]
//! built from spawn and join only: a lock hand-off orders *this* schedule, and a deadlock needs
//! another one; a condition-variable wake-up can come from a time-out, a spurious wake-up or
//! another notifier, so a notify proves no order in other schedules either. Every acquisition while holding other locks adds an order edge
//! to an [`OrderGraph`]; [`Replay::finish`] classifies the graph's cycles. Along the way it
//! reports what can be seen directly: wait cycles among pending requests (a deadlock that
//! happened), API misuse, new lock orders against declared ranks, data races on the trace's
//! variables (there, lock hand-offs do order accesses), and condition-variable waits while
//! holding other locks.
//!
//! [`Analysis`] gathers the results of several traces and looks for lock-order cycles across
//! them, merging locks by name, else by class.
//!
//! The common path — an acquisition whose order edges were seen before by the same thread
//! with the same held locks — allocates nothing.

use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::clock::VectorClock;
use crate::analysis::order::{
    Classification, EdgeData, HeldLocks, Names, Occurrence, classify, cycle_finding, held_locks,
};
use crate::analysis::race::{Race, RaceEngine, race_finding};
use crate::analysis::rules::{self, BlockedThread, LockAt};
use crate::analysis::timeline::{
    PictureEdge, PictureLock, PictureOccurrence, PictureThread, TimelineRecorder, TracePicture,
};
use crate::finding::{Finding, FindingKind};
use crate::graph::OrderGraph;
use crate::ids::{CondvarId, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;
use crate::trace::{Event, Format, TraceError, TraceReader};

/// Limits of the analysis.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The longest lock-order cycle enumerated, in locks. A strongly connected group of locks
    /// whose cycles are all longer still yields its shortest cycle.
    pub max_cycle_len: usize,
    /// How many cycles to enumerate at most, per trace and across traces; groups of locks
    /// beyond it still yield their shortest cycle each.
    pub max_cycles: usize,
    /// Whether to keep the order edges between named (or classed) locks for the cross-trace
    /// analysis. STD traces name locks by trace-local tokens, so merging them would invent
    /// cycles between unrelated programs.
    pub merge: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            max_cycle_len: 8,
            max_cycles: 10_000,
            merge: true,
        }
    }
}

/// A lock held by a thread.
#[derive(Clone, Debug)]
struct Held {
    lock: u32,
    id: LockId,
    mode: Mode,
    /// Re-entrant acquisitions not yet released.
    count: u32,
    site: Option<Site>,
}

/// A lock request the thread is blocked in.
#[derive(Clone, Debug)]
struct Pending {
    lock: u32,
    mode: Mode,
    site: Option<Site>,
    /// The event number, to tell later whether the request was still pending at the end.
    at: u64,
}

#[derive(Debug)]
struct ThreadState {
    id: ThreadId,
    name: Option<Arc<str>>,
    held: Vec<Held>,
    clock: VectorClock,
    /// `clock` shared with the occurrences recorded since it last changed.
    snapshot: Option<Arc<VectorClock>>,
    request: Option<Pending>,
    /// The condition variable and lock of a wait in progress, and whether a notify came since
    /// it began.
    waiting: Option<(CondvarId, u32)>,
    notified: bool,
}

#[derive(Debug)]
struct LockState {
    id: LockId,
    kind: LockKind,
    name: Option<Arc<str>>,
    class: Option<Arc<str>>,
    /// The declared rank: a lock may only be acquired while holding locks of lower rank.
    rank: Option<u64>,
    /// The threads holding it, with their modes (several only for shared modes and
    /// semaphores).
    holders: Vec<(u32, Mode)>,
}

/// The kinds of API misuse, for de-duplication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Misuse {
    ReleaseNotHeld,
    ReleaseByNonOwner,
    Relock,
    HeldElsewhere,
}

/// A wait cycle seen during the replay; whether it lasted to the end decides its wording.
#[derive(Debug)]
struct WaitCycle {
    finding: usize,
    /// Each blocked thread and the request it was blocked in.
    requests: Vec<(u32, u64)>,
}

/// Replays one trace. Feed it events with [`Replay::event`], then call [`Replay::finish`]; or
/// give it a whole reader with [`Replay::run`].
///
/// ```
/// use lockscan::analysis::Replay;
/// use lockscan::trace::{InputFormat, TraceReader};
/// use lockscan::FindingKind;
///
/// // Thread 1 takes A then B; thread 2, B then A (RAPID STD text: `THREAD|OP(ARG)|LOC`).
/// let trace = "T1|acq(A)|1\nT1|acq(B)|2\nT1|rel(B)|3\nT1|rel(A)|4\n\
///              T2|acq(B)|5\nT2|acq(A)|6\nT2|rel(A)|7\nT2|rel(B)|8\n";
/// let mut reader = TraceReader::new(trace.as_bytes(), "example.std", InputFormat::Auto)?;
/// let result = Replay::default().run(&mut reader, |error| panic!("{error}"));
/// assert_eq!(result.findings.len(), 1);
/// assert_eq!(result.findings[0].kind, FindingKind::PotentialDeadlock);
/// println!("{}", result.findings[0]); // the rustc-style report
/// # Ok::<(), lockscan::trace::TraceError>(())
/// ```
#[derive(Debug)]
pub struct Replay {
    options: ReplayOptions,
    threads: Vec<ThreadState>,
    thread_index: FxHashMap<ThreadId, u32>,
    locks: Vec<LockState>,
    lock_index: FxHashMap<LockId, u32>,
    condvar_names: FxHashMap<CondvarId, Arc<str>>,
    /// The threads waiting on each condition variable.
    waiters: FxHashMap<CondvarId, Vec<u32>>,
    graph: OrderGraph<LockId, EdgeData>,
    findings: Vec<Finding>,
    /// The findings the program reported live and wrote into the trace (`finding` records).
    recorded: Vec<Finding>,
    deadlocks: Vec<WaitCycle>,
    deadlock_keys: FxHashSet<Vec<LockId>>,
    /// Finding index and count of each misuse.
    misuses: FxHashMap<(Misuse, u32, u32), (usize, u64)>,
    wait_keys: FxHashSet<(CondvarId, Vec<LockId>)>,
    /// Rank violations found while adding edges, reported once the edges are in.
    rank_violations: Vec<(u32, Occurrence)>,
    warnings: Vec<String>,
    events: u64,
    /// The trace line of the event being replayed, when the reader says.
    line: Option<u64>,
    /// Scratch space of the wait-cycle search.
    search_path: Vec<(u32, u32)>,
    /// Scratch space of the wait-cycle search: per path entry, the next holder to follow; and
    /// the threads explored without reaching the start.
    search_next: Vec<usize>,
    search_explored: FxHashSet<u32>,
    /// Happens-before over locks, spawn and join, for data races on the trace's variables.
    races: RaceEngine,
    /// Whether a variable was accessed yet. Until then the race engine is not fed: an order
    /// that a lock hand-off, spawn or join makes before any access can order no access (every
    /// access of the releasing side comes after it), so starting the clocks at the first
    /// access finds exactly the same races, and a trace without variables pays nothing.
    accessed: bool,
    var_names: FxHashMap<VarId, Arc<str>>,
    /// Each racing variable and pair of sites is reported once.
    race_keys: FxHashSet<(VarId, String, String)>,
    /// The holds and waits for a [`TracePicture`], when asked for with
    /// [`Replay::keep_timeline`].
    timeline: Option<Box<TimelineRecorder>>,
}

/// What one trace's replay found.
#[derive(Debug, Default)]
pub struct TraceResult {
    /// The findings of this trace on its own.
    pub findings: Vec<Finding>,
    /// How many events were replayed.
    pub events: u64,
    /// How many threads and locks the trace used.
    pub threads: usize,
    /// How many locks.
    pub locks: usize,
    /// The distinct lock-order edges.
    pub edges: usize,
    /// False when a cycle limit cut the cycle search short.
    pub complete: bool,
    /// The order edges between named or classed locks, for [`Analysis`].
    pub merge_edges: Vec<MergeEdge>,
    /// What the replay found odd about the trace itself (not about the program).
    pub warnings: Vec<String>,
    /// The trace drawn: locks, order edges and per-thread timeline, when the replay was asked
    /// to keep it ([`Replay::keep_timeline`]).
    pub picture: Option<TracePicture>,
}

/// An order edge between locks known by name or class, as another trace can see it too.
#[derive(Clone, Debug)]
pub struct MergeEdge {
    /// The held lock's name, else class.
    pub from: Arc<str>,
    /// The acquired lock's name, else class.
    pub to: Arc<str>,
    /// How it was taken.
    pub occurrences: Vec<MergeOccurrence>,
}

/// One way a [`MergeEdge`] was taken.
#[derive(Clone, Debug)]
pub struct MergeOccurrence {
    /// The thread's name in its trace.
    pub thread: String,
    /// The mode `from` was held in.
    pub from_mode: Mode,
    /// The mode `to` was requested in.
    pub to_mode: Mode,
    /// Where `from` was acquired.
    pub from_site: Option<Site>,
    /// Where `to` was requested.
    pub to_site: Option<Site>,
    /// The other held locks that have a name or class.
    pub held: Vec<(Arc<str>, Mode)>,
}

impl Default for Replay {
    fn default() -> Self {
        Self::new(ReplayOptions::default())
    }
}

impl Replay {
    /// A replay with nothing seen yet.
    pub fn new(options: ReplayOptions) -> Self {
        Replay {
            options,
            threads: Vec::new(),
            thread_index: FxHashMap::default(),
            locks: Vec::new(),
            lock_index: FxHashMap::default(),
            condvar_names: FxHashMap::default(),
            waiters: FxHashMap::default(),
            graph: OrderGraph::new(),
            findings: Vec::new(),
            recorded: Vec::new(),
            deadlocks: Vec::new(),
            deadlock_keys: FxHashSet::default(),
            misuses: FxHashMap::default(),
            wait_keys: FxHashSet::default(),
            rank_violations: Vec::new(),
            warnings: Vec::new(),
            events: 0,
            line: None,
            search_path: Vec::new(),
            search_next: Vec::new(),
            search_explored: FxHashSet::default(),
            races: RaceEngine::new(),
            accessed: false,
            var_names: FxHashMap::default(),
            race_keys: FxHashSet::default(),
            timeline: None,
        }
    }

    /// Asks the replay to keep what a picture of the trace needs (every lock hold and blocked
    /// wait), returned as [`TraceResult::picture`]. Off by default: it costs memory in
    /// proportion to the trace.
    pub fn keep_timeline(mut self) -> Self {
        self.timeline = Some(Box::new(TimelineRecorder::new()));
        self
    }

    /// Sets the timestamp (`ts_ns`) of the next event, for the timeline; readers that know
    /// one say it before each event.
    pub fn set_timestamp(&mut self, ts_ns: Option<u64>) {
        if let Some(timeline) = &mut self.timeline {
            timeline.next_ts = ts_ns;
        }
    }

    /// Sets the trace line of the next event, which findings about the trace itself name.
    pub fn set_line(&mut self, line: Option<u64>) {
        self.line = line;
    }

    /// Replays every event of `reader`, passing each unreadable line to `on_error` and going
    /// on, then finishes.
    pub fn run<R: BufRead>(
        mut self,
        reader: &mut TraceReader<R>,
        mut on_error: impl FnMut(TraceError),
    ) -> TraceResult {
        if reader.format() == Format::Std {
            self.options.merge = false;
        }
        while let Some(event) = reader.next() {
            match event {
                Ok(event) => {
                    self.set_timestamp(reader.timestamp());
                    self.set_line(Some(reader.line()));
                    self.event(event)
                }
                Err(err) => on_error(err),
            }
        }
        self.finish()
    }

    fn thread(&mut self, id: ThreadId) -> u32 {
        if let Some(&index) = self.thread_index.get(&id) {
            return index;
        }
        let index = self.threads.len() as u32;
        let mut clock = VectorClock::new();
        // Each thread's own component starts at 1: 0 means "knows nothing of this thread".
        clock.set(id, 1);
        self.threads.push(ThreadState {
            id,
            name: None,
            held: Vec::new(),
            clock,
            snapshot: None,
            request: None,
            waiting: None,
            notified: false,
        });
        self.thread_index.insert(id, index);
        index
    }

    /// The index of `id`, which just did something other than acquiring: whatever it
    /// requested before, it is not blocked in it (a timed lock attempt that gave up).
    fn active(&mut self, id: ThreadId) -> usize {
        let t = self.thread(id) as usize;
        self.threads[t].request = None;
        t
    }

    fn lock(&mut self, id: LockId) -> u32 {
        if let Some(&index) = self.lock_index.get(&id) {
            return index;
        }
        let index = self.locks.len() as u32;
        self.locks.push(LockState {
            id,
            // An undeclared lock: the strictest reading, so that misuse is not hidden.
            kind: LockKind::Mutex,
            name: None,
            class: None,
            rank: None,
            holders: Vec::new(),
        });
        self.lock_index.insert(id, index);
        index
    }

    /// Replays one event.
    pub fn event(&mut self, event: Event) {
        self.events += 1;
        if let Some(timeline) = &mut self.timeline {
            let locks = (&self.lock_index, &self.locks);
            let kind_of = |id: LockId| {
                let declared = locks.0.get(&id).map(|&l| locks.1[l as usize].kind);
                declared.unwrap_or(LockKind::Mutex)
            };
            timeline.event(&event, self.events, kind_of);
        }
        match event {
            Event::Header(_) | Event::End { .. } => {}
            Event::Finding(finding) => self.recorded.push(*finding),
            Event::Var { var, name, .. } => {
                if let Some(name) = name {
                    self.var_names.insert(var, name);
                }
            }
            Event::Read { tid, var, site } => {
                self.active(tid);
                self.accessed = true;
                let races = self.races.read(tid, var, site);
                self.races(var, races);
            }
            Event::Write { tid, var, site } => {
                self.active(tid);
                self.accessed = true;
                let races = self.races.write(tid, var, site);
                self.races(var, races);
            }
            Event::Thread { tid, name, .. } => {
                let t = self.thread(tid) as usize;
                if name.is_some() {
                    self.threads[t].name = name;
                }
            }
            Event::Lock {
                lock,
                kind,
                name,
                class,
                rank,
                ..
            } => {
                let l = self.lock(lock) as usize;
                let state = &mut self.locks[l];
                state.kind = kind;
                if rank.is_some() {
                    state.rank = rank;
                }
                if name.is_some() {
                    state.name = name;
                }
                if class.is_some() {
                    state.class = class;
                }
            }
            Event::Condvar { condvar, name, .. } => {
                if let Some(name) = name {
                    self.condvar_names.insert(condvar, name);
                }
            }
            Event::Spawn { tid, child, .. } => {
                if self.accessed {
                    self.races.spawn(tid, child);
                }
                let parent = self.active(tid);
                let child = self.thread(child) as usize;
                let known = self.threads[parent].clock.clone();
                self.threads[child].clock.join(&known);
                self.threads[child].snapshot = None;
                self.tick(parent);
            }
            Event::Join { tid, child, .. } => {
                if self.accessed {
                    self.races.join(tid, child);
                }
                let joiner = self.active(tid);
                let child = self.thread(child) as usize;
                // The child is over: its clock moves into the joiner's (occurrences keep their
                // own snapshots), so thousands of short threads keep no clock each.
                let known = std::mem::take(&mut self.threads[child].clock);
                self.threads[joiner].clock.join(&known);
                self.threads[joiner].snapshot = None;
                let id = self.threads[child].id;
                self.threads[child].clock.set(id, known.get(id) + 1);
                self.threads[child].snapshot = None;
            }
            Event::Notify { tid, condvar, .. } => {
                self.active(tid);
                // Which waiter a `notify_one` woke is not recorded: every current waiter may
                // have been the one.
                if let Some(waiters) = self.waiters.get(&condvar) {
                    for &w in waiters {
                        self.threads[w as usize].notified = true;
                    }
                }
            }
            Event::Wait {
                tid,
                condvar,
                lock,
                site,
            } => {
                if self.accessed {
                    self.races.release(tid, lock);
                }
                self.wait(tid, condvar, lock, site);
            }
            Event::Request {
                tid,
                lock,
                mode,
                site,
            } => self.request(tid, lock, mode, site),
            Event::Acquire {
                tid,
                lock,
                mode,
                try_lock,
                site,
            } => {
                if self.accessed {
                    self.races.acquire(tid, lock);
                }
                self.acquire(tid, lock, mode, try_lock, site);
            }
            Event::Release {
                tid, lock, site, ..
            } => {
                if self.accessed {
                    self.races.release(tid, lock);
                }
                self.release(tid, lock, site);
            }
        }
    }

    /// Reports the races of one access to `var`, each pair of sites once.
    fn races(&mut self, var: VarId, races: Vec<Race>) {
        for race in races {
            self.race(var, race);
        }
    }

    /// Reports a race on `var`, once per pair of sites.
    fn race(&mut self, var: VarId, race: Race) {
        let site = |s: &Option<Site>| s.as_ref().map(ToString::to_string).unwrap_or_default();
        let (mut a, mut b) = (site(&race.earlier.site), site(&race.later.site));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        if !self.race_keys.insert((var, a, b)) {
            return;
        }
        let name = self
            .var_names
            .get(&var)
            .map_or_else(|| var.to_string(), ToString::to_string);
        let finding = race_finding(&name, &race, |t| self.thread_name(t));
        self.findings.push(finding);
    }

    fn tick(&mut self, t: usize) {
        let state = &mut self.threads[t];
        state.clock.tick(state.id);
        state.snapshot = None;
    }

    fn holds(&self, t: usize, l: u32) -> Option<usize> {
        self.threads[t].held.iter().rposition(|h| h.lock == l)
    }

    fn request(&mut self, tid: ThreadId, lock: LockId, mode: Mode, site: Option<Site>) {
        let t = self.thread(tid) as usize;
        let l = self.lock(lock);
        if self.holds(t, l).is_some() && self.locks[l as usize].kind == LockKind::Reentrant {
            // A re-entrant lock the thread holds: the request cannot block.
            self.threads[t].request = None;
            return;
        }
        self.add_edges(t, l, mode, site.as_ref());
        self.threads[t].request = Some(Pending {
            lock: l,
            mode,
            site,
            at: self.events,
        });
        self.check_wait_cycle(t as u32);
    }

    fn acquire(
        &mut self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        try_lock: bool,
        site: Option<Site>,
    ) {
        let t = self.thread(tid) as usize;
        let l = self.lock(lock);
        let state = &mut self.threads[t];
        if let Some((condvar, wait_lock)) = state.waiting
            && wait_lock == l
        {
            // The wake-up. It orders nothing for the lock order (see the module docs).
            state.waiting = None;
            state.notified = false;
            if let Some(waiters) = self.waiters.get_mut(&condvar) {
                waiters.retain(|&w| w as usize != t);
            }
        }
        let requested = self.threads[t]
            .request
            .take()
            .is_some_and(|pending| pending.lock == l);
        if let Some(index) = self.holds(t, l) {
            let kind = self.locks[l as usize].kind;
            let held_mode = self.threads[t].held[index].mode;
            self.threads[t].held[index].count += 1;
            let recursive_read =
                kind == LockKind::RwLock && mode == Mode::Shared && held_mode == Mode::Shared;
            if kind != LockKind::Reentrant && !recursive_read && !try_lock {
                let held = &self.threads[t].held[index];
                let held = LockAt {
                    name: self.lock_name(held.id),
                    site: held.site.clone(),
                    mode: held.mode,
                };
                self.relock(t as u32, l, held, mode, site);
            }
            return;
        }
        let conflicting = self.locks[l as usize]
            .holders
            .iter()
            .any(|&(other, other_mode)| other as usize != t && other_mode.conflicts_with(mode));
        // A semaphore's permits are not owned: several threads hold one legitimately.
        if conflicting && self.locks[l as usize].kind != LockKind::Semaphore {
            self.inconsistent(t as u32, l, site.clone());
        }
        // A successful try-lock could not have waited: no edge into the lock. An acquisition
        // after a request took its edges at the request.
        if !try_lock && !requested {
            self.add_edges(t, l, mode, site.as_ref());
        }
        self.threads[t].held.push(Held {
            lock: l,
            id: lock,
            mode,
            count: 1,
            site,
        });
        self.locks[l as usize].holders.push((t as u32, mode));
    }

    /// Adds the order edges `held -> l` of thread `t` about to take `l`.
    fn add_edges(&mut self, t: usize, l: u32, to_mode: Mode, to_site: Option<&Site>) {
        let to = self.locks[l as usize].id;
        let thread = &mut self.threads[t];
        // What the thread holds, as occurrences keep it: made once per acquisition, and only
        // if some edge is new.
        let holding = || {
            thread
                .held
                .iter()
                .filter(move |h| h.lock != l)
                .map(|h| (h.id, h.mode))
        };
        let holding_len = holding().count();
        let mut held: Option<HeldLocks> = None;
        for from in &thread.held {
            if from.lock == l {
                continue;
            }
            let same = |o: &Occurrence| {
                o.covers(
                    thread.id,
                    from.mode,
                    to_mode,
                    thread.snapshot.as_ref(),
                    holding_len,
                    holding(),
                )
            };
            if let Some(data) = self.graph.edge(from.id, to)
                && (data.occurrences.len() >= EdgeData::MAX_OCCURRENCES
                    || (data.occurrences.may_have(thread.id) && data.occurrences.iter().any(same)))
            {
                continue;
            }
            // A new edge, or a new way to take it: worth an allocation.
            let clock = thread
                .snapshot
                .get_or_insert_with(|| Arc::new(thread.clock.clone()))
                .clone();
            let occurrence = Occurrence {
                thread: thread.id,
                from_mode: from.mode,
                to_mode,
                from_site: from.site.clone(),
                to_site: to_site.cloned(),
                held: held
                    .get_or_insert_with(|| held_locks(holding_len, holding()))
                    .clone(),
                clock: Some(clock),
                backtrace: None,
            };
            match self.graph.edge_mut(from.id, to) {
                Some(data) => {
                    data.add(occurrence);
                }
                None => {
                    // A new order: check it against the declared ranks, once.
                    let (from_rank, to_rank) = (
                        self.locks[from.lock as usize].rank,
                        self.locks[l as usize].rank,
                    );
                    if let (Some(theirs), Some(mine)) = (from_rank, to_rank)
                        && mine <= theirs
                    {
                        self.rank_violations.push((from.lock, occurrence.clone()));
                    }
                    // Cycles are looked for once, at the end: no search per edge.
                    self.graph
                        .insert_edge(from.id, to, || EdgeData::new(occurrence));
                }
            }
        }
        for (from, occurrence) in std::mem::take(&mut self.rank_violations) {
            self.order_violation(from, occurrence, l);
        }
    }

    /// The finding for acquiring lock `l` while holding `held_lock`, as in `occurrence`, against
    /// the declared ranks; worded as the live detector words it.
    fn order_violation(&mut self, held_lock: u32, occurrence: Occurrence, l: u32) {
        let held = LockAt {
            name: self.lock_name(self.locks[held_lock as usize].id),
            site: occurrence.from_site,
            mode: occurrence.from_mode,
        };
        let acquired = LockAt {
            name: self.lock_name(self.locks[l as usize].id),
            site: occurrence.to_site,
            mode: occurrence.to_mode,
        };
        let finding = rules::order_violation(
            &self.thread_name(occurrence.thread),
            held,
            self.locks[held_lock as usize].rank.unwrap_or_default(),
            acquired,
            self.locks[l as usize].rank.unwrap_or_default(),
        );
        self.findings.push(finding);
    }

    fn release(&mut self, tid: ThreadId, lock: LockId, site: Option<Site>) {
        let t = self.active(tid);
        let l = self.lock(lock);
        match self.holds(t, l) {
            Some(index) => {
                let held = &mut self.threads[t].held[index];
                held.count -= 1;
                if held.count == 0 {
                    self.threads[t].held.remove(index);
                    let holders = &mut self.locks[l as usize].holders;
                    if let Some(at) = holders.iter().position(|&(h, _)| h as usize == t) {
                        holders.swap_remove(at);
                    }
                }
            }
            None if self.locks[l as usize].kind == LockKind::Semaphore => {
                // Any thread may return a permit: take it from a holder, if there is one.
                if let Some(&(holder, _)) = self.locks[l as usize].holders.first() {
                    let holder = holder as usize;
                    if let Some(index) = self.holds(holder, l) {
                        let held = &mut self.threads[holder].held[index];
                        held.count -= 1;
                        if held.count == 0 {
                            self.threads[holder].held.remove(index);
                            self.locks[l as usize].holders.remove(0);
                        }
                    }
                }
            }
            None => {
                let owned_elsewhere = !self.locks[l as usize].holders.is_empty();
                let misuse = if owned_elsewhere {
                    Misuse::ReleaseByNonOwner
                } else {
                    Misuse::ReleaseNotHeld
                };
                // The holder's state is left alone: the trace is wrong about this release,
                // not about the holder.
                self.misuse(misuse, t as u32, l, site);
            }
        }
    }

    fn wait(&mut self, tid: ThreadId, condvar: CondvarId, lock: LockId, site: Option<Site>) {
        let t = self.active(tid);
        let l = self.lock(lock);
        // A lockscan trace's `wait` releases the lock; an STD trace shows the `rel` before it.
        if let Some(index) = self.holds(t, l) {
            self.threads[t].held.remove(index);
            let holders = &mut self.locks[l as usize].holders;
            if let Some(at) = holders.iter().position(|&(h, _)| h as usize == t) {
                holders.swap_remove(at);
            }
        }
        self.threads[t].waiting = Some((condvar, l));
        self.threads[t].notified = false;
        self.waiters.entry(condvar).or_default().push(t as u32);
        if self.threads[t].held.is_empty() {
            return;
        }
        let mut key: Vec<LockId> = self.threads[t].held.iter().map(|h| h.id).collect();
        key.sort_unstable();
        if !self.wait_keys.insert((condvar, key)) {
            return;
        }
        let held: Vec<LockAt> = self.threads[t]
            .held
            .iter()
            .map(|h| LockAt {
                name: self.lock_name(h.id),
                site: h.site.clone(),
                mode: h.mode,
            })
            .collect();
        let condvar_name = self.condvar_names.get(&condvar).map(|n| n.to_string());
        let finding = rules::wait_while_holding(
            &self.thread_name(tid),
            condvar_name.as_deref(),
            &self.lock_name(lock),
            &held,
            site,
        );
        self.findings.push(finding);
    }

    /// Notes an acquisition of a lock another thread holds: the trace is inconsistent, which
    /// says nothing about the program, so it is a warning rather than a finding.
    /// Thread `t` acquired `l` while another thread holds it in a conflicting mode: no program
    /// can do that, so the trace is wrong (a lost release, an unrecorded wait, events written
    /// out of order). An error naming the line; the analysis goes on.
    fn inconsistent(&mut self, t: u32, l: u32, site: Option<Site>) {
        self.misuse(Misuse::HeldElsewhere, t, l, site);
    }

    /// Thread `t` locks `l` (in `mode`, at `site`) again while holding it as `held`.
    fn relock(&mut self, t: u32, l: u32, held: LockAt, mode: Mode, site: Option<Site>) {
        if let Some((_, count)) = self.misuses.get_mut(&(Misuse::Relock, t, l)) {
            *count += 1;
            return;
        }
        let thread = self.thread_name(self.threads[t as usize].id);
        let again = LockAt {
            name: self.lock_name(self.locks[l as usize].id),
            site,
            mode,
        };
        let mut finding = rules::relock(&thread, self.locks[l as usize].kind, held, again);
        if let Some(line) = self.line {
            finding.message = format!("{} (line {line})", finding.message);
        }
        self.misuses
            .insert((Misuse::Relock, t, l), (self.findings.len(), 1));
        self.findings.push(finding);
    }

    fn misuse(&mut self, misuse: Misuse, t: u32, l: u32, site: Option<Site>) {
        if let Some((_, count)) = self.misuses.get_mut(&(misuse, t, l)) {
            *count += 1;
            return;
        }
        let thread = self.thread_name(self.threads[t as usize].id);
        let lock = self.lock_name(self.locks[l as usize].id);
        let holder = self.locks[l as usize]
            .holders
            .iter()
            .find(|&&(h, _)| h != t)
            .map(|&(h, _)| self.thread_name(self.threads[h as usize].id));
        let holder = holder.unwrap_or_default();
        let (message, reason) = match misuse {
            Misuse::ReleaseNotHeld => (
                format!("thread `{thread}` released `{lock}`, which no thread holds"),
                "a release without a matching acquisition: the guard was released twice, or \
                 the trace lost the acquisition"
                    .to_owned(),
            ),
            Misuse::ReleaseByNonOwner => (
                format!("thread `{thread}` released `{lock}`, which thread `{holder}` holds"),
                "only the owner may release a lock; releasing another thread's lock breaks its \
                 mutual exclusion"
                    .to_owned(),
            ),
            Misuse::Relock => unreachable!("a re-lock is built by `relock`, with its sites"),
            Misuse::HeldElsewhere => (
                format!(
                    "inconsistent trace: thread `{thread}` acquired `{lock}` while thread \
                     `{holder}` holds it"
                ),
                "no program can do this: the trace lost a release or a wait, or its events \
                 were written out of order, so what follows about this lock is uncertain"
                    .to_owned(),
            ),
        };
        let message = match self.line {
            Some(line) => format!("{message} (line {line})"),
            None => message,
        };
        let mut finding = Finding::new(FindingKind::ApiMisuse, message);
        finding.reason = reason;
        finding.locks = vec![lock];
        finding.threads = vec![thread];
        if !holder.is_empty() {
            finding.threads.push(holder);
        }
        finding.site = site;
        self.misuses
            .insert((misuse, t, l), (self.findings.len(), 1));
        self.findings.push(finding);
    }

    /// Looks for a wait cycle through thread `start`, which just made a request: a depth-first
    /// search along "waits for a lock held by", with an explicit stack, so a cycle of any number
    /// of threads is found.
    fn check_wait_cycle(&mut self, start: u32) {
        let mut path = std::mem::take(&mut self.search_path);
        let mut next = std::mem::take(&mut self.search_next);
        let mut explored = std::mem::take(&mut self.search_explored);
        path.clear();
        next.clear();
        explored.clear();
        if self.search_wait(start, &mut path, &mut next, &mut explored) {
            self.report_deadlock(&path);
        }
        self.search_path = path;
        self.search_next = next;
        self.search_explored = explored;
    }

    /// The lock thread `t` waits for, if it waits for one whose holders it waits on (not a
    /// semaphore: its capacity is not recorded, so waiting on it need not be waiting on its
    /// holders).
    fn waits_for(&self, t: u32) -> Option<(u32, Mode)> {
        let pending = self.threads[t as usize].request.as_ref()?;
        (self.locks[pending.lock as usize].kind != LockKind::Semaphore)
            .then_some((pending.lock, pending.mode))
    }

    /// Fills `path` with (thread, lock it waits for) pairs of a wait cycle from `start`.
    /// `next` holds, per path entry, the index of the next holder of its lock to follow;
    /// `explored`, the threads explored without reaching `start` (they never will).
    fn search_wait(
        &self,
        start: u32,
        path: &mut Vec<(u32, u32)>,
        next: &mut Vec<usize>,
        explored: &mut FxHashSet<u32>,
    ) -> bool {
        let Some((lock, _)) = self.waits_for(start) else {
            return false;
        };
        next.push(0);
        path.push((start, lock));
        while let Some(&(at, lock)) = path.last() {
            let index = next.last_mut().expect("one per path entry");
            let state = &self.locks[lock as usize];
            let Some(&(holder, held_mode)) = state.holders.get(*index) else {
                explored.insert(at);
                path.pop();
                next.pop();
                continue;
            };
            *index += 1;
            let (_, mode) = self.waits_for(at).expect("on the path, so waiting");
            if !held_mode.conflicts_with(mode)
                || (holder == at && state.kind == LockKind::Reentrant)
            {
                continue;
            }
            if holder == start {
                return true;
            }
            if explored.contains(&holder) || path.iter().any(|&(t, _)| t == holder) {
                continue;
            }
            if let Some((wanted, _)) = self.waits_for(holder) {
                path.push((holder, wanted));
                next.push(0);
            }
        }
        false
    }

    fn report_deadlock(&mut self, path: &[(u32, u32)]) {
        let mut key: Vec<LockId> = path
            .iter()
            .map(|&(_, l)| self.locks[l as usize].id)
            .collect();
        key.sort_unstable();
        key.dedup();
        if !self.deadlock_keys.insert(key) {
            return;
        }
        let n = path.len();
        let cycle = (0..n)
            .map(|i| {
                let (t, wanted) = path[i];
                // Thread `t` holds the lock the previous thread of the cycle waits for.
                let (_, held_lock) = path[(i + n - 1) % n];
                let state = &self.threads[t as usize];
                let pending = state.request.as_ref();
                let held = state.held.iter().find(|h| h.lock == held_lock);
                BlockedThread {
                    thread: self.thread_name(state.id),
                    holds: LockAt {
                        name: self.lock_name(self.locks[held_lock as usize].id),
                        site: held.and_then(|h| h.site.clone()),
                        mode: held.map_or(Mode::Exclusive, |h| h.mode),
                    },
                    wants: LockAt {
                        name: self.lock_name(self.locks[wanted as usize].id),
                        site: pending.and_then(|p| p.site.clone()),
                        mode: pending.map_or(Mode::Exclusive, |p| p.mode),
                    },
                    also_held: state
                        .held
                        .iter()
                        .filter(|h| h.lock != held_lock)
                        .map(|h| self.lock_name(h.id))
                        .collect(),
                }
            })
            .collect();
        let finding = rules::deadlock(cycle);
        let requests = path
            .iter()
            .map(|&(t, _)| {
                let at = self.threads[t as usize]
                    .request
                    .as_ref()
                    .map_or(0, |p| p.at);
                (t, at)
            })
            .collect();
        self.deadlocks.push(WaitCycle {
            finding: self.findings.len(),
            requests,
        });
        self.findings.push(finding);
    }

    /// At the end of the trace: a thread still blocked requesting a lock that a thread waiting
    /// on a condition variable holds, with no notify after that wait. Neither can go on — the
    /// wait holds a lock another thread needs, perhaps the one that would notify — so it is a
    /// deadlock through the condition variable. (A wait while holding other locks with nobody
    /// blocked stays the `wait-while-holding` warning.)
    fn report_stalls(&mut self) {
        let mut found = Vec::new();
        for (t, state) in self.threads.iter().enumerate() {
            let Some(pending) = &state.request else {
                continue;
            };
            let lock = &self.locks[pending.lock as usize];
            for &(holder, mode) in &lock.holders {
                let waiter = &self.threads[holder as usize];
                if holder as usize == t || !pending.mode.conflicts_with(mode) {
                    continue;
                }
                if let (Some((condvar, _)), false) = (waiter.waiting, waiter.notified) {
                    found.push((t, holder, pending.lock, condvar, pending.site.clone()));
                }
            }
        }
        for (t, holder, l, condvar, site) in found {
            let blocked = self.thread_name(self.threads[t].id);
            let waiting = self.thread_name(self.threads[holder as usize].id);
            let lock = self.lock_name(self.locks[l as usize].id);
            let condvar = self
                .condvar_names
                .get(&condvar)
                .map_or_else(|| condvar.to_string(), ToString::to_string);
            let mut finding = Finding::new(
                FindingKind::Deadlock,
                format!(
                    "deadlock: thread `{blocked}` is blocked on `{lock}`, held by thread \
                     `{waiting}`, which waits on condition variable `{condvar}` and was never \
                     notified"
                ),
            );
            finding.reason = format!(
                "the trace ends with `{waiting}` waiting on `{condvar}` while holding `{lock}`, \
                 and `{blocked}` blocked requesting `{lock}`; no notify followed the wait, so \
                 neither can go on"
            );
            finding.locks = vec![lock.clone()];
            finding.threads = vec![blocked, waiting];
            finding.site = site;
            finding.help = Some(format!(
                "release `{lock}` before waiting (a wait releases only its own mutex), or make \
                 sure the thread that notifies does not need `{lock}`"
            ));
            self.findings.push(finding);
        }
    }

    /// The name reports use for a lock: its name, else its class, else its id.
    fn lock_name(&self, id: LockId) -> String {
        match self.lock_index.get(&id).map(|&l| &self.locks[l as usize]) {
            Some(LockState {
                name: Some(name), ..
            }) => name.to_string(),
            Some(LockState {
                class: Some(class), ..
            }) => class.to_string(),
            _ => id.to_string(),
        }
    }

    fn thread_name(&self, id: ThreadId) -> String {
        match self
            .thread_index
            .get(&id)
            .map(|&t| &self.threads[t as usize])
        {
            Some(ThreadState {
                name: Some(name), ..
            }) => name.to_string(),
            _ => id.to_string(),
        }
    }

    /// Classifies the lock-order cycles and returns everything found.
    pub fn finish(mut self) -> TraceResult {
        // Wait cycles: say whether the threads were still blocked when the trace ended.
        for cycle in &self.deadlocks {
            let lasted = cycle.requests.iter().all(|&(t, at)| {
                self.threads[t as usize]
                    .request
                    .as_ref()
                    .is_some_and(|p| p.at == at)
            });
            let fingerprint = self.findings[cycle.finding].fingerprint();
            let live = self
                .recorded
                .iter()
                .find(|f| f.kind == FindingKind::Deadlock && f.fingerprint() == fingerprint);
            self.findings[cycle.finding].reason = if lasted {
                "each thread is blocked requesting a lock the next one holds, and the trace ends \
                 with all of them still blocked: the deadlock happened while recording"
                    .to_owned()
            } else if let Some(live) = live {
                // lockscan broke the cycle live (it unwound a thread) and recorded its report:
                // the same words.
                live.reason.clone()
            } else {
                "each thread was blocked requesting a lock the next one held; the trace goes on \
                 afterwards, so a timeout or the recorder broke the cycle, or the trace is \
                 inconsistent"
                    .to_owned()
            };
        }
        self.report_stalls();
        for &(index, count) in self.misuses.values() {
            if count > 1 {
                let reason = &mut self.findings[index].reason;
                reason.push_str(&format!(" (seen {count} times)"));
            }
        }
        let cycles = self
            .graph
            .cycles(self.options.max_cycle_len, self.options.max_cycles);
        let found = classify_cycles(&self.graph, &cycles.cycles, &self, &self.deadlock_keys);
        self.findings.extend(found);
        // What the program reported live and the events do not show (a thread unwound before
        // it blocked), unless the replay found it too.
        for recorded in std::mem::take(&mut self.recorded) {
            let fingerprint = recorded.fingerprint();
            if !self.findings.iter().any(|f| f.fingerprint() == fingerprint) {
                self.findings.push(recorded);
            }
        }
        // Most severe first, then in the order of the public contract; stable, so findings of
        // one kind keep the order the trace showed them in.
        self.findings
            .sort_by_key(|f| (std::cmp::Reverse(f.severity), f.kind));
        let merge_edges = if self.options.merge {
            self.merge_edges()
        } else {
            Vec::new()
        };
        let picture = self.picture();
        TraceResult {
            findings: std::mem::take(&mut self.findings),
            events: self.events,
            threads: self.threads.len(),
            locks: self.locks.len(),
            edges: self.graph.edge_count(),
            complete: cycles.complete,
            merge_edges,
            warnings: std::mem::take(&mut self.warnings),
            picture,
        }
    }

    /// The picture of the trace, when the replay kept a timeline.
    fn picture(&mut self) -> Option<TracePicture> {
        let timeline = *self.timeline.take()?;
        let locks = timeline
            .locks
            .iter()
            .map(|&id| {
                let state = self.lock_index.get(&id).map(|&l| &self.locks[l as usize]);
                PictureLock {
                    id,
                    name: self.lock_name(id),
                    named: state.is_some_and(|s| s.name.is_some() || s.class.is_some()),
                    kind: state.map_or(LockKind::Mutex, |s| s.kind),
                }
            })
            .collect();
        let threads = timeline
            .threads
            .iter()
            .map(|&id| PictureThread {
                id,
                name: self.thread_name(id),
            })
            .collect();
        let mut edges: Vec<PictureEdge> = self
            .graph
            .edges()
            .filter_map(|(from, to, data)| {
                Some(PictureEdge {
                    from: timeline.lock_position(from)?,
                    to: timeline.lock_position(to)?,
                    occurrences: data
                        .occurrences
                        .iter()
                        .map(|o| PictureOccurrence {
                            thread: self.thread_name(o.thread),
                            from_site: o.from_site.clone(),
                            to_site: o.to_site.clone(),
                            from_mode: o.from_mode,
                            to_mode: o.to_mode,
                        })
                        .collect(),
                })
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        Some(TracePicture {
            locks,
            threads,
            edges,
            clock: timeline.clock(),
            end: timeline.last,
            holds: timeline.holds,
            waits: timeline.waits,
        })
    }

    fn merge_key(&self, id: LockId) -> Option<Arc<str>> {
        let lock = &self.locks[*self.lock_index.get(&id)? as usize];
        lock.name.clone().or_else(|| lock.class.clone())
    }

    fn merge_edges(&self) -> Vec<MergeEdge> {
        let mut out = Vec::new();
        for (from, to, data) in self.graph.edges() {
            let (Some(from_key), Some(to_key)) = (self.merge_key(from), self.merge_key(to)) else {
                continue;
            };
            let occurrences = data
                .occurrences
                .iter()
                .map(|o| MergeOccurrence {
                    thread: self.thread_name(o.thread),
                    from_mode: o.from_mode,
                    to_mode: o.to_mode,
                    from_site: o.from_site.clone(),
                    to_site: o.to_site.clone(),
                    held: o
                        .held
                        .iter()
                        .filter(|&&(l, _)| l != from)
                        .filter_map(|&(l, mode)| Some((self.merge_key(l)?, mode)))
                        .collect(),
                })
                .collect();
            out.push(MergeEdge {
                from: from_key,
                to: to_key,
                occurrences,
            });
        }
        out
    }
}

impl Names for Replay {
    fn lock_name(&self, lock: LockId) -> String {
        Replay::lock_name(self, lock)
    }

    fn thread_name(&self, thread: ThreadId) -> String {
        Replay::thread_name(self, thread)
    }
}

/// Classifies `cycles` of `graph` and de-duplicates them: one finding per lock set (the most
/// severe classification of its cycles), and then one lock-order inversion and one gated cycle
/// per group of cycles that share locks. Potential deadlocks stay one per lock set: each is a
/// pair of code paths to fix, while a tangle of single-thread inversions through the same
/// locks is one problem. Sets in `skip` (actual deadlocks) are left out.
fn classify_cycles(
    graph: &OrderGraph<LockId, EdgeData>,
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
            .map(|i| graph.edge(cycle[i], cycle[(i + 1) % cycle.len()]))
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
struct UnionFind {
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

fn severity_rank(kind: FindingKind) -> u8 {
    match kind {
        FindingKind::PotentialDeadlock => 2,
        FindingKind::LockOrderInversion => 1,
        _ => 0,
    }
}

/// The results of several traces, and the lock-order cycles that only their union shows.
#[derive(Debug)]
pub struct Analysis {
    options: ReplayOptions,
    graph: OrderGraph<LockId, EdgeData>,
    keys: FxHashMap<Arc<str>, LockId>,
    key_names: Vec<Arc<str>>,
    thread_names: Vec<String>,
    /// For each merged edge, the traces that took it.
    edge_traces: FxHashMap<(LockId, LockId), Vec<u32>>,
    traces: u32,
    findings: Vec<Finding>,
    /// Events replayed in all traces.
    pub events: u64,
    /// Whether every cycle search ran to the end.
    pub complete: bool,
}

impl Default for Analysis {
    fn default() -> Self {
        Self::new(ReplayOptions::default())
    }
}

impl Analysis {
    /// An analysis with no trace yet.
    pub fn new(options: ReplayOptions) -> Self {
        Analysis {
            options,
            graph: OrderGraph::new(),
            keys: FxHashMap::default(),
            key_names: Vec::new(),
            thread_names: Vec::new(),
            edge_traces: FxHashMap::default(),
            traces: 0,
            findings: Vec::new(),
            events: 0,
            complete: true,
        }
    }

    /// The options the traces should be replayed with.
    pub fn options(&self) -> &ReplayOptions {
        &self.options
    }

    /// How many traces were added.
    pub fn traces(&self) -> u32 {
        self.traces
    }

    fn key(&mut self, name: &Arc<str>) -> LockId {
        if let Some(&id) = self.keys.get(name) {
            return id;
        }
        let id = LockId(self.key_names.len() as u64);
        self.key_names.push(name.clone());
        self.keys.insert(name.clone(), id);
        id
    }

    /// Adds the result of one trace, called `file` in cross-trace findings.
    pub fn add(&mut self, file: &str, result: TraceResult) {
        let trace = self.traces;
        self.traces += 1;
        self.events += result.events;
        self.complete &= result.complete;
        self.findings
            .extend(result.findings.into_iter().map(|mut finding| {
                finding.trace = Some(file.to_owned());
                finding
            }));
        let mut threads: FxHashMap<String, ThreadId> = FxHashMap::default();
        for edge in result.merge_edges {
            let from = self.key(&edge.from);
            let to = self.key(&edge.to);
            if from == to {
                continue; // two instances of one class nested: not a cycle between classes
            }
            for occurrence in edge.occurrences {
                let thread = *threads.entry(occurrence.thread.clone()).or_insert_with(|| {
                    self.thread_names
                        .push(format!("{} ({file})", occurrence.thread));
                    ThreadId(self.thread_names.len() as u64 - 1)
                });
                let held = occurrence
                    .held
                    .iter()
                    .map(|(name, mode)| (self.key(name), *mode))
                    .collect();
                // Threads of different traces are different processes: no happens-before.
                let merged = Occurrence {
                    thread,
                    from_mode: occurrence.from_mode,
                    to_mode: occurrence.to_mode,
                    from_site: occurrence.from_site,
                    to_site: occurrence.to_site,
                    held,
                    clock: None,
                    backtrace: None,
                };
                match self.graph.edge_mut(from, to) {
                    Some(data) => {
                        data.add(merged);
                    }
                    None => {
                        self.graph.insert_edge(from, to, || EdgeData::new(merged));
                    }
                }
            }
            let traces = self.edge_traces.entry((from, to)).or_default();
            if traces.last() != Some(&trace) {
                traces.push(trace);
            }
        }
    }

    /// Every finding: each trace's own, then the cross-trace cycles.
    pub fn finish(mut self) -> Vec<Finding> {
        if self.traces < 2 {
            return self.findings;
        }
        let cycles = self
            .graph
            .cycles(self.options.max_cycle_len, self.options.max_cycles);
        self.complete &= cycles.complete;
        // Only cycles that no single trace closes: the others were found by that trace.
        let across: Vec<Vec<LockId>> = cycles
            .cycles
            .into_iter()
            .filter(|cycle| {
                let n = cycle.len();
                let first = &self.edge_traces[&(cycle[0], cycle[1 % n])];
                !first.iter().any(|trace| {
                    (0..n)
                        .all(|i| self.edge_traces[&(cycle[i], cycle[(i + 1) % n])].contains(trace))
                })
            })
            .collect();
        let found = classify_cycles(&self.graph, &across, &self, &FxHashSet::default());
        for mut finding in found {
            if finding.kind == FindingKind::PotentialDeadlock {
                // Different traces are different runs: none of them could deadlock.
                finding.kind = FindingKind::LockOrderInversion;
                finding.severity = finding.kind.default_severity();
                finding.message = format!(
                    "lock-order inversion across traces between `{}`",
                    finding.locks.join("`, `")
                );
                finding.reason = "the edges come from different traces (different runs), \
                                  matched by lock name or class: no single run could deadlock, \
                                  but the code takes these locks in inconsistent orders and \
                                  can deadlock when these paths run concurrently"
                    .to_owned();
            } else {
                finding.message.push_str(" (across traces)");
            }
            self.findings.push(finding);
        }
        self.findings
    }
}

impl Names for Analysis {
    fn lock_name(&self, lock: LockId) -> String {
        self.key_names
            .get(lock.0 as usize)
            .map_or_else(|| lock.to_string(), |n| n.to_string())
    }

    fn thread_name(&self, thread: ThreadId) -> String {
        self.thread_names
            .get(thread.0 as usize)
            .cloned()
            .unwrap_or_else(|| thread.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny event language: `acq t l`, `racq t l` (shared), `try t l`, `req t l`,
    /// `rel t l`, `spawn t c`, `join t c`, `wait t cv l`, `notify t cv`, and declarations
    /// `mutex l`, `rwlock l`, `reentrant l`, `semaphore l`. Undeclared locks are mutexes.
    fn replay(script: &str) -> TraceResult {
        replay_with(script, &[])
    }

    fn replay_with(script: &str, names: &[(u64, &str)]) -> TraceResult {
        let mut replay = Replay::default();
        for &(lock, name) in names {
            replay.event(Event::Lock {
                lock: LockId(lock),
                kind: LockKind::Mutex,
                name: Some(name.into()),
                class: None,
                site: None,
                rank: None,
            });
        }
        for (line, step) in script.split(';').map(str::trim).enumerate() {
            let words: Vec<&str> = step.split_whitespace().collect();
            let n = |i: usize| words[i].parse::<u64>().unwrap();
            let site = Some(Site::from(format!("s.rs:{}", line + 1).as_str()));
            let event = match words[0] {
                "acq" | "try" => Event::Acquire {
                    tid: ThreadId(n(1)),
                    lock: LockId(n(2)),
                    mode: Mode::Exclusive,
                    try_lock: words[0] == "try",
                    site,
                },
                "racq" => Event::Acquire {
                    tid: ThreadId(n(1)),
                    lock: LockId(n(2)),
                    mode: Mode::Shared,
                    try_lock: false,
                    site,
                },
                "req" => Event::Request {
                    tid: ThreadId(n(1)),
                    lock: LockId(n(2)),
                    mode: Mode::Exclusive,
                    site,
                },
                "rel" => Event::Release {
                    tid: ThreadId(n(1)),
                    lock: LockId(n(2)),
                    mode: Mode::Exclusive,
                    site,
                },
                "spawn" => Event::Spawn {
                    tid: ThreadId(n(1)),
                    child: ThreadId(n(2)),
                    site,
                },
                "join" => Event::Join {
                    tid: ThreadId(n(1)),
                    child: ThreadId(n(2)),
                    site,
                },
                "wait" => Event::Wait {
                    tid: ThreadId(n(1)),
                    condvar: CondvarId(n(2)),
                    lock: LockId(n(3)),
                    site,
                },
                "notify" => Event::Notify {
                    tid: ThreadId(n(1)),
                    condvar: CondvarId(n(2)),
                    all: false,
                    site,
                },
                "mutex" | "reentrant" | "rwlock" | "semaphore" => Event::Lock {
                    lock: LockId(n(1)),
                    kind: match words[0] {
                        "mutex" => LockKind::Mutex,
                        "rwlock" => LockKind::RwLock,
                        "semaphore" => LockKind::Semaphore,
                        _ => LockKind::Reentrant,
                    },
                    name: None,
                    class: None,
                    site: None,
                    rank: None,
                },
                "rank" => Event::Lock {
                    lock: LockId(n(1)),
                    kind: LockKind::Mutex,
                    name: None,
                    class: None,
                    site: None,
                    rank: Some(n(2)),
                },
                other => panic!("unknown step {other}"),
            };
            replay.event(event);
        }
        replay.finish()
    }

    fn kinds(result: &TraceResult) -> Vec<FindingKind> {
        result.findings.iter().map(|f| f.kind).collect()
    }

    const AB_BA: &str = "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1; rel 2 1; rel 2 2";

    #[test]
    fn opposite_orders_in_two_threads_are_a_potential_deadlock() {
        let result = replay(AB_BA);
        assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
        let finding = &result.findings[0];
        assert_eq!(finding.locks, ["lock#1", "lock#2"]);
        assert_eq!(finding.threads, ["thread#1", "thread#2"]);
        assert_eq!(finding.edges[0].from_site, Some(Site::from("s.rs:1")));
        assert_eq!(finding.edges[0].to_site, Some(Site::from("s.rs:2")));
        assert!(!finding.edges[0].blocked);
        assert_eq!(result.edges, 2);
    }

    #[test]
    fn a_lock_hand_off_is_not_happens_before() {
        // Thread 2 takes lock 1 after thread 1 released it: ordered in this schedule only.
        let result = replay("acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1; rel 2 1");
        assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
    }

    #[test]
    fn spawn_and_join_order_threads() {
        let spawned_after = format!(
            "acq 1 1; acq 1 2; rel 1 2; rel 1 1; spawn 1 2; {}",
            &AB_BA[36..]
        );
        assert_eq!(
            kinds(&replay(&spawned_after)),
            [FindingKind::LockOrderInversion]
        );
        let joined = "spawn 1 2; acq 2 2; acq 2 1; rel 2 1; rel 2 2; join 1 2; acq 1 1; acq 1 2";
        assert_eq!(kinds(&replay(joined)), [FindingKind::LockOrderInversion]);
        // Spawned before the first edge: concurrent.
        let spawned_before = format!("spawn 1 2; {AB_BA}");
        assert_eq!(
            kinds(&replay(&spawned_before)),
            [FindingKind::PotentialDeadlock]
        );
    }

    /// Regression: notify → wake orderings downgraded real cycles to inversions, also through
    /// condition variables unrelated to the cycle's locks and waits that ended by time-out. A
    /// wake-up proves no order in another schedule (time-outs, spurious wake-ups, other
    /// notifiers), so only spawn and join order the edges of a cycle.
    #[test]
    fn a_notify_does_not_order_the_woken_thread_for_the_lock_order() {
        let script = "acq 2 9; wait 2 5 9; acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 9; \
                      notify 1 5; rel 1 9; acq 2 9; rel 2 9; acq 2 2; acq 2 1";
        assert_eq!(kinds(&replay(script)), [FindingKind::PotentialDeadlock]);
        // A notify through an unrelated condition variable, and a wait that timed out (no
        // notify at all): the same.
        let unrelated = "acq 2 8; wait 2 6 8; acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 8; \
                         notify 1 6; rel 1 8; acq 2 8; rel 2 8; acq 2 2; acq 2 1";
        assert_eq!(kinds(&replay(unrelated)), [FindingKind::PotentialDeadlock]);
        let timed_out = script.replace("notify 1 5; ", "");
        assert_eq!(kinds(&replay(&timed_out)), [FindingKind::PotentialDeadlock]);
    }

    #[test]
    fn one_thread_in_both_orders_is_an_inversion() {
        let result = replay("acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 2; acq 1 1");
        assert_eq!(kinds(&result), [FindingKind::LockOrderInversion]);
    }

    #[test]
    fn a_gate_lock_makes_a_note() {
        let result = replay(
            "acq 1 9; acq 1 1; acq 1 2; rel 1 2; rel 1 1; rel 1 9; \
             acq 2 9; acq 2 2; acq 2 1",
        );
        assert_eq!(kinds(&result), [FindingKind::GatedCycle]);
        assert!(
            result.findings[0].reason.contains("`lock#9`"),
            "{}",
            result.findings[0].reason
        );
    }

    #[test]
    fn reentrant_reacquisition_adds_no_edge() {
        let result = replay("reentrant 1; acq 1 1; acq 1 2; acq 1 1; rel 1 1; rel 1 2; rel 1 1");
        assert_eq!(result.edges, 1, "only 1 -> 2");
        assert!(result.findings.is_empty());
        // The lock stays held until the last release.
        let result = replay("reentrant 1; acq 1 1; acq 1 1; rel 1 1; acq 1 2");
        assert_eq!(result.edges, 1);
    }

    #[test]
    fn relocking_a_mutex_is_misuse() {
        let result = replay("mutex 1; acq 1 1; acq 1 1; acq 1 1");
        assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
        assert!(result.findings[0].message.contains("again"));
        assert!(result.findings[0].reason.contains("seen 2 times"));
    }

    #[test]
    fn try_lock_adds_no_edge_into_the_lock_but_is_a_source() {
        // 1 -> 3 and 2 -> 3, never 1 -> 2.
        let result = replay("acq 1 1; try 1 2; acq 1 3");
        assert_eq!(result.edges, 2);
        // A try-lock cycle cannot deadlock: the try never waits.
        let result = replay("acq 1 1; try 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1");
        assert!(result.findings.is_empty(), "{:?}", result.findings);
    }

    #[test]
    fn releases_that_do_not_match_are_misuse() {
        let result = replay("rel 1 1");
        assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
        assert!(result.findings[0].message.contains("which no thread holds"));
        let result = replay("acq 1 1; rel 2 1; rel 1 1");
        assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
        assert!(
            result.findings[0]
                .message
                .contains("which thread `thread#1` holds")
        );
    }

    #[test]
    fn an_acquisition_of_a_held_lock_is_an_error_about_the_trace() {
        let result = replay("acq 1 1; acq 2 1; rel 2 1; acq 2 1");
        assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
        let finding = &result.findings[0];
        assert!(
            finding.message.starts_with("inconsistent trace"),
            "{finding}"
        );
        assert_eq!(finding.severity, crate::Severity::Error);
        assert!(finding.reason.ends_with("(seen 2 times)"), "{finding}");
        // Shared holders do not conflict.
        let result = replay("rwlock 1; racq 1 1; racq 2 1");
        assert!(result.warnings.is_empty());
    }

    #[test]
    fn acquiring_against_declared_ranks_is_an_order_violation() {
        // Ranks must rise: 1 (rank 10) then 2 (rank 20) is fine, the reverse is not.
        let result = replay("rank 1 10; rank 2 20; acq 1 1; acq 1 2; rel 1 2; rel 1 1");
        assert!(result.findings.is_empty(), "{:?}", result.findings);
        let result = replay("rank 1 10; rank 2 20; acq 1 2; acq 1 1; rel 1 1; acq 1 1");
        assert_eq!(
            kinds(&result),
            [FindingKind::OrderViolation],
            "reported once"
        );
        let finding = &result.findings[0];
        assert_eq!(
            finding.message,
            "`lock#1` (rank 10) acquired while holding `lock#2` (rank 20)"
        );
        assert_eq!(finding.locks, ["lock#2", "lock#1"]);
        assert_eq!(finding.site, Some(Site::from("s.rs:4")));
        // Equal ranks violate too; unranked locks never do.
        let result = replay("rank 1 5; rank 2 5; acq 1 1; acq 1 2");
        assert_eq!(kinds(&result), [FindingKind::OrderViolation]);
        assert!(replay("rank 1 5; acq 1 1; acq 1 2").findings.is_empty());
    }

    #[test]
    fn semaphore_permits_are_shared_and_returned_by_anyone() {
        let result = replay("semaphore 1; acq 1 1; acq 2 1; rel 3 1; rel 2 1");
        assert!(result.findings.is_empty(), "{:?}", result.findings);
        assert!(result.warnings.is_empty(), "{:?}", result.warnings);
        // Waiting on a semaphore is not a wait cycle: its capacity is unknown.
        let result = replay("semaphore 1; acq 1 1; acq 2 2; req 1 2; req 2 1");
        assert!(
            result
                .findings
                .iter()
                .all(|f| f.kind != FindingKind::Deadlock)
        );
    }

    #[test]
    fn requests_blocked_at_the_end_in_a_cycle_are_a_deadlock() {
        let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1");
        assert_eq!(
            kinds(&result),
            [FindingKind::Deadlock],
            "the cycle is not repeated"
        );
        let finding = &result.findings[0];
        assert!(finding.edges.iter().all(|e| e.blocked));
        assert_eq!(finding.edges.len(), 2);
        assert!(finding.reason.contains("still blocked"));
        // Each edge: held lock -> requested lock, both closing the cycle.
        assert_eq!(finding.edges[0].to, finding.edges[1].from);
        assert_eq!(finding.edges[1].to, finding.edges[0].from);
    }

    #[test]
    fn a_request_given_up_is_not_a_wait() {
        // Thread 1 requested lock 2 (a timed attempt), gave up and went on: when thread 2
        // then requests lock 1, nobody waits on anybody.
        let result = replay("acq 1 1; acq 2 2; req 1 2; rel 1 1; acq 1 1; req 2 1");
        assert!(
            result
                .findings
                .iter()
                .all(|f| f.kind != FindingKind::Deadlock)
        );
        let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1");
        assert_eq!(
            kinds(&result),
            [FindingKind::Deadlock],
            "without the give-up"
        );
    }

    #[test]
    fn a_wait_cycle_that_was_broken_later_says_so() {
        let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1; rel 2 2; acq 1 2");
        assert_eq!(kinds(&result), [FindingKind::Deadlock]);
        assert!(result.findings[0].reason.contains("goes on"));
    }

    #[test]
    fn three_threads_in_a_wait_cycle() {
        let result = replay("acq 1 1; acq 2 2; acq 3 3; req 1 2; req 2 3; req 3 1");
        assert_eq!(kinds(&result), [FindingKind::Deadlock]);
        assert_eq!(result.findings[0].threads.len(), 3);
    }

    #[test]
    fn a_mutex_requested_by_its_holder_deadlocks_alone() {
        let result = replay("mutex 1; acq 1 1; req 1 1");
        assert_eq!(kinds(&result), [FindingKind::Deadlock]);
        assert!(result.findings[0].message.contains("holds itself"));
        // A re-entrant lock does not.
        let result = replay("reentrant 1; acq 1 1; req 1 1; acq 1 1");
        assert!(result.findings.is_empty());
    }

    #[test]
    fn waiting_while_holding_another_lock_is_a_warning() {
        let result = replay("acq 1 1; acq 1 2; wait 1 7 2; acq 1 2; rel 1 2; acq 1 2; wait 1 7 2");
        assert_eq!(
            kinds(&result),
            [FindingKind::WaitWhileHolding],
            "reported once"
        );
        // The condition variable's mutex first, then what else is held (as live).
        assert_eq!(result.findings[0].locks, ["lock#2", "lock#1"]);
        assert_eq!(result.findings[0].edges[0].from, "lock#1");
        assert!(replay("acq 1 2; wait 1 7 2").findings.is_empty());
    }

    /// Regression: a trace ending with thread 1 waiting on a condition variable while holding
    /// lock 1, and thread 2 blocked requesting lock 1, with no notify after the wait, was a
    /// warning and exit 0.
    #[test]
    fn a_thread_blocked_behind_a_condvar_wait_that_nobody_notified_is_a_deadlock() {
        let stalled = "acq 1 1; acq 1 2; wait 1 7 2; req 2 1";
        assert_eq!(
            kinds(&replay(stalled)),
            [FindingKind::Deadlock, FindingKind::WaitWhileHolding]
        );
        let finding = &replay(stalled).findings[0];
        assert!(finding.message.contains("was never notified"), "{finding}");
        assert_eq!(finding.locks, ["lock#1"]);
        // A notify after the wait may have woken it: the thread is not stuck.
        let notified = "acq 1 1; acq 1 2; wait 1 7 2; req 2 1; notify 3 7";
        assert_eq!(kinds(&replay(notified)), [FindingKind::WaitWhileHolding]);
        // A blocked thread whose lock is held by a thread that is not waiting: no stall.
        assert!(replay("acq 1 1; req 2 1").findings.is_empty());
    }

    #[test]
    fn cycles_are_grouped_by_lock_set() {
        // 1 -> 2 -> 3 -> 1 and 1 -> 3 -> 2 -> 1 over the same locks: one finding.
        let result = replay(
            "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 3; rel 2 3; rel 2 2; \
             acq 3 3; acq 3 1; rel 3 1; rel 3 3; acq 4 1; acq 4 3; rel 4 3; rel 4 1; \
             acq 5 3; acq 5 2; rel 5 2; rel 5 3; acq 6 2; acq 6 1",
        );
        let potential = result
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::PotentialDeadlock)
            .count();
        // Three 2-cycles ({1,2}, {1,3}, {2,3}) and one set {1,2,3} of two 3-cycles.
        assert_eq!(potential, 4);
        assert!(
            result
                .findings
                .iter()
                .any(|f| f.reason.contains("2 cycles over these locks"))
        );
    }

    #[test]
    fn traces_merge_by_lock_name() {
        let names = [(1, "accounts"), (2, "ledger")];
        let first = replay_with("acq 1 1; acq 1 2", &names);
        let second = replay_with("acq 7 2; acq 7 1", &names);
        assert!(first.findings.is_empty() && second.findings.is_empty());
        let mut analysis = Analysis::default();
        analysis.add("a.jsonl", first);
        analysis.add("b.jsonl", second);
        let findings = analysis.finish();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, FindingKind::LockOrderInversion);
        assert!(findings[0].message.contains("across traces"));
        assert_eq!(
            findings[0].threads,
            ["thread#1 (a.jsonl)", "thread#7 (b.jsonl)"]
        );
    }

    #[test]
    fn a_cycle_inside_one_trace_is_not_repeated_across_traces() {
        let names = [(1, "a"), (2, "b")];
        let mut analysis = Analysis::default();
        analysis.add("a", replay_with(AB_BA, &names));
        analysis.add("b", replay_with(AB_BA, &names));
        let findings = analysis.finish();
        assert_eq!(
            findings.len(),
            2,
            "one per trace, none across: {findings:#?}"
        );
    }

    #[test]
    fn unnamed_locks_do_not_merge() {
        let mut analysis = Analysis::default();
        analysis.add("a", replay("acq 1 1; acq 1 2"));
        analysis.add("b", replay("acq 1 2; acq 1 1"));
        assert!(analysis.finish().is_empty());
    }
}
