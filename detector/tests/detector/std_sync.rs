//! `lockscan::std_sync`: std's lock API over the detector. The live scenarios of the other
//! modules, through std's types, and std's poisoning.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use lockscan::FindingKind;
use lockscan::std_sync::{Arc, Condvar, Mutex, PoisonError, RwLock, TryLockError};

use crate::support::{
    HANG, findings_about, holds_until_the_timeout, in_turn, kinds_about, setup, within,
};

/// The std mutex in a `static`, as `std::sync::Mutex::new` allows.
static COUNTER: Mutex<u64> = Mutex::new(0);

#[test]
fn a_const_static_mutex_works_like_std() {
    setup();
    *COUNTER.lock().unwrap() += 1;
    assert!(*COUNTER.lock().unwrap() >= 1);
}

#[test]
fn opposite_orders_through_std_locks_are_a_potential_deadlock() {
    setup();
    let a = Mutex::named("std:A", 0);
    let b = RwLock::named("std:B", 0);
    in_turn(vec![
        (
            "std-first",
            Box::new(|| {
                let _a = a.lock().unwrap();
                let _b = b.write().unwrap();
            }),
        ),
        (
            "std-second",
            Box::new(|| {
                let _b = b.write().unwrap();
                let _a = a.lock().unwrap();
            }),
        ),
    ]);
    assert_eq!(
        kinds_about(&["std:A", "std:B"]),
        [FindingKind::PotentialDeadlock]
    );
    let finding = &findings_about(&["std:A", "std:B"])[0];
    // Both acquisition sites are this file's: `#[track_caller]` goes through the std shell.
    for edge in &finding.edges {
        for site in [&edge.from_site, &edge.to_site] {
            let site = site.as_ref().expect("a site").to_string();
            assert!(site.contains("std_sync.rs"), "{site}");
        }
    }
}

#[test]
fn a_real_deadlock_of_std_mutexes_is_reported_and_poisons_the_held_lock() {
    setup();
    let (a, b) = within(HANG, || {
        let a = Arc::new(Mutex::named("stddl:A", 0));
        let b = Arc::new(Mutex::named("stddl:B", 0));
        let barrier = Arc::new(Barrier::new(2));
        let spawn = |first: Arc<Mutex<i32>>, second: Arc<Mutex<i32>>| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let _first = first.lock().unwrap();
                barrier.wait();
                // The survivor gets its second lock once the other thread has unwound, which
                // poisoned it: std's answer to "the other holder panicked".
                second.lock().is_err()
            })
        };
        let left = spawn(a.clone(), b.clone());
        let right = spawn(b.clone(), a.clone());
        let mut joined = [left.join().ok(), right.join().ok()];
        joined.sort();
        assert_eq!(
            joined,
            [None, Some(true)],
            "one thread unwound, the other finished and found its second lock poisoned"
        );
        (a, b)
    });
    assert!(
        kinds_about(&["stddl:A", "stddl:B"]).contains(&FindingKind::Deadlock),
        "{:?}",
        kinds_about(&["stddl:A", "stddl:B"])
    );
    // The unwound thread held its first lock: std semantics poison it.
    assert_eq!(
        [a.is_poisoned(), b.is_poisoned()]
            .iter()
            .filter(|&&p| p)
            .count(),
        1
    );
}

#[test]
fn relocking_a_held_std_mutex_is_reported_instead_of_hanging() {
    setup();
    let m = Mutex::named("stdrelock:m", ());
    let result = std::panic::catch_unwind(|| {
        let _first = m.lock().unwrap();
        let _second = m.lock();
    });
    assert!(result.is_err(), "re-locking must unwind, not hang");
    assert_eq!(kinds_about(&["stdrelock:m"]), [FindingKind::ApiMisuse]);
    // The panic happened while the first guard was alive: the mutex is poisoned, as in std.
    assert!(m.is_poisoned());
}

#[test]
fn a_panic_while_holding_poisons_and_clear_poison_recovers() {
    setup();
    let m = Arc::new(Mutex::named("stdpoison:m", vec![1]));
    let m2 = m.clone();
    let panicked = thread::spawn(move || {
        let mut data = m2.lock().unwrap();
        data.push(2);
        panic!("a panic in the critical section");
    })
    .join();
    assert!(panicked.is_err());
    assert!(m.is_poisoned());
    let recovered = m.lock().unwrap_err().into_inner();
    assert_eq!(*recovered, [1, 2]);
    drop(recovered);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    assert!(!m.is_poisoned());
    assert_eq!(*m.lock().unwrap(), [1, 2]);
    let m = Arc::into_inner(m).unwrap();
    assert_eq!(m.into_inner().unwrap(), [1, 2]);
    assert_eq!(findings_about(&["stdpoison:m"]), []);
}

