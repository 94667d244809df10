//! Deadlocks that happened in the trace: wait cycles among pending requests, found when a
//! request closes one, and threads left blocked behind a condition-variable wait.

use super::*;

impl Replay {
    /// Looks for a wait cycle through thread `start`, which just made a request: a depth-first
    /// search along "waits for a lock held by", with an explicit stack, so a cycle of any number
    /// of threads is found.
    pub(super) fn check_wait_cycle(&mut self, start: u32) {
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
    pub(super) fn waits_for(&self, t: u32) -> Option<(u32, Mode)> {
        let pending = self.threads[t as usize].request.as_ref()?;
        (self.locks[pending.lock as usize].kind != LockKind::Semaphore)
            .then_some((pending.lock, pending.mode))
    }

    /// Fills `path` with (thread, lock it waits for) pairs of a wait cycle from `start`.
    /// `next` holds, per path entry, the index of the next holder of its lock to follow;
    /// `explored`, the threads on the path or explored without reaching `start` (they never
    /// will): one look-up whichever, so a chain of waiting threads is searched in linear time.
    pub(super) fn search_wait(
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
        explored.insert(start);
        while let Some(&(at, lock)) = path.last() {
            let index = next.last_mut().expect("one per path entry");
            let state = &self.locks[lock as usize];
            let Some(&(holder, held_mode)) = state.holders.get(*index) else {
                path.pop();
                next.pop();
                continue;
            };
            *index += 1;
            let (_, mode) = self.waits_for(at).expect("on the path, so waiting");
            // A thread does not wait for its own hold of a re-entrant lock, nor, upgrading, for
            // its own upgradable hold.
            let own = holder == at
                && (state.kind == LockKind::Reentrant
                    || self.threads[at as usize]
                        .request
                        .as_ref()
                        .is_some_and(|p| p.upgrade));
            if !held_mode.conflicts_with(mode) || own {
                continue;
            }
            if holder == start {
                return true;
            }
            if explored.contains(&holder) {
                continue;
            }
            if let Some((wanted, _)) = self.waits_for(holder) {
                explored.insert(holder);
                path.push((holder, wanted));
                next.push(0);
            }
        }
        false
    }

    pub(super) fn report_deadlock(&mut self, path: &[(u32, u32)]) {
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
    pub(super) fn report_stalls(&mut self) {
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
}
