//! The metadata every instrumented lock carries, and the acquire/release protocol the `sync`
//! shells call.

use std::borrow::Cow;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use crate::raw::Mutex;
use rustc_hash::FxHashSet;

use super::hb::{LockClock, races_on};
use super::lazy_id::LazyId;
use super::order;
use super::recorder::{self, Rec, RecordSeq};
use super::state::{self, Held, LockInfo, ThreadState};
use super::waits::{self, Waiter};
use crate::analysis::rules::{self, LockAt};
use crate::finding::{Finding, FindingKind};
use crate::ids::{CondvarId, LockId, LockKind, Mode, ThreadId};
use crate::policy::{report, report_fatal};
use crate::site::Site;

static NEXT_LOCK: AtomicU64 = AtomicU64::new(1);

/// How many lock ids a thread takes from the global counter at once: a program that creates
/// many locks does not make every thread contend on one counter.
const ID_BLOCK: u64 = 1024;

/// A lock id never handed out before, from this thread's block of ids.
fn fresh_lock_id() -> u64 {
    thread_local! {
        static BLOCK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    BLOCK
        .try_with(|block| {
            let (mut next, mut end) = block.get();
            if next == end {
                next = NEXT_LOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next + ID_BLOCK;
            }
            block.set((next + 1, end));
            next
        })
        // A lock first used in a thread-local destructor: take a block and use one id of it.
        .unwrap_or_else(|_| NEXT_LOCK.fetch_add(ID_BLOCK, Ordering::Relaxed))
}

/// What an instrumented lock knows about itself.
#[derive(Debug)]
pub(crate) struct LockMeta {
    id: LazyId,
    /// Whether the lock is a node of the global order graph, to leave when dropped.
    in_graph: AtomicBool,
    /// Its operations in the running recording, numbered for the trace's reader.
    recorded: RecordSeq,
    /// What the last release knew, for race detection.
    clock: LockClock,
    /// Where the lock was made; for a lock whose maker is not known (a raw lock made from a
    /// `const`, see [`unclassified`](Self::unclassified)), where it was first acquired.
    class: AtomicPtr<Location<'static>>,
    /// Whether `class` is still to be set by the first acquisition.
    class_at_first_use: bool,
    name: Option<&'static str>,
    kind: LockKind,
    rank: Option<u32>,
}

impl LockMeta {
    pub(crate) const fn new(kind: LockKind, class: &'static Location<'static>) -> Self {
        LockMeta {
            id: LazyId::new(),
            in_graph: AtomicBool::new(false),
            recorded: RecordSeq::new(),
            clock: LockClock::new(),
            // Never written through: only ever turned back into a shared reference.
            class: AtomicPtr::new(class as *const Location<'static> as *mut Location<'static>),
            class_at_first_use: false,
            name: None,
            kind,
            rank: None,
        }
    }

    /// A lock whose maker is not known: it is named after the site of its first acquisition.
    #[track_caller]
    pub(crate) const fn unclassified(kind: LockKind) -> Self {
        let mut meta = LockMeta::new(kind, Location::caller());
        meta.class_at_first_use = true;
        meta
    }

    /// Sets the class of an [`unclassified`](Self::unclassified) lock to `site`, once.
    #[inline]
    fn classify_at(&self, site: &'static Location<'static>) {
        if self.class_at_first_use {
            self.adopt_class(site);
        }
    }

    #[cold]
    fn adopt_class(&self, site: &'static Location<'static>) {
        if self.id.get() == 0 {
            // Before the first id: racing first acquisitions each store one of their sites.
            let site = site as *const Location<'static> as *mut Location<'static>;
            self.class.store(site, Ordering::Relaxed);
        }
    }

    fn class(&self) -> &'static Location<'static> {
        // SAFETY: `class` only ever holds pointers made from `&'static Location` references.
        unsafe { &*self.class.load(Ordering::Relaxed) }
    }

    pub(crate) fn named(
        kind: LockKind,
        class: &'static Location<'static>,
        name: Cow<'static, str>,
    ) -> Self {
        let mut meta = LockMeta::new(kind, class);
        meta.name = Some(intern(name));
        meta
    }

    #[inline]
    fn id(&self) -> LockId {
        LockId(self.id.get_or_assign(fresh_lock_id))
    }

    /// Declares the lock's rank.
    pub(crate) const fn set_rank(&mut self, rank: u32) {
        self.rank = Some(rank);
    }

    /// The declared rank.
    pub(crate) fn rank(&self) -> Option<u32> {
        self.rank
    }

    /// A number that orders locks globally and never changes for this lock: its id, assigned on
    /// first use from a counter.
    pub(crate) fn sequence(&self) -> u64 {
        self.id().0
    }

    fn info(&self) -> LockInfo {
        LockInfo {
            class: self.class(),
            name: self.name,
            rank: self.rank,
        }
    }

    /// A blocking acquisition: records order edges (reporting the cycles they close before
    /// anything blocks), tries `attempt`, and when that fails checks for a deadlock and `block`s.
    #[inline]
    pub(crate) fn lock<G>(
        &self,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
        mut attempt: impl FnMut() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        self.classify_at(site);
        let id = self.id();
        // The hold is pushed before the lock is taken, so the fast path touches the thread's
        // state once; taking the lock cannot fail, only unwind through `report_fatal`, which
        // pops it first.
        let thread = self.enter(id, mode, recursive, site);
        let guard = match attempt().or_else(|| spin(&mut attempt)) {
            Some(guard) => guard,
            None => self.block(id, mode, site, true, block),
        };
        if let Some(thread) = thread {
            if races_on() {
                self.clock.acquired();
            }
            if recorder::on() {
                self.record_acquire(thread, id, mode, false, site);
            }
        }
        guard
    }

    /// The lock's next operation number in the running recording (see `recorder`), declaring
    /// the lock to the recording first when it is its first operation there. Called only while
    /// holding the lock: a mutex is numbered without a read-modify-write.
    #[inline]
    fn record_seq(&self, id: LockId) -> u64 {
        let epoch = recorder::epoch();
        let seq = match self.kind {
            LockKind::Mutex | LockKind::Reentrant => self.recorded.next_exclusive(epoch),
            LockKind::RwLock | LockKind::Semaphore => self.recorded.next_shared(epoch),
        };
        if seq == 0 {
            recorder::declare_lock(id, self.kind, self.name, self.class(), self.rank);
        }
        seq
    }

    #[inline]
    fn record_acquire(
        &self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        try_lock: bool,
        site: &'static Location<'static>,
    ) {
        let seq = self.record_seq(lock);
        recorder::record(
            tid,
            Rec::Acquire {
                lock,
                seq,
                mode,
                try_lock,
                site,
            },
        );
    }

    /// A non-blocking (or timed) acquisition: no edge into this lock, since it cannot wait
    /// forever, but once held it is the source of edges like any other.
    #[inline]
    pub(crate) fn try_lock<G>(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
        attempt: impl FnOnce() -> Option<G>,
    ) -> Option<G> {
        let guard = attempt()?;
        self.classify_at(site);
        let id = self.id();
        if let Some(thread) = self.acquired(id, mode, site) {
            if races_on() {
                self.clock.acquired();
            }
            if recorder::on() {
                self.record_acquire(thread, id, mode, true, site);
            }
        }
        Some(guard)
    }

    /// Records that the lock was re-acquired by code that blocks inside parking_lot (a
    /// condition variable wake-up, the end of `unlocked`): edges as for `lock`, no wait check.
    pub(crate) fn relocked(&self, mode: Mode, site: &'static Location<'static>) {
        let id = self.id();
        if let Some(thread) = self.enter(id, mode, true, site) {
            if races_on() {
                self.clock.acquired();
            }
            if recorder::on() {
                self.record_acquire(thread, id, mode, false, site);
            }
        }
    }

    /// Records the re-acquisition, as [`relocked`](Self::relocked) does, when the returned
    /// guard drops: for code that runs the caller's closure with the lock released
    /// (`unlocked`), so that a panic in the closure cannot leave the lock taken again by
    /// parking_lot but not recorded as held (its later order edges would be lost).
    pub(crate) fn relock_on_drop(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Relock<'_> {
        Relock {
            meta: self,
            mode,
            site,
        }
    }

    /// Records a release, before the lock is actually unlocked.
    #[inline]
    pub(crate) fn release(&self, mode: Mode) {
        self.release_as(mode, None);
    }

    /// Records the release of a condition-variable wait: in a trace, a `wait` record stands for
    /// the release.
    pub(crate) fn release_for_wait(&self, condvar: &CondvarMeta, site: &'static Location<'static>) {
        self.release_as(Mode::Exclusive, Some((condvar, site)));
    }

    #[inline]
    fn release_as(&self, mode: Mode, wait: Option<(&CondvarMeta, &'static Location<'static>)>) {
        let id = LockId(self.id.get());
        let released = state::with(|st| {
            // Guards usually drop in reverse order: the hold is the last one.
            let held = match st.held.last() {
                Some(last) if last.id == id => st.held.pop(),
                _ => st.position(id).map(|index| st.held.remove(index)),
            }?;
            let thread = st.id();
            if races_on() {
                self.clock.releasing(thread, &mut st.clock);
            }
            Some((held.out_edge, thread))
        })
        .flatten();
        let Some((out_edge, thread)) = released else {
            return;
        };
        if out_edge {
            self.in_graph.store(true, Ordering::Relaxed);
        }
        if recorder::on() {
            self.record_release(thread, id, mode, wait);
        }
    }

    #[inline]
    fn record_release(
        &self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        wait: Option<(&CondvarMeta, &'static Location<'static>)>,
    ) {
        let seq = self.record_seq(lock);
        let rec = match wait {
            Some((condvar, site)) => {
                let (condvar, condvar_seq) = condvar.record_seq();
                Rec::Wait {
                    condvar,
                    condvar_seq,
                    lock,
                    lock_seq: seq,
                    site,
                }
            }
            None => Rec::Release { lock, seq, mode },
        };
        recorder::record(tid, rec);
    }

    /// Records an upgrade or downgrade of a held read-write lock.
    pub(crate) fn change_mode(&self, _from: Mode, to: Mode) {
        let id = LockId(self.id.get());
        state::with(|st| {
            if let Some(index) = st.position(id) {
                st.held[index].mode = to;
            }
        });
    }

    /// A condition-variable wait on this lock: reports holding other locks meanwhile.
    pub(crate) fn before_wait(&self, site: &'static Location<'static>) {
        let id = self.id();
        let others = state::with(|st| {
            let others: Vec<Held> = st.held.iter().filter(|h| h.id != id).copied().collect();
            (!others.is_empty()).then(|| (st.id(), others))
        })
        .flatten();
        if let Some((thread, others)) = others {
            report(self.wait_finding(thread, &others, site));
        }
    }

    fn wait_finding(
        &self,
        thread: ThreadId,
        others: &[Held],
        site: &'static Location<'static>,
    ) -> Finding {
        let held: Vec<LockAt> = others.iter().map(Held::named).collect();
        rules::wait_while_holding(
            &state::current_thread_name(thread),
            None,
            &self.info().display_name(),
            &held,
            Some(Site::Caller(site)),
        )
    }

    /// The checks before an acquisition that may block, then the push of the hold: re-locking a
    /// lock this thread holds, then the order edges from every held lock to this one. Reports
    /// before anything blocks. Returns the thread, or `None` when its state is unavailable.
    #[inline]
    fn enter(
        &self,
        id: LockId,
        mode: Mode,
        recursive: bool,
        site: &'static Location<'static>,
    ) -> Option<ThreadId> {
        let hold = Held {
            id,
            mode,
            site,
            info: self.info(),
            out_edge: false,
            in_graph: self.in_graph.load(Ordering::Relaxed),
        };
        // The fast path: this lock is not held yet, and this thread has recorded every edge
        // from what it holds to this lock before. Nothing but the thread's own state.
        let fast = state::with(|st| {
            let ThreadState { held, cache, .. } = st;
            let known = held
                .iter()
                .all(|h| h.id != id && cache.contains(h.id, h.mode, id, mode));
            known.then(|| {
                st.held.push(hold);
                st.id()
            })
        })?;
        match fast {
            Some(thread) => Some(thread),
            None => self.enter_slow(hold, recursive),
        }
    }

    /// [`enter`](Self::enter) when the lock is held already or some edge is new. The new edges
    /// go to the global graph from inside the thread's state, which lockscan's own code only
    /// touches, so the held stack is used in place; the findings are reported after it is let
    /// go, and before the hold is pushed, so a panicking policy leaves no hold behind.
    #[cold]
    #[inline(never)]
    fn enter_slow(&self, hold: Held, recursive: bool) -> Option<ThreadId> {
        let Held { id, mode, site, .. } = hold;
        enum Next {
            Pushed(ThreadId),
            SelfDeadlock(ThreadId, Held),
            Report(ThreadId, Vec<Finding>),
            /// A second `read`, pushed already.
            ReadAgain(ThreadId, Finding),
        }
        let next = state::with(|st| {
            let thread = st.id();
            if let Some(index) = st.position(id) {
                let held = st.held[index];
                let shared_again = held.mode == Mode::Shared && mode == Mode::Shared;
                if self.kind == LockKind::RwLock && shared_again && !recursive {
                    // A second `read`: it waits only if a writer is queued between the two
                    // (then `block` unwinds it). Reported either way; the policy decides.
                    let finding = self.self_deadlock(thread, held, mode, site);
                    st.held.push(hold);
                    return Next::ReadAgain(thread, finding);
                }
                let reentrant = self.kind == LockKind::Reentrant || (recursive && shared_again);
                if !reentrant {
                    return Next::SelfDeadlock(thread, held);
                }
                // Re-entering adds no edge.
                st.held.push(hold);
                return Next::Pushed(thread);
            }
            let findings = self.record_edges(st, &hold, None);
            if findings.is_empty() {
                st.held.push(hold);
                return Next::Pushed(thread);
            }
            Next::Report(thread, findings)
        })?;
        match next {
            Next::Pushed(thread) => Some(thread),
            Next::SelfDeadlock(thread, held) => {
                report_fatal(self.self_deadlock(thread, held, mode, site))
            }
            Next::ReadAgain(thread, finding) => {
                // The hold has no guard yet: if a panicking policy unwinds here, pop it.
                let pop = PopOnUnwind(id);
                report(finding);
                std::mem::forget(pop);
                Some(thread)
            }
            Next::Report(thread, findings) => {
                for finding in findings {
                    report(finding);
                }
                state::with(|st| st.held.push(hold));
                Some(thread)
            }
        }
    }

    /// Records the order edges from every lock this thread holds (but `skip`) to `hold`, the
    /// acquisition it is about to make, in the global graph when new; returns the findings,
    /// for the caller to report once the thread's state is let go.
    fn record_edges(
        &self,
        st: &mut ThreadState,
        hold: &Held,
        skip: Option<LockId>,
    ) -> Vec<Finding> {
        let thread = st.id();
        let Held { id, mode, site, .. } = *hold;
        let mut session = None;
        let mut findings = Vec::new();
        for index in 0..st.held.len() {
            let from = st.held[index];
            if Some(from.id) == skip || st.cache.contains(from.id, from.mode, id, mode) {
                continue;
            }
            findings.extend(self.rank_violation(thread, &from, mode, site));
            if order::is_full(from.id, id) {
                // Nothing to add to it, and no cycle to look for again.
                st.cache.insert(from.id, from.mode, id, mode);
                continue;
            }
            let session = session.get_or_insert_with(|| {
                let name = (!st.registered).then(|| state::current_thread_name(thread));
                st.registered = true;
                let clock = st.order_snapshot();
                order::session(thread, name, hold, clock)
            });
            findings.extend(session.add_edge(&st.held, index));
            st.held[index].out_edge = true;
            st.cache.insert(from.id, from.mode, id, mode);
        }
        if session.is_some() {
            self.in_graph.store(true, Ordering::Relaxed);
        }
        findings
    }

    /// An upgrade of this read-write lock, held upgradable by this thread, to exclusive access:
    /// an exclusive request made while holding it and whatever else the thread holds. Records
    /// the order edges from the other held locks (reporting the cycles they close before
    /// anything blocks), tries `attempt`, and when that fails registers the thread as blocked —
    /// on the readers, which the wait-for check follows — and `block`s.
    pub(crate) fn upgrade<G, W>(
        &self,
        site: &'static Location<'static>,
        guard: G,
        attempt: impl FnOnce(G) -> Result<W, G>,
        block: impl FnOnce(G) -> W,
    ) -> W {
        let id = self.id();
        let request = Held {
            id,
            mode: Mode::Exclusive,
            site,
            info: self.info(),
            out_edge: false,
            in_graph: self.in_graph.load(Ordering::Relaxed),
        };
        let findings = state::with(|st| self.record_edges(st, &request, Some(id)));
        for finding in findings.into_iter().flatten() {
            report(finding);
        }
        let upgraded = match attempt(guard) {
            Ok(upgraded) => upgraded,
            Err(guard) => self.block(id, Mode::Exclusive, site, false, move || block(guard)),
        };
        self.change_mode(Mode::Upgradable, Mode::Exclusive);
        upgraded
    }

    /// The finding for acquiring this lock while holding `held`, when their declared ranks say
    /// `held` must come after it.
    fn rank_violation(
        &self,
        thread: ThreadId,
        held: &Held,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Option<Finding> {
        let (Some(mine), Some(theirs)) = (self.rank, held.info.rank) else {
            return None;
        };
        if mine > theirs {
            return None;
        }
        let acquired = LockAt {
            name: self.info().display_name(),
            site: Some(Site::Caller(site)),
            mode,
        };
        Some(rules::order_violation(
            &state::current_thread_name(thread),
            held.named(),
            u64::from(theirs),
            acquired,
            u64::from(mine),
        ))
    }

    fn self_deadlock(
        &self,
        thread: ThreadId,
        held: Held,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Finding {
        let name = self.info().display_name();
        rules::relock(
            &state::current_thread_name(thread),
            self.kind,
            LockAt {
                name: name.clone(),
                site: Some(Site::Caller(held.site)),
                mode: held.mode,
            },
            LockAt {
                name,
                site: Some(Site::Caller(site)),
                mode,
            },
        )
    }

    /// The contended path: registers this thread as blocked, reports a deadlock that closes,
    /// and blocks.
    #[cold]
    ///
    /// `pushed`: whether the last hold of the thread's stack is this very acquisition, pushed
    /// by `enter` and not held yet (an upgrade pushes none: the lock is held, upgradable).
    fn block<G>(
        &self,
        id: LockId,
        mode: Mode,
        site: &'static Location<'static>,
        pushed: bool,
        block: impl FnOnce() -> G,
    ) -> G {
        if pushed && let Some(first) = self.held_before(id) {
            // This thread holds the lock already and still has to wait: a second `read` behind
            // a queued writer, which waits for the first. It can never be granted.
            state::with(|st| {
                if st.held.last().is_some_and(|h| h.id == id) {
                    st.held.pop();
                }
            });
            let thread = state::with(ThreadState::id).unwrap_or(ThreadId(0));
            let mut finding = self.self_deadlock(thread, first, mode, site);
            finding.kind = FindingKind::Deadlock;
            finding.message = format!(
                "`{}` read again by a thread that holds it, behind a queued writer",
                self.info().display_name()
            );
            finding.reason = "the writer waits for this thread's first read lock, and this read \
                waits for the writer: use `read_recursive`, or do not read the lock twice"
                .to_owned();
            report_fatal(finding);
        }
        let Some((thread, name, held)) = state::with(|st| {
            let thread = st.id();
            let name = (!st.registered).then(|| state::current_thread_name(thread));
            st.registered = true;
            let held = st.held[..st.held.len().saturating_sub(usize::from(pushed))].to_vec();
            (thread, name, held)
        }) else {
            return block();
        };
        if let Some(name) = name {
            order::register_thread(thread, name);
        }
        if recorder::on() {
            // Not numbered (this thread does not hold the lock): the trace's reader puts it
            // right after this thread's previous event.
            recorder::record(
                thread,
                Rec::Request {
                    lock: id,
                    mode,
                    site,
                },
            );
        }
        let waiter = Waiter {
            thread,
            lock: id,
            info: self.info(),
            mode,
            site,
            held,
        };
        if let Err(deadlock) = waits::begin(waiter) {
            // This thread will not get the lock: drop the hold `enter` pushed for it (or, for
            // an upgrade, the upgradable hold, which unwinding releases).
            state::with(|st| {
                if let Some(index) = st.position(id) {
                    st.held.remove(index);
                }
            });
            report_fatal(*deadlock);
        }
        // Leave the registry even if `block` unwinds, so no stale entry points at this lock.
        struct Leave(ThreadId);
        impl Drop for Leave {
            fn drop(&mut self) {
                waits::end(self.0);
            }
        }
        let _leave = Leave(thread);
        block()
    }

    /// The hold of `id` this thread had before the one `enter` just pushed, if any.
    fn held_before(&self, id: LockId) -> Option<Held> {
        state::with(|st| {
            let before = &st.held[..st.held.len().saturating_sub(1)];
            before.iter().find(|h| h.id == id).copied()
        })
        .flatten()
    }

    /// Records a hold taken without blocking.
    #[inline]
    fn acquired(
        &self,
        id: LockId,
        mode: Mode,
        site: &'static Location<'static>,
    ) -> Option<ThreadId> {
        let info = self.info();
        state::with(|st| {
            st.held.push(Held {
                id,
                mode,
                site,
                info,
                out_edge: false,
                in_graph: self.in_graph.load(Ordering::Relaxed),
            });
            st.id()
        })
    }
}

/// See [`LockMeta::relock_on_drop`].
#[derive(Debug)]
pub(crate) struct Relock<'a> {
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
}

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        self.meta.relocked(self.mode, self.site);
    }
}

