//! Threads blocked on a lock, and the wait-for check that finds a deadlock the moment the last
//! thread of the cycle blocks.
//!
//! A thread registers here just before it blocks and leaves after it got the lock; the check
//! runs under the same mutex, so of the threads that close a wait cycle, the last one to block
//! sees every other. A registered thread releases nothing until it leaves, so the owners it
//! published stay true while the check reads them.

use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::order;
use super::state::{Held, LockInfo};
use crate::finding::{Finding, FindingEdge, FindingKind};
use crate::ids::{LockId, Mode, ThreadId};
use crate::site::Site;

/// A thread blocked on a lock.
pub(super) struct Waiter {
    pub thread: ThreadId,
    pub lock: LockId,
    pub info: LockInfo,
    pub mode: Mode,
    pub site: &'static Location<'static>,
    /// The owner cell of the lock waited for.
    pub owner: OwnerCell,
    /// What the thread holds while it waits.
    pub held: Vec<Held>,
}

/// A pointer to the owner field of a lock that a registered thread is blocked on.
pub(super) struct OwnerCell(NonNull<AtomicU64>);

impl OwnerCell {
    pub fn new(cell: &AtomicU64) -> Self {
        OwnerCell(NonNull::from(cell))
    }

    fn load(&self) -> u64 {
        // SAFETY: the cell belongs to a lock that the registered thread is blocked on, through
        // a borrow of the lock that lasts until the thread has left the registry; cells are
        // only read under the registry mutex, which the thread must take to leave.
        unsafe { self.0.as_ref() }.load(Ordering::Relaxed)
    }
}

// SAFETY: an `OwnerCell` is only dereferenced under `WAITERS`' mutex while the lock it points
// into is alive (see `OwnerCell::load`); the target is an atomic, safe to read from any thread.
unsafe impl Send for OwnerCell {}

static WAITERS: Mutex<Vec<Waiter>> = Mutex::new(Vec::new());

/// Registers `me` as blocked and returns the deadlock it closes, if any. On `Err` the thread
/// was not left registered.
pub(super) fn begin(me: Waiter) -> Result<(), Box<Finding>> {
    let mut waiters = WAITERS.lock();
    let mut chain: Vec<usize> = Vec::new();
    let mut owner = me.owner.load();
    let cycle = loop {
        if owner == 0 {
            break false;
        }
        if owner == me.thread.0 {
            break true;
        }
        let Some(next) = waiters.iter().position(|w| w.thread.0 == owner) else {
            break false;
        };
        if chain.contains(&next) {
            // A wait cycle that does not include this thread: its last thread reported it.
            break false;
        }
        chain.push(next);
        owner = waiters[next].owner.load();
    };
    if cycle {
        let blocked: Vec<&Waiter> = chain.iter().map(|&i| &waiters[i]).collect();
        let finding = deadlock_finding(&me, &blocked);
        return Err(Box::new(finding));
    }
    waiters.push(me);
    Ok(())
}

/// Leaves the registry after the lock was acquired (or the wait gave up).
pub(super) fn end(thread: ThreadId) {
    let mut waiters = WAITERS.lock();
    if let Some(index) = waiters.iter().position(|w| w.thread == thread) {
        waiters.swap_remove(index);
    }
}

/// The finding for `me` waiting on a lock owned by `chain[0]`, which waits on one owned by
/// `chain[1]`, ..., whose last waits on a lock `me` holds.
fn deadlock_finding(me: &Waiter, chain: &[&Waiter]) -> Finding {
    // In cycle order: each waiter holds the lock the one before it waits for.
    let mut ring: Vec<&Waiter> = chain.to_vec();
    ring.push(me);
    order::names(|names| {
        let mut edges = Vec::with_capacity(ring.len());
        let mut locks = Vec::with_capacity(ring.len());
        let mut threads = Vec::with_capacity(ring.len());
        for (i, waiter) in ring.iter().enumerate() {
            let before = ring[(i + ring.len() - 1) % ring.len()];
            let holding = waiter.held.iter().rev().find(|h| h.id == before.lock);
            let thread = names.thread_name(waiter.thread);
            threads.push(thread.clone());
            locks.push(before.info.display_name());
            edges.push(FindingEdge {
                from: before.info.display_name(),
                to: waiter.info.display_name(),
                thread,
                from_site: holding.map(|h| Site::Caller(h.site)),
                to_site: Some(Site::Caller(waiter.site)),
                from_mode: holding.map_or(Mode::Exclusive, |h| h.mode),
                to_mode: waiter.mode,
                held: waiter
                    .held
                    .iter()
                    .filter(|h| h.id != before.lock)
                    .map(|h| h.info.display_name())
                    .collect(),
                blocked: true,
                backtrace: None,
            });
        }
        let mut finding = Finding::new(
            FindingKind::Deadlock,
            format!(
                "deadlock: {} threads are blocked waiting for each other's locks",
                ring.len()
            ),
        );
        finding.reason = "every thread of the cycle is blocked on a lock held by the next one; \
                          none can go on"
            .to_owned();
        finding.locks = locks;
        finding.threads = threads;
        finding.edges = edges;
        finding.help = Some(
            "acquire these locks in one consistent order everywhere, for example with \
             `lockscan::lock_all`"
                .to_owned(),
        );
        finding.site = Some(Site::Caller(me.site));
        finding
    })
}
