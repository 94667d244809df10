//! [`RawThreadId`]: the thread identity behind [`ReentrantMutex`](super::ReentrantMutex).

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Identifies the current thread for [`ReentrantMutex`](super::ReentrantMutex), implementing
/// [`lock_api::GetThreadId`].
///
/// Each thread draws a number from a global counter the first time it asks, so ids are never
/// reused, even after a thread exits (parking_lot uses the address of a thread-local instead,
/// which a later thread may reuse).
#[derive(Debug)]
pub struct RawThreadId;

/// The next id to give out; 0 is never given, it marks "no id yet".
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This thread's id, 0 until first asked. No destructor, so usable even while the thread's
    /// other thread-locals are being destroyed.
    static THREAD_ID: Cell<usize> = const { Cell::new(0) };
}

impl RawThreadId {
    /// The current thread's id (the logic of the `lock_api` impl, so that a shell over another
    /// `lock_api` line forwards to it).
    #[inline]
    pub fn nonzero_thread_id(&self) -> NonZeroUsize {
        THREAD_ID.with(|id| {
            if let Some(known) = NonZeroUsize::new(id.get()) {
                return known;
            }
            let fresh = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let fresh = NonZeroUsize::new(fresh).expect("thread id counter overflow");
            id.set(fresh.get());
            fresh
        })
    }
}

// SAFETY: ids come from a counter that only grows and every thread keeps the first one it
// draws, so no two threads (alive or not) ever get the same id, and it is never zero.
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: Self = RawThreadId;

    #[inline]
    fn nonzero_thread_id(&self) -> NonZeroUsize {
        RawThreadId::nonzero_thread_id(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use lock_api::GetThreadId;

    use super::super::{ReentrantMutex, const_reentrant_mutex, wait_until_true};
    use super::RawThreadId;

    #[test]
    fn ids_are_stable_per_thread_and_distinct_across_threads() {
        let mine = RawThreadId.nonzero_thread_id();
        assert_eq!(mine, RawThreadId::INIT.nonzero_thread_id());
        let others: Vec<_> = (0..4)
            .map(|_| thread::spawn(|| RawThreadId.nonzero_thread_id()))
            .map(|handle| handle.join().unwrap())
            .collect();
        for (i, other) in others.iter().enumerate() {
            assert_ne!(*other, mine);
            assert!(!others[..i].contains(other), "an id was reused");
        }
    }

    #[test]
    fn reentrant_mutex_reenters_on_one_thread_and_excludes_others() {
        let mutex: ReentrantMutex<u32> = const_reentrant_mutex(0);
        let outer = mutex.lock();
        let inner = mutex.lock();
        assert!(mutex.is_owned_by_current_thread());
        assert_eq!(*inner, 0);
        let entered = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(|| {
                assert!(mutex.try_lock().is_none());
                assert!(mutex.try_lock_for(Duration::from_millis(10)).is_none());
                tx.send(()).unwrap();
                let guard = mutex.lock();
                entered.store(true, Ordering::SeqCst);
                drop(guard);
            });
            rx.recv().unwrap();
            wait_until_true("the other thread waits", || {
                // SAFETY: only inspects the raw mutex's state.
                format!("{:?}", unsafe { mutex.raw() }).contains("parked: true")
            });
            drop(inner);
            // Still held once: the other thread still waits.
            assert!(!entered.load(Ordering::SeqCst));
            assert!(mutex.try_lock().is_some());
            drop(outer);
        });
        assert!(entered.load(Ordering::SeqCst));
        assert!(!mutex.is_locked());
    }
}
