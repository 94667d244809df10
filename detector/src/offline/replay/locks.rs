//! The lock protocol of the replay: requests, acquisitions (with their order edges and rank
//! checks), releases and condition-variable waits, per thread.

use super::*;
use std::collections::hash_map::Entry;

use edges::Taking;

impl Replay {
    pub(super) fn tick(&mut self, t: usize) {
        let state = &mut self.threads[t];
        state.clock.tick(state.id);
        state.snapshot = None;
    }

    pub(super) fn holds(&self, t: usize, l: u32) -> Option<usize> {
        self.threads[t].held.iter().rposition(|h| h.lock == l)
    }

    pub(super) fn request(
        &mut self,
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        flavour: Flavour,
        site: Option<Site>,
    ) {
        let t = self.thread(tid) as usize;
        let l = self.lock(lock);
        let held = self.holds(t, l).is_some();
        if held && self.locks[l as usize].kind == LockKind::Reentrant {
            // A re-entrant lock the thread holds: the request cannot block.
            self.threads[t].request = None;
            return;
        }
        self.add_edges(t, l, mode, site.as_ref());
        self.threads[t].request = Some(Pending {
            lock: l,
            mode,
            upgrade: held && flavour == Flavour::Upgrade,
            site,
            at: self.events,
        });
        self.check_wait_cycle(t as u32);
    }

