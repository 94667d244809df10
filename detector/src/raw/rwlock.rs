//! [`RawRwLock`]: a writer-preferring reader-writer lock on `parking_lot_core`.
//!
//! # State
//!
//! One `usize`: the number of readers in the high bits (an upgradable reader counts as one),
//! and four flags:
//!
//! - `WRITER`: a writer holds the lock, or has claimed it and waits for the readers inside to
//!   leave. New non-recursive readers are refused as soon as it is set (writer preference), and
//!   `is_locked_exclusive` reports it, as parking_lot does; recursive readers still get in while
//!   readers remain, since one of those may be their own thread.
//! - `UPGRADABLE`: an upgradable reader holds the lock (at most one; it excludes writers).
//! - `PARKED`: threads may be parked on the lock's address (the main queue), waiting to read,
//!   to write or to read upgradably.
//! - `WRITER_PARKED`: the thread that set `WRITER` (a writer, or an upgrading reader) may be
//!   parked on the lock's address + 1 (the drain queue) until the last reader leaves.
//!
//! A writer thus takes the lock in two steps: it claims `WRITER` when neither `WRITER` nor
//! `UPGRADABLE` is set (waiting in the main queue otherwise), then waits in the drain queue
//! until the reader count reaches zero. An upgrade skips the first step: it trades its
//! upgradable read for `WRITER`, which nobody else can hold meanwhile.
//!
//! # Wake-ups
//!
//! A thread parks only after setting the matching parked bit, and the park's validation (which
//! runs under the queue lock) re-checks both that the bit is still set and that the lock is still
//! unavailable. Whoever makes the lock available clears the parked bit in the same atomic update,
//! then wakes the queue; so either the parker's validation sees the change and it does not sleep,
//! or it is already in the queue when the waker takes the queue lock. The last reader to leave
//! sees `WRITER_PARKED` in the value its decrement replaced, and wakes the drain queue, clearing
//! the bit under the queue lock.
//!
//! A writer (or upgrader) that times out while readers remain gives `WRITER` back (restoring the
//! upgradable read for an upgrade) and wakes the main queue, where readers refused because of
//! `WRITER` may be parked. Main-queue waiters that time out clear `PARKED` if they were the last.
//!
//! # Simplifications relative to parking_lot
//!
//! Every release that can let main-queue waiters in (a write unlock, an upgradable unlock, a
//! downgrade, an abandoned write) wakes **all** of them, and they compete again; parking_lot
//! instead hands the lock over to the right batch of waiters, selected with `unpark_filter`. So
//! this lock has no hand-off: the "fair" unlocks are the ordinary ones, and `bump_*` releases,
//! yields the CPU and re-acquires, which only gives waiters a chance to get in first. Waking all
//! waiters also costs a thundering herd when many wait. Writers still cannot be starved by
//! readers (writer preference), but a writer or reader can in principle lose the race repeatedly
//! to newcomers.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::time::{Duration, Instant};

use parking_lot_core::{DEFAULT_UNPARK_TOKEN, ParkResult, SpinWait};

use super::parking;
// For `Self::` paths to the trait methods.
use lock_api::{RawRwLock as _, RawRwLockUpgrade as _};

/// Threads may be parked in the main queue.
const PARKED: usize = 0b0001;
/// The thread holding `WRITER` may be parked in the drain queue, waiting for readers to leave.
const WRITER_PARKED: usize = 0b0010;
/// An upgradable reader holds the lock (it is counted among the readers too).
const UPGRADABLE: usize = 0b0100;
/// A writer holds the lock, or claimed it and waits for the readers to leave.
const WRITER: usize = 0b1000;
/// One reader, in the reader count.
const ONE_READER: usize = 0b1_0000;
/// The reader count's bits.
const READERS: usize = !(ONE_READER - 1);

/// The raw lock behind [`RwLock`](super::RwLock): many readers or one writer, writer-preferring.
///
/// Once a writer is waiting, new readers wait too, except recursive ones while readers remain
/// (`lock_shared_recursive`), and [`is_locked_exclusive`](lock_api::RawRwLock::is_locked_exclusive)
/// already returns true. One upgradable reader at a time can share the lock with plain readers.
///
/// Unlike parking_lot's, it never hands the lock over to a waiter: a release that can let
/// waiters in wakes all of them and they compete for the lock, newcomers included. So the fair
/// unlocks are the ordinary ones, and the bumps only release, yield the CPU and re-acquire, which
/// gives waiters a chance, not a guarantee, to get in first.
pub struct RawRwLock {
    state: AtomicUsize,
}

/// Adds one reader to `state`.
fn with_reader(state: usize) -> usize {
    state
        .checked_add(ONE_READER)
        .expect("RwLock reader count overflow")
}

