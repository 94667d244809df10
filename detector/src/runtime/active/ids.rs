//! Lock and condition-variable ids, assigned on first use.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_LOCK: AtomicU64 = AtomicU64::new(1);

/// How many lock ids a thread takes from the global counter at once: a program that creates
/// many locks does not make every thread contend on one counter.
const ID_BLOCK: u64 = 1024;

/// A lock id never handed out before, from this thread's block of ids.
pub(super) fn fresh_lock_id() -> u64 {
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

static NEXT_CONDVAR: AtomicU64 = AtomicU64::new(1);

/// A condition-variable id never handed out before.
pub(super) fn fresh_condvar_id() -> u64 {
    NEXT_CONDVAR.fetch_add(1, Ordering::Relaxed)
}
