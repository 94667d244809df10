//! `std::thread`'s spawns and joins, seen without a change to the program (Linux with glibc,
//! dynamically linked): lockscan defines `pthread_create`, `pthread_join` and `pthread_detach`
//! in the instrumented binary, in front of the C library's, which it reaches through
//! `dlsym(RTLD_NEXT, ...)`, as the sanitizers do. Every thread the binary starts (std's
//! `spawn`, `Builder`, `scope`, a dependency's thread pool, C code linked into the binary)
//! then orders events as a `lockscan::thread` does, through the same functions of `hb`:
//!
//! - `pthread_create` forks in the parent (its clocks, and a spawn into a running recording),
//!   and starts the thread in [`trampoline`], which leaves the fork where the thread's first
//!   step lockscan sees takes it ([`take_started_fork`], from `ThreadState::id`). Not before the
//!   start routine: std sets up its thread handle there and aborts if anything (an allocator,
//!   `thread::current`) did first;
//! - when the start routine returns, [`trampoline`] leaves the thread's final clocks for its
//!   joiner;
//! - when the C library's `pthread_join` returns, the joiner takes them.
//!
//! An rlib's object file is linked only when the program refers to one of its symbols, and
//! std's calls are resolved to the C library otherwise: [`take_started_fork`], which the first
//! lockscan step of every thread reaches, refers to all three functions.
//!
//! Not seen: `std::thread::scope`'s wait at its end (its threads are detached, and it waits on
//! a counter), `pthread_tryjoin_np` and the timed joins, the end of a thread that calls
//! `pthread_exit` or is cancelled (it is never joined as far as lockscan knows), and threads
//! that shared libraries start from their own code.

use std::cell::Cell;
use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

use libc::{pthread_attr_t, pthread_t};
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::hb::{self, Fork};
use super::recorder;
use super::state::ThreadClocks;
use crate::ids::ThreadId;
use crate::raw::Mutex;

/// A thread's start routine. `C-unwind`: a C routine may end its thread with `pthread_exit`,
/// whose forced unwinding then passes through [`trampoline`], which keeps nothing to drop
/// across the call.
type StartRoutine = unsafe extern "C-unwind" fn(*mut c_void) -> *mut c_void;
type CreateFn = unsafe extern "C" fn(
    *mut pthread_t,
    *const pthread_attr_t,
    Option<StartRoutine>,
    *mut c_void,
) -> c_int;
type JoinFn = unsafe extern "C" fn(pthread_t, *mut *mut c_void) -> c_int;
type DetachFn = unsafe extern "C" fn(pthread_t) -> c_int;

/// Where a finished thread leaves its clocks for the thread that joins it.
type Handoff = Arc<Mutex<Option<ThreadClocks>>>;

/// What a thread started through [`pthread_create`] is handed, boxed.
struct Started {
    routine: StartRoutine,
    arg: *mut c_void,
    /// Taken at the thread's first step lockscan sees.
    fork: Option<Fork>,
    handoff: Handoff,
}

/// A thread that can still be joined: its id, and where it leaves its clocks.
struct Joinable {
    child: ThreadId,
    handoff: Handoff,
}

/// The threads started here that nobody joined or detached yet, by pthread id (an id is
/// reused only after its thread was joined or detached, which removes it).
static JOINABLE: Mutex<FxHashMap<pthread_t, Joinable>> =
    Mutex::new(FxHashMap::with_hasher(FxBuildHasher));

thread_local! {
    /// Set while the current thread starts a thread that is not the program's to track: one
    /// that `lockscan::thread` orders itself, lockscan's trace writer, and any thread started
    /// while [`pthread_create`] does its own bookkeeping (an allocator's, the recording's).
    // No destructor: usable before std set the thread up and while it is torn down.
    static UNTRACKED: Cell<bool> = const { Cell::new(false) };
    /// This thread's [`Started`], from [`trampoline`] until its start routine returned.
    static STARTED: Cell<*mut Started> = const { Cell::new(null_mut()) };
}

/// Runs `spawn`, which starts a thread lockscan orders itself or one of its own, so that it is
/// not also taken for a program's spawn.
pub(crate) fn untracked_spawn<R>(spawn: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            UNTRACKED.set(self.0);
        }
    }
    let _restore = Restore(UNTRACKED.replace(true));
    spawn()
}

