//! The off switch: without debug assertions (and without `detect-in-release`), lockscan's
//! locks are plain parking_lot locks. Run by `cargo test -p lockscan --release --test off`.
#![cfg(not(all(
    feature = "detect",
    any(debug_assertions, feature = "detect-in-release")
)))]

use std::mem::size_of;

use lockscan::{Condvar, Mutex, ReentrantMutex, RwLock};

#[test]
fn detection_is_off() {
    assert!(!lockscan::is_active());
}

#[test]
fn the_types_have_parking_lots_layout() {
    assert_eq!(
        size_of::<Mutex<u64>>(),
        size_of::<parking_lot::Mutex<u64>>()
    );
    assert_eq!(
        size_of::<RwLock<u64>>(),
        size_of::<parking_lot::RwLock<u64>>()
    );
    assert_eq!(
        size_of::<ReentrantMutex<u64>>(),
        size_of::<parking_lot::ReentrantMutex<u64>>()
    );
    assert_eq!(size_of::<Condvar>(), size_of::<parking_lot::Condvar>());
    assert_eq!(
        size_of::<lockscan::MutexGuard<'static, u64>>(),
        size_of::<parking_lot::MutexGuard<'static, u64>>() + size_of::<&Mutex<u64>>(),
        "a guard is parking_lot's guard plus the lock reference"
    );
}

#[test]
fn nothing_is_recorded_or_reported() {
    lockscan::set_policy(lockscan::Policy::Panic);
    let a = Mutex::named("off:A", ());
    let b = Mutex::named("off:B", ());
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    assert!(lockscan::findings().is_empty());
}