impl Drop for LockMeta {
    fn drop(&mut self) {
        if *self.in_graph.get_mut() {
            order::forget_lock(LockId(self.id.get_mut()));
        }
    }
}

static NEXT_CONDVAR: AtomicU64 = AtomicU64::new(1);

/// What an instrumented condition variable knows about itself.
#[derive(Debug)]
pub(crate) struct CondvarMeta {
    id: LazyId,
    /// Its operations in the running recording, numbered for the trace's reader.
    recorded: RecordSeq,
    site: &'static Location<'static>,
}

impl CondvarMeta {
    pub(crate) const fn new(site: &'static Location<'static>) -> Self {
        CondvarMeta {
            id: LazyId::new(),
            recorded: RecordSeq::new(),
            site,
        }
    }

    /// The id and the next operation number in the running recording, declaring the condition
    /// variable to the recording first when it is its first operation there.
    fn record_seq(&self) -> (CondvarId, u64) {
        let id = CondvarId(
            self.id
                .get_or_assign(|| NEXT_CONDVAR.fetch_add(1, Ordering::Relaxed)),
        );
        let seq = self.recorded.next_shared(recorder::epoch());
        if seq == 0 {
            recorder::declare_condvar(id, self.site);
        }
        (id, seq)
    }

    /// A notification, recorded when recording. It orders nothing for the lock order: a
    /// wake-up can come from a time-out, a spurious wake-up or another notifier, so it proves
    /// no order in another schedule.
    pub(crate) fn notified(&self, all: bool, site: &'static Location<'static>) {
        if recorder::on() {
            let Some(tid) = state::with(|st| st.id()) else {
                return;
            };
            let (condvar, seq) = self.record_seq();
            recorder::record(
                tid,
                Rec::Notify {
                    condvar,
                    seq,
                    all,
                    site,
                },
            );
        }
    }
}

