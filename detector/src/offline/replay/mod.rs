//! Replaying a trace through the engine: the offline counterpart of the live detector.
//!
//! Built with the feature `analyze`.
//!
//! [`Replay`] consumes [`Event`]s in trace order and keeps, per thread, the stack of held locks
//! (with re-entrancy counts), the pending lock request and a happens-before [`VectorClock`]
//! built from spawn and join only: a lock hand-off orders *this* schedule, and a deadlock needs
//! another one; a condition-variable wake-up can come from a time-out, a spurious wake-up or
//! another notifier, so a notify proves no order in other schedules either. Every acquisition
//! while holding other locks adds an order edge to an [`OrderGraph`]; [`Replay::finish`]
//! classifies the graph's cycles. Along the way it reports what can be seen directly: wait
//! cycles among pending requests (a deadlock that happened), API misuse, new lock orders against
//! declared ranks, data races on the trace's variables (there, lock hand-offs do order
//! accesses), and condition-variable waits while holding other locks.
//!
//! [`Analysis`] gathers the results of several traces and looks for lock-order cycles across
//! them, merging locks by name, else by class.
//!
//! The common path — an acquisition whose order edges were seen before by the same thread
//! with the same held locks — allocates nothing.
//!
//! The parts: this file (tables, dispatch, result), `locks` (the lock protocol), `waits`
//! (deadlocks that happened), `misuse`, `cycles` (classifying the graph's cycles) and `merge`
//! (several traces).

use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::engine::classify::{Classification, Names, classify, cycle_finding};
use crate::engine::clock::VectorClock;
use crate::engine::edges::{EdgeData, Occurrence};
use crate::engine::graph::OrderGraph;
use crate::engine::race::{MAIN_THREAD, Race, RaceEngine, note_unseen_spawns, race_finding};
use crate::engine::rules::{self, BlockedThread, LockAt};
use crate::engine::waits::WaitSearch;
use crate::finding::{Finding, FindingKind};
use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
use crate::offline::picture::{
    PictureEdge, PictureLock, PictureOccurrence, PictureThread, TracePicture,
};
use crate::offline::timeline::TimelineRecorder;
use crate::policy::dedup_key;
use crate::site::Site;
use crate::trace::{Event, Format, Header, TraceError, TraceReader};

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
    /// An upgrade of the thread's own upgradable hold: it waits for the other holders only.
    upgrade: bool,
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
    /// `clock`'s snapshot in the replay's clock table, shared with the occurrences recorded
    /// since it last changed.
    snapshot: Option<u32>,
    request: Option<Pending>,
    /// The condition variable and lock of a wait in progress, and whether a notify came since
    /// it began.
    waiting: Option<(CondvarId, u32)>,
    notified: bool,
    /// Whether the trace shows how the thread was started: a spawn, or a parent in its
    /// declaration (a spawn lockscan saw before the recording began).
    spawn_seen: bool,
}

#[derive(Debug)]
struct LockState {
    id: LockId,
    kind: LockKind,
    name: Option<Arc<str>>,
    class: Option<Arc<str>>,
    /// Where it was made, as declared; for a lock made from a `const`, where it was first taken
    /// (the wrapper's line, when it was taken through one).
    site: Option<Site>,
    /// The declared rank: a lock may only be acquired while holding locks of lower rank.
    rank: Option<u64>,
    /// The threads holding it, with their modes (several only for shared modes and
    /// semaphores).
    holders: Vec<(u32, Mode)>,
}

/// The kinds of API misuse [`Replay::misuse`] words. A re-lock is not one of them: its finding
/// is the rule both paths share ([`rules::relock`]), built by [`Replay::relock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Misuse {
    ReleaseNotHeld,
    ReleaseByNonOwner,
    HeldElsewhere,
}