/// Whether a shared lock cannot be taken in `state`: a writer claimed it and, for a recursive
/// one, no reader (possibly this thread) is inside anymore, so the writer holds it.
fn shared_blocked(state: usize, recursive: bool) -> bool {
    state & WRITER != 0 && (!recursive || state & READERS == 0)
}

/// Whether `WRITER` (the first step of a write lock) or an upgradable read cannot be taken.
fn claim_blocked(state: usize) -> bool {
    state & (WRITER | UPGRADABLE) != 0
}

/// `state` with the upgradable read traded for `WRITER`.
fn upgraded(state: usize) -> usize {
    (state - (ONE_READER | UPGRADABLE)) | WRITER
}

impl RawRwLock {
    /// The main queue's key: readers, writers and upgradable readers waiting to get in.
    fn key(&self) -> usize {
        parking::key(self)
    }

    /// The drain queue's key: the writer waiting for the readers to leave. The lock's address
    /// + 1 is inside the lock, so it is nobody else's key.
    fn drain_key(&self) -> usize {
        self.key() + 1
    }

    /// Takes the lock without blocking: applies `next` to the state unless `blocked`.
    fn try_acquire(&self, blocked: impl Fn(usize) -> bool, next: impl Fn(usize) -> usize) -> bool {
        parking::try_acquire(&self.state, blocked, next)
    }

    /// Takes the lock, waiting in the main queue while `blocked`, until `deadline` (`None`:
    /// forever). True if taken. `blocked` runs under the queue lock, so it must not panic.
    fn acquire_slow(
        &self,
        deadline: Option<Instant>,
        blocked: impl Fn(usize) -> bool,
        next: impl Fn(usize) -> usize,
    ) -> bool {
        // SAFETY: the key is this lock's address, used only by this lock; the `blocked` checks
        // this lock passes are bit tests, which do not panic.
        unsafe { parking::acquire_slow(&self.state, self.key(), PARKED, deadline, blocked, next) }
    }

    /// Second step of a write lock or an upgrade: with `WRITER` set by this thread, waits in the
    /// drain queue until no reader is left. On timeout, gives `WRITER` back, restoring
    /// `restore` (the upgradable read of an upgrade, or 0), and returns false.
    fn wait_for_readers(&self, deadline: Option<Instant>, restore: usize) -> bool {
        let mut spin = SpinWait::new();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & READERS == 0 {
                return self.finish_write();
            }
            if let Some(now) = parking::spin_or_flag(
                &self.state,
                &mut spin,
                state,
                WRITER_PARKED,
                Ordering::Relaxed,
            ) {
                state = now;
                continue;
            }
            // Sleep only if the last reader did not leave (and clear the bit) in between.
            let validate = || {
                let state = self.state.load(Ordering::Relaxed);
                state & READERS != 0 && state & WRITER_PARKED != 0
            };
            // SAFETY: the key is this lock's address + 1, inside the lock, used only by this
            // lock; validate neither panics nor calls into parking_lot_core.
            let result = unsafe { parking::park(self.drain_key(), validate, |_, _| {}, deadline) };
            if result == ParkResult::TimedOut {
                return self.abandon_write(restore);
            }
            spin.reset();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// The readers have all left a lock whose `WRITER` this thread holds: it is ours.
    fn finish_write(&self) -> bool {
        // Synchronize with the readers' Release decrements (the load that saw zero may have
        // been Relaxed).
        fence(Ordering::Acquire);
        // A leftover WRITER_PARKED would only cost a spurious wake-up later; clear it anyway.
        if self.state.load(Ordering::Relaxed) & WRITER_PARKED != 0 {
            self.state.fetch_and(!WRITER_PARKED, Ordering::Relaxed);
        }
        true
    }

    /// A timed-out writer or upgrader gives `WRITER` back, restoring `restore`, and wakes the
    /// main queue (readers refused because of `WRITER` may wait there). If the last reader left
    /// meanwhile, it keeps the lock instead and returns true.
    #[cold]
    fn abandon_write(&self, restore: usize) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & READERS == 0 {
                return self.finish_write();
            }
            let next = (state & !(WRITER | WRITER_PARKED | PARKED)) + restore;
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & PARKED != 0 {
            self.wake_all();
        }
        false
    }

    /// Applies `update` to the state, clearing `PARKED` in the same step, and wakes the main
    /// queue if it was set: for every release after which main-queue waiters may get in.
    fn release_and_wake(&self, update: impl Fn(usize) -> usize) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            match self.state.compare_exchange_weak(
                state,
                update(state) & !PARKED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & PARKED != 0 {
            self.wake_all();
        }
    }

