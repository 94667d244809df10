//! Threads blocked on a lock, and the wait-for check that finds a deadlock the moment the last
//! thread of the cycle blocks.
//!
//! A thread registers here just before it blocks, with the locks it holds, and leaves after it
//! got the lock; the check runs under the same mutex, so of the threads that close a wait
//! cycle, the last one to block sees every other. A wait cycle is made of blocked threads
//! only, so following the registered threads that hold the awaited lock in a conflicting mode
//! finds it: exclusive owners and readers alike (a thread upgrading a read lock waits for the
//! readers). A registered thread releases nothing until it leaves, so the held locks it
//! published stay true while the check reads them.

use std::panic::Location;

use crate::raw::Mutex;

use super::order_graph;
use super::state::{Held, LockInfo};
use crate::engine::rules::{self, BlockedThread, LockAt};
use crate::engine::waits::{Holder, WaitSearch, WaitsFor};
use crate::finding::Finding;
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::Site;

/// A thread blocked on a lock.
pub(super) struct Waiter {
    pub thread: ThreadId,
    pub lock: LockId,
    pub info: LockInfo,
    pub mode: Mode,
    pub site: &'static Location<'static>,
    /// What the thread holds while it waits.
    pub held: Vec<Held>,
}

impl Waiter {
    /// Whether this thread holds `lock` in a mode that a request in `mode` must wait for.
    fn blocks(&self, lock: LockId, mode: Mode) -> bool {
        self.held
            .iter()
            .any(|h| h.id == lock && mode.conflicts_with(h.mode))
    }
}

static WAITERS: Mutex<Vec<Waiter>> = Mutex::new(Vec::new());

/// Registers `me` as blocked and returns the deadlock it closes, if any. On `Err` the thread
/// was not left registered.
pub(super) fn begin(me: Waiter) -> Result<(), Box<Finding>> {
    let mut waiters = WAITERS.lock();
    if let Some(chain) = cycle_through(&me, &waiters) {
        let blocked: Vec<&Waiter> = chain.iter().map(|&i| &waiters[i]).collect();
        return Err(Box::new(deadlock_finding(&me, &blocked)));
    }
    waiters.push(me);
    Ok(())
}

/// The registered waiters and `me`, who is about to join them, as the wait-cycle search sees
/// them: `me` is the index past the registered ones.
struct Blocked<'a> {
    me: &'a Waiter,
    waiters: &'a [Waiter],
}

impl Blocked<'_> {
    fn waiter(&self, index: usize) -> &Waiter {
        self.waiters.get(index).unwrap_or(self.me)
    }
}

impl WaitsFor for Blocked<'_> {
    type Thread = usize;

    /// `me` first, then the registered waiters in their order.
    fn holder(&self, waiting: usize, index: usize) -> Holder<usize> {
        let current = self.waiter(waiting);
        if index == 0 {
            let me = self.waiters.len();
            let closes = waiting != me
                && self.me.thread != current.thread
                && self.me.blocks(current.lock, current.mode);
            return if closes {
                Holder::Thread(me)
            } else {
                Holder::Skip
            };
        }
        match self.waiters.get(index - 1) {
            None => Holder::Done,
            Some(holder)
                if holder.thread == current.thread
                    || !holder.blocks(current.lock, current.mode) =>
            {
                Holder::Skip
            }
            Some(_) => Holder::Thread(index - 1),
        }
    }

    fn waits(&self, _thread: usize) -> bool {
        true
    }
}

/// A wait cycle through `me`: registered waiters `chain` such that `me` waits for `chain[0]`,
/// which waits for `chain[1]`, ..., whose last waits for `me`.
fn cycle_through(me: &Waiter, waiters: &[Waiter]) -> Option<Vec<usize>> {
    let blocked = Blocked { me, waiters };
    let mut search = WaitSearch::default();
    let cycle = search.cycle_through(&blocked, waiters.len())?;
    Some(cycle[1..].to_vec())
}

/// Leaves the registry after the lock was acquired (or the wait gave up).
pub(super) fn end(thread: ThreadId) {
    let mut waiters = WAITERS.lock();
    if let Some(index) = waiters.iter().position(|w| w.thread == thread) {
        waiters.swap_remove(index);
    }
}

/// A registered thread blocked on one of the locks of `held` in a mode that conflicts with
/// the hold: the hold, the thread, and where it requested the lock (`runtime::parked`: a task
/// that parks holding it).
#[cfg(feature = "tokio")]
pub(super) fn blocked_on(held: &[Held]) -> Option<(Held, ThreadId, &'static Location<'static>)> {
    let waiters = WAITERS.lock();
    waiters.iter().find_map(|waiter| {
        let hold = held
            .iter()
            .find(|h| h.id == waiter.lock && waiter.mode.conflicts_with(h.mode))?;
        Some((*hold, waiter.thread, waiter.site))
    })
}

/// The finding for `me` waiting on a lock owned by `chain[0]`, which waits on one owned by
/// `chain[1]`, ..., whose last waits on a lock `me` holds.
fn deadlock_finding(me: &Waiter, chain: &[&Waiter]) -> Finding {
    // In cycle order: each waiter holds the lock the one before it waits for.
    let mut ring: Vec<&Waiter> = chain.to_vec();
    ring.push(me);
    order_graph::names(|names| {
        let cycle = (0..ring.len())
            .map(|i| {
                let (waiter, before) = (ring[i], ring[(i + ring.len() - 1) % ring.len()]);
                let holding = waiter.held.iter().rev().find(|h| h.id == before.lock);
                BlockedThread {
                    thread: names.thread_name(waiter.thread),
                    holds: LockAt {
                        name: before.info.display_name(),
                        site: holding.map(|h| Site::Caller(h.site)),
                        mode: holding.map_or(Mode::Exclusive, |h| h.mode),
                    },
                    wants: LockAt {
                        name: waiter.info.display_name(),
                        site: Some(Site::Caller(waiter.site)),
                        mode: waiter.mode,
                    },
                    also_held: waiter
                        .held
                        .iter()
                        .filter(|h| h.id != before.lock)
                        .map(|h| h.info.display_name())
                        .collect(),
                }
            })
            .collect();
        rules::deadlock(cycle)
    })
}
