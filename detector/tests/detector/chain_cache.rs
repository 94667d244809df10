//! The chain cache of the fast path: a held stack seen before makes an acquisition one lookup,
//! and nothing it remembers may hide an edge, a re-lock, a rank or a name that the slow path
//! would have seen.

use std::mem::MaybeUninit;

use lockscan::instrument::LockHooks;
use lockscan::{FindingKind, LockKind, Mode, Mutex, RwLock};

use crate::support::{findings_about, kinds_about, setup};

#[test]
fn a_lock_made_where_a_freed_lock_was_is_a_new_lock_to_the_chain_cache() {
    setup();
    let names = ["chain:reuse:A", "chain:reuse:B1", "chain:reuse:B2"];
    let a = Mutex::named(names[0], ());
    // One slot, so that the second lock is made at the very address of the first.
    let mut slot = MaybeUninit::<Mutex<()>>::uninit();
    let first: *const Mutex<()> = slot.write(Mutex::named(names[1], ()));
    for _ in 0..3 {
        let _a = a.lock();
        // SAFETY: `slot` holds the first lock, alive until it is dropped below.
        drop(unsafe { &*first }.lock());
    }
    // SAFETY: the first lock is initialised and no guard of it is alive.
    unsafe { slot.assume_init_drop() };
    let second: *const Mutex<()> = slot.write(Mutex::named(names[2], ()));
    assert_eq!(first, second, "the second lock is made where the first was");
    // SAFETY: `slot` holds the second lock until the end of the test.
    let b2 = unsafe { &*second };
    {
        let _b2 = b2.lock();
        drop(a.lock());
    }
    // The stack [A] with the lock at this address on top was seen before, with the first
    // lock: the edge A -> B2 is new all the same, and closes a cycle.
    {
        let _a = a.lock();
        drop(b2.lock());
    }
    assert_eq!(
        kinds_about(&[names[0], names[2]]),
        [FindingKind::LockOrderInversion]
    );
    // SAFETY: the second lock is initialised and no guard of it is alive.
    unsafe { slot.assume_init_drop() };
}

#[test]
fn a_held_stack_that_differs_below_the_top_is_checked_again() {
    setup();
    let names = ["chain:below:A", "chain:below:B", "chain:below:C"];
    let (a, b, c) = (
        Mutex::named(names[0], ()),
        Mutex::named(names[1], ()),
        Mutex::named(names[2], ()),
    );
    for _ in 0..3 {
        let _a = a.lock();
        drop(b.lock());
    }
    {
        // B on top of A again, now with C below: the edge C -> B is new.
        let _c = c.lock();
        let _a = a.lock();
        drop(b.lock());
    }
    assert_eq!(findings_about(&names), []);
    {
        let _b = b.lock();
        drop(c.lock());
    }
    assert_eq!(
        kinds_about(&[names[1], names[2]]),
        [FindingKind::LockOrderInversion]
    );
}

#[test]
fn a_held_lock_in_another_mode_makes_another_chain() {
    setup();
    let names = ["chain:mode:R", "chain:mode:M"];
    let r = RwLock::named(names[0], ());
    let m = Mutex::named(names[1], ());
    for _ in 0..3 {
        let _r = r.read();
        drop(m.lock());
    }
    // A reader and a writer of R, each taking M under it, and M taken before a read of R:
    // only the written hold makes a cycle that can deadlock (readers share R).
    {
        let _m = m.lock();
        drop(r.read());
    }
    assert_eq!(findings_about(&names), [], "readers do not exclude readers");
    {
        let _r = r.write();
        drop(m.lock());
    }
    assert_eq!(
        findings_about(&names).len(),
        1,
        "{:#?}",
        findings_about(&names)
    );
}

#[test]
fn a_lock_taken_again_on_a_known_chain_is_still_a_relock() {
    setup();
    let names = ["chain:relock:A", "chain:relock:R"];
    let a = Mutex::named(names[0], ());
    let r = RwLock::named(names[1], ());
    for _ in 0..3 {
        let _a = a.lock();
        drop(r.read());
    }
    {
        let _a = a.lock();
        let _first = r.read();
        // No writer is queued, so this read is granted; it is reported all the same.
        let _second = r.read();
    }
    assert_eq!(kinds_about(&names), [FindingKind::ApiMisuse]);
}

#[test]
fn a_rank_given_to_a_lock_already_taken_counts_on_the_fast_path() {
    setup();
    let names = ["chain:rank:M", "chain:rank:low"];
    let m = Mutex::named(names[0], ());
    let low = Mutex::named(names[1], ()).with_rank(1);
    // Unranked, M is taken often enough for its chain (the empty stack) to be known.
    for _ in 0..3 {
        drop(m.lock());
    }
    let m = m.with_rank(5);
    {
        let _m = m.lock();
        drop(low.lock());
    }
    let found = findings_about(&names);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::OrderViolation);
    assert!(found[0].message.contains("rank 5"), "{}", found[0].message);
}

#[test]
fn a_lock_named_at_its_first_acquisition_keeps_the_name_on_the_fast_path() {
    setup();
    let (a, b) = (
        LockHooks::new(LockKind::Mutex),
        LockHooks::new(LockKind::Mutex),
    );
    let take = |hooks: &LockHooks| hooks.lock(Mode::Exclusive, false, || true, || {});
    for (first, second) in [(&a, &b), (&a, &b), (&a, &b), (&b, &a)] {
        take(first);
        take(second);
        second.release(Mode::Exclusive);
        first.release(Mode::Exclusive);
    }
    let here = format!("lock first taken at {}:", file!());
    let inversions: Vec<_> = lockscan::findings()
        .into_iter()
        .filter(|f| f.kind == FindingKind::LockOrderInversion)
        .filter(|f| f.locks.iter().all(|name| name.starts_with(&here)))
        .filter(|f| f.message.contains("chain_cache.rs"))
        .collect();
    assert!(!inversions.is_empty(), "{:#?}", lockscan::findings());
}

/// Takes `outer`, then `inner` under it, and counts the pair, when dropped: what a thread-local
/// destructor of the program's may do.
struct NestOnDrop {
    outer: &'static Mutex<u32>,
    inner: &'static Mutex<u32>,
}

impl Drop for NestOnDrop {
    fn drop(&mut self) {
        let _outer = self.outer.lock();
        *self.inner.lock() += 1;
    }
}

#[test]
fn locks_taken_in_thread_local_destructors_before_and_after_the_state_is_gone_work() {
    setup();
    static OUTER: Mutex<u32> = Mutex::new(0);
    static INNER: Mutex<u32> = Mutex::new(0);
    thread_local! {
        static EARLY: NestOnDrop = NestOnDrop { outer: &OUTER, inner: &INNER };
        static LATE: NestOnDrop = NestOnDrop { outer: &OUTER, inner: &INNER };
    }
    std::thread::spawn(|| {
        // Destructors run in the reverse order of their registration (at the first use):
        // `LATE`'s while lockscan's state is still there, `EARLY`'s after it is gone.
        EARLY.with(|_| ());
        for _ in 0..3 {
            let _outer = OUTER.lock();
            *INNER.lock() += 1;
        }
        LATE.with(|_| ());
    })
    .join()
    .expect("the thread and its destructors end");
    assert_eq!(*INNER.lock(), 5, "both destructors took the locks");
}