/// What a thread does wrong with one lock, reported once and counted after: a misuse or a
/// re-lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Wrong {
    Misuse(Misuse),
    Relock,
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
    /// The thread looked up last, and its index.
    last_thread: Option<(ThreadId, u32)>,
    locks: Vec<LockState>,
    lock_index: FxHashMap<LockId, u32>,
    condvar_names: FxHashMap<CondvarId, Arc<str>>,
    /// The threads waiting on each condition variable.
    waiters: FxHashMap<CondvarId, Vec<u32>>,
    /// The order edges' ends, for the cycle search; what they keep is in `edges`.
    graph: OrderGraph<LockId, ()>,
    edges: Edges,
    /// What the occurrences on `edges` index: sites, held sets, clocks.
    tables: Tables,
    findings: Vec<Finding>,
    /// The findings the program reported live and wrote into the trace (`finding` records).
    recorded: Vec<Finding>,
    /// The trace's header: which process it recorded.
    header: Option<Header>,
    deadlocks: Vec<WaitCycle>,
    deadlock_keys: FxHashSet<Vec<LockId>>,
    /// Finding index and count of each misuse and re-lock, by thread and lock.
    misuses: FxHashMap<(Wrong, u32, u32), (usize, u64)>,
    /// Waits while holding, by the sites that matter ([`WaitKey`]): the finding's index, the
    /// held locks it names (sorted), and how many waits at those sites held other locks.
    wait_keys: FxHashMap<WaitKey, (usize, Vec<LockId>, u64)>,
    /// The finding of each condition variable and held lock set reported: as many as findings.
    wait_sets: FxHashMap<(CondvarId, Vec<LockId>), usize>,
    /// Rank violations found while adding edges, reported once the edges are in.
    rank_violations: Vec<(u32, Occurrence)>,
    warnings: Vec<String>,
    /// Whether a thread held more locks at once than order edges are taken from, said once.
    order_window_warned: bool,
    events: u64,
    /// The trace line of the event being replayed, when the reader says.
    line: Option<u64>,
    /// The wait-cycle search's buffers, kept from one request to the next.
    wait_search: WaitSearch<u32>,
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
    /// Whether lockscan recorded the trace: then a thread with no spawn or parent in it, other
    /// than the main thread, was started in a way lockscan did not see, and findings say so.
    /// (Other traces, RAPID's among them, often start threads without a fork.)
    recorded_by_lockscan: bool,
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
    /// The trace's header, when it has one (lockscan's traces do, STD traces do not): the
    /// process it recorded, which [`Analysis`] counts a finding's processes by.
    pub header: Option<Header>,
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
            last_thread: None,
            locks: Vec::new(),
            lock_index: FxHashMap::default(),
            condvar_names: FxHashMap::default(),
            waiters: FxHashMap::default(),
            graph: OrderGraph::new(),
            edges: Edges::default(),
            tables: Tables::default(),
            findings: Vec::new(),
            recorded: Vec::new(),
            header: None,
            deadlocks: Vec::new(),
            deadlock_keys: FxHashSet::default(),
            misuses: FxHashMap::default(),
            wait_keys: FxHashMap::default(),
            wait_sets: FxHashMap::default(),
            rank_violations: Vec::new(),
            warnings: Vec::new(),
            order_window_warned: false,
            events: 0,
            line: None,
            wait_search: WaitSearch::default(),
            races: RaceEngine::new(),
            accessed: false,
            var_names: FxHashMap::default(),
            race_keys: FxHashSet::default(),
            recorded_by_lockscan: false,
            timeline: None,
        }
    }

    /// Asks the replay to keep what a picture of the trace needs (every lock hold and blocked
    /// wait), returned as [`TraceResult::picture`]. Off by default: it costs memory in
    /// proportion to the trace.
    pub fn keep_timeline(self) -> Self {
        self.keep_timeline_bounded(usize::MAX)
    }

    /// As [`Replay::keep_timeline`], but keeps only the first `max` holds and the first `max`
    /// waits (by their start) and counts the rest ([`TracePicture::left_out_holds`],
    /// [`TracePicture::left_out_waits`]): memory bounded whatever the trace's length. With
    /// `max` 0 the picture has the locks, threads, edges and clock, and no interval.
    pub fn keep_timeline_bounded(mut self, max: usize) -> Self {
        self.timeline = Some(Box::new(TimelineRecorder::new(max)));
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
        // A trace has runs of one thread's events (a recorded one, whole blocks of them).
        if let Some((last, index)) = self.last_thread
            && last == id
        {
            return index;
        }
        if let Some(&index) = self.thread_index.get(&id) {
            self.last_thread = Some((id, index));
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
            spawn_seen: false,
        });
        self.thread_index.insert(id, index);
        self.last_thread = Some((id, index));
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
            site: None,
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
            Event::Header(header) => {
                self.recorded_by_lockscan = header
                    .tool
                    .as_deref()
                    .is_some_and(|tool| tool.starts_with("lockscan "));
                self.header = Some(header);
            }
            Event::End { .. } => {}
            Event::Finding(finding) => self.recorded.push(*finding),
            Event::Var { var, name, site } => {
                // An unnamed variable is named after where it was made, as the live report
                // names it (and so that its fingerprint does not depend on the order of
                // creation, as an id would).
                let name = name.or_else(|| site.map(|site| Arc::from(site.to_string())));
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
            Event::Thread { tid, name, parent } => {
                let t = self.thread(tid) as usize;
                if name.is_some() {
                    self.threads[t].name = name;
                }
                self.threads[t].spawn_seen |= parent.is_some();
            }
            Event::Lock {
                lock,
                kind,
                name,
                class,
                site,
                rank,
            } => {
                let l = self.lock(lock) as usize;
                let state = &mut self.locks[l];
                state.kind = kind;
                if site.is_some() {
                    state.site = site;
                }
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
                self.threads[child].spawn_seen = true;
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
                flavour,
                site,
            } => self.request(tid, lock, mode, flavour, site),
            Event::Acquire {
                tid,
                lock,
                mode,
                try_lock,
                flavour,
                site,
            } => {
                // A change of mode takes nothing from the last release, as live.
                if self.accessed && !flavour.changes_mode() {
                    self.races.acquire(tid, lock);
                }
                self.acquire(tid, lock, (mode, try_lock, flavour), site);
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
        let mut finding = race_finding(&name, &race, |t| self.thread_name(t));
        let unseen: Vec<String> = [race.earlier.thread, race.later.thread]
            .into_iter()
            .filter(|&t| self.spawn_unseen(t))
            .map(|t| self.thread_name(t))
            .collect();
        note_unseen_spawns(&mut finding, &unseen);
        self.findings.push(finding);
    }

    /// Whether the trace says that lockscan did not see how `id` was started.
    fn spawn_unseen(&self, id: ThreadId) -> bool {
        self.recorded_by_lockscan
            && self.thread_index.get(&id).is_some_and(|&t| {
                let thread = &self.threads[t as usize];
                !thread.spawn_seen && thread.name.as_deref() != Some(MAIN_THREAD)
            })
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
        for &(index, _, others) in self.wait_keys.values() {
            if others > 0 {
                let waits = if others == 1 { "wait" } else { "waits" };
                self.findings[index].reason.push_str(&format!(
                    "; {others} more {waits} at these sites holding other locks, grouped into \
                     this one"
                ));
            }
        }
        let cycles = self
            .graph
            .cycles(self.options.max_cycle_len, self.options.max_cycles);
        let edges = self.cycle_edges(&cycles.cycles);
        let found = classify_cycles(
            |from, to| edges.get(&(from, to)),
            &cycles.cycles,
            &self,
            &self.deadlock_keys,
        );
        self.findings.extend(found);
        self.add_recorded();
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
            header: self.header.take(),
        }
    }

    /// Adds what the program reported live (the recorder writes every finding) and the replay
    /// did not find again in the events, such as a finding about a thread that unwound before
    /// it blocked: each report once, by the key the live policy de-duplicates with (the
    /// fingerprint, and a race's sites), whichever side found it and however often it was
    /// recorded. The replay's own finding is kept where both have one: it names the trace line.
    ///
    /// A lock-order cycle that deadlocked is reported as the deadlock, as the replay reports
    /// the wait cycles it sees itself: live, its potential deadlock came first, when the cycle
    /// closed, and whether the replay sees the wait cycle too depends on the order the trace
    /// restores, so either way the cycle's locks are reported once, as the deadlock.
    fn add_recorded(&mut self) {
        if self.recorded.is_empty() {
            return;
        }
        let mut known: FxHashSet<String> = self.findings.iter().map(dedup_key).collect();
        for recorded in std::mem::take(&mut self.recorded) {
            if known.insert(dedup_key(&recorded)) {
                self.findings.push(recorded);
            }
        }
        let lock_set = |finding: &Finding| {
            let mut locks = finding.locks.clone();
            locks.sort_unstable();
            locks
        };
        let deadlocked: FxHashSet<Vec<String>> = self
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Deadlock)
            .map(lock_set)
            .collect();
        self.findings.retain(|f| {
            let cycle = matches!(
                f.kind,
                FindingKind::PotentialDeadlock
                    | FindingKind::LockOrderInversion
                    | FindingKind::GatedCycle
            );
            !cycle || !deadlocked.contains(&lock_set(f))
        });
    }

    /// The edges of `cycles` as the engine keeps them, each built once.
    fn cycle_edges(&self, cycles: &[Vec<LockId>]) -> FxHashMap<(LockId, LockId), EdgeData> {
        let mut edges = FxHashMap::default();
        for cycle in cycles {
            for (i, &from) in cycle.iter().enumerate() {
                let to = cycle[(i + 1) % cycle.len()];
                if let Some(data) = self.taken_edge(from, to) {
                    edges
                        .entry((from, to))
                        .or_insert_with(|| self.edge_data(data));
                }
            }
        }
        edges
    }

    /// The occurrences of the edge `from -> to` in the replay's records.
    fn taken_edge(&self, from: LockId, to: LockId) -> Option<&TakenEdge> {
        let index = |id| self.lock_index.get(&id).copied();
        self.edges.get(index(from)?, index(to)?)
    }

    /// An edge's occurrences as the engine keeps them.
    fn edge_data(&self, edge: &TakenEdge) -> EdgeData {
        self.tables.edge_data(
            edge,
            |t| self.threads[t as usize].id,
            |l| self.locks[l as usize].id,
        )
    }

    /// The picture of the trace, when the replay kept a timeline.
    fn picture(&mut self) -> Option<TracePicture> {
        let mut timeline = *self.timeline.take()?;
        timeline.close_open();
        timeline.sorted();
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
            .filter_map(|(from, to, ())| {
                let data = self.taken_edge(from, to)?;
                Some(PictureEdge {
                    from: timeline.lock_position(from)?,
                    to: timeline.lock_position(to)?,
                    occurrences: data
                        .iter(&self.tables)
                        .map(|o| PictureOccurrence {
                            thread: self.thread_name(self.threads[o.thread as usize].id),
                            from_site: self.tables.sites.get(o.from_site).cloned(),
                            to_site: self.tables.sites.get(o.to_site).cloned(),
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
            left_out_holds: timeline.left_out_holds,
            left_out_waits: timeline.left_out_waits,
            first_start: timeline.first_start,
        })
    }
}

impl Names for Replay {
    fn lock_name(&self, lock: LockId) -> String {
        Replay::lock_name(self, lock)
    }

    fn thread_name(&self, thread: ThreadId) -> String {
        Replay::thread_name(self, thread)
    }

    fn spawn_unseen(&self, thread: ThreadId) -> bool {
        Replay::spawn_unseen(self, thread)
    }
}

mod cycles;
mod edges;
mod locks;
mod merge;
mod misuse;
mod waits;

#[cfg(test)]
mod tests;

use cycles::classify_cycles;
use edges::{Edges, Tables, Taken, TakenEdge};
use locks::WaitKey;
pub use merge::{Analysis, MergeEdge, MergeOccurrence};