    /// Wakes every thread in the main queue; they re-check the state and compete.
    fn wake_all(&self) {
        // SAFETY: the key is this lock's address, used only by this lock.
        unsafe {
            parking_lot_core::unpark_all(self.key(), DEFAULT_UNPARK_TOKEN);
        }
    }

    /// Wakes the writer waiting in the drain queue for the readers to leave.
    #[cold]
    fn wake_writer(&self) {
        // Clearing the bit under the queue lock: a writer that set it but has not parked yet
        // fails its validation and re-checks the (now zero) reader count.
        let callback = |_| {
            self.state.fetch_and(!WRITER_PARKED, Ordering::Relaxed);
            DEFAULT_UNPARK_TOKEN
        };
        // SAFETY: the key is this lock's address + 1, used only by this lock; the callback
        // neither panics nor calls into parking_lot_core.
        unsafe {
            parking_lot_core::unpark_one(self.drain_key(), callback);
        }
    }

    fn lock_shared_until(&self, recursive: bool, deadline: Option<Instant>) -> bool {
        self.try_acquire(|s| shared_blocked(s, recursive), with_reader)
            || self.acquire_slow(deadline, |s| shared_blocked(s, recursive), with_reader)
    }

    fn lock_exclusive_until(&self, deadline: Option<Instant>) -> bool {
        if self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        self.acquire_slow(deadline, claim_blocked, |s| s | WRITER)
            && self.wait_for_readers(deadline, 0)
    }

    fn lock_upgradable_until(&self, deadline: Option<Instant>) -> bool {
        let next = |s| with_reader(s) | UPGRADABLE;
        self.try_acquire(claim_blocked, next) || self.acquire_slow(deadline, claim_blocked, next)
    }

    /// Trades this thread's upgradable read for the write lock, waiting for the other readers
    /// until `deadline` (`None`: forever). On timeout, keeps the upgradable read.
    ///
    /// # Safety
    ///
    /// The current context must hold an upgradable read lock.
    unsafe fn upgrade_until(&self, deadline: Option<Instant>) -> bool {
        // Nobody else can hold WRITER while our upgradable read excludes it.
        self.update(upgraded);
        self.wait_for_readers(deadline, ONE_READER | UPGRADABLE)
    }

    /// A bump of a writer or upgradable reader: if threads wait in the main queue, releases the
    /// lock with `unlock`, yields the CPU so that they may get in first, and takes it again
    /// with `lock`.
    ///
    /// # Safety
    ///
    /// The current context must hold the lock in the mode that `unlock` releases.
    unsafe fn bump(&self, unlock: unsafe fn(&Self), lock: fn(&Self)) {
        if self.state.load(Ordering::Relaxed) & PARKED != 0 {
            // SAFETY: the caller holds the lock in `unlock`'s mode (this method's contract); it
            // holds it again when `lock` returns.
            unsafe { unlock(self) };
            std::thread::yield_now();
            lock(self);
        }
    }

    /// Applies `update` to the state atomically.
    fn update(&self, update: impl Fn(usize) -> usize) {
        let mut state = self.state.load(Ordering::Relaxed);
        while let Err(now) = self.state.compare_exchange_weak(
            state,
            update(state),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            state = now;
        }
    }
}

// SAFETY: shared locks are taken only while WRITER is clear, or (recursive ones) while other
// readers are inside, which a writer waits for; a write lock is complete only once this thread
// set WRITER and the reader count reached zero afterwards, and while WRITER is set no new reader
// can join a zero count. Acquire on taking and Release on releasing order the critical sections.
unsafe impl lock_api::RawRwLock for RawRwLock {
    const INIT: Self = RawRwLock {
        state: AtomicUsize::new(0),
    };

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock_shared(&self) {
        self.lock_shared_until(false, None);
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.try_acquire(|s| shared_blocked(s, false), with_reader)
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        let before = self.state.fetch_sub(ONE_READER, Ordering::Release);
        if before & (READERS | WRITER_PARKED) == ONE_READER | WRITER_PARKED {
            self.wake_writer();
        }
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.lock_exclusive_until(None);
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.try_acquire(|s| s & (WRITER | UPGRADABLE | READERS) != 0, |s| s | WRITER)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        let before = self.state.fetch_and(!(WRITER | PARKED), Ordering::Release);
        if before & PARKED != 0 {
            self.wake_all();
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (WRITER | READERS) != 0
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITER != 0
    }
}

// SAFETY: the fair unlocks are the ordinary unlocks; the bumps unlock and lock again.
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    #[inline]
    unsafe fn unlock_shared_fair(&self) {
        // SAFETY: the caller holds a shared lock (this method's contract).
        unsafe { lock_api::RawRwLock::unlock_shared(self) }
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self) {
        // SAFETY: the caller holds the exclusive lock (this method's contract).
        unsafe { lock_api::RawRwLock::unlock_exclusive(self) }
    }