/// The spawn of the current thread, if [`pthread_create`] started it and it has not taken it.
pub(super) fn take_started_fork() -> Option<Fork> {
    // The reference that links this file, and so the three functions, into every program that
    // uses lockscan (see the module's docs).
    std::hint::black_box([
        pthread_create as *const (),
        pthread_join as *const (),
        pthread_detach as *const (),
    ]);
    let started = STARTED.get();
    if started.is_null() {
        return None;
    }
    // SAFETY: a non-null `STARTED` is this thread's box, alive until `finish` nulls it; only
    // this thread reaches it once the thread runs, and no other reference to it is alive.
    unsafe { (*started).fork.take() }
}

/// Starts a thread, like the C library's `pthread_create`; a joinable thread's spawn and join
/// order events as `lockscan::thread`'s do.
///
/// # Safety
///
/// `pthread_create`'s contract: `thread` is writable, `attr` null or an initialised attribute
/// object, and `routine` may be called with `arg` on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut pthread_t,
    attr: *const pthread_attr_t,
    routine: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    let real = real_create();
    let Some(routine) = routine.filter(|_| !UNTRACKED.get()) else {
        // SAFETY: the caller's arguments, as they came.
        return unsafe { real(thread, attr, routine, arg) };
    };
    UNTRACKED.set(true);
    // SAFETY: the caller's arguments, under the same contract.
    let result = unsafe { create_tracked(real, thread, attr, routine, arg) };
    UNTRACKED.set(false);
    result
}

/// [`pthread_create`]'s work for a thread to track.
///
/// # Safety
///
/// As [`pthread_create`]; `real` is the C library's.
unsafe fn create_tracked(
    real: CreateFn,
    thread: *mut pthread_t,
    attr: *const pthread_attr_t,
    routine: StartRoutine,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: `attr` is null or an initialised attribute object (the caller's contract).
    let joinable = attr.is_null() || unsafe { detach_state(attr) } != libc::PTHREAD_CREATE_DETACHED;
    let prepared = catch_unwind(AssertUnwindSafe(|| {
        let fork = hb::fork_recorded_if(spawn_site(), recorder::running);
        let child = hb::child_id(&fork);
        let handoff = Handoff::default();
        let started = Box::new(Started {
            routine,
            arg,
            fork: Some(fork),
            handoff: handoff.clone(),
        });
        (Box::into_raw(started), Joinable { child, handoff })
    }));
    let Ok((started, joinable_thread)) = prepared else {
        // SAFETY: the caller's arguments, as they came.
        return unsafe { real(thread, attr, Some(routine), arg) };
    };
    // SAFETY: the caller's `thread` and `attr`; `trampoline` runs `routine(arg)` on the new
    // thread, and `started` is a box only that thread uses once it runs.
    let result = unsafe { real(thread, attr, Some(trampoline), started.cast()) };
    if result != 0 {
        // SAFETY: no thread started, so the box from `Box::into_raw` above is still ours.
        drop(unsafe { Box::from_raw(started) });
        return result;
    }
    if joinable {
        // SAFETY: the C library wrote the new thread's id there.
        let id = unsafe { *thread };
        let _ = catch_unwind(AssertUnwindSafe(|| {
            JOINABLE.lock().insert(id, joinable_thread);
        }));
    }
    result
}

/// Whether `attr` makes threads joinable or detached.
///
/// # Safety
///
/// `attr` is an initialised attribute object.
unsafe fn detach_state(attr: *const pthread_attr_t) -> c_int {
    // Not in the `libc` crate.
    unsafe extern "C" {
        fn pthread_attr_getdetachstate(attr: *const pthread_attr_t, state: *mut c_int) -> c_int;
    }
    let mut state = libc::PTHREAD_CREATE_JOINABLE;
    // SAFETY: `attr` is initialised (the caller's contract); `state` is writable.
    unsafe { pthread_attr_getdetachstate(attr, &mut state) };
    state
}

/// The start routine of every thread [`pthread_create`] tracks: the program's routine between
/// leaving the spawn for the thread's first step and handing its clocks over.
///
/// # Safety
///
/// `started` is a box made for this thread by `create_tracked`.
unsafe extern "C-unwind" fn trampoline(started: *mut c_void) -> *mut c_void {
    let started = started.cast::<Started>();
    // SAFETY: the box `create_tracked` made for this thread, alive until `finish`.
    let (routine, arg) = unsafe { ((*started).routine, (*started).arg) };
    // Nothing else before the routine: no allocation, no `thread::current` (see the module's
    // docs); and nothing to drop across it.
    STARTED.set(started);
    // SAFETY: the routine and argument the program passed to `pthread_create`.
    let result = unsafe { routine(arg) };
    finish();
    result
}

/// The end of a thread [`trampoline`] started: its final clocks, for its joiner.
fn finish() {
    let started = STARTED.get();
    if started.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // A thread that did nothing lockscan saw takes its spawn here, through its id.
        let clocks = hb::final_clock();
        // SAFETY: this thread's box (see `take_started_fork`); a shared reference only.
        let handoff = unsafe { &(*started).handoff };
        *handoff.lock() = Some(clocks);
    }));
    STARTED.set(null_mut());
    // SAFETY: made by `Box::into_raw` in `create_tracked` for this thread, given back once:
    // `STARTED` no longer points at it.
    drop(unsafe { Box::from_raw(started) });
}