    /// `how`: the mode, whether the acquisition could not wait forever (`try`), and its
    /// flavour.
    pub(super) fn acquire(
        &mut self,
        tid: ThreadId,
        lock: LockId,
        how: (Mode, bool, Flavour),
        site: Option<Site>,
    ) {
        let (mode, try_lock, flavour) = how;
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
            if flavour.changes_mode() {
                self.change_mode(t, l, index, how, requested, site);
                return;
            }
            let kind = self.locks[l as usize].kind;
            let held_mode = self.threads[t].held[index].mode;
            self.threads[t].held[index].count += 1;
            // A plain `read` again waits behind a queued writer, which waits for the first: the
            // same misuse the live detector reports. A recursive read does not wait.
            let recursive_read = kind == LockKind::RwLock
                && mode == Mode::Shared
                && held_mode == Mode::Shared
                && flavour == Flavour::Recursive;
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

    /// Thread `t`'s hold `index` of lock `l` changes mode (`how`: the new mode, whether it
    /// could not wait forever, and the flavour): an upgrade (after its request, if it waited)
    /// or a downgrade. A blocking upgrade is an exclusive request made while holding the lock:
    /// order edges from the other held locks, as live.
    fn change_mode(
        &mut self,
        t: usize,
        l: u32,
        index: usize,
        how: (Mode, bool, Flavour),
        requested: bool,
        site: Option<Site>,
    ) {
        let (mode, try_lock, flavour) = how;
        if flavour == Flavour::Upgrade {
            let conflicting = self.locks[l as usize]
                .holders
                .iter()
                .any(|&(other, other_mode)| other as usize != t && other_mode.conflicts_with(mode));
            if conflicting {
                self.inconsistent(t as u32, l, site.clone());
            }
            if !try_lock && !requested {
                self.add_edges(t, l, mode, site.as_ref());
            }
        }
        self.threads[t].held[index].mode = mode;
        let holders = &mut self.locks[l as usize].holders;
        if let Some(holder) = holders.iter_mut().find(|(h, _)| *h as usize == t) {
            holder.1 = mode;
        }
    }

    /// Adds the order edges `held -> l` of thread `t` about to take `l`, from the held locks
    /// but those beneath the innermost [`MAX_ORDER_DEPTH`](crate::engine::edges::MAX_ORDER_DEPTH)
    /// (the live detector's rule).
    pub(super) fn add_edges(&mut self, t: usize, l: u32, to_mode: Mode, to_site: Option<&Site>) {
        let to = self.locks[l as usize].id;
        let beneath = self.beneath_order_window(t, to);
        let thread = &mut self.threads[t];
        // What the thread holds, as occurrences keep it: stored once per acquisition, and only
        // if some edge is new.
        let holding = || {
            thread
                .held
                .iter()
                .filter(move |h| h.lock != l)
                .map(|h| (h.lock, h.mode))
        };
        let holding_len = holding().count();
        let mut held: Option<u32> = None;
        let mut to_site_index: Option<u32> = None;
        for from in &thread.held {
            if from.lock == l || beneath.as_ref().is_some_and(|b| b.contains(&from.id)) {
                continue;
            }
            // One probe: the edge, if known, and where a new one goes.
            let entry = self.edges.entry(from.lock, l);
            if let Entry::Occupied(known) = &entry
                && !known.get().wants(
                    &Taking {
                        thread: t as u32,
                        from_mode: from.mode,
                        to_mode,
                        snapshot: thread.snapshot,
                        clock: &thread.clock,
                        held_len: holding_len,
                        held: holding(),
                    },
                    &self.tables,
                )
            {
                continue;
            }
            // A new edge, or a new way to take it: worth a record.
            let tables = &mut self.tables;
            let clock = *thread
                .snapshot
                .get_or_insert_with(|| tables.snapshot(&thread.clock));
            let taken = Taken {
                thread: t as u32,
                from_mode: from.mode,
                to_mode,
                from_site: tables.sites.intern(from.site.as_ref()),
                to_site: *to_site_index.get_or_insert_with(|| tables.sites.intern(to_site)),
                held: *held.get_or_insert_with(|| tables.held.add(holding_len, holding())),
                clock,
            };
            match entry {
                Entry::Occupied(mut known) => known.get_mut().push(taken, tables),
                Entry::Vacant(new) => {
                    // A new order: check it against the declared ranks, once.
                    let (from_rank, to_rank) = (
                        self.locks[from.lock as usize].rank,
                        self.locks[l as usize].rank,
                    );
                    if let (Some(theirs), Some(mine)) = (from_rank, to_rank)
                        && mine <= theirs
                    {
                        let locks = &self.locks;
                        let occurrence =
                            tables.occurrence(&taken, thread.id, |l| locks[l as usize].id);
                        self.rank_violations.push((from.lock, occurrence));
                    }
                    new.insert(TakenEdge::new(taken));
                    // Cycles are looked for once, at the end: no search per edge.
                    self.graph.insert_edge(from.id, to, || ());
                }
            }
        }
        for (from, occurrence) in std::mem::take(&mut self.rank_violations) {
            self.order_violation(from, occurrence, l);
        }
    }

    /// The locks thread `t`, about to take `to`, takes no order edge from (see
    /// [`beneath_order_window`](crate::engine::edges::beneath_order_window)); the first time
    /// there are any, a warning.
    fn beneath_order_window(&mut self, t: usize, to: LockId) -> Option<FxHashSet<LockId>> {
        use crate::engine::edges;
        let thread = &self.threads[t];
        if thread.held.len() <= edges::MAX_ORDER_DEPTH {
            return None;
        }
        let beneath = edges::beneath_order_window(thread.held.iter().map(|h| h.id), Some(to))?;
        if !self.order_window_warned {
            self.order_window_warned = true;
            let warning = edges::order_window_warning(&self.thread_name(thread.id));
            self.warnings.push(warning);
        }
        Some(beneath)
    }

    /// The finding for acquiring lock `l` while holding `held_lock`, as in `occurrence`, against
    /// the declared ranks; worded as the live detector words it.
    pub(super) fn order_violation(&mut self, held_lock: u32, occurrence: Occurrence, l: u32) {
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

    pub(super) fn release(&mut self, tid: ThreadId, lock: LockId, site: Option<Site>) {
        let t = self.active(tid);
        let l = self.lock(lock);
        match self.holds(t, l) {
            Some(index) => {
                let held = &mut self.threads[t].held[index];
                held.count -= 1;
                if held.count == 0 {
                    take_held(&mut self.threads[t].held, index);
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

    pub(super) fn wait(
        &mut self,
        tid: ThreadId,
        condvar: CondvarId,
        lock: LockId,
        site: Option<Site>,
    ) {
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
        let mut ids: Vec<LockId> = self.threads[t].held.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        let key = WaitKey::new(
            condvar,
            lock,
            site.as_ref(),
            self.threads[t].held.iter().map(|h| (h.id, h.site.as_ref())),
        );
        match self.wait_keys.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut seen) => {
                let (_, reported, others) = seen.get_mut();
                if *reported != ids {
                    *others += 1;
                }
                return;
            }
            std::collections::hash_map::Entry::Vacant(new) => {
                // The same locks waited with at other sites are the finding they made there.
                let set = (condvar, ids);
                if let Some(&index) = self.wait_sets.get(&set) {
                    new.insert((index, set.1, 0));
                    return;
                }
                let index = self.findings.len();
                new.insert((index, set.1.clone(), 0));
                self.wait_sets.insert(set, index);
            }
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
}

/// Removes hold `index`: the last one, most often (locks are released in reverse order).
fn take_held(held: &mut Vec<Held>, index: usize) {
    if index + 1 == held.len() {
        held.pop();
    } else {
        held.remove(index);
    }
}

/// What makes two waits while holding one finding: where the thread waited, and where it took
/// each other lock it held; a lock or condition variable without a site stands for itself. Not
/// the locks themselves: a wait under ever new outer locks (one per request, per entry) is one
/// problem in the code, and its findings would grow with the run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct WaitKey {
    wait: Placed,
    held: Vec<Placed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Placed {
    Site(String),
    Lock(LockId),
    Condvar(CondvarId, LockId),
}

impl WaitKey {
    fn new<'a>(
        condvar: CondvarId,
        lock: LockId,
        site: Option<&Site>,
        held: impl Iterator<Item = (LockId, Option<&'a Site>)>,
    ) -> Self {
        let wait = match site {
            Some(site) => Placed::Site(site.to_string()),
            None => Placed::Condvar(condvar, lock),
        };
        let mut held: Vec<Placed> = held
            .map(|(id, site)| match site {
                Some(site) => Placed::Site(site.to_string()),
                None => Placed::Lock(id),
            })
            .collect();
        held.sort_unstable();
        held.dedup();
        WaitKey { wait, held }
    }
}