    #[inline]
    unsafe fn bump_shared(&self) {
        // Only a writer waiting for this very reader to leave can get in: yield to it.
        let state = self.state.load(Ordering::Relaxed);
        if state & (READERS | WRITER) == ONE_READER | WRITER {
            // SAFETY: the caller holds a shared lock (this method's contract); it holds one
            // again when `lock_shared` returns.
            unsafe { lock_api::RawRwLock::unlock_shared(self) };
            lock_api::RawRwLock::lock_shared(self);
        }
    }

    #[inline]
    unsafe fn bump_exclusive(&self) {
        // SAFETY: the caller holds the exclusive lock (this method's contract), which these
        // release and take.
        unsafe { self.bump(Self::unlock_exclusive, Self::lock_exclusive) }
    }
}

// SAFETY: a downgrade trades WRITER for one reader in one atomic step.
unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    #[inline]
    unsafe fn downgrade(&self) {
        // Readers refused because of WRITER may now get in: wake the main queue.
        self.release_and_wake(|s| (s & !WRITER) + ONE_READER);
    }
}

// SAFETY: the timed variants run the same protocols as the untimed ones, undoing any claim
// (WRITER) they made when they give up.
unsafe impl lock_api::RawRwLockTimed for RawRwLock {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.lock_shared_until(false, super::deadline_after(timeout))
    }

    #[inline]
    fn try_lock_shared_until(&self, timeout: Instant) -> bool {
        self.lock_shared_until(false, Some(timeout))
    }

    #[inline]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.lock_exclusive_until(super::deadline_after(timeout))
    }

    #[inline]
    fn try_lock_exclusive_until(&self, timeout: Instant) -> bool {
        self.lock_exclusive_until(Some(timeout))
    }
}

// SAFETY: a recursive shared lock is refused only while a writer holds the lock (WRITER set
// and no reader inside).
unsafe impl lock_api::RawRwLockRecursive for RawRwLock {
    #[inline]
    fn lock_shared_recursive(&self) {
        self.lock_shared_until(true, None);
    }

    #[inline]
    fn try_lock_shared_recursive(&self) -> bool {
        self.try_acquire(|s| shared_blocked(s, true), with_reader)
    }
}

// SAFETY: as `RawRwLockRecursive`, giving up at the deadline.
unsafe impl lock_api::RawRwLockRecursiveTimed for RawRwLock {
    #[inline]
    fn try_lock_shared_recursive_for(&self, timeout: Duration) -> bool {
        self.lock_shared_until(true, super::deadline_after(timeout))
    }

    #[inline]
    fn try_lock_shared_recursive_until(&self, timeout: Instant) -> bool {
        self.lock_shared_until(true, Some(timeout))
    }
}

// SAFETY: an upgradable read is a read counted in the readers plus the UPGRADABLE flag, taken
// only while neither WRITER nor UPGRADABLE is set; an upgrade trades it for WRITER and then
// waits for the other readers like a writer.
unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    #[inline]
    fn lock_upgradable(&self) {
        self.lock_upgradable_until(None);
    }

    #[inline]
    fn try_lock_upgradable(&self) -> bool {
        self.try_acquire(claim_blocked, |s| with_reader(s) | UPGRADABLE)
    }

    #[inline]
    unsafe fn unlock_upgradable(&self) {
        // Writers and upgradable readers wait in the main queue for UPGRADABLE to clear. Our
        // reader cannot be the last one a writer waits for: no writer coexists with it.
        self.release_and_wake(|s| s - (ONE_READER | UPGRADABLE));
    }

    #[inline]
    unsafe fn upgrade(&self) {
        // SAFETY: the caller holds an upgradable read lock (this method's contract).
        unsafe { self.upgrade_until(None) };
    }

    #[inline]
    unsafe fn try_upgrade(&self) -> bool {
        // Possible right away only if our upgradable read is the only reader.
        self.try_acquire(|s| s & READERS != ONE_READER, upgraded)
    }
}

// SAFETY: the fair variants are the ordinary ones; the bump unlocks and locks again.
unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    #[inline]
    unsafe fn unlock_upgradable_fair(&self) {
        // SAFETY: the caller holds an upgradable read lock (this method's contract).
        unsafe { lock_api::RawRwLockUpgrade::unlock_upgradable(self) }
    }

    #[inline]
    unsafe fn bump_upgradable(&self) {
        // SAFETY: the caller holds an upgradable read lock (this method's contract), which these
        // release and take.
        unsafe { self.bump(Self::unlock_upgradable, Self::lock_upgradable) }
    }
}

