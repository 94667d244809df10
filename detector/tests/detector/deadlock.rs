//! Actual deadlocks: reported the moment they happen, and the program does not hang.

use std::sync::{Arc, Barrier};
use std::thread;

use lockscan::{FindingKind, Mutex, RwLock};

use crate::support::{HANG, findings_about, in_turn, kinds_about, setup, within};

#[test]
fn a_real_two_thread_deadlock_is_reported_instead_of_hanging() {
    setup();
    let outcome = within(HANG, || {
        let a = Arc::new(Mutex::named("dl:A", 0));
        let b = Arc::new(Mutex::named("dl:B", 0));
        let barrier = Arc::new(Barrier::new(2));
        let spawn = |first: Arc<Mutex<i32>>, second: Arc<Mutex<i32>>, name: &str| {
            let barrier = barrier.clone();
            thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let _first = first.lock();
                    // Both threads hold their first lock before either asks for its second:
                    // this schedule deadlocks without lockscan.
                    barrier.wait();
                    let _second = second.lock();
                })
                .unwrap()
        };
        let t1 = spawn(a.clone(), b.clone(), "dl-left");
        let t2 = spawn(b, a, "dl-right");
        [t1.join().is_ok(), t2.join().is_ok()]
    });
    // The thread that closed the wait cycle was unwound, which let the other one finish.
    let mut outcome = outcome.to_vec();
    outcome.sort();
    assert_eq!(outcome, [false, true]);
    assert_eq!(
        kinds_about(&["dl:A", "dl:B"]),
        [FindingKind::Deadlock, FindingKind::PotentialDeadlock]
    );
    let deadlock = findings_about(&["dl:A", "dl:B"])
        .into_iter()
        .find(|f| f.kind == FindingKind::Deadlock)
        .unwrap();
    let mut threads = deadlock.threads.clone();
    threads.sort();
    assert_eq!(threads, ["dl-left", "dl-right"]);
    assert_eq!(deadlock.edges.len(), 2);
    for edge in &deadlock.edges {
        assert!(edge.blocked);
        assert!(
            edge.from_site.is_some() && edge.to_site.is_some(),
            "{edge:?}"
        );
    }
    let text = deadlock.to_string();
    assert!(text.contains("error[deadlock]"), "{text}");
    assert!(text.contains("is blocked acquiring"), "{text}");
}

#[test]
fn a_three_thread_deadlock_names_every_thread_and_lock() {
    setup();
    let names = ["dl3:A", "dl3:B", "dl3:C"];
    let joined = within(HANG, move || {
        let locks: Arc<Vec<Mutex<()>>> =
            Arc::new(names.iter().map(|n| Mutex::named(*n, ())).collect());
        let barrier = Arc::new(Barrier::new(3));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let (locks, barrier) = (locks.clone(), barrier.clone());
                thread::spawn(move || {
                    let _mine = locks[i].lock();
                    barrier.wait();
                    let _next = locks[(i + 1) % 3].lock();
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().is_ok())
            .filter(|ok| !ok)
            .count()
    });
    assert_eq!(
        joined, 1,
        "exactly one thread is unwound to break the cycle"
    );
    let deadlock = findings_about(&names)
        .into_iter()
        .find(|f| f.kind == FindingKind::Deadlock)
        .expect("a deadlock finding");
    assert_eq!(deadlock.edges.len(), 3);
    assert_eq!(deadlock.threads.len(), 3);
    let mut locks = deadlock.locks.clone();
    locks.sort();
    assert_eq!(locks, names);
}

#[test]
fn relocking_a_held_mutex_is_reported_instead_of_hanging() {
    setup();
    let m = Mutex::named("self:M", ());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _first = m.lock();
        let _second = m.lock();
    }));
    let message = result.expect_err("re-locking must unwind, not hang");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(message.contains("api-misuse"), "{message}");
    assert!(!m.is_locked(), "unwinding released the first guard");
    let found = findings_about(&["self:M"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, FindingKind::ApiMisuse);
    // The mutex is still usable.
    drop(m.lock());
}

