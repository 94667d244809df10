//! The parking_lot API: swapped-in code compiles and behaves the same, and guard helpers keep
//! the bookkeeping right.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use lockscan::{
    Condvar, FindingKind, MappedMutexGuard, Mutex, MutexGuard, ReentrantMutex, ReentrantMutexGuard,
    RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};

use crate::support::{HANG, findings_about, holds_until_the_timeout, kinds_about, setup};

static STATIC_COUNTER: Mutex<u32> = Mutex::new(0);
static STATIC_TABLE: RwLock<Vec<u8>> = RwLock::new(Vec::new());
static STATIC_REENTRANT: ReentrantMutex<()> = ReentrantMutex::new(());
static STATIC_CONDVAR: Condvar = Condvar::new();

#[test]
fn statics_work() {
    setup();
    *STATIC_COUNTER.lock() += 1;
    STATIC_TABLE.write().push(1);
    let _r = STATIC_REENTRANT.lock();
    let _r2 = STATIC_REENTRANT.lock();
    assert!(!STATIC_CONDVAR.notify_one());
    assert!(*STATIC_COUNTER.lock() >= 1);
}

#[test]
fn unsized_data_works() {
    setup();
    let m: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1, 2, 3]));
    m.lock()[0] = 9;
    assert_eq!(&*m.lock(), &[9, 2, 3]);
    let r: Box<RwLock<dyn std::fmt::Debug>> = Box::new(RwLock::new(5_u8));
    assert_eq!(format!("{:?}", &*r.read()), "5");
}

#[test]
fn guards_have_debug_and_display() {
    setup();
    let m = Mutex::new(String::from("hello"));
    let guard = m.lock();
    assert_eq!(format!("{guard}"), "hello");
    assert_eq!(format!("{guard:?}"), "\"hello\"");
    drop(guard);
    assert!(format!("{m:?}").contains("hello"));
}

#[test]
fn mapped_guards_release_once() {
    setup();
    let m = Mutex::named("api:map", (1, 2));
    {
        let mut second: MappedMutexGuard<'_, i32> = MutexGuard::map(m.lock(), |pair| &mut pair.1);
        *second += 40;
    }
    assert!(!m.is_locked());
    let guard = m.lock();
    let guard = MutexGuard::try_map(guard, |_| None::<&mut i32>).expect_err("gives the guard back");
    assert_eq!(guard.1, 42);
    drop(guard);
    // A second lock from this thread would be a self-deadlock if a hold had leaked.
    drop(m.lock());
    assert_eq!(findings_about(&["api:map"]), []);
}

#[test]
fn unlocked_releases_for_the_closure() {
    setup();
    let m = Arc::new(Mutex::named("api:unlocked", 0));
    let mut guard = m.lock();
    let other = m.clone();
    let seen = MutexGuard::unlocked(&mut guard, || {
        thread::spawn(move || *other.lock() += 1).join().unwrap();
        5
    });
    assert_eq!((seen, *guard), (5, 1));
    drop(guard);
    assert_eq!(findings_about(&["api:unlocked"]), []);
}

#[test]
fn rwlock_modes_and_upgrades() {
    setup();
    let lock = RwLock::named("api:rw", 1);
    {
        let r1 = lock.read();
        let r2 = lock.read_recursive();
        assert_eq!(*r1 + *r2, 2);
    }
    {
        let up = lock.upgradable_read();
        let reader = lock.try_read().expect("upgradable admits readers");
        drop(reader);
        let mut w = RwLockUpgradableReadGuard::upgrade(up);
        *w = 5;
        let r = RwLockWriteGuard::downgrade(w);
        assert_eq!(*r, 5);
        assert!(lock.try_write().is_none());
    }
    {
        let w = lock.write();
        let up = RwLockWriteGuard::downgrade_to_upgradable(w);
        let r = RwLockUpgradableReadGuard::downgrade(up);
        let mapped = RwLockReadGuard::map(r, |v| v);
        assert_eq!(*mapped, 5);
    }
    assert!(!lock.is_locked());
    drop(lock.write());
    assert_eq!(findings_about(&["api:rw"]), []);
}

#[test]
fn reading_again_with_read_is_misuse_but_read_recursive_is_fine() {
    setup();
    let lock = RwLock::named("api:reread", ());
    {
        let _a = lock.read();
        let _b = lock.read_recursive();
    }
    assert_eq!(findings_about(&["api:reread"]), []);
    // No writer is queued: the second `read` is granted, and under `collect` the thread goes
    // on; the risk is reported all the same.
    {
        let _a = lock.read();
        let _b = lock.read();
    }
    assert_eq!(kinds_about(&["api:reread"]), [FindingKind::ApiMisuse]);
    assert!(!lock.is_locked(), "both reads were released");
}