// SAFETY: each downgrade is one atomic step that keeps this thread's read.
unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    #[inline]
    unsafe fn downgrade_upgradable(&self) {
        // Writers and upgradable readers may wait for UPGRADABLE to clear.
        self.release_and_wake(|s| s - UPGRADABLE);
    }

    #[inline]
    unsafe fn downgrade_to_upgradable(&self) {
        // Readers refused because of WRITER may now get in.
        self.release_and_wake(|s| (s & !WRITER) + (ONE_READER | UPGRADABLE));
    }
}

// SAFETY: as `RawRwLockUpgrade`, giving up at the deadline; a timed-out upgrade gives WRITER back
// and keeps the upgradable read.
unsafe impl lock_api::RawRwLockUpgradeTimed for RawRwLock {
    #[inline]
    fn try_lock_upgradable_for(&self, timeout: Duration) -> bool {
        self.lock_upgradable_until(super::deadline_after(timeout))
    }

    #[inline]
    fn try_lock_upgradable_until(&self, timeout: Instant) -> bool {
        self.lock_upgradable_until(Some(timeout))
    }

    #[inline]
    unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        // SAFETY: the caller holds an upgradable read lock (this method's contract).
        unsafe { self.upgrade_until(super::deadline_after(timeout)) }
    }

    #[inline]
    unsafe fn try_upgrade_until(&self, timeout: Instant) -> bool {
        // SAFETY: the caller holds an upgradable read lock (this method's contract).
        unsafe { self.upgrade_until(Some(timeout)) }
    }
}

