//! Data races on tracked values, by happens-before.

use std::sync::Arc;

use lockscan::{FindingKind, Mutex, Tracked, thread};

use crate::support::setup;

/// The data races reported on the variable `var`.
fn races_on(var: &str) -> Vec<lockscan::Finding> {
    lockscan::findings()
        .into_iter()
        .filter(|f| f.kind == FindingKind::DataRace && f.vars.iter().any(|v| v.var == var))
        .collect()
}

#[test]
fn an_unprotected_increment_in_parent_and_child_races() {
    setup();
    let x = Arc::new(Tracked::named("race:increment", 0));
    let child = {
        let x = x.clone();
        thread::Builder::new()
            .name("race-child".into())
            .spawn(move || x.set(x.get() + 1))
            .unwrap()
    };
    x.set(x.get() + 1);
    child.join().unwrap();
    let found = races_on("race:increment");
    assert!(!found.is_empty(), "the increments are unordered");
    let race = &found[0];
    assert_eq!(race.vars.len(), 2);
    assert!(race.vars.iter().any(|v| v.write), "one access writes");
    assert!(
        race.threads.contains(&"race-child".to_owned()),
        "{:?}",
        race.threads
    );
    for access in &race.vars {
        assert_eq!(access.site.as_ref().unwrap().file(), Some(file!()));
    }
    let text = race.to_string();
    assert!(
        text.starts_with("error[data-race]: data race on `race:increment`"),
        "{text}"
    );
}

#[test]
fn writes_under_the_same_lock_do_not_race() {
    setup();
    let lock = Arc::new(Mutex::new(()));
    let x = Arc::new(Tracked::named("race:same-lock", 0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (lock, x) = (lock.clone(), x.clone());
            thread::spawn(move || {
                for _ in 0..100 {
                    let _guard = lock.lock();
                    x.set(x.get() + 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(x.get(), 400);
    assert_eq!(races_on("race:same-lock"), []);
}

#[test]
fn ordering_by_spawn_and_join_alone_does_not_race() {
    setup();
    let x = Arc::new(Tracked::named("race:fork-join", 0));
    x.set(1);
    let child = {
        let x = x.clone();
        thread::spawn(move || x.set(x.get() + 1))
    };
    child.join().unwrap();
    x.set(x.get() + 1);
    thread::scope(|s| {
        s.spawn(|| x.update(|v| *v += 1));
    });
    assert_eq!(x.get(), 4);
    assert_eq!(races_on("race:fork-join"), []);
}

#[test]
fn writes_under_different_locks_race() {
    setup();
    let (m1, m2) = (Mutex::new(()), Mutex::new(()));
    let x = Tracked::named("race:two-locks", 0);
    thread::scope(|s| {
        s.spawn(|| {
            let _g = m1.lock();
            x.set(1);
        });
        s.spawn(|| {
            let _g = m2.lock();
            x.set(2);
        });
    });
    assert_eq!(races_on("race:two-locks").len(), 1);
}

#[test]
fn a_hand_off_through_a_lock_protected_flag_does_not_race() {
    // A lockset algorithm warns here: the data is written under no lock at all.
    setup();
    let ready = Arc::new(Mutex::new(false));
    let data = Arc::new(Tracked::named("race:handoff", 0));
    let producer = {
        let (ready, data) = (ready.clone(), data.clone());
        thread::spawn(move || {
            data.set(42);
            *ready.lock() = true;
        })
    };
    let consumer = {
        let (ready, data) = (ready.clone(), data.clone());
        thread::spawn(move || {
            while !*ready.lock() {
                std::thread::yield_now();
            }
            data.set(data.get() + 1);
        })
    };
    producer.join().unwrap();
    consumer.join().unwrap();
    assert_eq!(data.get(), 43);
    assert_eq!(races_on("race:handoff"), []);
}

#[test]
fn read_shared_then_a_write_races() {
    setup();
    let x = Arc::new(Tracked::named("race:read-shared", 7));
    x.set(8);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let x = x.clone();
            thread::spawn(move || x.get())
        })
        .collect();
    // The readers are not joined yet: this write is concurrent with their reads, if they ran.
    for r in readers {
        assert_eq!(r.join().unwrap(), 8);
    }
    assert_eq!(
        races_on("race:read-shared"),
        [],
        "joined readers are ordered"
    );
    let y = Arc::new(Tracked::named("race:read-shared-2", 0));
    let (a, b) = (y.clone(), y.clone());
    let r1 = thread::spawn(move || a.get());
    let r2 = thread::spawn(move || b.get());
    r1.join().unwrap();
    // r2 is not joined: its read is unordered with this write.
    let before = races_on("race:read-shared-2").len();
    while !r2.is_finished() {
        std::thread::yield_now();
    }
    y.set(1);
    r2.join().unwrap();
    assert_eq!(before, 0);
    assert_eq!(races_on("race:read-shared-2").len(), 1);
}

#[test]
fn each_pair_of_sites_is_reported_once() {
    setup();
    let x = Arc::new(Tracked::named("race:once", 0));
    for _ in 0..50 {
        let child = {
            let x = x.clone();
            thread::spawn(move || x.set(1))
        };
        // Unordered with the child's write: the same race, 50 times.
        x.set(2);
        // The join orders this round before the next one: no other pair of sites races.
        child.join().unwrap();
    }
    assert_eq!(races_on("race:once").len(), 1);
}

/// Regression: live, as offline, only the first racy pair was kept once a later write of the
/// second thread replaced the first's; every racy pair of sites is reported.
#[test]
fn every_racy_pair_of_sites_is_reported_live() {
    setup();
    let x = Arc::new(Tracked::named("race:every-pair", 0));
    let written = Arc::new(std::sync::Barrier::new(2));
    let other = {
        let (x, written) = (x.clone(), written.clone());
        thread::spawn(move || {
            written.wait(); // after the first thread's write, unordered with it
            let _ = x.get();
            x.set(2);
            let _ = x.get();
        })
    };
    x.set(1);
    written.wait();
    other.join().unwrap();
    // The write at `x.set(1)` races the read, the write and the second read of the other
    // thread: three pairs of sites.
    assert_eq!(races_on("race:every-pair").len(), 3);
}