/// Regression: the report of a second `read` said the thread "then is blocked acquiring" the
/// lock, though nothing blocked, and did not say why a second read is wrong.
#[test]
fn a_second_read_is_reported_as_what_happened() {
    setup();
    let lock = RwLock::named("api:reread-words", 0);
    let first_line = line!() + 1;
    let first = lock.read();
    let second_line = line!() + 1;
    let second = lock.read();
    drop((first, second));
    let found = findings_about(&["api:reread-words"]);
    let [finding] = found.as_slice() else {
        panic!("one finding: {found:?}");
    };
    let thread = std::thread::current().name().unwrap().to_owned();
    assert_eq!(finding.kind, FindingKind::ApiMisuse);
    assert_eq!(
        finding.message,
        format!(
            "thread `{thread}` calls `read()` on `api:reread-words` again while holding a read \
             lock on it"
        )
    );
    let edge = &finding.edges[0];
    assert!(
        !edge.blocked,
        "the second read was granted: nothing blocked"
    );
    assert_eq!(edge.from_site.as_ref().unwrap().line(), Some(first_line));
    assert_eq!(edge.to_site.as_ref().unwrap().line(), Some(second_line));
    assert!(
        finding.reason.contains("queued writer"),
        "{}",
        finding.reason
    );
    assert!(finding.reason.contains("task-fair"), "{}", finding.reason);
    assert!(
        finding
            .help
            .as_deref()
            .unwrap()
            .contains("read_recursive()"),
        "{finding:?}"
    );
    let text = finding.to_string();
    assert!(
        text.contains(&format!(
            "thread `{thread}` took a read lock on `api:reread-words`"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "then calls `read()` on `api:reread-words` again while holding a read lock on it"
        ),
        "{text}"
    );
    assert!(!text.contains("blocked"), "{text}");
}

#[test]
fn reading_again_behind_a_queued_writer_is_unwound_as_a_deadlock() {
    setup();
    let lock = Arc::new(RwLock::named("api:reread-writer", 0));
    let first = lock.read();
    let writer = {
        let lock = lock.clone();
        std::thread::spawn(move || *lock.write() += 1)
    };
    // parking_lot marks the lock exclusive as soon as a writer queues for the readers to leave.
    let queued = Instant::now();
    while !lock.is_locked_exclusive() {
        assert!(queued.elapsed() < HANG, "the writer never queued");
        std::thread::sleep(Duration::from_millis(1));
    }
    let second = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _second = lock.read();
    }));
    let message = second.expect_err("the second read can never be granted: unwound");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("behind a queued writer"), "{message}");
    drop(first);
    writer.join().unwrap();
    assert_eq!(*lock.read(), 1);
    assert_eq!(
        kinds_about(&["api:reread-writer"]),
        [FindingKind::Deadlock, FindingKind::ApiMisuse]
    );
}

#[test]
fn timed_locks_work() {
    setup();
    let m = Mutex::new(());
    let deadline = Instant::now() + Duration::from_millis(5);
    assert!(m.try_lock_until(deadline).is_some());
    let r = ReentrantMutex::new(());
    let g = r.try_lock_for(Duration::from_millis(5)).unwrap();
    assert!(r.is_owned_by_current_thread());
    let mapped = ReentrantMutexGuard::map(g, |unit| unit);
    drop(mapped);
    assert!(!r.is_locked());
}

#[test]
fn into_inner_and_get_mut() {
    setup();
    let mut m = Mutex::from(3);
    *m.get_mut() += 1;
    assert_eq!(m.into_inner(), 4);
    let mut rw = RwLock::<Vec<u8>>::default();
    rw.get_mut().push(1);
    assert_eq!(rw.into_inner(), [1]);
}

#[test]
fn condvar_producer_consumer_reports_nothing() {
    setup();
    struct Queue {
        items: Mutex<Vec<u32>>,
        ready: Condvar,
    }
    let queue = Arc::new(Queue {
        items: Mutex::named("cv:items", Vec::new()),
        ready: Condvar::new(),
    });
    let consumer = {
        let queue = queue.clone();
        thread::spawn(move || {
            let mut sum = 0;
            let mut received = 0;
            while received < 100 {
                let mut items = queue.items.lock();
                queue.ready.wait_while(&mut items, |items| items.is_empty());
                received += items.len();
                sum += items.drain(..).sum::<u32>();
            }
            sum
        })
    };
    for i in 0..100 {
        queue.items.lock().push(i);
        queue.ready.notify_one();
    }
    assert_eq!(consumer.join().unwrap(), (0..100).sum::<u32>());
    let mut items = queue.items.lock();
    let timeout = queue.ready.wait_for(&mut items, Duration::from_millis(1));
    assert!(timeout.timed_out());
    let result = queue.ready.wait_while_for(
        &mut items,
        |items| items.is_empty(),
        Duration::from_millis(1),
    );
    assert!(result.timed_out());
    drop(items);
    assert_eq!(findings_about(&["cv:items"]), []);
}