/// A lock that is taken is usually let go within a few microseconds: try again a few times, as
/// parking_lot spins before it parks, before registering as a blocked thread (the registry of
/// blocked threads is one lock for the whole process).
#[cold]
fn spin<G>(attempt: &mut impl FnMut() -> Option<G>) -> Option<G> {
    for round in 0..10_u32 {
        if round < 3 {
            for _ in 0..(2_u32 << round) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        if let Some(guard) = attempt() {
            return Some(guard);
        }
    }
    None
}

/// Lock names live as long as the program, one copy per distinct name: a lock's name must
/// outlive the lock, because reports about it can come later.
pub(crate) fn intern(name: Cow<'static, str>) -> &'static str {
    static NAMES: Mutex<Option<FxHashSet<&'static str>>> = Mutex::new(None);
    match name {
        Cow::Borrowed(name) => name,
        Cow::Owned(name) => {
            let mut names = NAMES.lock();
            let names = names.get_or_insert_with(FxHashSet::default);
            if let Some(&known) = names.get(name.as_str()) {
                return known;
            }
            let leaked: &'static str = Box::leak(name.into_boxed_str());
            names.insert(leaked);
            leaked
        }
    }
}

/// Pops the hold of the lock from the top of the thread's stack if a report unwinds before
/// the guard for it exists (see `enter_slow`); forgotten when the report returns.
struct PopOnUnwind(LockId);

impl Drop for PopOnUnwind {
    fn drop(&mut self) {
        state::with(|st| {
            if st.held.last().is_some_and(|h| h.id == self.0) {
                st.held.pop();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Mutex;

    #[test]
    fn dropped_locks_leave_the_graph() {
        let outer = Mutex::new(());
        let _outer = outer.lock();
        let (nodes_before, _) = order::size();
        for _ in 0..100_000 {
            let inner = Mutex::new(0_u8);
            *inner.lock() += 1;
        }
        let (nodes_after, edges_after) = order::size();
        // The outer lock may stay; none of the 100k inner locks may.
        assert!(
            nodes_after <= nodes_before + 1,
            "{nodes_before} nodes before, {nodes_after} after ({edges_after} edges)"
        );
    }

    #[test]
    fn a_full_edge_is_known_without_the_graph_and_forgotten_with_its_lock() {
        let a = Mutex::new(());
        let b = Mutex::new(());
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    let _a = a.lock();
                    drop(b.lock());
                })
                .join()
                .unwrap();
            }
        });
        let (ida, idb) = (a.meta.id(), b.meta.id());
        assert!(order::is_full(ida, idb), "eight threads fill the edge");
        drop(a);
        assert!(!order::is_full(ida, idb), "gone with its lock");
    }

    #[test]
    fn names_are_interned_once() {
        let first = intern(Cow::Owned("interned:name".to_owned()));
        let second = intern(Cow::Owned("interned:name".to_owned()));
        assert!(std::ptr::eq(first, second));
    }
}
