//! The wait-cycle search both detectors run: the live one when a thread is about to block
//! (`runtime::waits`), the replay when a request of the trace is pending
//! (`offline::replay::waits`). Each describes its blocked threads through [`WaitsFor`]; the
//! search follows "waits for a lock held by" depth first, with an explicit stack, so that a
//! cycle of any number of threads is found.

use std::hash::Hash;

use rustc_hash::FxHashSet;

/// One step of a blocked thread's wait: the next thread it may wait for.
pub(crate) enum Holder<T> {
    /// No thread after this one.
    Done,
    /// This one is not a thread the wait is for (it holds the lock in a mode that does not
    /// conflict, or it is the waiting thread's own hold).
    Skip,
    /// A thread the wait is for.
    Thread(T),
}

/// Blocked threads, seen by the search.
pub(crate) trait WaitsFor {
    /// How a thread is named.
    type Thread: Copy + Eq + Hash;

    /// The `index`-th candidate that `waiting` (a blocked thread) waits for, in the order
    /// the search tries them.
    fn holder(&self, waiting: Self::Thread, index: usize) -> Holder<Self::Thread>;

    /// Whether `thread` is blocked itself, so that the search follows it.
    fn waits(&self, thread: Self::Thread) -> bool;
}

/// The search's buffers, kept between searches by a caller that runs many.
#[derive(Debug)]
pub(crate) struct WaitSearch<T> {
    /// The threads from the start, each waiting for the next; the last for the start.
    path: Vec<T>,
    /// Per path entry: the index of the next candidate to try.
    next: Vec<usize>,
    /// Threads reached before: on the path, or explored without reaching the start (they
    /// never will).
    reached: FxHashSet<T>,
}

impl<T> Default for WaitSearch<T> {
    fn default() -> Self {
        WaitSearch {
            path: Vec::new(),
            next: Vec::new(),
            reached: FxHashSet::default(),
        }
    }
}

impl<T: Copy + Eq + Hash> WaitSearch<T> {
    /// A wait cycle through `start` (a blocked thread): the threads from `start` on, each
    /// waiting for the next and the last for `start`.
    pub(crate) fn cycle_through<W: WaitsFor<Thread = T>>(
        &mut self,
        threads: &W,
        start: T,
    ) -> Option<&[T]> {
        self.path.clear();
        self.next.clear();
        self.reached.clear();
        self.path.push(start);
        self.next.push(0);
        while let Some(&at) = self.path.last() {
            let index = self.next.last_mut().expect("one per path entry");
            let holder = match threads.holder(at, *index) {
                Holder::Done => {
                    self.path.pop();
                    self.next.pop();
                    continue;
                }
                Holder::Skip => {
                    *index += 1;
                    continue;
                }
                Holder::Thread(holder) => holder,
            };
            *index += 1;
            if holder == start {
                return Some(&self.path);
            }
            if !threads.waits(holder) || !self.reached.insert(holder) {
                continue;
            }
            self.path.push(holder);
            self.next.push(0);
        }
        None
    }
}