#[test]
fn waiting_on_a_condvar_while_holding_another_lock_is_a_warning() {
    setup();
    let other = Mutex::named("cvhold:other", ());
    let m = Mutex::named("cvhold:m", false);
    let cv = Condvar::new();
    let _other = other.lock();
    let mut flag = m.lock();
    let _ = cv.wait_for(&mut flag, Duration::from_millis(1));
    let found = findings_about(&["cvhold:other", "cvhold:m"]);
    let wait = found
        .iter()
        .find(|f| f.kind == FindingKind::WaitWhileHolding)
        .expect("a wait-while-holding finding");
    assert_eq!(wait.severity, lockscan::Severity::Warning);
    assert!(wait.message.contains("cvhold:other"), "{}", wait.message);
    assert_eq!(
        wait.cycle_text(),
        None,
        "a wait while holding is not a cycle"
    );
}

/// Regression: a wait under a new outer lock each time (one per request) made one finding per
/// outer lock, and the findings grew with the run: the waits at one site holding locks taken at
/// one site are one finding.
#[test]
fn waits_under_a_thousand_different_outer_locks_are_one_finding() {
    setup();
    let m = Mutex::named("cvmany:m", false);
    let cv = Condvar::new();
    let names: Vec<String> = (0..1000).map(|i| format!("cvmany:outer-{i}")).collect();
    for name in &names {
        let outer = Mutex::named(name.clone(), ());
        let _outer = outer.lock();
        let mut flag = m.lock();
        let _ = cv.wait_for(&mut flag, Duration::from_millis(0));
    }
    let mut locks: Vec<&str> = names.iter().map(String::as_str).collect();
    locks.push("cvmany:m");
    assert_eq!(kinds_about(&locks), [FindingKind::WaitWhileHolding]);
}

/// Regression: a `wait-while-holding` finding stood for every wait at its sites without saying
/// how many there were: it carries a live count, and says it in its reason.
#[test]
fn grouped_waits_while_holding_are_counted_live() {
    setup();
    let m = Mutex::named("cvcount:m", false);
    let cv = Condvar::new();
    let names: Vec<String> = (0..30).map(|i| format!("cvcount:outer-{i}")).collect();
    let mut locks: Vec<&str> = names.iter().map(String::as_str).collect();
    locks.push("cvcount:m");
    let times = || {
        let found = findings_about(&locks);
        assert_eq!(found.len(), 1, "{found:?}");
        (found[0].times, found[0].reason.clone())
    };
    for (index, name) in names.iter().enumerate() {
        let outer = Mutex::named(name.clone(), ());
        let _outer = outer.lock();
        let mut flag = m.lock();
        let _ = cv.wait_for(&mut flag, Duration::from_millis(0));
        drop(flag);
        if index == 0 {
            let (count, reason) = times();
            assert_eq!(count, Some(1));
            assert!(!reason.contains("times so far"), "{reason}");
        }
        if index == 9 {
            assert_eq!(times().0, Some(10), "counted as the program runs");
        }
    }
    let (count, reason) = times();
    assert_eq!(count, Some(30));
    assert!(reason.contains("happened 30 times so far"), "{reason}");
}

#[test]
fn once_is_parking_lots() {
    setup();
    static INIT: lockscan::Once = lockscan::Once::new();
    let mut runs = 0;
    INIT.call_once(|| runs += 1);
    INIT.call_once(|| runs += 1);
    assert_eq!(runs, 1);
    assert_eq!(INIT.state(), lockscan::OnceState::Done);
}

#[test]
fn condvar_wait_while_for_times_out_without_checking_the_condition_again() {
    setup();
    let (mutex, condvar) = (Mutex::named("cv:parking_lot answer", ()), Condvar::new());
    let mut guard = mutex.lock();
    let timeout = Duration::from_millis(5);
    let result = condvar.wait_while_for(&mut guard, holds_until_the_timeout(timeout), timeout);
    assert!(
        result.timed_out(),
        "parking_lot answers timed out after a timeout"
    );
}

#[test]
fn raw_condvar_wait_while_for_times_out_without_checking_the_condition_again() {
    let (mutex, condvar) = (lockscan::raw::Mutex::new(()), lockscan::raw::Condvar::new());
    let mut guard = mutex.lock();
    let timeout = Duration::from_millis(5);
    let result = condvar.wait_while_for(&mut guard, holds_until_the_timeout(timeout), timeout);
    assert!(
        result.timed_out(),
        "parking_lot answers timed out after a timeout"
    );
}

#[test]
fn instrumented_condvar_wait_while_for_times_out_without_checking_the_condition_again() {
    use lockscan::instrument::{Condvar, RawMutex};

    setup();
    let (mutex, condvar) = (lock_api::Mutex::<RawMutex, ()>::new(()), Condvar::new());
    let mut guard = mutex.lock();
    let timeout = Duration::from_millis(5);
    let result = condvar.wait_while_for(&mut guard, holds_until_the_timeout(timeout), timeout);
    assert!(
        result.timed_out(),
        "parking_lot answers timed out after a timeout"
    );
}
