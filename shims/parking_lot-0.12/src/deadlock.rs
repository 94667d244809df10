//! parking_lot's deadlock detection API, answered by lockscan.
//!
//! lockscan finds a deadlock the moment its last thread is about to block: it reports it (with
//! the sites where each thread took and requested its locks) and unwinds that thread instead of
//! letting the program hang. So there is never a deadlock left for a watchdog thread to find,
//! and [`check_deadlock`] always returns an empty list. Look at lockscan's report instead (the
//! test that deadlocked fails with it), or at `lockscan::findings()`.

use std::thread::ThreadId;

/// A thread of a deadlock (parking_lot's type; lockscan never returns one, see the module docs).
#[derive(Debug)]
pub struct DeadlockedThread {
    thread_id: ThreadId,
    backtrace: backtrace::Backtrace,
}

impl DeadlockedThread {
    /// The system thread id.
    pub fn thread_id(&self) -> ThreadId {
        self.thread_id
    }

    /// The stack trace collected at the time the thread blocked.
    pub fn backtrace(&self) -> &backtrace::Backtrace {
        &self.backtrace
    }
}

/// The deadlocks in progress: always none, since lockscan breaks each one as it forms.
pub fn check_deadlock() -> Vec<Vec<DeadlockedThread>> {
    Vec::new()
}