impl fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("RawRwLock")
            .field("readers", &(state / ONE_READER))
            .field("writer", &(state & WRITER != 0))
            .field("upgradable", &(state & UPGRADABLE != 0))
            .field("parked", &(state & PARKED != 0))
            .field("writer_parked", &(state & WRITER_PARKED != 0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use lock_api::{
        RawRwLock as _, RawRwLockDowngrade as _, RawRwLockFair as _, RawRwLockRecursive as _,
        RawRwLockRecursiveTimed as _, RawRwLockTimed as _, RawRwLockUpgrade as _,
        RawRwLockUpgradeDowngrade as _, RawRwLockUpgradeFair as _, RawRwLockUpgradeTimed as _,
    };

    use super::super::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard, wait_until_true};
    use super::RawRwLock;

    const LIMIT: Duration = Duration::from_secs(60);

    fn new_lock() -> RawRwLock {
        RawRwLock::INIT
    }

    /// Two counters that writers keep equal; a reader seeing them differ saw a torn write.
    struct Pair(UnsafeCell<(usize, usize)>);
    // SAFETY: the tests access the cell only under the lock under test, in the matching mode.
    unsafe impl Sync for Pair {}

    /// A small deterministic generator, so that each thread mixes operations differently.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn many_readers_at_once() {
        const READERS: usize = 4;
        let lock = new_lock();
        let inside = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..READERS {
                s.spawn(|| {
                    lock.lock_shared();
                    inside.fetch_add(1, Ordering::SeqCst);
                    // All readers are inside together, or this never ends (up to the limit).
                    wait_until_true("all readers are inside", || {
                        inside.load(Ordering::SeqCst) == READERS
                    });
                    assert!(lock.is_locked());
                    assert!(!lock.is_locked_exclusive());
                    assert!(!lock.try_lock_exclusive());
                    // SAFETY: locked above by this thread.
                    unsafe { lock.unlock_shared() };
                });
            }
        });
        assert!(!lock.is_locked());
        assert!(lock.try_lock_exclusive());
    }

    #[test]
    fn writers_exclude_readers_and_writers_under_contention() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 10_000;
        let lock = new_lock();
        let pair = Pair(UnsafeCell::new((0, 0)));
        thread::scope(|s| {
            for thread in 0..THREADS {
                let (lock, pair) = (&lock, &pair);
                s.spawn(move || {
                    let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (thread as u64 + 1);
                    let mut writes = 0;
                    while writes < ROUNDS {
                        let write = |pair: &Pair| {
                            // SAFETY: the caller holds the lock exclusively.
                            let value = unsafe { &mut *pair.0.get() };
                            value.0 += 1;
                            thread::yield_now();
                            value.1 += 1;
                        };
                        let read = |pair: &Pair| {
                            // SAFETY: the caller holds the lock shared: only readers are inside.
                            let value = unsafe { *pair.0.get() };
                            assert_eq!(value.0, value.1, "a reader saw a torn write");
                        };
                        match next(&mut seed) % 8 {
                            0 => {
                                lock.lock_shared();
                                read(pair);
                                // SAFETY: locked just above.
                                unsafe { lock.unlock_shared() };
                            }
                            1 => {
                                lock.lock_shared_recursive();
                                read(pair);
                                // SAFETY: locked just above.
                                unsafe { lock.unlock_shared_fair() };
                            }
                            2 => {
                                lock.lock_upgradable();
                                read(pair);
                                // SAFETY: this thread holds the upgradable read.
                                unsafe { lock.upgrade() };
                                write(pair);
                                writes += 1;
                                // SAFETY: the upgrade made it exclusive.
                                unsafe { lock.downgrade() };
                                read(pair);
                                // SAFETY: the downgrade left a shared lock.
                                unsafe { lock.unlock_shared() };
                            }
                            3 => {
                                if lock.try_lock_exclusive_for(Duration::from_micros(50)) {
                                    write(pair);
                                    writes += 1;
                                    // SAFETY: locked just above.
                                    unsafe { lock.unlock_exclusive_fair() };
                                }
                            }
                            4 => {
                                if lock.try_lock_shared_for(Duration::from_micros(50)) {
                                    read(pair);
                                    // SAFETY: locked just above.
                                    unsafe { lock.unlock_shared() };
                                }
                            }
                            5 => {
                                lock.lock_upgradable();
                                // SAFETY: this thread holds the upgradable read.
                                if unsafe { lock.try_upgrade_for(Duration::from_micros(50)) } {
                                    write(pair);
                                    writes += 1;
                                    // SAFETY: the upgrade made it exclusive.
                                    unsafe { lock.downgrade_to_upgradable() };
                                }
                                read(pair);
                                // SAFETY: this thread holds the upgradable read.
                                unsafe { lock.unlock_upgradable() };
                            }
                            _ => {
                                lock.lock_exclusive();
                                write(pair);
                                writes += 1;
                                // SAFETY: locked just above.
                                unsafe { lock.bump_exclusive() };
                                write(pair);
                                writes += 1;
                                // SAFETY: locked just above (and again after the bump).
                                unsafe { lock.unlock_exclusive() };
                            }
                        }
                    }
                });
            }
        });
        let (first, second) = pair.0.into_inner();
        assert_eq!(first, second);
        assert!(first >= THREADS * ROUNDS);
        assert!(!lock.is_locked());
        assert_eq!(lock.state.load(Ordering::SeqCst), 0, "flags left behind");
    }

    #[test]
    fn writer_excludes_readers() {
        let lock = new_lock();
        lock.lock_exclusive();
        assert!(lock.is_locked_exclusive());
        thread::scope(|s| {
            s.spawn(|| {
                assert!(!lock.try_lock_shared());
                assert!(!lock.try_lock_shared_recursive());
                assert!(!lock.try_lock_upgradable());
                assert!(!lock.try_lock_exclusive());
                assert!(!lock.try_lock_shared_for(Duration::from_millis(10)));
                assert!(!lock.try_lock_shared_recursive_for(Duration::from_millis(10)));
                assert!(!lock.try_lock_upgradable_for(Duration::from_millis(10)));
                assert!(!lock.try_lock_exclusive_until(Instant::now()));
            });
        });
        let entered = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                lock.lock_shared();
                entered.store(true, Ordering::SeqCst);
                // SAFETY: locked just above.
                unsafe { lock.unlock_shared() };
            });
            wait_until_true("the reader parks", || {
                lock.state.load(Ordering::SeqCst) & super::PARKED != 0
            });
            assert!(
                !entered.load(Ordering::SeqCst),
                "a reader got in under the writer"
            );
            // SAFETY: locked above by this thread.
            unsafe { lock.unlock_exclusive() };
        });
        assert!(entered.load(Ordering::SeqCst));
        assert!(!lock.is_locked());
    }

    /// Spawns a writer on `lock` and waits until it has claimed the lock (and waits for the
    /// readers): `is_locked_exclusive` turns true before it gets in, as with parking_lot.
    fn queue_writer<'s>(
        s: &'s thread::Scope<'s, '_>,
        lock: &'s RawRwLock,
        got_in: &'s AtomicBool,
    ) -> thread::ScopedJoinHandle<'s, ()> {
        let writer = s.spawn(move || {
            lock.lock_exclusive();
            got_in.store(true, Ordering::SeqCst);
            // SAFETY: locked just above.
            unsafe { lock.unlock_exclusive() };
        });
        wait_until_true("the writer claims the lock", || lock.is_locked_exclusive());
        writer
    }

    #[test]
    fn queued_writer_refuses_new_readers_but_not_recursive_ones() {
        let lock = new_lock();
        let got_in = AtomicBool::new(false);
        lock.lock_shared();
        thread::scope(|s| {
            let writer = queue_writer(s, &lock, &got_in);
            assert!(
                lock.is_locked_exclusive(),
                "a waiting writer counts as exclusive"
            );
            assert!(
                !got_in.load(Ordering::SeqCst),
                "the writer got in beside a reader"
            );
            // Another thread's plain read is refused: the writer comes first.
            s.spawn(|| {
                assert!(!lock.try_lock_shared());
                assert!(!lock.try_lock_shared_for(Duration::from_millis(10)));
                assert!(!lock.try_lock_upgradable());
            })
            .join()
            .unwrap();
            // A recursive read gets in while a reader (this thread) is inside.
            assert!(lock.try_lock_shared_recursive());
            assert!(lock.try_lock_shared_recursive_for(Duration::from_millis(10)));
            lock.lock_shared_recursive();
            for _ in 0..3 {
                // SAFETY: three recursive reads were taken just above.
                unsafe { lock.unlock_shared() };
            }
            assert!(!got_in.load(Ordering::SeqCst));
            // SAFETY: the first read, taken before the writer came.
            unsafe { lock.unlock_shared() };
            writer.join().unwrap();
        });
        assert!(got_in.load(Ordering::SeqCst));
        assert!(!lock.is_locked());
    }

    #[test]
    fn timed_out_writer_does_not_leave_readers_blocked() {
        let lock = &new_lock();
        lock.lock_shared();
        thread::scope(|s| {
            let writer = s.spawn(move || {
                // The reader stays inside until this gives up.
                assert!(!lock.try_lock_exclusive_for(Duration::from_millis(200)));
            });
            wait_until_true("the writer claims the lock", || lock.is_locked_exclusive());
            // A plain reader arriving now is refused and parks behind the waiting writer.
            let (tx, rx) = mpsc::channel();
            s.spawn(move || {
                lock.lock_shared();
                tx.send(()).unwrap();
                // SAFETY: locked just above.
                unsafe { lock.unlock_shared() };
            });
            writer.join().unwrap();
            // The writer's timeout gave the lock back and woke the reader.
            rx.recv_timeout(LIMIT).expect("the reader stayed blocked");
            assert!(!lock.is_locked_exclusive());
            assert!(lock.try_lock_shared());
            // SAFETY: locked just above.
            unsafe { lock.unlock_shared() };
        });
        // SAFETY: the read taken at the start.
        unsafe { lock.unlock_shared() };
        assert_eq!(lock.state.load(Ordering::SeqCst), 0, "flags left behind");
        assert!(lock.try_lock_exclusive_for(Duration::from_millis(10)));
        // SAFETY: locked just above.
        unsafe { lock.unlock_exclusive() };
    }

    #[test]
    fn timed_write_succeeds_when_readers_leave_in_time() {
        let lock = new_lock();
        lock.lock_shared();
        thread::scope(|s| {
            let writer = s.spawn(|| {
                let ok = lock.try_lock_exclusive_for(LIMIT);
                if ok {
                    // SAFETY: locked just above.
                    unsafe { lock.unlock_exclusive() };
                }
                ok
            });
            wait_until_true("the writer claims the lock", || lock.is_locked_exclusive());
            // SAFETY: locked above by this thread.
            unsafe { lock.unlock_shared() };
            assert!(writer.join().unwrap());
        });
        assert!(!lock.is_locked());
    }

    #[test]
    fn one_upgradable_at_a_time_beside_readers() {
        let lock = new_lock();
        assert!(lock.try_lock_upgradable());
        assert!(lock.try_lock_shared());
        assert!(!lock.is_locked_exclusive());
        thread::scope(|s| {
            s.spawn(|| {
                assert!(!lock.try_lock_upgradable());
                assert!(!lock.try_lock_upgradable_for(Duration::from_millis(10)));
                assert!(!lock.try_lock_exclusive());
                assert!(!lock.try_lock_exclusive_for(Duration::from_millis(10)));
                assert!(lock.try_lock_shared());
                // SAFETY: locked just above.
                unsafe { lock.unlock_shared() };
            });
        });
        // Not the only reader: the upgrade cannot happen right away.
        // SAFETY: this thread holds the upgradable read.
        assert!(!unsafe { lock.try_upgrade() });
        // SAFETY: the plain read taken above.
        unsafe { lock.unlock_shared() };
        // SAFETY: this thread holds the upgradable read, the only reader now.
        assert!(unsafe { lock.try_upgrade() });
        assert!(lock.is_locked_exclusive());
        // SAFETY: the upgrade made it exclusive.
        unsafe { lock.downgrade_to_upgradable() };
        assert!(lock.try_lock_shared());
        // SAFETY: locked just above.
        unsafe { lock.unlock_shared() };
        // SAFETY: this thread holds the upgradable read.
        unsafe { lock.downgrade_upgradable() };
        // A plain read now: another thread can take the upgradable read.
        thread::scope(|s| {
            s.spawn(|| {
                assert!(lock.try_lock_upgradable());
                // SAFETY: locked just above.
                unsafe { lock.unlock_upgradable_fair() };
            });
        });
        // SAFETY: the read left by the downgrade.
        unsafe { lock.unlock_shared() };
        assert_eq!(lock.state.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn upgrade_waits_for_readers() {
        let lock = RwLock::new(0);
        let reader = lock.read();
        let upgraded = AtomicBool::new(false);
        thread::scope(|s| {
            let upgrader = s.spawn(|| {
                let guard = lock.upgradable_read();
                let mut guard = RwLockUpgradableReadGuard::upgrade(guard);
                upgraded.store(true, Ordering::SeqCst);
                *guard += 1;
            });
            // The upgrade claimed the lock (so new plain readers wait) but not yet got it.
            wait_until_true("the upgrade claims the lock", || lock.is_locked_exclusive());
            assert!(!upgraded.load(Ordering::SeqCst), "upgraded beside a reader");
            assert!(lock.try_read_recursive().is_some());
            s.spawn(|| assert!(lock.try_read().is_none()))
                .join()
                .unwrap();
            drop(reader);
            upgrader.join().unwrap();
        });
        assert!(upgraded.load(Ordering::SeqCst));
        assert_eq!(*lock.read(), 1);
    }

    #[test]
    fn timed_out_upgrade_keeps_the_upgradable_read() {
        let lock = new_lock();
        lock.lock_shared();
        thread::scope(|s| {
            s.spawn(|| {
                lock.lock_upgradable();
                // SAFETY: this thread holds the upgradable read.
                assert!(!unsafe { lock.try_upgrade_for(Duration::from_millis(50)) });
                // SAFETY: as above.
                assert!(!unsafe { lock.try_upgrade_until(Instant::now()) });
                assert!(!lock.is_locked_exclusive());
                assert!(!lock.try_lock_upgradable(), "the upgradable read was lost");
                // SAFETY: this thread still holds the upgradable read.
                unsafe { lock.unlock_upgradable() };
            });
        });
        assert!(lock.try_lock_shared());
        // SAFETY: both reads taken by this thread.
        unsafe {
            lock.unlock_shared();
            lock.unlock_shared();
        }
        assert_eq!(lock.state.load(Ordering::SeqCst), 0, "flags left behind");
    }

    #[test]
    fn downgrade_lets_readers_in() {
        let lock = RwLock::new(1);
        let mut writer = lock.write();
        *writer = 2;
        let (tx, rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(|| {
                // Parks behind the writer, then gets in after the downgrade.
                let value = *lock.read();
                tx.send(value).unwrap();
            });
            wait_until_true("the reader parks", || {
                // SAFETY: only reads the state word.
                unsafe { lock.raw() }.state.load(Ordering::SeqCst) & super::PARKED != 0
            });
            let reader = RwLockWriteGuard::downgrade(writer);
            assert_eq!(
                rx.recv_timeout(LIMIT).expect("the reader stayed blocked"),
                2
            );
            assert!(lock.try_write().is_none());
            drop(reader);
        });
        assert!(lock.try_write().is_some());
    }

    #[test]
    fn bump_shared_yields_to_a_waiting_writer() {
        let lock = new_lock();
        let got_in = AtomicBool::new(false);
        lock.lock_shared();
        thread::scope(|s| {
            let writer = queue_writer(s, &lock, &got_in);
            // SAFETY: this thread holds a read; the bump lets the writer through first.
            unsafe { lock.bump_shared() };
            assert!(
                got_in.load(Ordering::SeqCst),
                "the bump did not yield to the writer"
            );
            // SAFETY: the read re-taken by the bump.
            unsafe { lock.unlock_shared() };
            writer.join().unwrap();
        });
        lock.lock_upgradable();
        // SAFETY: held just above; without waiters the bump does nothing.
        unsafe {
            lock.bump_upgradable();
            lock.unlock_upgradable();
        }
        assert_eq!(lock.state.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn debug_shows_the_state() {
        let lock = new_lock();
        lock.lock_shared();
        assert_eq!(
            format!("{lock:?}"),
            "RawRwLock { readers: 1, writer: false, upgradable: false, parked: false, \
             writer_parked: false }"
        );
        // SAFETY: locked just above.
        unsafe { lock.unlock_shared() };
    }
}