#[test]
fn writing_while_reading_the_same_rwlock_is_reported() {
    setup();
    let lock = RwLock::named("self:RW", 0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _read = lock.read();
        let _write = lock.write();
    }));
    assert!(result.is_err());
    assert_eq!(kinds_about(&["self:RW"]), [FindingKind::ApiMisuse]);
}

#[test]
fn try_lock_on_a_held_mutex_just_fails() {
    setup();
    let m = Mutex::named("self:try", ());
    let _held = m.lock();
    assert!(m.try_lock().is_none());
    assert!(
        m.try_lock_for(std::time::Duration::from_millis(1))
            .is_none()
    );
    assert_eq!(findings_about(&["self:try"]), []);
}

/// Regression: thread A holds `rw` upgradable and `m`; B holds `rw` for reading and waits for
/// `m`; A upgrades, waiting for B's read lock. This hung forever with no finding: the upgrade
/// recorded no order edge, and the wait-for check followed exclusive owners only, not readers.
#[test]
fn an_upgrade_that_waits_for_a_reader_waiting_for_the_upgrader_is_a_deadlock() {
    setup();
    let outcome = within(HANG, || {
        let rw = Arc::new(RwLock::named("upgrade:RW", 0));
        let m = Arc::new(Mutex::named("upgrade:M", 0));
        let holding = Arc::new(Barrier::new(2));
        let reading = Arc::new(Barrier::new(2));
        let upgrader = {
            let (rw, m, holding, reading) =
                (rw.clone(), m.clone(), holding.clone(), reading.clone());
            thread::Builder::new()
                .name("upgrader".into())
                .spawn(move || {
                    let upgradable = rw.upgradable_read();
                    let _m = m.lock();
                    holding.wait();
                    reading.wait(); // the reader holds its read lock now
                    let mut writer = lockscan::RwLockUpgradableReadGuard::upgrade(upgradable);
                    *writer += 1;
                })
                .unwrap()
        };
        let reader = thread::Builder::new()
            .name("reader".into())
            .spawn(move || {
                holding.wait();
                let _read = rw.read();
                reading.wait();
                let _m = m.lock();
            })
            .unwrap();
        [upgrader.join().is_ok(), reader.join().is_ok()]
    });
    // Whichever blocked last closed the cycle and was unwound; the other finished.
    let mut outcome = outcome.to_vec();
    outcome.sort();
    assert_eq!(outcome, [false, true]);
    let kinds = kinds_about(&["upgrade:RW", "upgrade:M"]);
    assert!(kinds.contains(&FindingKind::Deadlock), "{kinds:?}");
    assert!(kinds.contains(&FindingKind::PotentialDeadlock), "{kinds:?}");
    let deadlock = findings_about(&["upgrade:RW", "upgrade:M"])
        .into_iter()
        .find(|f| f.kind == FindingKind::Deadlock)
        .unwrap();
    let mut threads = deadlock.threads.clone();
    threads.sort();
    assert_eq!(threads, ["reader", "upgrader"]);
}

/// The order edge of an upgrade alone, without the deadlock happening: the reader takes `m`
/// before the upgrader holds it, so both finish, and the inconsistent order is reported.
#[test]
fn an_upgrade_is_an_exclusive_request_in_the_lock_order() {
    setup();
    let rw = RwLock::named("upgrade-order:RW", 0);
    let m = Mutex::named("upgrade-order:M", 0);
    in_turn(vec![
        (
            "upgrade-order-reader",
            Box::new(|| {
                let _read = rw.read();
                let _m = m.lock();
            }),
        ),
        (
            "upgrade-order-upgrader",
            Box::new(|| {
                let upgradable = rw.upgradable_read();
                let _m = m.lock();
                let _writer = lockscan::RwLockUpgradableReadGuard::upgrade(upgradable);
            }),
        ),
    ]);
    assert_eq!(
        kinds_about(&["upgrade-order:RW", "upgrade-order:M"]),
        [FindingKind::PotentialDeadlock]
    );
}