/// Waits for a thread, like the C library's `pthread_join`; what a tracked thread did then
/// happens before what follows.
///
/// # Safety
///
/// `pthread_join`'s contract: `thread` is a joinable thread, `retval` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_join(thread: pthread_t, retval: *mut *mut c_void) -> c_int {
    // SAFETY: the caller's arguments, under the same contract.
    let result = unsafe { real_join()(thread, retval) };
    if result == 0 {
        let _ = catch_unwind(|| {
            let Some(Joinable { child, handoff }) = JOINABLE.lock().remove(&thread) else {
                return;
            };
            let clocks = handoff.lock().take();
            hb::joined(child, clocks.as_ref(), join_site());
        });
    }
    result
}

/// Detaches a thread, like the C library's `pthread_detach` (std does when a `JoinHandle` is
/// dropped): nobody will join it, so nobody takes its clocks.
///
/// # Safety
///
/// `pthread_detach`'s contract: `thread` is a joinable thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_detach(thread: pthread_t) -> c_int {
    let _ = catch_unwind(|| JOINABLE.lock().remove(&thread));
    // SAFETY: the caller's argument, under the same contract.
    unsafe { real_detach()(thread) }
}

/// Where a trace says a `std::thread` was spawned: std's code has no caller location to give,
/// so a site in this file stands for all of them.
fn spawn_site() -> &'static Location<'static> {
    Location::caller()
}

/// Where a trace says a `std::thread` was joined.
fn join_site() -> &'static Location<'static> {
    Location::caller()
}

/// The C library's `name`, looked up once into `cache`.
fn next(cache: &AtomicPtr<c_void>, name: &CStr) -> *mut c_void {
    let mut function = cache.load(Ordering::Acquire);
    if function.is_null() {
        // SAFETY: `name` is a C string; `RTLD_NEXT` looks in the objects loaded after this one.
        function = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        if function.is_null() {
            missing(name);
        }
        cache.store(function, Ordering::Release);
    }
    function
}

/// Without the C library's function there is no thread to start or join: says so and aborts,
/// without allocating (std may not be set up).
#[cold]
fn missing(name: &CStr) -> ! {
    for part in [
        &b"lockscan: the C library's "[..],
        name.to_bytes(),
        &b" was not found (dlsym)\n"[..],
    ] {
        // SAFETY: writes `part`, a live byte slice, to standard error.
        unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
    }
    std::process::abort()
}

fn real_create() -> CreateFn {
    static NEXT: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
    // SAFETY: the C library's `pthread_create`, which has this signature.
    unsafe { std::mem::transmute::<*mut c_void, CreateFn>(next(&NEXT, c"pthread_create")) }
}

fn real_join() -> JoinFn {
    static NEXT: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
    // SAFETY: the C library's `pthread_join`, which has this signature.
    unsafe { std::mem::transmute::<*mut c_void, JoinFn>(next(&NEXT, c"pthread_join")) }
}

fn real_detach() -> DetachFn {
    static NEXT: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
    // SAFETY: the C library's `pthread_detach`, which has this signature.
    unsafe { std::mem::transmute::<*mut c_void, DetachFn>(next(&NEXT, c"pthread_detach")) }
}