#[test]
fn a_guard_made_during_a_panic_does_not_poison() {
    setup();
    struct LockOnDrop<'a>(&'a Mutex<()>);
    impl Drop for LockOnDrop<'_> {
        fn drop(&mut self) {
            // Made while the thread is already panicking: dropping it is no new failure.
            let _guard = self.0.lock().unwrap();
        }
    }
    let m = Mutex::named("stdpoison:unwinding", ());
    let result = std::panic::catch_unwind(|| {
        let _on_drop = LockOnDrop(&m);
        panic!("unwinding");
    });
    assert!(result.is_err());
    assert!(!m.is_poisoned());
}

#[test]
fn only_a_write_guard_poisons_an_rwlock() {
    setup();
    let lock = RwLock::named("stdpoison:rw", 5);
    let _ = std::panic::catch_unwind(|| {
        let _reader = lock.read().unwrap();
        panic!("while reading");
    });
    assert!(!lock.is_poisoned());
    let _ = std::panic::catch_unwind(|| {
        let _writer = lock.write().unwrap();
        panic!("while writing");
    });
    assert!(lock.is_poisoned());
    assert_eq!(
        *lock.read().map_err(PoisonError::into_inner).unwrap_err(),
        5
    );
    assert!(matches!(lock.try_write(), Err(TryLockError::Poisoned(_))));
    lock.clear_poison();
    assert_eq!(*lock.write().unwrap(), 5);
}

#[test]
fn try_lock_says_would_block_while_another_thread_holds_it() {
    setup();
    let m = Arc::new(Mutex::named("stdtry:m", ()));
    let held = m.lock().unwrap();
    let m2 = m.clone();
    let outcome = thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock)))
        .join()
        .unwrap();
    assert!(outcome);
    drop(held);
    assert!(m.try_lock().is_ok());
    let lock = RwLock::named("stdtry:rw", ());
    let reader = lock.read().unwrap();
    assert!(lock.try_read().is_ok());
    assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
    drop(reader);
    assert_eq!(findings_about(&["stdtry:m", "stdtry:rw"]), []);
}

#[test]
fn condvar_wait_while_and_timeouts_behave_like_std() {
    setup();
    let pair = Arc::new((Mutex::named("stdcv:ready", false), Condvar::new()));
    let pair2 = pair.clone();
    let notifier = thread::spawn(move || {
        *pair2.0.lock().unwrap() = true;
        pair2.1.notify_all();
    });
    let (lock, cv) = &*pair;
    let ready = cv
        .wait_while(lock.lock().unwrap(), |ready| !*ready)
        .unwrap();
    assert!(*ready);
    drop(ready);
    notifier.join().unwrap();
    let (guard, result) = cv
        .wait_timeout(lock.lock().unwrap(), Duration::from_millis(1))
        .unwrap();
    assert!(result.timed_out());
    drop(guard);
    let (guard, result) = cv
        .wait_timeout_while(lock.lock().unwrap(), Duration::from_millis(1), |ready| {
            *ready
        })
        .unwrap();
    assert!(result.timed_out(), "the condition held until the end");
    assert!(*guard);
    drop(guard);
    assert_eq!(findings_about(&["stdcv:ready"]), []);
}

#[test]
fn a_condvar_wait_while_holding_another_std_lock_is_a_warning() {
    setup();
    let other = Mutex::named("stdcvhold:other", ());
    let m = Mutex::named("stdcvhold:m", ());
    let cv = Condvar::new();
    let _other = other.lock().unwrap();
    let _ = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1));
    assert!(
        kinds_about(&["stdcvhold:other", "stdcvhold:m"]).contains(&FindingKind::WaitWhileHolding)
    );
}

#[test]
fn ranks_and_debug_work_through_the_std_shell() {
    setup();
    let low = Mutex::named("stdrank:low", 1).with_rank(1);
    let high = Mutex::named("stdrank:high", 2).with_rank(2);
    assert_eq!(low.rank(), Some(1));
    {
        let _high = high.lock().unwrap();
        let _low = low.lock().unwrap();
    }
    assert_eq!(
        kinds_about(&["stdrank:low", "stdrank:high"]),
        [FindingKind::OrderViolation]
    );
    assert_eq!(format!("{low:?}"), "Mutex { data: 1, poisoned: false, .. }");
    let guard = low.lock().unwrap();
    assert_eq!(
        format!("{low:?}"),
        "Mutex { data: <locked>, poisoned: false, .. }"
    );
    assert_eq!(format!("{guard:?} {guard}"), "1 1");
}

#[test]
fn condvar_wait_timeout_while_checks_the_condition_once_more_after_the_timeout() {
    setup();
    let (mutex, condvar) = (Mutex::named("stdcv:std answer", ()), Condvar::new());
    let timeout = Duration::from_millis(5);
    let condition = holds_until_the_timeout(timeout);
    let (_guard, result) = condvar
        .wait_timeout_while(mutex.lock().unwrap(), timeout, condition)
        .unwrap();
    assert!(
        !result.timed_out(),
        "std answers whether the condition still holds after the timeout"
    );
}
