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

/// Nothing stands in front of the C library's threads: the program's `pthread_create` (which
/// std calls) is the C library's own, where an active build defines its own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn std_threads_are_the_c_librarys() {
    for address in [
        libc::pthread_create as *const (),
        libc::pthread_join as *const (),
        libc::pthread_detach as *const (),
    ] {
        // SAFETY: a zeroed `Dl_info` is valid to be filled by `dladdr`.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: `address` is a function's, `info` writable.
        assert_ne!(unsafe { libc::dladdr(address.cast(), &mut info) }, 0);
        // SAFETY: `dladdr` set it to a C string naming the object that holds the address.
        let object = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        assert!(object.to_string_lossy().contains("libc.so"), "{object:?}");
    }
    let total = std::thread::spawn(|| 6 * 7).join().unwrap();
    assert_eq!(total, 42);
}
